"""Inner products of (query, class) pairs and log-space reductions."""

import numba
import numpy as np

from ._prefetch import PREFETCH_DISTANCE, prefetch_row
from ._sgd import dense_dot
from ._random import gumbel, seed_stream

EULER_GAMMA = 0.5772156649015329


@numba.njit(cache=True, parallel=True)
def pair_scores_dense(X, W, indptr, classes):
    """``scores[p] = X[i] . W[classes[p]]`` for ``indptr[i] <= p < indptr[i+1]``.

    Pairs with a negative class id get a score of 0 (callers mask them).
    Accumulates in float64 whatever the input dtypes; parallel over queries,
    each pair's sum in a fixed order (the same for any thread count).
    """
    n_queries, n_features = X.shape
    scores = np.zeros(classes.shape[0], dtype=np.float64)
    for i in numba.prange(n_queries):
        hi = indptr[i + 1]
        for p in range(indptr[i], hi):
            if p + PREFETCH_DISTANCE < hi and classes[p + PREFETCH_DISTANCE] >= 0:
                prefetch_row(W, classes[p + PREFETCH_DISTANCE])
            j = classes[p]
            if j < 0:
                continue
            scores[p] = dense_dot(X, i, W, j)
    return scores


@numba.njit(cache=True, parallel=True)
def pair_scores_csr(x_indptr, x_indices, x_data, W, indptr, classes):
    """As :func:`pair_scores_dense` for CSR queries (x_indptr, x_indices, x_data)."""
    n_queries = x_indptr.shape[0] - 1
    scores = np.zeros(classes.shape[0], dtype=np.float64)
    for i in numba.prange(n_queries):
        hi = indptr[i + 1]
        for p in range(indptr[i], hi):
            if p + PREFETCH_DISTANCE < hi and classes[p + PREFETCH_DISTANCE] >= 0:
                prefetch_row(W, classes[p + PREFETCH_DISTANCE])
            j = classes[p]
            if j < 0:
                continue
            acc = 0.0
            for q in range(x_indptr[i], x_indptr[i + 1]):
                acc += np.float64(x_data[q]) * np.float64(W[j, x_indices[q]])
            scores[p] = acc
    return scores


@numba.njit(cache=True)
def segment_logsumexp(values, indptr):
    """``log(sum(exp(values[indptr[i]:indptr[i+1]])))`` per segment, stably.

    An empty segment (or one of only ``-inf``) gives ``-inf``.
    """
    n = indptr.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        top = -np.inf
        for p in range(indptr[i], indptr[i + 1]):
            if values[p] > top:
                top = values[p]
        if top == -np.inf:
            out[i] = -np.inf
            continue
        acc = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            acc += np.exp(values[p] - top)
        out[i] = top + np.log(acc)
    return out


@numba.njit(cache=True)
def top_k_per_segment(scores, indptr, k):
    """Boolean mask of the ``k`` largest scores of each segment (all if fewer)."""
    mask = np.zeros(scores.shape[0], dtype=np.bool_)
    for i in range(indptr.shape[0] - 1):
        lo = indptr[i]
        hi = indptr[i + 1]
        if hi - lo <= k:
            mask[lo:hi] = True
        elif k > 0:
            order = np.argsort(-scores[lo:hi])
            for r in range(k):
                mask[lo + order[r]] = True
    return mask


@numba.njit(cache=True)
def gumbel_max_log_partition(scores, n_draws, seed, stream_offset):
    """Exact Gumbel-max estimate of log Z per row of ``scores`` (n, C).

    Each draw perturbs every score with fresh Gumbel(0, 1) noise and keeps
    the maximum, which is Gumbel-distributed with location log Z; the
    estimate is the mean of ``n_draws`` maxima minus Euler's gamma.
    """
    n_queries, n_classes = scores.shape
    out = np.empty(n_queries, dtype=np.float64)
    state = np.empty(1, dtype=np.uint64)
    for i in range(n_queries):
        seed_stream(state, seed, stream_offset + i)
        total = 0.0
        for _ in range(n_draws):
            best = -np.inf
            for j in range(n_classes):
                value = scores[i, j] + gumbel(state)
                if value > best:
                    best = value
            total += best
        out[i] = total / n_draws - EULER_GAMMA
    return out


@numba.njit(cache=True, inline="always")
def _worse(scores_row, a, b):
    """True when column ``a`` ranks below column ``b`` (lower score, or equal
    score and higher index)."""
    sa, sb = scores_row[a], scores_row[b]
    return sa < sb or (sa == sb and a > b)


@numba.njit(cache=True)
def _top_k_row(row, k, out_row):
    """The ``k`` best columns of one row into ``out_row``, best first.

    A size-``k`` min-heap: O(n_columns log k).
    """
    n_cols = row.shape[0]
    heap = np.empty(k, dtype=np.int64)
    for c in range(n_cols):
        if c < k:
            heap[c] = c
            child = c
            while child > 0:  # sift up: the worst column sits at the root
                parent = (child - 1) >> 1
                if _worse(row, heap[child], heap[parent]):
                    heap[child], heap[parent] = heap[parent], heap[child]
                    child = parent
                else:
                    break
        elif _worse(row, heap[0], c):
            heap[0] = c
            parent = 0
            while True:  # sift down
                left = 2 * parent + 1
                if left >= k:
                    break
                worst = left
                if left + 1 < k and _worse(row, heap[left + 1], heap[left]):
                    worst = left + 1
                if _worse(row, heap[worst], heap[parent]):
                    heap[worst], heap[parent] = heap[parent], heap[worst]
                    parent = worst
                else:
                    break
    # Heap to best-first order (k is small): selection by repeated scans.
    for r in range(k):
        best = r
        for q in range(r + 1, k):
            if _worse(row, heap[best], heap[q]):
                best = q
        heap[r], heap[best] = heap[best], heap[r]
        out_row[r] = heap[r]


@numba.njit(cache=True, parallel=True)
def _top_k_rows_parallel(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for i in numba.prange(scores.shape[0]):
        _top_k_row(scores[i], k, out[i])
    return out


@numba.njit(cache=True)
def _top_k_rows_serial(scores, k):
    out = np.empty((scores.shape[0], k), dtype=np.int64)
    for i in range(scores.shape[0]):
        _top_k_row(scores[i], k, out[i])
    return out


def top_k_rows(scores, k):
    """Column indices of the ``k`` largest entries of each row, best first
    (ties broken by the lower index).

    Rows run in parallel on numba's threads when the calling thread's
    ``numba.get_num_threads()`` is above 1; with one thread the serial kernel
    runs, which never enters numba's thread pool, so callers on several
    Python threads at once (e.g. Dask workers in one process) are safe under
    every threading layer (the "workqueue" layer aborts the process on
    concurrent use of the pool).
    """
    if numba.get_num_threads() > 1:
        return _top_k_rows_parallel(scores, k)
    return _top_k_rows_serial(scores, k)
