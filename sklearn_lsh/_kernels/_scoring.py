"""Inner products of (query, class) pairs and log-space reductions."""

import numba
import numpy as np

from ._random import gumbel, seed_stream

EULER_GAMMA = 0.5772156649015329


@numba.njit(cache=True)
def pair_scores_dense(X, W, indptr, classes):
    """``scores[p] = X[i] . W[classes[p]]`` for ``indptr[i] <= p < indptr[i+1]``.

    Pairs with a negative class id get a score of 0 (callers mask them).
    Accumulates in float64 whatever the input dtypes.
    """
    n_queries, n_features = X.shape
    scores = np.zeros(classes.shape[0], dtype=np.float64)
    for i in range(n_queries):
        for p in range(indptr[i], indptr[i + 1]):
            j = classes[p]
            if j < 0:
                continue
            acc = 0.0
            for k in range(n_features):
                acc += np.float64(X[i, k]) * np.float64(W[j, k])
            scores[p] = acc
    return scores


@numba.njit(cache=True)
def pair_scores_csr(x_indptr, x_indices, x_data, W, indptr, classes):
    """As :func:`pair_scores_dense` for CSR queries (x_indptr, x_indices, x_data)."""
    n_queries = x_indptr.shape[0] - 1
    scores = np.zeros(classes.shape[0], dtype=np.float64)
    for i in range(n_queries):
        for p in range(indptr[i], indptr[i + 1]):
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
