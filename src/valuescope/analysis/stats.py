"""The statistics every analysis shares, vectorised over numpy arrays.

Kept in one place so each figure in the report is computed one way: Wilson
intervals for proportions, adjusted (standardised) Pearson residuals for
contingency cells, Benjamini-Hochberg / Bonferroni for multiple testing, and
the Newcombe hybrid-score interval with a z or Fisher test for differences of
two proportions. See docs/methods.md for the formulas and why these were chosen.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


def z_for(alpha: float = 0.05) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson(k: np.ndarray | int, n: np.ndarray | int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes out of n; (nan, nan) where n == 0.

    Preferred over the Wald interval because it stays inside [0, 1] and keeps
    its coverage for the small counts and rare values typical of value tables.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_for(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # k == 0 and k == n have exact bounds 0 and 1; floating point leaves ~1e-17 there
        low = np.where(n > 0, np.where(k <= 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        high = np.where(n > 0, np.where(k >= n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return low, high


def adjusted_residuals(observed: np.ndarray) -> np.ndarray:
    """Standardised (adjusted) Pearson residuals of a 2-D contingency table.

    r_ij = (O_ij - E_ij) / sqrt(E_ij (1 - row_i/N) (1 - col_j/N)), which is
    approximately N(0, 1) under independence (Haberman 1973), so it can be
    turned into a p-value cell by cell.
    """
    o = np.asarray(observed, dtype=float)
    n = o.sum()
    rows = o.sum(axis=1, keepdims=True)
    cols = o.sum(axis=0, keepdims=True)
    e = rows * cols / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return (o - e) / np.sqrt(e * (1 - rows / n) * (1 - cols / n))


def cell_residual(
    o: np.ndarray, row: np.ndarray, col: np.ndarray, n: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """Expected count and adjusted residual of one cell of a 2x2 presence table.

    `o` conversations have both properties (value v and context c), `row` have
    v, `col` are in c, out of `n`. Equals the signed square root of the 2x2
    chi-square statistic without continuity correction.
    """
    o, row, col = (np.asarray(x, dtype=float) for x in (o, row, col))
    n = np.asarray(n, dtype=float)
    e = row * col / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var = e * (1 - row / n) * (1 - col / n)
        r = np.where(var > 0, (o - e) / np.sqrt(var), np.nan)
    return e, r


def residual_p(residual: np.ndarray) -> np.ndarray:
    """Two-sided normal p-value of a standardised residual (nan stays nan)."""
    r = np.asarray(residual, dtype=float)
    return 2 * stats.norm.sf(np.abs(r))


def bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); nan p-values are ignored and stay nan."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(ranked, 0, 1)
    q[ok] = out
    return q


def bonferroni(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    m = int((~np.isnan(p)).sum())
    return np.clip(p * max(m, 1), 0, 1)


def correct(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """Multiple-testing correction by name: "bh" (false discovery rate) or "bonferroni" (family-wise)."""
    if method == "bh":
        return bh(p)
    if method == "bonferroni":
        return bonferroni(p)
    raise ValueError(f"unknown correction {method!r}; use 'bh' or 'bonferroni'")


def newcombe_diff(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference p1 - p2 with Newcombe's hybrid score interval (method 10, 1998).

    Built from the two Wilson intervals, so it behaves at 0 and 1 where the
    Wald interval for a difference collapses.
    """
    k1, n1, k2, n2 = (np.asarray(x, dtype=float) for x in (k1, n1, k2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, alpha)
    l2, u2 = wilson(k2, n2, alpha)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


@lru_cache(maxsize=200_000)
def _fisher(k1: int, n1: int, k2: int, n2: int) -> float:
    return float(stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)


def two_proportion_p(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray, min_expected: float = 5.0
) -> np.ndarray:
    """Two-sided p-value for p1 == p2: pooled z-test, or Fisher's exact test when any expected count < min_expected."""
    k1, n1, k2, n2 = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=float)) for x in (k1, n1, k2, n2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (k1 / n1 - k2 / n2) / se
        p = np.where(se > 0, 2 * stats.norm.sf(np.abs(z)), 1.0)
    expected = np.minimum.reduce([n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)])
    p = np.array(p, dtype=float)
    for i in np.flatnonzero(expected < min_expected):
        if n1[i] > 0 and n2[i] > 0:
            p[i] = _fisher(int(k1[i]), int(n1[i]), int(k2[i]), int(n2[i]))
    p[(n1 == 0) | (n2 == 0)] = np.nan
    return p


def lift(o: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Observed over expected: 2.0 means twice as often as independence predicts."""
    o, e = np.asarray(o, dtype=float), np.asarray(e, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(e > 0, o / e, np.nan)


def mean_ci(x: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """Mean with a t interval (nan interval below 2 observations)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(1 - alpha / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - half, m + half


def mean_ci_of_sums(n: int, total: int, squares: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """mean_ci of n integers given their sum and sum of squares (exact integer moments: no pass over the data)."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    m = total / n
    if n < 2:
        return m, float("nan"), float("nan")
    var = (n * squares - total * total) / (n * (n - 1))  # exact in integers up to the one division
    half = float(stats.t.ppf(1 - alpha / 2, n - 1) * np.sqrt(var) / np.sqrt(n))
    return m, m - half, m + half
