"""Approximate top-k by a graph index of the class vectors: ``predict_topk(X,
k, retrieval="hnsw")``.

A hierarchical navigable small-world graph (HNSW, Malkov & Yashunin 2018,
from the optional dependency hnswlib: ``pip install "sklearn-lsh[ann]"``)
over the augmented class vectors ``[w_j, b_j + o_j]`` (weights, intercept,
logit offset of prediction) answers maximum inner-product queries
``[h, 1]`` (``h`` the input row, or its hidden row in the low-rank mode):
their scores are exactly the class scores ``s_j``. The graph returns
``n_candidates`` classes per row; these are rescored exactly from the
model's arrays and the ``k`` best kept, so a returned score is never
approximate, only the set it is chosen from.

Probabilities are ``exp(s_j) / Z_hat(x)``, as for ``retrieval="lsh"``:
``Z_hat`` adds the candidates' terms exactly to an unbiased estimate of the
other classes' sum from ``n_candidates`` uniform draws over all classes (a
draw that falls in the candidate set counts 0), i.e. the estimator of
``estimator="mips-gumbel"``. ``Z_hat`` is unbiased over the draws; the draws
of row ``i`` of a call come from a counter-based stream of the model seed
and ``i``, so a call is reproducible.

The graph is built on first use and kept on the estimator, keyed to the
model arrays (a fit, ``partial_fit`` or assignment of ``coef_`` /
``intercept_`` / ``class_embedding_`` builds a new one); it is never
pickled or saved (``__getstate__`` drops it), so a loaded model rebuilds it.
"""

from __future__ import annotations

import importlib
import threading
from numbers import Integral

import numpy as np

from ._arrays import pair_scores
from ._validation import check_allocation

__all__ = ["GraphIndex", "import_hnswlib", "check_n_candidates", "topk_hnsw", "topk_graph", "tail_draws",
           "DEFAULT_N_CANDIDATES"]

#: ``n_candidates=None``: classes the graph returns (and that are rescored)
#: per row, at least ``k``. At 10^5 classes (d = 128, a trained model) 80
#: gave top-1 / top-5 recall 0.95 / 0.92 at about 10x less CPU time than the
#: exact top-k (docs/benchmarks.md, "Approximate top-k").
DEFAULT_N_CANDIDATES = 80
#: links per node of the graph (hnswlib's M) and the beam of its
#: construction: M = 24 or 32 gave the same recall for the same query time;
#: ef_construction 200 the same recall as 100 for twice the build time
GRAPH_M = 16
GRAPH_EF_CONSTRUCTION = 100
EXTRA = "ann"

_BUILD_LOCK = threading.Lock()
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def import_hnswlib():
    """The hnswlib module, or an ImportError that names the extra to install."""
    try:
        return importlib.import_module("hnswlib")
    except ImportError as exc:
        raise ImportError(
            'predict_topk(retrieval="hnsw") needs the optional dependency hnswlib, which is not installed. '
            f'Install it with: pip install "sklearn-lsh[{EXTRA}]" (or pip install hnswlib).'
        ) from exc


def check_n_candidates(n_candidates, k: int, n_classes: int) -> int:
    """``n_candidates`` resolved (None: ``max(DEFAULT_N_CANDIDATES, k)``),
    capped at ``n_classes``; a ValueError for anything but an int >= k."""
    if n_candidates is None:
        return min(max(DEFAULT_N_CANDIDATES, k), n_classes)
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, Integral) or n_candidates < k:
        raise ValueError(f"n_candidates must be None or an int >= k={k}, got {n_candidates!r}.")
    return min(int(n_candidates), n_classes)


def _n_threads(n_jobs) -> int:
    """hnswlib threads from ``n_jobs`` (None: 1, -1: all cores)."""
    import os

    n_cpus = os.cpu_count() or 1
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, n_cpus + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_cpus))


