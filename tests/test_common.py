"""Common tests (issue 20, item 7).

1. One ``parametrize_with_checks`` over every public estimator, discovered
   from ``sklearn_lsh.__all__`` (``ESTIMATOR_SETTINGS`` adds the parameter
   settings worth checking per class); a test makes sure the discovery
   misses no public estimator.
2. The classifier contract, parametrised over both classifiers
   (``CLASSIFIERS``; the factories are shared with ``test_bad_input.py``,
   ``test_persistence.py`` and ``test_fuzz.py``). A contract behaviour
   that one classifier lacks (mostly TwoComponentSoftmaxClassifier) is a
   strict xfail marked "<kind> drift" (``drift``): it turns into a failure
   when the shared SGD-softmax base gives the behaviour to both
   classifiers, so that the mark is removed then.
"""

import importlib
import inspect
import pkgutil
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_lsh
from sklearn_lsh import (
    LSHSoftmaxClassifier,
    SimHashBucketEncoder,
    SimHashTransformer,
    TwoComponentSoftmaxClassifier,
)

# ------------------------------------------------------------ discovery
_SGD_REASON = (
    "stochastic minibatch SGD: a zero-weight or repeated row still takes a slot in the shuffled "
    "minibatches, so the optimisation path differs (as for scikit-learn's SGDClassifier)"
)

# Parameter settings checked per class, besides ``random_state=0``. A class
# missing here is checked with its defaults.
ESTIMATOR_SETTINGS = {
    LSHSoftmaxClassifier: (
        [{"estimator": name} for name in ("lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel")]
        + [{"estimator": name, "n_components": 8} for name in ("lsh", "exact")]
        + [{"logit_adjustment": 1.0, "logit_adjustment_form": form} for form in ("loss", "post-hoc")]
        + [{"n_prior_samples": 5}]
    ),
    TwoComponentSoftmaxClassifier: [{}, {"reassign": "exact"}, {"reassign": None}],
    SimHashTransformer: [{}, {"n_bits": 100, "output": "binary", "density": 0.5}, {"output": "packed"}],
    SimHashBucketEncoder: [{"n_bits": 4, "n_tables": 3}, {"n_bits": 4, "n_tables": 3, "density": "auto"}],
}


def public_estimators():
    """The BaseEstimator subclasses exported by ``sklearn_lsh.__all__``."""
    found = []
    for name in sklearn_lsh.__all__:
        value = getattr(sklearn_lsh, name)
        if inspect.isclass(value) and issubclass(value, BaseEstimator):
            found.append(value)
    return found


def _estimators_of_public_modules():
    """BaseEstimator subclasses importable under a public name from any
    public module of the package (no path segment starting with "_")."""
    modules = [sklearn_lsh] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(sklearn_lsh.__path__, "sklearn_lsh.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    found = {}
    for module in modules:
        names = getattr(module, "__all__", [name for name in vars(module) if not name.startswith("_")])
        for name in names:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseEstimator):
                if value.__module__.startswith("sklearn_lsh"):  # not a re-exported scikit-learn class
                    found[value] = f"{module.__name__}.{name}"
    return found


def _instances():
    out = []
    for cls in public_estimators():
        for params in ESTIMATOR_SETTINGS.get(cls, [{}]):
            estimator = cls(**params)
            if "random_state" in estimator.get_params():
                estimator.set_params(random_state=0)
            out.append(estimator)
    return out


CHECKED = _instances()


def _expected_failed_checks(estimator):
    if is_classifier(estimator):
        return {
            "check_sample_weight_equivalence_on_dense_data": _SGD_REASON,
            "check_sample_weight_equivalence_on_sparse_data": _SGD_REASON,
        }
    return {}


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_discovery_covers_every_public_estimator():
    discovered = set(public_estimators())
    # Every estimator a user can import from a public module is exported at
    # the top level, hence discovered and checked above.
    missed = {path for cls, path in _estimators_of_public_modules().items() if cls not in discovered}
    assert not missed, f"public estimators not in sklearn_lsh.__all__ (so not checked): {sorted(missed)}"
    # Guards against an empty or shrunken discovery (the four of today).
    assert {LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier, SimHashTransformer, SimHashBucketEncoder} <= discovered
    assert {type(estimator) for estimator in CHECKED} == discovered
    stale = set(ESTIMATOR_SETTINGS) - discovered
    assert not stale, f"ESTIMATOR_SETTINGS names classes that are no longer public: {stale}"
    # The classifiers are all covered by the contract tests below.
    assert {cls for cls in discovered if is_classifier(cls())} == {cls for cls, _ in CLASSIFIERS.values()}


