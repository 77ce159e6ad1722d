"""SimHash (signed Gaussian random projection) codes.

A table packs ``n_bits`` sign bits into one non-negative int64 bucket id;
``n_tables`` tables are hashed at once. Projections are stored feature-major,
shape ``(n_features + 1, n_bits * n_tables)``: row ``k`` holds the projection
coefficients of feature ``k`` for every bit of every table, and the last row
those of the extra coordinate appended by the MIPS-to-cosine transform.

The projection of row ``i`` is ``scale[i] * (x_i . R[:d]) + extra[i] * R[d]``.
Queries use ``scale = 1, extra = 0``; class vectors use ``scale = 1 / M`` and
``extra = sqrt(1 - |w|^2 / M^2)`` (the transform of method.md section 2).

Dense and CSR rows are accumulated feature by feature in increasing column
order, skipping zeros, in float64, so the same rows give bit-identical codes
in both formats (CSR input must have sorted, unique column indices).
"""

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _finish_row(acc, scale, extra, last, n_bits, n_tables, codes, i):
    for p in range(acc.shape[0]):
        acc[p] = acc[p] * scale + extra * last[p]
    for t in range(n_tables):
        code = 0
        base = t * n_bits
        for b in range(n_bits):
            if acc[base + b] > 0.0:
                code |= np.int64(1) << b
        codes[i, t] = code


@numba.njit(cache=True)
def hash_dense(X, projections, n_bits, n_tables, scale, extra):
    """SimHash codes, shape (n_rows, n_tables), of the dense rows of X."""
    n_rows, n_features = X.shape
    n_proj = projections.shape[1]
    last = projections[n_features]
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    acc = np.empty(n_proj, dtype=np.float64)
    for i in range(n_rows):
        acc[:] = 0.0
        for k in range(n_features):
            value = np.float64(X[i, k])
            if value != 0.0:
                row = projections[k]
                for p in range(n_proj):
                    acc[p] += value * row[p]
        _finish_row(acc, scale[i], extra[i], last, n_bits, n_tables, codes, i)
    return codes


@numba.njit(cache=True)
def hash_csr(indptr, indices, data, projections, n_bits, n_tables, scale, extra):
    """SimHash codes, shape (n_rows, n_tables), of the CSR rows (indptr, indices, data)."""
    n_rows = indptr.shape[0] - 1
    n_features = projections.shape[0] - 1
    n_proj = projections.shape[1]
    last = projections[n_features]
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    acc = np.empty(n_proj, dtype=np.float64)
    for i in range(n_rows):
        acc[:] = 0.0
        for ptr in range(indptr[i], indptr[i + 1]):
            value = np.float64(data[ptr])
            if value != 0.0:
                row = projections[indices[ptr]]
                for p in range(n_proj):
                    acc[p] += value * row[p]
        _finish_row(acc, scale[i], extra[i], last, n_bits, n_tables, codes, i)
    return codes


@numba.njit(cache=True)
def pack_signs(products, scale, extra, last, n_bits, n_tables):
    """Codes (n_rows, n_tables) from rows already multiplied by the
    projections (``products = X @ R[:d]``): bit ``b`` of table ``t`` is the
    sign of ``scale[i] * products[i, t * n_bits + b] + extra[i] * last[...]``,
    the same expression, in the same order, as the loop kernels.

    Used to hash the class vectors at build time from a BLAS product (one
    GEMM instead of an axpy loop); queries keep the loop kernels above, whose
    dense and CSR forms give identical codes.
    """
    n_rows = products.shape[0]
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    for i in range(n_rows):
        s = scale[i]
        e = extra[i]
        for t in range(n_tables):
            code = 0
            base = t * n_bits
            for b in range(n_bits):
                if products[i, base + b] * s + e * last[base + b] > 0.0:
                    code |= np.int64(1) << b
            codes[i, t] = code
    return codes
