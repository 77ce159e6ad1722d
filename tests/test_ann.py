"""predict_topk(retrieval="hnsw") (issue 22, item 4): recall against the
exact top-k, exact rescoring, the estimate of Z, reproducibility, the graph
kept out of pickles and model files and rebuilt when the model changes,
errors, and the message when the optional dependency is missing."""

import pickle
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh import LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier, load_model, save_model
from sklearn_lsh._ann import _in_rows, check_n_candidates, tail_draws
from sklearn_lsh.datasets import make_extreme_classification

N_CLASSES = 1500


@pytest.fixture(scope="module")
def data():
    return make_extreme_classification(6000, 24, N_CLASSES, random_state=0)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return LSHSoftmaxClassifier(max_iter=3, tol=None, random_state=0).fit(X, y)


def _recall(approx, exact):
    top1 = np.mean(approx[:, 0] == exact[:, 0])
    topk = np.mean([len(set(a) & set(b)) / exact.shape[1] for a, b in zip(approx, exact)])
    return top1, topk


def _fresh(clf):
    """An unpickled copy: same model, no graph yet."""
    return pickle.loads(pickle.dumps(clf))


# ----------------------------------------------------------- without hnswlib
def test_missing_extra_names_it(fitted, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "hnswlib", None)  # import hnswlib -> ImportError
    with pytest.raises(ImportError, match=r'pip install "sklearn-lsh\[ann\]"'):
        _fresh(fitted).predict_topk(data[0][:5], k=3, retrieval="hnsw", n_candidates=20)


def test_argument_errors(fitted, data):
    X = data[0][:5]
    for bad in (2, 0, 1.5, True, "10"):
        with pytest.raises(ValueError, match="n_candidates must be None or an int >= k=3"):
            fitted.predict_topk(X, k=3, retrieval="hnsw", n_candidates=bad)
    with pytest.raises(ValueError, match="n_candidates is used by retrieval='hnsw' only"):
        fitted.predict_topk(X, k=3, n_candidates=50)
    with pytest.raises(ValueError, match="retrieval must be"):
        fitted.predict_topk(X, k=3, retrieval="faiss")
    two = TwoComponentSoftmaxClassifier(max_iter=1, random_state=0).fit(*make_extreme_classification(300, 8, 30,
                                                                                                      random_state=0))
    with pytest.raises(ValueError, match="retrieval must be 'exact'"):
        two.predict_topk(X[:, :8], k=3, retrieval="hnsw")


def test_n_candidates_resolution():
    assert check_n_candidates(None, 5, 10**5) == 80
    assert check_n_candidates(None, 300, 10**5) == 300
    assert check_n_candidates(None, 5, 50) == 50
    assert check_n_candidates(64, 5, 10**5) == 64


def test_all_candidates_is_exact(fitted, data):
    # n_candidates >= n_classes: every class is scored, as by retrieval="exact"
    X = data[0][:50]
    exact = fitted.predict_topk(X, k=4)
    approx = _fresh(fitted).predict_topk(X, k=4, retrieval="hnsw", n_candidates=N_CLASSES)
    np.testing.assert_array_equal(approx[0], exact[0])
    np.testing.assert_array_equal(approx[1], exact[1])


def test_tail_draws_are_uniform_and_chunk_independent():
    draws = tail_draws(123, 40, 500, 7)
    assert draws.min() == 0 and draws.max() == 6
    counts = np.bincount(draws.ravel(), minlength=7)
    assert np.all(np.abs(counts / draws.size - 1 / 7) < 0.01)
    np.testing.assert_array_equal(tail_draws(123, 10, 500, 7, first_row=30), draws[30:])
    assert not np.array_equal(tail_draws(124, 40, 500, 7), draws)


def test_in_rows_matches_python_sets():
    rng = np.random.default_rng(0)
    sets = np.stack([rng.choice(60, 12, replace=False) for _ in range(25)])
    values = rng.integers(0, 60, size=(25, 40))
    expected = np.array([[v in set(s) for v in row] for row, s in zip(values, sets)])
    np.testing.assert_array_equal(_in_rows(values, sets, 60), expected)


