"""Property-based fuzz tests of the whole public API (hypothesis): both
classifiers (``KINDS`` of ``tests/test_common.py``), the two SimHash
transformers, ``estimate_log_partition``, ``LSHIndex`` (build, hash, query,
draw), ``log_inclusion_probability``, ``simhash_cosine``, the metrics of
``sklearn_lsh.metrics`` and the command line's data reader
``sklearn_lsh.datasets.load_data_file`` (on generated files, valid and
malformed).

Fast, reproducible profile (the default, ``HYPOTHESIS_PROFILE=ci``)::

    python -m pytest tests/test_fuzz.py -q

Long profile (3,000 examples per test, fresh random cases each run)::

    HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py -q --hypothesis-show-statistics

At scale, every test in its own child process, so that a segfault or a hang
is caught and counted (``docs/reliability.md``, "Fuzzing")::

    python benchmarks/fuzz_at_scale.py

The profiles are registered in ``tests/conftest.py``.

The property of every test: each public call either succeeds with a valid
output, or raises a documented error -- ``ValueError`` / ``TypeError`` /
``FloatingPointError`` / ``MemoryError`` with a non-empty message (from a
classifier, a ``FloatingPointError`` must name ``eta0``). Any other
exception, an invalid output, a crash or a hang is a failure. A NaN or an
infinity returned from finite input where the API promises finite values is
a failure whose message starts with "silent non-finite output" (the fuzz
script counts those apart). Each example is small (at most 40 x 12 inputs,
12 classes, 3 epochs), so it runs in milliseconds. The caught errors are
recorded as hypothesis events (see ``--hypothesis-show-statistics``).
"""

import contextlib
import io
import os
import re
import resource
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklearn_lsh import (
    METHOD_OPTIONS,
    METHODS,
    EmptySampleWarning,
    LSHIndex,
    LSHSoftmaxClassifier,
    SimHashBucketEncoder,
    SimHashTransformer,
    TwoComponentSoftmaxClassifier,
    estimate_log_partition,
    log_inclusion_probability,
    simhash_cosine,
)
from sklearn_lsh.datasets import load_data_file
from sklearn_lsh.metrics import (
    inverse_propensity,
    make_topk_scorer,
    ndcg_at_k,
    perplexity,
    precision_at_k,
    psprecision_at_k,
)

from .test_common import CLASSIFIERS, KINDS

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

# --------------------------------------------------------------- helpers

# The dtypes of the fuzzed models.
MODEL_DTYPES = {"lsh": (np.float32, np.float64), "two-component": (np.float32, np.float64)}

# The documented errors: a classifier's FloatingPointError names eta0 (a
# diverging step size, or inputs too large for the model); elsewhere any
# non-empty message.
_CLASSIFIER_ERRORS = (ValueError, TypeError, FloatingPointError, MemoryError)
_OTHER_ERRORS = (ValueError, TypeError, FloatingPointError, MemoryError)

#: The prefix of every failure message about a NaN or an infinity returned
#: from finite input (``benchmarks/fuzz_at_scale.py`` counts these apart).
NON_FINITE = "silent non-finite output"


def _record(exc, classifier=False):
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} raised with an empty message"
    if classifier and isinstance(exc, FloatingPointError):
        assert "eta0" in message, f"FloatingPointError does not mention eta0: {message!r}"
    # Group the events: numbers and reprs vary between examples.
    short = re.sub(r"[-+]?\d[\d.e+-]*", "#", message.splitlines()[0])[:90]
    event(f"{type(exc).__name__}: {short}")


def attempt(allowed, fn, *args, **kwargs):
    """``(True, result)``, or ``(False, exc)`` for a documented error; any other
    exception propagates (a failure)."""
    try:
        return True, fn(*args, **kwargs)
    except allowed as exc:
        _record(exc, classifier=allowed is _CLASSIFIER_ERRORS)
        return False, exc


def assert_finite(values, what):
    """A promised-finite output: a NaN or an infinity is a silent non-finite output."""
    values = np.asarray(values, dtype=np.float64)
    assert np.isfinite(values).all(), f"{NON_FINITE}: {what} = {values!r}"


def _abs_dense(X):
    """``|X|`` as a dense float64 array (small X only)."""
    return np.abs(X.toarray() if sp.issparse(X) else np.asarray(X)).astype(np.float64)


