"""Prediction: exact scores in blocks, the package's log-softmax, exact
top-k, and LSH retrieval with exact rescoring.

A classifier supplies a scorer for its exact predictions:
:class:`LinearScores` (a linear class layer, scored in cache-sized blocks
through one fused kernel) or :class:`NormalisedChunks` (``(rows,
log_proba)`` chunks of at most ``working_memory``). No ``(n_samples,
n_classes)`` array exists unless the caller asks for one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

from ._arrays import add_ones_column
from ._kernels import _scoring, _softmax
from ._parallel import n_threads, one_blas_thread

__all__ = [
    "row_logsumexp",
    "chunk_rows",
    "LinearScores",
    "NormalisedChunks",
    "topk_lsh",
]


def row_logsumexp(scores: np.ndarray) -> np.ndarray:
    """Stable log-sum-exp of each row of a score chunk (float64), without
    the chunk-sized temporaries of ``scipy.special.logsumexp`` (which would
    multiply the memory that ``working_memory`` bounds). Exact prediction
    folds its blocks with the online form of :func:`._kernels._softmax.scan_block`
    instead; the kernel's segment form serves candidate lists."""
    n_rows, n_classes = scores.shape
    indptr = np.arange(0, (n_rows + 1) * n_classes, n_classes, dtype=np.int64)
    return _scoring.segment_logsumexp(np.ascontiguousarray(scores).ravel(), indptr)


def chunk_rows(n_rows: int, row_bytes: int):
    """Row slices of at most ``working_memory`` for ``row_bytes`` per row."""
    return gen_batches(n_rows, get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=n_rows))


# A block of scores (rows x classes) that stays in the L2 cache between the
# GEMM that writes it and the fused kernel that reads it; rows per block
# enough that BLAS reads the class rows at near-peak rate.
BLOCK_BYTES = 2**20
BLOCK_ROWS = 256


def _empty_or(values, dtype):
    """``values`` as a C-contiguous array of ``dtype``, or an empty one for None."""
    return np.empty(0, dtype=dtype) if values is None else np.ascontiguousarray(values, dtype=dtype)


