"""SGD steps of a softmax class layer, given a sampler's candidates.

``softmax_step`` picks the step by the candidates' layout, as scikit-learn
picks ``_plain_sgd32`` / ``_plain_sgd64`` by dtype:

- every class ("exact"): two GEMMs and the fused softmax;
- one candidate set shared by the batch (shared uniform or prior draws):
  the touched rows gathered once, two GEMMs over them, each row's own
  estimator with its label's column masked (``_shared_step``);
- per-row candidate lists ("lsh", and sparse wide input): the sampled
  kernel (:func:`sklearn_lsh._kernels._sgd.sampled_softmax_step`).

All apply row-wise AdaGrad (or a constant rate) with lazy L2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import safe_sparse_dot

from ._kernels import _sgd
from ._parallel import gradient_by_class_blocks, scores_by_class_blocks
from ._samplers import Candidates

__all__ = ["ClassLayer", "softmax_step"]


@dataclass
class ClassLayer:
    """The arrays a step updates in place, and the optimiser's settings."""

    weights: np.ndarray  # (n_classes, width)
    intercept: np.ndarray  # (n_classes,)
    fit_intercept: bool
    accumulator: np.ndarray  # AdaGrad, per class row
    last_step: np.ndarray  # lazy L2: the step each row was last updated at
    slot: np.ndarray  # workspace of the sampled kernel (left all -1)
    step: int
    eta0: float
    alpha: float
    adagrad: bool


def softmax_step(layer: ClassLayer, Xb, yb, wb, candidates: Candidates, offset, grad_x) -> float:
    """One step of the class layer on inputs ``Xb`` (features, or the hidden
    rows of the low-rank model) with labels ``yb`` (int64) and per-row
    weights ``wb`` (already divided by the batch size). ``offset``: per-class
    logit offsets of the loss (logit adjustment) or None. ``grad_x``: None,
    or a float64 zero array that receives dL/dXb. Returns the weighted loss."""
    if candidates.complete:
        return _exact_step(layer, Xb, yb, wb, offset, grad_x)
    if candidates.shared:
        return _shared_step(layer, Xb, yb, wb, candidates, offset, grad_x)
    log_weight = candidates.log_weight
    if offset is not None:
        # Logit adjustment, loss form: the loss log Z_hat' - (s_y + o_y)
        # with Z_hat' = exp(s_y + o_y) + sum_j exp(s_j + o_j) / P_j equals
        # the kernel's loss once every candidate's log weight is shifted
        # by o_j - o_y (divide Z_hat' by exp(o_y)); its gradients too.
        row_label = np.repeat(yb, np.diff(candidates.indptr))
        log_weight = log_weight + (offset[candidates.classes] - offset[row_label])
    if sp.issparse(Xb):
        x_dense, x_indptr, x_indices, x_data = np.empty((0, 0), Xb.dtype), Xb.indptr, Xb.indices, Xb.data
    else:
        x_dense = np.ascontiguousarray(Xb)
        x_indptr, x_indices, x_data = np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, Xb.dtype)
    return _sgd.sampled_softmax_step(
        x_dense, x_indptr, x_indices, x_data, yb, wb, candidates.indptr, candidates.classes, log_weight,
        layer.weights, layer.intercept, layer.fit_intercept, layer.accumulator, layer.last_step, layer.step,
        layer.eta0, layer.alpha, layer.adagrad, layer.slot, np.empty((0, 0)) if grad_x is None else grad_x,
    )  # fmt: skip


def _exact_step(layer, Xb, yb, wb, offset, grad_x):
    """Full-softmax minibatch step: one GEMM for the scores, the fused
    softmax (one exponential per score, in place), one GEMM for the
    gradient, every row updated."""
    dense = not sp.issparse(Xb)
    n_threads = numba.get_num_threads()  # training_threads set it from n_jobs
    if dense:
        scores = scores_by_class_blocks(Xb, layer.weights, n_threads)
    else:
        scores = np.asarray(safe_sparse_dot(Xb, layer.weights.T))
    if layer.fit_intercept:
        scores += layer.intercept
    if offset is not None:
        scores += offset.astype(scores.dtype)
    scores = np.ascontiguousarray(scores)
    loss = _sgd.softmax_coefficients(scores, yb, wb.astype(np.float64))
    coefficients = scores  # w_i (p_ij - [j == y_i])
    if dense:
        grad = gradient_by_class_blocks(coefficients, Xb, n_threads)
    else:
        grad = np.ascontiguousarray(safe_sparse_dot(coefficients.T, Xb, dense_output=True))
    grad_b = coefficients.sum(axis=0) if layer.fit_intercept else np.zeros(coefficients.shape[1], coefficients.dtype)
    if grad_x is not None:
        grad_x += coefficients @ layer.weights  # at the weights before the update
    _sgd.dense_step_apply(
        layer.weights, layer.intercept, layer.fit_intercept, layer.accumulator, layer.last_step, layer.step,
        layer.eta0, layer.alpha, layer.adagrad, grad, grad_b,
    )  # fmt: skip
    return float(loss)