def _bound(X, W):
    """``|X| @ |W|.T`` in float64: a bound on every ``|x . w|`` (inf when
    such a product may overflow float64)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _abs_dense(X) @ _abs_dense(W).T


_SAFE = 1e300  # scores bounded by this cannot overflow float64 (nor its log-sum-exp)


# ------------------------------------------------------------- strategies

_SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, -1e-30, 1e-6, 1e3, -1e3, 1e6, -1e6]
_ELEMENTS = st.one_of(
    st.floats(-2.0, 2.0),
    st.floats(-1e6, 1e6),
    st.sampled_from(_SPECIAL),
)
# Finite values at the ends of the float64 and float32 ranges (cast to the
# matrix's dtype, float64 values beyond the float32 range are clipped to its
# largest finite value, so the input stays finite).
_EXTREME = [1e308, -1e308, 1.7976931348623157e308, 1e200, -1e200, 1e154, -1e154, 3.4e38, -3.4e38, 1e30, -1e30,
            1e15, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e-45]  # fmt: skip
_EXTREME_ELEMENTS = st.one_of(
    _ELEMENTS,
    st.sampled_from(_EXTREME),
    st.floats(allow_nan=False, allow_infinity=False),
)


def _to_csr(values, kind, index_dtype):
    n_rows, n_cols = values.shape
    if kind == "explicit_zeros":  # every entry stored, zeros included
        X = sp.csr_matrix(
            (values.ravel(), np.tile(np.arange(n_cols), n_rows), np.arange(0, n_rows * n_cols + 1, n_cols)),
            shape=values.shape,
        )
    else:
        X = sp.csr_matrix(values)
        if kind == "unsorted":  # reverse the column order within each row
            indices, data = X.indices.copy(), X.data.copy()
            for i in range(n_rows):
                lo, hi = X.indptr[i], X.indptr[i + 1]
                indices[lo:hi], data[lo:hi] = indices[lo:hi][::-1], data[lo:hi][::-1]
            X = sp.csr_matrix((data, indices, X.indptr.copy()), shape=values.shape)
        elif kind == "duplicates":  # each entry split into two halves at the same column
            counts = np.diff(X.indptr)
            half = (X.data * 0.5).astype(values.dtype)
            data = np.stack([half, X.data - half], axis=1).ravel()
            indices = np.repeat(X.indices, 2)
            indptr = np.concatenate([[0], np.cumsum(2 * counts)])
            X = sp.csr_matrix((data, indices, indptr), shape=values.shape)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    return X


@st.composite
def matrices(draw, n_rows, n_cols, layouts=("dense", "csr"), dtypes=(np.float32, np.float64), extreme=False):
    """A finite float32/float64 matrix, dense or CSR (canonical or not), with
    random sparsity, all-zero rows and large magnitudes (with ``extreme``,
    one matrix in four also holds values up to the end of the float range)."""
    dtype = draw(st.sampled_from(dtypes))
    elements = _ELEMENTS
    if extreme and draw(st.integers(0, 3)) == 0:
        elements = _EXTREME_ELEMENTS
        event("extreme values")
    values = draw(hnp.arrays(np.float64, (n_rows, n_cols), elements=elements))
    layout = draw(st.sampled_from(layouts))
    if draw(st.booleans()):
        values = values * draw(hnp.arrays(np.bool_, (n_rows, n_cols), elements=st.booleans()))
    zero_rows = draw(st.lists(st.integers(0, n_rows - 1), max_size=n_rows))
    values[zero_rows] = 0.0
    top = np.finfo(dtype).max
    values = np.clip(values, -top, top).astype(dtype)
    if layout == "dense":
        return values
    kind = draw(st.sampled_from(["canonical", "explicit_zeros", "unsorted", "duplicates"]))
    return _to_csr(values, kind, draw(st.sampled_from([np.int32, np.int64])))


@contextlib.contextmanager
def address_space_cap(extra=2 * 2**30):
    """``RLIMIT_AS`` at the process's current size plus ``extra`` bytes for
    the block, so that a runaway allocation raises ``MemoryError`` instead of
    waking the OOM killer: ``SimHashTransformer(density=None)`` on
    ``2**31 - 1`` columns asks for 16 GiB of projections per bit, which
    Linux's overcommit grants and the OOM killer then reclaims (it killed a
    ci run of this file once). Linux only: elsewhere the block is skipped."""
    try:
        with open("/proc/self/status") as f:
            size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        pytest.skip("needs /proc/self/status to cap the address space")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + extra if soft == resource.RLIM_INFINITY else min(soft, size + extra)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@st.composite
def wide_csr(draw, n_rows, dtypes=(np.float32, np.float64)):
    """A CSR matrix of a few entries per row but very many columns (``3 * 10**4``
    or ``2**31 - 1``): a bag-of-words-like input."""
    n_cols = draw(st.sampled_from([3 * 10**4, 2**31 - 1]))
    dtype = draw(st.sampled_from(dtypes))
    rows = []
    for _ in range(n_rows):
        cols = sorted(draw(st.sets(st.one_of(st.integers(0, 20), st.integers(0, n_cols - 1)), max_size=5)))
        rows.append((cols, draw(st.lists(_ELEMENTS, min_size=len(cols), max_size=len(cols)))))
    indptr = np.cumsum([0] + [len(cols) for cols, _ in rows])
    indices = np.array([c for cols, _ in rows for c in cols], dtype=np.int64)
    data = np.array([v for _, values in rows for v in values], dtype=dtype)
    event(f"wide CSR ({n_cols} columns)")
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def _increasing(n, start, gap):
    """``n`` distinct increasing values: ``start`` plus cumulated positive gaps."""
    return st.tuples(start, st.lists(gap, min_size=n - 1, max_size=n - 1)).map(
        lambda t: [t[0] + sum(t[1][:i]) for i in range(n)]
    )


def label_pools(n_classes):
    """``n_classes`` distinct labels: ints, strings, integral floats or
    arbitrary floats (the latter are 'continuous' targets, a documented
    ValueError)."""
    ints = _increasing(n_classes, st.integers(-(10**9), 10**9), st.integers(1, 10**8))
    # Distinct by construction: '#' is not in the alphabet, row i ends with i of them.
    strings = st.lists(st.text(alphabet="abcXYZ_ 09", max_size=4), min_size=n_classes, max_size=n_classes).map(
        lambda texts: [text + "#" * i for i, text in enumerate(texts)]
    )
    integral_floats = _increasing(n_classes, st.integers(-1000, 1000), st.integers(1, 100)).map(
        lambda values: [float(v) for v in values]
    )
    floats = _increasing(n_classes, st.floats(-1e6, 1e6), st.floats(1e-3, 1e5)).map(
        lambda values: [v + 0.0 for v in values]
    )
    return st.one_of(ints, ints, strings, strings, integral_floats, floats)


@st.composite
def classification_data(draw, dtypes=(np.float32, np.float64)):
    """``(X, y, pool)``: ``pool`` holds every class label, ``y`` uses the first
    ``n_present`` of them only."""
    n_samples = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 12))
    X = draw(matrices(n_samples, n_features, dtypes=dtypes, extreme=True))
    n_classes = draw(st.integers(2, 12))
    pool = draw(label_pools(n_classes))
    n_present = draw(st.integers(2, n_classes))
    if draw(st.integers(0, 19)) == 13:  # rarely a single class (a documented ValueError in fit)
        n_present = 1
    picks = draw(st.lists(st.integers(0, n_present - 1), min_size=n_samples, max_size=n_samples))
    cover = min(n_present, n_samples)
    picks[:cover] = range(cover)  # every present class appears (when there are enough samples)
    y = np.array([pool[i] for i in picks])
    return X, y, np.array(pool)


@st.composite
def classifier_params(draw, kind, pool, partial):
    """Parameters of a ``kind`` classifier (see ``tests/test_common.py``)."""
    if kind == "lsh":
        params = dict(
            estimator=draw(st.sampled_from(["lsh", "exact", "uniform", "prior"])),
            n_prior_samples=draw(st.sampled_from([0, 0, 1, 5])),
            n_components=draw(st.one_of(st.none(), st.integers(1, 4))),
            n_bits=draw(st.one_of(st.none(), st.integers(1, 6))),
            n_tables=draw(st.integers(1, 4)),
            n_samples=draw(st.one_of(st.none(), st.integers(1, 4))),
            rebuild_interval=draw(st.one_of(st.none(), st.integers(1, 3))),
            learning_rate=draw(st.sampled_from(["adagrad", "constant"])),
            fit_intercept=draw(st.booleans()),
            n_jobs=draw(st.sampled_from([None, 1, 2, -1])),
        )
        if not partial:
            params["early_stopping"] = draw(st.booleans())
            params["validation_fraction"] = draw(st.floats(0.05, 0.5))
    else:
        params = dict(reassign=draw(st.sampled_from(["greedy", "exact", None])))
    params.update(
        eta0=draw(st.one_of(st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3]), st.floats(1e-4, 1e3))),
        alpha=draw(st.sampled_from([0.0, 1e-6, 1e-2, 1.0])),
        batch_size=draw(st.integers(1, 64)),
        max_iter=draw(st.integers(1, 3)),
        tol=draw(st.sampled_from([None, 1e-3, 0.0])),
        n_iter_no_change=draw(st.integers(1, 3)),
        shuffle=draw(st.booleans()),
        random_state=draw(st.integers(0, 2**31 - 1)),
    )
    # Keys: labels of the problem (fit: the labels in y), rarely a value that is not a label.
    keys = st.one_of(*[st.sampled_from(list(pool))] * 9, st.just("not-a-label"))
    weights = st.dictionaries(keys, st.floats(0.0, 10.0), max_size=len(pool))
    # "balanced" is a documented ValueError in partial_fit: rarer there.
    choices = [st.none(), st.none(), weights, weights, st.just("balanced")]
    if not partial:
        choices.append(st.just("balanced"))
    params["class_weight"] = draw(st.one_of(*choices))
    return params


def sample_weights(n_samples):
    return st.one_of(
        st.none(),
        hnp.arrays(np.float64, n_samples, elements=st.sampled_from([0.0, 1.0, 1e-3, 2.5, 1e3])),
    )


# ------------------------------------------------------ output properties

def _column_of(classes, labels):
    position = np.searchsorted(classes, labels)
    assert np.all(classes[position] == labels)
    return position


def _check_topk_rows(labels, proba, classes, n_rows, k):
    assert labels.shape == (n_rows, k) and proba.shape == (n_rows, k)
    assert np.isin(labels, classes).all(), "predict_topk label outside classes_"
    for row in labels:
        assert len(set(row.tolist())) == k, f"predict_topk repeats a class in a row: {row!r}"
    proba = np.asarray(proba, dtype=np.float64)
    assert_finite(proba, "predict_topk probabilities")
    assert (proba >= 0).all() and (proba <= 1 + 1e-12).all(), (
        f"predict_topk probabilities outside [0, 1]: {proba!r}"
    )
    assert (np.diff(proba, axis=1) <= 1e-12).all(), f"predict_topk probabilities not sorted: {proba!r}"
    assert (proba.sum(axis=1) <= 1 + 1e-6).all(), f"predict_topk probabilities sum above 1: {proba!r}"
    return proba


def _score_bounds(clf, X):
    """Per row, a bound on ``|score|`` of every class, from ``|X|`` and the
    absolute weights (float64; inf when it overflows)."""
    A = _abs_dense(X)
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(clf, TwoComponentSoftmaxClassifier):
            rows = A @ np.abs(clf.row_coef_.astype(np.float64)).T + np.abs(clf.row_intercept_)
            cols = A @ np.abs(clf.col_coef_.astype(np.float64)).T
            return rows.max(axis=1) + cols.max(axis=1) + np.abs(clf.class_intercept_).max()
        if hasattr(clf, "embedding_"):  # low-rank: x @ embedding_ @ class_embedding_.T
            A = A @ np.abs(clf.embedding_.astype(np.float64))
            weights = clf.class_embedding_
        else:
            weights = clf.coef_
        return (A @ np.abs(weights.astype(np.float64)).T + np.abs(clf.intercept_)).max(axis=1)


def check_dense_equals_csr(clf, X, log_proba):
    """Dense and CSR forms of the same rows give the same predictions, up to
    the rounding of a different summation order."""
    if sp.issparse(X):
        other = X.toarray()
    else:
        other = sp.csr_matrix(X)
    ok, other_log_proba = attempt(_CLASSIFIER_ERRORS, clf.predict_log_proba, other)
    assert ok, f"predict_log_proba fails on the {'dense' if sp.issparse(X) else 'CSR'} form of rows it accepts"
    model_dtype = (clf.row_coef_ if isinstance(clf, TwoComponentSoftmaxClassifier) else clf.intercept_).dtype
    eps = np.finfo(model_dtype).eps
    tolerance = 16 * (X.shape[1] + 16) * eps * (1.0 + _score_bounds(clf, X))
    gap = np.abs(np.asarray(other_log_proba, dtype=np.float64) - log_proba).max(axis=1)
    assert (gap <= tolerance).all(), (
        f"dense and CSR input give different log-probabilities: gaps {gap!r} > tolerance {tolerance!r}"
    )


def check_metrics_of(clf, X, y, k):
    """``perplexity`` and the top-k scorers of ``sklearn_lsh.metrics`` on a
    fitted classifier and its training rows."""
    # Documented: a FloatingPointError when exp(mean log-loss) overflows.
    ok, value = attempt(_OTHER_ERRORS, perplexity, clf, X, y)
    if ok:
        nll = -np.asarray(clf.predict_log_proba_of(X, y), dtype=np.float64).mean()
        assert_finite(value, f"perplexity (mean -log p = {nll!r})")
        assert value >= 1 - 1e-6, f"perplexity below 1: {value!r}"
        assert np.log(value) == pytest.approx(nll, rel=1e-6, abs=1e-6), f"perplexity {value!r} != exp({nll!r})"
    metric = ["precision", "ndcg", "psprecision"][k % 3]
    ok, weights = attempt(_OTHER_ERRORS, inverse_propensity, y, classes=clf.classes_)
    if metric == "psprecision" and not ok:
        return
    scorer = make_topk_scorer(metric, k, inv_propensity=weights if metric == "psprecision" else None)
    ok, score = attempt(_CLASSIFIER_ERRORS, scorer, clf, X, y)
    if ok:
        assert_finite(score, f"{metric}@{k} scorer")
        assert 0.0 <= score <= 1.0 + 1e-12, f"{metric}@{k} scorer outside [0, 1]: {score!r}"
        if metric == "precision":
            labels, _ = clf.predict_topk(X, k)
            assert score == precision_at_k(y, labels, k), "the precision scorer disagrees with precision_at_k"
            assert score <= 1.0 / k + 1e-12


def check_fitted(clf, X, k, y=None, trained_on_all=True):
    """Every prediction method returns a valid output on ``X`` (top-``k``);
    with ``y``, the metrics too. Unless the model was trained on every row of
    ``X`` (a ``partial_fit`` call may have refused some), the documented
    error for rows too large for the model may come instead."""
    classes = clf.classes_
    n_rows, n_classes = X.shape[0], classes.shape[0]

    if trained_on_all:
        pred = clf.predict(X)
    else:
        ok, pred = attempt(_CLASSIFIER_ERRORS, clf.predict, X)
        if not ok:
            return
    assert pred.shape == (n_rows,)
    assert np.isin(pred, classes).all(), f"predict returned labels outside classes_: {pred!r}"

    log_proba = np.asarray(clf.predict_log_proba(X), dtype=np.float64)
    assert log_proba.shape == (n_rows, n_classes)
    assert_finite(log_proba, "predict_log_proba")
    assert (log_proba <= 1e-6).all(), f"predict_log_proba above 0: {log_proba.max()!r}"

    proba = np.asarray(clf.predict_proba(X), dtype=np.float64)
    assert proba.shape == (n_rows, n_classes)
    assert_finite(proba, "predict_proba")
    assert (proba >= 0).all() and (proba <= 1 + 1e-7).all(), "predict_proba outside [0, 1]"
    sums = proba.sum(axis=1)
    assert np.abs(sums - 1).max() <= 1e-6, f"predict_proba rows do not sum to 1: {sums!r}"
    best = proba.max(axis=1)
    rows = np.arange(n_rows)
    assert (proba[rows, _column_of(classes, pred)] >= best - 1e-6).all(), "predict is not the most probable class"

    scores = np.asarray(clf.decision_function(X))
    assert scores.shape == ((n_rows,) if n_classes == 2 else (n_rows, n_classes))
    assert_finite(scores, "decision_function")

    labels, top = clf.predict_topk(X, k)
    top = _check_topk_rows(labels, top, classes, n_rows, k)
    # Top-1 is a most probable class (ties allowed: compare probabilities).
    assert (proba[rows, _column_of(classes, labels[:, 0])] >= best - 1e-6).all(), "top-1 is not the argmax"
    assert np.allclose(top[:, 0], best, rtol=1e-5, atol=1e-6), f"top-1 probability {top[:, 0]!r} != {best!r}"

    if hasattr(clf, "n_tables"):  # by the LSH tables
        labels, top = clf.predict_topk(X, k, retrieval="lsh")
        _check_topk_rows(labels, top, classes, n_rows, k)

    check_dense_equals_csr(clf, X, log_proba)
    if y is not None:
        check_metrics_of(clf, X, y, k)


# ------------------------------------------------------------------ tests

# The two classifiers share the examples of the profile (as many as one
# classifier had before both were fuzzed, so that the run takes as long).
_PER_CLASSIFIER = settings(max_examples=max(1, settings.default.max_examples // len(KINDS)))


@pytest.mark.parametrize("kind", KINDS)
@_PER_CLASSIFIER
@given(data=st.data())
def test_classifier_fit(kind, data):
    X, y, pool = data.draw(classification_data(MODEL_DTYPES[kind]), label="X, y")
    params = data.draw(classifier_params(kind, np.unique(y), partial=False), label="params")
    sample_weight = data.draw(sample_weights(X.shape[0]), label="sample_weight")
    clf = CLASSIFIERS[kind][0](**params)
    ok, _ = attempt(_CLASSIFIER_ERRORS, clf.fit, X, y, sample_weight=sample_weight)
    if ok:
        event("fit succeeded")
        assert set(clf.classes_.tolist()) == set(np.unique(y).tolist())
        check_fitted(clf, X, data.draw(st.integers(1, clf.classes_.shape[0]), label="k"), y)


@pytest.mark.parametrize("kind", KINDS)
@_PER_CLASSIFIER
@given(data=st.data())
def test_classifier_partial_fit(kind, data):
    X, y, pool = data.draw(classification_data(MODEL_DTYPES[kind]), label="X, y")
    params = data.draw(classifier_params(kind, pool, partial=True), label="params")
    clf = CLASSIFIERS[kind][0](**params)
    fitted = False
    if data.draw(st.booleans(), label="fit first"):
        fitted, _ = attempt(_CLASSIFIER_ERRORS, clf.fit, X, y)
    trained_on_all = fitted
    n_calls = data.draw(st.integers(1, 3), label="partial_fit calls")
    cuts = sorted(data.draw(st.lists(st.integers(0, X.shape[0]), min_size=n_calls - 1, max_size=n_calls - 1)))
    bounds = [0, *cuts, X.shape[0]]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi == lo:
            continue
        Xc = X[lo:hi]
        if (fitted or np.float32 in MODEL_DTYPES[kind]) and data.draw(st.booleans(), label="switch dtype"):
            Xc = Xc.astype(np.float32 if Xc.dtype == np.float64 else np.float64)
        classes = pool if not fitted or data.draw(st.booleans(), label="pass classes again") else None
        sample_weight = data.draw(sample_weights(hi - lo), label="sample_weight")
        ok, _ = attempt(_CLASSIFIER_ERRORS, clf.partial_fit, Xc, y[lo:hi], classes=classes, sample_weight=sample_weight)
        fitted = fitted or ok
        if ok:  # the last training call saw every row of X
            trained_on_all = lo == 0 and hi == X.shape[0]
    if fitted:
        event("partial_fit model checked")
        k = data.draw(st.integers(1, clf.classes_.shape[0]), label="k")
        check_fitted(clf, X, k, y, trained_on_all=trained_on_all)


def _replayed(example):
    """The data and calls of an example that an earlier ci run found."""
    n = 29
    if example == "partial-fit-overflow-undetected":
        indptr = [0, 0, 0, 3, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 44, 47, 50, 50, 51, 54, 57, 60, 63,
                  66, 69, 71, 74]  # fmt: skip
        indices = np.r_[[0, 1, 2, 1, 2], np.tile([0, 1, 2], 15), [2], np.tile([0, 1, 2], 6), [0, 1], [0, 1, 2]]
        values = np.full(74, 7.3670844e05, dtype=np.float32)
        values[[0, 29, 55]] = [1e6, -1.0, -1e3]
        X = sp.csr_matrix((values, indices, np.array(indptr)), shape=(n, 3))
        y = np.r_[0:6, np.zeros(18, int), [1, 1, 1, 0, 1]]
        params = {"n_prior_samples": 5, "n_components": 1, "n_tables": 1, "learning_rate": "constant", "eta0": 362.0,
                  "alpha": 0.0, "batch_size": 36, "max_iter": 1, "tol": 0.0, "n_iter_no_change": 1,
                  "fit_intercept": False, "random_state": 1_660_830_234}  # fmt: skip
        clf = LSHSoftmaxClassifier(**params)
        for call in (lambda: clf.fit(X, y), lambda: clf.partial_fit(X[:18], y[:18]),
                     lambda: clf.partial_fit(X[18:], y[18:])):  # fmt: skip
            try:
                call()
            except FloatingPointError as exc:  # documented (the second call raises it)
                assert "eta0" in str(exc)
    else:  # "log-proba-minus-inf"
        X = np.full((n, 3), 669072.0, dtype=np.float32)
        y = np.r_[0, 1, np.zeros(n - 2, int)]
        params = {"n_components": 1, "n_tables": 1, "learning_rate": "constant", "eta0": 224.0, "alpha": 0.0,
                  "batch_size": 15, "max_iter": 1, "tol": None, "n_iter_no_change": 1, "shuffle": False,
                  "fit_intercept": False, "random_state": 0}  # fmt: skip
        clf = LSHSoftmaxClassifier(**params).partial_fit(X, y, classes=np.arange(7))
    return clf, X


@pytest.mark.parametrize("example", ["partial-fit-overflow-undetected", "log-proba-minus-inf"])
def test_examples_found_by_earlier_fuzz_runs(example):
    # Replayed outside hypothesis: a change of a test's code changes the
    # examples that the derandomized ci profile draws. Both are float32
    # low-rank models driven to scores near the float32 range by a large
    # constant eta0; training now refuses scores beyond half the range (their
    # log-probabilities would overflow to -inf), so the diverging call raises
    # and leaves the model as it was.
    if example == "log-proba-minus-inf":
        with pytest.raises(FloatingPointError, match="eta0"):
            _replayed(example)
        return
    clf, X = _replayed(example)
    check_fitted(clf, X, 2)


@given(data=st.data())
def test_estimate_log_partition(data):
    n_classes = data.draw(st.integers(1, 12), label="n_classes")
    n_features = data.draw(st.integers(1, 12), label="n_features")
    n_queries = data.draw(st.integers(1, 40), label="n_queries")
    W = data.draw(matrices(n_classes, n_features, layouts=("dense",), extreme=True), label="W")
    X = data.draw(matrices(n_queries, n_features, extreme=True), label="X")
    method = data.draw(st.sampled_from(METHODS), label="method")
    option_values = {
        "n_bits": st.one_of(st.integers(1, 10), st.sampled_from([16, 62, 63])),
        "n_tables": st.one_of(st.integers(1, 6), st.sampled_from([10, 15])),
        "n_norm_ranges": st.one_of(st.integers(1, 5), st.just(64)),
        "table_design": st.sampled_from(["independent", "pairs"]),
        "probe_radius": st.integers(0, 1),
        "n_samples": st.integers(1, 10),
        "max_probes": st.one_of(st.none(), st.integers(1, 7)),
        "n_top": st.integers(1, 14),
        "n_prior_samples": st.integers(0, 10),
        # Positive priors, and bad ones: a wrong length, a zero, NaN, infinity.
        "class_prior": st.one_of(
            st.none(),
            st.lists(st.floats(1e-6, 1e6), min_size=n_classes, max_size=n_classes).map(np.array),
            st.integers(0, 3).map(lambda kind: [np.ones(n_classes + 1), np.r_[0.0, np.ones(n_classes - 1)],
                                                np.full(n_classes, np.nan), np.full(n_classes, np.inf)][kind]),
        ),
    }
    names = data.draw(st.lists(st.sampled_from(sorted(METHOD_OPTIONS[method])), unique=True) if METHOD_OPTIONS[method]
                      else st.just([]), label="options")  # fmt: skip
    options = {name: data.draw(option_values[name], label=name) for name in names}
    other = sorted(set(option_values) - set(METHOD_OPTIONS[method]))
    if other and data.draw(st.integers(0, 19), label="bogus option") == 13:  # an option of another method
        options[data.draw(st.sampled_from(other), label="bogus name")] = 1
    return_work = data.draw(st.booleans(), label="return_work")
    seed = data.draw(st.integers(0, 2**31 - 1), label="random_state")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok, out = attempt(
            _OTHER_ERRORS, estimate_log_partition, W, X, method=method, random_state=seed,
            return_work=return_work, **options,
        )  # fmt: skip
    if not ok:
        return
    log_z, work = out if return_work else (out, None)
    assert isinstance(log_z, np.ndarray) and log_z.shape == (n_queries,) and log_z.dtype == np.float64
    assert not np.isnan(log_z).any(), f"{NON_FINITE}: method={method!r} returned NaN: {log_z!r}"
    assert not np.isposinf(log_z).any(), f"{NON_FINITE}: method={method!r} returned +inf: {log_z!r}"
    n_empty = int(np.isneginf(log_z).sum())
    bound = _bound(X, W).max(axis=1)
    if method == "exact":
        assert_finite(log_z, "exact log Z")
        if (bound < _SAFE).all():  # the float64 reference does not overflow
            dense_x = X.toarray() if sp.issparse(X) else X
            scores = dense_x.astype(np.float64) @ W.astype(np.float64).T
            top = scores.max(axis=1)
            reference = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
            assert np.allclose(log_z, reference, rtol=1e-9, atol=1e-9 * (1 + np.abs(scores).max())), (
                "exact log Z is off"
            )
    if n_empty:
        event(f"{method}: -inf estimates")
        assert any(issubclass(w.category, EmptySampleWarning) for w in caught), "-inf without EmptySampleWarning"
    if work is not None:
        assert work.method == method and work.n_queries == n_queries and work.n_empty == n_empty
        for name in ("inner_products_per_query", "hash_inner_products_per_query", "score_inner_products_per_query",
                     "mean_sample_size", "build_inner_products", "n_floored"):  # fmt: skip
            value = getattr(work, name)
            assert np.isfinite(value) and value >= 0, f"PartitionWork.{name} = {value!r}"


_DENSITIES = st.one_of(st.none(), st.just("auto"), st.floats(1e-3, 1.0), st.sampled_from([1.0, 0.0, 1.5]))


@given(data=st.data())
def test_simhash_transformer(data):
    n_samples = data.draw(st.integers(1, 40), label="n_samples")
    n_features = data.draw(st.integers(1, 12), label="n_features")
    wide = data.draw(st.integers(0, 9), label="wide") == 0
    X = data.draw(wide_csr(n_samples) if wide else matrices(n_samples, n_features, extreme=True), label="X")
    n_bits = data.draw(st.one_of(st.integers(1, 70), st.sampled_from([63, 64, 126, 127, 130])), label="n_bits")
    params = dict(
        n_bits=n_bits,
        density=data.draw(_DENSITIES, label="density"),
        random_state=data.draw(st.integers(0, 2**31 - 1), label="random_state"),
        n_jobs=data.draw(st.sampled_from([None, 1, 2, -1]), label="n_jobs"),
    )
    outputs = {}
    for output in ("sign", "binary", "packed"):
        transformer = SimHashTransformer(output=output, **params)
        with address_space_cap() if wide else contextlib.nullcontext():
            ok, Z = attempt(_OTHER_ERRORS, transformer.fit_transform, X)
            if not ok:
                return
            ok, Z2 = attempt(_OTHER_ERRORS, transformer.transform, X)
        assert ok, "transform failed after fit_transform succeeded"
        assert isinstance(Z, np.ndarray) and np.array_equal(Z, Z2), "fit_transform != fit().transform"
        outputs[output] = Z
    n_blocks = -(-n_bits // 63)
    bits = -(-n_bits // n_blocks)
    sign, binary, packed = outputs["sign"], outputs["binary"], outputs["packed"]
    for Z, values in ((sign, (-1, 1)), (binary, (0, 1))):
        assert Z.shape == (n_samples, n_bits) and Z.dtype == X.dtype
        assert np.isin(Z, values).all(), f"unexpected values {np.unique(Z)!r}"
    assert packed.shape == (n_samples, n_blocks) and packed.dtype == np.int64
    assert (packed >= 0).all() and (packed < 2**bits).all(), f"codes out of range for {bits} bits: {packed!r}"
    assert np.array_equal(sign, 2 * binary - 1), "sign and binary outputs disagree"
    projection = np.arange(n_bits)
    unpacked = (packed[:, projection // bits] >> (projection % bits)) & 1
    assert np.array_equal(unpacked, binary), "packed codes disagree with the bits"
    if sp.issparse(X) and X.has_canonical_format and not wide:  # documented: dense and CSR give identical codes
        dense_codes = SimHashTransformer(output="packed", **params).fit_transform(X.toarray())
        assert np.array_equal(dense_codes, packed), "dense and CSR input give different codes"


@given(data=st.data())
def test_simhash_bucket_encoder(data):
    n_samples = data.draw(st.integers(1, 40), label="n_samples")
    n_features = data.draw(st.integers(1, 12), label="n_features")
    wide = data.draw(st.integers(0, 9), label="wide") == 0
    X = data.draw(wide_csr(n_samples) if wide else matrices(n_samples, n_features, extreme=True), label="X")
    n_bits = data.draw(st.one_of(st.integers(1, 10), st.sampled_from([29, 30, 31])), label="n_bits")
    n_tables = data.draw(st.integers(1, 6), label="n_tables")
    encoder = SimHashBucketEncoder(
        n_bits=n_bits,
        n_tables=n_tables,
        density=data.draw(_DENSITIES, label="density"),
        random_state=data.draw(st.integers(0, 2**31 - 1), label="random_state"),
        n_jobs=data.draw(st.sampled_from([None, 1, 2, -1]), label="n_jobs"),
    )
    with address_space_cap() if wide else contextlib.nullcontext():
        ok, Z = attempt(_OTHER_ERRORS, encoder.fit_transform, X)
    if not ok:
        return
    assert sp.issparse(Z) and Z.format == "csr" and Z.dtype == X.dtype
    assert Z.shape == (n_samples, n_tables * 2**n_bits)
    assert (Z.getnnz(axis=1) == n_tables).all(), f"rows do not have n_tables ones: {Z.getnnz(axis=1)!r}"
    assert (Z.data == 1).all()
    Z = Z.tocoo()
    assert np.array_equal(np.sort(Z.col.reshape(n_samples, n_tables) >> n_bits, axis=1),
                          np.tile(np.arange(n_tables), (n_samples, 1))), "not one bucket per table"  # fmt: skip
    with address_space_cap() if wide else contextlib.nullcontext():
        ok, Z2 = attempt(_OTHER_ERRORS, encoder.transform, X)
    assert ok and (Z2 != Z.tocsr()).nnz == 0, "fit_transform != fit().transform"


# ------------------------------------------------------------ LSH index

def _index_buckets(index):
    """Per table, bucket id -> member classes, from the public bucket directory."""
    tables = []
    for t in range(index.n_tables):
        table = {}
        for b in range(index.table_ptr_[t], index.table_ptr_[t + 1]):
            table[int(index.bucket_keys_[b])] = index.members_[index.bucket_ptr_[b] : index.bucket_ptr_[b + 1]]
        tables.append(table)
    return tables


def _expected_union(index, codes, radius, scan):
    """Per query, the classes within Hamming distance ``radius`` of its code
    in some table: by the class codes (``scan``) or by the bucket directory."""
    if scan:
        near = [np.bitwise_count(index.class_codes_ ^ row[None, :]) <= radius for row in codes]
        return [set(np.flatnonzero(hit.any(axis=1)).tolist()) for hit in near]
    tables = _index_buckets(index)
    flips = [0] + ([1 << b for b in range(index.n_bits)] if radius else [])
    out = []
    for row in codes:
        found = set()
        for t, table in enumerate(tables):
            for flip in flips:
                found.update(table.get(int(row[t]) ^ flip, ()))
        out.append({int(c) for c in found})
    return out


def _check_scores(scores, rows, classes, X, index, what):
    """Scores ``w_j . x`` of (row, class) pairs: finite and accurate where
    no product can overflow float64."""
    bound = _bound(X, index.vectors_)[rows, classes]
    safe = bound < _SAFE
    assert_finite(scores[safe], f"{what} scores (|x| . |w| < 1e300)")
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    reference = np.einsum("ij,ij->i", dense[rows].astype(np.float64), index.vectors_[classes].astype(np.float64))
    gap = np.abs(scores - reference)[safe]
    tolerance = 4 * (X.shape[1] + 2) * np.finfo(np.float64).eps * bound[safe] + 1e-300
    assert (gap <= tolerance).all(), f"{what} scores differ from w . x by {gap.max()!r}"


@given(data=st.data())
def test_lsh_index(data):
    design = data.draw(st.sampled_from(["independent", "pairs", "scan"]), label="table_design")
    n_bits = data.draw(st.one_of(st.integers(1, 12), st.integers(1, 12), st.sampled_from([16, 31, 32, 62, 63]),
                                 st.sampled_from([0, 64, 2.0, True])), label="n_bits")  # fmt: skip
    if design == "pairs":
        n_tables = data.draw(st.one_of(st.sampled_from([1, 3, 6, 10]), st.integers(1, 8)), label="n_tables")
    else:
        n_tables = data.draw(st.one_of(st.integers(1, 8), st.sampled_from([16, 0])), label="n_tables")
    if design == "scan":
        radius = data.draw(st.integers(0, 8), label="probe_radius")
    else:
        radius = data.draw(st.sampled_from([0, 0, 1, 2]), label="probe_radius")
    ok, index = attempt(
        _OTHER_ERRORS, LSHIndex, n_bits, n_tables, table_design=design, probe_radius=radius,
        n_norm_ranges=data.draw(st.one_of(st.integers(1, 5), st.just(64)), label="n_norm_ranges"),
        seed=data.draw(st.integers(0, 2**63 - 1), label="seed"),
    )  # fmt: skip
    if not ok:
        return
    n_classes = data.draw(st.integers(1, 30), label="n_classes")
    n_features = data.draw(st.integers(1, 12), label="n_features")
    W = data.draw(matrices(n_classes, n_features, layouts=("dense",), extreme=True), label="W")
    if data.draw(st.integers(0, 9), label="W dtype") == 0:  # other numeric types become float64
        W = W.astype(data.draw(st.sampled_from([np.int64, np.float16, np.bool_])))
    ok, _ = attempt(_OTHER_ERRORS, index.build, W, copy=data.draw(st.booleans(), label="copy"))
    if not ok:
        return
    event("index built")
    largest = index.largest_bucket_sizes()
    assert largest.shape == (index.n_tables,) and (largest >= 1).all() and (largest <= n_classes).all()
    assert index.members_.shape == (index.n_tables * n_classes,)
    for t in range(index.n_tables):  # every class once per table
        members = index.members_[index.bucket_ptr_[index.table_ptr_[t]] : index.bucket_ptr_[index.table_ptr_[t + 1]]]
        assert np.array_equal(np.sort(members), np.arange(n_classes)), f"table {t} does not hold every class once"
    if data.draw(st.booleans(), label="rebuild"):
        index.rebuild()
        assert index.n_builds_ == 2

    n_queries = data.draw(st.integers(1, 40), label="n_queries")
    width = n_features + (data.draw(st.integers(0, 19), label="wrong width") == 0)
    X = data.draw(matrices(n_queries, width, extreme=True), label="X")
    ok, codes = attempt(_OTHER_ERRORS, index.hash, X)
    if not ok:
        return
    assert codes.shape == (n_queries, index.n_tables) and codes.dtype == np.int64
    assert (codes >= 0).all() and (index.n_bits == 63 or (codes < (1 << index.n_bits)).all()), "codes out of range"
    other = X.toarray() if sp.issparse(X) else sp.csr_matrix(X)
    assert np.array_equal(index.hash(other), codes), "dense and CSR rows give different codes"

    ok, sample = attempt(_OTHER_ERRORS, index.query, X)
    if ok:
        indptr, classes = sample.indptr, sample.classes
        assert indptr.shape == (n_queries + 1,) and indptr[0] == 0 and indptr[-1] == classes.shape[0]
        assert (np.diff(indptr) >= 0).all()
        assert sample.scores.shape == classes.shape == sample.log_probabilities.shape
        assert ((classes >= 0) & (classes < n_classes)).all(), "query returned a class id out of range"
        expected = _expected_union(index, codes, index.probe_radius, index.table_design == "scan")
        for i in range(n_queries):
            got = classes[indptr[i] : indptr[i + 1]].tolist()
            assert len(set(got)) == len(got), f"query {i} retrieved a class twice"
            assert set(got) == expected[i], f"query {i}: retrieved {sorted(got)} != the buckets' {sorted(expected[i])}"
        log_p = sample.log_probabilities
        assert not np.isnan(log_p).any(), f"{NON_FINITE}: query log inclusion probabilities {log_p!r}"
        assert_finite(log_p, "query log inclusion probabilities (floored at log 1e-300)")
        assert (log_p <= 1e-12).all(), f"query log inclusion probabilities above 0: {log_p.max()!r}"
        assert 0 <= sample.n_floored <= classes.shape[0]
        _check_scores(sample.scores, np.repeat(np.arange(n_queries), np.diff(indptr)), classes, X, index, "query")
        if classes.shape[0]:
            event("query retrieved classes")
        # The same rows, dense or CSR: the same classes and inclusion probabilities.
        ok, same = attempt(_OTHER_ERRORS, index.query, other)
        assert ok, "query refuses the other layout of rows it accepts"
        assert np.array_equal(same.indptr, indptr) and np.array_equal(same.classes, classes)
        assert np.allclose(same.log_probabilities, log_p, rtol=1e-5, atol=1e-8), (
            f"dense and CSR rows give different log inclusion probabilities: {log_p!r} and {same.log_probabilities!r}"
        )

    n_draws = data.draw(st.integers(1, 5), label="n_draws")
    max_probes = data.draw(st.one_of(st.none(), st.integers(1, index.n_tables), st.sampled_from([0, index.n_tables + 1])),
                           label="max_probes")  # fmt: skip
    ok, draws = attempt(_OTHER_ERRORS, index.draw, X, n_draws, max_probes=max_probes,
                        seed=data.draw(st.integers(0, 2**63 - 1), label="draw seed"))  # fmt: skip
    if ok:
        probes_allowed = index.n_tables if max_probes is None else max_probes
        for name in ("classes", "bucket_sizes", "probes", "scores", "log_probabilities"):
            assert getattr(draws, name).shape == (n_queries, n_draws), f"DrawSample.{name} has the wrong shape"
        drawn = draws.classes
        assert ((drawn >= -1) & (drawn < n_classes)).all(), "draw returned a class id out of range"
        empty = drawn == -1
        log_p = draws.log_probabilities
        assert not np.isnan(log_p).any(), f"{NON_FINITE}: draw log probabilities {log_p!r}"
        assert np.isneginf(log_p[empty]).all(), "an empty draw's log probability is not -inf"
        assert_finite(log_p[~empty], "draw log probabilities of drawn classes")
        assert (log_p[~empty] <= 1e-12).all()
        assert ((draws.probes >= 1) & (draws.probes <= probes_allowed)).all(), f"probes {draws.probes!r}"
        union = _expected_union(index, codes, 0, scan=False)
        tables = _index_buckets(index)
        for i in range(n_queries):
            if probes_allowed == index.n_tables:  # empty only when every bucket of the query is
                assert empty[i].all() == (not union[i]) and empty[i].any() == (not union[i]), (
                    f"query {i}: empty draws {empty[i]!r} with {len(union[i])} classes in its buckets"
                )
            for d in np.flatnonzero(~empty[i]):
                c = int(drawn[i, d])
                assert c in union[i], f"query {i} drew class {c}, which is in none of its buckets"
                sizes = {len(tables[t][int(codes[i, t])]) for t in range(index.n_tables)
                         if int(codes[i, t]) in tables[t] and c in tables[t][int(codes[i, t])]}  # fmt: skip
                assert int(draws.bucket_sizes[i, d]) in sizes, "bucket size of a draw is not its bucket's"
        rows = np.repeat(np.arange(n_queries), n_draws).reshape(n_queries, n_draws)
        _check_scores(draws.scores[~empty], rows[~empty], drawn[~empty], X, index, "draw")


_COSINES = st.one_of(
    st.floats(-1.0, 1.0),
    st.sampled_from([-1.0, -0.0, 0.0, 1.0, float(np.nextafter(1.0, 0.0)), float(np.nextafter(-1.0, 0.0)), 1e-300]),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(data=st.data())
def test_log_inclusion_probability(data):
    n = data.draw(st.integers(1, 30), label="n")
    cos = data.draw(hnp.arrays(np.float64, n, elements=_COSINES), label="cosines")
    design = data.draw(st.sampled_from(["independent", "pairs", "scan"]), label="table_design")
    if design == "pairs":
        n_bits = data.draw(st.integers(1, 31), label="half n_bits") * 2
        n_tables = data.draw(st.one_of(st.sampled_from([1, 3, 6, 10, 15, 45]), st.integers(1, 50)), label="n_tables")
    else:
        n_bits = data.draw(st.integers(1, 63), label="n_bits")
        n_tables = data.draw(st.one_of(st.integers(1, 100), st.just(10**6)), label="n_tables")
    radius = data.draw(st.integers(0, n_bits) if design == "scan" else st.integers(0, 1), label="probe_radius")
    per_element = design == "independent" and radius == 0 and data.draw(st.booleans(), label="probes array")
    if per_element:  # the draw form: a number of probed tables per element
        n_tables = data.draw(hnp.arrays(np.int64, n, elements=st.integers(1, 20)), label="probes")
    ok, log_p = attempt(_OTHER_ERRORS, log_inclusion_probability, cos, n_bits, n_tables, design, radius)
    if not ok:
        return
    assert log_p.shape == cos.shape and log_p.dtype == np.float64
    assert not np.isnan(log_p).any(), f"{NON_FINITE}: log_inclusion_probability = {log_p!r} for cosines {cos!r}"
    assert not np.isposinf(log_p).any() and (log_p <= 1e-12).all(), f"log probability above 0: {log_p!r}"
    assert (log_p[cos >= 1.0] >= -1e-12).all(), "cosine 1 is not always retrieved"
    if np.isneginf(log_p).any():
        event("log_inclusion_probability: -inf (a probability of 0 or below the float range)")
    if not per_element:  # non-decreasing in the cosine
        order = np.argsort(np.clip(cos, -1.0, 1.0), kind="stable")
        ordered = np.maximum(log_p[order], -1e300)
        assert (np.diff(ordered) >= -1e-9 * (1 + np.abs(ordered[:-1]))).all(), (
            f"log_inclusion_probability decreases with the cosine: {ordered!r}"
        )


def _simhash_codes(n_rows, n_bits):
    """Packed codes of ``n_bits`` bits, laid out as ``SimHashTransformer(output="packed")``'s."""
    n_blocks = -(-n_bits // 63)
    bits = -(-n_bits // n_blocks)
    used = [min(bits, n_bits - t * bits) for t in range(n_blocks)]
    return st.tuples(*[st.lists(st.integers(0, 2**u - 1), min_size=n_rows, max_size=n_rows) for u in used]).map(
        lambda columns: np.array(columns, dtype=np.int64).T.reshape(n_rows, n_blocks)
    )


@given(data=st.data())
def test_simhash_cosine(data):
    n_bits = data.draw(st.one_of(st.integers(1, 130), st.sampled_from([63, 64, 126, 127, 256])), label="n_bits")
    n_rows = data.draw(st.integers(1, 20), label="n_rows")
    codes_a = data.draw(_simhash_codes(n_rows, n_bits), label="codes_a")
    codes_b = codes_a.copy() if data.draw(st.integers(0, 4), label="same") == 0 else data.draw(
        _simhash_codes(n_rows, n_bits), label="codes_b")  # fmt: skip
    return_std = data.draw(st.booleans(), label="return_std")
    ok, out = attempt(_OTHER_ERRORS, simhash_cosine, codes_a, codes_b, n_bits, return_std=return_std)
    assert ok, "simhash_cosine refused codes of the right width"
    cosine, std = out if return_std else (out, None)
    assert cosine.shape == (n_rows,)
    assert_finite(cosine, "simhash_cosine")
    assert (np.abs(cosine) <= 1).all()
    distance = np.array([sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(ra, rb)) for ra, rb in zip(codes_a, codes_b)])
    assert np.allclose(cosine, np.cos(np.pi * distance / n_bits), rtol=0, atol=1e-12)
    assert (cosine[distance == 0] == 1).all()
    if std is not None:
        assert std.shape == (n_rows,)
        assert_finite(std, "simhash_cosine std")
        assert (std >= 0).all()


@given(data=st.data())
def test_simhash_cosine_codes_wider_than_n_bits(data):
    # Codes with bits set beyond ``n_bits`` (e.g. the wrong n_bits passed):
    # refused, or a cosine in [-1, 1] with a finite std -- not a NaN.
    n_bits = data.draw(st.integers(1, 64), label="n_bits")
    n_rows = data.draw(st.integers(1, 5), label="n_rows")
    n_blocks = data.draw(st.integers(1, 3), label="n_blocks")
    codes = st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n_rows * n_blocks, max_size=n_rows * n_blocks).map(
        lambda v: np.array(v, dtype=np.int64).reshape(n_rows, n_blocks)
    )
    ok, out = attempt(_OTHER_ERRORS, simhash_cosine, data.draw(codes, label="a"), data.draw(codes, label="b"), n_bits,
                      return_std=True)  # fmt: skip
    if ok:
        cosine, std = out
        assert_finite(cosine, "simhash_cosine of out-of-range codes")
        assert_finite(std, "simhash_cosine std of out-of-range codes")
        assert (np.abs(cosine) <= 1).all() and (std >= 0).all()