# ------------------------------------------------ the classifier contract
# kind -> (class, small fast settings); ``make_classifier`` adds a seed.
CLASSIFIERS = {
    "lsh": (LSHSoftmaxClassifier, {"estimator": "lsh", "n_bits": 2, "n_tables": 4, "n_samples": 2}),
    "two-component": (TwoComponentSoftmaxClassifier, {}),
}
KINDS = list(CLASSIFIERS)

# The fitted arrays that define a model (present ones only: the low-rank
# LSH model has class_embedding_ and embedding_ instead of coef_).
MODEL_ARRAYS = (
    "coef_", "class_embedding_", "embedding_", "intercept_",
    "row_coef_", "col_coef_", "row_intercept_", "class_intercept_", "placement_",
)  # fmt: skip
INTERCEPTS = {"lsh": ("intercept_",), "two-component": ("row_intercept_", "class_intercept_")}


def make_classifier(kind, **params):
    cls, defaults = CLASSIFIERS[kind]
    return cls(**{"random_state": 0, **defaults, **params})


def model_arrays(model):
    """``{name: copy}`` of the fitted arrays of ``model``."""
    out = {name: np.array(getattr(model, name)) for name in MODEL_ARRAYS if hasattr(model, name)}
    assert out, f"no fitted arrays on {model!r}"
    return out


def assert_same_model(a, b, **tolerance):
    arrays_a, arrays_b = model_arrays(a), model_arrays(b)
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        if tolerance:
            np.testing.assert_allclose(arrays_a[name], arrays_b[name], err_msg=name, **tolerance)
        else:
            np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)


def drift(reason, raises=None, kind="two-component", fixed_by="the shared SGD-softmax base"):
    """A strict xfail for a contract behaviour that one classifier (mostly
    the two-component one) lacks; ``raises``: the exception the missing
    behaviour raises today (anything else is a failure)."""
    return pytest.mark.xfail(strict=True, raises=raises, reason=f"{kind} drift: {reason} (fixed by {fixed_by})")


def kinds_with_drift(reason, raises=TypeError, kind="two-component", fixed_by="the shared SGD-softmax base"):
    """Both kinds, ``kind`` marked as a known drift."""
    return [pytest.param(k, marks=drift(reason, raises, kind, fixed_by)) if k == kind else k for k in KINDS]


N_SAMPLES, N_FEATURES, N_CLASSES = 120, 8, 5
FIT = {"max_iter": 3, "tol": None, "batch_size": 32}  # 4 steps per epoch


