"""SGD steps of the softmax classifier: sampled (LSH or uniform) and dense.

Optimiser shared by every estimator of Z (so "exact", "lsh" and "uniform"
differ only in which classes a step touches):

* **Row-wise AdaGrad** (one accumulator per class row, as in embedding
  training): ``G_j += mean(g_j ** 2)``, ``w_j -= eta0 / sqrt(G_j + eps) * g_j``
  with ``g_j`` the row's gradient including the intercept. ``learning_rate=
  "constant"`` uses ``eta0`` for every row instead.
* **Lazy L2** (``alpha``): a row's step size only changes when the row is
  touched, so the decay ``(1 - lr_j * alpha)`` it would have received at every
  skipped step is applied in one go, ``(1 - lr_j * alpha) ** (t - last_j)``,
  the next time the row is read (or by :func:`catch_up_rows`). A step thus
  costs O(touched rows x nnz), and when every row is touched (the dense path)
  the result is plain minibatch gradient descent on the L2-penalised loss.

A minibatch is given as dense rows or as CSR; its gradient is accumulated
over the batch, then one update per touched row is applied.
(:func:`dense_as_csr` writes dense rows as CSR, which the tests use to check
that both layouts give the same step.)
"""

import numba
import numpy as np

from ._prefetch import PREFETCH_DISTANCE, prefetch_item, prefetch_row

EPS = 1e-8


@numba.njit(cache=True, inline="always")
def _row_rate(accumulator, j, eta0, adagrad):
    if adagrad:
        return eta0 / np.sqrt(accumulator[j] + EPS)
    return eta0


@numba.njit(cache=True, inline="always")
def _catch_up(W, accumulator, last_step, j, step, eta0, alpha, adagrad):
    """Apply the L2 decay row ``j`` missed since it was last updated."""
    missed = step - last_step[j]
    if missed > 0 and alpha > 0.0:
        factor = 1.0 - _row_rate(accumulator, j, eta0, adagrad) * alpha
        factor = factor**missed if factor > 0.0 else 0.0
        for f in range(W.shape[1]):
            W[j, f] *= factor
    last_step[j] = step


@numba.njit(cache=True, inline="always")
def _update_row(W, j, grad, extra_square, width, accumulator, eta0, alpha, adagrad):
    """Row-wise AdaGrad (or constant) step of row ``j``: ``g = grad + alpha
    W[j]``, ``G_j += (|g|^2 + extra_square) / width``, ``W[j] -= rate g``.
    ``extra_square`` is the squared intercept gradient (0 without one).
    Leaves ``grad`` zeroed for the next row and returns the rate."""
    square = 0.0
    for f in range(W.shape[1]):
        g = grad[f] + alpha * W[j, f]
        grad[f] = g
        square += g * g
    square += extra_square
    if adagrad:
        accumulator[j] += square / width
    rate = _row_rate(accumulator, j, eta0, adagrad)
    for f in range(W.shape[1]):
        W[j, f] -= rate * grad[f]
        grad[f] = 0.0
    return rate


@numba.njit(cache=True, parallel=True)
def catch_up_rows(W, accumulator, last_step, step, eta0, alpha, adagrad):
    """Bring every row up to date with its pending lazy L2 decay (rows in parallel)."""
    for j in numba.prange(W.shape[0]):
        _catch_up(W, accumulator, last_step, j, step, eta0, alpha, adagrad)


# No fastmath: numba does not give the same code for a fastmath function
# compiled fresh and loaded from its cache (measured: the loss of a fit
# differed between a first and a second run), so sums that should run as
# SIMD are written with four independent accumulators, which LLVM
# vectorises without reassociation; the order of every sum is then fixed
# by the source, whatever the build, and a row's sums run on one thread,
# so results do not depend on the number of threads either.


@numba.njit(cache=True, inline="always")
def dense_dot(a, i, b, j):
    """``a[i] . b[j]`` in float64, four accumulators (a fixed order)."""
    n = a.shape[1]
    s0 = s1 = s2 = s3 = 0.0
    f = 0
    while f + 4 <= n:
        s0 += np.float64(a[i, f]) * np.float64(b[j, f])
        s1 += np.float64(a[i, f + 1]) * np.float64(b[j, f + 1])
        s2 += np.float64(a[i, f + 2]) * np.float64(b[j, f + 2])
        s3 += np.float64(a[i, f + 3]) * np.float64(b[j, f + 3])
        f += 4
    while f < n:
        s0 += np.float64(a[i, f]) * np.float64(b[j, f])
        f += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(cache=True, inline="always")