# -------------------------------------------------------------- with hnswlib
def test_recall_against_exact(fitted, data):
    pytest.importorskip("hnswlib")
    X = data[0][:1000]
    exact, exact_proba = fitted.predict_topk(X, k=5)
    approx, proba = fitted.predict_topk(X, k=5, retrieval="hnsw", n_candidates=40)
    top1, top5 = _recall(approx, exact)
    assert top1 >= 0.95 and top5 >= 0.9, (top1, top5)
    assert np.isin(approx, fitted.classes_).all()
    assert all(len(set(row)) == 5 for row in approx)
    # best first, and each probability <= 1 with rows summing to <= 1
    assert np.all(np.diff(proba, axis=1) <= 1e-12) and np.all(proba.sum(axis=1) <= 1 + 1e-9)
    # where the top-1 is the exact one, its probability is exp(s) / Z_hat with an unbiased Z_hat:
    # close to the exact probability (the tail draws add noise)
    same = approx[:, 0] == exact[:, 0]
    ratio = proba[same, 0] / exact_proba[same, 0]
    assert abs(np.median(ratio) - 1) < 0.01 and np.mean(np.abs(ratio - 1) < 0.25) > 0.95


def test_scores_are_rescored_exactly(fitted, data):
    pytest.importorskip("hnswlib")
    X = data[0][:200]
    labels, _ = fitted.predict_topk(X, k=3, retrieval="hnsw", n_candidates=30)
    scores = fitted.decision_function(X)
    picked = np.take_along_axis(scores, np.searchsorted(fitted.classes_, labels), axis=1)
    assert np.all(np.diff(picked, axis=1) <= 1e-5)  # ordered by the model's own scores


def test_z_estimate_is_unbiased():
    # Z_hat of one row over many draw seeds: its mean is Z
    pytest.importorskip("hnswlib")
    from sklearn_lsh._ann import GraphIndex, augmented_vectors, topk_graph

    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((400, 6)), rng.standard_normal(400)
    h = rng.standard_normal((1, 6))
    s = h @ W.T + b
    graph = GraphIndex(augmented_vectors(W, b, None), seed=0)
    top, proba = np.empty((1, 1), np.int64), np.empty((1, 1))
    inverse = []
    for seed in range(3000):
        topk_graph(graph, h, W, b, 1, 20, seed, None, top, proba)
        inverse.append(np.exp(s[0, top[0, 0]]) / proba[0, 0])  # = Z_hat
    z = np.exp(s).sum()
    assert abs(np.mean(inverse) / z - 1) < 4 * np.std(inverse) / np.sqrt(len(inverse)) / z + 1e-3


