"""Speed of exact prediction (issue 22, item 3).

A float32 ``LSHSoftmaxClassifier`` with random class vectors (d = 128,
scores of standard deviation about 3, random intercepts) at C = 10^5 and
10^4 classes, 2,000 dense query rows, and one sparse real dataset (sector:
105 classes, 55,197 features, a model trained on ``sector.heldout``, the 961
rows of ``sector.test``). Each row of the table is timed with
``time.process_time`` (CPU seconds of all threads, the primary figure: the
2-core machine is shared) and wall time, in interleaved repeats (A B C ...
A B C ...); the table gives the medians and the median of the per-repeat
ratios to the baseline measured side by side:

- **baseline**: a plain float32 GEMM + ``np.argpartition`` top-5 (ordered)
  over the same class vectors and intercepts, in row chunks (the fastest of
  64, 256 and all rows, chosen in a calibration pass);
- **before**: the code path of ``predict_topk`` / ``predict`` before this
  change, copied here (``working_memory`` chunks, a finite check with
  ``np.abs(W).max()`` per chunk, shift, top-k kernel, log-sum-exp);
- ``predict_topk(k=5)``, ``predict``, ``predict_proba`` (on half the rows:
  its n x C output) and ``score`` of the package.

``n_jobs`` is 1 and 2; BLAS is limited to the same number of threads with
threadpoolctl for every row (the package leaves BLAS threading alone in
prediction). Machine load (``os.getloadavg``) is stated before and after.

    python benchmarks/speed_prediction.py [--repeats 5] [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np

from _harness import ROOT, add_run_arguments, markdown_table, publish, report_head

SECTION = "speed-prediction"
SECTOR = ROOT.parent / "shared" / "data" / "sector-partial"
K = 5


# ------------------------------------------------------------------ the rows
def baseline_topk(W, b, X, k, chunk):
    """Plain float32 GEMM + argpartition, the k best ordered."""
    top = np.empty((X.shape[0], k), dtype=np.int64)
    for r0 in range(0, X.shape[0], chunk):
        S = np.asarray(X[r0 : r0 + chunk] @ W.T)
        S += b
        part = np.argpartition(S, S.shape[1] - k, axis=1)[:, -k:]
        order = np.argsort(-np.take_along_axis(S, part, axis=1), axis=1)
        top[r0 : r0 + chunk] = np.take_along_axis(part, order, axis=1)
    return top


def _before_chunks(clf, X):
    """``_score_chunks`` of the classifier before this change."""
    from sklearn.utils import gen_batches
    from sklearn.utils._chunking import get_chunk_n_rows
    from sklearn.utils.extmath import safe_sparse_dot

    W, n = clf._weights, X.shape[0]
    for rows in gen_batches(n, get_chunk_n_rows(row_bytes=2 * W.shape[0] * W.dtype.itemsize, max_n_rows=n)):
        scores = np.asarray(safe_sparse_dot(X[rows], W.T, dense_output=True))
        scores += clf.intercept_
        limit, largest = np.finfo(scores.dtype).max / 2, np.abs(W).max()
        if not (np.isfinite(scores).all() and scores.max(initial=0.0) <= limit and scores.min(initial=0.0) >= -limit):
            raise FloatingPointError(f"overflow (largest |weight| {largest:.3g})")
        yield rows, scores


def before_topk(clf, X, k):
    """``predict_topk(X, k)`` before this change (``topk_exact``)."""
    from sklearn_lsh._kernels._scoring import top_k_rows
    from sklearn_lsh._parallel import numba_threads
    from sklearn_lsh._prediction import row_logsumexp

    top = np.empty((X.shape[0], k), dtype=np.int64)
    proba = np.empty((X.shape[0], k))
    with numba_threads(clf.n_jobs):
        for rows, scores in _before_chunks(clf, X):
            scores -= scores.max(axis=1, keepdims=True)
            best = top_k_rows(scores, k)
            log_z = row_logsumexp(scores)[:, None]
            top[rows] = best
            proba[rows] = np.exp(np.take_along_axis(scores, best, axis=1) - log_z)
    return clf.classes_[top], proba


def before_predict(clf, X):
    best = np.empty(X.shape[0], dtype=np.int64)
    for rows, scores in _before_chunks(clf, X):
        best[rows] = np.argmax(scores, axis=1)
    return clf.classes_[best]


# ------------------------------------------------------------------ models
def random_model(n_classes, d, seed=0):
    """A float32 classifier whose class vectors and intercepts are random."""
    from sklearn_lsh import LSHSoftmaxClassifier

    rng = np.random.default_rng(seed)
    classes = np.arange(n_classes)
    X0 = rng.standard_normal((64, d), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LSHSoftmaxClassifier("uniform", n_samples=2, random_state=0).partial_fit(
            X0, rng.integers(0, n_classes, 64), classes=classes
        )
    clf.coef_ = (rng.standard_normal((n_classes, d), dtype=np.float32) * (3 / np.sqrt(d))).astype(np.float32)
    clf.intercept_ = rng.standard_normal(n_classes).astype(np.float32)
    X = rng.standard_normal((2000, d), dtype=np.float32)
    y = rng.integers(0, n_classes, X.shape[0])
    return clf, X, y


def sector_model():
    from sklearn_lsh import LSHSoftmaxClassifier
    from sklearn_lsh.datasets import load_data_file

    X_train, y_train = load_data_file(SECTOR / "sector.heldout")
    X, y = load_data_file(SECTOR / "sector.test", n_features=X_train.shape[1])
    X_train, X = X_train.astype(np.float32), X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LSHSoftmaxClassifier("exact", max_iter=5, random_state=0).fit(X_train, y_train)
    keep = np.isin(y, clf.classes_)
    return clf, X[keep], y[keep]


# ------------------------------------------------------------------ timing
def _timed(fn):
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def measure(clf, X, y, n_jobs, repeats):
    """Interleaved repeats of every row; per row the CPU and wall seconds of
    each repeat and a check of its result against the baseline's."""
    from threadpoolctl import threadpool_limits

    clf.set_params(n_jobs=n_jobs)
    W, b = clf._weights, clf.intercept_
    half = X[: X.shape[0] // 2]
    with threadpool_limits(limits=n_jobs, user_api="blas"):
        chunks = [64, 256, X.shape[0]]
        calibration = {c: _timed(lambda c=c: baseline_topk(W, b, X, K, c))[0] for c in chunks}
        chunk = min(calibration, key=calibration.get)
        rows = {
            "baseline: float32 GEMM + argpartition, top-5": lambda: baseline_topk(W, b, X, K, chunk),
            "before: predict_topk(k=5)": lambda: before_topk(clf, X, K),
            "before: predict": lambda: before_predict(clf, X),
            "predict_topk(k=5)": lambda: clf.predict_topk(X, K),
            "predict": lambda: clf.predict(X),
            "predict_proba (half the rows)": lambda: clf.predict_proba(half),
            "score": lambda: clf.score(X, y),
        }
        for fn in rows.values():  # compile and warm up outside the clock
            fn()
        times = {name: [] for name in rows}
        results = {}
        for _ in range(repeats):
            for name, fn in rows.items():
                cpu, wall, results[name] = _timed(fn)
                times[name].append((cpu, wall))
    top = clf.classes_[results["baseline: float32 GEMM + argpartition, top-5"]]
    labels, proba = results["predict_topk(k=5)"]
    before_labels, before_proba = results["before: predict_topk(k=5)"]
    checks = {
        "top-5 equal to the baseline's (rows)": float(np.mean((labels == top).all(axis=1))),
        "top-5 equal to before (rows)": float(np.mean((labels == before_labels).all(axis=1))),
        "largest relative change of the top-5 probabilities vs before": float(
            np.max(np.abs(proba - before_proba) / before_proba)
        ),
    }
    return times, chunk, checks


def table_rows(label, times, n_rows):
    base = times["baseline: float32 GEMM + argpartition, top-5"]
    out = []
    for name, runs in times.items():
        scale = 2.0 if name.startswith("predict_proba") else 1.0  # per the same number of rows
        cpu = statistics.median(r[0] for r in runs) * scale
        wall = statistics.median(r[1] for r in runs) * scale
        ratio_cpu = statistics.median(r[0] * scale / b[0] for r, b in zip(runs, base))
        ratio_wall = statistics.median(r[1] * scale / b[1] for r, b in zip(runs, base))
        out.append([label, name, f"{cpu:.3f}", f"{wall:.3f}", f"{ratio_cpu:.2f}", f"{ratio_wall:.2f}",
                    f"{1e3 * cpu / n_rows:.3f}"])  # fmt: skip
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    add_run_arguments(parser, quick_help="C = 10^4 only, 2 repeats")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    configs = [("C=10^4", lambda: random_model(10_000, 128))]
    if not args.quick:
        configs.insert(0, ("C=10^5", lambda: random_model(100_000, 128)))
        configs.append(("sector (CSR, C=105)", sector_model))
    table, notes = [], []
    for name, make in configs:
        clf, X, y = make()
        for n_jobs in (1, 2):
            load_before = os.getloadavg()
            times, chunk, checks = measure(clf, X, y, n_jobs, repeats)
            load_after = os.getloadavg()
            label = f"{name}, {X.shape[0]} rows, n_jobs={n_jobs}"
            table += table_rows(label, times, X.shape[0])
            notes.append(
                f"- {label}: load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after; "
                f"baseline chunk {chunk} rows; " + "; ".join(f"{k} {v:.3g}" for k, v in checks.items())
            )
            print(notes[-1], flush=True)
    header = ["problem", "row", "CPU s", "wall s", "CPU / baseline", "wall / baseline", "CPU ms per row"]
    lines = report_head("## Exact prediction speed (issue 22, item 3)")
    lines += [
        "Medians of interleaved repeats (" + str(repeats) + "); the ratios are medians of the per-repeat ratios "
        "to the baseline of the same repeat. `predict_proba` runs on half the rows and is scaled to all of them. "
        "BLAS threads = n_jobs for every row. CPU s counts every thread (the machine's 2 cores are shared with "
        "other jobs: CPU seconds are the primary figure, wall seconds are noisy).",
        "",
        markdown_table(header, table),
        "",
        *notes,
        "",
    ]
    publish(SECTION, "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
