"""Reproducibility and persistence (issue 6, item 4): bit-identical models
across processes, pickles made of plain data, identical predictions after
loading (pickle and joblib), and thread-safe prediction, for every
classifier (issue 20, item 7); save_model / load_model for every public
estimator, and the files load_model refuses (issue 21, item 1)."""

import hashlib
import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest

import sklearn_lsh
from sklearn_lsh import LSHIndex, SimHashBucketEncoder, SimHashTransformer
from sklearn_lsh.datasets import make_extreme_classification

# name -> (classifier class name, parameters)
CONFIGS = {
    "lsh": ("LSHSoftmaxClassifier", {"estimator": "lsh"}),
    "exact": ("LSHSoftmaxClassifier", {"estimator": "exact"}),
    "uniform": ("LSHSoftmaxClassifier", {"estimator": "uniform"}),
    "lsh-low-rank": ("LSHSoftmaxClassifier", {"estimator": "lsh", "n_components": 6}),
    "two-component": ("TwoComponentSoftmaxClassifier", {}),
}


def _model(config, **params):
    name, config_params = CONFIGS[config]
    return getattr(sklearn_lsh, name)(**params, **config_params)


def _retrievals(model):
    """The predict_topk calls of ``model``: exact, and by its LSH tables if it has them."""
    return {"topk_exact": {}, **({"topk_lsh": {"retrieval": "lsh"}} if hasattr(model, "n_tables") else {})}

_FIT_AND_HASH = textwrap.dedent(
    """
    import hashlib, sys, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    import sklearn_lsh
    from sklearn_lsh.datasets import make_extreme_classification
    for name, (estimator, params) in eval(sys.argv[1]).items():
        for sparse in (False, True):
            X, y = make_extreme_classification(1500, 20, 60, sparse=sparse, n_nonzero=8, random_state=0)
            model = getattr(sklearn_lsh, estimator)(random_state=7, max_iter=2, **params).fit(X, y)
            digest = hashlib.sha256()
            for attribute in ("_weights", "intercept_", "embedding_", "_accumulator",
                              "_coef", "row_intercept_", "class_intercept_", "placement_", "_bias_accumulator"):
                if attribute in vars(model):
                    digest.update(np.ascontiguousarray(vars(model)[attribute]).tobytes())
            retrieval = {"retrieval": "lsh"} if hasattr(model, "n_tables") else {}
            digest.update(np.ascontiguousarray(model.predict_topk(X[:200], 3, **retrieval)[1]).tobytes())
            print(name, sparse, digest.hexdigest())
    """
)


def test_an_int_random_state_gives_bit_identical_models_across_processes():
    runs = [
        subprocess.run([sys.executable, "-c", _FIT_AND_HASH, repr(CONFIGS)], capture_output=True, text=True,
                       check=True).stdout.split()  # fmt: skip
        for _ in range(2)
    ]
    assert len(runs[0]) == 3 * 2 * len(CONFIGS)
    assert runs[0] == runs[1]
    digests = runs[0][2::3]
    assert len(set(digests)) == len(digests)  # the configurations do differ


