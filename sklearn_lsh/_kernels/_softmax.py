"""Fused exact softmax statistics of score blocks: one pass per block adds
the per-class offsets, checks that every score is finite, keeps each row's
running maximum and sum of exponentials (an online log-sum-exp) and its
``k`` best classes.

The caller computes the scores of a row block against a block of classes
with one GEMM into a cache-sized buffer and hands the buffer here, so each
score is written once by BLAS and read from cache by these loops instead of
streaming through memory several times.

The exponentials use :func:`exp_nonpositive`, a polynomial that LLVM turns
into vector code (numba has no vector ``exp`` without Intel's SVML); it is
within 2 ulp of ``np.exp`` (float64) on ``[-708, 0]``.
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

# contraction (FMA) and reassociation of the sums (vector lanes); no
# "nnan"/"ninf", so the non-finite checks below are kept.
_FLAGS = {"contract", "reassoc"}
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 split so that n * _LN2_HI is exact for |n| < 2^11
_LN2_LO = 1.9082149292705877e-10
_EXP_FLOOR = -708.0  # below: exp underflows to subnormals; returned as 0
_NO_CLASS = np.iinfo(np.int64).max  # an empty heap slot ranks below every class


@intrinsic
def _float64_from_bits(typingctx, bits):
    """The float64 whose IEEE bits are the int64 ``bits``."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


def _float_intrinsic(name):
    """A two-argument LLVM float intrinsic as a numba function."""

    def typer(typingctx, a, b):
        if a != b or not isinstance(a, types.Float):
            return None

        def codegen(context, builder, signature, args):
            llvm_type = context.get_value_type(signature.args[0])
            function_type = ir.FunctionType(llvm_type, [llvm_type, llvm_type])
            return builder.call(builder.module.declare_intrinsic(name, [llvm_type], function_type), args)

        return a(a, b), codegen

    return intrinsic(typer)


# llvm.maxnum / llvm.minnum: the larger / smaller argument, the other one
# if one is NaN. Unlike a compare-and-select, LLVM vectorises their
# reductions without assuming "no NaNs" (an assumption that would drop the
# NaN check).
_maxnum = _float_intrinsic("llvm.maxnum")
_minnum = _float_intrinsic("llvm.minnum")


