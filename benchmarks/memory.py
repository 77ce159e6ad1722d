"""Peak memory of LSHSoftmaxClassifier at 10^5 and 10^6 classes (issue 6).

For each class count, a fresh process generates dense float32 data
(``make_extreme_classification``, d = 64), compiles the kernels on a small
problem, and then measures the peak resident memory (VmHWM, reset before
each call) above its size just before the call, for:

- ``fit`` (1 epoch, "lsh", default settings otherwise),
- ``partial_fit`` of one more epoch on the fitted model,
- ``predict_topk(k=5)`` on 1,000 rows, exact (chunked by
  ``working_memory``) and LSH retrieval,
- ``predict_proba`` on 100,000 rows, whose n x C output would not fit in
  memory: the time until it raises its MemoryError.

These are set against the size of ``coef_`` and of every array the fitted
model holds (weights, optimiser state, both hash indexes).

Run ``python benchmarks/memory.py`` (about 5 minutes on 2 cores);
``--quick`` for a smoke run; ``--no-write`` leaves docs/reliability.md alone.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    DOCS, add_run_arguments, command_line, emit_result, machine_description, markdown_table, peak_rss_mb, publish,
    reset_peak_rss, rss_mb, run_worker, worker_task,
)

RELIABILITY = DOCS.parent / "reliability.md"


def _model_arrays_mb(model):
    total = 0
    for value in vars(model).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif hasattr(value, "members_"):  # an LSHIndex
            total += sum(v.nbytes for v in vars(value).values() if isinstance(v, np.ndarray))
    return total / 2**20


def _measure(call):
    base = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    try:
        result, error = call(), None
    except MemoryError as exc:
        result, error = None, str(exc)
    seconds = time.perf_counter() - start
    return result, {"extra_mb": peak_rss_mb() - base, "seconds": seconds, "error": error}


def worker(task):
    from sklearn_lsh import LSHSoftmaxClassifier
    from sklearn_lsh.datasets import make_extreme_classification

    warnings.simplefilter("ignore")
    n_classes, n_rows, d = task["n_classes"], task["n_rows"], task["d"]
    X, y = make_extreme_classification(n_rows, d, n_classes, random_state=0)
    classes = np.arange(n_classes)
    warm = LSHSoftmaxClassifier(max_iter=1, random_state=0)
    warm.fit(X[:2000], y[:2000] % 50).predict_topk(X[:10], 5, retrieval="lsh")  # compile the kernels
    warm.predict_topk(X[:10], 5)
    del warm
    model = LSHSoftmaxClassifier(max_iter=1, random_state=0)
    results = {"coef_mb": n_classes * d * np.dtype(np.float32).itemsize / 2**20}
    _, results["fit"] = _measure(lambda: model.partial_fit(X, y, classes=classes))
    results["model_mb"] = _model_arrays_mb(model)
    results["pickle_mb"] = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)) / 2**20
    _, results["partial_fit"] = _measure(lambda: model.partial_fit(X, y))
    _, results["topk_exact"] = _measure(lambda: model.predict_topk(X[:1000], 5))
    _, results["topk_lsh"] = _measure(lambda: model.predict_topk(X[:1000], 5, retrieval="lsh"))
    X_big = np.tile(X, (-(-100_000 // n_rows), 1))[:100_000]  # 100,000 rows: n x C larger than memory
    _, results["predict_proba"] = _measure(lambda: model.predict_proba(X_big))
    results["scored"] = model.mean_classes_scored_
    emit_result(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=64)
    add_run_arguments(parser, worker=True)
    args = parser.parse_args(argv)
    if (task := worker_task(args)) is not None:
        return worker(task)
    class_counts = [10**4] if args.quick else [10**5, 10**6]
    n_rows = 3_000 if args.quick else args.n_rows
    rows = []
    for n_classes in class_counts:
        r = run_worker(__file__, {"n_classes": n_classes, "n_rows": n_rows, "d": args.d})
        print(f"C={n_classes}: {r}", flush=True)
        guard = r["predict_proba"]
        rows.append([
            f"{n_classes:,}", f"{r['coef_mb']:,.0f}", f"{r['model_mb']:,.0f}", f"{r['pickle_mb']:,.0f}",
            f"{r['fit']['extra_mb']:,.0f}", f"{r['fit']['extra_mb'] / r['coef_mb']:.2f}",
            f"{r['partial_fit']['extra_mb']:,.0f}", f"{r['topk_exact']['extra_mb']:,.0f}",
            f"{r['topk_lsh']['extra_mb']:,.0f}",
            ("MemoryError after " f"{1e3 * guard['seconds']:.0f} ms") if guard["error"] else "returned",
        ])  # fmt: skip
    body = "\n\n".join([
        "## Peak memory (issue 6)",
        f"Command: `{command_line()}`  \nMachine: {machine_description()}",
        f"Dense float32 input, d = {args.d}, {n_rows:,} training rows, `LSHSoftmaxClassifier(max_iter=1)` "
        "otherwise at its defaults (\"lsh\"). Each column is the peak resident memory of that call above the "
        "process's size just before it (MiB), in a fresh process per class count after a warm-up that compiles "
        "the kernels. \"model arrays\" sums every array the fitted model holds (weights, intercepts, AdaGrad "
        "state, the training and prediction hash indexes); \"pickle\" is its pickled size. predict_topk runs on "
        "1,000 rows; predict_proba on 100,000 rows (an n x C float32 output larger than the machine's memory).",
        markdown_table(
            ["C", "coef_ (MiB)", "model arrays (MiB)", "pickle (MiB)", "fit peak (MiB)", "fit peak / coef_",
             "partial_fit peak (MiB)", "predict_topk exact (MiB)", "predict_topk lsh (MiB)", "predict_proba"],
            rows,
        ),  # fmt: skip
    ])  # fmt: skip
    publish("memory", body, not args.no_write and not args.quick, RELIABILITY)


if __name__ == "__main__":
    main()
