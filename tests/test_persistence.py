"""Reproducibility and persistence (issue 6, item 4): bit-identical models
across processes, pickles made of plain data, identical predictions after
loading (pickle and joblib), and thread-safe prediction, for every
classifier (issue 20, item 7)."""

import hashlib
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest

import sklearn_lsh
from sklearn_lsh import LSHIndex, SimHashBucketEncoder, SimHashTransformer
from sklearn_lsh.datasets import make_extreme_classification

# name -> (classifier class name, parameters)
CONFIGS = {
    "lsh": ("LSHSoftmaxClassifier", {}),
    "exact": ("LSHSoftmaxClassifier", {"estimator": "exact"}),
    "uniform": ("LSHSoftmaxClassifier", {"estimator": "uniform"}),
    "lsh-low-rank": ("LSHSoftmaxClassifier", {"n_components": 6}),
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
    for name, got in results:
        for a, b in zip(np.atleast_1d(expected[name]) if name in ("predict", "proba") else expected[name],
                        np.atleast_1d(got) if name in ("predict", "proba") else got):  # fmt: skip
            np.testing.assert_array_equal(a, b, err_msg=name)
    # predicting did not change the fitted state
    digest = hashlib.sha256(pickle.dumps(model)).hexdigest()
    model.predict_topk(X, 2, **_retrievals(model).popitem()[1])  # by the LSH tables if there are any
    assert hashlib.sha256(pickle.dumps(model)).hexdigest() == digest