def _row_dot(W, j, dense, x_dense, i, x_indices, x_data, x_lo, x_hi):
    """``W[j] . x_i`` (float64 sum) for a dense row ``x_dense[i]`` or the CSR slice."""
    if dense:
        return dense_dot(x_dense, i, W, j)
    acc = 0.0
    for p in range(x_lo, x_hi):
        acc += np.float64(W[j, x_indices[p]]) * np.float64(x_data[p])
    return acc


@numba.njit(cache=True, parallel=True)
def sampled_softmax_step(
    x_dense, x_indptr, x_indices, x_data, y, sample_weight,
    cand_indptr, cand_classes, cand_log_weight,
    W, intercept, fit_intercept, accumulator, last_step, step,
    eta0, alpha, adagrad, slot, grad_x,
):  # fmt: skip
    """One minibatch step with an estimated partition function.

    For example ``i`` the estimate is ``Z_hat = f_y + sum_j f_j * w_j`` over
    its candidates ``cand_classes[cand_indptr[i]:cand_indptr[i + 1]]`` with
    importance weights ``w_j = exp(cand_log_weight)`` (``1 / P_j`` for LSH,
    ``(C - 1) / n`` for uniform draws; repeats are separate terms). The true
    class has weight 1 and is skipped if it is among the candidates. The loss
    is ``log Z_hat - s_y`` and its gradient touches ``y`` and the
    candidates only. ``sample_weight`` must already be divided by the batch
    total. ``slot`` is an int64 workspace of length C filled with -1 (left so).
    Dense rows are passed as ``x_dense`` (n_rows, n_features) with empty CSR
    arrays; CSR rows with ``x_dense`` of shape (0, 0).

    ``grad_x`` (float64, zeros of shape (n_rows, n_features), or (0, 0) to
    skip) receives the gradient of the batch loss with respect to the input
    rows, ``sum_j coefficient_ij * W[j]`` at the weights before the update:
    the low-rank model back-propagates it into its input embedding.

    Passes, each parallel over disjoint work (numba threads):

    1. find the touched rows (serial, O(pairs)) and bring each up to date
       with its lazy L2 decay (parallel over touched rows);
    2. score every example's candidates and keep one gradient coefficient
       per (example, class) pair (parallel over examples; W is only read);
    3. group the pairs by touched row (serial counting sort), then for each
       touched row sum its pairs' ``coefficient * x_i`` in a one-row buffer
       and update the row at once (parallel over blocks of touched rows,
       a buffer per block).

    No (touched rows x features) gradient matrix is formed, so the memory
    traffic of a step is the touched rows of ``W`` plus the batch. Every
    sum runs in a fixed order on one thread: the result is the same for
    any number of threads.

    Returns the weighted sum of the examples' estimated losses.
    """
    n_rows = y.shape[0]
    n_cands = cand_classes.shape[0]
    n_features = W.shape[1]
    dense = x_dense.shape[0] > 0
    # Pair p < n_cands is candidate p; pair n_cands + i is example i's true class.
    n_pairs = n_cands + n_rows
    touched = np.empty(n_pairs, dtype=np.int64)
    count = np.zeros(n_pairs + 1, dtype=np.int64)
    n_touched = 0
    for i in range(n_rows):
        for ptr in range(cand_indptr[i], cand_indptr[i + 1] + 1):
            j = y[i] if ptr == cand_indptr[i + 1] else cand_classes[ptr]
            if slot[j] < 0:
                slot[j] = n_touched
                touched[n_touched] = j
                n_touched += 1
            count[slot[j] + 1] += 1
    for r in numba.prange(n_touched):
        _catch_up(W, accumulator, last_step, touched[r], step, eta0, alpha, adagrad)

    # Pass 2: scores and gradient coefficients. pair_coef holds each
    # candidate's logit s_j + log weight_j until it becomes its coefficient.
    pair_coef = np.zeros(n_pairs, dtype=np.float64)
    row_loss = np.zeros(n_rows, dtype=np.float64)
    with_grad_x = grad_x.shape[0] > 0
    for i in numba.prange(n_rows):
        lo, hi = cand_indptr[i], cand_indptr[i + 1]
        x_lo, x_hi = (0, 0) if dense else (x_indptr[i], x_indptr[i + 1])  # dense: x_indptr is a stub
        yi = y[i]
        s_y = intercept[yi] if fit_intercept else 0.0
        s_y += _row_dot(W, yi, dense, x_dense, i, x_indices, x_data, x_lo, x_hi)
        top = s_y
        for ptr in range(lo, hi):
            if ptr + PREFETCH_DISTANCE < hi:
                ahead = cand_classes[ptr + PREFETCH_DISTANCE]
                prefetch_row(W, ahead)
                prefetch_item(intercept, ahead)
            j = cand_classes[ptr]
            if j == yi:
                pair_coef[ptr] = -np.inf
                continue
            s = intercept[j] if fit_intercept else 0.0
            s += _row_dot(W, j, dense, x_dense, i, x_indices, x_data, x_lo, x_hi)
            pair_coef[ptr] = s + cand_log_weight[ptr]
            top = max(top, pair_coef[ptr])
        total = np.exp(s_y - top)
        for ptr in range(lo, hi):
            total += np.exp(pair_coef[ptr] - top)
        log_z = top + np.log(total)
        weight = sample_weight[i]
        row_loss[i] = weight * (log_z - s_y)
        # Gradient: q_j x for every term, minus x for the true class.
        for ptr in range(lo, hi):
            logit = pair_coef[ptr]
            pair_coef[ptr] = 0.0 if (weight == 0.0 or logit == -np.inf) else weight * np.exp(logit - log_z)
        pair_coef[n_cands + i] = weight * (np.exp(s_y - log_z) - 1.0)
        if with_grad_x and weight != 0.0:
            for ptr in range(lo, hi + 1):
                p = n_cands + i if ptr == hi else ptr
                coef = pair_coef[p]
                if coef != 0.0:
                    j = yi if ptr == hi else cand_classes[ptr]
                    for f in range(n_features):
                        grad_x[i, f] += coef * W[j, f]
    total_loss = 0.0
    for i in range(n_rows):  # in order: the same sum for any thread count
        total_loss += row_loss[i]

    # Pass 3: group the pairs by touched row (counting sort, pairs kept in
    # example order), then one accumulate-and-update per row.
    for r in range(n_touched):
        count[r + 1] += count[r]
    fill = count[:n_touched].copy()
    pair_of = np.empty(n_pairs, dtype=np.int64)
    example_of = np.empty(n_pairs, dtype=np.int64)
    for i in range(n_rows):
        for ptr in range(cand_indptr[i], cand_indptr[i + 1] + 1):
            p = n_cands + i if ptr == cand_indptr[i + 1] else ptr
            j = y[i] if ptr == cand_indptr[i + 1] else cand_classes[ptr]
            r = slot[j]
            pair_of[fill[r]] = p
            fill[r] += 1
            example_of[p] = i
    n_blocks = min(n_touched, 64)  # fixed (get_num_threads would defeat the cache)
    for b in numba.prange(n_blocks):
        grad = np.zeros(n_features, dtype=np.float64)
        r_lo, r_hi = b * n_touched // n_blocks, (b + 1) * n_touched // n_blocks
        for r in range(r_lo, r_hi):
            if r + PREFETCH_DISTANCE < r_hi:
                ahead = touched[r + PREFETCH_DISTANCE]
                prefetch_row(W, ahead)
                prefetch_item(accumulator, ahead)
            j = touched[r]
            grad_b = 0.0
            for q in range(count[r], count[r + 1]):
                p = pair_of[q]
                coef = pair_coef[p]
                if coef == 0.0:
                    continue
                i = example_of[p]
                if dense:
                    for f in range(n_features):
                        grad[f] += coef * x_dense[i, f]
                else:
                    for ptr in range(x_indptr[i], x_indptr[i + 1]):
                        grad[x_indices[ptr]] += coef * x_data[ptr]
                grad_b += coef
            _apply_row(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, j, grad,
                       grad_b)  # fmt: skip
            slot[j] = -1
    return total_loss


