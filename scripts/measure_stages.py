"""Peak RSS of the taxonomy (placement) and analysis stages on one run, in this process.

    /usr/bin/time -v python scripts/measure_stages.py RUN [--stages place,analysis]

Prints one JSON line: seconds per stage group and ru_maxrss (MiB) after each. Used for the
out-of-core measurements of issue #18 (synthetic runs from scripts/synthetic_run.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analysis"))

from reference_config import ANALYSIS, PRIVACY, TAXONOMY  # noqa: E402

from valuescope.analysis.config import AnalysisConfig  # noqa: E402
from valuescope.analysis.stage import analysis_stages  # noqa: E402
from valuescope.engine.rundir import RunDir  # noqa: E402
from valuescope.taxonomy.stage import PlaceStage  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--stages", default="place,analysis")
    ap.add_argument("--bootstrap", type=int, default=ANALYSIS.bootstrap)
    a = ap.parse_args()
    run = RunDir(a.run, create=False)
    out: dict[str, float] = {"start_mib": peak_mib()}
    for group in a.stages.split(","):
        t0 = time.perf_counter()
        if group == "place":
            stages = [PlaceStage(TAXONOMY)]
        else:
            stages = analysis_stages(AnalysisConfig(**{**ANALYSIS.model_dump(), "bootstrap": a.bootstrap}), PRIVACY)
        for stage in stages:  # run directly: no cache may skip the work being measured
            stage.run(run)
        out[f"{group}_seconds"] = round(time.perf_counter() - t0, 1)
        out[f"{group}_peak_mib"] = round(peak_mib(), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