# ---------------------------------------------------------------- metrics

_PROPENSITY_CONSTANTS = st.one_of(
    st.floats(1e-3, 10.0),
    st.sampled_from([0.55, 1.5, 1e-300, 1e300, 1e3, 50.0]),
    st.floats(min_value=0.0, exclude_min=True, allow_infinity=False),
    st.sampled_from([0.0, -1.0, float("nan"), float("inf"), True, "0.5"]),  # documented ValueErrors
    st.floats(1e-3, 1e3).map(np.float64),
)


@given(data=st.data())
def test_ranking_metrics(data):
    n_classes = data.draw(st.integers(2, 8), label="n_classes")
    pool = data.draw(label_pools(n_classes), label="labels")
    n = data.draw(st.integers(0, 30), label="n_samples")
    y_true = np.array([pool[i] for i in data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))])
    n_ranked = data.draw(st.integers(1, n_classes), label="n_ranked")
    unique = data.draw(st.booleans(), label="rows without repeats")
    if unique:
        rows = [data.draw(st.permutations(range(n_classes)))[:n_ranked] for _ in range(n)]
    else:
        rows = data.draw(st.lists(st.lists(st.integers(0, n_classes - 1), min_size=n_ranked, max_size=n_ranked),
                                  min_size=n, max_size=n))  # fmt: skip
    ranked = np.array([[pool[j] for j in row] for row in rows]).reshape(n, n_ranked)
    shape_error = data.draw(st.integers(0, 19), label="bad shape")
    if shape_error == 1:
        ranked = ranked[:-1]
    elif shape_error == 2:
        ranked = ranked.ravel()
    k = data.draw(st.one_of(*[st.integers(1, n_ranked)] * 4, st.integers(-2, n_ranked + 2),
                            st.sampled_from([1.0, True, "2", None, np.int64(1)])), label="k")  # fmt: skip
    hits = None
    for name, fn in (("precision_at_k", precision_at_k), ("ndcg_at_k", ndcg_at_k)):
        ok, value = attempt(_OTHER_ERRORS, fn, y_true, ranked, k)
        if not ok:
            continue
        assert isinstance(value, float), f"{name} returned {type(value).__name__}"
        assert_finite(value, name)
        k_ = int(k)
        hits = ranked[:, :k_] == y_true[:, None]
        if name == "precision_at_k":
            assert value == pytest.approx(hits.sum(axis=1).mean() / k_, abs=1e-12)
            assert 0 <= value <= (1.0 / k_ if unique else 1.0) + 1e-12, f"precision@{k_} = {value!r}"
        else:
            assert value == pytest.approx((hits / np.log2(np.arange(2, k_ + 2))).sum(axis=1).mean(), abs=1e-12)
            if unique:
                assert 0 <= value <= 1 + 1e-12, f"ndcg@{k_} = {value!r}"

    y_train = np.array([pool[i] for i in data.draw(st.lists(st.integers(0, n_classes - 1), min_size=3,
                                                             max_size=40))])  # fmt: skip
    ok, weights = attempt(_OTHER_ERRORS, inverse_propensity, y_train, classes=np.array(pool))
    assert ok, "inverse_propensity refused the training labels"
    normalize = data.draw(st.booleans(), label="normalize")
    ok, psp = attempt(_OTHER_ERRORS, psprecision_at_k, y_true, ranked, weights, k, normalize=normalize)
    if ok:
        assert isinstance(psp, float)
        assert_finite(psp, "psprecision_at_k")
        k_ = int(k)
        w = np.array([weights[label] for label in y_true.tolist()])
        score = ((ranked[:, :k_] == y_true[:, None]).any(axis=1) * w).mean() / k_
        reference = score / (w.mean() / k_) if normalize else score
        assert psp == pytest.approx(reference, rel=1e-12, abs=1e-15)
        assert psp >= 0 and (not normalize or psp <= 1 + 1e-9), f"PSP@k = {psp!r}"

    metric = data.draw(st.sampled_from(["precision", "ndcg", "psprecision", "recall"]), label="metric")
    inv = data.draw(st.sampled_from([None, "dict", "list"]), label="inv_propensity")
    inv = {None: None, "dict": {label: 1.0 for label in pool}, "list": [1.0] * n_classes}[inv]
    ok, scorer = attempt(_OTHER_ERRORS, make_topk_scorer, metric, k, inv_propensity=inv)
    if ok:
        assert callable(scorer) and repr(scorer).startswith("make_topk_scorer(")


