"""Logit adjustment (issue 9, item 1) of LSHSoftmaxClassifier."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.datasets import make_extreme_classification


@pytest.fixture(scope="module")
def data():
    X, y = make_extreme_classification(3000, 12, n_classes=40, noise=1.5, random_state=0, dtype=np.float64)
    return X, y


def _fit(X, y, **params):
    params = {"n_bits": 3, "n_tables": 8, "max_iter": 3, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LSHSoftmaxClassifier(**params).fit(X, y)


@pytest.mark.parametrize("form", ["loss", "post-hoc"])
def test_tau_zero_changes_nothing(data, form):
    plain = _fit(*data)
    zero = _fit(*data, logit_adjustment=0.0, logit_adjustment_form=form)
    np.testing.assert_array_equal(plain.coef_, zero.coef_)
    np.testing.assert_array_equal(plain.decision_function(data[0]), zero.decision_function(data[0]))


def test_class_count_and_default_prior(data):
    X, y = data
    clf = _fit(X, y, logit_adjustment=1.0)
    counts = np.array([np.sum(y == c) for c in clf.classes_], dtype=float)
    np.testing.assert_array_equal(clf.class_count_, counts)
    np.testing.assert_allclose(np.exp(clf._log_prior()), (counts + 1) / (counts.sum() + counts.shape[0]))
    classes = np.unique(y)
    inc = LSHSoftmaxClassifier(n_bits=3, random_state=0)
    inc.partial_fit(X[:1000], y[:1000], classes=np.append(classes, 10**6))  # one class never seen
    inc.partial_fit(X[1000:], y[1000:])
    np.testing.assert_array_equal(inc.class_count_[:-1], counts)
    assert inc.class_count_[-1] == 0 and np.isfinite(inc._log_prior()).all()


@pytest.mark.parametrize("estimator", ["exact", "lsh"])
def test_post_hoc_subtracts_tau_log_prior_at_prediction(data, estimator):
    X, y = data
    plain = _fit(X, y, estimator=estimator)
    tau = 0.7
    adjusted = _fit(X, y, estimator=estimator, logit_adjustment=tau, logit_adjustment_form="post-hoc")
    np.testing.assert_array_equal(plain.coef_, adjusted.coef_)  # training is unchanged
    expected = plain.decision_function(X) - tau * adjusted._log_prior()
    np.testing.assert_allclose(adjusted.decision_function(X), expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(adjusted.predict(X), adjusted.classes_[np.argmax(expected, axis=1)])
    proba = adjusted.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels, top_proba = adjusted.predict_topk(X, k=3)
    order = np.argsort(-expected, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(labels, adjusted.classes_[order])
    np.testing.assert_allclose(top_proba, np.take_along_axis(proba, order, axis=1), rtol=1e-6)
    # The adjustment moves predictions towards the rare classes.
    rare = adjusted.class_count_ < np.median(adjusted.class_count_)
    share = lambda pred: np.isin(pred, adjusted.classes_[rare]).mean()  # noqa: E731
    assert share(adjusted.predict(X)) > share(plain.predict(X))


def test_post_hoc_lsh_retrieval_uses_the_adjusted_scores(data):
    X, y = data
    # One bit and many tables: the union holds nearly every class, so LSH
    # retrieval must agree with exact (adjusted) scoring on the top label.
    wide = {"n_bits": 1, "n_tables": 30}
    clf = _fit(X, y, **wide, logit_adjustment=1.0, logit_adjustment_form="post-hoc")
    exact_top = clf.predict_topk(X[:300], k=1)[0][:, 0]
    lsh_top = clf.predict_topk(X[:300], k=1, retrieval="lsh")[0][:, 0]
    plain_lsh_top = _fit(X, y, **wide).predict_topk(X[:300], k=1, retrieval="lsh")[0][:, 0]
    agree = np.mean(lsh_top == exact_top)
    assert agree > 0.95 and agree > np.mean(plain_lsh_top == exact_top) + 0.1, (agree, np.mean(plain_lsh_top == exact_top))


@pytest.mark.parametrize("estimator", ["exact", "uniform"])
def test_loss_form_equals_training_with_the_offsets_in_the_intercept(data, estimator):
    """The loss form trains on s_j + o_j with o = tau log pi. A plain model whose
    intercept starts at b + o sees the same scores, so the same gradients
    (the intercept has no L2 penalty): its coef_ must stay equal and its
    intercept_ stay o above. ("exact" checks the dense path; "uniform" the
    sampled kernel with shifted log weights, its candidates not depending on
    the weights.)"""
    X, y = data
    classes = np.unique(y)
    prior = np.random.default_rng(0).uniform(0.1, 1.0, classes.shape[0])
    tau = 1.3
    offset = tau * (np.log(prior) - np.log(prior.sum()))
    common = dict(estimator=estimator, n_bits=3, alpha=0.0, random_state=0, n_samples=8)
    adjusted = LSHSoftmaxClassifier(**common, logit_adjustment=tau, class_prior=prior)
    plain = LSHSoftmaxClassifier(**common)
    for clf in (adjusted, plain):  # initialise; a 1e-200 weight changes the weights by ~1e-190
        clf.partial_fit(X[:10], y[:10], classes=classes, sample_weight=np.full(10, 1e-200))
    plain.intercept_ += offset
    for clf in (adjusted, plain):
        clf.partial_fit(X, y)
    np.testing.assert_allclose(adjusted.coef_, plain.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(adjusted.intercept_ + offset, plain.intercept_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(adjusted.loss_curve_, plain.loss_curve_, rtol=1e-9, atol=1e-12)
    assert np.abs(adjusted.intercept_ - plain.intercept_).max() > 0.1  # the offsets mattered


def test_loss_form_predicts_with_the_raw_scores(data):
    X, y = data
    clf = _fit(X, y, estimator="exact", logit_adjustment=1.0)
    raw = X @ clf.coef_.T + clf.intercept_
    np.testing.assert_allclose(clf.decision_function(X), raw, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"logit_adjustment": -1.0}, ValueError, "logit_adjustment"),
        ({"logit_adjustment_form": "both"}, ValueError, "logit_adjustment_form"),
        ({"logit_adjustment": 1.0, "class_prior": [0.5, 0.5]}, ValueError, "class_prior has 2 entries, but the model has 40 classes"),
        ({"logit_adjustment": 1.0, "class_prior": np.zeros(40)}, ValueError, "positive values"),
        ({"logit_adjustment": 1.0, "class_prior": np.full(40, np.nan)}, ValueError, "class_prior contains NaN"),
    ],
)
def test_bad_logit_adjustment_parameters(data, params, error, match):
    X, y = data
    with pytest.raises(error, match=match):
        LSHSoftmaxClassifier(max_iter=1, **params).fit(X, y)


def test_post_hoc_applies_to_a_trained_model_without_refitting(data):
    X, y = data
    trained = _fit(X, y, estimator="exact")
    before = trained.decision_function(X)
    trained.set_params(logit_adjustment=0.5, logit_adjustment_form="post-hoc")
    np.testing.assert_allclose(trained.decision_function(X), before - 0.5 * trained._log_prior(), rtol=1e-6)