@pytest.fixture(scope="module")
def data():
    return make_classification(
        n_samples=N_SAMPLES, n_features=N_FEATURES, n_informative=6, n_redundant=0, n_classes=N_CLASSES,
        n_clusters_per_class=1, class_sep=2.0, random_state=0,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        yield


def _fit(kind, X, y, **params):
    return make_classifier(kind, **{**FIT, **params}).fit(X, y)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_and_prediction_shapes_and_consistency(kind, data):
    X, y = data
    clf = _fit(kind, X, y)
    assert clf.n_features_in_ == N_FEATURES
    np.testing.assert_array_equal(clf.classes_, np.arange(N_CLASSES))
    assert clf.n_iter_ == 3 and clf.t_ == 3 * 4 and len(clf.loss_curve_) == 3
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.mean_classes_scored_ > 0 and clf.inner_products_per_example_ >= clf.mean_classes_scored_
    pred = clf.predict(X)
    assert pred.shape == (N_SAMPLES,) and np.isin(pred, clf.classes_).all()
    assert clf.score(X, y) == np.mean(pred == y) > 0.6  # chance: 0.2
    proba, log_proba, scores = clf.predict_proba(X), clf.predict_log_proba(X), clf.decision_function(X)
    assert proba.shape == log_proba.shape == scores.shape == (N_SAMPLES, N_CLASSES)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.log(proba), log_proba, rtol=1e-10)
    np.testing.assert_array_equal(pred, clf.classes_[scores.argmax(axis=1)])
    labels, top = clf.predict_topk(X, k=3)
    assert labels.shape == top.shape == (N_SAMPLES, 3)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(labels, clf.classes_[order])
    np.testing.assert_allclose(top, np.take_along_axis(proba, order, axis=1), rtol=1e-10)
    with sklearn.config_context(working_memory=0.001):  # 1 kB: a row or a few per chunk
        np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-12)
        np.testing.assert_array_equal(clf.predict(X), pred)
        chunked_labels, chunked_top = clf.predict_topk(X, k=3)
    np.testing.assert_array_equal(chunked_labels, labels)
    np.testing.assert_allclose(chunked_top, top, rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_binary_decision_function(kind, data):
    X, y = data
    clf = _fit(kind, X, y % 2)
    scores = clf.decision_function(X)
    assert scores.shape == (N_SAMPLES,)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(scores > 0).astype(int)])
    assert clf.predict_proba(X).shape == (N_SAMPLES, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_model_other_seed_differs(kind, data):
    X, y = data
    a, b, c = (_fit(kind, X, y, random_state=seed) for seed in (1, 1, 2))
    assert_same_model(a, b)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_calls_equal_fit_epochs(kind, data):
    # Without re-placement (a fit-only step of the two-component model).
    X, y = data
    extra = {"reassign": None} if kind == "two-component" else {}
    full = _fit(kind, X, y, shuffle=False, **extra)
    inc = make_classifier(kind, shuffle=False, batch_size=32, **extra)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    assert_same_model(inc, full, rtol=1e-12)
    assert inc.t_ == full.t_ and inc.n_iter_ == 3


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_classes_handling(kind, data):
    X, y = data
    clf = make_classifier(kind)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y, classes=np.arange(N_CLASSES - 1))
    with pytest.raises(ValueError, match="at least 2 classes"):
        clf.partial_fit(X, np.zeros_like(y), classes=[0])
    assert not hasattr(clf, "classes_")  # the failed first calls left no model behind
    # Classes absent from the first chunk are known from `classes`.
    clf.partial_fit(X[y < 2], y[y < 2], classes=np.arange(N_CLASSES + 1))
    np.testing.assert_array_equal(clf.classes_, np.arange(N_CLASSES + 1))
    assert clf.predict_proba(X).shape == (N_SAMPLES, N_CLASSES + 1)
    before = model_arrays(clf)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, np.where(y == 0, 99, y))
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=np.arange(N_CLASSES))
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(clf, name), value, err_msg=name)
    clf.partial_fit(X, y, classes=np.arange(N_CLASSES + 1))  # the same classes again: fine
    assert clf.n_iter_ == 2
    with pytest.raises(ValueError, match="balanced"):
        make_classifier(kind, class_weight="balanced").partial_fit(X, y, classes=np.arange(N_CLASSES))


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_first_partial_fit_leaves_nothing_behind(kind, data):
    X, y = data
    clf = make_classifier(kind)
    params = dict(vars(clf))
    for bad in (
        lambda: clf.partial_fit(X, y, classes=np.arange(N_CLASSES - 1)),  # labels outside classes
        lambda: clf.partial_fit(X, y, classes=np.arange(N_CLASSES), sample_weight=-np.ones(N_SAMPLES)),
    ):
        with pytest.raises(ValueError):
            bad()
        state = {name: value for name, value in vars(clf).items() if name != "_model_lock"}  # the lock is no model
        assert state == params, sorted(set(state) - set(params))


@pytest.mark.parametrize("kind", KINDS)
def test_warm_start(kind, data):
    X, y = data
    clf = _fit(kind, X, y, max_iter=2, warm_start=True)
    t_before, first = clf.t_, model_arrays(clf)
    clf.fit(X, y)
    assert clf.t_ == 2 * t_before and clf.n_iter_ == 2
    assert any(not np.array_equal(value, first[name]) for name, value in model_arrays(clf).items())
    kept = model_arrays(clf)
    for X_other, y_other in ((X[:, :5], y), (X, y % 2)):  # other features, other classes
        with pytest.raises(ValueError, match="warm_start"):
            clf.fit(X_other, y_other)
        for name, value in kept.items():
            np.testing.assert_array_equal(getattr(clf, name), value, err_msg=name)
    # Without warm_start, fit starts over: the same model as a fresh one.
    clf.set_params(warm_start=False).fit(X, y)
    assert_same_model(clf, _fit(kind, X, y, max_iter=2))


