"""SGD steps of a softmax class layer, given a sampler's candidates.

``softmax_step`` picks the step by the candidates' layout, as scikit-learn
picks ``_plain_sgd32`` / ``_plain_sgd64`` by dtype: the shared set of every
class ("exact") runs through BLAS; per-row candidate lists run through the
sampled kernel (:func:`sklearn_lsh._kernels._sgd.sampled_softmax_step`).
Both apply row-wise AdaGrad (or a constant rate) with lazy L2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import safe_sparse_dot

from ._kernels import _sgd
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
    if candidates.shared:
        return _exact_step(layer, Xb, yb, wb, offset, grad_x)
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
    scores = np.asarray(safe_sparse_dot(Xb, layer.weights.T))
    if layer.fit_intercept:
        scores += layer.intercept
    if offset is not None:
        scores += offset.astype(scores.dtype)
    scores = np.ascontiguousarray(scores)
    loss = _sgd.softmax_coefficients(scores, yb, wb.astype(np.float64))
    coefficients = scores  # w_i (p_ij - [j == y_i])
    grad = np.ascontiguousarray(safe_sparse_dot(coefficients.T, Xb, dense_output=True))
    grad_b = coefficients.sum(axis=0) if layer.fit_intercept else np.zeros(coefficients.shape[1], coefficients.dtype)
    if grad_x is not None:
        grad_x += coefficients @ layer.weights  # at the weights before the update
    _sgd.dense_step_apply(
        layer.weights, layer.intercept, layer.fit_intercept, layer.accumulator, layer.last_step, layer.step,
        layer.eta0, layer.alpha, layer.adagrad, grad, grad_b,
    )  # fmt: skip
    return float(loss)