@numba.njit(cache=True, inline="always", fastmath=_FLAGS)
def exp_nonpositive(x):
    """``exp(x)`` for float64 ``x <= 0`` (0 below -708), in vectorisable form:
    ``x = n ln 2 + r`` with ``|r| <= ln 2 / 2``, a degree-12 Taylor polynomial
    of ``exp(r)`` (truncation below 2e-16 relative), times ``2^n`` built from
    its exponent bits."""
    clamped = max(x, _EXP_FLOOR)
    n = np.floor(clamped * _LOG2E + 0.5)
    r = (clamped - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    value = p * _float64_from_bits((np.int64(n) + 1023) << 52)
    return value if x >= _EXP_FLOOR else 0.0


@numba.njit(cache=True, fastmath=_FLAGS)
def exp_nonpositive_array(x):
    """:func:`exp_nonpositive` of every element (for tests)."""
    out = np.empty(x.shape[0], dtype=np.float64)
    for j in range(x.shape[0]):
        out[j] = exp_nonpositive(x[j])
    return out


@numba.njit(cache=True, inline="always", fastmath=_FLAGS)
def _sift_down(top_score, top_index):
    """Restore the min-heap (worst at the root) after the root changed."""
    k = top_score.shape[0]
    parent = 0
    while True:
        worst = 2 * parent + 1
        if worst >= k:
            return
        right = worst + 1
        if right < k and (
            top_score[right] < top_score[worst]
            or (top_score[right] == top_score[worst] and top_index[right] > top_index[worst])
        ):
            worst = right
        if top_score[worst] < top_score[parent] or (
            top_score[worst] == top_score[parent] and top_index[worst] > top_index[parent]
        ):
            top_score[worst], top_score[parent] = top_score[parent], top_score[worst]
            top_index[worst], top_index[parent] = top_index[parent], top_index[worst]
            parent = worst
        else:
            return


# The loops over a row are functions of their own (not inlined): numba
# optimises each function separately, and LLVM vectorises these loops alone
# but not inside the caller's loop nest.
@numba.njit(cache=True, fastmath=_FLAGS)
def _add(row, values):
    for j in range(row.shape[0]):
        row[j] += values[j]


@numba.njit(cache=True, fastmath=_FLAGS)
def _extremes(row):
    """Largest and smallest element; NaN for both if any element is NaN."""
    high = row.dtype.type(-np.inf)
    low = row.dtype.type(np.inf)
    for j in range(row.shape[0]):
        high = _maxnum(high, row[j])
        low = _minnum(low, row[j])
    n_nan = 0
    for j in range(row.shape[0]):  # (in one loop with the above, neither vectorises)
        n_nan += row[j] != row[j]
    if n_nan:
        return row.dtype.type(np.nan), row.dtype.type(np.nan)
    return high, low


@numba.njit(cache=True, fastmath=_FLAGS)
def _sum_exp(row, shift):
    """``sum(exp(row - shift))`` in float64, for ``shift >= max(row)``."""
    acc = 0.0
    for j in range(row.shape[0]):
        acc += exp_nonpositive(np.float64(row[j]) - shift)
    return acc


@numba.njit(cache=True, inline="always", fastmath=_FLAGS)
def _scan_row(row, col0, intercept, offset, limit, want_sum, i, label, label_score,
              top_score, top_index, row_max, row_sum, bad):  # fmt: skip
    """One row of a block: offsets added in place (in the row's dtype, the
    intercept first), then the checks, the row's top-k heap, its label's
    score and its running log-sum-exp."""
    n_cols = row.shape[0]
    if intercept.shape[0]:
        _add(row, intercept)
    if offset.shape[0]:
        _add(row, offset)
    high, low = _extremes(row)
    if not (high <= limit and low >= -limit):
        bad[i] = True
        return
    k = top_score.shape[0]
    if k and high > top_score[0]:  # else no score of the block enters the top k
        for j in range(n_cols):
            if row[j] > top_score[0]:  # ties: the earlier (lower) class stays
                top_score[0] = row[j]
                top_index[0] = col0 + j
                _sift_down(top_score, top_index)
    if label.shape[0] and col0 <= label[i] < col0 + n_cols:
        label_score[i] = row[label[i] - col0]
    if want_sum:
        previous = row_max[i]
        shift = max(previous, np.float64(high))
        acc = row_sum[i] * np.exp(previous - shift) if previous > -np.inf else 0.0
        row_max[i] = shift
        row_sum[i] = acc + _sum_exp(row, shift)


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def scan_block(scores, row0, col0, intercept, offset, limit, want_sum, label, label_score,
               top_score, top_index, row_max, row_sum, bad):  # fmt: skip
    """Fold the block ``scores`` (rows ``row0:``, classes ``col0:``) into the
    running per-row state.

    ``scores`` receives ``+ intercept + offset`` in place (each the slice of
    the block's classes, C-contiguous, in the dtype of ``scores``, or empty
    for none; added in that dtype, the intercept first). A row with a NaN,
    or a score beyond ``+-limit``, is marked in ``bad`` and left out of the
    rest. The heap ``top_score[i], top_index[i]`` (``k`` columns, possibly
    0; worst at position 0, ties ranked by the lower class) keeps the ``k``
    best classes; ``label_score[i]`` receives the score of class
    ``label[i]`` (``label`` empty: none); ``row_max[i]``, ``row_sum[i]``
    hold a shift and ``sum exp(score - shift)`` when ``want_sum``.

    Serial, without the GIL: callers run row chunks on Python threads.
    """
    for r in range(scores.shape[0]):
        i = row0 + r
        _scan_row(scores[r], col0, intercept, offset, limit, want_sum, i, label, label_score,
                  top_score[i], top_index[i], row_max, row_sum, bad)  # fmt: skip


def new_state(n_rows, k):
    """Empty running state of :func:`scan_block` for ``n_rows`` rows:
    ``top_score, top_index, row_max, row_sum, bad``."""
    return (
        np.full((n_rows, k), -np.inf),
        np.full((n_rows, k), _NO_CLASS, dtype=np.int64),
        np.full(n_rows, -np.inf),
        np.zeros(n_rows),
        np.zeros(n_rows, dtype=np.bool_),
    )


@numba.njit(cache=True, nogil=True)
def sort_heaps(top_score, top_index):
    """Each row's heap in place, best first (ties: lower class first)."""
    for i in range(top_score.shape[0]):
        score, index = top_score[i], top_index[i]
        k = score.shape[0]
        for r in range(k):
            best = r
            for q in range(r + 1, k):
                if score[best] < score[q] or (score[best] == score[q] and index[best] > index[q]):
                    best = q
            score[r], score[best] = score[best], score[r]
            index[r], index[best] = index[best], index[r]


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def log_softmax_rows(scores, row_max, row_sum):
    """``scores[i] = (scores[i] - row_max[i]) - log(row_sum[i])`` in place,
    in float64, rounded once to the dtype of ``scores``. The shift first:
    with scores of 1e12, ``scores - (row_max + log(row_sum))`` would keep
    about 4 significant digits of the probabilities."""
    for i in range(scores.shape[0]):
        shift, log_sum = row_max[i], np.log(row_sum[i])
        for j in range(scores.shape[1]):
            scores[i, j] = (np.float64(scores[i, j]) - shift) - log_sum