def _shared_step(layer, Xb, yb, wb, candidates, offset, grad_x):
    """Step on candidates shared by the batch: distinct ``classes`` with log
    weights (one per class, or one per row and class).

    Row ``i``'s estimate is exactly the per-row one: ``Z_hat_i = exp(s_iy) +
    sum_{j in S, j != y_i} exp(s_ij) w_j``, its label's own column masked
    (the label's term has weight 1): the same estimator as a per-row list
    holding the set. The class rows touched (the set and the batch's labels)
    are gathered once into ``R``; the scores are one GEMM against the set's
    rows, the gradient ``Q^T X`` another (``Q`` the coefficients) plus the
    labels' sparse terms, so a step moves ``|R|`` class rows, not one per
    (example, class) pair, at BLAS speed."""
    W, classes = layer.weights, candidates.classes
    n_rows, n_set = Xb.shape[0], classes.shape[0]
    slot = layer.slot
    slot[classes] = np.arange(n_set)
    label_column = slot[yb].copy()
    slot[classes] = -1
    extra = np.unique(yb[label_column < 0])
    rows = np.concatenate([classes, extra])
    label_row = np.where(label_column >= 0, label_column, n_set + np.searchsorted(extra, yb))
    _sgd.catch_up_list(W, layer.accumulator, layer.last_step, rows, layer.step, layer.eta0, layer.alpha,
                       layer.adagrad)  # fmt: skip
    R = W[rows]
    R_set, R_label = R[:n_set], R[label_row]
    logits = np.ascontiguousarray(safe_sparse_dot(Xb, R_set.T, dense_output=True))  # (n_rows, |S|)
    if sp.issparse(Xb):
        label_scores = np.asarray(Xb.multiply(R_label).sum(axis=1), dtype=np.float64).ravel()
    else:
        label_scores = np.einsum("ij,ij->i", Xb, R_label).astype(np.float64)
    if layer.fit_intercept:
        logits += layer.intercept[classes]
        label_scores += layer.intercept[yb]
    if offset is not None:
        logits += offset[classes].astype(logits.dtype)
        label_scores += offset[yb]
    logits += candidates.log_weight.astype(logits.dtype)
    label_coef = np.empty(n_rows)
    loss = _sgd.shared_softmax_coefficients(logits, label_scores, label_column, wb.astype(np.float64), label_coef)
    coef = logits  # (n_rows, |S|) coefficients; the labels' in label_coef
    labels = sp.csr_matrix((label_coef.astype(coef.dtype), (label_row, np.arange(n_rows))), shape=(rows.shape[0], n_rows))
    grad = np.zeros((rows.shape[0], W.shape[1]), dtype=coef.dtype)
    grad[:n_set] = safe_sparse_dot(coef.T, Xb, dense_output=True)
    grad += safe_sparse_dot(labels, Xb, dense_output=True)
    grad_b = np.zeros(rows.shape[0], dtype=coef.dtype)
    if layer.fit_intercept:
        grad_b[:n_set] = coef.sum(axis=0)
        np.add.at(grad_b, label_row, label_coef.astype(coef.dtype))
    if grad_x is not None:  # at the weights before the update
        grad_x += coef @ R_set
        grad_x += label_coef[:, None] * R_label
    _sgd.rows_step_apply(
        W, layer.intercept, layer.fit_intercept, layer.accumulator, layer.last_step, layer.step,
        layer.eta0, layer.alpha, layer.adagrad, rows, grad, grad_b,
    )  # fmt: skip
    return float(loss)
