"""The analyses (and the taxonomy's values table) give the same tables as the pandas code they replaced.

The reference tables in tests/analysis/reference were written by scripts/analysis_reference.py with the
in-memory pandas analyses (the code of bc6100a); the out-of-core analyses must reproduce every row and every
number (floats within 1e-9), the privacy floor's suppressed counts included.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import build_reference_run
from reference_config import ANALYSIS, PRIVACY, TAXONOMY

from valuescope.analysis.stage import analysis_stages
from valuescope.engine.runner import run_stages
from valuescope.taxonomy.stage import PlaceStage

REFERENCE = Path(__file__).parent / "reference"
RUNS = {"users": (150, False), "no_users": (0, False), "placed": (150, True)}


def canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order (every column as sort key), floats as floats, nulls as NaN."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object and df[c].map(lambda x: isinstance(x, (int, float, np.number)) or x is None).all():
            df[c] = df[c].astype(float)
    keys = [c for c in df.columns if df[c].dtype == object or df[c].dtype == bool]
    return df.sort_values(keys or list(df.columns), kind="stable").reset_index(drop=True)


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    assert list(got.columns) == list(want.columns), name
    assert len(got) == len(want), (name, len(got), len(want))
    got, want = canonical(got), canonical(want)
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_numeric_dtype(w) and not pd.api.types.is_bool_dtype(w):
            np.testing.assert_allclose(g.astype(float), w.astype(float), rtol=1e-9, atol=1e-9, err_msg=f"{name}.{c}")
        else:
            assert (
                g.astype(object).where(g.notna(), None).tolist() == w.astype(object).where(w.notna(), None).tolist()
            ), f"{name}.{c}"


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory, conversations_dir, reference_dir):
    runs = {}
    for name, (users, place) in RUNS.items():
        run = build_reference_run(tmp_path_factory.mktemp(name), conversations_dir, reference_dir, users=users)
        if place:
            run_stages(run, [PlaceStage(TAXONOMY)], quiet=True)
        run_stages(run, analysis_stages(ANALYSIS, PRIVACY), quiet=True)
        runs[name] = run
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_tables_equal_the_pandas_reference(reference_runs, name):
    run = reference_runs[name]
    files = sorted(p for p in (REFERENCE / name).glob("*.parquet"))
    assert files
    for path in files:
        table = path.stem.replace("__", "/")
        assert_same_table(run.read_df(table), pd.read_parquet(path), table)
    want = json.loads((REFERENCE / name / "drift_summary.json").read_text("utf-8"))
    got = json.loads((run.path / "analysis" / "drift_summary.json").read_text("utf-8"))
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True) or _close(got, want)


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True))
    return a == b


@pytest.mark.slow
def test_privacy_floor_counts_equal_the_reference(reference_runs):
    """The manifest's suppressed-cell counts are part of the contract too (recorded in the reference run)."""
    run = reference_runs["users"]
    assert run.read_manifest()["privacy_floor"]["suppressed"] == json.loads(
        (REFERENCE / "users" / "privacy_floor.json").read_text("utf-8")
    )