@given(data=st.data())
def test_inverse_propensity(data):
    n_classes = data.draw(st.integers(1, 8), label="n_classes")
    pool = data.draw(label_pools(max(n_classes, 2)), label="labels")[:n_classes]
    n_train = data.draw(st.integers(0, 40), label="n_train")
    y_train = np.array([pool[i] for i in data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n_train,
                                                             max_size=n_train))])  # fmt: skip
    a = data.draw(_PROPENSITY_CONSTANTS, label="a")
    b = data.draw(_PROPENSITY_CONSTANTS, label="b")
    classes = data.draw(st.sampled_from([None, "pool", "first"]), label="classes")
    classes = {None: None, "pool": np.array(pool), "first": np.array(pool[:1])}[classes]
    ok, weights = attempt(_OTHER_ERRORS, inverse_propensity, y_train, a=a, b=b, classes=classes)
    if not ok:
        return
    labels = set(np.unique(y_train).tolist()) | (set(classes.tolist()) if classes is not None else set())
    assert set(weights) == labels, "inverse_propensity keys are not the labels"
    values = np.array(list(weights.values()))
    assert_finite(values, f"inverse_propensity(a={a!r}, b={b!r}, n={n_train})")
    # Documented: "a float >= 1" (1 + c exp(...), c = (log n - 1) (b + 1)**a).
    assert (values >= 1 - 1e-12).all(), f"inverse propensities below 1 (n={n_train}): {values!r}"


