"""Rollback without a whole copy, and the prediction tables built on demand
(issue 22, item 5).

An interrupt injected in the middle of a training call on a trained model
restores every fitted array bit for bit (weights, intercepts, optimiser
state, label counts, the training tables and their random state), and the
model then trains exactly as if the interrupted call had never happened.
The journal copies only the rows a call has written.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh import LSHIndex, LSHSoftmaxClassifier
from sklearn_lsh._rollback import RowJournal
from sklearn_lsh.datasets import make_extreme_classification


@pytest.fixture(scope="module")
def data():
    X, y = make_extreme_classification(1200, 10, 200, random_state=0)
    return X, y


def _model(**params):
    params = {"estimator": "lsh", "n_bits": 4, "n_tables": 6, "n_samples": 4, "batch_size": 32, "max_iter": 2, "tol": None,
              "random_state": 0, **params}  # fmt: skip
    return LSHSoftmaxClassifier(**params)


def _state(model):
    """Every fitted value, arrays copied; an index as its own state."""
    out = {}
    for name, value in vars(model).items():
        if name in model.get_params() or name in ("_model_lock", "_cache_build_lock", "_predict_index"):
            continue
        if isinstance(value, LSHIndex):
            value = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(value).items()}
        elif isinstance(value, np.ndarray):
            value = value.copy()
        elif isinstance(value, list):
            value = list(value)
        out[name] = value
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, dict):
            _assert_same(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert x == y, name


class _Interrupt:
    """Make ``method`` of the class raise KeyboardInterrupt after its
    ``after``-th call has done its work."""

    def __init__(self, monkeypatch, method, after):
        self.calls, self.journal_rows = 0, None
        original = getattr(LSHSoftmaxClassifier, method)

        def wrapped(model, *args, **kwargs):
            result = original(model, *args, **kwargs)
            self.calls += 1
            if self.calls == after:
                journal = model.__dict__.get("_journal")
                self.journal_rows = None if journal is None else journal.saved_rows("_weights")
                raise KeyboardInterrupt
            return result

        monkeypatch.setattr(LSHSoftmaxClassifier, method, wrapped)


CONFIGS = {
    "lsh": {},
    "lsh-csr": {"sparse": True},
    "lsh-low-rank": {"n_components": 4, "sparse": True},
    "lsh-no-intercept": {"fit_intercept": False},  # training tables over the weights by reference
    "lsh-prior-draws": {"n_prior_samples": 3},
    "exact": {"estimator": "exact"},
    "uniform-float32": {"estimator": "uniform", "float32": True},
}


def _data(X, y, config):
    X = X.astype(np.float32) if config.get("float32") else X
    if config.get("sparse"):
        X = X.copy()
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    return X, y


@pytest.mark.parametrize("method, after", [("_step", 5), ("_step", 30), ("_finish_lazy_updates", 1)],
                         ids=["early-step", "after-a-rebuild", "epoch-end"])  # fmt: skip
@pytest.mark.parametrize("config", list(CONFIGS))
def test_an_interrupted_partial_fit_restores_every_array_bit_for_bit(data, config, method, after, monkeypatch):
    params = {k: v for k, v in CONFIGS[config].items() if k not in ("sparse", "float32")}
    X, y = _data(*data, CONFIGS[config])
    model, twin = _model(**params).fit(X, y), _model(**params).fit(X, y)
    model.predict_topk(X[:5], 3, retrieval="lsh")  # the prediction tables exist before the call
    before = _state(model)
    with monkeypatch.context() as patch:
        _Interrupt(patch, method, after)
        with pytest.raises(KeyboardInterrupt):
            model.partial_fit(X, y)
    assert "_journal" not in vars(model)
    _assert_same(before, _state(model))
    np.testing.assert_array_equal(model.predict_topk(X[:50], 3, retrieval="lsh")[1],
                                  twin.predict_topk(X[:50], 3, retrieval="lsh")[1])  # fmt: skip
    # the model continues exactly as one that never saw the interrupted call
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    _assert_same(_state(twin), _state(model))


@pytest.mark.parametrize("config", ["lsh", "lsh-low-rank"])
def test_an_interrupted_warm_start_fit_restores_the_model(data, config, monkeypatch):
    params = {k: v for k, v in CONFIGS[config].items() if k != "sparse"}
    X, y = _data(*data, CONFIGS[config])
    model = _model(warm_start=True, **params).fit(X, y)
    before = _state(model)
    with monkeypatch.context() as patch:
        _Interrupt(patch, "_step", 7)
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    _assert_same(before, _state(model))


def test_a_fit_that_starts_over_copies_nothing_and_restores_the_previous_model(data, monkeypatch):
    X, y = data
    model = _model().fit(X, y)
    weights = model._weights
    before = _state(model)
    with monkeypatch.context() as patch:
        _Interrupt(patch, "_step", 3)
        with pytest.raises(KeyboardInterrupt):
            model.fit(X[:600], y[:600])
    assert model._weights is weights  # the previous arrays themselves: never written, never copied
    _assert_same(before, _state(model))


def test_the_journal_copies_only_the_rows_a_call_wrote(data, monkeypatch):
    X, y = data
    # rebuilds and epoch ends write every row (lazy decay); between them a
    # step writes its candidates' and labels' rows only
    model = _model(n_bits=6, rebuild_interval=1000, max_iter=1).fit(X, y)
    with monkeypatch.context() as patch:
        interrupt = _Interrupt(patch, "_step", 1)
        with pytest.raises(KeyboardInterrupt):
            model.partial_fit(X[:4], y[:4])
    n_classes = model.classes_.shape[0]
    assert 0 < interrupt.journal_rows < n_classes
    # with the decay, the epoch end saves the rest
    with monkeypatch.context() as patch:
        interrupt = _Interrupt(patch, "_finish_lazy_updates", 1)
        with pytest.raises(KeyboardInterrupt):
            model.partial_fit(X[:32], y[:32])
    assert interrupt.journal_rows == n_classes


def test_row_journal_restores_the_earliest_value_of_each_row():
    W = np.arange(20.0).reshape(10, 2)
    original = W.copy()
    journal = RowJournal()
    journal.track("W", W)
    journal.save("W", (np.array([3, 3, -1, 5]), np.array([5])))
    W[[3, 5]] = -1.0
    journal.save("W", np.array([3, 7]))  # 3 already saved: its first value is kept
    W[[3, 7]] = -2.0
    journal.save("W")  # every remaining row
    W[:] = 0.0
    assert journal.saved_rows("W") == 10 and journal.nbytes > 0
    journal.restore()
    np.testing.assert_array_equal(W, original)


# ------------------------------------------------ prediction tables on demand
def test_prediction_tables_are_built_on_first_use_over_the_weights_themselves(data):
    X, y = data
    model = _model().fit(X, y)
    assert model._predict_index is None  # training does not build them
    labels, proba = model.predict_topk(X[:40], 4, retrieval="lsh")
    index = model._predict_index
    assert index.vectors_ is model._weights and index._bias is model.intercept_  # no copy of the class rows
    # the same tables and output as tables built over a copy of [coef_, intercept_]
    copy = model._new_index(__import__("sklearn_lsh._rng", fromlist=["Stream"]).Stream.PREDICT_TABLES)
    copy.build(np.hstack([model.coef_, model.intercept_[:, None]]))
    for name in ("members_", "bucket_keys_", "bucket_ptr_", "table_ptr_", "class_scale_", "projections_"):
        np.testing.assert_array_equal(getattr(index, name), getattr(copy, name), err_msg=name)
    assert model.predict_topk(X[:40], 4, retrieval="lsh")[0].tolist() == labels.tolist()
    assert model._predict_index is index  # kept while the weights do not change
    # not pickled (a cache): the loaded model builds the same tables
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded._predict_index is None
    np.testing.assert_array_equal(loaded.predict_topk(X[:40], 4, retrieval="lsh")[1], proba)
    # training drops them; new weights get new tables
    model.partial_fit(X[:100], y[:100])
    assert model._predict_index is None
    model.predict_topk(X[:5], 2, retrieval="lsh")
    rebuilt = model._predict_index
    model.coef_ = model.coef_ * 2.0
    model.predict_topk(X[:5], 2, retrieval="lsh")
    assert model._predict_index is not rebuilt and model._predict_index.vectors_ is model._weights


@pytest.mark.parametrize("design", [("independent", 0), ("pairs", 1), ("scan", 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_index_over_weights_and_bias_by_reference_equals_one_over_their_stack(design, dtype):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((3000, 9)).astype(dtype)
    b = rng.standard_normal(3000).astype(dtype)
    X = rng.standard_normal((30, 10)).astype(dtype)
    X[:, -1] = 1.0
    table_design, radius = design
    make = lambda: LSHIndex(6, 6, table_design=table_design, probe_radius=radius, seed=1)  # noqa: E731
    stacked, shared = make().build(np.hstack([W, b[:, None]])), make()._build_shared(W, b)
    for name, value in vars(stacked).items():
        if isinstance(value, np.ndarray) and name != "vectors_":
            np.testing.assert_array_equal(value, getattr(shared, name), err_msg=name)
    # The retrieved classes are identical; scores and probabilities agree to
    # rounding (the dense kernels sum with four accumulators, so the bias
    # added last is not the same order as the stacked column).
    for queries in (X, sp.csr_matrix(X)):
        a, c = stacked.query(queries), shared.query(queries)
        for field in ("indptr", "classes"):
            np.testing.assert_array_equal(getattr(a, field), getattr(c, field), err_msg=field)
        for field in ("scores", "log_probabilities"):
            np.testing.assert_allclose(getattr(a, field), getattr(c, field), rtol=1e-12, atol=1e-12, err_msg=field)
        if table_design != "scan":
            a, c = stacked.draw(queries, 5, seed=2), shared.draw(queries, 5, seed=2)
            np.testing.assert_array_equal(a.classes, c.classes)
            np.testing.assert_allclose(a.scores, c.scores, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(a.log_probabilities, c.log_probabilities, rtol=1e-12, atol=1e-12)
