"""SGD kernels against the NumPy reference in tests/reference.py."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh._kernels import _sgd

from .reference import sgd_sampled_step


def _problem(seed, n_rows=6, n_classes=9, n_features=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features))
    X[X < -0.5] = 0.0
    y = rng.integers(n_classes, size=n_rows)
    W = rng.standard_normal((n_classes, n_features))
    b = rng.standard_normal(n_classes)
    sizes = rng.integers(0, 5, size=n_rows)
    candidates = [rng.integers(n_classes, size=s) for s in sizes]  # repeats and the true class included
    log_weights = [rng.normal(size=s) for s in sizes]
    return X, y, W, b, candidates, log_weights


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("adagrad", [False, True])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sampled_step_matches_reference(sparse, adagrad, fit_intercept):
    X, y, W, b, candidates, log_weights = _problem(0)
    sw = np.linspace(0.5, 1.5, X.shape[0]) / X.shape[0]
    G = np.abs(np.random.default_rng(1).normal(size=W.shape[0]))
    last = np.array([0, 1, 2, 3, 4, 5, 5, 5, 5])
    step, eta0, alpha = 5, 0.3, 0.05
    W_ref, b_ref, G_ref, last_ref = W.copy(), b.copy(), G.copy(), last.copy()
    loss_ref = sgd_sampled_step(X, y, sw, candidates, log_weights, W_ref, b_ref, fit_intercept, G_ref, last_ref,
                                step, eta0, alpha, adagrad)
    if sparse:
        Xs = sp.csr_matrix(X)
        x = (np.empty((0, 0)), Xs.indptr, Xs.indices, Xs.data)
    else:
        x = (X, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0))
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in candidates])]).astype(np.int64)
    slot = np.full(W.shape[0], -1, dtype=np.int64)
    loss = _sgd.sampled_softmax_step(
        *x, y.astype(np.int64), sw, indptr,
        np.concatenate(candidates).astype(np.int64), np.concatenate(log_weights),
        W, b, fit_intercept, G, last, step, eta0, alpha, adagrad, slot, np.empty((0, 0)),
    )  # fmt: skip
    np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)
    np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b, b_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(G, G_ref, rtol=1e-12)
    np.testing.assert_array_equal(last, last_ref)
    assert (slot == -1).all()


def test_sampled_step_with_every_class_is_the_exact_step():
    """Candidates = every other class at weight 1 gives the exact softmax
    gradient, so the sampled kernel and the dense (BLAS) update agree."""
    X, y, W, b, _, _ = _problem(3)
    n_rows, n_classes = X.shape[0], W.shape[0]
    sw = np.full(n_rows, 1.0 / n_rows)
    candidates = np.concatenate([np.delete(np.arange(n_classes), y[i]) for i in range(n_rows)])
    indptr = np.arange(0, (n_rows + 1) * (n_classes - 1), n_classes - 1, dtype=np.int64)
    W1, b1, G1, last1 = W.copy(), b.copy(), np.zeros(n_classes), np.zeros(n_classes, dtype=np.int64)
    x = (np.empty((0, 0)), *_sgd.dense_as_csr(X))  # dense rows given as CSR: same result
    _sgd.sampled_softmax_step(*x, y.astype(np.int64), sw, indptr, candidates.astype(np.int64),
                              np.zeros(candidates.shape[0]), W1, b1, True, G1, last1, 0, 0.2, 0.01, True,
                              np.full(n_classes, -1, dtype=np.int64), np.empty((0, 0)))
    scores = X @ W.T + b
    proba = np.exp(scores - scores.max(1, keepdims=True))
    proba /= proba.sum(1, keepdims=True)
    proba[np.arange(n_rows), y] -= 1
    proba *= sw[:, None]
    W2, b2, G2, last2 = W.copy(), b.copy(), np.zeros(n_classes), np.zeros(n_classes, dtype=np.int64)
    _sgd.dense_step_apply(W2, b2, True, G2, last2, 0, 0.2, 0.01, True, proba.T @ X, proba.sum(0))
    np.testing.assert_allclose(W1, W2, rtol=1e-10)
    np.testing.assert_allclose(b1, b2, rtol=1e-10)
    np.testing.assert_allclose(G1, G2, rtol=1e-10)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_sampled_step_gradient_with_respect_to_the_input(fit_intercept):
    """``grad_x`` is the gradient of the batch loss in the input rows, taken
    at the weights before the update (the low-rank model's back-propagation)."""
    X, y, W, b, candidates, log_weights = _problem(4, n_rows=7)
    sw = np.full(X.shape[0], 1.0 / X.shape[0])
    G, last = np.ones(W.shape[0]), np.zeros(W.shape[0], dtype=np.int64)
    grad_ref = np.zeros_like(X)
    sgd_sampled_step(X, y, sw, candidates, log_weights, W.copy(), b.copy(), fit_intercept, G.copy(), last.copy(),
                     3, 0.1, 0.01, True, grad_x=grad_ref)
    grad_x = np.zeros_like(X)
    indptr = np.concatenate([[0], np.cumsum([len(c) for c in candidates])]).astype(np.int64)
    _sgd.sampled_softmax_step(
        X, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), y.astype(np.int64), sw, indptr,
        np.concatenate(candidates).astype(np.int64), np.concatenate(log_weights),
        W, b, fit_intercept, G, last, 3, 0.1, 0.01, True, np.full(W.shape[0], -1, dtype=np.int64), grad_x,
    )  # fmt: skip
    assert np.abs(grad_ref).sum() > 0
    np.testing.assert_allclose(grad_x, grad_ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("adagrad", [False, True])
def test_lazy_decay_equals_eager_decay(adagrad):
    """A row skipped for several steps decays exactly as if an L2-only step
    had been applied at each of them (its rate does not change meanwhile)."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3, 4))
    G = np.array([0.5, 2.0, 0.0])
    eta0, alpha = 0.1, 0.3
    lazy = W.copy()
    _sgd.catch_up_rows(lazy, G, np.array([0, 2, 7]), 7, eta0, alpha, adagrad)
    eager = W.copy()
    for j, missed in enumerate([7, 5, 0]):
        rate = eta0 / np.sqrt(G[j] + 1e-8) if adagrad else eta0
        for _ in range(missed):
            eager[j] -= rate * alpha * eager[j]
    np.testing.assert_allclose(lazy, eager, rtol=1e-12)


def test_dense_as_csr_round_trip():
    X = np.arange(12.0).reshape(3, 4)
    indptr, indices, data = _sgd.dense_as_csr(X)
    np.testing.assert_array_equal(sp.csr_matrix((data, indices, indptr), shape=X.shape).toarray(), X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_coefficients_match_reference(dtype):
    rng = np.random.default_rng(4)
    scores = (rng.standard_normal((7, 11)) * 30).astype(dtype)  # large spread: the shift matters
    y = rng.integers(11, size=7).astype(np.int64)
    w = rng.uniform(0.1, 1.0, 7)
    log_z = np.log(np.exp(scores.astype(np.float64) - scores.max(axis=1, keepdims=True)).sum(axis=1))
    log_z += scores.max(axis=1)
    want = w[:, None] * np.exp(scores.astype(np.float64) - log_z[:, None])
    want[np.arange(7), y] -= w
    want_loss = float(np.dot(w, log_z - scores[np.arange(7), y]))
    got = scores.copy()
    loss = _sgd.softmax_coefficients(got, y, w)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    assert loss == pytest.approx(want_loss, rel=tol)


@pytest.mark.parametrize("sparse", [False, True])
def test_sampled_step_is_the_same_for_any_thread_count(sparse):
    import numba

    rng = np.random.default_rng(5)
    n_rows, n_classes, n_features = 300, 400, 16
    X = rng.standard_normal((n_rows, n_features))
    X[X < 0] = 0.0
    y = rng.integers(n_classes, size=n_rows).astype(np.int64)
    sizes = rng.integers(0, 40, size=n_rows)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    classes = rng.integers(n_classes, size=indptr[-1]).astype(np.int64)
    log_w = rng.normal(size=indptr[-1])
    sw = np.full(n_rows, 1.0 / n_rows)
    results = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        W, b = np.random.default_rng(6).standard_normal((n_classes, n_features)), np.zeros(n_classes)
        G, last = np.zeros(n_classes), np.zeros(n_classes, np.int64)
        if sparse:
            Xs = sp.csr_matrix(X)
            x = (np.empty((0, 0)), Xs.indptr, Xs.indices, Xs.data)
        else:
            x = (X, np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0))
        grad_x = np.zeros((n_rows, n_features))
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            loss = _sgd.sampled_softmax_step(*x, y, sw, indptr, classes, log_w, W, b, True, G, last, 3, 0.1, 0.01,
                                             True, np.full(n_classes, -1, np.int64), grad_x)  # fmt: skip
        finally:
            numba.set_num_threads(previous)
        results.append((loss, W, b, G, last, grad_x))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