def test_reproducible_and_chunked(data):
    pytest.importorskip("hnswlib")
    import sklearn

    X, y = data
    a = LSHSoftmaxClassifier(max_iter=1, random_state=3).fit(X, y)
    b = LSHSoftmaxClassifier(max_iter=1, random_state=3).fit(X, y)
    first = a.predict_topk(X[:300], k=5, retrieval="hnsw", n_candidates=25)
    second = b.predict_topk(X[:300], k=5, retrieval="hnsw", n_candidates=25)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with sklearn.config_context(working_memory=0.01):  # rows in many chunks, same draws per row
        chunked = a.predict_topk(X[:300], k=5, retrieval="hnsw", n_candidates=25)
    np.testing.assert_array_equal(chunked[0], first[0])
    np.testing.assert_array_equal(chunked[1], first[1])
    two_threads = LSHSoftmaxClassifier(max_iter=1, random_state=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(two_threads.predict_topk(X[:300], k=5, retrieval="hnsw", n_candidates=25)[0],
                                  first[0])  # fmt: skip


def test_graph_not_pickled_nor_saved(fitted, data, tmp_path):
    pytest.importorskip("hnswlib")
    X = data[0][:200]
    clf = _fresh(fitted)
    before = clf.predict_topk(X, k=5, retrieval="hnsw", n_candidates=25)
    assert "_graph_index" in vars(clf)
    assert "_graph_index" not in vars(pickle.loads(pickle.dumps(clf)))
    plain = len(pickle.dumps(_fresh(fitted)))
    assert len(pickle.dumps(clf)) == plain
    path = tmp_path / "model.skl"
    save_model(clf, path)
    for loaded in (pickle.loads(pickle.dumps(clf)), load_model(path)):
        after = loaded.predict_topk(X, k=5, retrieval="hnsw", n_candidates=25)  # rebuilt on first use
        np.testing.assert_array_equal(after[0], before[0])
        np.testing.assert_array_equal(after[1], before[1])


def test_graph_follows_the_model(data):
    pytest.importorskip("hnswlib")
    X, y = data
    clf = LSHSoftmaxClassifier(max_iter=1, random_state=0).fit(X, y)
    clf.predict_topk(X[:5], k=2, retrieval="hnsw", n_candidates=20)
    graph = vars(clf)["_graph_index"][1]
    clf.predict_topk(X[:5], k=2, retrieval="hnsw", n_candidates=30)
    assert vars(clf)["_graph_index"][1] is graph  # kept between calls
    clf.partial_fit(X[:500], y[:500])
    clf.predict_topk(X[:5], k=2, retrieval="hnsw", n_candidates=20)
    assert vars(clf)["_graph_index"][1] is not graph
    # a new coef_: the old graph would find the old best classes
    rng = np.random.default_rng(0)
    clf.coef_ = rng.standard_normal(clf.coef_.shape)
    clf.intercept_ = np.zeros_like(clf.intercept_)
    exact, _ = clf.predict_topk(X[:300], k=1)
    approx, _ = clf.predict_topk(X[:300], k=1, retrieval="hnsw", n_candidates=40)
    assert np.mean(approx == exact) > 0.95


@pytest.mark.parametrize("variant", ["low-rank", "sparse", "no-intercept", "post-hoc", "float64"])
def test_variants(variant):
    pytest.importorskip("hnswlib")
    sparse = variant in ("low-rank", "sparse")
    X, y = make_extreme_classification(4000, 300 if sparse else 16, 800, sparse=sparse, n_nonzero=15, random_state=1,
                                       dtype=np.float64 if variant == "float64" else np.float32)  # fmt: skip
    params = {"low-rank": {"n_components": 16}, "no-intercept": {"fit_intercept": False},
              "post-hoc": {"logit_adjustment": 1.0, "logit_adjustment_form": "post-hoc"}}.get(variant, {})  # fmt: skip
    clf = LSHSoftmaxClassifier(max_iter=2, tol=None, random_state=0, **params).fit(X, y)
    exact, _ = clf.predict_topk(X[:400], k=3)
    approx, proba = clf.predict_topk(X[:400], k=3, retrieval="hnsw", n_candidates=50)
    top1, top3 = _recall(approx, exact)
    assert top1 >= 0.95 and top3 >= 0.9, (top1, top3)
    assert np.all(np.isfinite(proba) & (proba > 0) & (proba <= 1))
    if variant == "sparse":
        dense = clf.predict_topk(sp.csr_matrix(X[:400]).toarray(), k=3, retrieval="hnsw", n_candidates=50)
        np.testing.assert_array_equal(dense[0], approx)


def test_concurrent_calls_match_serial(fitted, data):
    pytest.importorskip("hnswlib")
    from concurrent.futures import ThreadPoolExecutor

    X = data[0][:200]
    clf = _fresh(fitted)
    settings = [20, 60, 20, 60, 35, 35]
    serial = [clf.predict_topk(X, k=3, retrieval="hnsw", n_candidates=m) for m in settings]
    with ThreadPoolExecutor(3) as pool:
        parallel = list(pool.map(lambda m: clf.predict_topk(X, k=3, retrieval="hnsw", n_candidates=m), settings))
    for (a, pa), (b, pb) in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pa, pb)
