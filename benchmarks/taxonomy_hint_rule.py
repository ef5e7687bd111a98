"""What the taxonomy stage does to an extractor's values, under both hint rules and both reference constructs.

    python benchmarks/taxonomy_hint_rule.py RUN LABELS [--raw RAW_LABELS] [--rules weight,inside]
    python benchmarks/taxonomy_hint_rule.py A.jsonl,B.jsonl A.jsonl,B.jsonl    # the reference extractor fed LABELS

RUN holds judgments + mentions from any extractor (a finished ``valuescope analyze`` run); label files
instead of RUN are turned into them by the reference extractor's own conversion. LABELS may list several
files (comma-separated). For each rule the taxonomy_place stage is rerun on a copy of those two tables
(``weight`` = the earlier rule, the hint only reweights; ``inside`` = the default: a published leaf keeps the
tree's path, any other value keeps the extractor's l2) and scored with ``valuescope.evaluate`` against LABELS,
as annotated and tree-consistent; ``mentions`` (no taxonomy stage, each value's l2 = the extractor's l2_hint)
is the baseline. ``--raw RAW_LABELS`` (the extractor's own answers as labels, e.g. from
``benchmarks/llm_replay.py labels``) also scores every variant against them: 1 - F1 there is the loss the
pipeline adds to the extractor's answers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from valuescope.engine.rundir import RunDir
from valuescope.engine.runner import run_stages
from valuescope.evaluate import evaluate_run
from valuescope.taxonomy.config import TaxonomyConfig
from valuescope.taxonomy.stage import taxonomy_stages

KEYS = ("ai_l2_micro_f1", "ai_l3_micro_f1", "human_l2_micro_f1", "human_l3_micro_f1")


def variant(src: RunDir, rule: str | None, work: Path) -> Path:
    """A copy of the run's judgments + mentions (+ conversations), with taxonomy_place rerun under ``rule``."""
    dst = RunDir(work / (rule or "mentions"))
    for name in ("judgments", "mentions", "conversations"):
        if src.has_table(name):
            dst.write_table(name, src.read_table(name))
    if rule is not None:
        t = time.time()
        run_stages(dst, taxonomy_stages(TaxonomyConfig(build=False, hint_rule=rule)), quiet=True)
        stats = dst.read_manifest()["stages"]["taxonomy_place"]["stats"]
        print(
            f"  {rule}: placed in {time.time() - t:.0f} s, l2_hint_disagreement {stats['l2_hint_disagreement']}, "
            f"new {stats['new']} of {stats['mentions']}"
        )
    return dst.path


def reference_run(files: str, work: Path) -> RunDir:
    """judgments + mentions exactly as ``--extractor reference`` makes them from these label files."""
    import pandas as pd

    from valuescope.extract.reference import annotation_to_extraction, load_annotations

    labels: dict = {}
    for f in files.split(","):
        labels.update(load_annotations(f))
    ex = [annotation_to_extraction(r, "reference") for r in labels.values()]
    run = RunDir(work / "reference")
    run.write_table("judgments", pd.DataFrame([e.judgment.model_dump() for e in ex]))
    run.write_table("mentions", pd.DataFrame([v.model_dump() for e in ex for v in e.values]))
    return run


def joined(files: str, work: Path) -> Path:
    """One labels file from a comma-separated list."""
    if "," not in files:
        return Path(files)
    out = work / "labels.jsonl"
    out.write_text("".join(Path(f).read_text("utf-8") for f in files.split(",")), "utf-8")
    return out


def row(path: Path, labels: Path) -> dict[str, dict[str, float]]:
    m = evaluate_run(path, labels)
    return {c: {k: round(m["constructs"][c][k], 3) for k in KEYS} for c in ("as_annotated", "tree_consistent")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="run directory, or label files (comma-separated) fed to the reference extractor")
    ap.add_argument("labels", help="label file(s), comma-separated")
    ap.add_argument("--raw", type=Path, default=None)
    ap.add_argument("--rules", default="weight,inside")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hint-rule-"))
    try:
        src = reference_run(args.run, work) if args.run.endswith(".jsonl") else RunDir(args.run, create=False)
        args.labels = joined(args.labels, work)
        results = {}
        for rule in [None, *args.rules.split(",")]:
            path = variant(src, rule, work)
            results[rule or "mentions"] = {"reference": row(path, args.labels)}
            if args.raw:
                results[rule or "mentions"]["raw"] = row(path, args.raw)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'variant':10} {'against':9} {'construct':16} " + " ".join(f"{k[:-9]:>9}" for k in KEYS))
    for name, by in results.items():
        for against, constructs in by.items():
            for c, vals in constructs.items():
                print(f"{name:10} {against:9} {c:16} " + " ".join(f"{vals[k]:9.3f}" for k in KEYS))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
