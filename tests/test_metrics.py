import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.datasets import make_extreme_classification
from sklearn_lsh.metrics import (
    inverse_propensity,
    make_topk_scorer,
    ndcg_at_k,
    perplexity,
    precision_at_k,
    psprecision_at_k,
)


def test_precision_and_ndcg_by_hand():
    y = np.array(["a", "b", "c"])
    ranked = np.array([["a", "x", "y"], ["x", "y", "b"], ["x", "y", "z"]])
    assert precision_at_k(y, ranked, k=1) == pytest.approx(1 / 3)
    assert precision_at_k(y, ranked, k=3) == pytest.approx(2 / 9)
    assert ndcg_at_k(y, ranked, k=3) == pytest.approx((1 + 1 / np.log2(4)) / 3)
    assert ndcg_at_k(y, ranked, k=2) == pytest.approx(1 / 3)


def test_metric_errors():
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k([1], [[1, 2]], k=3)
    with pytest.raises(ValueError, match="Expected y_true"):
        ndcg_at_k([1, 2], [[1, 2]], k=1)
    with pytest.raises(TypeError, match="k must be an int"):
        precision_at_k([1], [[1, 2]], k=1.0)
    with pytest.raises(ValueError, match="0 samples"):
        precision_at_k(np.array([]), np.empty((0, 2)), k=1)


def test_inverse_propensity_matches_the_formula():
    y = np.array([0] * 70 + [1] * 25 + [2] * 5)
    a, b = 0.55, 1.5
    c = (np.log(100) - 1) * (b + 1) ** a
    w = inverse_propensity(y, classes=[0, 1, 2, 3])
    for label, n_l in ((0, 70), (1, 25), (2, 5), (3, 0)):
        assert w[label] == pytest.approx(1 + c * (n_l + b) ** (-a))
    assert w[3] > w[2] > w[1] > w[0] > 1
    assert set(inverse_propensity(y)) == {0, 1, 2}
    with pytest.raises(ValueError, match="classes misses"):
        inverse_propensity(y, classes=[0, 1])
    with pytest.raises(ValueError, match="a must be"):
        inverse_propensity(y, a=0)