@numba.njit(cache=True, inline="always")
def _row_sum(a, i):
    """``a[i].sum()`` in float64, four accumulators (a fixed order)."""
    n = a.shape[1]
    s0 = s1 = s2 = s3 = 0.0
    f = 0
    while f + 4 <= n:
        s0 += a[i, f]
        s1 += a[i, f + 1]
        s2 += a[i, f + 2]
        s3 += a[i, f + 3]
        f += 4
    while f < n:
        s0 += a[i, f]
        f += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(cache=True, parallel=True)
def softmax_coefficients(scores, y, sample_weight):
    """The full softmax's gradient coefficients, in place, and the loss.

    ``scores`` (n_rows, n_classes) becomes ``w_i (p_ij - [j == y_i])`` with
    ``p_i = softmax(scores_i)``, computed stably (each row shifted by its
    maximum) with one exponential per score; rows run in parallel, each on
    one thread in a fixed order. Returns ``sum_i w_i (log Z_i - s_iy)`` as
    float64 (``w`` = ``sample_weight``, already divided by the batch total).
    """
    n_rows, n_classes = scores.shape
    row_loss = np.zeros(n_rows, dtype=np.float64)
    for i in numba.prange(n_rows):
        top = scores[i, 0]
        for j in range(1, n_classes):
            top = max(top, scores[i, j])
        s_y = scores[i, y[i]]
        for j in range(n_classes):
            scores[i, j] = np.exp(scores[i, j] - top)
        total = _row_sum(scores, i)
        row_loss[i] = sample_weight[i] * (np.log(total) + (top - s_y))
        scale = sample_weight[i] / total
        for j in range(n_classes):
            scores[i, j] *= scale
        scores[i, y[i]] -= sample_weight[i]
    loss = 0.0
    for i in range(n_rows):
        loss += row_loss[i]
    return loss


