"""Write the reference tables the out-of-core analyses are checked against (tests/analysis/test_reference.py).

Run once with the code whose results are the reference (the pandas analyses before the DuckDB rewrite):

    PYTHONPATH=src VALUESCOPE_SHARED=/work/shared python scripts/analysis_reference.py

It builds the reference runs of tests/analysis (600 annotated conversations through the reference extractor,
with and without user ids; the first also placed by the taxonomy stage), runs every analysis stage and copies
every table (and the drift summary) into tests/analysis/reference/<run>/.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "analysis"))

from analysis_helpers import build_reference_run  # noqa: E402
from reference_config import ANALYSIS, PRIVACY, TAXONOMY  # noqa: E402

from valuescope.analysis.stage import analysis_stages  # noqa: E402
from valuescope.engine.runner import run_stages  # noqa: E402
from valuescope.taxonomy.stage import PlaceStage  # noqa: E402

OUT = REPO / "tests" / "analysis" / "reference"


def main() -> None:
    shared = Path(os.environ.get("VALUESCOPE_SHARED", REPO.parent / "shared")) / "data"
    with tempfile.TemporaryDirectory() as tmp:
        for name, users, place in (("users", 150, False), ("no_users", 0, False), ("placed", 150, True)):
            run = build_reference_run(
                Path(tmp) / name, shared / "conversations", shared / "reference-annotations", users=users
            )
            if place:
                run_stages(run, [PlaceStage(TAXONOMY)], quiet=True)
            run_stages(run, analysis_stages(ANALYSIS, PRIVACY), quiet=True)
            target = OUT / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            tables = [t for t in run.tables() if t.startswith("analysis/") or t in ("anomaly_scores", "values")]
            for t in tables:
                if t == "values" and not place:
                    continue
                shutil.copy(run.table_path(t), target / (t.replace("/", "__") + ".parquet"))
            drift = run.path / "analysis" / "drift_summary.json"
            if drift.is_file():
                shutil.copy(drift, target / "drift_summary.json")
            floor = run.read_manifest()["privacy_floor"]["suppressed"]
            (target / "privacy_floor.json").write_text(json.dumps(floor, indent=1, sort_keys=True) + "\n", "utf-8")
            print(name, sorted(p.name for p in target.iterdir()))


if __name__ == "__main__":
    main()