def _plain(value, path="model"):
    """Assert that a pickled state holds only numpy arrays and plain values."""
    if isinstance(value, np.ndarray):
        assert value.dtype != object, f"{path} is an object array"
    elif isinstance(value, (bool, int, float, str, bytes, type(None), np.generic)):
        pass
    elif isinstance(value, (list, tuple)):
        for k, item in enumerate(value):
            _plain(item, f"{path}[{k}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _plain(key, f"{path} key")
            _plain(item, f"{path}[{key!r}]")
    elif isinstance(value, LSHIndex):
        _plain(vars(value), f"{path} (LSHIndex)")
    else:
        raise AssertionError(f"{path} holds a {type(value).__module__}.{type(value).__name__}")


@pytest.mark.parametrize("config", list(CONFIGS))
def test_pickled_state_is_numpy_arrays_and_plain_values(config):
    X, y = make_extreme_classification(500, 12, 20, random_state=0)
    model = _model(config, random_state=0, max_iter=1).fit(X, y)
    _plain(model.__getstate__())
    for transformer in (SimHashTransformer(16, random_state=0), SimHashTransformer(16, density=0.3, random_state=0),
                        SimHashBucketEncoder(4, 3, random_state=0)):  # fmt: skip
        _plain(transformer.fit(X).__getstate__())
    # the numba kernels and their caches are not part of any pickle
    assert b"numba" not in pickle.dumps(model)


def test_loaded_models_predict_identically_in_a_fresh_process(tmp_path):
    X, y = make_extreme_classification(800, 12, 30, random_state=0)
    expected = {}
    for config in CONFIGS:
        model = _model(config, random_state=0, max_iter=2).fit(X, y)
        expected.update({f"{config}-proba": model.predict_proba(X), f"{config}-labels": model.predict(X)})
        for name, retrieval in _retrievals(model).items():
            expected[f"{config}-{name}"] = model.predict_topk(X, 3, **retrieval)[1]
        with open(tmp_path / f"{config}.pkl", "wb") as f:
            pickle.dump(model, f)
        joblib.dump(model, tmp_path / f"{config}.joblib")
    np.save(tmp_path / "X.npy", X)
    np.savez(tmp_path / "expected.npz", **expected)
    code = textwrap.dedent(
        f"""
        import pickle, joblib, numpy as np
        X = np.load({str(tmp_path / "X.npy")!r}); expected = np.load({str(tmp_path / "expected.npz")!r})
        checked = []
        for config in {list(CONFIGS)!r}:
            with open({str(tmp_path)!r} + f"/{{config}}.pkl", "rb") as f:
                pickled = pickle.load(f)
            for model in (pickled, joblib.load({str(tmp_path)!r} + f"/{{config}}.joblib")):
                got = {{"proba": model.predict_proba(X), "labels": model.predict(X),
                       "topk_exact": model.predict_topk(X, 3)[1]}}
                if hasattr(model, "n_tables"):
                    got["topk_lsh"] = model.predict_topk(X, 3, retrieval="lsh")[1]
                for name, value in got.items():
                    assert np.array_equal(value, expected[f"{{config}}-{{name}}"]), (config, name)
                checked.append(len(got))
        print(sum(checked))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == 2 * len(expected)  # every prediction compared, after pickle and joblib


@pytest.mark.parametrize("config", list(CONFIGS))
def test_concurrent_predictions_from_threads_agree(config):
    X, y = make_extreme_classification(3000, 16, 80, random_state=0)
    model = _model(config, random_state=0, max_iter=1).fit(X, y)
    calls = {"predict": lambda: model.predict(X), "proba": lambda: model.predict_proba(X)}
    for name, retrieval in _retrievals(model).items():
        calls[name] = lambda retrieval=retrieval: model.predict_topk(X, 4, **retrieval)
    expected = {name: call() for name, call in calls.items()}
    jobs = [name for name in calls for _ in range(4)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda name: (name, calls[name]()), jobs))
    # Labels and top-k classes agree exactly. Probabilities of this float32
    # model agree to float32 rounding only: OpenBLAS's sgemm called from
    # several Python threads at once (each limited to one BLAS thread)
    # rounds some scores differently from the same call made alone (seen
    # since the block-wise exact prediction of issue 22, up to 6e-7
    # relative; the labels are unaffected).
    for name, got in results:
        for a, b in zip(np.atleast_1d(expected[name]) if name in ("predict", "proba") else expected[name],
                        np.atleast_1d(got) if name in ("predict", "proba") else got):  # fmt: skip
            if np.issubdtype(np.asarray(a).dtype, np.floating):
                np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-12, err_msg=name)
            else:
                np.testing.assert_array_equal(a, b, err_msg=name)
    # predicting did not change the fitted state
    digest = hashlib.sha256(pickle.dumps(model)).hexdigest()
    model.predict_topk(X, 2, **_retrievals(model).popitem()[1])  # by the LSH tables if there are any
    assert hashlib.sha256(pickle.dumps(model)).hexdigest() == digest


# ------------------------------------------------ save_model / load_model (issue 21, item 1)
# Every public estimator, in every mode that changes what it holds.
SAVED = {
    **{config: (name, params) for config, (name, params) in CONFIGS.items()},
    "lsh-pairs-multiprobe": ("LSHSoftmaxClassifier", {"table_design": "pairs", "n_bits": 4, "n_tables": 10,
                                                      "probe_radius": 1}),
    "lsh-scan": ("LSHSoftmaxClassifier", {"table_design": "scan", "n_bits": 12, "probe_radius": 3}),
    "lsh-draw": ("LSHSoftmaxClassifier", {"estimator": "lsh-draw"}),
    "mips-gumbel": ("LSHSoftmaxClassifier", {"estimator": "mips-gumbel"}),
    "prior": ("LSHSoftmaxClassifier", {"estimator": "prior", "n_prior_samples": 3}),
    "low-rank-exact-no-intercept": ("LSHSoftmaxClassifier", {"estimator": "exact", "n_components": 5,
                                                             "fit_intercept": False}),
    "adjusted-loss": ("LSHSoftmaxClassifier", {"logit_adjustment": 1.0}),
    "adjusted-post-hoc": ("LSHSoftmaxClassifier", {"logit_adjustment": 0.5, "logit_adjustment_form": "post-hoc"}),
    "adjusted-prior": ("LSHSoftmaxClassifier", {"logit_adjustment": 1.0, "class_prior": list(np.linspace(1, 2, 30))}),
    "two-component-greedy": ("TwoComponentSoftmaxClassifier", {"reassign": "greedy"}),
}
TRANSFORMERS = {
    "simhash-signs": (SimHashTransformer, {"n_bits": 70}),
    "simhash-packed": (SimHashTransformer, {"n_bits": 20, "output": "packed"}),
    "simhash-sparse": (SimHashTransformer, {"n_bits": 16, "density": 0.3}),
    "buckets": (SimHashBucketEncoder, {"n_bits": 4, "n_tables": 3}),
    "buckets-sparse": (SimHashBucketEncoder, {"n_bits": 3, "n_tables": 2, "density": "auto"}),
}
LABELS = {
    "int": lambda y: y,
    "str": lambda y: np.array([f"class {v}" for v in y]),
    "object": lambda y: np.array([f"c{v}" for v in y], dtype=object),
    "float": lambda y: y.astype(np.float64) * 2 - 7,
}


def _saved_predictions(model, X):
    if isinstance(model, LSHIndex):
        return {name: np.asarray(value) for name, value in model.query(X)._asdict().items()}
    if not hasattr(model, "predict_proba"):
        out = model.transform(X)
        return {"transform": out.toarray() if hasattr(out, "toarray") else out}
    got = {"proba": model.predict_proba(X), "labels": model.predict(X), "decision": model.decision_function(X)}
    for name, retrieval in _retrievals(model).items():
        got[f"{name}-labels"], got[f"{name}-proba"] = model.predict_topk(X, 3, **retrieval)
    return got


def _saved_models():
    X, y = make_extreme_classification(600, 12, 30, random_state=0)
    models = {}
    for config, (name, params) in SAVED.items():
        for labels, relabel in LABELS.items():
            if labels != "int" and config not in ("lsh", "two-component", "adjusted-post-hoc"):
                continue
            models[f"{config}-{labels}"] = getattr(sklearn_lsh, name)(**params, random_state=0, max_iter=2,
                                                                      tol=None).fit(X, relabel(y))  # fmt: skip
    for config, (cls, params) in TRANSFORMERS.items():
        models[config] = cls(**params, random_state=0).fit(X)
    for design, radius in (("independent", 1), ("pairs", 0), ("scan", 2)):
        models[f"index-{design}"] = LSHIndex(4, 6, table_design=design, probe_radius=radius, seed=3).build(X[:40])
    models["index-rebuilt-twice"] = LSHIndex(5, 2, seed=1).build(X[:50]).rebuild().rebuild()
    models["index-unbuilt"] = LSHIndex(5, 2, seed=1)
    return X, models


def test_save_model_round_trips_every_public_estimator_in_a_fresh_process(tmp_path):
    X, models = _saved_models()
    expected = {}
    for key, model in models.items():
        sklearn_lsh.save_model(model, tmp_path / f"{key}.sklsh")
        if not (isinstance(model, LSHIndex) and not hasattr(model, "members_")):
            expected.update({f"{key}:{name}": value for name, value in _saved_predictions(model, X).items()})
    np.save(tmp_path / "X.npy", X)
    np.savez(tmp_path / "expected.npz", **{k: v.astype(str) if v.dtype == object else v for k, v in expected.items()})
    code = textwrap.dedent(
        f"""
        import sys, warnings
        import numpy as np
        warnings.simplefilter("error")  # no warning on load either (same version, same tables)
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_persistence import _saved_predictions
        import sklearn_lsh
        X = np.load({str(tmp_path / "X.npy")!r})
        with np.load({str(tmp_path / "expected.npz")!r}) as f:
            expected = dict(f)
        compared = 0
        for key in {list(models)!r}:
            model = sklearn_lsh.load_model({str(tmp_path)!r} + f"/{{key}}.sklsh")
            if key == "index-unbuilt":
                assert not hasattr(model, "members_") and model.seed == 1
                continue
            for name, value in _saved_predictions(model, X).items():
                want = expected[f"{{key}}:{{name}}"]
                value = value.astype(str) if value.dtype == object else value
                same = np.array_equal(value, want, equal_nan=want.dtype.kind == "f")
                assert value.dtype == want.dtype and same, (key, name)
                compared += 1
        print(compared)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == len(expected)


def _equal(a, b, path="model"):
    """Deep equality of fitted states (arrays by value and dtype)."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), path
        for key in a:
            _equal(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, z) in enumerate(zip(a, b)):
            _equal(x, z, f"{path}[{i}]")
    elif isinstance(a, LSHIndex):
        _equal(vars(a), vars(b), f"{path} (LSHIndex)")
    elif isinstance(a, np.random.RandomState):
        _equal(a.get_state(), b.get_state(), path)
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b)), f"{path}: {a!r} != {b!r}"


def test_loaded_state_equals_the_saved_one_but_the_training_tables(tmp_path):
    X, models = _saved_models()
    for key, model in models.items():
        sklearn_lsh.save_model(model, tmp_path / "m.sklsh")
        loaded = sklearn_lsh.load_model(tmp_path / "m.sklsh")
        assert type(loaded) is type(model)
        saved_state = vars(model) if isinstance(model, LSHIndex) else model.__getstate__()
        loaded_state = vars(loaded) if isinstance(model, LSHIndex) else loaded.__getstate__()
        if isinstance(model, sklearn_lsh.LSHSoftmaxClassifier):
            assert loaded_state.pop("_index") is None  # dropped: the next partial_fit builds it
            assert loaded_state.pop("_predict_index") is None  # a cache: built on first use
            saved_state = {k: v for k, v in saved_state.items() if k not in ("_index", "_predict_index")}
        _equal(saved_state, loaded_state, key)


@pytest.mark.parametrize("cls", [sklearn_lsh.LSHSoftmaxClassifier, sklearn_lsh.TwoComponentSoftmaxClassifier,
                                 SimHashTransformer, SimHashBucketEncoder])  # fmt: skip
def test_unfitted_estimators_round_trip_unfitted(tmp_path, cls):
    model = cls(random_state=3)
    sklearn_lsh.save_model(model, tmp_path / "m.sklsh")
    loaded = sklearn_lsh.load_model(tmp_path / "m.sklsh")
    assert type(loaded) is cls and vars(loaded) == vars(model)


def test_random_state_instances_and_dict_parameters_round_trip(tmp_path):
    X, y = make_extreme_classification(300, 8, 10, random_state=0)
    rng = np.random.RandomState(5)
    rng.uniform(size=3)
    clf = sklearn_lsh.LSHSoftmaxClassifier(random_state=rng, class_weight={int(y[0]): 2.0, int(y[1]): 0.5},
                                           max_iter=1, tol=None).fit(X, y)  # fmt: skip
    sklearn_lsh.save_model(clf, tmp_path / "m.sklsh")
    loaded = sklearn_lsh.load_model(tmp_path / "m.sklsh")
    assert loaded.class_weight == clf.class_weight and all(type(k) is type(next(iter(clf.class_weight)))
                                                           for k in loaded.class_weight)  # fmt: skip
    _equal(loaded.random_state.get_state(), clf.random_state.get_state())
    assert loaded.random_state is not clf.random_state


@pytest.mark.parametrize("config", ["exact", "uniform", "two-component", "lsh-low-rank", "lsh"])
def test_training_continues_after_loading(tmp_path, config):
    """Without hash tables in training, continuing a loaded model is
    bit-identical to continuing the saved one; with them ("lsh") the next
    partial_fit builds new training tables, so it trains as well but its
    samples differ (docs/persistence.md)."""
    X, y = make_extreme_classification(800, 12, 30, random_state=0)
    model = _model(config, random_state=0, max_iter=2, tol=None).fit(X, y)
    sklearn_lsh.save_model(model, tmp_path / "m.sklsh")
    loaded = sklearn_lsh.load_model(tmp_path / "m.sklsh")
    builds_before = getattr(model, "n_rebuilds_", 0)
    for clf in (model, loaded):
        clf.partial_fit(X[:400], y[:400])
    same = np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    if config in ("exact", "uniform", "two-component"):
        assert same
    else:
        assert loaded.t_ == model.t_ and abs(loaded.score(X, y) - model.score(X, y)) < 0.03
        if config == "lsh":
            # the loaded model's training tables were built after loading, the saved one's since fit
            assert loaded._index.n_builds_ == loaded.n_rebuilds_ - builds_before
            assert model._index.n_builds_ == model.n_rebuilds_ and builds_before > 0


def test_model_file_is_about_the_size_of_the_weights(tmp_path):
    X, y = make_extreme_classification(6000, 64, 3000, random_state=0)
    clf = sklearn_lsh.LSHSoftmaxClassifier("lsh", random_state=0, max_iter=1, tol=None).fit(X, y)
    sklearn_lsh.save_model(clf, tmp_path / "m.sklsh")
    weights = clf.coef_.nbytes + clf.intercept_.nbytes
    size = (tmp_path / "m.sklsh").stat().st_size
    # the weights plus the AdaGrad state and counters of each class (4 x 8 bytes)
    assert size < weights + clf.classes_.shape[0] * 8 * 5 + 20_000
    assert size < 0.5 * len(pickle.dumps(clf))  # the pickle holds both indexes' vectors and tables


# ------------------------------------------------------------- what a file can hold
def _rewrite(path, edit):
    """Rewrite ``path`` with ``edit(header)`` applied to its model.json."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    edit(header)
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def saved_lsh(tmp_path):
    X, y = make_extreme_classification(300, 8, 10, random_state=0)
    clf = sklearn_lsh.LSHSoftmaxClassifier(random_state=0, max_iter=1, tol=None).fit(X, y)
    path = tmp_path / "m.sklsh"
    sklearn_lsh.save_model(clf, path)
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h["estimator"].update({"class": "builtins.eval"}), "names the class 'builtins.eval'"),
        (lambda h: h["estimator"].update({"class": "BaseEstimator"}), "names the class 'BaseEstimator'"),
        (lambda h: h["estimator"]["attributes"].update({"t_": {"__reduce__": ["os.system", ["touch x"]]}}),
         "unknown tag '__reduce__'"),
        (lambda h: h["estimator"]["attributes"].update({"t_": {"__scalar__": "O", "value": 1}}),
         "unexpected scalar dtype"),
        (lambda h: h.update({"format_version": 99}), "format version 99"),
        (lambda h: h.update({"format": "skops"}), "does not declare format"),
        (lambda h: h["estimator"]["attributes"].pop("eta0"), "lacks the parameters ['eta0']"),
        (lambda h: h["estimator"]["attributes"].update({"n_tables": -3}), "n_tables"),
        (lambda h: h["estimator"]["attributes"].update({"_accumulator": h["estimator"]["attributes"]["_last_step"],
                                                        "classes_": {"__object_array__": [3], "items": [1, 2, 3]}}),
         "expected (3,"),
        (lambda h: h["estimator"]["attributes"].update({"_slot": h["estimator"]["attributes"]["_last_step"]}),
         "_slot is not all -1"),
        (lambda h: h["estimator"]["attributes"].update({"_accumulator": {"__ndarray__": 10**6}}),
         "arrays/1000000.npy"),
    ],
)
def test_a_crafted_model_file_is_refused_with_a_value_error(saved_lsh, edit, message):
    _rewrite(saved_lsh, edit)
    with pytest.raises(ValueError, match="is not a valid sklearn-lsh model file") as exc:
        sklearn_lsh.load_model(saved_lsh)
    assert message in str(exc.value)