# ------------------------------------------------------- data file reader

@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_files")


# Finite values inside the float32 range, and the textual forms of a number.
_FILE_VALUES = st.one_of(
    st.floats(-1e6, 1e6),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-30, 3.4e38, -3.4e38, 1e-45, 1e-300, 1e-320]),
    st.floats(-3.4e38, 3.4e38),
)
_NUMBER_FORMATS = [repr, "{:.6e}".format, "{:g}".format, "{:.17g}".format, "{:+.3f}".format]


def _text_number(draw, value):
    return draw(st.sampled_from(_NUMBER_FORMATS))(value)


@st.composite
def _file_labels(draw, n_rows):
    """Label texts and their values: integers (to 2**53) or floats."""
    if draw(st.booleans()):
        values = draw(st.lists(st.integers(-(2**53), 2**53), min_size=n_rows, max_size=n_rows))
        return [str(v) for v in values], [float(v) for v in values]
    # Within the int64 range: integral labels are returned as int64
    # (test_load_data_file_out_of_range_numbers tries larger ones).
    values = draw(st.lists(st.floats(-1e18, 1e18), min_size=n_rows, max_size=n_rows))
    texts = [repr(v) for v in values]
    return texts, [float(t) for t in texts]


@st.composite
def svmlight_files(draw):
    n_rows = draw(st.integers(1, 8))
    n_cols = draw(st.integers(1, 8))
    zero_based = draw(st.booleans())
    label_texts, labels = draw(_file_labels(n_rows))
    X = np.zeros((n_rows, n_cols), dtype=np.float32)
    lines = ["# a comment line"] if draw(st.integers(0, 4)) == 0 else []
    for i in range(n_rows):
        parts = [label_texts[i]]
        if draw(st.integers(0, 9)) == 0:
            parts.append(f"qid:{draw(st.integers(0, 99))}")
        for j in sorted(draw(st.sets(st.integers(0, n_cols - 1), max_size=n_cols))):
            text = _text_number(draw, draw(_FILE_VALUES))
            X[i, j] = np.float32(float(text))
            parts.append(f"{j + (0 if zero_based else 1)}:{text}")
        line = draw(st.sampled_from([" ", "\t", "  "])).join(parts)
        lines.append(line + draw(st.sampled_from(["", " ", " # comment"])))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", ""]))
    used = np.flatnonzero((X != 0).any(axis=0) | _columns_written(lines, zero_based, n_cols))
    width = int(used.max()) + 1 if used.shape[0] else 1  # scikit-learn's reader: at least one column
    labels = np.array(labels)
    return dict(format="svmlight", content=text.encode(), X=X[:, :width], y=labels, zero_based=zero_based)


