"""Thread counts and the class-blocked GEMMs of sklearn_lsh._parallel."""

import numba
import numpy as np
import pytest
from sklearn.datasets import make_classification

from sklearn_lsh import LSHSoftmaxClassifier, _parallel


def _reference_scores(X, W, block):
    return np.concatenate([X @ W[lo : lo + block].T for lo in range(0, W.shape[0], block)], axis=1)


@pytest.mark.parametrize("n_classes", [1, 7, 64, 65, 130])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_blocked_products_match_numpy(monkeypatch, n_classes, dtype):
    monkeypatch.setattr(_parallel, "CLASS_BLOCK", 64)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 5)).astype(dtype)
    W = rng.standard_normal((n_classes, 5)).astype(dtype)
    G = rng.standard_normal((9, n_classes)).astype(dtype)
    for n_threads in (1, 2, 3):
        scores = _parallel.scores_by_class_blocks(X, W, n_threads)
        gradient = _parallel.gradient_by_class_blocks(G, X, n_threads)
        assert scores.dtype == dtype and gradient.dtype == dtype
        # bit-identical to the same blocks computed serially, whatever the thread count
        np.testing.assert_array_equal(scores, _reference_scores(X, W, 64))
        np.testing.assert_array_equal(
            gradient, np.concatenate([G[:, lo : lo + 64].T @ X for lo in range(0, n_classes, 64)], axis=0)
        )
        np.testing.assert_allclose(scores, X @ W.T, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_n_threads(n_jobs):
    n = _parallel.n_threads(n_jobs)
    assert 1 <= n <= numba.config.NUMBA_NUM_THREADS
    if n_jobs in (None, 1):
        assert n == 1


def test_exact_fit_over_several_class_blocks_does_not_depend_on_n_jobs(monkeypatch):
    # blocks of 4 classes: the 10 classes' GEMMs run in 3 blocks, on 1 or 2 threads
    monkeypatch.setattr(_parallel, "CLASS_BLOCK", 4)
    X, y = make_classification(n_samples=300, n_features=10, n_informative=8, n_classes=10,
                               n_clusters_per_class=1, random_state=0)  # fmt: skip
    fits = [LSHSoftmaxClassifier(estimator="exact", max_iter=3, tol=None, random_state=0, n_jobs=n_jobs).fit(X, y)
            for n_jobs in (None, 2)]  # fmt: skip
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert fits[0].score(X, y) > 0.5