def test_a_pickled_array_inside_a_model_file_is_not_unpickled(saved_lsh, tmp_path):
    marker = tmp_path / "created"
    with zipfile.ZipFile(saved_lsh) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    evil = np.empty(1, dtype=object)
    evil[0] = _FileCreator(marker)
    np.lib.format.write_array(buffer, evil, allow_pickle=True)
    members["arrays/0.npy"] = buffer.getvalue()
    with zipfile.ZipFile(saved_lsh, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="allow_pickle"):
        sklearn_lsh.load_model(saved_lsh)
    assert not marker.exists()
    pickle.loads(pickle.dumps(_FileCreator(marker)))  # the payload itself does create the file
    assert marker.exists()


class _FileCreator:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_another_version_warns_on_load(saved_lsh):
    _rewrite(saved_lsh, lambda h: h.update({"sklearn_lsh_version": "0.0.1"}))
    with pytest.warns(UserWarning, match="saved by sklearn-lsh 0.0.1"):
        sklearn_lsh.load_model(saved_lsh)


def test_tables_that_a_rebuild_does_not_reproduce_warn(tmp_path):
    W = np.random.default_rng(0).standard_normal((100, 6))
    index = LSHIndex(6, 4, seed=0).build(W, copy=False)
    W[:] = -W  # the vectors changed in place after the build: the tables are stale
    sklearn_lsh.save_model(index, tmp_path / "i.sklsh")
    with pytest.warns(UserWarning, match="rebuilt on load differs"):
        sklearn_lsh.load_model(tmp_path / "i.sklsh")


@pytest.mark.parametrize("value", [object(), np.random.default_rng(0), lambda: 0])
def test_values_the_format_cannot_hold_are_a_type_error_on_save(tmp_path, value):
    clf = sklearn_lsh.LSHSoftmaxClassifier()
    clf.class_weight = {"a": value}  # (set_params would not check either)
    with pytest.raises(TypeError, match=r"LSHSoftmaxClassifier\.class_weight\['a'\] is a .*with pickle or joblib"):
        sklearn_lsh.save_model(clf, tmp_path / "m.sklsh")
    with pytest.raises(TypeError, match="saves the package's estimators"):
        sklearn_lsh.save_model({"not": "an estimator"}, tmp_path / "m.sklsh")
