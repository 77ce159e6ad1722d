"""Deterministic synthetic generators."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params


def _unit_rows(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


@validate_params(
    {
        "n_classes": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 2, None, closed="left")],
        "n_queries": [Interval(Integral, 1, None, closed="left")],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "cluster_spread": [Interval(Real, 0, None, closed="left")],
        "norm_spread": [Interval(Real, 0, None, closed="left")],
        "query_noise": [Interval(Real, 0, None, closed="left")],
        "query_norm": [Interval(Real, 0, None, closed="neither")],
        "dtype": "no_validation",
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_partition_problem(
    n_classes: int = 10_000,
    n_features: int = 64,
    *,
    n_queries: int = 1000,
    n_clusters: int | None = None,
    cluster_spread: float = 0.3,
    norm_spread: float = 0.05,
    query_noise: float = 0.3,
    query_norm: float = 12.0,
    dtype=np.float64,
    random_state=None,
):
    """Class vectors and queries shaped like a trained log-linear model.

    Class vectors come in clusters of similar directions with log-normal
    norms; each query is a noisy copy of one class's direction, scaled to
    ``query_norm``. A handful of classes (the query's own cluster) then
    carry most of ``Z(x) = sum_j exp(w_j . x)``, as for a trained softmax,
    which is the regime the LSH estimators are designed for (method.md).

    Parameters
    ----------
    n_classes : int, default=10000
        Number of class vectors C.
    n_features : int, default=64
        Dimension d.
    n_queries : int, default=1000
        Number of queries.
    n_clusters : int, default=None
        Number of direction clusters (``None``: ``max(1, n_classes // 20)``,
        i.e. about 20 classes per cluster).
    cluster_spread : float, default=0.3
        Relative size of the Gaussian perturbation of a class direction
        around its cluster centre (0: all classes of a cluster coincide).
    norm_spread : float, default=0.05
        Standard deviation of the log of the class-vector norms. Larger
        values make the MIPS-to-cosine transform less selective.
    query_noise : float, default=0.3
        Relative size of the perturbation of a query around its class.
    query_norm : float, default=12.0
        Norm of every query (the inverse temperature of the softmax).
    dtype : {np.float64, np.float32}, default=np.float64
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    W : ndarray of shape (n_classes, n_features)
        Class vectors.
    X : ndarray of shape (n_queries, n_features)
        Queries.

    Examples
    --------
    >>> from sklearn_lsh.datasets import make_partition_problem
    >>> W, X = make_partition_problem(n_classes=100, n_features=8, n_queries=3, random_state=0)
    >>> W.shape, X.shape
    ((100, 8), (3, 8))
    """
    rng = check_random_state(random_state)
    d = n_features
    n_clusters = max(1, n_classes // 20) if n_clusters is None else n_clusters
    centres = _unit_rows(rng.standard_normal((n_clusters, d)))
    cluster_of = rng.randint(n_clusters, size=n_classes)
    directions = _unit_rows(centres[cluster_of] + cluster_spread * rng.standard_normal((n_classes, d)) / np.sqrt(d))
    norms = np.exp(norm_spread * rng.standard_normal(n_classes))
    W = directions * norms[:, None]
    targets = rng.randint(n_classes, size=n_queries)
    X = _unit_rows(directions[targets] + query_noise * rng.standard_normal((n_queries, d)) / np.sqrt(d))
    X *= query_norm
    return W.astype(dtype, copy=False), X.astype(dtype, copy=False)
