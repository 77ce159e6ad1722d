"""Generators and loaders in sklearn_lsh.datasets."""

from pathlib import Path

import numpy as np
import pytest

from sklearn_lsh.datasets import (
    NextWordFeatures,
    load_data_file,
    load_ptb,
    make_extreme_classification,
    read_tokens,
)

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


# fetch_ptb and load_xc_repo_file (issue 8)

import shutil  # noqa: E402

import scipy.sparse as sp  # noqa: E402

from sklearn_lsh.datasets import _fetch, fetch_ptb, get_data_home, load_xc_repo_file  # noqa: E402


def test_fetch_ptb_reads_and_checks_a_local_copy():
    ptb = fetch_ptb(data_home=PTB, download_if_missing=False)
    assert (len(ptb.train), len(ptb.valid), len(ptb.test)) == (929_589, 73_760, 82_430)
    assert ptb.path == PTB
    # data_home may also be the parent that holds ptb/
    assert fetch_ptb(data_home=PTB.parent, download_if_missing=False).path == PTB


def test_fetch_ptb_downloads_verifies_and_never_keeps_a_bad_file(tmp_path, monkeypatch):
    # The public source, served from the local copy: the same bytes, over urllib.
    monkeypatch.setattr(_fetch, "PTB_URL", PTB.as_uri() + "/")
    monkeypatch.setenv("SKLEARN_LSH_DATA", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home"
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        fetch_ptb(download_if_missing=False)
    ptb = fetch_ptb()
    assert ptb.path == tmp_path / "home" / "ptb" and len(ptb.valid) == 73_760
    assert sorted(p.name for p in ptb.path.iterdir()) == ["ptb.test.txt", "ptb.train.txt", "ptb.valid.txt"]

    # A source that serves different bytes: an error, and no file left behind.
    bad = tmp_path / "bad"
    bad.mkdir()
    for split in ("train", "valid", "test"):
        shutil.copy(PTB / f"ptb.{split}.txt", bad / f"ptb.{split}.txt")
    with open(bad / "ptb.valid.txt", "a") as f:
        f.write(" extra\n")
    monkeypatch.setattr(_fetch, "PTB_URL", bad.as_uri() + "/")
    target = tmp_path / "fresh"
    with pytest.raises(OSError, match="Checksum mismatch"):
        fetch_ptb(data_home=target)
    assert sorted(p.name for p in (target / "ptb").iterdir()) == ["ptb.train.txt"]  # valid failed: not saved
    # A damaged local copy is refused too.
    with pytest.raises(ValueError, match="not the expected Penn Treebank file"):
        fetch_ptb(data_home=bad, download_if_missing=False)
    # An unreachable source says where to put the files.
    monkeypatch.setattr(_fetch, "PTB_URL", (tmp_path / "nowhere").as_uri() + "/")
    with pytest.raises(OSError, match="Could not download ptb.valid.txt"):
        fetch_ptb(data_home=target)
    with pytest.raises(TypeError, match="download_if_missing"):
        fetch_ptb(data_home=target, download_if_missing="no")


def _write(path, text):
    path.write_text(text)
    return path


def test_load_xc_repo_file_multiclass_and_multilabel(tmp_path):
    text = "3 5 4\n2 0:1.5 3:0.5\n0 4:2\n3 1:1\n"
    X, y = load_xc_repo_file(_write(tmp_path / "a.txt", text))
    assert X.format == "csr" and X.dtype == np.float32 and X.shape == (3, 5)
    np.testing.assert_array_equal(X.toarray(), [[1.5, 0, 0, 0.5, 0], [0, 0, 0, 0, 2], [0, 1, 0, 0, 0]])
    assert y.dtype == np.int64 and y.tolist() == [2, 0, 3]
    X, Y = load_xc_repo_file(_write(tmp_path / "b.txt", "3 5 4\n0,2 0:1\n 1:2\n3 4:1.5\n"), multilabel=True)
    assert sp.issparse(Y) and Y.shape == (3, 4)
    np.testing.assert_array_equal(Y.toarray(), [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])


def test_load_xc_repo_file_matches_the_sector_libsvm_file(tmp_path):
    from sklearn.datasets import load_svmlight_file

    src = PTB.parent / "sector-partial" / "sector.test"
    X_ref, y_ref = load_svmlight_file(str(src), zero_based=False)
    lines = src.read_text().splitlines()
    body = []
    for line in lines:  # 1-based libsvm -> 0-based repository format
        label, *feats = line.split()
        body.append(" ".join([str(int(label)), *(f"{int(f.split(':')[0]) - 1}:{f.split(':')[1]}" for f in feats)]))
    path = _write(tmp_path / "sector.txt", f"{len(body)} {X_ref.shape[1]} 106\n" + "\n".join(body) + "\n")
    X, y = load_xc_repo_file(path, dtype=np.float64)
    assert (X != X_ref).nnz == 0
    np.testing.assert_array_equal(y, y_ref.astype(np.int64))


@pytest.mark.parametrize(
    "text, match",
    [
        ("2 3\n0 0:1\n", "header"),
        ("1 3 2\n0 0:1\n1 1:1\n", "declares 1 samples"),
        ("2 3 2\n0 0:1\n5 1:1\n", r"labels must be integers in \[0, 2\)"),
        ("2 3 2\n0,1 0:1\n1 1:1\n", "exactly one label"),
        ("1 3 2\n0 7:1\n", "Malformed"),
        ("1 3 2\n0 0:abc\n", "Malformed"),
        ("0 3 2\n", "0 samples"),
    ],
)
def test_load_xc_repo_file_errors(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        load_xc_repo_file(_write(tmp_path / "x.txt", text))


# load_data_file, the loader of the command line (issue 20)


def _npz_files(tmp_path, X, y):
    """The same (X, y) as numpy.savez arrays and as save_npz matrices (CSR, CSC) plus y."""
    dense = tmp_path / "dense.npz"
    np.savez(dense, X=X.toarray(), y=y)
    paths = {"dense": dense}
    for fmt in ("csr", "csc"):
        paths[fmt] = tmp_path / f"{fmt}.npz"
        sp.save_npz(paths[fmt], X.asformat(fmt))
        with np.load(paths[fmt]) as data:
            np.savez(paths[fmt], **dict(data), y=y)
    return paths


def test_load_data_file_reads_every_format(tmp_path):
    X = sp.csr_matrix(np.array([[1.5, 0, 0, 0.5], [0, 2, 0, 0], [0, 0, 0.25, 0]], dtype=np.float32))
    y = np.array([3, 0, 3])
    svm = _write(tmp_path / "a.svm", "3 1:1.5 4:0.5\n0 2:2\n3 3:0.25\n")
    svm0 = _write(tmp_path / "a0.svm", "3 0:1.5 3:0.5\n0 1:2\n3 2:0.25\n")
    xc = _write(tmp_path / "a.txt", "3 4 5\n3 0:1.5 3:0.5\n0 1:2\n3 2:0.25\n")
    read = {
        "svmlight": load_data_file(svm),
        "zero-based svmlight": load_data_file(svm0, zero_based=True),
        "xc": load_data_file(xc),
        **{f"{name} npz": load_data_file(path) for name, path in _npz_files(tmp_path, X, y).items()},
    }
    for name, (X_read, y_read) in read.items():
        np.testing.assert_array_equal(X_read.toarray() if sp.issparse(X_read) else X_read, X.toarray(), err_msg=name)
        np.testing.assert_array_equal(y_read, y, err_msg=name)
        assert y_read.dtype.kind == "i", name  # svmlight parses labels as floats: 3.0 -> 3
    assert sp.isspmatrix_csr(read["csc npz"][0]) and isinstance(read["dense npz"][0], np.ndarray)
    # "auto" picks what an explicit format reads; an svmlight file keeps non-integral labels.
    for path, file_format in ((svm, "svmlight"), (xc, "xc"), (tmp_path / "csr.npz", "npz")):
        X_auto, y_auto = load_data_file(path)
        X_named, y_named = load_data_file(str(path), file_format)
        assert (X_auto != X_named).nnz == 0 and y_auto.tolist() == y_named.tolist()
    assert load_data_file(_write(tmp_path / "f.svm", "0.5 1:1\n2 1:1\n"))[1].tolist() == [0.5, 2.0]


def test_load_data_file_suffix_decides_before_content(tmp_path):
    text = "2 1:1\n3 2:1\n"
    assert load_data_file(_write(tmp_path / "data.csv", text))[1].tolist() == [2, 3]  # unknown suffix: sniffed
    with pytest.raises(ValueError, match=r"Cannot read '.*data\.npz' as npz"):
        load_data_file(_write(tmp_path / "data.npz", text))
    assert load_data_file(tmp_path / "data.npz", "svmlight")[1].tolist() == [2, 3]
    with pytest.raises(ValueError, match="file_format"):
        load_data_file(tmp_path / "data.csv", "csv")


def test_load_data_file_at_a_model_width(tmp_path):
    path = _write(tmp_path / "a.svm", "1 1:1 6:2\n2 2:1\n")
    X, _ = load_data_file(path, n_features=8)  # padded
    assert X.shape == (2, 8) and X.nnz == 3
    with pytest.warns(UserWarning, match="1 non-zeros of .* are in features 4 and above"):
        X, _ = load_data_file(path, n_features=4)  # cropped
    assert sp.isspmatrix_csr(X) and X.shape == (2, 4) and X.toarray().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    np.savez(tmp_path / "d.npz", X=np.ones((2, 3)), y=np.array([0, 1]))
    with pytest.raises(ValueError, match="X has 3 features, the model 4"):
        load_data_file(tmp_path / "d.npz", n_features=4)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"X": np.ones((2, 2))}, "no array 'y'"),
        ({"A": np.ones((2, 2)), "y": np.zeros(2)}, "neither an array 'X'"),
        ({"X": np.ones((3, 2)), "y": np.zeros(2)}, r"one label per row of X, got \(2,\) for 3 rows"),
        ({"X": np.ones((0, 2)), "y": np.zeros(0)}, "holds no samples"),
    ],
)
def test_load_data_file_npz_errors(tmp_path, arrays, match):
    np.savez(tmp_path / "x.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        load_data_file(tmp_path / "x.npz")


def test_load_data_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such data file"):
        load_data_file(tmp_path / "missing.svm")
    with pytest.raises(ValueError, match="as svmlight: line 1: Invalid index 0") as exc:
        load_data_file(_write(tmp_path / "zero.svm", "1 0:1\n"))
    assert isinstance(exc.value.__cause__, ValueError)  # the reader's own error
    with pytest.raises(ValueError, match="as xc: .*exactly one label"):
        load_data_file(_write(tmp_path / "ml.txt", "2 3 2\n0,1 0:1\n1 1:1\n"))


def test_load_data_file_refuses_what_it_cannot_read_faithfully(tmp_path):
    from sklearn_lsh.datasets import load_data_file

    big = tmp_path / "big.svm"
    big.write_text("1 1:3.5e38 2:2\n0 1:1\n")  # beyond float32: would be read as inf
    with pytest.raises(ValueError, match="beyond the float32 range"):
        load_data_file(big)
    label = tmp_path / "label.svm"
    label.write_text("9.3e18 1:1\n1 1:2\n")  # an integer label beyond int64
    _, y = load_data_file(label)
    assert y.dtype == np.float64 and y[0] == 9.3e18
    label.write_text("9.0e18 1:1\n1 1:2\n")
    _, y = load_data_file(label)
    assert y.dtype == np.int64 and y[0] == 9 * 10**18
    cube = tmp_path / "cube.npz"
    np.savez(cube, X=np.zeros((4, 3, 1)), y=np.arange(4))
    with pytest.raises(ValueError, match="must be 2-D"):
        load_data_file(cube)


def test_a_corrupt_npz_file_is_a_value_error(tmp_path):
    from sklearn_lsh.datasets import load_data_file

    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(ValueError, match="Cannot read"):
        load_data_file(path)


def test_load_brown_splits_by_file_with_unknown_words(tmp_path):
    import zipfile

    from sklearn_lsh.datasets import load_brown

    path = tmp_path / "brown.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("brown/README", "not a corpus file")
        archive.writestr("brown/ca01", "\n\tThe/at Jury/nn said/vbd ./.\n\n\tIt/pps said/vbd ./.\n")
        archive.writestr("brown/ca02", "\tA/at jury/nn met/vbd ./.\n")
    splits = load_brown(path, test_every=2)
    assert splits["train"] == ["the", "jury", "said", ".", "<eos>", "it", "said", ".", "<eos>", "<unk>"]
    assert splits["test"] == ["<unk>", "jury", "<unk>", ".", "<eos>"]
    with pytest.raises(FileNotFoundError, match="brown.zip"):
        load_brown(tmp_path / "missing.zip")
    with pytest.raises(ValueError, match="test_every"):
        load_brown(path, test_every=1)
