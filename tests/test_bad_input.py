"""Bad input across the public API (issue 6, item 1).

Every bad-input class gets the scikit-learn-style error (type and a message
that says what is wrong) before any kernel runs; input that is unusual but
valid (object arrays of numbers, int64-index CSR, read-only and memory-mapped
arrays, unsorted or duplicate CSR entries) works and gives the same result as
its plain form. A call that fails never changes a fitted model or the
caller's data.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sklearn_lsh import (
    LSHIndex,
    SimHashBucketEncoder,
    SimHashTransformer,
    estimate_log_partition,
)
from sklearn_lsh.datasets import load_ptb, make_extreme_classification
from sklearn_lsh.datasets._text import NextWordFeatures
from sklearn_lsh.metrics import ndcg_at_k, precision_at_k

from .test_common import CLASSIFIERS, KINDS, model_arrays

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 5))
Y = np.arange(60) % 4
X_NAN = X.copy()
X_NAN[3, 2] = np.nan
X_INF = X.copy()
X_INF[3, 2] = np.inf
W = RNG.standard_normal((30, 5))


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _clf(kind="lsh", **params):
    return CLASSIFIERS[kind][0](random_state=0, max_iter=2, **params)


def _fitted(kind="lsh", **params):
    return _clf(kind, **params).fit(X, Y)


TRANSFORMERS = {
    "simhash-gaussian": lambda: SimHashTransformer(8, random_state=0),
    "simhash-sparse": lambda: SimHashTransformer(8, density=0.5, random_state=0),
    "bucket-encoder": lambda: SimHashBucketEncoder(4, 3, random_state=0),
}

# Every classifier (KINDS): (id, call(kind), error type, message pattern)
CLASSIFIER_CASES = [
    # ---- X
    ("fit-nan", lambda k: _clf(k).fit(X_NAN, Y), ValueError, "Input X contains NaN"),
    ("fit-inf", lambda k: _clf(k).fit(X_INF, Y), ValueError, "Input X contains infinity"),
    ("fit-empty", lambda k: _clf(k).fit(X[:0], Y[:0]), ValueError, "0 sample"),
    ("fit-zero-features", lambda k: _clf(k).fit(X[:, :0], Y), ValueError, "0 feature"),
    ("fit-ragged", lambda k: _clf(k).fit([[1.0, 2.0], [3.0]], [0, 1]), ValueError, "inhomogeneous"),
    ("fit-1d-X", lambda k: _clf(k).fit(X[:, 0], Y), ValueError, "Expected 2D array"),
    ("fit-strings-X", lambda k: _clf(k).fit(np.full((60, 2), "a", dtype=object), Y), ValueError, "convert string"),
    ("fit-mismatched-lengths", lambda k: _clf(k).fit(X, Y[:-1]), ValueError, "inconsistent numbers of samples"),
    ("fit-complex-X", lambda k: _clf(k).fit(X + 1j, Y), ValueError, "Complex data not supported"),
    # ---- y
    ("fit-one-class", lambda k: _clf(k).fit(X, np.zeros(60)), ValueError, "only one class"),
    ("fit-continuous-y", lambda k: _clf(k).fit(X, RNG.standard_normal(60)), ValueError, "Unknown label type"),
    ("fit-2d-y", lambda k: _clf(k).fit(X, np.c_[Y, Y]), ValueError, "1d array"),
    ("fit-mixed-label-types", lambda k: _clf(k).fit(X, np.array(["a", 1, "b", 2] * 15, dtype=object)),
     ValueError, "mixes label types"),  # fmt: skip
    # ---- sample_weight
    ("fit-negative-weight", lambda k: _clf(k).fit(X, Y, sample_weight=-np.ones(60)), ValueError, "Negative values"),
    ("fit-zero-weights", lambda k: _clf(k).fit(X, Y, sample_weight=np.zeros(60)), ValueError,
     "at least one non-zero"),  # fmt: skip
    ("fit-nan-weight", lambda k: _clf(k).fit(X, Y, sample_weight=np.full(60, np.nan)), ValueError,
     "NaN or infinity"),  # fmt: skip
    ("fit-weight-length", lambda k: _clf(k).fit(X, Y, sample_weight=np.ones(7)), ValueError,
     "one weight per sample"),  # fmt: skip
    # ---- partial_fit
    ("partial-fit-no-classes", lambda k: _clf(k).partial_fit(X, Y), ValueError, "classes must be passed"),
    ("partial-fit-label-outside", lambda k: _clf(k).partial_fit(X, Y, classes=[0, 1, 2]), ValueError,
     "not in classes"),  # fmt: skip
    ("partial-fit-one-class", lambda k: _clf(k).partial_fit(X, Y * 0, classes=[0]), ValueError,
     "at least 2 classes"),  # fmt: skip
    ("partial-fit-other-classes", lambda k: _fitted(k).partial_fit(X, Y, classes=[0, 1, 2, 3, 4]), ValueError,
     "not the same as on the first call"),  # fmt: skip
    ("partial-fit-balanced", lambda k: _clf(k, class_weight="balanced").partial_fit(X, Y, classes=[0, 1, 2, 3]),
     ValueError, "balanced"),  # fmt: skip
    ("partial-fit-wrong-features", lambda k: _fitted(k).partial_fit(X[:, :4], Y), ValueError, "X has 4 features"),
    # ---- parameters (checked by _fit_context)
    ("bad-parameter", lambda k: _clf(k, batch_size=0).fit(X, Y), ValueError, "batch_size"),
    ("bad-class-weight", lambda k: _clf(k, class_weight="auto").fit(X, Y), ValueError, "class_weight"),
    # ---- prediction
    ("predict-unfitted", lambda k: _clf(k).predict(X), NotFittedError, "not fitted"),
    ("topk-unfitted", lambda k: _clf(k).predict_topk(X, 2), NotFittedError, "not fitted"),
    ("predict-wrong-features", lambda k: _fitted(k).predict(X[:, :4]), ValueError, "X has 4 features"),
    ("proba-wrong-features", lambda k: _fitted(k).predict_proba(X[:, :4]), ValueError, "X has 4 features"),
    ("log-proba-wrong-features", lambda k: _fitted(k).predict_log_proba(X[:, :4]), ValueError, "X has 4 features"),
    ("decision-wrong-features", lambda k: _fitted(k).decision_function(X[:, :4]), ValueError, "X has 4 features"),
    ("topk-wrong-features", lambda k: _fitted(k).predict_topk(X[:, :4], 2), ValueError, "X has 4 features"),
    ("score-wrong-features", lambda k: _fitted(k).score(X[:, :4], Y), ValueError, "X has 4 features"),
    ("predict-nan", lambda k: _fitted(k).predict(X_NAN), ValueError, "Input X contains NaN"),
    ("topk-k-too-large", lambda k: _fitted(k).predict_topk(X, 5), ValueError,
     r"k must be an int in \[1, n_classes=4\]"),  # fmt: skip
    ("topk-k-float", lambda k: _fitted(k).predict_topk(X, 1.5), ValueError, "k must be an int"),
    ("warm-start-other-features", lambda k: _fitted(k, warm_start=True).fit(X[:, :4], Y), ValueError, "warm_start"),
]

# (id, call, error type, message pattern)
CASES = [
    # ---- LSHSoftmaxClassifier only
    ("lsh-bad-parameter", lambda: _clf(n_tables=0).fit(X, Y), ValueError, "n_tables"),
    ("lsh-bad-estimator", lambda: _clf(estimator="softmax").fit(X, Y), ValueError, "estimator"),
    ("lsh-topk-retrieval", lambda: _fitted().predict_topk(X, 2, retrieval="fast"), ValueError, "retrieval must be"),
    # ---- partition-function API
    ("partition-nan-X", lambda: estimate_log_partition(W, X_NAN), ValueError, "Input X contains NaN"),
    ("partition-inf-W", lambda: estimate_log_partition(np.where(W > 2, np.inf, W), X), ValueError,
     "Input W contains infinity"),  # fmt: skip
    ("partition-empty-X", lambda: estimate_log_partition(W, X[:0]), ValueError, "0 sample"),
    ("partition-mismatch", lambda: estimate_log_partition(W, X[:, :4]), ValueError, "X has 4 features, but W has 5"),
    ("partition-1d-X", lambda: estimate_log_partition(W, X[0]), ValueError, "Expected 2D array"),
    ("partition-method", lambda: estimate_log_partition(W, X, method="magic"), ValueError, "method"),
    ("partition-option", lambda: estimate_log_partition(W, X, method="exact", n_bits=3), (ValueError, TypeError),
     "n_bits"),  # fmt: skip
    ("index-n-bits", lambda: LSHIndex(n_bits=64), ValueError, "n_bits"),
    ("index-unbuilt", lambda: LSHIndex().query(X), RuntimeError, "not been built"),
    ("index-query-features", lambda: LSHIndex(n_bits=3, n_tables=2).build(W).query(X[:, :4]), ValueError,
     "features"),  # fmt: skip
    # ---- metrics
    ("metric-empty", lambda: precision_at_k(np.array([]), np.zeros((0, 3)), 2), ValueError, "0 samples"),
    ("metric-k-float", lambda: ndcg_at_k([1], [[1, 2]], 1.5), TypeError, "k must be an int"),
    ("metric-k-range", lambda: precision_at_k([1], [[1, 2]], 3), ValueError, r"k must be in \[1, 2\]"),
    ("metric-shapes", lambda: precision_at_k([1, 2], [[1, 2]], 1), ValueError, "Expected y_true of shape"),
    # ---- datasets
    ("ptb-missing", lambda: load_ptb("/nonexistent/folder"), FileNotFoundError, "ptb.train.txt"),
    ("synthetic-n-samples", lambda: make_extreme_classification(0, 5, 3), ValueError, "n_samples"),
    ("next-word-empty", lambda: NextWordFeatures(n_components=2).fit([]), ValueError, "more than window"),
    ("next-word-unknown", lambda: NextWordFeatures(n_components=2).fit(["a", "b", "a", "c"]).transform(["zzz"]),
     ValueError, "not in the training vocabulary"),  # fmt: skip
    # ---- transformers
    ("bucket-width", lambda: SimHashBucketEncoder(n_bits=30, n_tables=4).fit(X), ValueError, "more than 2147483647"),
]
for name, make in TRANSFORMERS.items():
    CASES += [
        (f"{name}-nan", lambda make=make: make().fit(X_NAN), ValueError, "Input X contains NaN"),
        (f"{name}-empty", lambda make=make: make().fit(X[:0]), ValueError, "0 sample"),
        (f"{name}-zero-features", lambda make=make: make().fit(X[:, :0]), ValueError, "0 feature"),
        (f"{name}-strings", lambda make=make: make().fit(np.full((4, 2), "a", dtype=object)), ValueError,
         "convert string"),  # fmt: skip
        (f"{name}-wrong-features", lambda make=make: make().fit(X).transform(X[:, :4]), ValueError, "X has 4 features"),
        (f"{name}-unfitted", lambda make=make: make().transform(X), NotFittedError, "not fitted"),
        (f"{name}-nan-at-transform", lambda make=make: make().fit(X).transform(X_NAN), ValueError, "contains NaN"),
    ]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CLASSIFIER_CASES], ids=[c[0] for c in CLASSIFIER_CASES])
@pytest.mark.parametrize("kind", KINDS)
def test_classifier_bad_input_raises_a_clear_error(kind, call, error, match):
    with pytest.raises(error, match=match):
        call(kind)


# --------------------------------------------------- valid but unusual input
def _csr_int64(A):
    A = sp.csr_matrix(A)
    return sp.csr_matrix((A.data, A.indices.astype(np.int64), A.indptr.astype(np.int64)), shape=A.shape)


def _read_only(A):
    A = np.array(A)
    A.flags.writeable = False
    return A


def _memmap(tmp_path, A):
    path = tmp_path / "X.npy"
    np.save(path, A)
    return np.load(path, mmap_mode="r")


def _unsorted_with_duplicates(A):
    """The same matrix as CSR with every row's entries reversed and the last
    entry split into two duplicates."""
    A = sp.csr_matrix(A)
    data, indices, indptr = [], [], [0]
    for i in range(A.shape[0]):
        row = A.getrow(i)
        cols, vals = list(row.indices[::-1]), list(row.data[::-1])
        if cols:
            cols.append(cols[-1])
            vals[-1] /= 2
            vals.append(vals[-1])
        data += vals
        indices += cols
        indptr.append(len(indices))
    B = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=A.shape)
    assert not B.has_canonical_format
    return B


VARIANTS = ["object", "csr-int64", "read-only", "memmap", "csr-unsorted-duplicates"]


def _variant(kind, A, tmp_path):
    if kind == "object":
        return A.astype(object)
    if kind == "csr-int64":
        return _csr_int64(A)
    if kind == "read-only":
        return _read_only(A)
    if kind == "memmap":
        return _memmap(tmp_path, A)
    return _unsorted_with_duplicates(A)


# name -> (classifier kind, parameters)
CLASSIFIER_CONFIGS = {
    "lsh": ("lsh", {}),
    "exact": ("lsh", {"estimator": "exact"}),
    "two-component": ("two-component", {}),
}


def _topk(model, A):
    """The top-2 of ``model``: by its LSH tables if it has them."""
    return model.predict_topk(A, 2, **({"retrieval": "lsh"} if hasattr(model, "n_tables") else {}))


@pytest.mark.parametrize("kind", VARIANTS)
@pytest.mark.parametrize("config", list(CLASSIFIER_CONFIGS))
def test_classifier_accepts_unusual_containers(kind, config, tmp_path):
    A = np.where(np.abs(X) > 0.7, X, 0.0)  # some zeros, so the CSR forms are sparse
    Xv = _variant(kind, A, tmp_path)
    snapshot = pickle.dumps(Xv) if kind != "memmap" else np.array(Xv)
    classifier, params = CLASSIFIER_CONFIGS[config]
    reference = _clf(classifier, **params).fit(A, Y)
    model = _clf(classifier, **params).fit(Xv, Y)
    expected = model_arrays(reference)
    for name, value in model_arrays(model).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(model.predict(Xv), reference.predict(A))
    labels, proba = _topk(model, Xv)
    ref_labels, ref_proba = _topk(reference, A)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(proba, ref_proba, rtol=1e-8)
    # the caller's data is untouched
    if kind == "memmap":
        np.testing.assert_array_equal(np.array(Xv), snapshot)
    else:
        after = pickle.loads(snapshot)
        assert type(after) is type(Xv)
        if sp.issparse(Xv):
            np.testing.assert_array_equal(Xv.indices, after.indices)
            np.testing.assert_array_equal(Xv.data, after.data)
        else:
            np.testing.assert_array_equal(Xv, after)


@pytest.mark.parametrize("kind", VARIANTS)
@pytest.mark.parametrize("name", list(TRANSFORMERS))
def test_transformers_accept_unusual_containers(kind, name, tmp_path):
    A = np.where(np.abs(X) > 0.7, X, 0.0)
    Xv = _variant(kind, A, tmp_path)
    reference = TRANSFORMERS[name]().fit_transform(A)
    out = TRANSFORMERS[name]().fit_transform(Xv)
    if sp.issparse(reference):
        reference, out = reference.toarray(), out.toarray()
    np.testing.assert_array_equal(out, reference)


@pytest.mark.parametrize("kind", ["csr-int64", "read-only", "memmap", "csr-unsorted-duplicates"])
@pytest.mark.parametrize("method", ["exact", "lsh", "uniform", "mips-gumbel"])
def test_partition_api_accepts_unusual_containers(kind, method, tmp_path):
    A = np.where(np.abs(X) > 0.7, X, 0.0)
    Xv = _variant(kind, A, tmp_path)
    expected = estimate_log_partition(W, A, method=method, random_state=0)
    np.testing.assert_allclose(estimate_log_partition(W, Xv, method=method, random_state=0), expected, rtol=1e-10)


# ------------------------------------------------ failures leave models intact
def _state(model):
    """Everything ``fit`` sets, public and private (not the parameters)."""
    params = model.get_params()
    return {name: (value.copy() if isinstance(value, np.ndarray) else value)
            for name, value in vars(model).items() if name not in params}  # fmt: skip


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for name in a:
        if isinstance(a[name], np.ndarray):
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        elif not isinstance(a[name], LSHIndex):
            assert a[name] == b[name], name


@pytest.mark.parametrize(
    "bad_call",
    [
        lambda m: m.partial_fit(X, Y + 10),  # labels outside classes
        lambda m: m.partial_fit(X_NAN, Y),
        lambda m: m.partial_fit(X[:, :4], Y),
        lambda m: m.partial_fit(X, Y, sample_weight=-np.ones(60)),
        lambda m: m.partial_fit(X, Y, classes=[0, 1]),
        lambda m: m.fit(X_NAN, Y),
        lambda m: m.fit(X, np.zeros(60)),
    ],
    ids=["labels-outside", "nan", "features", "weights", "classes", "fit-nan", "fit-one-class"],
)
@pytest.mark.parametrize(
    "config", [("lsh", {}), ("lsh", {"n_components": 3}), ("two-component", {})],
    ids=["lsh", "lsh-low-rank", "two-component"],
)
def test_a_failed_call_leaves_the_model_intact(bad_call, config):
    kind, params = config
    model = _clf(kind, **params).partial_fit(X, Y, classes=np.arange(4))
    before = _state(model)
    assert any(name.startswith("_") for name in before)  # the private state is compared too
    prediction = model.predict_proba(X)
    with pytest.raises(ValueError):
        bad_call(model)
    _assert_same_state(before, _state(model))
    np.testing.assert_array_equal(model.predict_proba(X), prediction)
    model.partial_fit(X, Y)  # and it keeps training
    assert model.n_iter_ == 2


# ------------------------------------------- user-assigned fitted arrays
@pytest.mark.parametrize(
    "assign, error, match",
    [
        (lambda m: setattr(m, "coef_", np.zeros((3, 5))), ValueError, r"coef_ must have shape \(4, 5\)"),
        (lambda m: setattr(m, "coef_", np.full((4, 5), np.nan)), ValueError, "coef_ contains NaN"),
        (lambda m: setattr(m, "coef_", np.zeros(5)), ValueError, "Expected 2D array"),
    ],
    ids=["shape", "nan", "1d"],
)
def test_replacing_coef_is_checked(assign, error, match):
    model = _fitted()
    coef = model.coef_.copy()
    with pytest.raises(error, match=match):
        assign(model)
    np.testing.assert_array_equal(model.coef_, coef)


def test_coef_assignment_is_copied_and_cast():
    model = _fitted()
    new = np.asfortranarray(np.ones((4, 5), dtype=np.float32))
    model.coef_ = new
    assert model.coef_.dtype == np.float64 and model.coef_.flags.c_contiguous
    new[0, 0] = 5.0  # the model holds its own copy
    assert model.coef_[0, 0] == 1.0
    model.partial_fit(X, Y)


def test_coef_cannot_be_set_before_fit():
    with pytest.raises(AttributeError, match="only be replaced on a fitted model"):
        _clf().coef_ = np.zeros((4, 5))


@pytest.mark.parametrize("use", ["predict", "partial_fit", "warm_fit"])
def test_a_wrong_intercept_is_refused_before_any_kernel(use):
    model = _fitted(warm_start=True)
    model.intercept_ = np.zeros(3)
    with pytest.raises(ValueError, match=r"intercept_ must be an array of shape \(4,\)"):
        {"predict": lambda: model.predict(X), "partial_fit": lambda: model.partial_fit(X, Y),
         "warm_fit": lambda: model.fit(X, Y)}[use]()  # fmt: skip


def test_a_wrong_embedding_is_refused_before_any_kernel():
    model = _fitted(n_components=3)
    model.embedding_ = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"embedding_ must be an array of shape \(5, 3\)"):
        model.partial_fit(X, Y)
    with pytest.raises(ValueError, match="class_embedding_ must have shape"):
        model.class_embedding_ = np.zeros((2, 3))
