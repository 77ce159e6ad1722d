"""Low-rank input-embedding kernels against the NumPy reference, and the
chain rule through a whole low-rank step checked by finite differences."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh._kernels import _embedding, _sgd

from .reference import embedding_hidden_and_step


def _sparse_batch(seed, n_rows=6, n_features=15, density=0.3):
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, n_features, density=density, format="csr", random_state=rng)
    X.data = rng.standard_normal(X.nnz)
    return X


@pytest.mark.parametrize("adagrad", [False, True])
def test_hidden_rows_and_embedding_step_match_reference(adagrad):
    X = _sparse_batch(0)
    rng = np.random.default_rng(1)
    E = rng.standard_normal((X.shape[1], 4))
    G = np.abs(rng.normal(size=X.shape[1]))
    last = rng.integers(0, 6, size=X.shape[1])
    upstream = rng.standard_normal((X.shape[0], 4))
    step, eta0, alpha = 6, 0.2, 0.05
    E_ref, G_ref, last_ref = E.copy(), G.copy(), last.copy()
    H_ref = embedding_hidden_and_step(X, lambda H: upstream, E_ref, G_ref, last_ref, step, eta0, alpha, adagrad)

    state = (E, G, last, step, eta0, alpha, adagrad)
    H = _embedding.hidden_rows(X.indptr, X.indices, X.data, *state)
    slot = np.full(X.shape[1], -1, dtype=np.int64)
    _embedding.embedding_step(X.indptr, X.indices, X.data, upstream, *state, slot)
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(E, E_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(G, G_ref, rtol=1e-12)
    np.testing.assert_array_equal(last, last_ref)
    assert (slot == -1).all()
    absent = np.setdiff1d(np.arange(X.shape[1]), X.indices)
    assert absent.size and (last[absent] == last_ref[absent]).all()  # rows of absent features untouched


def test_hidden_rows_keeps_float32():
    X = _sparse_batch(2).astype(np.float32)
    E = np.ones((X.shape[1], 3), dtype=np.float32)
    H = _embedding.hidden_rows(X.indptr, X.indices, X.data, E, np.zeros(X.shape[1]),
                               np.zeros(X.shape[1], dtype=np.int64), 0, 0.1, 0.0, True)  # fmt: skip
    assert H.dtype == np.float32
    np.testing.assert_allclose(H, X.toarray() @ E, rtol=1e-6)


def _low_rank_loss(X, y, E, W, b):
    H = X.toarray() @ E
    scores = H @ W.T + b
    top = scores.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(scores - top).sum(axis=1))
    return float(np.mean(log_z - scores[np.arange(len(y)), y]))


def test_low_rank_step_gradient_matches_finite_differences():
    """With every class as a candidate (weight 1) the sampled step is the
    exact softmax step; its ``grad_x`` pushed through ``embedding_step``
    (alpha = 0, constant rate) moves E by ``-eta0 * dLoss/dE``, which must
    equal the finite-difference gradient of the mean log-loss."""
    X = _sparse_batch(3, n_rows=5, n_features=8, density=0.5)
    rng = np.random.default_rng(4)
    n_classes, k = 6, 3
    E = rng.standard_normal((X.shape[1], k))
    W = rng.standard_normal((n_classes, k))
    b = rng.standard_normal(n_classes)
    y = rng.integers(n_classes, size=X.shape[0])

    H = _embedding.hidden_rows(X.indptr, X.indices, X.data, E.copy(), np.zeros(X.shape[1]),
                               np.zeros(X.shape[1], dtype=np.int64), 0, 1.0, 0.0, False)  # fmt: skip
    candidates = np.concatenate([np.delete(np.arange(n_classes), y[i]) for i in range(X.shape[0])])
    indptr = np.arange(0, (X.shape[0] + 1) * (n_classes - 1), n_classes - 1, dtype=np.int64)
    grad_hidden = np.zeros_like(H)
    _sgd.sampled_softmax_step(
        H, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), y.astype(np.int64),
        np.full(X.shape[0], 1.0 / X.shape[0]), indptr, candidates.astype(np.int64), np.zeros(candidates.shape[0]),
        W.copy(), b.copy(), True, np.zeros(n_classes), np.zeros(n_classes, dtype=np.int64), 0, 1.0, 0.0, False,
        np.full(n_classes, -1, dtype=np.int64), grad_hidden,
    )  # fmt: skip
    E_new = E.copy()
    _embedding.embedding_step(X.indptr, X.indices, X.data, grad_hidden, E_new, np.zeros(X.shape[1]),
                              np.zeros(X.shape[1], dtype=np.int64), 0, 1.0, 0.0, False,
                              np.full(X.shape[1], -1, dtype=np.int64))  # fmt: skip
    analytic = E - E_new  # eta0 = 1
    numeric = np.zeros_like(E)
    eps = 1e-6
    for f in range(E.shape[0]):
        for c in range(k):
            up, down = E.copy(), E.copy()
            up[f, c] += eps
            down[f, c] -= eps
            numeric[f, c] = (_low_rank_loss(X, y, up, W, b) - _low_rank_loss(X, y, down, W, b)) / (2 * eps)
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
