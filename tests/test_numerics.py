"""Numerics and memory guards (issue 6, items 2 and 3): extreme features and
step sizes, divergence, degenerate hash tables, and outputs too large for
memory."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_lsh import EmptySampleWarning, LSHSoftmaxClassifier, estimate_log_partition
from sklearn_lsh import _validation
from sklearn_lsh.datasets import make_extreme_classification


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message="Maximum number of iteration")
        yield


def _data(n=600, d=10, n_classes=12, seed=0):
    return make_extreme_classification(n, d, n_classes, random_state=seed)


def _assert_valid_model(model, X):
    assert np.isfinite(model.intercept_).all()
    assert np.isfinite(model._weights).all()
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    labels, top = model.predict_topk(X, 3, retrieval="lsh")
    assert np.isfinite(top).all() and (np.diff(top, axis=1) <= 1e-12).all()


@pytest.mark.parametrize("scale", [1e-6, 1e6])
@pytest.mark.parametrize("eta0", [0.1, 1e4])
@pytest.mark.parametrize("learning_rate", ["adagrad", "constant"])
@pytest.mark.parametrize("estimator, n_components", [("lsh", None), ("exact", None), ("uniform", None), ("lsh", 4)])
def test_extreme_features_and_step_sizes_train_to_finite_weights(scale, eta0, learning_rate, estimator, n_components):
    X, y = _data()
    model = LSHSoftmaxClassifier(estimator=estimator, n_components=n_components, eta0=eta0,
                                 learning_rate=learning_rate, max_iter=3, random_state=0)  # fmt: skip
    try:
        model.fit(X * scale, y)
    except FloatingPointError as error:
        # the other allowed outcome: an early, clear error and no model
        assert f"Lower eta0 (now {eta0})" in str(error)
        assert not hasattr(model, "classes_")
        assert (n_components, learning_rate, scale) == (4, "constant", 1e6), "only this setting diverges"
        return
    _assert_valid_model(model, X * scale)
    assert all(np.isfinite(model.loss_curve_))


def _diverge_at(monkeypatch, at_step, corrupt_weights=False):
    """Make the ``at_step``-th training step of every model return a NaN loss
    (or silently write a NaN into the weights)."""
    original = LSHSoftmaxClassifier._step
    calls = {"n": 0}

    def step(self, *args, **kwargs):
        loss = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == at_step:
            if corrupt_weights:
                self._weights[0, 0] = np.nan
            else:
                return np.nan
        return loss

    monkeypatch.setattr(LSHSoftmaxClassifier, "_step", step)


@pytest.mark.parametrize("corrupt_weights", [False, True])
def test_divergence_in_a_first_fit_leaves_no_model(monkeypatch, corrupt_weights):
    X, y = _data()
    model = LSHSoftmaxClassifier(max_iter=2, random_state=0)
    _diverge_at(monkeypatch, 3, corrupt_weights)
    with pytest.raises(FloatingPointError, match=r"Lower eta0 \(now 0.1\)"):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.predict(X)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_divergence_keeps_the_previous_model(monkeypatch, method):
    X, y = _data()
    model = LSHSoftmaxClassifier(max_iter=2, random_state=0).fit(X, y)
    coef, proba = model.coef_.copy(), model.predict_proba(X)
    _diverge_at(monkeypatch, 2)
    with pytest.raises(FloatingPointError, match="eta0"):
        getattr(model, method)(X, y)
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.predict_proba(X), proba)


def test_divergence_is_caught_at_the_failing_step_not_at_the_epoch_end(monkeypatch):
    X, y = _data(n=2000)
    model = LSHSoftmaxClassifier(max_iter=1, batch_size=10, random_state=0)
    _diverge_at(monkeypatch, 5)
    with pytest.raises(FloatingPointError, match="at update 5"):
        model.fit(X, y)


# ------------------------------------------------------- degenerate tables
def test_normal_training_has_no_degenerate_tables_or_empty_samples():
    X, y = _data(n=2000, d=16, n_classes=200)
    model = LSHSoftmaxClassifier(max_iter=2, random_state=0).fit(X, y)
    assert model.n_degenerate_builds_ == 0
    assert model.n_empty_samples_ == 0


@pytest.mark.parametrize("start", ["zeros", "identical"])
def test_degenerate_tables_are_noticed_and_handled(start):
    X, y = _data(n=3000, d=16, n_classes=200)
    model = LSHSoftmaxClassifier("lsh", max_iter=1, random_state=0).fit(X, y)
    fresh_score = LSHSoftmaxClassifier("lsh", max_iter=1, random_state=0).fit(X, y).score(X, y)
    n_classes = model.classes_.shape[0]  # the classes present in y
    row = np.zeros(16) if start == "zeros" else model.coef_[0].copy()
    model.coef_ = np.tile(row, (n_classes, 1))
    model.intercept_[:] = 0.0
    model._index = None  # tables rebuilt from the new weights at the next step
    scored_before = model._classes_scored
    seen_before = model._examples_seen
    model.partial_fit(X, y)
    # noticed: the first build was degenerate, rows without negatives got some
    assert model.n_degenerate_builds_ >= 1
    assert model.n_empty_samples_ > 0
    # handled: the tables recover (the rebuild after the degenerate one is
    # fine), so the epoch did not turn into a full softmax ...
    per_example = (model._classes_scored - scored_before) / (model._examples_seen - seen_before)
    assert per_example < 0.5 * n_classes
    assert model.n_degenerate_builds_ < model.t_ // 4
    # ... and the model learned from the symmetric start
    assert model.score(X, y) > 0.5 * fresh_score


@pytest.mark.parametrize("method", ["lsh", "lsh-draw", "uniform", "gumbel", "mips-gumbel", "exact"])
@pytest.mark.parametrize("W_kind", ["zeros", "identical", "huge"])
def test_partition_estimates_are_never_nan(method, W_kind):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6))
    W = {"zeros": np.zeros((50, 6)), "identical": np.tile(rng.standard_normal(6), (50, 1)),
         "huge": rng.standard_normal((50, 6)) * 1e6}[W_kind]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log_z = estimate_log_partition(W, X, method=method, random_state=0)
    assert not np.isnan(log_z).any()
    empty = np.isneginf(log_z)
    if empty.any():  # -inf only where nothing was retrieved, and then said so
        assert method in ("lsh", "lsh-draw")
        assert any(issubclass(w.category, EmptySampleWarning) for w in caught)
    if method == "exact":
        exact = np.log(50) + (W[0] @ X.T if W_kind != "huge" else 0)
        if W_kind != "huge":
            np.testing.assert_allclose(log_z, exact, rtol=1e-12)


# ------------------------------------------------------------ memory guard
@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba", "decision_function"])
def test_outputs_too_large_for_memory_raise_and_point_to_predict_topk(monkeypatch, method):
    X, y = _data()
    model = LSHSoftmaxClassifier(max_iter=1, random_state=0).fit(X, y)
    monkeypatch.setattr(_validation, "available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=rf"{method} would return an array of 600 x 12 .*predict_topk\(X, k\)"):
        getattr(model, method)(X)
    # the bounded-memory paths still work
    assert model.predict(X).shape == (600,)
    assert model.predict_topk(X, 2)[0].shape == (600, 2)


def test_available_memory_is_a_positive_number_here():
    available = _validation.available_memory()
    assert available is None or available > 0


def test_predict_proba_is_exp_of_predict_log_proba():
    X, y = _data()
    model = LSHSoftmaxClassifier(max_iter=1, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), np.exp(model.predict_log_proba(X)), rtol=1e-12)


# ------------------------------------- found by tests/test_fuzz.py (hypothesis)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probabilities_stay_exact_for_huge_scores(dtype):
    X = np.array([[1.0], [2.0], [3.0]], dtype=dtype)
    model = LSHSoftmaxClassifier("exact", max_iter=1, tol=None, random_state=0).fit(X, [0, 1, 2])
    model.coef_ = np.array([[1e12], [1e12], [0.0]])
    model.intercept_ = np.zeros(3)
    # scores - logsumexp(scores) on scores of 1e12 kept 4 digits: rows summed to 1 + 3e-5
    np.testing.assert_allclose(model.predict_proba(X[:1]), [[0.5, 0.5, 0.0]], atol=1e-7)
    np.testing.assert_allclose(model.predict_topk(X[:1], 2)[1], [[0.5, 0.5]], atol=1e-7)
    proba = model.predict_topk(X[:1], 2, retrieval="lsh")[1]  # the LSH estimate of Z(x), same care
    assert np.isfinite(proba).all() and proba.sum() <= 1 + 1e-9


def test_a_float32_low_rank_model_whose_scores_overflow_is_caught_in_training():
    # weights of 1e22 are finite in float32, but their products overflow:
    # prediction returned NaN without any error
    X = np.zeros((25, 1), dtype=np.float32)
    X[1] = 1000.0
    y = np.zeros(25, dtype=int)
    y[1] = 1
    model = LSHSoftmaxClassifier("exact", n_components=1, learning_rate="constant", eta0=1000.0, batch_size=1,
                                 max_iter=4, tol=None, shuffle=False, random_state=0)  # fmt: skip
    with pytest.raises(FloatingPointError, match="class scores overflow float32 at epoch"):
        model.fit(X, y)
    assert not hasattr(model, "classes_")


def test_prediction_refuses_overflowing_scores():
    X, y = _data()
    model = LSHSoftmaxClassifier(max_iter=1, random_state=0).fit(X.astype(np.float32), y)
    with pytest.raises(FloatingPointError, match="Class scores overflow float32"):
        model.predict_proba(np.full((2, X.shape[1]), 3e38, dtype=np.float32))


# ------------------------------------------- memory guard: process limits
def _cgroup_tree(tmp_path, proc_line, files):
    proc = tmp_path / "cgroup"
    proc.write_text(proc_line + "\n")
    for relative, text in files.items():
        path = tmp_path / "fs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(proc), str(tmp_path / "fs")


@pytest.mark.parametrize(
    "proc_line, files, room",
    [
        ("0::/job", {"job/memory.max": "1000000\n", "job/memory.current": "400000\n"}, 600_000),
        ("0::/job", {"memory.max": "1000000\n", "memory.current": "1000\n"}, 999_000),  # a container's root
        ("0::/job", {"job/memory.max": "max\n", "job/memory.current": "5\n"}, None),
        ("4:memory:/host/path", {"memory/memory.limit_in_bytes": "2000000\n", "memory/memory.usage_in_bytes": "500000\n"},
         1_500_000),
        ("4:memory:/host/path", {"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1 "no limit"
        ("1:cpu:/", {}, None),
    ],
)  # fmt: skip
def test_memory_guard_reads_cgroup_limits(tmp_path, proc_line, files, room):
    proc, root = _cgroup_tree(tmp_path, proc_line, files)
    assert _validation._cgroup_room(proc, root) == room


def test_memory_guard_honours_rlimit_as():
    # In a process whose address space is limited, predict_proba too large for
    # the limit fails early with the message pointing to predict_topk, not
    # with numpy's bare MemoryError (or the OS killing the process).
    script = textwrap.dedent(
        """
        import resource, numpy as np
        from sklearn_lsh import LSHSoftmaxClassifier
        from sklearn_lsh._validation import available_memory
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((3000, 8)), rng.integers(0, 3000, 3000)
        model = LSHSoftmaxClassifier(max_iter=1, tol=None, random_state=0).fit(X, y)
        with open("/proc/self/status") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (size + 200 * 2**20, resource.RLIM_INFINITY))
        assert available_memory() <= 200 * 2**20, available_memory()
        try:
            model.predict_proba(np.repeat(X, 20, axis=0))  # 60,000 x 3,000 float64: 1.3 GiB
        except MemoryError as error:
            assert "predict_topk" in str(error), error
            print("refused early")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "refused early"