@pytest.mark.parametrize("kind", KINDS)
def test_sample_weight_and_class_weight(kind, data):
    X, y = data
    plain = _fit(kind, X, y)
    assert_same_model(make_classifier(kind, **FIT).fit(X, y, sample_weight=np.ones(N_SAMPLES)), plain)
    # class_weight multiplies the sample weights of each class's rows.
    weights = {0: 3.0, 2: 0.5}
    by_class = _fit(kind, X, y, class_weight=weights)
    per_row = make_classifier(kind, **FIT).fit(X, y, sample_weight=np.array([weights.get(k, 1.0) for k in y]))
    assert_same_model(by_class, per_row)
    counts = np.bincount(y)
    balanced = _fit(kind, X, y, class_weight="balanced")
    as_rows = make_classifier(kind, **FIT).fit(X, y, sample_weight=(N_SAMPLES / (N_CLASSES * counts))[y])
    assert_same_model(balanced, as_rows, rtol=1e-10, atol=1e-12)
    heavy = _fit(kind, X, y, class_weight={0: 20.0})
    assert np.mean(heavy.predict(X) == 0) > np.mean(plain.predict(X) == 0)
    with pytest.raises(ValueError, match="Negative values"):
        make_classifier(kind).fit(X, y, sample_weight=-np.ones(N_SAMPLES))
    with pytest.raises(ValueError, match="one weight per sample"):
        make_classifier(kind).fit(X, y, sample_weight=np.ones(N_SAMPLES - 1))
    with pytest.raises(ValueError, match="not in classes_"):
        _fit(kind, X, y, class_weight={"nope": 1.0})


@pytest.mark.parametrize("kind", KINDS)
def test_diverging_fit_and_partial_fit_keep_the_previous_model(kind, data):
    X, y = data
    X = X.astype(np.float32)
    clf = _fit(kind, X, y, max_iter=2)
    before, proba = model_arrays(clf), clf.predict_proba(X)
    # (a step size that overflows float32 weights: the steps' sums run in
    # float64, so eta0 = 1e38 no longer overflows the scores of this data)
    with pytest.raises(FloatingPointError, match="eta0"):
        clf.set_params(eta0=1e300).fit(X, y)
    with pytest.raises(FloatingPointError, match="eta0"):
        clf.partial_fit(X, y)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(clf, name), value, err_msg=name)
    assert clf.n_iter_ == 2 and clf.t_ == 2 * 4
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.parametrize("kind", KINDS)
def test_string_labels(kind, data):
    X, y = data
    names = np.array(["ant", "bee", "cat", "dog", "eel"], dtype=object)
    clf = _fit(kind, X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    pred = clf.predict(X)
    assert set(pred) <= set(names)
    labels, _ = clf.predict_topk(X, k=3)
    assert labels.dtype == object and labels.shape == (N_SAMPLES, 3)
    np.testing.assert_array_equal(labels[:, 0], pred)
    # The same model as with the integer labels (the same sorted order).
    assert_same_model(clf, _fit(kind, X, y))


@pytest.mark.parametrize("kind", KINDS)
def test_float32_is_kept(kind, data):
    X, y = data
    X32 = X.astype(np.float32)
    clf = _fit(kind, X32, y)
    for name, value in model_arrays(clf).items():
        if name != "placement_":
            assert value.dtype == np.float32, name
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        assert getattr(clf, method)(X32).dtype == np.float32, method
        assert getattr(clf, method)(X).dtype == np.float32, method  # float64 input is cast to the model
    assert_same_model(clf, _fit(kind, X, y), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_sparse_input_equals_dense(kind, data):
    X, y = data
    X = np.where(np.abs(X) > 0.5, X, 0.0)
    dense, sparse = _fit(kind, X, y), _fit(kind, sp.csr_matrix(X), y)
    assert_same_model(sparse, dense, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X)), dense.predict(X))
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_clone_get_set_params(kind, data):
    X, y = data
    clf = _fit(kind, X, y, eta0=0.3)
    other = clone(clf)
    assert other.get_params() == clf.get_params() and not hasattr(other, "classes_")
    other.set_params(batch_size=7)
    assert other.batch_size == 7 and clf.batch_size == 32


