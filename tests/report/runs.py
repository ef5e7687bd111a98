"""Build real runs for the report tests: dev.jsonl conversations through ingest + the reference extractor.

Later stages come from the real pipeline when they exist (taxonomy, analysis);
until then :func:`derive_tables` writes minimal values/analysis tables that
follow the analysis contract, so the report is tested on real judgments.
A few planted conversations carry XSS payloads as values, model and text.
Every conversation carries a raw user id, hashed by ingest like a real log's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from valuescope.config import RunConfig
from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.records import L3_TO_L2

XSS_VALUE = "<script>window.__xss=1</script>"
XSS_HUMAN = '<img src=x onerror="window.__xss=2">'
XSS_MODEL = "<b onmouseover=window.__xss=3>evil-model</b>"
XSS_TEXT = "<script>window.__xss=4</script> please help"
N_PLANTED = 6
USERS = 80  # conversations belong to user-0..user-79 (raw ids: ingest hashes them)
L2_TO_L3 = {l2: l3 for l3, l2s in L3_TO_L2.items() for l2 in l2s}


def write_inputs(conversations_dir: Path, labels: Path, out: Path) -> tuple[Path, Path]:
    """Conversations annotated in labels (plus planted XSS ones) -> out/input.jsonl, out/labels.jsonl."""
    wanted = {json.loads(line)["id"] for line in labels.read_text("utf-8").splitlines() if line.strip()}
    rows = []
    for f in sorted(conversations_dir.glob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["id"] in wanted:
                    rows.append({**rec, "user_id": f"user-{len(rows) % USERS}"})  # real logs carry user ids
    label_lines = labels.read_text("utf-8").splitlines()
    for i in range(N_PLANTED):
        cid = f"planted:{i}"
        rows.append(
            {
                "id": cid,
                "source": "planted",
                "model": XSS_MODEL,
                "context": "<i>ctx</i>",
                "messages": [
                    {"role": "user", "content": XSS_TEXT},
                    {"role": "assistant", "content": "I can't run that."},
                ],
                "meta": {},
            }
        )
        label_lines.append(
            json.dumps(
                {
                    "id": cid,
                    "subjective": True,
                    "task": "xss probe",
                    "task_category": "software & technical",
                    "ai_values": [
                        {"value": XSS_VALUE, "explicit": True, "l2": "Security and stability"},
                        {"value": "helpfulness", "explicit": False},
                    ],
                    "human_values": [{"value": XSS_HUMAN}],
                    "response": "strong_resistance",
                    "harmful_compliance": False,
                }
            )
        )
    out.mkdir(parents=True, exist_ok=True)
    inp, lab = out / "input.jsonl", out / "labels.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    lab.write_text("\n".join(label_lines) + "\n", "utf-8")
    return inp, lab


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def real_stages_available() -> bool:
    return _importable("valuescope.taxonomy.stage") and _importable("valuescope.analysis.stage")


def build_run(run_path: Path, conversations_dir: Path, labels: Path, examples: bool = False) -> RunDir:
    """Ingest + reference extraction (+ taxonomy/analysis, real or derived) + report."""
    from valuescope.extract.stage import ExtractStage
    from valuescope.ingest.stage import ingest_stages

    inp, lab = write_inputs(conversations_dir, labels, run_path.parent / f"{run_path.name}-inputs")
    config = RunConfig()
    config.extract.extractor = "reference"
    config.extract.reference = str(lab)
    config.report.examples = examples
    # lighter than the defaults (the report tests are not about these): no discovered tree,
    # no embedding-based task clusters, fewer bootstrap resamples
    config.taxonomy.build = False
    config.analysis.context_kinds = ["task_category", "context"]
    config.analysis.bootstrap = 50
    run = RunDir(run_path)
    if real_stages_available():
        from valuescope.pipeline import build_stages

        run_stages(run, build_stages(config, [str(inp)]), workers=1, quiet=True)
        return run
    from valuescope.report.stage import ReportStage

    run_stages(run, [*ingest_stages([str(inp)], config), ExtractStage(config.extract)], workers=1, quiet=True)
    if _importable("valuescope.analysis.stage"):  # real analysis over derived placements
        from valuescope.analysis.stage import analysis_stages

        derive_values(run)
        run_stages(run, analysis_stages(config.analysis, config.privacy), quiet=True)
    else:
        derive_tables(run)
    run_stages(run, [ReportStage(config.report, config.privacy)], quiet=True)
    return run


# -- minimal stand-ins for the taxonomy and analysis stages (contract shapes) -----------


def _wilson(k: np.ndarray, n: float) -> tuple[np.ndarray, np.ndarray]:
    z, p = 1.959964, k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return np.clip(c - h, 0, 1), np.clip(c + h, 0, 1)


def derive_values(run: RunDir) -> pd.DataFrame:
    """values.parquet: published-tree leaves placed exactly, others by the extractor's l2 hint (is_new)."""
    from valuescope.taxonomy.reference import published_tree

    tree = published_tree()
    m = run.read_df("mentions")
    m["value_norm"] = m["value"].str.strip().str.lower()
    paths = [tree.leaf_path(v) if tree.has_leaf(v) else {} for v in m["value_norm"]]
    m["leaf"] = [p.get("leaf") for p in paths]
    m["l1"] = [p.get("l1") for p in paths]
    m["l2"] = [p.get("l2") or h for p, h in zip(paths, m["l2_hint"], strict=True)]
    m["l3"] = [p.get("l3") or L2_TO_L3.get(l2) for p, l2 in zip(paths, m["l2"], strict=True)]
    m["score"] = [1.0 if p else 0.4 for p in paths]
    m["is_new"] = [not p for p in paths]
    run.write_table("values", m)
    return m


