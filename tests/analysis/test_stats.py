"""The shared statistics against values computed by hand (and by scipy where it has them)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from valuescope.analysis import stats


def test_wilson_matches_hand_computation():
    # 8/20: centre (0.4 + z^2/40) / (1 + z^2/20), half-width z*sqrt(0.24/20 + z^2/1600) / (1 + z^2/20)
    lo, hi = stats.wilson(8, 20)
    assert float(lo) == pytest.approx(0.2188, abs=1e-4)
    assert float(hi) == pytest.approx(0.6134, abs=1e-4)
    lo, hi = stats.wilson(0, 10)  # the interval stays inside [0, 1] at zero successes
    assert float(lo) == 0.0
    assert float(hi) == pytest.approx(0.2775, abs=1e-4)
    lo, hi = stats.wilson(np.array([0, 7, 3]), np.array([7, 7, 3]))  # exact bounds at k = 0 and k = n
    assert lo[0] == 0.0 and hi[1] == 1.0 and hi[2] == 1.0 and lo[1] > 0.5
    lo, hi = stats.wilson(np.array([1, 0]), np.array([0, 0]))
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_adjusted_residual_of_2x2_is_signed_root_chi_square():
    table = np.array([[10, 20], [30, 40]])
    r = stats.adjusted_residuals(table)
    # E11 = 30*40/100 = 12; var = 12 * (1 - 0.3) * (1 - 0.4) = 5.04
    assert r[0, 0] == pytest.approx(-2 / np.sqrt(5.04))
    chi2 = sps.chi2_contingency(table, correction=False)[0]
    assert abs(r[0, 0]) == pytest.approx(np.sqrt(chi2))
    e, rc = stats.cell_residual(10, 30, 40, 100)
    assert float(e) == 12 and float(rc) == pytest.approx(r[0, 0])
    assert float(stats.residual_p(rc)) == pytest.approx(sps.chi2_contingency(table, correction=False)[1])


def test_adjusted_residuals_larger_table():
    table = np.array([[20, 5, 5], [5, 20, 5]])
    r = stats.adjusted_residuals(table)
    # cell (0,0): N=60, row 30, col 25, E=12.5, var = 12.5 * 0.5 * (1 - 25/60)
    assert r[0, 0] == pytest.approx(7.5 / np.sqrt(12.5 * 0.5 * (35 / 60)))
    assert r[0, 2] == pytest.approx(0.0)


def test_benjamini_hochberg_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4/rank 0.02, 0.02, 0.04, 0.04 (already monotone)
    q = stats.bh(np.array([0.01, 0.04, 0.03, 0.005]))
    assert q == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # a step-up case: 0.5*4/4 = 0.5 stays, 0.03*4/3 = 0.04, 0.02*4/2 = 0.04, 0.01*4 = 0.04
    assert stats.bh(np.array([0.5, 0.02, 0.01, 0.03])) == pytest.approx([0.5, 0.04, 0.04, 0.04])
    q = stats.bh(np.array([0.01, np.nan, 0.02]))  # nan is not a test and does not count in m
    assert q[0] == pytest.approx(0.02) and np.isnan(q[1]) and q[2] == pytest.approx(0.02)
    assert stats.correct(np.array([0.01, 0.2]), "bonferroni") == pytest.approx([0.02, 0.4])
    with pytest.raises(ValueError):
        stats.correct(np.array([0.1]), "holm-ish")


def test_newcombe_interval_matches_published_example():
    # Newcombe (1998), example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    d, lo, hi = stats.newcombe_diff(56, 70, 48, 80)
    assert float(d) == pytest.approx(0.2)
    assert float(lo) == pytest.approx(0.0524, abs=1e-4)
    assert float(hi) == pytest.approx(0.3339, abs=1e-4)


def test_two_proportion_test_z_and_fisher():
    # pooled 0.25, se sqrt(0.25*0.75*0.02), z = 0.1/se
    p = stats.two_proportion_p(30, 100, 20, 100)
    z = 0.1 / np.sqrt(0.25 * 0.75 * 0.02)
    assert float(p[0]) == pytest.approx(2 * sps.norm.sf(z))
    # small counts switch to Fisher's exact test: [[3, 2], [0, 5]] -> two-sided p = 1/6
    assert float(stats.two_proportion_p(3, 5, 0, 5)[0]) == pytest.approx(1 / 6, abs=1e-4)
    assert float(stats.two_proportion_p(5, 10, 5, 10)[0]) == pytest.approx(1.0)
    assert np.isnan(stats.two_proportion_p(0, 0, 1, 5)[0])


def test_lift_and_mean_ci():
    assert stats.lift(np.array([8, 0]), np.array([5, 0])) == pytest.approx([1.6, np.nan], nan_ok=True)
    m, lo, hi = stats.mean_ci(np.array([1.0, 2.0, 3.0]))
    half = sps.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (m, lo, hi) == pytest.approx((2.0, 2 - half, 2 + half))