class LinearScores:
    """Exact prediction of a linear class layer: the scores
    ``hidden(X) @ weights.T + intercept + offset``, in blocks.

    Dense hidden rows are scored against ``BLOCK_BYTES`` blocks of classes
    (one GEMM each, in the model's dtype) and each block goes through the
    fused kernel :func:`._kernels._softmax.scan_block` while in cache: the
    offsets, the finite check, an online log-sum-exp and the top-k in one
    visit. CSR input of a full-rank model is scored a few rows at a time
    against all classes (the class rows transposed once per call).

    Chunks of rows run on ``n_threads`` Python threads (the kernels release
    the GIL), BLAS on one thread meanwhile: per-block parallel regions and
    BLAS threads synchronise at every block, which on a loaded machine
    costs more than the blocks themselves. Each row's result is computed by
    one thread in a fixed order: the same for any thread count.

    Parameters
    ----------
    weights : ndarray of shape (n_classes, width)
    intercept, offset : ndarray of shape (n_classes,) or None
        Added to the scores in the weights' dtype, the intercept first.
    hidden : callable
        Rows of ``X`` to the class layer's input (``X`` itself, or
        ``X @ embedding_``, dense).
    eta0 : float
        For the error message on overflowing scores.
    sparse_hidden : bool
        Whether ``hidden`` keeps CSR input CSR (the full-rank model).
    n_jobs : int or None
        Threads, as the estimators' ``n_jobs``.
    """

    def __init__(self, weights, intercept, offset, hidden, eta0, sparse_hidden, n_jobs):
        dtype = weights.dtype
        self.weights, self.hidden, self.eta0, self.sparse_hidden = weights, hidden, eta0, sparse_hidden
        self.intercept = _empty_or(intercept, dtype)
        self.offset = _empty_or(offset, dtype)
        # Scores beyond half the range would overflow in their differences.
        self.limit = float(np.finfo(dtype).max / 2)
        self.n_classes = weights.shape[0]
        self.n_threads = n_threads(n_jobs)

    def _check(self, bad):
        if bad.any():
            raise FloatingPointError(
                f"Class scores overflow {self.weights.dtype} (largest |weight| {np.abs(self.weights).max():.3g}): "
                "the model diverged in training or these inputs are too large for it. Refit with a lower eta0 (now "
                f"{self.eta0}), scaled features, or float64 input."
            )

    def _offsets(self, c0, c1):
        return (self.intercept[c0:c1] if self.intercept.shape[0] else self.intercept,
                self.offset[c0:c1] if self.offset.shape[0] else self.offset)  # fmt: skip

    def _plan(self, X):
        """``(multiply, rows per chunk, classes per block)`` for this input:
        ``multiply(H, c0, c1, out)`` writes the scores of hidden rows ``H``
        against classes ``c0:c1`` into ``out``."""
        n_classes, item = self.n_classes, self.weights.itemsize
        if sp.issparse(X) and self.sparse_hidden:
            transposed = np.ascontiguousarray(self.weights.T)  # scipy would copy W.T at every product

            def multiply(H, c0, c1, out):
                out[...] = H @ transposed

            return multiply, max(1, BLOCK_BYTES // (n_classes * item)), n_classes

        def multiply(H, c0, c1, out):
            np.dot(H, self.weights[c0:c1].T, out=out)

        rows = max(BLOCK_ROWS, BLOCK_BYTES // (n_classes * item))
        return multiply, rows, min(n_classes, max(1, BLOCK_BYTES // (rows * item)))

    def _each_chunk(self, X, chunk, work):
        """``work(rows)`` for every chunk of rows, on ``n_threads`` threads."""
        chunks = list(gen_batches(X.shape[0], chunk))
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):  # an overflow raises in _check
            if self.n_threads == 1 or len(chunks) == 1:
                for rows in chunks:
                    work(rows)
                return
            with ThreadPoolExecutor(min(self.n_threads, len(chunks))) as pool:
                for _ in pool.map(work, chunks):  # (re-raises a chunk's error)
                    pass

    def _scan(self, X, k, want_sum, consume, label=None):
        """``consume(rows, state, label_score)`` for every chunk of rows once
        every class is scanned (``state`` of
        :func:`._kernels._softmax.new_state`, heaps sorted best first)."""
        multiply, chunk, width = self._plan(X)
        no_label = np.empty(0, dtype=np.int64)

        def work(rows):
            H = self.hidden(X[rows])
            n_rows = H.shape[0]
            state = _softmax.new_state(n_rows, k)
            label_rows = no_label if label is None else np.ascontiguousarray(label[rows], dtype=np.int64)
            label_score = np.empty(label_rows.shape[0])
            buffer = np.empty(n_rows * width, dtype=self.weights.dtype)
            for c0 in range(0, self.n_classes, width):
                c1 = min(c0 + width, self.n_classes)
                block = buffer[: n_rows * (c1 - c0)].reshape(n_rows, c1 - c0)
                multiply(H, c0, c1, block)
                _softmax.scan_block(block, 0, c0, *self._offsets(c0, c1), self.limit, want_sum, label_rows,
                                    label_score, *state)  # fmt: skip
            self._check(state[4])
            _softmax.sort_heaps(state[0], state[1])
            consume(rows, state, label_score)

        self._each_chunk(X, chunk, work)

    def fill(self, X, out, log_proba: bool):
        """The scores (or, with ``log_proba``, the log-probabilities) of every
        class into ``out`` (n_samples, n_classes), in the model's dtype."""
        multiply, chunk, _ = self._plan(X)
        no_label, no_score = np.empty(0, dtype=np.int64), np.empty(0)

        def work(rows):
            block = out[rows]
            multiply(self.hidden(X[rows]), 0, self.n_classes, block)
            _, _, row_max, row_sum, bad = state = _softmax.new_state(block.shape[0], 0)
            _softmax.scan_block(block, 0, 0, self.intercept, self.offset, self.limit, log_proba, no_label,
                                no_score, *state)  # fmt: skip
            self._check(bad)
            if log_proba:
                _softmax.log_softmax_rows(block, row_max, row_sum)

        self._each_chunk(X, max(chunk, BLOCK_ROWS), work)  # out is written anyway: rows enough for BLAS

    def argmax(self, X):
        """Index of the best class of every row (ties: the lower index)."""
        best = np.empty(X.shape[0], dtype=np.int64)

        def consume(rows, state, _):
            best[rows] = state[1][:, 0]

        self._scan(X, 1, False, consume)
        return best

    def topk(self, X, k, top, proba, rows_out):
        """Fill ``top[rows_out]`` (class indices, best first) and their probabilities."""

        def consume(rows, state, _):
            top_score, top_index, row_max, row_sum, _ = state
            top[rows_out[rows]] = top_index
            proba[rows_out[rows]] = np.exp((top_score - row_max[:, None]) - np.log(row_sum)[:, None])

        self._scan(X, k, True, consume)

    def label_log_proba(self, X, y_index):
        """``log p(y_i | x_i)`` per row, float64."""
        out = np.empty(X.shape[0])

        def consume(rows, state, label_score):
            out[rows] = (label_score - state[2]) - np.log(state[3])

        self._scan(X, 0, True, consume, y_index)
        return out


class NormalisedChunks:
    """Exact prediction from ``(rows, log_proba)`` chunks of a model whose
    scores are log-probabilities already (the two-component model); the
    methods of :class:`LinearScores`."""

    def __init__(self, chunks):
        self.chunks = chunks  # X -> iterator of (rows, log_proba)

    def fill(self, X, out, log_proba: bool):
        for rows, scores in self.chunks(X):
            out[rows] = scores

    def argmax(self, X):
        best = np.empty(X.shape[0], dtype=np.int64)
        for rows, scores in self.chunks(X):
            best[rows] = np.argmax(scores, axis=1)
        return best

    def topk(self, X, k, top, proba, rows_out):
        for rows, scores in self.chunks(X):
            best = _scoring.top_k_rows(np.ascontiguousarray(scores), k)
            top[rows_out[rows]] = best
            proba[rows_out[rows]] = np.exp(np.take_along_axis(scores, best, axis=1))

    def label_log_proba(self, X, y_index):
        out = np.empty(X.shape[0])
        for rows, scores in self.chunks(X):
            out[rows] = scores[np.arange(scores.shape[0]), y_index[rows]]
        return out


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
    # log Z is near 0 and the probabilities keep their digits: with scores
    # of 1e12, ``scores - log Z`` would keep about 4 significant digits.
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
