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

from ._random import mix_pair, next_uint64, open_uniform, uniform


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


# ---------------------------------------------------------------- sparse
# Sparse random projections generated on the fly: the entries of feature
# ``f`` (one row of the projection) come from random stream ``f`` of the
# seed, so the matrix is never stored and memory does not grow with the
# number of features. An entry is non-zero with probability ``density``, at
# positions found by geometric skips (O(1 + n_bits * density) draws per
# feature), with a random sign; the SimHash bits do not depend on the
# common scale ``sqrt(1 / density)`` of scikit-learn's SparseRandomProjection.


@numba.njit(cache=True)
def _last_entry_below(n_used, log_miss):
    """``below[m]``: a uniform ``u <= below[m]`` makes the next gap
    ``1 + floor(log(u) / log_miss)`` exceed ``m`` for sure, so a row with
    ``m`` positions left ends without taking the logarithm.

    ``(1 - density) ** m`` shrunk by a relative 1e-9, far more than the
    rounding of the logarithm and the division (a few 1e-16 relative), so
    the shortcut never ends a row the logarithm would continue; rows end at
    the same place either way. ``-1`` (never) for density 1.
    """
    below = np.full(n_used, -1.0)
    if log_miss != -np.inf:
        for m in range(n_used):
            below[m] = np.exp(m * log_miss) * (1.0 - 1e-9)
    return below


@numba.njit(cache=True)
def _nonempty_from(empty_below):
    """The smallest ``k = z >> 11`` (``z`` the first output of a feature's
    stream) whose uniform ``(k + 0.5) / 2**53`` exceeds ``empty_below``, so
    a feature has an entry exactly when ``z >> 11 >= _nonempty_from(...)``.

    Found by bisection on the very expression the float test uses (monotone
    in ``k``), so the integer test decides every feature the same way.
    """
    lo, hi = np.int64(0), np.int64(2**53)  # answer in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if (np.float64(mid) + 0.5) * (1.0 / 9007199254740992.0) <= empty_below:
            lo = mid + 1
        else:
            hi = mid
    return np.uint64(lo)


