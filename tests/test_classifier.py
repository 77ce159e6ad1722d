"""LSHSoftmaxClassifier: behaviour (the scikit-learn checks are in test_common.py)."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numba
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_lsh import LSHSoftmaxClassifier, _prediction

ESTIMATORS = ["lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel"]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=400, n_features=12, n_informative=8, n_classes=6, n_clusters_per_class=1, random_state=0
    )
    return X, y


def _fit(X, y, **params):
    params = {"estimator": "lsh", "n_bits": 2, "n_tables": 4, "n_samples": 2, "max_iter": 8, "tol": None, "random_state": 0,
              **params}  # fmt: skip
    return LSHSoftmaxClassifier(**params).fit(X, y)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_learns(data, estimator):
    X, y = data
    # two draws per example (many of which hit the label) are too noisy for this bar
    clf = _fit(X, y, estimator=estimator, **({"n_samples": 8} if estimator in ("lsh-draw", "prior") else {}))
    assert clf.score(X, y) > 0.7
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.coef_.shape == (6, 12) and clf.intercept_.shape == (6,)
    assert clf.n_iter_ == 8 and clf.t_ == 8 * int(np.ceil(400 / 128))
    if estimator == "exact":
        assert clf.mean_classes_scored_ == 6
    elif estimator in ("lsh-draw", "mips-gumbel"):  # draws repeat classes: a count of terms, not classes
        assert 1 < clf.mean_classes_scored_ <= 6 + 8
    else:
        assert 1 < clf.mean_classes_scored_ < 6
    assert (clf.n_rebuilds_ > 0) == (estimator in ("lsh", "lsh-draw", "mips-gumbel"))
    if estimator in ("exact", "uniform", "prior"):  # no tables
        assert clf.inner_products_per_example_ == clf.mean_classes_scored_
    else:  # hashing, table builds and the scores behind P_j are counted too
        assert clf.inner_products_per_example_ > clf.mean_classes_scored_


@pytest.mark.parametrize("n_components", [None, 4])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_same_seed_same_model_and_other_seed_differs(data, estimator, n_components):
    X, y = data
    a, b, c = (_fit(X, y, estimator=estimator, random_state=s, n_components=n_components) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert not np.array_equal(a.coef_, c.coef_)


@pytest.mark.parametrize("n_components", [None, 4])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_partial_fit_k_times_equals_fit_k_epochs(data, estimator, n_components):
    X, y = data
    # The default prior of "prior" is the smoothed label counts seen so far, which partial_fit
    # accumulates call by call (k times the counts of fit): give both the same explicit prior.
    extra = {"class_prior": np.arange(1.0, 7.0)} if estimator == "prior" else {}
    full = _fit(X, y, estimator=estimator, max_iter=3, shuffle=False, n_components=n_components, **extra)
    inc = LSHSoftmaxClassifier(estimator, n_bits=2, n_tables=4, n_samples=2, shuffle=False, random_state=0,
                               n_components=n_components, **extra)  # fmt: skip
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_allclose(inc.coef_, full.coef_, rtol=1e-12)
    np.testing.assert_allclose(inc.intercept_, full.intercept_, rtol=1e-12)
    assert inc.t_ == full.t_ and inc.n_iter_ == 3


def test_partial_fit_label_errors(data):
    X, y = data
    clf = LSHSoftmaxClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y, classes=np.arange(5))  # label 5 missing
    assert not hasattr(clf, "coef_")  # the failed first call left nothing behind
    clf.partial_fit(X, y, classes=np.arange(6))
    before = clf.coef_.copy()
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, np.where(y == 0, 99, y))
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=np.arange(7))
    np.testing.assert_array_equal(clf.coef_, before)
    with pytest.raises(ValueError, match="balanced"):
        clone(clf).set_params(class_weight="balanced").partial_fit(X, y, classes=np.arange(6))


def test_string_labels_round_trip(data):
    X, y = data
    names = np.array(["ant", "bee", "cat", "dog", "eel", "fox"], dtype=object)
    clf = _fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    pred = clf.predict(X)
    assert set(pred) <= set(names)
    labels, proba = clf.predict_topk(X, k=3)
    assert labels.dtype == object and labels.shape == (400, 3)
    np.testing.assert_array_equal(labels[:, 0], pred)


def test_clone_get_set_params():
    clf = LSHSoftmaxClassifier(n_bits=7, eta0=0.3, random_state=4)
    other = clone(clf)
    assert other.get_params() == clf.get_params()
    other.set_params(n_tables=3)
    assert other.n_tables == 3 and clf.n_tables == 16


@pytest.mark.parametrize("n_components", [None, 4])
def test_pickle_and_joblib_in_a_fresh_process(data, tmp_path, n_components):
    X, y = data
    clf = _fit(X, y, n_components=n_components)
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "model.joblib")
    with open(tmp_path / "model.pkl", "wb") as f:
        pickle.dump(clf, f)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", expected)
    code = textwrap.dedent(
        f"""
        import pickle, joblib, numpy as np
        X = np.load({str(tmp_path / "X.npy")!r}); expected = np.load({str(tmp_path / "expected.npy")!r})
        a = joblib.load({str(tmp_path / "model.joblib")!r})
        with open({str(tmp_path / "model.pkl")!r}, "rb") as f:
            b = pickle.load(f)
        assert np.array_equal(a.predict_proba(X), expected)
        assert np.array_equal(b.predict_proba(X), expected)
        assert np.array_equal(a.predict_topk(X, 2, retrieval="lsh")[0], b.predict_topk(X, 2, retrieval="lsh")[0])
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_pipeline_and_grid_search(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), LSHSoftmaxClassifier(n_tables=4, max_iter=3, tol=None, random_state=0))
    search = GridSearchCV(pipe, {"lshsoftmaxclassifier__n_bits": [1, 2], "lshsoftmaxclassifier__eta0": [0.1, 0.3]},
                          cv=2)
    search.fit(X, y)
    assert search.best_params_["lshsoftmaxclassifier__n_bits"] in (1, 2)
    assert search.score(X, y) > 0.5


