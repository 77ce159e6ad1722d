"""Generators and loaders in sklearn_lsh.datasets."""

from pathlib import Path

import numpy as np
import pytest

from sklearn_lsh.datasets import NextWordFeatures, load_ptb, make_extreme_classification, read_tokens

PTB = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptb"


def test_extreme_classification_dense_is_deterministic_and_zipf():
    X, y = make_extreme_classification(5000, 16, 200, random_state=3)
    X2, y2 = make_extreme_classification(5000, 16, 200, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.dtype == np.float32 and y.dtype == np.int64 and X.shape == (5000, 16)
    assert 0 <= y.min() and y.max() < 200
    counts = np.sort(np.bincount(y, minlength=200))[::-1]
    # Zipf(1) over 200 classes: the top class has 1 / H_200 ~ 17% of the rows.
    assert 0.14 < counts[0] / 5000 < 0.21
    assert counts[0] > 5 * counts[20]
    other = make_extreme_classification(5000, 16, 200, random_state=4)[1]
    assert not np.array_equal(y, other)


def test_extreme_classification_sparse_rows():
    X, y = make_extreme_classification(300, 5000, 40, sparse=True, n_nonzero=12, random_state=0)
    assert X.format == "csr" and X.shape == (300, 5000)
    np.testing.assert_array_equal(X.getnnz(axis=1), 12)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)).A1, 1.0, rtol=1e-6)
    X2, _ = make_extreme_classification(300, 5000, 40, sparse=True, n_nonzero=12, random_state=0)
    assert (X != X2).nnz == 0


def test_extreme_classification_is_learnable():
    from sklearn_lsh import LSHSoftmaxClassifier

    X, y = make_extreme_classification(4000, 32, 50, random_state=0)
    clf = LSHSoftmaxClassifier("exact", max_iter=5, tol=None, random_state=0).fit(X[:3000], y[:3000])
    assert clf.score(X[3000:], y[3000:]) > 0.5


def test_extreme_classification_validates():
    with pytest.raises(ValueError, match="n_classes"):
        make_extreme_classification(10, 4, 1)


def test_next_word_features_tiny_text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("the cat sat\nthe dog sat\n")
    tokens = read_tokens(path)
    assert tokens == ["the", "cat", "sat", "<eos>", "the", "dog", "sat", "<eos>"]
    feats = NextWordFeatures(context_size=2, n_components=3).fit(tokens)
    X, y = feats.transform(tokens)
    assert X.shape == (8, 6) and X.dtype == np.float32
    np.testing.assert_array_equal(feats.vocabulary_[y], tokens)
    emb = {w: feats.embeddings_[i] for i, w in enumerate(feats.vocabulary_)}
    eos = emb["<eos>"]
    np.testing.assert_array_equal(X[0], np.concatenate([eos, eos]))  # before the start: <eos>
    np.testing.assert_array_equal(X[2], np.concatenate([emb["cat"], emb["the"]]))  # previous word first
    with pytest.raises(ValueError, match="not in the training vocabulary"):
        feats.transform(["the", "bird"])


def test_load_ptb_from_shared_data():
    splits = load_ptb(PTB)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [929589, 73760, 82430]
    assert len(set(splits["train"])) == 10000
    with pytest.raises(FileNotFoundError, match="ptb.train.txt"):
        load_ptb(PTB.parent)