def augmented_vectors(weights, intercept, offset) -> np.ndarray:
    """``[w_j, b_j + o_j - c]`` as float32 rows, ``c`` the mean of ``b_j +
    o_j`` (the graph's vectors; with neither intercept nor offset, ``w_j``
    alone).

    Subtracting ``c`` changes no ranking (every score moves by ``c``) but
    matters to the graph, whose links follow the inner products of class
    pairs, ``w_i . w_j + (b_i - c)(b_j - c)``: a large common bias (e.g.
    logit offsets of 4 to 7) makes every class's neighbours the classes of
    largest bias, and the search fails (top-1 recall 0.42 instead of 1.00 at
    800 classes; 0.86 instead of 0.93 at 20,000).
    """
    bias = None
    if intercept is not None:
        bias = np.asarray(intercept, dtype=np.float64)
    if offset is not None:
        bias = offset if bias is None else bias + offset
    if bias is None:
        return np.ascontiguousarray(weights, dtype=np.float32)
    out = np.empty((weights.shape[0], weights.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = weights
    out[:, -1] = bias - bias.mean()
    return out


class GraphIndex:
    """An HNSW graph (hnswlib, inner-product space) over augmented class
    vectors, for the candidates of ``predict_topk(retrieval="hnsw")``.

    The graph is built by one thread, so that a seed gives the same graph
    (hnswlib's parallel insertion order depends on thread timing); queries
    use ``n_jobs`` threads and are deterministic.

    Parameters
    ----------
    vectors : ndarray of shape (n_classes, dim), float32
        The rows searched by inner product.
    seed : int
        The graph's random seed (levels of the nodes).
    """

    def __init__(self, vectors: np.ndarray, seed: int, *, M: int = GRAPH_M,
                 ef_construction: int = GRAPH_EF_CONSTRUCTION):  # fmt: skip
        hnswlib = import_hnswlib()
        n_classes, dim = vectors.shape
        # the vectors (float32) and about 2 M links of 4 bytes per class at level 0
        check_allocation(
            f"The HNSW graph of predict_topk(retrieval='hnsw') ({n_classes} classes, dimension {dim})",
            n_classes * (4 * dim + 8 * M + 64),
            "Use retrieval='exact' or 'lsh', or the low-rank mode (n_components) for wide inputs.",
        )
        self.dim = dim
        self._lock = threading.Lock()
        self.graph = hnswlib.Index(space="ip", dim=dim)
        self.graph.init_index(max_elements=n_classes, M=M, ef_construction=ef_construction, random_seed=seed % 2**31)
        self.graph.set_num_threads(1)
        self.graph.add_items(vectors, np.arange(n_classes))

    def search(self, Q: np.ndarray, n_candidates: int, n_jobs) -> np.ndarray:
        """The ``n_candidates`` classes of largest inner product with each
        row of ``Q`` (float32, ``dim`` columns) the graph finds, int64."""
        with self._lock:  # ef is the graph's state: one search at a time
            self.graph.set_ef(max(n_candidates, 10))
            labels, _ = self.graph.knn_query(Q, k=n_candidates, num_threads=_n_threads(n_jobs))
        return labels.astype(np.int64, copy=False)

    def __getstate__(self):
        raise TypeError("A GraphIndex is not pickled; the estimator rebuilds it on first use.")


def _model_key(est, offset):
    """What the graph depends on: the model arrays (by identity: training
    and assignment replace or change them, and a step counts in ``t_``) and
    the prediction offsets (by value)."""
    intercept = est.intercept_ if est.fit_intercept else None
    return (est._weights, intercept, est.t_, None if offset is None else offset.tobytes())


def _same_key(a, b):
    return all(x is y if isinstance(x, np.ndarray) or isinstance(y, np.ndarray) else x == y for x, y in zip(a, b))


def cached_graph(est, offset, seed: int) -> GraphIndex:
    """The estimator's graph over its current model, built (once, under a
    lock) if it has none or its model changed since (see :func:`_model_key`;
    a write into ``coef_`` in place is not seen: assign a new array)."""
    key = _model_key(est, offset)

    def current():
        cached = est.__dict__.get("_graph_index")
        return cached[1] if cached is not None and _same_key(cached[0], key) else None

    graph = current()
    if graph is None:
        with _BUILD_LOCK:
            graph = current()
            if graph is None:
                vectors = augmented_vectors(est._weights, key[1], offset)
                graph = GraphIndex(vectors, seed)
                est.__dict__["_graph_index"] = (key, graph)
    return graph


def topk_hnsw(est, X, k, top, proba, n_candidates) -> np.ndarray:
    """``predict_topk(retrieval="hnsw")`` of a log-linear classifier on
    validated ``X``: fills ``top`` / ``proba`` and returns the rows left to
    exact scoring."""
    from ._prediction import chunk_rows
    from ._rng import Stream, derived_seed

    n_classes = est.classes_.shape[0]
    n_candidates = check_n_candidates(n_candidates, k, n_classes)
    import_hnswlib()  # the same error whatever the arguments
    if n_candidates >= n_classes:  # the graph would return every class: score them all
        return np.arange(X.shape[0])
    offset = est._logit_offset("predict")
    graph = cached_graph(est, offset, derived_seed(est._seed, Stream.PREDICT_GRAPH, 0))
    draw_seed = derived_seed(est._seed, Stream.PREDICT_GRAPH, 1)
    bias = None
    if est.fit_intercept:
        bias = est.intercept_.astype(np.float64)
    if offset is not None:
        bias = offset if bias is None else bias + offset
    short = []
    # about six float64 / int64 arrays of n_candidates per row, and a float32 query
    for rows in chunk_rows(X.shape[0], 48 * n_candidates + 4 * est._weights.shape[1]):
        left = topk_graph(graph, est._hidden(X[rows]), est._weights, bias, k, n_candidates, draw_seed, est.n_jobs,
                          top[rows], proba[rows], first_row=rows.start)  # fmt: skip
        short.append(left + rows.start)
    return np.concatenate(short) if short else np.arange(0)


def tail_draws(seed: int, n_rows: int, n_draws: int, n_classes: int, first_row: int = 0) -> np.ndarray:
    """``(n_rows, n_draws)`` uniform class ids: SplitMix64 of a counter
    (row ``first_row + i``, draw ``t``) under ``seed``, so a row's draws do
    not depend on the chunk it is in."""
    rows = np.arange(first_row, first_row + n_rows, dtype=np.uint64)[:, None]
    z = (rows * np.uint64(n_draws) + np.arange(n_draws, dtype=np.uint64)[None, :]) * _GOLDEN
    z += np.uint64(seed % 2**64)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    draws = ((z >> np.uint64(11)).astype(np.float64) * (n_classes / 2.0**53)).astype(np.int64)
    return np.minimum(draws, n_classes - 1)


def _in_rows(values, sets, n_classes) -> np.ndarray:
    """``values[i, t] in sets[i]`` for every row ``i`` (class ids in ``[0,
    n_classes)``): one binary search in the rows' sorted sets, made one
    sorted array by adding ``i * n_classes``."""
    row = np.arange(values.shape[0], dtype=np.int64)[:, None] * n_classes
    keys = (np.sort(sets, axis=1) + row).ravel()
    wanted = values + row
    at = np.minimum(np.searchsorted(keys, wanted), keys.shape[0] - 1)
    return keys[at] == wanted


def _scores(H, weights, bias, classes):
    """Exact scores ``w_j . h + bias_j`` (float64) of ``classes`` (n_rows, m) per row of ``H``."""
    n_rows, m = classes.shape
    flat = classes.ravel()
    scores = pair_scores(H, weights, np.arange(0, n_rows * m + 1, m, dtype=np.int64), flat)
    if bias is not None:
        scores += bias[flat]
    return scores.reshape(n_rows, m)


def topk_graph(graph, H, weights, bias, k, n_candidates, seed, n_jobs, top, proba, first_row=0) -> np.ndarray:
    """Fill ``top`` / ``proba`` (rows of ``H``) from the graph's candidates
    rescored exactly, probabilities over ``Z_hat`` (module docstring).

    ``bias`` is the float64 per-class term of the score (intercept plus
    logit offset) or None; ``H`` dense or CSR rows of ``weights``' width.
    Returns the indices of the rows not filled (for exact scoring): all of
    them if the graph cannot return ``n_candidates`` classes (hnswlib then
    raises; it does not for a connected graph with ``ef >= n_candidates``).
    """
    import scipy.sparse as sp

    n_rows, n_classes = H.shape[0], weights.shape[0]
    Q = np.asarray(H.toarray() if sp.issparse(H) else H, dtype=np.float32)
    if graph.dim == Q.shape[1] + 1:
        Q = np.hstack([Q, np.ones((n_rows, 1), dtype=np.float32)])
    try:
        candidates = graph.search(np.ascontiguousarray(Q), n_candidates, n_jobs)
    except RuntimeError:
        return np.arange(n_rows)
    scores = _scores(H, weights, bias, candidates)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(scores, order, axis=1)
    # Z_hat = (sum over the candidates) + C / m (sum over m uniform draws outside them)
    draws = tail_draws(seed, n_rows, n_candidates, n_classes, first_row)
    tail = np.where(_in_rows(draws, candidates, n_classes), -np.inf, _scores(H, weights, bias, draws))
    shift = np.maximum(best[:, :1], tail.max(axis=1, keepdims=True))  # terms <= 1: no overflow
    z = np.exp(scores - shift).sum(axis=1) + (n_classes / n_candidates) * np.exp(tail - shift).sum(axis=1)
    top[:] = np.take_along_axis(candidates, order, axis=1)
    proba[:] = np.exp(best - shift) / z[:, None]
    return np.arange(0)