def test_sparse_input_and_float32(data):
    X, y = data
    X32 = X.astype(np.float32)
    dense = _fit(X32, y)
    sparse = _fit(sp.csr_matrix(X32), y)
    assert dense.coef_.dtype == np.float32 and dense.intercept_.dtype == np.float32
    assert dense.predict_proba(X32).dtype == np.float32
    np.testing.assert_allclose(dense.coef_, sparse.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(dense.predict(X32), sparse.predict(sp.csr_matrix(X32)))


def test_pandas_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = _fit(frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_components", [None, 3])
def test_predictions_are_consistent_and_blocked(data, sparse, n_components, monkeypatch):
    X, y = data
    X = sp.csr_matrix(X) if sparse else X
    clf = _fit(X, y, n_components=n_components)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), clf.predict_log_proba(X), rtol=1e-10)
    scores = clf.decision_function(X)
    want_scores = np.asarray(X @ clf.coef_.T) + clf.intercept_
    np.testing.assert_allclose(scores, want_scores, rtol=1e-12, atol=1e-12)
    log_z = np.log(np.exp(want_scores - want_scores.max(axis=1, keepdims=True)).sum(axis=1)) + want_scores.max(axis=1)
    np.testing.assert_allclose(clf.predict_log_proba(X), want_scores - log_z[:, None], rtol=1e-12, atol=1e-12)
    label_index = np.searchsorted(clf.classes_, y)
    log_p = clf.predict_log_proba_of(X, y)
    np.testing.assert_allclose(log_p, want_scores[np.arange(len(y)), label_index] - log_z, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :4]
    # Blocks of 3 rows x 2 classes (CSR: one row): the same results to rounding.
    monkeypatch.setattr(_prediction, "BLOCK_BYTES", 48)
    monkeypatch.setattr(_prediction, "BLOCK_ROWS", 3)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba_of(X, y), log_p, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X), scores, rtol=1e-12, atol=1e-12)  # BLAS: other shapes, other roundings
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(axis=1)])
    labels, top_proba = clf.predict_topk(X, k=4)
    np.testing.assert_array_equal(labels, clf.classes_[order])
    np.testing.assert_allclose(top_proba, np.take_along_axis(proba, order, axis=1), rtol=1e-10)


