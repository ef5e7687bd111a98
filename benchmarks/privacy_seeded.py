"""Seeded-PII benchmark: recall/precision per entity type, end-to-end audit, throughput.

Takes real conversations from the shared corpora, inserts Faker-generated PII
of every supported type (fixed seed) at random sentence boundaries of random
messages, records the exact spans, and then

1. scores each scrubber (regex, ner) per type: a seeded span is *recalled* if a
   finding of the same type fully covers it (type-agnostic recall: covered by
   any findings); a finding is a *false positive* if it overlaps no seeded
   span. Findings on the untouched real text are also counted separately:
   these corpora contain real names, addresses and e-mails (red-team data,
   celebrities), so "precision" for PERSON is a lower bound;
2. runs the real pipeline (`valuescope analyze --extractor reference`,
   `valuescope export`, `valuescope audit --canaries` with every seeded string)
   and checks that ingest stored exactly what the scrubber renders;
3. measures throughput (conversations/s) of both modes on the same conversations.

    .venv/bin/python benchmarks/privacy_seeded.py [--n 300] [--skip-pipeline]

Last result (--n 300, seed 20250421, 2 loaded cores; full table in docs/privacy.md):
recall 1.000 for every pattern type in both modes (phone precision 0.963);
PERSON (ner) 1.000 on development templates, 0.852 on held-out ones (0.909 overall);
throughput regex 377 conv/s, ner 6.4 conv/s; audit with 900 canaries: PASS in both modes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from faker import Faker

from valuescope.privacy.base import get_scrubber
from valuescope.privacy.config import PrivacyConfig
from valuescope.records import Conversation

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared"))
CORPORA = ("hh_rlhf_harmless_base_test.jsonl", "alpaca_eval.jsonl", "mt_bench.jsonl", "jailbreakbench.jsonl")
SEED = 20250421

TEMPLATES = {
    "EMAIL": ["You can reach me at {}.", "My email is {}", "Send it to {} please.", "{}", "(cc: {})"],
    "PHONE": ["Call me at {}.", "My phone number is {}", "Text {} when you arrive.", "{}", "Office: {}"],
    "URL": ["The link is {}", "Use {} to log in.", "{}", "See {} for the file."],
    "IP_ADDRESS": ["My server is at {}.", "The request came from {}", "{}", "ping {} fails"],
    "CREDIT_CARD": ["My card number is {}.", "Charge {} for it.", "{}", "card: {}"],
    "IBAN": ["Wire it to {}.", "My IBAN: {}", "{}", "Account {} please."],
    "GOV_ID": ["My SSN is {}.", "{}", "NI number {}", "My passport number is {}."],
    "STREET_ADDRESS": ["I live at {}.", "Ship it to {}", "{}", "The office is at {}."],
    "PERSON": ["My name is {}.", "I talked to {} yesterday.", "{} told me this.", "Dear {},", "Ask {} about it."],
}
# Written after the NER cue rules, never used to tune them: PERSON recall on these
# is reported separately ("PERSON/held-out") as the honest generalisation figure.
HELDOUT_PERSON = [
    "{} and I went hiking last weekend.",
    "Thanks again, {}!",
    "Please forward this to {} in accounting.",
    "According to {}, the deadline moved.",
    "The contract was signed by {} on Monday.",
    "{}",
    "I'm writing on behalf of {}.",
    "Is {} still on the team?",
]
GOV_TEMPLATE_KIND = {0: "ssn", 1: "any", 2: "nino", 3: "passport"}


class Generators:
    """One Faker per locale, seeded; each call returns a realistic value of a type."""

    def __init__(self, seed: int) -> None:
        Faker.seed(seed)
        self.rng = random.Random(seed)
        self.f = {loc: Faker(loc) for loc in ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "en_IN")}
        for i, fk in enumerate(self.f.values()):
            fk.seed_instance(seed + i)

    def pick(self, *locs: str) -> Faker:
        return self.f[self.rng.choice(locs)]

    def value(self, entity: str, template_index: int) -> str:
        r, us = self.rng, self.f["en_US"]
        if entity == "EMAIL":
            return r.choice([us.email, us.free_email, us.company_email])()
        if entity == "PHONE":
            return self.pick("en_US", "en_US", "en_GB", "de_DE", "fr_FR").phone_number()
        if entity == "URL":
            host = us.domain_name()
            if r.random() < 0.5:
                return f"https://{us.user_name()}:{us.password(special_chars=False)}@{host}/{us.uri_path()}"
            param = r.choice(["token", "access_token", "api_key", "sig", "key", "session_id"])
            return f"https://{host}/{us.uri_path()}?{param}={us.sha1()[: r.randint(16, 40)]}&page=2"
        if entity == "IP_ADDRESS":
            return us.ipv4_public() if r.random() < 0.75 else us.ipv6()
        if entity == "CREDIT_CARD":
            num = us.credit_card_number()
            if r.random() < 0.4 and len(num) == 16:
                num = " ".join(num[i : i + 4] for i in range(0, 16, 4))
            return num
        if entity == "IBAN":
            iban = self.pick("de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT").iban()
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if r.random() < 0.4 else iban
        if entity == "GOV_ID":
            kind = GOV_TEMPLATE_KIND[template_index]
            if kind == "any":
                kind = r.choice(["ssn", "nino"])
            if kind == "ssn":
                return us.ssn()
            if kind == "nino":  # Faker's en_GB ssn() ends in letters HMRC never issues; build a valid one
                prefix = r.choice(
                    [
                        a + b
                        for a in "ABCEGHJKLMNPRSTWXYZ"
                        for b in "ABCEGHJKLMNPRSTWXYZ"
                        if a + b not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")
                    ]
                )
                nino = prefix + us.numerify("######") + r.choice("ABCD")
                return f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}" if r.random() < 0.5 else nino
            return us.passport_number()
        if entity == "STREET_ADDRESS":
            return us.street_address() if r.random() < 0.6 else us.address().replace("\n", ", ")
        if entity == "PERSON":
            fk = self.pick("en_US", "en_US", "en_GB", "en_IN", "es_ES", "de_DE", "fr_FR", "it_IT")
            return f"{fk.first_name()} {fk.last_name()}"
        raise ValueError(entity)


REFERENCE = SHARED / "data" / "reference-annotations" / "dev.jsonl"


def load_conversations(n: int, seed: int) -> list[dict]:
    """A random sample of the conversations that have reference annotations (so the
    pipeline check can run `analyze --extractor reference`, which needs no model)."""
    wanted = {json.loads(line)["id"] for line in REFERENCE.read_text("utf-8").splitlines() if line.strip()}
    rows: list[dict] = []
    for name in CORPORA:
        with (SHARED / "data" / "conversations" / name).open(encoding="utf-8") as fh:
            rows += [r for r in map(json.loads, fh) if r["id"] in wanted]
    rng = random.Random(seed)
    rng.shuffle(rows)
    return rows[:n]


BOUNDARY_RE = re.compile(r"(?<=[.!?\n])\s+")


def seed_conversation(conv: dict, gen: Generators, per_conv: int) -> list[dict]:
    """Insert `per_conv` PII items into random messages; return the seeded spans."""
    rng = gen.rng
    spans: list[dict] = []
    entities = list(TEMPLATES)
    for _ in range(per_conv):
        entity = rng.choice(entities)
        templates = TEMPLATES[entity] + (HELDOUT_PERSON if entity == "PERSON" else [])
        t_idx = rng.randrange(len(templates))
        value = gen.value(entity, t_idx)
        sentence = templates[t_idx].format(value)
        group = "PERSON/held-out" if t_idx >= len(TEMPLATES[entity]) else entity
        mi = rng.randrange(len(conv["messages"]))
        text = conv["messages"][mi]["content"]
        cuts = [0] + [m.end() for m in BOUNDARY_RE.finditer(text)] + [len(text)]
        taken = [(s["start"], s["end"]) for s in spans if s["msg"] == mi]
        pos = rng.choice([p for p in cuts if not any(a <= p < b for a, b in taken)] or [len(text)])
        prefix = "" if pos == 0 or text[pos - 1].isspace() else " "
        insert = prefix + sentence + (" " if pos < len(text) and not text[pos].isspace() else "")
        new_text = text[:pos] + insert + text[pos:]
        start = pos + len(prefix) + sentence.index(value)
        shift = len(insert)
        for s in spans:  # earlier spans in the same message after the cut move right
            if s["msg"] == mi and s["start"] >= pos:
                s["start"] += shift
                s["end"] += shift
        spans.append(
            {
                "id": conv["id"],
                "msg": mi,
                "entity": entity,
                "group": group,
                "start": start,
                "end": start + len(value),
                "value": value,
            }
        )
        conv["messages"][mi]["content"] = new_text
    return spans


def score(seeded: list[dict], findings: dict[tuple[str, int], list], baseline: dict[tuple[str, int], list]) -> dict:
    """Per-type recall (typed and type-agnostic) and precision."""
    by_msg: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for s in seeded:
        by_msg[(s["id"], s["msg"])].append(s)
    tp, total, any_hit = Counter(), Counter(), Counter()
    f_total, f_fp = Counter(), Counter()
    for key, spans in by_msg.items():
        fs = findings.get(key, [])
        for s in spans:
            total[s["group"]] += 1
            if any(f.entity == s["entity"] and f.start <= s["start"] and f.end >= s["end"] for f in fs):
                tp[s["group"]] += 1
            covered = set()
            for f in fs:
                covered.update(range(max(f.start, s["start"]), min(f.end, s["end"])))
            if len(covered) == s["end"] - s["start"]:
                any_hit[s["group"]] += 1
    for key, fs in findings.items():
        spans = by_msg.get(key, [])
        for f in fs:
            f_total[f.entity] += 1
            if not any(f.start < s["end"] and s["start"] < f.end for s in spans):
                f_fp[f.entity] += 1
    base = Counter(f.entity for fs in baseline.values() for f in fs)
    out = {}
    for e in sorted(set(total) | set(f_total)):
        out[e] = {
            "seeded": total[e],
            "recall": tp[e] / total[e] if total[e] else None,
            "recall_any_type": any_hit[e] / total[e] if total[e] else None,
            "findings": f_total[e],
            "unseeded_findings": f_fp[e],
            "precision": (f_total[e] - f_fp[e]) / f_total[e] if f_total[e] else None,
            "findings_in_original_text": base[e],
        }
    return out


def run_findings(scrubber, convs: list[dict]) -> tuple[dict, float]:
    out, t0 = {}, time.perf_counter()
    for c in convs:
        texts = [m["content"] for m in c["messages"]]
        found = scrubber.find_many(texts) if hasattr(scrubber, "find_many") else [scrubber.find(t) for t in texts]
        for i, fs in enumerate(found):
            out[(c["id"], i)] = fs
    return out, time.perf_counter() - t0


def throughput(mode: str, convs: list[dict]) -> dict:
    scrubber = get_scrubber(PrivacyConfig(scrub=mode))
    models = [Conversation.model_validate({k: c[k] for k in ("id", "messages")}) for c in convs]
    t0 = time.perf_counter()
    for conv in models:
        scrubber.scrub_conversation(conv)
    dt = time.perf_counter() - t0
    chars = sum(len(m.content) for c in models for m in c.messages)
    return {
        "conversations": len(models),
        "seconds": round(dt, 2),
        "conv_per_s": round(len(models) / dt, 1),
        "chars_per_s": round(chars / dt),
    }


def vs(*args: str) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).with_name("valuescope")), *args]
    print("$ valuescope " + " ".join(args), flush=True)
    return subprocess.run(cmd, capture_output=True, text=True)


def pipeline_check(seeded_convs: list[dict], seeded: list[dict], mode: str, workdir: Path) -> dict:
    """Real ingest + analyze + export + audit with every seeded string as a canary."""
    import pyarrow.parquet as pq

    data = workdir / "seeded.jsonl"
    data.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in seeded_convs), "utf-8")
    canaries = workdir / "canaries.txt"
    canaries.write_text("\n".join(sorted({s["value"] for s in seeded})) + "\n", "utf-8")
    run = workdir / f"run-{mode}"
    res = vs(
        "analyze",
        str(data),
        "--out",
        str(run),
        "--scrub",
        mode,
        "--quiet",
        "--extractor",
        "reference",
        "--reference",
        str(REFERENCE),
    )
    out: dict = {"analyze_rc": res.returncode}
    if res.returncode != 0:
        out["analyze_error"] = (res.stderr or res.stdout)[-800:]
    if not (run / "conversations").is_dir():
        res = vs("ingest", str(data), "--out", str(run), "--scrub", mode, "--quiet")
        out["ingest_rc"] = res.returncode
    stored = {r["id"]: r for r in pq.read_table(run / "conversations").to_pylist()}
    scrubber = get_scrubber(PrivacyConfig(scrub=mode))
    mismatch = 0
    for c in seeded_convs:
        want = scrubber.scrub_texts([m["content"] for m in c["messages"]])
        got = [m["content"] for m in stored[c["id"]]["messages"]] if c["id"] in stored else None
        mismatch += got != want
    out["ingest_matches_scrubber"] = f"{len(seeded_convs) - mismatch}/{len(seeded_convs)}"
    all_text = json.dumps(list(stored.values()), ensure_ascii=False, default=str)
    out["seeded_strings_left_in_conversations_parquet"] = sum(1 for s in seeded if s["value"] in all_text)
    if (run / "analysis").is_dir():
        res = vs("export", str(run))
        out["export_rc"] = res.returncode
    res = vs("audit", str(run), "--canaries", str(canaries))
    out["audit_rc"] = res.returncode
    lines = res.stderr.strip().splitlines()
    out["audit_summary"] = lines[-1] if lines else ""
    out["audit_findings"] = [ln for ln in lines if ln.startswith("finding")][:10]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="conversations to seed")
    ap.add_argument("--per-conv", type=int, default=3, help="PII items inserted per conversation")
    ap.add_argument("--modes", default="regex,ner")
    ap.add_argument(
        "--seed", type=int, default=SEED, help="patterns were tuned on the default seed: also report another"
    )
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--workdir", type=Path, help="keep the pipeline runs here (default: a temp dir, deleted)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--misses", action="store_true", help="print every missed seeded item (debugging)")
    args = ap.parse_args()
    modes = args.modes.split(",")

    originals = load_conversations(args.n, args.seed)
    seeded_convs = json.loads(json.dumps(originals))
    gen = Generators(args.seed)
    seeded = [s for c in seeded_convs for s in seed_conversation(c, gen, args.per_conv)]
    for s in seeded:  # self-check: recorded spans are exact
        c = next(c for c in seeded_convs if c["id"] == s["id"])
        assert c["messages"][s["msg"]]["content"][s["start"] : s["end"]] == s["value"], s
    results: dict = {
        "conversations": args.n,
        "seeded_items": len(seeded),
        "seed": args.seed,
        "seeded_per_type": dict(Counter(s["group"] for s in seeded)),
    }
    for mode in modes:
        scrubber = get_scrubber(PrivacyConfig(scrub=mode))
        found, dt = run_findings(scrubber, seeded_convs)
        base, _ = run_findings(scrubber, originals)
        results[mode] = {"scores": score(seeded, found, base), "find_seconds": round(dt, 2)}
        if args.misses:
            print_misses(mode, seeded, found, seeded_convs)
    results["throughput"] = {m: throughput(m, originals) for m in modes}
    try:
        results["load_average"] = os.getloadavg()
    except OSError:
        pass
    if not args.skip_pipeline:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            results["pipeline"] = {m: pipeline_check(seeded_convs, seeded, m, args.workdir) for m in modes}
        else:
            with tempfile.TemporaryDirectory(prefix="vs-privacy-") as tmp:
                results["pipeline"] = {m: pipeline_check(seeded_convs, seeded, m, Path(tmp)) for m in modes}
    report(results, modes)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), "utf-8")


def print_misses(mode: str, seeded: list[dict], found: dict, convs: list[dict]) -> None:
    texts = {(c["id"], i): m["content"] for c in convs for i, m in enumerate(c["messages"])}
    for s in seeded:
        fs = found.get((s["id"], s["msg"]), [])
        if not any(f.entity == s["entity"] and f.start <= s["start"] and f.end >= s["end"] for f in fs):
            t = texts[(s["id"], s["msg"])]
            near = [(f.entity, t[f.start : f.end]) for f in fs if f.start < s["end"] + 5 and s["start"] - 5 < f.end]
            print(f"MISS[{mode}] {s['entity']}: {t[max(0, s['start'] - 30) : s['end'] + 15]!r} got {near}")


def report(results: dict, modes: list[str]) -> None:
    print(
        f"\nseeded {results['seeded_items']} PII items into {results['conversations']} real conversations (seed {results['seed']})"
    )
    target = {e: (0.85 if e == "PERSON" else 0.95) for e in TEMPLATES} | {"PERSON/held-out": 0.85}
    for mode in modes:
        print(f"\n== scrub={mode}   (target recall: 0.95 pattern types, 0.85 PERSON)")
        print(
            f"{'type':16} {'seeded':>6} {'recall':>7} {'any-type':>8} {'found':>6} {'unseeded':>8} {'precision':>9} {'in-orig':>7}"
        )
        for e, r in results[mode]["scores"].items():
            fmt = lambda x: "   -" if x is None else f"{x:.3f}"  # noqa: E731
            flag = "" if r["recall"] is None or r["recall"] >= target.get(e, 0.95) else "  < target"
            print(
                f"{e:16} {r['seeded']:>6} {fmt(r['recall']):>7} {fmt(r['recall_any_type']):>8} {r['findings']:>6} "
                f"{r['unseeded_findings']:>8} {fmt(r['precision']):>9} {r['findings_in_original_text']:>7}{flag}"
            )
    print("\nprecision counts every finding that overlaps no seeded span as false, although the corpora hold real")
    print("PII and real names (hh-rlhf red-team requests, celebrities, characters): 'in-orig' = findings on the")
    print("unseeded originals. Baseline: scrub=off finds nothing (recall 0).")
    print(f"\n== throughput on the same unseeded conversations (load average {results.get('load_average')})")
    for m, t in results["throughput"].items():
        print(
            f"scrub={m:6} {t['conv_per_s']:>8} conv/s  {t['chars_per_s']:>9} chars/s  ({t['conversations']} conv, {t['seconds']} s)"
        )
    for m, p in results.get("pipeline", {}).items():
        print(f"\n== pipeline scrub={m}: " + json.dumps(p))


if __name__ == "__main__":
    main()
