"""Helpers of :class:`~sklearn_lsh.LSHIndex` builds: the norm ranges of
the transform, the bucket directory sorted one table at a time, and class
vectors given as ``[W, bias]`` without forming that matrix. No
scikit-learn import (the index uses them)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._arrays import pair_scores, row_norms

__all__ = ["norm_range_maxima", "bucket_directory", "vector_block", "vector_norms", "pair_scores_with_bias"]


def norm_range_maxima(norms, n_ranges):
    """Per class, the largest norm of its norm range (M of the transform).

    Classes are split into ``n_ranges`` ranges of (nearly) equal size by
    norm; every class of a range uses that range's maximum norm. One range is
    the plain transform of Neyshabur & Srebro (2015); several ranges are the
    norm-ranging LSH of Yan et al. (2018). Ranges made only of zero vectors
    use M = 1 (their transformed vectors are all ``e_{d+1}``).
    """
    n_classes = norms.shape[0]
    n_ranges = min(n_ranges, n_classes)
    order = np.argsort(norms, kind="stable")
    bounds = np.linspace(0, n_classes, n_ranges + 1).round().astype(np.int64)
    maxima = np.empty(n_classes, dtype=np.float64)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        members = order[lo:hi]
        top = norms[members].max() if hi > lo else 0.0
        maxima[members] = top if top > 0.0 else 1.0
    return maxima


def bucket_directory(codes, n_bits):
    """``(members, table_ptr, bucket_keys, bucket_ptr)`` of the tables whose
    bucket ids are the columns of ``codes`` (n_classes, n_tables).

    Each table's ids are sorted stably (so the order is that of one sort of
    all the tables) in the smallest unsigned type that holds ``n_bits``
    bits (ids of <= 16 bits get numpy's radix sort); a bucket starts
    wherever the sorted id changes. One table at a time, so the sort
    buffers are O(n_classes), not O(n_tables x n_classes).
    """
    n_classes, n_tables = codes.shape
    small = np.min_scalar_type((1 << n_bits) - 1)
    members = np.empty(n_tables * n_classes, dtype=np.int32)
    keys, starts_at, counts = [], [], np.empty(n_tables, dtype=np.int64)
    for t in range(n_tables):
        column = codes[:, t].astype(small)
        order = np.argsort(column, kind="stable")
        members[t * n_classes : (t + 1) * n_classes] = order
        column = column[order]
        del order
        starts = np.ones(n_classes, dtype=bool)
        starts[1:] = column[1:] != column[:-1]
        keys.append(column[starts].astype(np.int64))
        starts_at.append(np.flatnonzero(starts) + t * n_classes)
        counts[t] = keys[-1].shape[0]
    table_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    bucket_keys = np.concatenate(keys).astype(np.int64, copy=False)
    bucket_ptr = np.concatenate([*starts_at, [n_tables * n_classes]]).astype(np.int64)
    return members, table_ptr, bucket_keys, bucket_ptr


def vector_block(W, bias, lo, hi, columns=None, dtype=np.float64):
    """Rows ``lo:hi`` of ``[W, bias]`` (``W`` alone if ``bias`` is None) as
    ``dtype``, optionally only the columns ``columns`` (a slice)."""
    block = W[lo:hi]
    if bias is not None:
        block = np.hstack([block, bias[lo:hi, None]])
    if columns is not None:
        block = block[:, columns]
    return np.asarray(block, dtype=dtype)


def vector_norms(W, bias, block):
    """Euclidean norms of the rows of ``[W, bias]``, by blocks of ``block``
    rows (the same values as over the whole matrix)."""
    if bias is None:
        return row_norms(W)
    return np.concatenate([row_norms(np.hstack([W[lo : lo + block], bias[lo : lo + block, None]]))
                           for lo in range(0, W.shape[0], block)])  # fmt: skip


def pair_scores_with_bias(X, W, bias, indptr, classes):
    """``pair_scores(X, [W, bias], indptr, classes)`` without forming
    ``[W, bias]``: the queries' last column multiplies ``bias``, added
    last (equal to the stacked product to rounding)."""
    if bias is None:
        return pair_scores(X, W, indptr, classes)
    d = W.shape[1]
    head = X[:, :d] if sp.issparse(X) else np.ascontiguousarray(X[:, :d])
    scores = pair_scores(head, W, indptr, classes)
    last = X[:, d].toarray().ravel() if sp.issparse(X) else X[:, d]
    rows = np.repeat(np.arange(X.shape[0]), np.diff(indptr))
    found = classes >= 0
    scores[found] += np.asarray(last, dtype=np.float64)[rows[found]] * np.asarray(bias, dtype=np.float64)[classes[found]]
    return scores