def test_exact_predictions_do_not_depend_on_n_jobs(data):
    X, y = data
    clf = _fit(X, y)
    results = []
    for n_jobs in (None, 2):
        clf.set_params(n_jobs=n_jobs)
        results.append([clf.predict(X), clf.predict_proba(X), *clf.predict_topk(X, k=3), clf.predict_log_proba_of(X, y)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_binary_decision_function(data):
    X, y = data
    clf = _fit(X, y % 2)
    scores = clf.decision_function(X)
    assert scores.shape == (X.shape[0],)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])


def test_lsh_topk_retrieval_recovers_exact_top_k():
    X, y = make_classification(n_samples=500, n_features=16, n_informative=12, n_classes=40,
                               n_clusters_per_class=1, class_sep=3, random_state=0)
    clf = LSHSoftmaxClassifier(n_bits=2, n_tables=8, max_iter=10, tol=None, random_state=0).fit(X, y)
    exact, _ = clf.predict_topk(X, k=1)
    lsh, proba = clf.predict_topk(X, k=1, retrieval="lsh")
    assert np.mean(exact == lsh) > 0.9
    assert np.all((proba > 0) & np.isfinite(proba))
    with pytest.raises(ValueError, match="k must be an int"):
        clf.predict_topk(X, k=41)
    with pytest.raises(ValueError, match="retrieval must be"):
        clf.predict_topk(X, k=1, retrieval="approx")


def test_sample_and_class_weights(data):
    X, y = data
    sw = np.ones(X.shape[0])
    with pytest.raises(ValueError, match="Negative values"):
        _fit(X, y, max_iter=1).fit(X, y, sample_weight=-sw)
    with pytest.raises(ValueError, match="shape"):
        _fit(X, y, max_iter=1).fit(X, y, sample_weight=sw[:-1])
    heavy = _fit(X, y, class_weight={0: 20.0})
    plain = _fit(X, y)
    assert np.mean(heavy.predict(X) == 0) > np.mean(plain.predict(X) == 0)
    balanced = _fit(X, y, class_weight="balanced")
    assert balanced.score(X, y) > 0.6
    with pytest.raises(ValueError, match="not in classes_"):
        _fit(X, y, class_weight={"nope": 1.0})


def test_early_stopping_and_tol(data):
    X, y = data
    clf = _fit(X, y, early_stopping=True, tol=1e-3, n_iter_no_change=2, max_iter=200)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.validation_scores_[-1] < clf.validation_scores_[0]


def test_warm_start_continues(data):
    X, y = data
    clf = _fit(X, y, max_iter=2, warm_start=True)
    t_before = clf.t_
    clf.fit(X, y)
    assert clf.t_ == 2 * t_before
    with pytest.raises(ValueError, match="warm_start"):
        clf.fit(X[:, :5], y)
    assert clf.coef_.shape == (6, 12)  # the failed fit kept the model


def test_failed_fit_keeps_previous_model(data):
    X, y = data
    clf = _fit(X, y)
    coef = clf.coef_.copy()
    with pytest.raises(FloatingPointError, match="eta0"):
        clf.set_params(eta0=1.0, learning_rate="constant", estimator="exact").fit(X * 1e200, y)
    np.testing.assert_array_equal(clf.coef_, coef)


def test_one_class_raises(data):
    X, _ = data
    with pytest.raises(ValueError, match="at least 2 classes"):
        LSHSoftmaxClassifier().fit(X, np.zeros(X.shape[0]))


def test_n_jobs_restores_numba_threads(data):
    X, y = data
    before = numba.get_num_threads()
    clf = _fit(X, y, n_jobs=-1, max_iter=1)
    clf.predict_topk(X, k=2)
    assert numba.get_num_threads() == before


def test_prior_draws_learn_fill_empty_samples_and_are_counted(data):
    X, y = data
    # 6 bits and 2 tables over 6 classes: most unions hold nothing but the label.
    base = _fit(X, y, n_bits=6, n_tables=2)
    prior = _fit(X, y, n_bits=6, n_tables=2, n_prior_samples=4)
    assert prior.score(X, y) > 0.7
    assert base.n_empty_samples_ > 0
    assert prior.n_empty_samples_ < base.n_empty_samples_ / 10
    assert prior.mean_classes_scored_ > base.mean_classes_scored_
    assert prior.inner_products_per_example_ > base.inner_products_per_example_