def _columns_written(lines, zero_based, n_cols):
    """Columns that appear in the text (with a zero value too)."""
    written = np.zeros(n_cols, dtype=bool)
    for line in lines:
        for token in line.split("#")[0].split()[1:]:
            if not token.startswith("qid:"):
                written[int(token.split(":")[0]) - (0 if zero_based else 1)] = True
    return written


@st.composite
def xc_files(draw):
    n_rows = draw(st.integers(1, 8))
    n_cols = draw(st.integers(1, 8))
    n_labels = draw(st.integers(1, 20))
    X = np.zeros((n_rows, n_cols), dtype=np.float32)
    labels = draw(st.lists(st.integers(0, n_labels - 1), min_size=n_rows, max_size=n_rows))
    lines = [f"{n_rows} {n_cols} {n_labels}"]
    for i in range(n_rows):
        parts = [str(labels[i])]
        for j in sorted(draw(st.sets(st.integers(0, n_cols - 1), max_size=n_cols))):
            text = _text_number(draw, draw(_FILE_VALUES))
            X[i, j] = np.float32(float(text))
            parts.append(f"{j}:{text}")
        lines.append(" ".join(parts))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", ""]))
    return dict(format="xc", content=text.encode(), X=X, y=np.array(labels, dtype=np.int64), zero_based=False)