@pytest.mark.parametrize("kind", KINDS)
def test_pandas_feature_names(kind, data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
    clf = _fit(kind, frame, y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


@pytest.mark.parametrize("kind", KINDS)
def test_verbose_prints_a_line_per_epoch(kind, data, capsys):
    X, y = data
    _fit(kind, X, y, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["-- Epoch 1", "-- Epoch 2", "-- Epoch 3"]


@pytest.mark.parametrize("kind", KINDS)
def test_dense_outputs_that_cannot_fit_raise_before_work(kind, data, monkeypatch):
    from sklearn_lsh import _validation

    X, y = data
    clf = _fit(kind, X, y)
    monkeypatch.setattr(_validation, "available_memory", lambda: 1000)  # bytes
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(MemoryError, match="predict_topk"):
            getattr(clf, method)(X)
    assert clf.predict(X).shape == (N_SAMPLES,) and clf.predict_topk(X, k=2)[0].shape == (N_SAMPLES, 2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predictions_are_probabilities_on_large_scores(kind, dtype):
    # Two examples found by tests/test_fuzz.py: a fit (float32) and a
    # partial_fit (float64) on large constant inputs, scores of 1e5 to 1e9.
    params = {"alpha": 0.0, "batch_size": 1, "max_iter": 1, "tol": None, "shuffle": False}
    if dtype == np.float32:
        X, y = np.full((26, 7), 230529.0, dtype=dtype), np.zeros(26, dtype=int)
        y[[1, 23, 25]], y[2] = 1, 2
        clf = make_classifier(kind, eta0=1000.0, random_state=243, class_weight="balanced", **params).fit(X, y)
    else:
        X, y = np.full((3, 5), 215958.0), np.array([0, 1, 0])
        clf = make_classifier(kind, eta0=0.1, random_state=4, **params).partial_fit(X, y, classes=np.arange(4))
    log_proba, proba = clf.predict_log_proba(X), clf.predict_proba(X)
    assert np.isfinite(log_proba).all() and (log_proba <= 1e-6).all(), log_proba.max()
    assert (proba <= 1 + 1e-7).all() and np.abs(proba.sum(axis=1) - 1).max() <= 1e-6, proba.max()
    _, top = clf.predict_topk(X, k=1)
    assert (top <= 1 + 1e-12).all(), top.max() - 1


# ------------ contract behaviours (two of which the two-component model lacks)
@pytest.mark.parametrize("kind", KINDS)
def test_n_jobs_restores_numba_threads(kind, data):
    X, y = data
    before = numba.get_num_threads()
    clf = _fit(kind, X, y, n_jobs=-1, max_iter=1)
    clf.predict_topk(X, k=2)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("kind", KINDS)
def test_early_stopping(kind, data):
    X, y = data
    clf = _fit(kind, X, y, early_stopping=True, validation_fraction=0.2, tol=1e-3, n_iter_no_change=2, max_iter=200)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200
    assert clf.validation_scores_[-1] < clf.validation_scores_[0]
    assert _fit(kind, X, y).validation_scores_ is None


@pytest.mark.parametrize(
    "kind", kinds_with_drift("no fit_intercept parameter", fixed_by="the shared optimiser, which would move its results")
)
def test_fit_intercept_false_learns_no_intercept(kind, data):
    X, y = data
    clf = _fit(kind, X, y, fit_intercept=False)
    for name in INTERCEPTS[kind]:
        np.testing.assert_array_equal(getattr(clf, name), 0.0, err_msg=name)
    assert clf.score(X, y) > 0.6
    assert any(np.any(getattr(_fit(kind, X, y), name) != 0) for name in INTERCEPTS[kind])


@pytest.mark.parametrize(
    "kind",
    kinds_with_drift('no learning_rate parameter ("adagrad" | "constant")',
                     fixed_by="the shared optimiser, which would move its results"),
)  # fmt: skip
def test_learning_rate_constant(kind, data):
    X, y = data
    constant = _fit(kind, X, y, learning_rate="constant", eta0=0.05)
    assert constant.score(X, y) > 0.6
    assert constant.loss_curve_[-1] < constant.loss_curve_[0]
    adagrad = _fit(kind, X, y, learning_rate="adagrad", eta0=0.05)
    assert not np.array_equal(constant.predict_proba(X), adagrad.predict_proba(X))


@pytest.mark.parametrize("kind", KINDS)
def test_weights_too_large_for_memory_raise_before_allocating(kind):
    # 2**31 - 1 columns: the weights would not fit; with overcommit the
    # allocation would succeed and the OS kill the process later.
    X = sp.csr_matrix((np.ones(3), np.array([5, 10**9, 2**31 - 2]), np.arange(4)), shape=(3, 2**31 - 1))
    clf = make_classifier(kind)
    with pytest.raises(MemoryError, match="would take"):
        clf.fit(X, [0, 1, 2])
    assert not hasattr(clf, "classes_")
