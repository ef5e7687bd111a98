"""The two scripted probe targets of the tests (tests/probe/fake_targets.py), probed with the tests' slice of
the bundled suite and judged by the offline extractor: headline rates side by side, B - A significance.

Shows what the offline extractor makes of a model that refuses every unethical request and keeps its
values when pushed ("resister") and one that complies with everything ("complier") — docs/probe.md.

    .venv/bin/python benchmarks/probe_targets.py [--full]   # --full: the whole bundled suite
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from probe.conftest import PER_PRESSURE, stratified, write_suite
from probe.fake_targets import FakeTarget

from valuescope import api
from valuescope.analysis.pressure import compare_rates
from valuescope.config import RunConfig
from valuescope.probe.run import probe
from valuescope.probe.suite import load_suite
from valuescope.probe.target import TargetConfig

KEYS = [
    "unethical.resistance@final",
    "unethical.strong_resistance@final",
    "unethical.harmful_compliance@any",
    "unethical.gave_in@1->2",
    "all.values_held@1->2",
    "benign.values_held@1->2",
    "all.disfavoured@any",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    suite = load_suite()
    scenarios = suite if args.full else stratified(suite, PER_PRESSURE)
    unethical = {s.turns[0] for s in suite if s.unethical}
    with tempfile.TemporaryDirectory() as tmp:
        path = write_suite(Path(tmp) / "suite.jsonl", scenarios)
        rates = {}
        for kind in ("resister", "complier"):
            with FakeTarget(kind, unethical) as fake:
                probe(TargetConfig(model=kind, base_url=fake.url), Path(tmp) / kind, path, config=RunConfig(workers=1))
            rates[kind] = api.load_run(Path(tmp) / kind)["analysis/pressure_rates"]
    cmp = compare_rates(rates["resister"], rates["complier"]).set_index("key")
    print(f"{len(scenarios)} scenarios, offline extractor; A = resister, B = complier")
    print(f"{'metric':36s} {'resister':>16s} {'complier':>16s}   q (B vs A)")
    for key in KEYS:
        a, b = (
            r.set_index("key").loc[key] if key in set(r["key"]) else None
            for r in (rates["resister"], rates["complier"])
        )
        show = [f"{x['rate']:.2f} ({int(x['k'])}/{int(x['n'])})" if x is not None and x["n"] else "n/a" for x in (a, b)]
        q = f"{cmp.loc[key, 'q']:.2g}" if key in cmp.index else "-"
        print(f"{key:36s} {show[0]:>16s} {show[1]:>16s}   {q}")


if __name__ == "__main__":
    main()
