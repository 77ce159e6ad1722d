"""LSHSoftmaxClassifier with n_components: the low-rank (fastText-style) mode."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.datasets import make_extreme_classification


@pytest.fixture(scope="module")
def text_data():
    X, y = make_extreme_classification(3000, 2000, 40, sparse=True, n_nonzero=20, random_state=0)
    return X[:2400], y[:2400], X[2400:], y[2400:]


@pytest.mark.parametrize("estimator", ["lsh", "exact", "uniform"])
def test_low_rank_learns_sparse_text_like_data(text_data, estimator):
    X, y, X_test, y_test = text_data
    clf = LSHSoftmaxClassifier(estimator, n_components=16, n_bits=3, n_tables=8, n_samples=4, max_iter=10,
                               tol=None, random_state=0).fit(X, y)  # fmt: skip
    majority = np.mean(y_test == np.bincount(y).argmax())
    assert clf.score(X_test, y_test) > max(0.6, 2 * majority)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.embedding_.shape == (2000, 16) and clf.class_embedding_.shape == (40, 16)
    assert clf.embedding_.dtype == np.float32 and clf.class_embedding_.dtype == np.float32
    labels, proba = clf.predict_topk(X_test, k=3, retrieval="lsh" if estimator == "lsh" else "exact")
    assert labels.shape == (600, 3) and np.all(np.diff(proba, axis=1) <= 1e-7)


def test_only_the_batch_features_embedding_rows_change(text_data):
    X, y, _, _ = text_data
    clf = LSHSoftmaxClassifier(n_components=4, alpha=0.0, batch_size=8, random_state=0)
    clf.partial_fit(X[:8], y[:8], classes=np.arange(40))
    before = clf.embedding_.copy()
    clf.partial_fit(X[8:16], y[8:16])
    changed = np.flatnonzero(np.any(clf.embedding_ != before, axis=1))
    present = np.unique(X[8:16].indices)
    assert changed.size > 0 and set(changed) <= set(present)


def test_coef_is_the_product_when_it_fits_and_a_clear_error_otherwise(text_data):
    X, y, X_test, _ = text_data
    clf = LSHSoftmaxClassifier(n_components=8, max_iter=2, tol=None, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.coef_, clf.class_embedding_ @ clf.embedding_.T)
    H = X_test @ clf.embedding_
    np.testing.assert_allclose(clf.decision_function(X_test), H @ clf.class_embedding_.T + clf.intercept_,
                               rtol=1e-4, atol=1e-5)  # fmt: skip
    with sklearn.config_context(working_memory=0.1):  # 100 kB < 40 x 2000 x 4 bytes
        with pytest.raises(AttributeError, match=r"not materialised in the low-rank mode.*class_embedding_"):
            clf.coef_
        assert not hasattr(clf, "coef_")
        clf.predict(X_test)  # prediction never needs the product
    with pytest.raises(AttributeError, match="low-rank mode"):
        clf.coef_ = np.zeros((40, 2000))
    full = LSHSoftmaxClassifier(max_iter=1, tol=None, random_state=0).fit(X[:200].toarray()[:, :50], y[:200])
    with pytest.raises(AttributeError, match="class_embedding_"):
        full.class_embedding_


def test_architecture_cannot_change_under_partial_fit_or_warm_start(text_data):
    X, y, _, _ = text_data
    clf = LSHSoftmaxClassifier(n_components=4, random_state=0).partial_fit(X, y, classes=np.arange(40))
    state = clf.embedding_.copy()
    with pytest.raises(ValueError, match="partial_fit cannot change the architecture"):
        clf.set_params(n_components=8).partial_fit(X, y)
    np.testing.assert_array_equal(clf.embedding_, state)
    warm = LSHSoftmaxClassifier(n_components=4, warm_start=True, max_iter=1, tol=None, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="n_components"):
        warm.set_params(n_components=None).fit(X, y)
    assert warm.embedding_.shape == (2000, 4)  # the failed fit kept the model
    # Without warm_start a new fit may change the architecture.
    clone(warm).set_params(warm_start=False, n_components=None).fit(X[:300].toarray(), y[:300])


def test_dense_and_sparse_input_give_the_same_low_rank_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 10)).astype(np.float32)
    X[X < 0.3] = 0.0
    y = rng.integers(0, 5, 300)
    params = dict(n_components=3, estimator="exact", max_iter=3, tol=None, random_state=0)
    dense = LSHSoftmaxClassifier(**params).fit(X, y)
    sparse = LSHSoftmaxClassifier(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.class_embedding_, sparse.class_embedding_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(dense.embedding_, sparse.embedding_, rtol=1e-4, atol=1e-6)


def test_low_rank_memory_is_independent_of_the_full_coef_size():
    """10^6 features x 500 classes: a full coef_ would be 2 GB in float32.
    The low-rank fit allocates O((n_features + n_classes) x n_components)
    (plus the data), checked with tracemalloc, which sees numpy's buffers."""
    n_features, n_classes, k = 1_000_000, 500, 4
    X, y = make_extreme_classification(2000, n_features, n_classes, sparse=True, n_nonzero=10, random_state=0)
    tracemalloc.start()
    try:
        clf = LSHSoftmaxClassifier(n_components=k, max_iter=1, tol=None, random_state=0).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # embedding (16 MB) + its float64 AdaGrad state, step and slot arrays (24 MB)
    assert peak < 80 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert clf.embedding_.nbytes == n_features * k * 4


@pytest.mark.parametrize("estimator", ["lsh", "exact", "uniform"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_and_csr_input_give_the_same_low_rank_model(estimator, dtype):
    # Zeros of dense rows are not features of the row: with the lazy L2 decay
    # (alpha > 0) a step must touch the same embedding rows for both layouts,
    # and explicit zeros stored in a CSR matrix count as absent too.
    rng = np.random.default_rng(1)
    # sparse enough that a batch of 128 rows misses some features
    X = rng.standard_normal((1000, 60)) * (rng.random((1000, 60)) < 0.05)
    X = X.astype(dtype)
    y = rng.integers(0, 30, 1000)
    explicit_zeros = sp.csr_matrix(X)
    explicit_zeros.data[::5] = 0.0  # stored, but zero
    X_with_zeros = explicit_zeros.toarray()
    params = dict(estimator=estimator, n_components=8, alpha=1e-3, n_samples=3, max_iter=3, tol=None, random_state=0)
    for dense, csr in ((X, sp.csr_matrix(X)), (X_with_zeros, explicit_zeros)):
        a = LSHSoftmaxClassifier(**params).fit(dense, y)
        b = LSHSoftmaxClassifier(**params).fit(csr, y)
        for name in ("embedding_", "class_embedding_", "intercept_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        # prediction multiplies by the embedding through BLAS (dense) or a sparse product: rounding apart
        np.testing.assert_allclose(a.predict_proba(dense), b.predict_proba(csr), rtol=1e-4 if dtype == np.float32
                                   else 1e-12)  # fmt: skip
