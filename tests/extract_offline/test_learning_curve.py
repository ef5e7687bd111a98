"""The learning curve's training subsets (benchmarks/offline_cv.py --extra-limit N)."""

from __future__ import annotations

import numpy as np

from training.offline import cv


def test_extra_subsets_are_nested_seeded_and_in_file_order() -> None:
    small, large, full = (cv.extra_rows(720, n, seed=0) for n in (360, 540, None))
    assert len(small) == 360 and len(large) == 540 and len(full) == 720
    assert set(small) <= set(large) <= set(full)
    assert np.all(np.diff(small) > 0)  # file order kept
    assert np.array_equal(small, cv.extra_rows(720, 360, seed=0))
    assert not np.array_equal(small, cv.extra_rows(720, 360, seed=1))
    assert len(cv.extra_rows(720, 0, seed=0)) == 0
    assert np.array_equal(cv.extra_rows(100, 500, seed=0), np.arange(100))
