"""The worker side of ``benchmarks/peers.py``: one tool trained and asked for
the top 5 labels of every test row, in a fresh process (``peers.py
--worker TASK``).

Each ``run_<tool>(task, tool, settings, files, n_classes)`` loads the data
files the parent wrote, trains, predicts and returns ``(train seconds,
predict seconds, ranked labels (n_test, K) with -1 padding, extra dict)``;
:func:`worker` saves the ranked labels to ``task["out"]`` and prints the
result line. Only NumPy and SciPy are imported at module level: the PECOS
worker runs in its own venv; each runner imports its tool.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import emit_result, load_csr, peak_rss_mb, timed_epochs, wall_seconds, warm_up  # noqa: E402

K = 5
OURS = ("lsh", "exact", "prior")  # the package's rows; the others are peers


def worker(task):
    """Runs one tool in this (fresh) process; writes the ranked top-5 labels
    to task["out"] and prints one JSON line."""
    tool, s, files, C = task["tool"], task["settings"], task["files"], task["n_classes"]
    fn = globals()["run_ours" if tool in OURS else "run_" + tool.split("-")[0]]
    train_s, predict_s, ranked, extra = fn(task, tool, s, files, C)
    np.save(task["out"], ranked)
    emit_result({"train_s": train_s, "predict_s": predict_s, "peak_mib": peak_rss_mb(), "extra": extra})


def pad_ranked(rows, k=K):
    out = np.full((len(rows), k), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        r = list(r)[:k]
        out[i, : len(r)] = r
    return out


def run_ours(task, tool, s, files, C):
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
    warm_up(clf, X, y, classes)  # numba compilation is not timed
    train_s = wall_seconds(timed_epochs(clf, X, y, s["epochs"], classes=classes))
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


