"""Peers side by side: the package against the tools users would pick instead.

Same split, same machine, one run per tool, every tool on ONE thread
(``OMP_NUM_THREADS=1`` etc. in every child, and each library's own thread
setting at 1). Reported per tool: train time, predict time (whole test set),
top-1 accuracy, P@5 and the peak RSS of the process that ran the tool.

Every tool runs in its own fresh subprocess (``peers.py --worker``), which
loads the data files the parent wrote once into a temporary directory (writing
them is not timed), trains, predicts the top 5 labels of every test row and
writes them to a .npy file; the parent computes top-1 and P@5 with
``sklearn_lsh.metrics``. The child reports its own ``VmHWM`` (peak RSS, data
and libraries included) at the end. A child still running after
``--time-cap`` seconds (its whole wall time: loading, training and
prediction) is killed and reported "DNF"; one whose resident size passes
``--mem-cap`` GiB is killed and reported "OOM"; a configuration whose dense
parameters alone would pass ``--mem-cap`` is "not run"; a tool that does not
import is "not installed". PECOS (libpecos pins numpy<2) runs in its own
virtual environment under ``~/.cache/sklearn-lsh-bench/pecos-venv``, made on
first use.

The package's rows: ``"lsh"``, ``"exact"`` and ``"prior"`` (sampled softmax
with ``--prior-samples`` draws per example from the smoothed training class
frequencies, no tables). The dominance lines compare "lsh" and "prior"
with the peers.

Data sets (``--datasets``):

* ``sparse-1e4``, ``sparse-1e5``: ``make_extreme_classification(110_000,
  n_features=100_000, n_classes=C, sparse=True, n_nonzero=50,
  random_state=0)``, first 100,000 rows train, next 10,000 test (as
  ``benchmarks/scaling.py --sparse``).
* ``ptb``: Penn Treebank next-word prediction (10,000 classes), the first
  ``--ptb-train`` training positions and the first ``--ptb-test`` test
  positions. The package gets ``NextWordFeatures(context_size=3,
  n_components=64)`` (dense, as ``benchmarks/ptb_language_model.py``);
  fastText gets the previous 3 words as position-tagged tokens; the other
  peers a one-hot CSR of the same 3 position-tagged words (3 x 10,000
  columns).

Install the peers with ``pip install -e ".[bench]"``. Run ``python
benchmarks/peers.py`` (all data sets and tools); ``--quick`` for a smoke run;
``--no-write`` leaves docs/benchmarks.md alone. ``--n-components W`` gives
sklearn-lsh's low-rank model on the sparse data the width W instead of 64
and writes its own section (``peers_n_components_W``); docs/benchmarks.md
has runs at 128 and 256 on ``--datasets sparse-1e5`` with the peers that
finish there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS")}  # fmt: skip
os.environ.update(ONE_THREAD)  # before numpy's BLAS starts its pool in the children

HERE = Path(__file__).resolve().parent
PECOS_VENV = Path.home() / ".cache" / "sklearn-lsh-bench" / "pecos-venv"
PECOS_SPEC = "libpecos==1.2.8"
K = 5

TOOLS = {
    # name: (label in the table, input kind)
    "lsh": ("sklearn-lsh \"lsh\"", "ours"),
    "exact": ("sklearn-lsh \"exact\"", "ours"),
    "prior": ("sklearn-lsh \"prior\"", "ours"),
    "logreg": ("sklearn LogisticRegression", "csr"),
    "sgd": ("sklearn SGDClassifier (OvR)", "csr"),
    "plt": ("napkinXC PLT", "csr"),
    "hsm": ("napkinXC HSM", "csr"),
    "omikuji": ("Omikuji", "xc"),
    "pecos": ("PECOS XR-Linear", "csr"),
    "fasttext-softmax": ("fastText softmax", "fasttext"),
    "fasttext-hs": ("fastText hs", "fasttext"),
    "fasttext-ns": ("fastText ns", "fasttext"),
    "vw-oaa": ("VW --oaa", "vw"),
    "vw-log_multi": ("VW --log_multi", "vw"),
}
DATASETS = ("ptb", "sparse-1e4", "sparse-1e5")
OURS = ("lsh", "exact", "prior")  # the package's rows; the others are peers


# ------------------------------------------------------------------ settings
def settings_for(tool, ds, args):
    """The hyper-parameters of a tool on a data set (a dict, shown in the table)."""
    C, sparse = ds["n_classes"], ds["kind"] == "sparse"
    if tool in OURS:
        if sparse:  # benchmarks/scaling.py --sparse, "low-rank lsh" / "low-rank exact"
            s = dict(n_components=args.n_components, n_tables=16, eta0=0.1, batch_size=128, epochs=args.epochs_sparse)
        else:  # benchmarks/ptb_language_model.py (dense PPMI features)
            s = dict(eta0=0.1, alpha=1e-6, batch_size=128, n_bits=7, n_tables=16, epochs=args.epochs_ptb)
        if tool == "prior":  # no tables; a fixed number of draws from the smoothed training frequencies
            del s["n_tables"]
            s.pop("n_bits", None)
            s["n_samples"] = args.prior_samples
        return s
    if tool == "logreg":
        return dict(solver="lbfgs", max_iter=args.logreg_max_iter, C=1.0)
    if tool == "sgd":
        return dict(loss="log_loss", max_iter=args.epochs_sparse if sparse else args.epochs_ptb, tol=None,
                    alpha=1e-6)  # fmt: skip
    if tool in ("plt", "hsm"):
        return dict(optimizer="liblinear", liblinear_c=10, liblinear_eps=0.1, max_leaves=100, arity=2,
                    tree_type="hierarchicalKmeans", threads=1)  # fmt: skip
    if tool == "omikuji":
        return dict(n_trees=3, cluster_k=2, max_depth=20, min_branch_size=100, linear_c=1.0, beam_size=10,
                    threads=1)  # fmt: skip
    if tool == "pecos":
        return dict(indexer="hierarchicalkmeans", nr_splits=16, max_leaf_size=100, embedding="pifa",
                    solver_type="L2R_L2LOSS_SVC_DUAL", Cp=1.0, Cn=1.0, beam_size=10, threads=1)  # fmt: skip
    if tool.startswith("fasttext"):
        loss = tool.split("-")[1]
        epoch = args.ft_epochs
        return dict(loss=loss, dim=100, epoch=epoch, lr=args.ft_lr,
                    minCount=1, wordNgrams=1, thread=1, **({"neg": 5} if loss == "ns" else {}))  # fmt: skip
    if tool.startswith("vw"):
        mode = tool.split("-", 1)[1]
        bits = vw_bits(C, ds["n_features"], args.vw_weight_gib)
        s = dict(reduction=f"--{mode} {C}", b=bits, passes=args.vw_passes, loss_function="logistic" if mode == "oaa"
                 else "squared", holdout_off=True)  # fmt: skip
        if mode == "oaa":
            s["probabilities"] = True
        return s
    raise ValueError(tool)


def vw_bits(n_classes, n_features, weight_gib):
    """VW shares one 2^b weight table between the C per-class problems: each
    gets 2^b / 2^ceil(log2 C) slots. Enough bits for every feature id, but at
    most the weight budget (4 floats per weight for the adaptive/normalised
    update, 4 bytes each)."""
    want = math.ceil(math.log2(n_classes)) + math.ceil(math.log2(n_features))
    budget = int(math.floor(math.log2(weight_gib * 2**30 / 16)))
    return min(want, budget)


def param_gib(tool, ds, s):
    """Lower bound of the memory a configuration needs (dense parameters and
    the n x C buffers that sklearn's multinomial loss allocates), in GiB."""
    C, d, n = ds["n_classes"], ds["n_features_csr"], ds["n_train"]
    if tool == "logreg":  # coef + grad + lbfgs history (m=10 pairs), raw predictions + gradient (n x C)
        return 8 * ((2 * 10 + 3) * C * (d + 1) + 2 * n * C) / 2**30
    if tool == "sgd":  # coef_ (C, d) float64 (plus the per-class copies)
        return 8 * C * (d + 1) / 2**30
    return 0.0


# -------------------------------------------------------------------- worker
def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_csr(path, prefix):
    z = np.load(path)
    return sp.csr_matrix((z[prefix + "data"], z[prefix + "indices"], z[prefix + "indptr"]),
                         shape=tuple(z[prefix + "shape"]))  # fmt: skip


def pad_ranked(rows, k=K):
    out = np.full((len(rows), k), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        r = list(r)[:k]
        out[i, : len(r)] = r
    return out


def worker(task):
    """Runs one tool in this (fresh) process; writes the ranked top-5 labels
    to task["out"] and prints one JSON line."""
    tool, s, files, C = task["tool"], task["settings"], task["files"], task["n_classes"]
    fn = globals()["run_ours" if tool in OURS else "run_" + tool.split("-")[0]]
    train_s, predict_s, ranked, extra = fn(task, tool, s, files, C)
    np.save(task["out"], ranked)
    print(json.dumps({"train_s": train_s, "predict_s": predict_s, "peak_mib": peak_rss_mib(), "extra": extra}),
          flush=True)  # fmt: skip


def run_ours(task, tool, s, files, C):
    from sklearn.base import clone

    from sklearn_lsh import LSHSoftmaxClassifier

    params = {k: v for k, v in s.items() if k != "epochs"}
    if task["kind"] == "sparse":
        X, X_test = load_csr(files["csr"], "train_"), load_csr(files["csr"], "test_")
        y = np.load(files["csr"])["y_train"]
        clf = LSHSoftmaxClassifier(tool, **params, random_state=0, n_jobs=1)
    else:
        z = np.load(files["dense"])
        X, y, X_test = z["X_train"], z["y_train"], z["X_test"]
        clf = LSHSoftmaxClassifier(tool, **params, random_state=0, shuffle=True, n_jobs=1)
    classes = np.arange(C)
    clone(clf).partial_fit(X[:500], y[:500], classes=classes)  # warm-up: numba compilation is not timed
    start = time.perf_counter()
    for _ in range(s["epochs"]):
        clf.partial_fit(X, y, classes=classes)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    top, _ = clf.predict_topk(X_test, k=K)
    predict_s = time.perf_counter() - start
    return train_s, predict_s, np.asarray(top, dtype=np.int64), {"classes_scored": clf.mean_classes_scored_}


def _sklearn_topk(clf, X_test):
    scores = clf.decision_function(X_test)
    part = np.argpartition(-scores, K - 1, axis=1)[:, :K]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return clf.classes_[np.take_along_axis(part, order, axis=1)]


def run_logreg(task, tool, s, files, C):
    import warnings

    from sklearn.linear_model import LogisticRegression

    X, X_test = load_csr(files["csr"], "train_"), load_csr(files["csr"], "test_")
    y = np.load(files["csr"])["y_train"]
    clf = LogisticRegression(solver=s["solver"], max_iter=s["max_iter"], C=s["C"])  # multinomial for >2 classes
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    top = _sklearn_topk(clf, X_test)
    return train_s, time.perf_counter() - start, top, {"n_iter": int(np.max(clf.n_iter_))}


def run_sgd(task, tool, s, files, C):
    from sklearn.linear_model import SGDClassifier

    X, X_test = load_csr(files["csr"], "train_"), load_csr(files["csr"], "test_")
    y = np.load(files["csr"])["y_train"]
    clf = SGDClassifier(loss=s["loss"], max_iter=s["max_iter"], tol=s["tol"], alpha=s["alpha"], n_jobs=1,
                        random_state=0)  # fmt: skip
    start = time.perf_counter()
    clf.fit(X, y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    top = _sklearn_topk(clf, X_test)
    return train_s, time.perf_counter() - start, top, {}


def run_plt(task, tool, s, files, C):
    from napkinxc import models

    X, X_test = load_csr(files["csr"], "train_"), load_csr(files["csr"], "test_")
    y = np.load(files["csr"])["y_train"]
    cls = models.PLT if tool == "plt" else models.HSM
    params = {k: v for k, v in s.items()}
    model = cls(os.path.join(task["workdir"], tool + "-model"), seed=0, **params)
    start = time.perf_counter()
    model.fit(X, [[int(v)] for v in y])
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = model.predict(X_test, top_k=K)
    predict_s = time.perf_counter() - start
    return train_s, predict_s, pad_ranked(pred), {}


run_hsm = run_plt


def run_omikuji(task, tool, s, files, C):
    import omikuji

    X_test = load_csr(files["csr"], "test_")
    hp = omikuji.Model.default_hyper_param()
    for key in ("n_trees", "cluster_k", "max_depth", "min_branch_size", "linear_c"):
        setattr(hp, key, s[key])
    start = time.perf_counter()
    model = omikuji.Model.train_on_data(files["xc"], hp, n_threads=s["threads"])
    train_s = time.perf_counter() - start
    model.init_prediction_thread_pool(s["threads"])
    start = time.perf_counter()
    rows = []
    for i in range(X_test.shape[0]):
        a, b = X_test.indptr[i], X_test.indptr[i + 1]
        pairs = list(zip(X_test.indices[a:b].tolist(), X_test.data[a:b].tolist()))
        rows.append([label for label, _ in model.predict(pairs, beam_size=s["beam_size"], top_k=K)])
    predict_s = time.perf_counter() - start
    return train_s, predict_s, pad_ranked(rows), {}


def run_pecos(task, tool, s, files, C):
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel

    X, X_test = load_csr(files["csr"], "train_"), load_csr(files["csr"], "test_")
    X, X_test = X.astype(np.float32), X_test.astype(np.float32)
    y = np.load(files["csr"])["y_train"]
    Y = sp.csr_matrix((np.ones(y.shape[0], dtype=np.float32), (np.arange(y.shape[0]), y)), shape=(y.shape[0], C))
    start = time.perf_counter()
    label_feat = LabelEmbeddingFactory.create(Y, X, method=s["embedding"], threads=s["threads"])
    chain = Indexer.gen(label_feat, indexer_type=s["indexer"], nr_splits=s["nr_splits"],
                        max_leaf_size=s["max_leaf_size"], threads=s["threads"], seed=0)  # fmt: skip
    model = XLinearModel.train(X, Y, C=chain, threads=s["threads"], solver_type=s["solver_type"], Cp=s["Cp"],
                               Cn=s["Cn"])  # fmt: skip
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    P = model.predict(X_test, beam_size=s["beam_size"], only_topk=K, threads=s["threads"]).tocsr()
    rows = []
    for i in range(P.shape[0]):
        a, b = P.indptr[i], P.indptr[i + 1]
        order = np.argsort(-P.data[a:b], kind="stable")
        rows.append(P.indices[a:b][order])
    predict_s = time.perf_counter() - start
    return train_s, predict_s, pad_ranked(rows), {}


def run_fasttext(task, tool, s, files, C):
    import fasttext

    params = {k: v for k, v in s.items()}
    start = time.perf_counter()
    model = fasttext.train_supervised(input=files["ft_train"], verbose=0, seed=0, **params)
    train_s = time.perf_counter() - start
    with open(files["ft_test"]) as f:
        lines = f.read().splitlines()
    start = time.perf_counter()
    labels, _ = model.predict(lines, k=K, threshold=0.0)
    predict_s = time.perf_counter() - start
    rows = [[int(lab[len("__label__"):]) for lab in row] for row in labels]
    return train_s, predict_s, pad_ranked(rows), {}


def run_vw(task, tool, s, files, C):
    from vowpalwabbit import Workspace

    cache = os.path.join(task["workdir"], tool + ".cache")
    if os.path.exists(cache):
        os.remove(cache)
    args = (f"{s['reduction']} -b {s['b']} --passes {s['passes']} -c --cache_file {cache} --holdout_off "
            f"--loss_function {s['loss_function']} --quiet -d {files['vw_train']}")  # fmt: skip
    if s.get("probabilities"):
        args += " --probabilities"
    start = time.perf_counter()
    vw = Workspace(args)  # runs VW's own parser and learner over the file (all passes)
    train_s = time.perf_counter() - start
    with open(files["vw_test"]) as f:
        lines = f.read().splitlines()
    start = time.perf_counter()
    rows = []
    for line in lines:
        p = vw.predict(line)
        if s.get("probabilities"):
            p = np.asarray(p)
            top = np.argpartition(-p, K - 1)[:K]
            rows.append(top[np.argsort(-p[top], kind="stable")] + 1)
        else:
            rows.append([int(p)])
    predict_s = time.perf_counter() - start
    vw.finish()
    ranked = pad_ranked(rows)
    ranked[ranked > 0] -= 1  # VW labels are 1..C
    return train_s, predict_s, ranked, {}


# ---------------------------------------------------------------------- data
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
    from sklearn_lsh.datasets import NextWordFeatures, load_ptb

    n_train, n_test = args.ptb_train, args.ptb_test
    if args.quick:
        n_train, n_test = 20_000, 2_000
    splits = load_ptb(args.ptb_data)
    features = NextWordFeatures(context_size=3, n_components=64, random_state=0).fit(splits["train"])
    X, y = features.transform(splits["train"][:n_train])
    X_test, y_test = features.transform(splits["test"][:n_test])
    vocab = features.vocabulary_
    V = vocab.shape[0]
    ctx, y2 = ptb_contexts(splits["train"][:n_train], vocab)
    ctx_test, y2_test = ptb_contexts(splits["test"][:n_test], vocab)
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


# ------------------------------------------------------------------- running
def tool_available(tool):
    """(python executable, None) or (None, reason)."""
    modules = {"logreg": "sklearn", "sgd": "sklearn", "plt": "napkinxc", "hsm": "napkinxc", "omikuji": "omikuji",
               **dict.fromkeys(OURS, "sklearn_lsh")}  # fmt: skip
    if tool == "pecos":
        return pecos_python()
    module = modules.get(tool) or ("fasttext" if tool.startswith("fasttext") else "vowpalwabbit")
    check = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    if check.returncode:
        return None, (check.stderr.strip().splitlines() or ["import failed"])[-1][:120]
    return sys.executable, None


_PECOS = None


def pecos_python():
    """The python of a venv with libpecos (numpy<2), made on first use."""
    global _PECOS
    if _PECOS is None:
        python = PECOS_VENV / "bin" / "python"
        try:
            if not python.exists():
                print(f"creating {PECOS_VENV} and installing {PECOS_SPEC} ...", flush=True)
                subprocess.run([sys.executable, "-m", "venv", str(PECOS_VENV)], check=True, capture_output=True)
                subprocess.run([str(python), "-m", "pip", "install", "-q", PECOS_SPEC], check=True,
                               capture_output=True, text=True, timeout=1800)  # fmt: skip
            check = subprocess.run([str(python), "-c", "from pecos.xmc.xlinear.model import XLinearModel"],
                                   capture_output=True, text=True, env={**os.environ, **ONE_THREAD})  # fmt: skip
            if check.returncode:
                raise RuntimeError((check.stderr.strip().splitlines() or ["import failed"])[-1][:120])
            _PECOS = (str(python), None)
        except subprocess.CalledProcessError as e:
            _PECOS = (None, f"venv/pip failed: {(str(e.stderr or '').strip().splitlines() or [str(e)])[-1][:120]}")
        except Exception as e:  # noqa: BLE001
            _PECOS = (None, f"{type(e).__name__}: {e}"[:140])
    return _PECOS


def proc_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_tool(tool, ds, args):
    """Result dict of one tool on one data set (status "ok", "DNF", "OOM",
    "failed", "not run" or "not installed")."""
    s = settings_for(tool, ds, args)
    need = param_gib(tool, ds, s)
    if need > args.mem_cap:
        return dict(status="not run", note=f"needs >= {need:,.0f} GiB (> --mem-cap {args.mem_cap:g})", settings=s)
    python, reason = tool_available(tool)
    if python is None:
        return dict(status="not installed", note=reason, settings=s)
    out = ds["dir"] / f"{tool}.npy"
    task = dict(tool=tool, settings=s, files=ds["files"], n_classes=ds["n_classes"], kind=ds["kind"],
                workdir=str(ds["dir"]), out=str(out))  # fmt: skip
    log_path = ds["dir"] / f"{tool}.stderr"
    env = {**os.environ, **ONE_THREAD}
    start = time.perf_counter()
    peak_seen = 0.0
    with open(log_path, "w") as err:
        proc = subprocess.Popen([python, str(Path(__file__).resolve()), "--worker", json.dumps(task)],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                start_new_session=True)  # fmt: skip
        status = None
        while proc.poll() is None:
            elapsed = time.perf_counter() - start
            peak_seen = max(peak_seen, proc_rss_mib(proc.pid))
            if elapsed > args.time_cap:
                status = "DNF"
            elif peak_seen > args.mem_cap * 1024:
                status = "OOM"
            if status:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.2)
        stdout = proc.stdout.read()
    wall = time.perf_counter() - start
    if status == "DNF":
        return dict(status="DNF", note=f"DNF (> {args.time_cap:g} s)", settings=s, wall=wall)
    if status == "OOM":
        return dict(status="OOM", note=f"killed: RSS > {args.mem_cap:g} GiB", settings=s, wall=wall,
                    peak_mib=peak_seen)  # fmt: skip
    if proc.returncode != 0:
        lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
        return dict(status="failed", note=f"failed (exit {proc.returncode}): {(lines or [''])[-1][:150]}",
                    settings=s, wall=wall)  # fmt: skip
    from sklearn_lsh.metrics import precision_at_k

    r = json.loads(stdout.strip().splitlines()[-1])
    ranked = np.load(out)
    y_test = ds["y_test"]
    r.update(status="ok", settings=s, wall=wall, top1=float(np.mean(ranked[:, 0] == y_test)))
    r["p5"] = precision_at_k(y_test, ranked, k=K) if (ranked[:, 1:] >= 0).any() else None
    return r


def fmt_settings(tool, s):
    return ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("threads", "thread"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {', '.join(DATASETS)}")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma list of {', '.join(TOOLS)}")
    parser.add_argument("--time-cap", type=float, default=600.0, help="wall seconds per tool run")
    parser.add_argument("--mem-cap", type=float, default=10.0, help="GiB of RSS per tool run")
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-features", type=int, default=100_000)
    parser.add_argument("--ptb-data", default=str(HERE.parents[1] / "shared" / "data" / "ptb"))
    parser.add_argument("--ptb-train", type=int, default=200_000, help="first N PTB training positions")
    parser.add_argument("--ptb-test", type=int, default=20_000, help="first N PTB test positions")
    parser.add_argument("--epochs-sparse", type=int, default=2, help="epochs of sklearn-lsh / SGD on sparse data")
    parser.add_argument("--epochs-ptb", type=int, default=3, help="epochs of sklearn-lsh / SGD on PTB")
    parser.add_argument("--ft-epochs", type=int, default=5, help="fastText epochs")
    parser.add_argument("--ft-lr", type=float, default=0.5, help="fastText learning rate")
    parser.add_argument("--prior-samples", type=int, default=100,
                        help='draws per example of sklearn-lsh "prior" (1%% of C at C = 10^4)')
    parser.add_argument("--n-components", type=int, default=64,
                        help="width of sklearn-lsh's low-rank model on the sparse data; a width other than 64 writes "
                             "its own section (peers_n_components_<width>), not the main table")
    parser.add_argument("--vw-passes", type=int, default=3)
    parser.add_argument("--vw-weight-gib", type=float, default=4.0, help="VW weight table budget (sets -b)")
    parser.add_argument("--logreg-max-iter", type=int, default=100)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    if args.quick:
        args.n_train, args.n_test, args.n_features = 5_000, 1_000, 10_000
        args.time_cap = min(args.time_cap, 120)
    datasets = [d for d in args.datasets.split(",") if d]
    tools = [t for t in args.tools.split(",") if t]
    for name in datasets + tools:
        if name not in DATASETS and name not in TOOLS:
            parser.error(f"unknown data set or tool {name!r}")

    sys.path.insert(0, str(HERE))
    from _report import command_line, machine_description, markdown_table, write_section

    t0 = time.perf_counter()
    state = dict(rows=[], descriptions=[], dominance=[], settings_used={})
    for i, name in enumerate(datasets):
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            start = time.perf_counter()
            ds = prepare_ptb(args, Path(tmp)) if name == "ptb" else prepare_sparse(name, args, Path(tmp))
            print(f"{name}: data written in {time.perf_counter() - start:.0f} s", flush=True)
            state["descriptions"].append(ds["description"])
            results = {}
            for tool in tools:
                r = results[tool] = run_tool(tool, ds, args)
                print(f"{name} {tool}: {json.dumps(r, default=str)}", flush=True)
                s = fmt_settings(tool, r["settings"])
                state["settings_used"].setdefault(TOOLS[tool][0], {}).setdefault(s, []).append(name)
                if r["status"] == "ok":
                    p5 = "n/a" if r["p5"] is None else f"{r['p5']:.3f}"
                    state["rows"].append([name, TOOLS[tool][0], f"{r['train_s']:.1f}", f"{r['predict_s']:.1f}",
                                          f"{r['top1']:.3f}", p5, f"{r['peak_mib']:.0f}", s])  # fmt: skip
                else:
                    state["rows"].append([name, TOOLS[tool][0], r["note"], "", "", "", "", s])
            state["dominance"].extend(dominance_lines(name, results))
        done = i + 1 == len(datasets)
        body = report(args, state, time.perf_counter() - t0, done, command_line, machine_description, markdown_table)
        if done:
            print(body)
            print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
        if not args.no_write:  # after every data set, so an interrupted run leaves what it measured
            write_section(section_name(args), body)


def section_name(args):
    """The docs section a run writes: the main table, or one per non-default embedding width."""
    return "peers" if args.n_components == 64 else f"peers_n_components_{args.n_components}"


def report(args, state, total, done, command_line, machine_description, markdown_table):
    header = ["data set", "tool", "train s", "predict s", "top-1", "P@5", "peak RSS MiB", "settings"]
    table = markdown_table(header, state["rows"])
    setting_lines = [f"- {tool}: " + "; ".join(f"`{s}` ({', '.join(names)})" for s, names in by.items())
                     for tool, by in state["settings_used"].items()]  # fmt: skip
    status = (f"Total run time {total / 60:.0f} min." if done else
              f"PARTIAL: the run was still going after {total / 60:.0f} min; the data sets finished so far.")
    return "\n".join([
        "## Peers side by side (issue 7)" if section_name(args) == "peers" else
        f"## Peers side by side, sklearn-lsh with a wider embedding (n_components={args.n_components}, issue 7)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_description()}; every tool ran on one thread (`OMP_NUM_THREADS=1`, "
        "`NUMBA_NUM_THREADS=1`, `OPENBLAS_NUM_THREADS=1`, `MKL_NUM_THREADS=1`, and each tool's own thread setting "
        f"at 1: fastText `thread=1`, napkinXC/Omikuji/PECOS `threads=1`, sklearn-lsh `n_jobs=1`). {status}",
        "",
        "Data:",
        "",
        *[f"- {d}" for d in state["descriptions"]],
        "",
        "Each tool ran once, in its own fresh process, on the same split. Train and predict times are wall "
        "seconds inside that process (data loading and format conversion not included; sklearn-lsh's numba "
        "compilation is done by a 500-row warm-up fit before the clock starts); predict time is for the whole "
        "test set (top 5 labels per row). Top-1 is the fraction of test rows whose first label is right; P@5 is "
        "`sklearn_lsh.metrics.precision_at_k(y, top5, k=5)` (one true label per row, so at most 0.2). Peak RSS is "
        "the process's VmHWM at the end (Python, the libraries and the loaded data included). "
        f"Caps: {args.time_cap:g} s of wall time per run (loading, training and prediction: \"DNF\"), "
        f"{args.mem_cap:g} GiB of RSS (\"killed\"), and configurations whose dense parameters alone would "
        "exceed that memory are \"not run\" (the estimate is shown).",
        "",
        table,
        "",
        "Settings (defaults of each tool unless listed):",
        "",
        *setting_lines,
        f"- sklearn-lsh: the low-rank mode (`n_components={args.n_components}`, n_bits=None, i.e. ceil(log2 C) - 4) on the sparse "
        "data as `benchmarks/scaling.py --sparse`; the dense model of `benchmarks/ptb_language_model.py` on PTB; "
        "`partial_fit(X, y, classes=range(C))` per epoch, `predict_topk(X, k=5)` (exact scoring of all classes). "
        f"\"prior\" is `estimator=\"prior\"` (sampled softmax with {args.prior_samples} draws per example from the "
        "smoothed training class frequencies, no tables), otherwise as \"lsh\".",
        "- sklearn `SGDClassifier(loss=\"log_loss\")` is one-vs-rest (C independent binary models), not a "
        "softmax; `LogisticRegression` (lbfgs) is multinomial. Their top 5 come from `decision_function`.",
        "- napkinXC and Omikuji are multi-label tools; each row gets a one-element label list. PECOS gets a "
        "one-hot label matrix over all C classes, PIFA label embeddings and a hierarchical k-means tree; it runs "
        f"in a separate venv (`{PECOS_SPEC}` pins numpy<2).",
        "- fastText: every non-zero feature id `f` of a sparse row is the token `f<f>` once (the tf weight is "
        "dropped; fastText averages token vectors); labels `__label__<y>`; `predict(lines, k=5)`.",
        "- VW: text rows `y+1 | id:value ...`; `-b` is the bits needed for C x n_features weights, capped by a "
        f"{args.vw_weight_gib:g} GiB weight table (VW's classes share one hashed table). `--oaa` trains with "
        "logistic loss and predicts with `--probabilities` (all C probabilities per row, called row by row from "
        "Python), from which the top 5 are taken; `--log_multi` returns one label per row, so its P@5 is n/a.",
        "",
        "Dominance (peers both faster to train and more accurate, top-1, than the package's sampled rows; the "
        "package's own \"exact\" row is not a peer):",
        "",
        *[f"- {line}" for line in state["dominance"]],
    ])  # fmt: skip


def dominance_lines(name, results):
    """One line per sampled estimator of the package ("lsh", "prior"): the
    peers (not the package's other rows) that both train faster and reach a
    higher top-1."""
    lines = []
    for mine in ("lsh", "prior"):
        if mine not in results:
            continue
        ours, label = results[mine], TOOLS[mine][0]
        if ours["status"] != "ok":
            lines.append(f"{name}: {label} has no result, no comparison.")
            continue
        better = [TOOLS[t][0] + f" ({r['train_s']:.1f} s, {r['top1']:.3f})" for t, r in results.items()
                  if t not in OURS and r["status"] == "ok" and r["train_s"] < ours["train_s"]
                  and r["top1"] > ours["top1"]]  # fmt: skip
        line = f"{name}: {label} trains in {ours['train_s']:.1f} s to top-1 {ours['top1']:.3f}; "
        if better:
            line += "dominated by " + ", ".join(better) + "."
        else:
            line += "no peer here is both faster to train and more accurate."
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
