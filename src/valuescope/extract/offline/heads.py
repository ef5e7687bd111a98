"""Linear heads stored as plain arrays: fitting with scikit-learn, inference in numpy.

Why not pickle the estimators: shipped weights must be small, inspectable and
safe to load, and reproducible bit-for-bit — so every head is a standardiser
plus (W, b), saved in a zip whose entries carry a fixed timestamp.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_ridge(
    X: np.ndarray, Y: np.ndarray, alpha: float, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-output ridge regression on 0/1 targets: W (k, d), b (k,).

    Why ridge, not one logistic regression per label: one linear solve serves
    all 26 clusters, so nested cross-validation costs seconds, and with tuned
    thresholds (and Platt scaling where a probability is needed) it ranks as
    well as logistic heads on 600 examples.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    reg = Ridge(alpha=alpha, solver="cholesky").fit(X, Y, sample_weight=weight)
    return np.atleast_2d(reg.coef_).astype(np.float64), np.atleast_1d(reg.intercept_).astype(np.float64)


def fit_ridges(X: np.ndarray, targets: dict[str, tuple[np.ndarray, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Several unweighted ridge heads on the same X from one eigendecomposition (same maths as fit_ridge)."""
    xm = X.mean(axis=0)
    Xc = X - xm
    n, d = Xc.shape
    dual = n <= d
    s, U = np.linalg.eigh(Xc @ Xc.T if dual else Xc.T @ Xc)
    s = np.maximum(s, 0.0)
    out = {}
    for name, (Y, alpha) in targets.items():
        Y = np.asarray(Y, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        ym = Y.mean(axis=0)
        Yc = Y - ym
        if dual:
            W = (Xc.T @ (U @ ((U.T @ Yc) / (s + alpha)[:, None]))).T
        else:
            W = (U @ ((U.T @ (Xc.T @ Yc)) / (s + alpha)[:, None])).T
        out[name] = (W, ym - xm @ W.T)
    return out


def one_hot(y: np.ndarray, classes: list[str]) -> np.ndarray:
    return np.stack([(np.asarray(y) == c).astype(float) for c in classes], axis=1)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    values, counts = np.unique(y, return_counts=True)
    freq = dict(zip(values, counts, strict=True))
    return np.array([len(y) / (len(freq) * freq[v]) for v in y])


def row_space(X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(Z, back) with X = Z @ back and back's rows orthonormal, when X has more columns than rows.

    Why: an L2-penalised linear model's weights lie in the row space of X (any other component
    adds penalty and no fit), and ||back.T z|| = ||z||, so fitting on Z (n columns) and mapping
    the weights back with ``@ back`` solves the same problem. With 12,000 n-gram columns and
    ~1,000 rows this makes the logistic heads an order of magnitude cheaper.
    """
    n, d = X.shape
    if d <= n:
        return None
    s2, U = np.linalg.eigh(X @ X.T)
    keep = s2 > max(float(s2.max()), 1e-300) * 1e-12
    s = np.sqrt(s2[keep])
    U = U[:, keep]
    return U * s, (U / s).T @ X


def fit_binary(X: np.ndarray, y: np.ndarray, C: float, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) of a logistic regression; a constant label gives a constant (log-odds) head."""
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        p = (y.sum() + 0.5) / (len(y) + 1.0)
        return np.zeros(X.shape[1], dtype=np.float64), np.array([np.log(p / (1 - p))])
    rs = row_space(X)
    clf = LogisticRegression(C=C, max_iter=2000, class_weight="balanced" if balanced else None)
    clf.fit(X if rs is None else rs[0], y)
    coef = clf.coef_[0] if rs is None else clf.coef_[0] @ rs[1]
    return coef.astype(np.float64), clf.intercept_.astype(np.float64)


def fit_multilabel(X: np.ndarray, Y: np.ndarray, C: float, balanced: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest: W (k, d), b (k,)."""
    ws, bs = zip(*(fit_binary(X, Y[:, j], C, balanced) for j in range(Y.shape[1])), strict=True)
    return np.vstack(ws), np.concatenate(bs)


def fit_multiclass(
    X: np.ndarray, y: np.ndarray, classes: list[str], C: float, balanced: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial LR over ``classes``; classes absent from y get a very low bias."""
    present = sorted(set(y))
    if len(present) == 1:
        W = np.zeros((len(classes), X.shape[1]))
        b = np.full(len(classes), -20.0)
        b[classes.index(present[0])] = 0.0
        return W, b
    rs = row_space(X)
    clf = LogisticRegression(C=C, max_iter=3000, class_weight="balanced" if balanced else None)
    clf.fit(X if rs is None else rs[0], y)
    W = np.zeros((len(classes), X.shape[1]))
    b = np.full(len(classes), -20.0)
    coef, icpt = (clf.coef_ if rs is None else clf.coef_ @ rs[1]), clf.intercept_
    if len(clf.classes_) == 2:  # sklearn stores one row for two classes
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        icpt = np.array([-icpt[0] / 2, icpt[0] / 2])
    for k, c in enumerate(clf.classes_):
        W[classes.index(c)] = coef[k]
        b[classes.index(c)] = icpt[k]
    return W, b


def fit_platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a*s + c), fitted on out-of-fold scores."""
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        return 0.0, float(np.log((y.sum() + 0.5) / (len(y) - y.sum() + 0.5)))
    clf = LogisticRegression(C=1e4, max_iter=1000).fit(scores.reshape(-1, 1), y)
    return float(clf.coef_[0, 0]), float(clf.intercept_[0])


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz with fixed entry timestamps and sorted keys, so equal arrays give equal bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            zf.writestr(info, arr.getvalue())
    path.write_bytes(buf.getvalue())


def load_arrays(path: Path | str | io.BytesIO) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