@numba.njit(cache=True, inline="always")
def _apply_row(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, j, grad_row,
               grad_b):  # fmt: skip
    """The optimiser's update of class row ``j`` (already brought up to
    date) from its gradient row and intercept gradient."""
    width = W.shape[1] + (1 if fit_intercept else 0)
    rate = _update_row(W, j, grad_row, grad_b * grad_b if fit_intercept else 0.0, width, accumulator, eta0, alpha,
                       adagrad)  # fmt: skip
    if fit_intercept:
        intercept[j] -= rate * grad_b
    last_step[j] = step + 1


@numba.njit(cache=True, parallel=True)
def dense_step_apply(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, grad, grad_b):
    """Apply a full (every row) minibatch gradient with the same optimiser
    (parallel over rows; ``grad`` is overwritten)."""
    for j in numba.prange(W.shape[0]):
        _catch_up(W, accumulator, last_step, j, step, eta0, alpha, adagrad)
        _apply_row(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, j, grad[j],
                   grad_b[j])  # fmt: skip


@numba.njit(cache=True, parallel=True)
def catch_up_list(W, accumulator, last_step, rows, step, eta0, alpha, adagrad):
    """Bring the distinct ``rows`` up to date with their lazy L2 decay."""
    for r in numba.prange(rows.shape[0]):
        _catch_up(W, accumulator, last_step, rows[r], step, eta0, alpha, adagrad)


@numba.njit(cache=True, parallel=True)
def rows_step_apply(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, rows, grad,
                    grad_b):  # fmt: skip
    """Apply the gradient rows ``grad[r]`` (and ``grad_b[r]``) to the distinct
    class rows ``rows[r]``, already brought up to date (:func:`catch_up_list`),
    with the optimiser of :func:`sampled_softmax_step` (parallel over rows;
    ``grad`` is overwritten)."""
    for r in numba.prange(rows.shape[0]):
        _apply_row(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, rows[r],
                   grad[r], grad_b[r])  # fmt: skip


@numba.njit(cache=True, parallel=True)
def shared_softmax_coefficients(logits, label_scores, label_column, sample_weight, label_coef):
    """Gradient coefficients of a step whose rows share one candidate set.

    ``logits[i, k] = s_ik + log weight_k`` over the shared candidates (in
    place); row ``i``'s estimate is ``Z_hat_i = exp(s_iy) + sum_k
    exp(logits[i, k])`` without its own label's column ``label_column[i]``
    (-1: the label is not a candidate), whose entry is masked. ``logits``
    becomes ``w_i exp(logits_ik) / Z_hat_i`` (0 at the masked entry) and
    ``label_coef[i]`` ``w_i (exp(s_iy) / Z_hat_i - 1)``. Returns the loss
    ``sum_i w_i (log Z_hat_i - s_iy)``. Rows in parallel, each in a fixed
    order on one thread.
    """
    n_rows, n_cands = logits.shape
    row_loss = np.zeros(n_rows, dtype=np.float64)
    for i in numba.prange(n_rows):
        if label_column[i] >= 0:
            logits[i, label_column[i]] = -np.inf
        s_y = label_scores[i]
        top = s_y
        for k in range(n_cands):
            top = max(top, logits[i, k])
        for k in range(n_cands):
            logits[i, k] = np.exp(logits[i, k] - top)
        total = np.exp(s_y - top) + _row_sum(logits, i)
        log_z = top + np.log(total)
        weight = sample_weight[i]
        row_loss[i] = weight * (log_z - s_y)
        scale = weight / total
        for k in range(n_cands):
            logits[i, k] *= scale
        label_coef[i] = weight * (np.exp(s_y - log_z) - 1.0)
    loss = 0.0
    for i in range(n_rows):
        loss += row_loss[i]
    return loss


def dense_as_csr(X):
    """``(indptr, indices, data)`` of a dense 2-D array, every entry stored."""
    n_rows, n_features = X.shape
    indptr = np.arange(0, (n_rows + 1) * n_features, n_features, dtype=np.int64)
    indices = np.tile(np.arange(n_features, dtype=np.int32), n_rows)
    return indptr, indices, np.ascontiguousarray(X).ravel()