@pytest.mark.parametrize("estimator", ["exact", "uniform", "prior", "lsh-draw", "mips-gumbel"])
def test_prior_draws_are_ignored_by_other_estimators(data, estimator):
    X, y = data
    np.testing.assert_array_equal(
        _fit(X, y, estimator=estimator, max_iter=2).coef_,
        _fit(X, y, estimator=estimator, max_iter=2, n_prior_samples=5).coef_,
    )


@pytest.mark.parametrize(
    "design", [{"table_design": "pairs", "n_bits": 2, "n_tables": 6}, {"table_design": "scan", "n_bits": 8, "probe_radius": 2},
               {"table_design": "independent", "probe_radius": 1}],
)
def test_table_designs_learn_and_reach_the_index(data, design):
    X, y = data
    clf = _fit(X, y, estimator="lsh", **design)
    assert clf.score(X, y) > 0.7
    assert clf._index.table_design == design["table_design"]
    assert clf._index.probe_radius == design.get("probe_radius", 0)
    labels, _ = clf.predict_topk(X[:5], k=2, retrieval="lsh")
    assert labels.shape == (5, 2)


@pytest.mark.parametrize(
    "params, match",
    [({"table_design": "pairs", "n_tables": 16}, "n_tables = m"), ({"probe_radius": 2}, "needs table_design='scan'"),
     ({"table_design": "scan", "n_bits": 8, "probe_radius": 9}, r"\[0, n_bits=8\]"),
     ({"table_design": "pairs", "n_bits": 5, "n_tables": 6}, "even n_bits")],
)
def test_inconsistent_table_parameters_fail_before_training(data, params, match):
    X, y = data
    clf = LSHSoftmaxClassifier(random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")


@pytest.mark.parametrize("estimator", ["lsh", "prior", "exact"])
def test_fits_do_not_depend_on_n_jobs(data, estimator):
    # the kernels' sums run in a fixed order on one thread per row, and BLAS
    # runs on one thread during training: bit-identical for any n_jobs
    X, y = data
    fits = [_fit(X, y, estimator=estimator, n_jobs=n_jobs, max_iter=2) for n_jobs in (None, 2)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)


def test_auto_estimator_trains_exact_for_few_classes_and_prior_for_many(data, monkeypatch, capsys):
    import sklearn_lsh._classifier as module
    from sklearn_lsh import auto_estimator

    assert (auto_estimator(2), auto_estimator(1024), auto_estimator(1025)) == ("exact", "exact", "prior")
    X, y = data
    clf = LSHSoftmaxClassifier(max_iter=2, tol=None, random_state=0, verbose=1).fit(X, y)
    assert clf.estimator == "auto" and clf.estimator_ == "exact"
    assert clf.mean_classes_scored_ == clf.classes_.shape[0]  # every class, every step
    assert capsys.readouterr().out.startswith("-- estimator='auto': 'exact' for 6 classes")
    exact = LSHSoftmaxClassifier("exact", max_iter=2, tol=None, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, exact.coef_)
    # above the threshold (lowered here to 4 classes) "auto" is "prior", draws and all
    monkeypatch.setattr(module, "AUTO_EXACT_MAX_CLASSES", 4)
    clf = LSHSoftmaxClassifier(max_iter=2, tol=None, random_state=0).fit(X, y)
    prior = LSHSoftmaxClassifier("prior", max_iter=2, tol=None, random_state=0).fit(X, y)
    assert clf.estimator_ == "prior"
    np.testing.assert_array_equal(clf.coef_, prior.coef_)
    # an explicit estimator is used as given; a later call follows set_params
    clf.set_params(estimator="lsh", n_bits=2, n_tables=4).partial_fit(X, y)
    assert clf.estimator_ == "lsh" and clf.n_rebuilds_ > 0


def test_defaults_converge_without_warning_on_an_easy_problem(data):
    from sklearn.exceptions import ConvergenceWarning

    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = LSHSoftmaxClassifier(random_state=0).fit(X, y)
    assert 5 < clf.n_iter_ < clf.max_iter and clf.score(X, y) > 0.7  # (a linear model on make_classification)
