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


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 2, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "sparse": ["boolean"],
        "n_nonzero": [Interval(Integral, 1, None, closed="left")],
        "zipf_exponent": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "dtype": "no_validation",
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_extreme_classification(
    n_samples: int = 10_000,
    n_features: int = 64,
    n_classes: int = 1000,
    *,
    sparse: bool = False,
    n_nonzero: int = 50,
    zipf_exponent: float = 1.0,
    noise: float = 1.0,
    n_clusters: int | None = None,
    dtype=np.float32,
    random_state=None,
):
    """Extreme multiclass data: many classes with Zipf frequencies.

    Labels are drawn with ``P(class of rank r) ~ 1 / r**zipf_exponent``
    (class ids are shuffled, so the frequent classes are not the low ids).

    * Dense (``sparse=False``): every class has a unit prototype direction,
      the prototypes come in ``n_clusters`` clusters of similar directions
      (so classes have confusable neighbours, as real label sets do), and an
      example is ``prototype[y] + noise * N(0, I / n_features)`` scaled to norm
      ``sqrt(n_features) / 2``.
    * Sparse (``sparse=True``): text-like CSR rows. Every class owns 20
      "keyword" feature ids; an example has ``n_nonzero`` distinct features,
      about ``1 / (1 + noise)`` of them keywords of its class and the rest
      drawn from a Zipf-distributed background vocabulary, with tf weights and
      unit L2 norm.

    The output depends only on the arguments and ``random_state``, so
    benchmarks are reproducible. Memory stays O(n_classes x n_features) for
    the dense prototypes (float32) and O(n_samples x n_nonzero) for sparse
    rows, so C = 10^6 classes fit in a few hundred MB.

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=64
    n_classes : int, default=1000
    sparse : bool, default=False
        Return a CSR matrix of text-like rows instead of dense rows.
    n_nonzero : int, default=50
        Non-zeros per row (sparse only).
    zipf_exponent : float, default=1.0
        Exponent of the class-frequency Zipf law (0: uniform classes).
    noise : float, default=1.0
        Dense: size of the per-example noise relative to the prototype.
        Sparse: background words per keyword.
    n_clusters : int or None, default=None
        Prototype clusters (dense). None: ``max(1, n_classes // 10)``.
    dtype : {np.float32, np.float64}, default=np.float32
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int64
        Class ids in ``[0, n_classes)`` (not every class need occur).

    Examples
    --------
    >>> from sklearn_lsh.datasets import make_extreme_classification
    >>> X, y = make_extreme_classification(200, 16, 50, random_state=0)
    >>> X.shape, y.shape, X.dtype
    ((200, 16), (200,), dtype('float32'))
    >>> Xs, ys = make_extreme_classification(200, 1000, 50, sparse=True, n_nonzero=10, random_state=0)
    >>> Xs.format, int(Xs.getnnz(axis=1).max())
    ('csr', 10)
    """
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    ranks = np.arange(1, n_classes + 1, dtype=np.float64)
    freq = ranks**-zipf_exponent
    class_of_rank = rng.permutation(n_classes)
    y = class_of_rank[rng.choice(n_classes, size=n_samples, p=freq / freq.sum())].astype(np.int64)
    if not sparse:
        d = n_features
        n_clusters = max(1, n_classes // 10) if n_clusters is None else n_clusters
        centres = rng.standard_normal((n_clusters, d), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        cluster_of = rng.integers(n_clusters, size=n_classes)
        proto_seed = int(rng.integers(2**31))
        X = np.empty((n_samples, d), dtype=np.float32)
        for lo in range(0, n_samples, 65536):  # bounded temporaries
            yy = y[lo : lo + 65536]
            # A class's prototype is regenerated from its own stream, so the
            # C x d prototype matrix is never materialised.
            proto = centres[cluster_of[yy]] + 0.5 * _class_offsets(yy, d, proto_seed)
            proto /= np.linalg.norm(proto, axis=1, keepdims=True)
            block = proto + noise * rng.standard_normal(proto.shape, dtype=np.float32) / np.sqrt(d)
            block *= (np.sqrt(d) / 2) / np.linalg.norm(block, axis=1, keepdims=True)
            X[lo : lo + 65536] = block
        return X.astype(dtype, copy=False), y
    import scipy.sparse as sp

    n_keywords = 20
    n_key = max(1, min(n_nonzero, int(round(n_nonzero / (1.0 + noise)))))
    key_seed = int(rng.integers(2**31))
    vocab_ranks = np.arange(1, n_features + 1, dtype=np.float64) ** -1.0
    vocab_p = vocab_ranks / vocab_ranks.sum()
    indices = np.empty((n_samples, n_nonzero), dtype=np.int64)
    for i0 in range(0, n_samples, 65536):
        yy = y[i0 : i0 + 65536]
        keywords = _class_keywords(yy, n_keywords, n_features, key_seed)
        pick = rng.integers(n_keywords, size=(yy.shape[0], n_key))
        words = np.take_along_axis(keywords, pick, axis=1)
        background = rng.choice(n_features, size=(yy.shape[0], n_nonzero * 2), p=vocab_p)
        for r in range(yy.shape[0]):  # distinct features per row, keywords first
            row = np.unique(np.concatenate([words[r], background[r]]))
            if row.shape[0] < n_nonzero:
                row = np.union1d(row, rng.choice(n_features, size=2 * n_nonzero, replace=False))
            keep = np.concatenate([np.unique(words[r]), rng.permutation(np.setdiff1d(row, words[r]))])
            indices[i0 + r] = np.sort(keep[:n_nonzero])
    data = rng.integers(1, 4, size=indices.shape).astype(np.float64)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    indptr = np.arange(0, (n_samples + 1) * n_nonzero, n_nonzero, dtype=np.int64)
    X = sp.csr_matrix((data.ravel().astype(dtype), indices.ravel(), indptr), shape=(n_samples, n_features))
    return X, y


def _class_offsets(classes, d, rng_seed):
    """Per-class Gaussian offset vectors (N(0, I / d)), a pure function of the
    class id and the seed, without storing a C x d matrix."""
    out = np.empty((classes.shape[0], d), dtype=np.float32)
    uniq, inverse = np.unique(classes, return_inverse=True)
    rows = np.empty((uniq.shape[0], d), dtype=np.float32)
    for k, c in enumerate(uniq):
        rows[k] = np.random.default_rng([rng_seed, int(c)]).standard_normal(d, dtype=np.float32)
    out[:] = rows[inverse] / np.sqrt(d)
    return out


def _class_keywords(classes, n_keywords, n_features, seed):
    uniq, inverse = np.unique(classes, return_inverse=True)
    rows = np.empty((uniq.shape[0], n_keywords), dtype=np.int64)
    for k, c in enumerate(uniq):
        rows[k] = np.random.default_rng([seed, int(c), 1]).integers(n_features, size=n_keywords)
    return rows[inverse]
