"""Small NumPy helpers over dense or CSR rows, shared by the index, the
samplers, prediction and the classifiers. No scikit-learn import (the
index uses them)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._kernels import _scoring

__all__ = ["row_norms", "csr_arrays", "add_ones_column", "pair_scores"]


def row_norms(X) -> np.ndarray:
    """Euclidean norm of every row of a dense array or CSR matrix, float64."""
    if sp.issparse(X):
        X = X.astype(np.float64, copy=False)  # squares summed in float64, as for dense rows
        sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    else:
        sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    return np.sqrt(sq)


def csr_arrays(X):
    """``(indptr, indices, data)`` of the non-zero entries of CSR or dense
    rows. Dense rows and CSR rows with explicit zeros give the same arrays,
    so that a step touches the same feature rows (and applies the same lazy
    decay) whichever layout the data came in."""
    if not sp.issparse(X):
        X = sp.csr_matrix(X)  # keeps the non-zeros only, in row order
    elif X.nnz and not X.data.all():
        X = X.copy()
        X.eliminate_zeros()
    return X.indptr, X.indices, X.data


def add_ones_column(X):
    """``[X, 1]``: queries for tables built over ``[coef_, intercept_]``."""
    ones = np.ones((X.shape[0], 1), dtype=X.dtype)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(ones)], format="csr")
    return np.hstack([X, ones])


def pair_scores(X, W, indptr, classes) -> np.ndarray:
    """``W[classes[p]] . X[i]`` for every pair ``p`` of row ``i``
    (``indptr[i] <= p < indptr[i + 1]``), float64; X dense or CSR."""
    if sp.issparse(X):
        return _scoring.pair_scores_csr(X.indptr, X.indices, X.data, W, indptr, classes)
    return _scoring.pair_scores_dense(X, W, indptr, classes)
