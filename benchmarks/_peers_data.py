"""The data of ``benchmarks/peers.py``, written once per data set into a
temporary directory (not timed) in every format a tool reads: CSR and dense
arrays (.npz), XC text (Omikuji), VW text and fastText text."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import load_ptb_features  # noqa: E402


def save_csr(path, **mats):
    arrays = {}
    for name, value in mats.items():
        if sp.issparse(value):
            value = value.tocsr()
            arrays.update({f"{name}_data": value.data, f"{name}_indices": value.indices,
                           f"{name}_indptr": value.indptr, f"{name}_shape": np.array(value.shape)})  # fmt: skip
        else:
            arrays[name] = value
    np.savez(path, **arrays)


def write_text_formats(ds, X, y, X_test, y_test, tokens_train=None, tokens_test=None):
    """fastText, VW and XC (Omikuji) files from the CSR rows (not timed)."""
    tmp, files = ds["dir"], ds["files"]
    files["xc"] = str(tmp / "train.xc")
    with open(files["xc"], "w") as f:
        f.write(f"{X.shape[0]} {X.shape[1]} {ds['n_classes']}\n")
        for i in range(X.shape[0]):
            a, b = X.indptr[i], X.indptr[i + 1]
            f.write(f"{y[i]} " + " ".join(f"{j}:{v:.6g}" for j, v in zip(X.indices[a:b], X.data[a:b])) + "\n")
    for split, M, yy in (("train", X, y), ("test", X_test, y_test)):
        files[f"vw_{split}"] = str(tmp / f"{split}.vw")
        with open(files[f"vw_{split}"], "w") as f:
            for i in range(M.shape[0]):
                a, b = M.indptr[i], M.indptr[i + 1]
                f.write(f"{yy[i] + 1} | " + " ".join(f"{j}:{v:.6g}" for j, v in zip(M.indices[a:b], M.data[a:b]))
                        + "\n")  # fmt: skip
        files[f"ft_{split}"] = str(tmp / f"{split}.ft")
        with open(files[f"ft_{split}"], "w") as f:
            for i in range(M.shape[0]):
                if tokens_train is not None:
                    words = (tokens_train if split == "train" else tokens_test)[i]
                else:
                    words = " ".join(f"f{j}" for j in M.indices[M.indptr[i] : M.indptr[i + 1]])
                f.write((f"__label__{yy[i]} " if split == "train" else "") + words + "\n")


def prepare_sparse(name, args, tmp):
    from sklearn_lsh.datasets import make_extreme_classification

    C = {"sparse-1e4": 10_000, "sparse-1e5": 100_000}[name]
    n_train, n_test, n_features = args.n_train, args.n_test, args.n_features
    if args.quick:
        C = {"sparse-1e4": 1000, "sparse-1e5": 3000}[name]
    X, y = make_extreme_classification(n_train + n_test, n_features=n_features, n_classes=C, sparse=True,
                                       n_nonzero=50, random_state=0)  # fmt: skip
    X = X.tocsr()
    ds = dict(name=name, kind="sparse", n_classes=C, n_train=n_train, n_test=n_test, n_features=n_features,
              n_features_csr=n_features, dir=tmp, files={}, y_test=y[n_train:])  # fmt: skip
    ds["description"] = (
        f"`{name}`: `make_extreme_classification({n_train + n_test:,}, n_features={n_features:,}, "
        f"n_classes={C:,}, sparse=True, n_nonzero=50, random_state=0)`, first {n_train:,} rows train, next "
        f"{n_test:,} test; {np.unique(y[:n_train]).shape[0]:,} classes occur in the training rows."
    )
    ds["files"]["csr"] = str(tmp / "data.npz")
    save_csr(ds["files"]["csr"], train=X[:n_train], test=X[n_train:], y_train=y[:n_train])
    write_text_formats(ds, X[:n_train], y[:n_train], X[n_train:], y[n_train:])
    return ds


def ptb_contexts(tokens, vocabulary, context_size=3):
    """For every position t the word ids of tokens t-1..t-context_size with
    <eos> before the start, exactly as NextWordFeatures.transform forms them."""
    ids = np.searchsorted(vocabulary, np.asarray(tokens))
    eos = int(np.searchsorted(vocabulary, "<eos>"))
    padded = np.concatenate([np.full(context_size, eos), ids])
    n = ids.shape[0]
    ctx = np.stack([padded[context_size - c : context_size - c + n] for c in range(1, context_size + 1)], axis=1)
    return ctx, ids


def prepare_ptb(args, tmp):
    n_train, n_test = args.ptb_train, args.ptb_test
    if args.quick:
        n_train, n_test = 20_000, 2_000
    ptb = load_ptb_features(args.ptb_data, 0, splits=("train", "test"), limits={"train": n_train, "test": n_test})
    features = ptb.features
    (X, y), (X_test, y_test) = ptb.data["train"], ptb.data["test"]
    vocab = features.vocabulary_
    V = vocab.shape[0]
    ctx, y2 = ptb_contexts(ptb.tokens["train"], vocab)
    ctx_test, y2_test = ptb_contexts(ptb.tokens["test"], vocab)
    assert np.array_equal(y, y2) and np.array_equal(y_test, y2_test)
    # the same positions: the dense rows are the concatenated vectors of these ids
    assert np.allclose(X[:, :64], features.embeddings_[ctx[:, 0]]) and np.allclose(X[:, 128:], features.embeddings_[ctx[:, 2]])

    def one_hot(c):
        n = c.shape[0]
        cols = (c + V * np.arange(3)[None, :]).ravel()
        return sp.csr_matrix((np.ones(3 * n, np.float32), (np.repeat(np.arange(n), 3), cols)), shape=(n, 3 * V))

    def tok(c):
        return [" ".join(f"p{j + 1}={vocab[w]}" for j, w in enumerate(row)) for row in c]

    ds = dict(name="ptb", kind="ptb", n_classes=V, n_train=n_train, n_test=n_test, n_features=3 * V,
              n_features_csr=3 * V, dir=tmp, files={}, y_test=y_test)  # fmt: skip
    ds["description"] = (
        f"`ptb`: Penn Treebank (Mikolov's 10k vocabulary, {V:,} classes), next-word prediction on the first "
        f"{n_train:,} training positions and the first {n_test:,} test positions. The package gets "
        "`NextWordFeatures(context_size=3, n_components=64, random_state=0).fit(all training tokens)` (192 dense "
        "columns: the previous 3 words' PPMI-SVD vectors, learned from the co-occurrences of the whole training "
        "split); fastText gets the previous 3 words as position-tagged tokens (`p1=<w> p2=<w> p3=<w>`); the other "
        f"peers a one-hot CSR of the same 3 position-tagged words ({3 * V:,} columns, 3 non-zeros per row). All "
        "views use the same positions (sentence ends as `<eos>`, `<eos>` padding before the first token)."
    )
    ds["files"]["dense"] = str(tmp / "dense.npz")
    np.savez(ds["files"]["dense"], X_train=X, y_train=y, X_test=X_test)
    Xo, Xo_test = one_hot(ctx), one_hot(ctx_test)
    ds["files"]["csr"] = str(tmp / "data.npz")
    save_csr(ds["files"]["csr"], train=Xo, test=Xo_test, y_train=y)
    write_text_formats(ds, Xo, y, Xo_test, y_test, tok(ctx), tok(ctx_test))
    return ds