@numba.njit(cache=True, inline="always")
def _add_nonempty_projection_row(acc, state, first, value, n_used, log_miss, last_below):
    """``acc[:n_used] += value * R[feature]`` for the on-the-fly sparse ``R``,
    given ``first = mix_pair(key, feature)``, the first output of feature
    ``f``'s stream, known to give at least one entry.

    That output, as a uniform ``u``, gives the first gap ``floor(log(u) /
    log_miss)``, which is ``>= n_used`` (no entry at all, the common case
    for sparse projections) exactly when ``u <= (1 - density) ** n_used``;
    callers test that case on the integer ``first >> 11`` (see
    ``_nonempty_from``), so it costs one hash and no logarithm. After each
    entry, its sign and then the gap to the next one are drawn; the gap's
    logarithm is skipped when ``last_below`` shows the row ends (the usual
    case: a feature has about one entry).
    """
    state[0] = first
    if log_miss == -np.inf:
        p = 0
    else:
        u = (np.float64(first >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)
        p = np.int64(np.floor(np.log(u) / log_miss))
    while p < n_used:
        if next_uint64(state) & np.uint64(1):
            acc[p] += value
        else:
            acc[p] -= value
        if log_miss == -np.inf:
            p += 1
            continue
        u = open_uniform(state)
        if u <= last_below[n_used - 1 - p]:
            break
        p += 1 + np.int64(np.floor(np.log(u) / log_miss))


_ROW_BLOCK = 512


@numba.njit(cache=True)
def _hash_sparse_block(block, indptr, indices, data, n_bits, n_tables, n_used, log_miss, nonempty_from, last_below,
                       key, max_nnz, codes):  # fmt: skip
    """Rows ``block * _ROW_BLOCK`` to the block's end, one after the other."""
    n_rows = indptr.shape[0] - 1
    n_proj = n_bits * n_tables
    acc = np.zeros(n_proj, dtype=np.float64)
    last = np.zeros(n_proj, dtype=np.float64)
    state = np.zeros(1, dtype=np.uint64)
    firsts = np.empty(max_nnz, dtype=np.uint64)
    for i in range(block * _ROW_BLOCK, min(n_rows, (block + 1) * _ROW_BLOCK)):
        acc[:] = 0.0
        start = indptr[i]
        n_nnz = indptr[i + 1] - start
        for q in range(n_nnz):
            firsts[q] = mix_pair(key, indices[start + q])
        for q in range(n_nnz):
            if (firsts[q] >> np.uint64(11)) >= nonempty_from:
                value = np.float64(data[start + q])
                if value != 0.0:
                    _add_nonempty_projection_row(acc, state, firsts[q], value, n_used, log_miss, last_below)
        _finish_row(acc, 1.0, 0.0, last, n_bits, n_tables, codes, i)


@numba.njit(cache=True)
def _sparse_hash_setup(indptr, n_used, density, seed):
    log_miss = np.log1p(-density) if density < 1.0 else -np.inf
    nonempty_from = _nonempty_from(np.exp(n_used * log_miss))
    last_below = _last_entry_below(n_used, log_miss)
    max_nnz = 0
    for i in range(indptr.shape[0] - 1):
        max_nnz = max(max_nnz, indptr[i + 1] - indptr[i])
    return log_miss, nonempty_from, last_below, mix_pair(seed, 0), max_nnz


@numba.njit(cache=True, parallel=True)
def _hash_csr_sparse_projection_parallel(indptr, indices, data, n_bits, n_tables, n_used, density, seed):
    n_rows = indptr.shape[0] - 1
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    log_miss, nonempty_from, last_below, key, max_nnz = _sparse_hash_setup(indptr, n_used, density, seed)
    for block in numba.prange((n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK):
        _hash_sparse_block(block, indptr, indices, data, n_bits, n_tables, n_used, log_miss, nonempty_from,
                           last_below, key, max_nnz, codes)  # fmt: skip
    return codes


@numba.njit(cache=True)
def _hash_csr_sparse_projection_serial(indptr, indices, data, n_bits, n_tables, n_used, density, seed):
    n_rows = indptr.shape[0] - 1
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    log_miss, nonempty_from, last_below, key, max_nnz = _sparse_hash_setup(indptr, n_used, density, seed)
    for block in range((n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK):
        _hash_sparse_block(block, indptr, indices, data, n_bits, n_tables, n_used, log_miss, nonempty_from,
                           last_below, key, max_nnz, codes)  # fmt: skip
    return codes


def hash_csr_sparse_projection(indptr, indices, data, n_bits, n_tables, n_used, density, seed):
    """SimHash codes (n_rows, n_tables) of CSR rows under the on-the-fly sparse
    projection; only the first ``n_used`` of the ``n_bits * n_tables``
    projections are drawn (the others are 0 and give 0 bits).

    Each row is done in two passes: the first hashes every feature index
    (a loop the compiler vectorises) and flags those with at least one
    projection entry; the second adds the flagged features' entries.
    Blocks of rows run in parallel on numba's threads when the calling
    thread's ``numba.get_num_threads()`` is above 1, else serially, outside
    numba's thread pool (safe when several Python threads hash at once, under
    every threading layer). Each row is hashed by one thread in a fixed
    order, so the codes do not depend on the number of threads.
    """
    if numba.get_num_threads() > 1:
        return _hash_csr_sparse_projection_parallel(indptr, indices, data, n_bits, n_tables, n_used, density, seed)
    return _hash_csr_sparse_projection_serial(indptr, indices, data, n_bits, n_tables, n_used, density, seed)


@numba.njit(cache=True)
def sparse_projection_rows(features, n_used, density, seed):
    """The rows ``R[features, :n_used]`` of the on-the-fly sparse projection,
    materialised (for tests and inspection; hashing never builds them)."""
    R = np.zeros((features.shape[0], n_used), dtype=np.float64)
    state = np.zeros(1, dtype=np.uint64)
    log_miss = np.log1p(-density) if density < 1.0 else -np.inf
    nonempty_from = _nonempty_from(np.exp(n_used * log_miss))
    last_below = _last_entry_below(n_used, log_miss)
    key = mix_pair(seed, 0)
    for r in range(features.shape[0]):
        first = mix_pair(key, features[r])
        if (first >> np.uint64(11)) >= nonempty_from:
            _add_nonempty_projection_row(R[r], state, first, 1.0, n_used, log_miss, last_below)
    return R


@numba.njit(cache=True)
def unpack_codes(codes, n_bits, n_used, out, negative):
    """Bits of packed codes as numbers: ``out[i, t * n_bits + b]`` (for the
    first ``n_used`` positions) is 1 where bit ``b`` of ``codes[i, t]`` is set,
    else ``negative`` (0 for 0/1 output, -1 for +-1 output)."""
    for i in range(codes.shape[0]):
        for t in range(codes.shape[1]):
            code = codes[i, t]
            base = t * n_bits
            for b in range(min(n_bits, n_used - base)):
                out[i, base + b] = 1 if (code >> b) & 1 else negative


# ------------------------------------------------- generated Gaussian rows
# The LSH index's Gaussian projections for wide inputs, generated on the fly
# instead of stored: row ``f`` of R (the projections of feature ``f``) is
# stream ``mix_pair(key, f)``, turned into normal variates by Marsaglia's polar method, so
# memory does not grow with the number of features and a CSR query reads
# only the rows of its non-zero features. Rows are Gaussian, as SimHash's
# collision probability 1 - theta / pi (and so the inclusion probabilities)
# requires; the sparse projections above are for the transformers only.


@numba.njit(cache=True, inline="always")
def _gaussian_row(key, feature, state, out):
    """``out[:] = R[feature]``: standard normal variates of the feature's stream."""
    state[0] = mix_pair(key, feature)
    n = out.shape[0]
    for p in range(0, n, 2):
        # Marsaglia's polar method: two exact normals per accepted point of
        # the unit disc (no sine or cosine)
        while True:
            u = 2.0 * uniform(state) - 1.0
            v = 2.0 * uniform(state) - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                break
        factor = np.sqrt(-2.0 * np.log(s) / s)
        out[p] = u * factor
        if p + 1 < n:
            out[p + 1] = v * factor


@numba.njit(cache=True)
def gaussian_rows(key, start, stop, n_proj):
    """Rows ``R[start:stop]`` of the generated Gaussian projection, (stop - start, n_proj)."""
    R = np.empty((stop - start, n_proj), dtype=np.float64)
    state = np.zeros(1, dtype=np.uint64)
    for f in range(start, stop):
        _gaussian_row(key, f, state, R[f - start])
    return R


@numba.njit(cache=True)
def hash_csr_generated(indptr, indices, data, key, n_features, n_bits, n_tables, scale, extra):
    """:func:`hash_csr` with the generated projection ``R`` of ``key`` (row
    ``n_features`` of R is the extra coordinate's): codes (n_rows, n_tables)
    in O(nnz x n_bits x n_tables), whatever the number of features."""
    n_rows = indptr.shape[0] - 1
    n_proj = n_bits * n_tables
    state = np.zeros(1, dtype=np.uint64)
    last = np.empty(n_proj, dtype=np.float64)
    _gaussian_row(key, n_features, state, last)
    row = np.empty(n_proj, dtype=np.float64)
    codes = np.empty((n_rows, n_tables), dtype=np.int64)
    acc = np.empty(n_proj, dtype=np.float64)
    for i in range(n_rows):
        acc[:] = 0.0
        for ptr in range(indptr[i], indptr[i + 1]):
            value = np.float64(data[ptr])
            if value != 0.0:
                _gaussian_row(key, indices[ptr], state, row)
                for p in range(n_proj):
                    acc[p] += value * row[p]
        _finish_row(acc, scale[i], extra[i], last, n_bits, n_tables, codes, i)
    return codes