def _npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@st.composite
def npz_files(draw):
    n_rows = draw(st.integers(1, 8))
    n_cols = draw(st.integers(1, 8))
    X = draw(matrices(n_rows, n_cols, layouts=("dense",), extreme=True))
    if draw(st.integers(0, 4)) == 0:
        X = X.astype(draw(st.sampled_from([np.int32, np.int64, np.bool_])))
    pool = draw(label_pools(draw(st.integers(2, 6))))
    y = np.array([pool[i] for i in draw(st.lists(st.integers(0, len(pool) - 1), min_size=n_rows, max_size=n_rows))])
    layout = draw(st.sampled_from(["dense", "csr", "csc"]))
    if layout == "dense":
        arrays = {"X": X, "y": y}
    else:
        M = sp.csr_matrix(X) if layout == "csr" else sp.csc_matrix(X)
        arrays = {"format": np.array(layout.encode()), "shape": np.array(M.shape), "data": M.data,
                  "indices": M.indices, "indptr": M.indptr, "y": y}  # fmt: skip
    return dict(format="npz", content=_npz_bytes(arrays), X=X, y=y, zero_based=False, layout=layout)


def _write(fuzz_dir, content, suffix):
    path = os.path.join(fuzz_dir, "data" + suffix)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _load(path, file_format, n_features, zero_based):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ok, out = attempt(_OTHER_ERRORS, load_data_file, path, file_format, n_features=n_features,
                          zero_based=zero_based)  # fmt: skip
    return ok, out, caught


