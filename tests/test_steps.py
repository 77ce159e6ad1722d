"""softmax_step: the shared-set step equals the per-row kernel on the same
estimator; the exact step equals a NumPy full softmax step."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh._samplers import Candidates
from sklearn_lsh._steps import ClassLayer, softmax_step


def _layer(W, b, fit_intercept, adagrad, step=4):
    n_classes = W.shape[0]
    return ClassLayer(W, b, fit_intercept, np.linspace(0.1, 1.0, n_classes), np.arange(n_classes) % (step + 1),
                      np.full(n_classes, -1, np.int64), step, 0.2, 0.03, adagrad)  # fmt: skip


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("per_row_weights", [False, True])
@pytest.mark.parametrize("with_offset", [False, True])
def test_shared_step_equals_per_row_kernel(sparse, fit_intercept, per_row_weights, with_offset):
    rng = np.random.default_rng(0)
    n_rows, n_classes, n_features = 9, 15, 6
    X = rng.standard_normal((n_rows, n_features))
    X[X < -0.3] = 0.0
    Xb = sp.csr_matrix(X) if sparse else X
    y = rng.integers(n_classes, size=n_rows).astype(np.int64)
    y[0] = y[1]  # a repeated label
    classes = np.array([0, 2, 3, 7, 8, 11, int(y[2])])
    classes = np.unique(classes)  # some labels in the set, some not
    log_w = rng.normal(size=(n_rows, classes.shape[0])) if per_row_weights else rng.normal(size=classes.shape[0])
    wb = rng.uniform(0.5, 1.5, n_rows) / n_rows
    wb[3] = 0.0  # a zero-weight row
    offset = rng.normal(size=n_classes) if with_offset else None
    W0, b0 = rng.standard_normal((n_classes, n_features)), rng.standard_normal(n_classes)

    shared = _layer(W0.copy(), b0.copy(), fit_intercept, True)
    grad_shared = np.zeros((n_rows, n_features))
    loss_shared = softmax_step(shared, Xb, y, wb, Candidates(None, classes, log_w), offset, grad_shared)

    per_row = _layer(W0.copy(), b0.copy(), fit_intercept, True)
    indptr = np.arange(0, (n_rows + 1) * classes.shape[0], classes.shape[0], dtype=np.int64)
    flat_w = np.broadcast_to(log_w, (n_rows, classes.shape[0])).ravel()
    grad_row = np.zeros((n_rows, n_features))
    loss_row = softmax_step(per_row, Xb, y, wb, Candidates(indptr, np.tile(classes, n_rows), flat_w), offset,
                            grad_row)  # fmt: skip

    assert loss_shared == pytest.approx(loss_row, rel=1e-12)
    np.testing.assert_allclose(shared.weights, per_row.weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(shared.intercept, per_row.intercept, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(shared.accumulator, per_row.accumulator, rtol=1e-12)
    np.testing.assert_array_equal(shared.last_step, per_row.last_step)
    np.testing.assert_allclose(grad_shared, grad_row, rtol=1e-12, atol=1e-14)
    assert (shared.slot == -1).all()
