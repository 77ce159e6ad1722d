"""Prediction: chunked exact scores, the package's log-softmax, exact top-k,
and LSH retrieval with exact rescoring.

A classifier supplies its scores as ``(rows, scores)`` chunks (at most
``working_memory`` each); everything here works chunk by chunk, so no
``(n_samples, n_classes)`` array exists unless the caller asks for one.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ._arrays import add_ones_column
from ._kernels import _scoring

__all__ = [
    "row_logsumexp",
    "shift_to_row_max",
    "chunk_rows",
    "check_finite_scores",
    "log_softmax_chunks",
    "label_log_proba",
    "topk_exact",
    "topk_lsh",
]


def shift_to_row_max(scores: np.ndarray) -> None:
    """Subtract each row's maximum in place. Log-probabilities are then
    ``shifted - log(sum(exp(shifted)))`` with a log-sum-exp near 0, instead of
    a difference of two large numbers: with scores of 1e12 the direct form
    ``scores - logsumexp(scores)`` keeps only about 4 significant digits of
    the probabilities (rows summed to 1 +- 3e-5)."""
    scores -= scores.max(axis=1, keepdims=True)


def row_logsumexp(scores: np.ndarray) -> np.ndarray:
    """Stable log-sum-exp of each row of a score chunk (float64), without
    the chunk-sized temporaries of ``scipy.special.logsumexp`` (which would
    multiply the memory that ``working_memory`` bounds). The package's one
    log-sum-exp; the kernel's segment form serves candidate lists."""
    n_rows, n_classes = scores.shape
    indptr = np.arange(0, (n_rows + 1) * n_classes, n_classes, dtype=np.int64)
    return _scoring.segment_logsumexp(np.ascontiguousarray(scores).ravel(), indptr)


def chunk_rows(n_rows: int, row_bytes: int):
    """Row slices of at most ``working_memory`` for ``row_bytes`` per row."""
    return gen_batches(n_rows, get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=n_rows))


def check_finite_scores(scores: np.ndarray, largest_weight, eta0) -> None:
    """Refuse scores that overflow with the cause and the fix: non-finite
    ones, and those beyond half the dtype's range, whose differences (the
    log-probabilities) would overflow to -inf. ``largest_weight``, for the
    message: a number, or a function computing it (called only to raise,
    so that a chunk does not cost a pass over the weights)."""
    limit = np.finfo(scores.dtype).max / 2
    # max and min rather than abs: no temporary of the chunk's size
    if not (np.isfinite(scores).all() and scores.max(initial=0.0) <= limit and scores.min(initial=0.0) >= -limit):
        if callable(largest_weight):
            largest_weight = largest_weight()
        raise FloatingPointError(
            f"Class scores overflow {scores.dtype} (largest |weight| {largest_weight:.3g}): the model diverged "
            "in training or these inputs are too large for it. Refit with a lower eta0 (now "
            f"{eta0}), scaled features, or float64 input."
        )


def log_softmax_chunks(chunks, normalised: bool):
    """``(rows, log_proba)`` from ``(rows, scores)`` chunks; ``normalised``
    scores are log-probabilities already (passed through)."""
    for rows, scores in chunks:
        if not normalised:
            shift_to_row_max(scores)
            scores = scores - row_logsumexp(scores)[:, None]
        yield rows, scores


def label_log_proba(chunks, y_index: np.ndarray, n_rows: int, normalised: bool) -> np.ndarray:
    """``log p(y_i | x_i)`` per row from score chunks, float64."""
    out = np.empty(n_rows)
    for rows, scores in chunks:
        if normalised:
            out[rows] = scores[np.arange(scores.shape[0]), y_index[rows]]
        else:
            shift_to_row_max(scores)
            out[rows] = scores[np.arange(scores.shape[0]), y_index[rows]] - row_logsumexp(scores)
    return out


def topk_exact(chunks, k: int, top: np.ndarray, proba: np.ndarray, rows_out: np.ndarray, normalised: bool):
    """Fill ``top[rows_out[rows]]`` (class indices, best first) and their
    probabilities from score chunks, every class scored."""
    for rows, scores in chunks:
        if normalised:
            best = _scoring.top_k_rows(np.ascontiguousarray(scores), k)
            top[rows_out[rows]] = best
            proba[rows_out[rows]] = np.exp(np.take_along_axis(scores, best, axis=1))
            continue
        shift_to_row_max(scores)
        best = _scoring.top_k_rows(scores, k)
        log_z = row_logsumexp(scores)[:, None]
        top[rows_out[rows]] = best
        proba[rows_out[rows]] = np.exp(np.take_along_axis(scores, best, axis=1) - log_z)


def topk_lsh(index, H, fit_intercept: bool, offset, k: int, top: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Top-k of the classes the hash tables retrieve for the hidden rows
    ``H``, rescored exactly; probabilities from the unbiased LSH estimate of
    ``Z(x)``. Fills the rows with at least ``k`` candidates and returns the
    indices of the others (for exact scoring)."""
    Xq = add_ones_column(H) if fit_intercept else H
    sample = index.retrieve_union(Xq)
    scores = sample.scores
    if offset is not None:  # post-hoc logit adjustment of the retrieved classes' scores
        scores = scores + offset[sample.classes]
    sizes = np.diff(sample.indptr)
    # Scores relative to each row's largest term, so that the estimate of
    # log Z is near 0 and the probabilities keep their digits (as in
    # shift_to_row_max).
    log_terms = scores - sample.log_probabilities
    shift = np.zeros(sizes.shape[0])
    starts = sample.indptr[:-1][sizes > 0]
    if starts.shape[0]:
        shift[sizes > 0] = np.maximum.reduceat(log_terms, starts)
    shift = np.repeat(shift, sizes)
    shifted = scores - shift
    log_z = _scoring.segment_logsumexp(log_terms - shift, sample.indptr)
    full = sizes >= k
    # The k best candidates of every row, then best first within each row.
    keep = np.flatnonzero(_scoring.top_k_per_segment(scores, sample.indptr, k))
    row_of = np.repeat(np.arange(sizes.shape[0]), sizes)[keep]
    keep = keep[full[row_of]]
    row_of = row_of[full[row_of]]
    keep = keep[np.lexsort((-scores[keep], row_of))]
    top[full] = sample.classes[keep].reshape(-1, k)
    proba[full] = np.exp(shifted[keep].reshape(-1, k) - log_z[full][:, None])
    return np.flatnonzero(sizes < k)