def _check_loaded(X, y, file_format, n_features):
    assert isinstance(X, np.ndarray) or (sp.issparse(X) and X.format == "csr"), f"X is a {type(X).__name__}"
    assert X.ndim == 2, f"load_data_file returned a {X.ndim}-D X of shape {X.shape}"
    assert isinstance(y, np.ndarray) and y.ndim == 1, f"load_data_file returned y of shape {np.shape(y)}"
    assert X.shape[0] == y.shape[0] >= 1, f"X has {X.shape[0]} rows, y {y.shape}"
    if file_format in ("svmlight", "xc"):
        assert X.dtype == np.float32, f"{file_format} X is {X.dtype}"
    if n_features is not None:
        assert X.shape[1] == n_features, f"X has {X.shape[1]} columns, n_features={n_features}"


@given(data=st.data())
def test_load_data_file(data, fuzz_dir):
    spec = data.draw(st.one_of(svmlight_files(), xc_files(), npz_files()), label="file")
    fmt = spec["format"]
    suffix = ".npz" if fmt == "npz" and data.draw(st.booleans(), label=".npz suffix") else ".txt"
    path = _write(fuzz_dir, spec["content"], suffix)
    file_format = data.draw(st.sampled_from(["auto", fmt] if fmt != "npz" or suffix == ".npz" else [fmt]),
                            label="file_format")  # fmt: skip
    width = spec["X"].shape[1]
    n_features = data.draw(st.one_of(st.none(), st.integers(1, 10)), label="n_features")
    ok, out, caught = _load(path, file_format, n_features, spec["zero_based"])
    dense_npz = fmt == "npz" and spec.get("layout") == "dense"
    if dense_npz and n_features is not None and n_features != width:
        assert not ok, "a dense X of the wrong width was accepted"
        return
    assert ok, f"a valid {fmt} file was refused: {out!r}"
    X, y = out
    _check_loaded(X, y, fmt, n_features)
    expected = spec["X"]
    if sp.issparse(X):
        if n_features is not None:  # padded with empty columns, or columns past n_features dropped
            dropped = (expected[:, n_features:] != 0).sum()
            padded = np.zeros((expected.shape[0], max(width, n_features)), dtype=expected.dtype)
            padded[:, :width] = expected
            expected = padded[:, :n_features]
            if dropped:
                assert any(issubclass(w.category, UserWarning) for w in caught), "columns dropped without a warning"
        assert X.shape == expected.shape, f"X has shape {X.shape}, the file {expected.shape}"
        X = X.toarray()
    if fmt in ("svmlight", "xc"):
        assert_finite(X, f"X read from a {fmt} file of finite float32 values")
    assert np.array_equal(np.asarray(X), expected), "X differs from the file's values"
    labels = spec["y"]
    if fmt == "svmlight" and (labels == np.round(labels)).all():
        assert y.dtype == np.int64, f"integral svmlight labels returned as {y.dtype}"
    assert np.array_equal(y, labels), f"y {y!r} differs from the file's labels {labels!r}"


_BYTES = [b":", b" ", b"\n", b"x", b"-", b"#", b"\x00", b"9", b"e", b",", b"1", b"0", b"\xff", b"nan", b"\t", b"."]


@st.composite
def _malformed(draw, content):
    how = draw(st.sampled_from(["truncate", "replace", "insert", "delete", "garbage", "empty"]))
    event(f"malformed: {how}")
    if how == "empty":
        return b""
    if how == "garbage":
        return draw(st.binary(min_size=1, max_size=200))
    if how == "truncate":
        return content[: draw(st.integers(0, max(0, len(content) - 1)))]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(0, len(content) - 1)))
        if how == "replace":
            content = content[:at] + draw(st.sampled_from(_BYTES)) + content[at + 1 :]
        elif how == "insert":
            content = content[:at] + draw(st.sampled_from(_BYTES)) + content[at:]
        else:
            content = content[:at] + content[at + 1 :]
    return content


@st.composite
def _bad_npz(draw):
    """npz files whose arrays are wrong: no y, pickled objects, a wrong sparse
    format, inconsistent CSR arrays, 1-D or 3-D X, 2-D or short y."""
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    y = np.arange(4)
    M = sp.csr_matrix(X)
    sparse = {"format": np.array(b"csr"), "shape": np.array(M.shape), "data": M.data, "indices": M.indices,
              "indptr": M.indptr, "y": y}  # fmt: skip
    how = draw(st.sampled_from(["no y", "objects", "coo", "indices", "indptr", "shape", "X 1-D", "X 3-D", "y 2-D",
                                "y short", "no X", "empty"]))  # fmt: skip
    event(f"bad npz: {how}")
    arrays = {
        "no y": {"X": X},
        "objects": {"X": X, "y": np.array([None, 1, "a", 2.0], dtype=object)},
        "coo": {**sparse, "format": np.array(b"coo")},
        "indices": {**sparse, "indices": M.indices.astype(np.int64) + draw(st.sampled_from([3, -1, 2**31]))},
        "indptr": {**sparse, "indptr": M.indptr[::-1].copy()},
        "shape": {**sparse, "shape": np.array(draw(st.sampled_from([(4,), (2, 3), (4, 1), (-4, 3), (4, 3, 1)])))},
        "X 1-D": {"X": X.ravel(), "y": y},
        "X 3-D": {"X": X.reshape(4, 3, 1), "y": y},
        "y 2-D": {"X": X, "y": y.reshape(2, 2)},
        "y short": {"X": X, "y": y[:3]},
        "no X": {"y": y},
        "empty": {"X": X[:0], "y": y[:0]},
    }[how]
    if how == "objects":
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # pickled inside the archive
        return buffer.getvalue()
    return _npz_bytes(arrays)


def _check_malformed(data, fuzz_dir, content, suffix):
    path = _write(fuzz_dir, content, suffix)
    file_format = data.draw(st.sampled_from(["auto", "svmlight", "xc", "npz"]), label="file_format")
    n_features = data.draw(st.one_of(st.none(), st.integers(1, 10)), label="n_features")
    ok, out, _ = _load(path, file_format, n_features, data.draw(st.booleans(), label="zero_based"))
    if ok:
        event("malformed file read")
        X, y = out
        resolved = file_format if file_format != "auto" else ("npz" if suffix == ".npz" else "svmlight")
        _check_loaded(X, y, resolved, n_features)


@given(data=st.data())
def test_load_data_file_malformed(data, fuzz_dir):
    # Text files (svmlight, repository format) with bytes replaced, inserted,
    # deleted or cut off, random bytes, an empty file: a ValueError (or a
    # valid read), nothing else.
    spec = data.draw(st.one_of(svmlight_files(), xc_files()), label="file")
    content = data.draw(_malformed(spec["content"]), label="content")
    suffix = data.draw(st.sampled_from([".txt", ".txt", ".npz"]), label="suffix")
    _check_malformed(data, fuzz_dir, content, suffix)


@given(data=st.data())
def test_load_data_file_bad_npz(data, fuzz_dir):
    # npz archives (zip files) with bytes replaced, inserted, deleted or cut
    # off, and archives whose arrays are wrong.
    if data.draw(st.booleans(), label="bad arrays"):
        content = data.draw(_bad_npz(), label="npz")
    else:
        content = data.draw(_malformed(data.draw(npz_files(), label="file")["content"]), label="content")
    _check_malformed(data, fuzz_dir, content, data.draw(st.sampled_from([".npz", ".npz", ".txt"]), label="suffix"))


@given(data=st.data())
def test_load_data_file_out_of_range_numbers(data, fuzz_dir):
    # Finite numbers that a text file can hold but the reader's types cannot:
    # a feature value beyond the float32 range (X is float32) and an integral
    # label beyond the int64 range (integral labels are returned as int64).
    # Either a ValueError, or X finite and the labels exact.
    what = data.draw(st.sampled_from(["value", "label"]), label="out of range")
    big = data.draw(st.one_of(st.floats(3.5e38, 1.7e308), st.sampled_from([1e39, 1e300, 1.7976931348623157e308])),
                    label="value")  # fmt: skip
    big = big * data.draw(st.sampled_from([1.0, -1.0]), label="sign")
    fmt = data.draw(st.sampled_from(["svmlight", "xc"]) if what == "value" else st.just("svmlight"), label="format")
    if what == "label":
        big = float(np.round(data.draw(st.one_of(st.floats(9.3e18, 1e300), st.sampled_from([2.0**63, 1e20])),
                                       label="label")))  # fmt: skip
        rows = [f"{big!r} 1:1", "1 2:2"]
    else:
        rows = [f"0 {'0' if fmt == 'xc' else '1'}:{big!r}", "1 2:2"]
    text = "\n".join((["2 3 2"] if fmt == "xc" else []) + rows) + "\n"
    path = _write(fuzz_dir, text.encode(), ".txt")
    ok, out, _ = _load(path, fmt, None, False)
    if not ok:
        return
    X, y = out
    assert_finite(X.data, f"X read from a {fmt} file holding the finite value {big!r}")
    assert y[0] == big, f"the label {big!r} was read as {y[0]!r} ({y.dtype})"