def derive_tables(run: RunDir, floor: int = 5) -> None:
    m = derive_values(run)
    j = run.read_df("judgments")
    convs = run.read_df("conversations", ["id", "model"])
    j["anomaly_score"] = np.linspace(0, 1, len(j))
    run.write_table("anomaly_scores", j[["id", "anomaly_score"]])
    subj = j[j["subjective"]]
    n_sub = max(1, len(subj))
    freq_rows = []
    for side in ("ai", "human"):
        sm = m[m["side"] == side]
        for level, col in (("value", "value_norm"), ("l1", "l1"), ("l2", "l2"), ("l3", "l3")):
            g = sm.dropna(subset=[col]).groupby(col)
            n = g["id"].nunique()
            n = n[n >= floor]
            if n.empty:
                continue
            lo, hi = _wilson(n.to_numpy(float), n_sub)
            occ = g.size()[n.index]
            expl = g["explicit"].mean()[n.index] if side == "ai" else pd.Series(np.nan, index=n.index)
            freq_rows.append(
                pd.DataFrame(
                    {
                        "side": side,
                        "level": level,
                        "name": n.index,
                        "n": n.values,
                        "share": n.values / n_sub,
                        "ci_low": lo,
                        "ci_high": hi,
                        "share_occurrences": occ.values / max(1, len(sm)),
                        "explicit_share": expl.values,
                    }
                )
            )
    run.write_table("analysis/frequencies", pd.concat(freq_rows, ignore_index=True))
    run.write_table(
        "analysis/summary",
        pd.DataFrame(
            [
                {
                    "side": s,
                    "n_conversations": len(j),
                    "n_subjective": len(subj),
                    "distinct_values": int(m[m.side == s].value_norm.nunique()),
                    "values_per_conversation_mean": float(m[m.side == s].groupby("id").size().mean()),
                }
                for s in ("ai", "human")
            ]
        ),
    )
    # context: task_category x l2 residuals (independence over conversation presence)
    ai = m[m["side"] == "ai"].merge(j[["id", "task_category"]], on="id").dropna(subset=["l2"])
    tab = ai.groupby(["task_category", "l2"])["id"].nunique().unstack(fill_value=0)
    tot = tab.to_numpy().sum()
    exp = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / tot
    res = (tab.to_numpy() - exp) / np.sqrt(np.maximum(exp, 1e-9))
    ctx = []
    for i, c in enumerate(tab.index):
        for k, name in enumerate(tab.columns):
            if tab.iat[i, k] >= floor:
                ctx.append(
                    {
                        "context_kind": "task_category",
                        "context": c,
                        "side": "ai",
                        "level": "l2",
                        "name": name,
                        "n": int(tab.iat[i, k]),
                        "expected": float(exp[i, k]),
                        "residual": float(res[i, k]),
                        "p_value": 0.01,
                        "q_value": 0.02,
                        "lift": float(tab.iat[i, k] / exp[i, k]),
                        "significant": abs(res[i, k]) > 2,
                    }
                )
    run.write_table("analysis/context", pd.DataFrame(ctx))
    run.write_table(
        "analysis/context_invariance",
        pd.DataFrame([{"side": "ai", "level": "value", "name": "helpfulness", "n_contexts": 5, "cv": 0.2}]),
    )
    resp_rows = []
    for kind, keys in (("all", None), ("task_category", "task_category")):
        groups = [("all", j)] if keys is None else list(j.groupby(keys))
        for ctx_name, g in groups:
            counts = g["response"].value_counts()
            for r, k in counts.items():
                if k >= floor:
                    lo, hi = _wilson(np.array([float(k)]), len(g))
                    resp_rows.append(
                        {
                            "context_kind": kind,
                            "context": ctx_name,
                            "response": r,
                            "n": int(k),
                            "share": k / len(g),
                            "ci_low": lo[0],
                            "ci_high": hi[0],
                        }
                    )
    run.write_table("analysis/responses", pd.DataFrame(resp_rows))
    hv = m[m.side == "human"].groupby("id")["value_norm"].apply(set)
    av = m[m.side == "ai"].groupby("id")["value_norm"].apply(set)
    jj = j.set_index("id")
    mir = []
    for r, g in jj[jj.index.isin(hv.index)].groupby("response"):
        mirrored = sum(bool(hv.get(i, set()) & av.get(i, set())) for i in g.index)
        if len(g) >= floor:
            lo, hi = _wilson(np.array([float(mirrored)]), len(g))
            mir.append(
                {
                    "response": r,
                    "n": len(g),
                    "n_mirrored": mirrored,
                    "share": mirrored / len(g),
                    "ci_low": lo[0],
                    "ci_high": hi[0],
                }
            )
    run.write_table("analysis/mirroring", pd.DataFrame(mir))
    resist = set(j[j.response.isin(["mild_resistance", "strong_resistance"])].id)
    rows = []
    for v, g in m[m.side == "ai"].groupby("value_norm"):
        ids = set(g.id)
        nr = len(ids & resist)
        if nr >= floor:
            rr, ro = nr / max(1, len(resist)), len(ids - resist) / max(1, len(j) - len(resist))
            rows.append(
                {
                    "level": "value",
                    "name": v,
                    "n_resist": nr,
                    "rate_resist": rr,
                    "rate_other": ro,
                    "lift": rr / ro if ro else np.nan,
                    "residual": 2.5,
                    "q_value": 0.01,
                }
            )
    run.write_table("analysis/resistance_values", pd.DataFrame(rows))
    run.write_table(
        "analysis/value_pairs",
        pd.DataFrame(
            [
                {
                    "level": "value",
                    "ai_value": XSS_VALUE,
                    "human_value": XSS_HUMAN,
                    "n": N_PLANTED,
                    "lift": 9.0,
                    "residual": 4.0,
                    "q_value": 0.001,
                }
            ]
        ),
    )
    top = j.sort_values("anomaly_score", ascending=False).head(30)
    run.write_table(
        "analysis/alerts",
        pd.DataFrame(
            {
                "id": top.id,
                "anomaly_score": top.anomaly_score,
                "reasons": "rare in context",
                "policy_matches": "",
                "harmful_score": top.harmful_score,
                "rarity": 0.9,
            }
        ),
    )
    # compare: two models with the most conversations
    jm = j.merge(convs, on="id")
    models = jm["model"].value_counts().head(2).index.tolist()
    comp = []
    if len(models) == 2:
        a, b = models
        na, nb = (jm.model == a).sum(), (jm.model == b).sum()
        mm = m[m.side == "ai"].merge(convs, on="id")
        for v, g in mm.groupby("value_norm"):
            ka, kb = g[g.model == a].id.nunique(), g[g.model == b].id.nunique()
            if ka + kb >= floor:
                d = ka / na - kb / nb
                comp.append(
                    {
                        "group_a": a,
                        "group_b": b,
                        "side": "ai",
                        "level": "value",
                        "name": v,
                        "n_a": ka,
                        "n_b": kb,
                        "rate_a": ka / na,
                        "rate_b": kb / nb,
                        "diff": d,
                        "ci_low": d - 0.05,
                        "ci_high": d + 0.05,
                        "p_value": 0.04,
                        "q_value": 0.2,
                        "significant": False,
                        "status": "both" if ka and kb else ("only_a" if ka else "only_b"),
                    }
                )
    run.write_table("analysis/compare", pd.DataFrame(comp))
    run.update_manifest(privacy_floor={"min_conversations": floor, "min_users": 3, "suppressed": {"frequencies": 12}})
    run.refresh_duckdb()