def test_psprecision_by_hand():
    w = {"a": 1.0, "b": 4.0, "c": 2.0}
    y = ["a", "b", "c"]
    ranked = [["a", "c"], ["c", "b"], ["a", "b"]]
    # raw PSP@2: hits a (1) and b (4) over 3 rows, / k
    assert psprecision_at_k(y, ranked, w, k=2, normalize=False) == pytest.approx((1 + 4) / 3 / 2)
    assert psprecision_at_k(y, ranked, w, k=2) == pytest.approx((1 + 4) / (1 + 4 + 2))
    assert psprecision_at_k(y, [["a", "c"], ["b", "c"], ["c", "a"]], w, k=1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no propensity"):
        psprecision_at_k(["z"], [["a"]], w, k=1)
    with pytest.raises(TypeError, match="mapping"):
        psprecision_at_k(y, ranked, [1.0, 2.0], k=1)


@pytest.fixture(scope="module")
def problem():
    X, y = make_extreme_classification(800, 8, n_classes=30, random_state=0)
    return X[:600], y[:600], X[600:], y[600:]


def test_scorer_matches_the_metric_on_predict_topk(problem):
    X, y, X_test, y_test = problem
    clf = LSHSoftmaxClassifier(n_bits=4, n_tables=4, max_iter=3, random_state=0).fit(X, y)
    labels = clf.predict_topk(X_test, 5)[0]
    w = inverse_propensity(y, classes=clf.classes_)
    assert make_topk_scorer("precision", k=5)(clf, X_test, y_test) == precision_at_k(y_test, labels, 5)
    assert make_topk_scorer("ndcg", k=3)(clf, X_test, y_test) == ndcg_at_k(y_test, labels, 3)
    psp = make_topk_scorer("psprecision", k=5, inv_propensity=w)
    assert psp(clf, X_test, y_test) == psprecision_at_k(y_test, labels, w, 5)
    assert pickle.loads(pickle.dumps(psp))(clf, X_test, y_test) == psp(clf, X_test, y_test)
    # A pipeline ranks with its last step's predict_topk; another classifier with predict_proba.
    pipe = make_pipeline(StandardScaler(), LSHSoftmaxClassifier(n_bits=4, n_tables=4, max_iter=3, random_state=0))
    pipe.fit(X, y)
    expected = precision_at_k(y_test, pipe[-1].predict_topk(pipe[0].transform(X_test), 5)[0], 5)
    assert make_topk_scorer(k=5)(pipe, X_test, y_test) == expected
    logreg = LogisticRegression(max_iter=200).fit(X, y)
    proba = logreg.predict_proba(X_test)
    ranked = logreg.classes_[np.argsort(-proba, axis=1, kind="stable")[:, :5]]
    assert make_topk_scorer(k=5)(logreg, X_test, y_test) == pytest.approx(precision_at_k(y_test, ranked, 5))


def test_scorer_in_model_selection(problem):
    X, y, _, _ = problem
    est = LSHSoftmaxClassifier(n_bits=4, n_tables=4, max_iter=3, random_state=0)
    scores = cross_val_score(est, X, y, cv=2, scoring=make_topk_scorer("precision", k=5))
    assert scores.shape == (2,) and (scores > 1 / 30).all()  # above the chance level 1/C of P@5 x 5 / 5
    search = GridSearchCV(
        est, {"eta0": [0.02, 0.2]}, cv=2,
        scoring={"p@5": make_topk_scorer(k=5), "ndcg@5": make_topk_scorer("ndcg", k=5)}, refit="p@5",
    ).fit(X, y)  # fmt: skip
    assert set(search.cv_results_) >= {"mean_test_p@5", "mean_test_ndcg@5"}
    assert search.best_params_["eta0"] in (0.02, 0.2)


def test_scorer_errors(problem):
    with pytest.raises(ValueError, match="metric must be"):
        make_topk_scorer("recall")
    with pytest.raises(ValueError, match="needs inv_propensity"):
        make_topk_scorer("psprecision")
    with pytest.raises(ValueError, match="only used by"):
        make_topk_scorer("precision", inv_propensity={1: 1.0})
    with pytest.raises(ValueError, match="k must be"):
        make_topk_scorer(k=0)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_topk_scorer()(LSHSoftmaxClassifier(), *problem[2:])


def test_perplexity_is_exp_of_the_mean_log_loss(problem):
    from sklearn.metrics import log_loss

    X, y, X_test, y_test = problem
    clf = LSHSoftmaxClassifier("exact", max_iter=3, random_state=0).fit(X, y)
    keep = np.isin(y_test, clf.classes_)
    expected = np.exp(log_loss(y_test[keep], clf.predict_proba(X_test[keep]), labels=clf.classes_))
    assert perplexity(clf, X_test[keep], y_test[keep]) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="not trained on"):
        perplexity(clf, X_test[:1], np.array([10**9]))


def test_perplexity_of_any_probabilistic_classifier(problem):
    from sklearn.metrics import log_loss

    X, y, X_test, y_test = problem
    logreg = LogisticRegression(max_iter=300).fit(X, y)
    keep = np.isin(y_test, logreg.classes_)
    expected = np.exp(log_loss(y_test[keep], logreg.predict_proba(X_test[keep]), labels=logreg.classes_))
    assert perplexity(logreg, X_test[keep], y_test[keep]) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(TypeError, match="predict_log_proba"):
        perplexity(make_pipeline(StandardScaler()).fit(X), X, y)


def test_perplexity_that_overflows_raises_instead_of_inf():
    from sklearn_lsh import LSHSoftmaxClassifier
    from sklearn_lsh.metrics import perplexity

    X, y = np.array([[1.0, 0.0], [0.0, 1.0]] * 20), np.array([0, 1] * 20)
    clf = LSHSoftmaxClassifier("exact", max_iter=5, tol=None, random_state=0).fit(X, y)
    assert np.isfinite(perplexity(clf, X, y))
    clf.intercept_[:] = [1000.0, -1000.0]  # half the labels get probability exp(-2000)
    with pytest.raises(FloatingPointError, match="overflows float64"):
        perplexity(clf, X, y)
