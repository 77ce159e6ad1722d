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


@numba.njit(cache=True)
def catch_up_rows(W, accumulator, last_step, step, eta0, alpha, adagrad):
    """Bring every row up to date with its pending lazy L2 decay."""
    for j in range(W.shape[0]):
        _catch_up(W, accumulator, last_step, j, step, eta0, alpha, adagrad)


@numba.njit(cache=True, inline="always")
def _row_dot(W, j, dense, x_dense, i, x_indices, x_data, x_lo, x_hi):
    """``W[j] . x_i`` for a dense row ``x_dense[i]`` or the CSR slice."""
    if dense:
        return np.dot(W[j], x_dense[i])
    acc = 0.0
    for p in range(x_lo, x_hi):
        acc += W[j, x_indices[p]] * x_data[p]
    return acc


@numba.njit(cache=True, inline="always")
def _row_axpy(grad, r, coef, dense, x_dense, i, x_indices, x_data, x_lo, x_hi):
    """``grad[r] += coef * x_i`` for a dense row or the CSR slice."""
    if dense:
        for f in range(grad.shape[1]):
            grad[r, f] += coef * x_dense[i, f]
    else:
        for p in range(x_lo, x_hi):
            grad[r, x_indices[p]] += coef * x_data[p]


@numba.njit(cache=True)
def sampled_softmax_step(
    x_dense, x_indptr, x_indices, x_data, y, sample_weight,
    cand_indptr, cand_classes, cand_log_weight,
    W, intercept, fit_intercept, accumulator, last_step, step,
    eta0, alpha, adagrad, slot,
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

    Returns the weighted sum of the examples' estimated losses.
    """
    n_rows = y.shape[0]
    n_features = W.shape[1]
    dense = x_dense.shape[0] > 0
    # Rows touched by the batch: the true classes and the candidates.
    touched = np.empty(n_rows + cand_classes.shape[0], dtype=np.int64)
    n_touched = 0
    for i in range(n_rows):
        for ptr in range(cand_indptr[i], cand_indptr[i + 1] + 1):
            j = y[i] if ptr == cand_indptr[i + 1] else cand_classes[ptr]
            if slot[j] < 0:
                slot[j] = n_touched
                touched[n_touched] = j
                n_touched += 1
    for r in range(n_touched):
        _catch_up(W, accumulator, last_step, touched[r], step, eta0, alpha, adagrad)

    grad = np.zeros((n_touched, n_features), dtype=np.float64)
    grad_b = np.zeros(n_touched, dtype=np.float64)
    max_cands = 0
    for i in range(n_rows):
        max_cands = max(max_cands, cand_indptr[i + 1] - cand_indptr[i])
    logits = np.empty(max_cands + 1, dtype=np.float64)
    total_loss = 0.0
    for i in range(n_rows):
        lo, hi = cand_indptr[i], cand_indptr[i + 1]
        x_lo, x_hi = x_indptr[i], x_indptr[i + 1]
        yi = y[i]
        # Current scores; logits[k] = s_j + log weight_j, logits[hi - lo] = s_y.
        s_y = intercept[yi] if fit_intercept else 0.0
        s_y += _row_dot(W, yi, dense, x_dense, i, x_indices, x_data, x_lo, x_hi)
        top = s_y
        for ptr in range(lo, hi):
            j = cand_classes[ptr]
            if j == yi:
                logits[ptr - lo] = -np.inf
                continue
            s = intercept[j] if fit_intercept else 0.0
            s += _row_dot(W, j, dense, x_dense, i, x_indices, x_data, x_lo, x_hi)
            logits[ptr - lo] = s + cand_log_weight[ptr]
            top = max(top, logits[ptr - lo])
        total = np.exp(s_y - top)
        for k in range(hi - lo):
            total += np.exp(logits[k] - top)
        log_z = top + np.log(total)
        weight = sample_weight[i]
        total_loss += weight * (log_z - s_y)
        if weight == 0.0:
            continue
        # Gradient: q_j x for every term, minus x for the true class.
        for k in range(hi - lo + 1):
            if k < hi - lo:
                if logits[k] == -np.inf:
                    continue
                r = slot[cand_classes[lo + k]]
                coef = weight * np.exp(logits[k] - log_z)
            else:
                r = slot[yi]
                coef = weight * (np.exp(s_y - log_z) - 1.0)
            _row_axpy(grad, r, coef, dense, x_dense, i, x_indices, x_data, x_lo, x_hi)
            grad_b[r] += coef

    _apply_rows(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad,
                touched[:n_touched], grad, grad_b)
    for r in range(n_touched):
        slot[touched[r]] = -1
    return total_loss


@numba.njit(cache=True)
def _apply_rows(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, rows, grad, grad_b):
    n_features = W.shape[1]
    width = n_features + (1 if fit_intercept else 0)
    for r in range(rows.shape[0]):
        j = rows[r]
        square = 0.0
        for f in range(n_features):
            g = grad[r, f] + alpha * W[j, f]
            grad[r, f] = g
            square += g * g
        if fit_intercept:
            square += grad_b[r] * grad_b[r]
        if adagrad:
            accumulator[j] += square / width
        rate = _row_rate(accumulator, j, eta0, adagrad)
        for f in range(n_features):
            W[j, f] -= rate * grad[r, f]
        if fit_intercept:
            intercept[j] -= rate * grad_b[r]
        last_step[j] = step + 1


@numba.njit(cache=True)
def dense_step_apply(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, grad, grad_b):
    """Apply a full (every row) minibatch gradient with the same optimiser."""
    rows = np.arange(W.shape[0])
    for j in range(W.shape[0]):
        _catch_up(W, accumulator, last_step, j, step, eta0, alpha, adagrad)
    _apply_rows(W, intercept, fit_intercept, accumulator, last_step, step, eta0, alpha, adagrad, rows, grad, grad_b)


def dense_as_csr(X):
    """``(indptr, indices, data)`` of a dense 2-D array, every entry stored."""
    n_rows, n_features = X.shape
    indptr = np.arange(0, (n_rows + 1) * n_features, n_features, dtype=np.int64)
    indices = np.tile(np.arange(n_features, dtype=np.int32), n_rows)
    return indptr, indices, np.ascontiguousarray(X).ravel()
