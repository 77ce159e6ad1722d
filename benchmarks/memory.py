"""Peak memory of LSHSoftmaxClassifier at 10^5 and 10^6 classes (issues 6 and 22).

Issue 22, item 5 (the default run): at C = 10^6, d = 64, in a fresh
process per measurement series, the peak resident memory of the first
``fit`` (one epoch, "lsh", defaults otherwise) and of a later
``partial_fit``, above the process's size just before the call (the data
already loaded), as multiples of ``coef_``'s bytes; the CPU seconds of each
call (``time.process_time``, every thread) and the machine's load average
next to them; what the fitted model holds; the first
``predict_topk(retrieval="lsh")``; and the size of the model files
(``save_model``'s ``.sklsh`` and ``joblib.dump``) over ``coef_``'s bytes, at
10^6 classes and on sector (``../shared/data/sector-partial``, heldout
split), with a check that the loaded models predict identically.
``--before TREE`` measures the same series with the package imported from
another source tree (e.g. a ``git worktree`` of an earlier commit) for
before/after rows. Written to docs/benchmarks.md between the
``memory-22`` markers unless ``--no-write``.

Issue 6 (``--issue6``, written to docs/reliability.md):

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

Run ``python benchmarks/memory.py`` (about 5 minutes per tree on 2
cores); ``--quick`` for a smoke run at 10^4 classes.
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    DOCS, add_run_arguments, command_line, emit_result, machine_description, markdown_table, peak_rss_mb, publish,
    read_result, reset_peak_rss, rss_mb, run_worker, worker_command, worker_task,
)

RELIABILITY = DOCS.parent / "reliability.md"
SECTOR = DOCS.parent.parent.parent / "shared" / "data" / "sector-partial"
SECTOR_FEATURES = 55_188  # the largest feature index of the heldout and test files


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
    start, cpu = time.perf_counter(), time.process_time()
    try:
        result, error = call(), None
    except MemoryError as exc:
        result, error = None, str(exc)
    seconds = time.perf_counter() - start
    return result, {"extra_mb": peak_rss_mb() - base, "seconds": seconds, "cpu": time.process_time() - cpu,
                    "error": error, "load": os.getloadavg()[0]}  # fmt: skip


def _file_sizes(model, X_check, folder, lsh=True):
    """Sizes (MiB) of the model's .sklsh and joblib files, and whether the
    loaded models predict what the model predicts (probabilities of the
    exact top-5 and of the LSH top-5, bit for bit)."""
    import joblib

    from sklearn_lsh import load_model, save_model

    def outputs(m):
        out = [*m.predict_topk(X_check[:100], 5)]
        if lsh:
            out += [*m.predict_topk(X_check, 5, retrieval="lsh")]
        return out

    expected = outputs(model)
    sizes, identical = {}, {}
    for kind, save, load in (("sklsh", save_model, load_model), ("joblib", joblib.dump, joblib.load)):
        path = Path(folder) / f"model.{kind}"
        start = time.perf_counter()
        save(model, path)
        sizes[kind] = path.stat().st_size / 2**20
        sizes[f"{kind}_save_s"] = time.perf_counter() - start
        start = time.perf_counter()
        loaded = load(path)
        sizes[f"{kind}_load_s"] = time.perf_counter() - start
        identical[kind] = all(np.array_equal(a, b) for a, b in zip(expected, outputs(loaded)))
        del loaded
        path.unlink()
    return sizes, identical


def _model_held_mb(model):
    """Bytes the fitted model holds (MiB), arrays shared between its
    attributes and indexes counted once."""
    seen, total = set(), 0

    def add(value):
        nonlocal total
        if isinstance(value, np.ndarray):
            base = value if value.base is None else value.base
            if id(base) not in seen:
                seen.add(id(base))
                total += base.nbytes
        elif hasattr(value, "n_tables"):  # an LSHIndex
            for v in vars(value).values():
                add(v)

    for value in vars(model).values():
        add(value)
    return total / 2**20


def worker22(task):
    from sklearn_lsh import LSHSoftmaxClassifier
    from sklearn_lsh.datasets import load_data_file, make_extreme_classification

    warnings.simplefilter("ignore")
    results = {"load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as folder:
        if task["sector"]:
            X, y = load_data_file(SECTOR / "sector.heldout", n_features=SECTOR_FEATURES)
            X_test, _ = load_data_file(SECTOR / "sector.test", n_features=SECTOR_FEATURES)
            X, X_test = X.astype(np.float32), X_test.astype(np.float32)
            model = LSHSoftmaxClassifier(max_iter=5, tol=None, random_state=0)
            _, results["fit"] = _measure(lambda: model.fit(X, y))
            results["coef_mb"] = model.coef_.nbytes / 2**20
            results["files"], results["identical"] = _file_sizes(model, X_test, folder)
            emit_result(results)
            return
        n_classes, n_rows, d = task["n_classes"], task["n_rows"], task["d"]
        X, y = make_extreme_classification(n_rows, d, n_classes, random_state=0)
        classes = np.arange(n_classes)
        warm = LSHSoftmaxClassifier(max_iter=1, random_state=0)
        warm.fit(X[:2000], y[:2000] % 50).predict_topk(X[:10], 5, retrieval="lsh")  # compile the kernels
        warm.partial_fit(X[:2000], y[:2000] % 50)
        warm.predict_topk(X[:10], 5)
        del warm
        results["data_mb"] = (X.nbytes + y.nbytes) / 2**20
        cls = LSHSoftmaxClassifier
        if task.get("by_reference"):  # the experiment: training tables over the live weights

            class cls(LSHSoftmaxClassifier):  # noqa: N801
                _training_tables_by_reference = True

        model = cls(max_iter=1, random_state=0)
        results["coef_mb"] = n_classes * d * np.dtype(X.dtype).itemsize / 2**20
        _, results["fit"] = _measure(lambda: model.partial_fit(X, y, classes=classes))
        results["held_after_fit_mb"] = _model_held_mb(model)
        _, results["partial_fit"] = _measure(lambda: model.partial_fit(X, y))
        results["held_after_partial_fit_mb"] = _model_held_mb(model)
        _, results["topk_lsh"] = _measure(lambda: model.predict_topk(X[:1000], 5, retrieval="lsh"))
        results["held_after_topk_mb"] = _model_held_mb(model)
        if not task.get("by_reference"):  # (the same files as "after"'s)
            results["files"], results["identical"] = _file_sizes(model, X[:1000], folder)
    results["load_end"] = os.getloadavg()[0]
    emit_result(results)


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


def _run22(task, tree):
    """``worker22(task)`` in a fresh process importing the package from ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(worker_command(__file__, {"issue": 22, **task}), check=True, capture_output=True,
                         text=True, env=env).stdout  # fmt: skip
    return read_result(out)


def _commit_of(tree):
    try:
        return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main22(args):
    n_classes = 10**4 if args.quick else args.n_classes
    n_rows = 3_000 if args.quick else args.n_rows
    here = DOCS.parent.parent
    trees = ([("before", Path(args.before), False)] if args.before else []) + [("after", here, False)]
    if args.by_reference:
        trees.append(("after, training tables by reference (experiment)", here, True))
    rows, file_rows = [], []
    for label, tree, by_reference in trees:
        name = f"{label} ({_commit_of(tree)})"
        r = _run22({"n_classes": n_classes, "n_rows": n_rows, "d": args.d, "sector": False,
                    "by_reference": by_reference}, tree)  # fmt: skip
        print(f"{name}: {r}", flush=True)
        coef = r["coef_mb"]
        fit, part = r["fit"], r["partial_fit"]
        rows.append([
            name, f"{coef:,.0f}", f"{fit['extra_mb']:,.0f} ({fit['extra_mb'] / coef:.2f}x)",
            f"{fit['cpu']:.1f} / {fit['seconds']:.1f}", f"{r['held_after_fit_mb'] / coef:.2f}x",
            f"{part['extra_mb']:,.0f} ({part['extra_mb'] / coef:.2f}x)", f"{part['cpu']:.1f} / {part['seconds']:.1f}",
            f"{r['topk_lsh']['extra_mb']:,.0f} ({r['topk_lsh']['extra_mb'] / coef:.2f}x)",
            f"{r['held_after_topk_mb'] / coef:.2f}x",
            f"{r['load_start']:.1f}-{r['load_end']:.1f}",
        ])  # fmt: skip
        files = [] if by_reference else [(f"{n_classes:,} classes, d = {args.d}", r)]
        if not args.quick and not by_reference:
            sector = _run22({"sector": True}, tree)
            print(f"{name} sector: {sector}", flush=True)
            files.append(("sector (heldout, 105 x 55,188)", sector))
        for data, f in files:
            sizes, same = f["files"], f["identical"]
            file_rows.append([
                name, data, f"{f['coef_mb']:,.1f}",
                f"{sizes['sklsh']:,.1f} ({sizes['sklsh'] / f['coef_mb']:.2f}x)",
                f"{sizes['joblib']:,.1f} ({sizes['joblib'] / f['coef_mb']:.2f}x)",
                f"{sizes['sklsh_save_s']:.1f} / {sizes['sklsh_load_s']:.1f}",
                f"{sizes['joblib_save_s']:.1f} / {sizes['joblib_load_s']:.1f}",
                "yes" if same["sklsh"] else "NO", "yes" if same["joblib"] else "NO",
            ])  # fmt: skip
    body = "\n\n".join([
        "## Memory near the weights (issue 22, item 5)",
        f"Command: `{command_line()}`  \nMachine: {machine_description()}; 24 GiB, 2 cores shared with other "
        "jobs (the load average, sampled at the start and end of each series, is in the table).",
        f"Dense float32 input from `make_extreme_classification`, d = {args.d}, {n_rows:,} rows (the data: "
        f"{r['data_mb']:.1f} MiB, loaded before every measurement), C = {n_classes:,}, "
        "`LSHSoftmaxClassifier(max_iter=1, random_state=0)` otherwise at its defaults (\"lsh\", 16 tables). "
        "One fresh process per row, after a warm-up that compiles the kernels; each call's peak resident "
        "memory (VmHWM, reset before the call) above the process's size just before it, in MiB and as a "
        "multiple of `coef_`'s bytes; CPU seconds (`time.process_time`, all threads) / wall seconds of the "
        "call. \"Held\" is every array the model keeps (weights, intercepts, optimiser state, label counts, "
        "both hash indexes; an array shared by reference counted once), over `coef_`. The first fit is "
        "`partial_fit(X, y, classes=range(C))` (one epoch), then one more `partial_fit(X, y)`, then the "
        "first `predict_topk(X[:1000], 5, retrieval=\"lsh\")`.",
        markdown_table(
            ["code", "coef_ (MiB)", "fit peak", "fit CPU / wall s", "held after fit", "partial_fit peak",
             "partial_fit CPU / wall s", "first LSH top-k peak", "held after it", "load avg"],
            rows,
        ),  # fmt: skip
        "Model files: `save_model` (`.sklsh`, the command line's default) and `joblib.dump` (no "
        "compression) of the model above after its two training calls, and of an `LSHSoftmaxClassifier("
        "max_iter=5, tol=None, random_state=0)` fitted on sector's heldout split (sparse, float32). "
        "\"Identical\": the loaded model's exact top-5 (100 rows) and LSH top-5 (1,000 rows; sector: the "
        "test split) probabilities equal the saved model's bit for bit.",
        markdown_table(
            ["code", "data", "coef_ (MiB)", ".sklsh (MiB, / coef_)", "joblib (MiB, / coef_)",
             ".sklsh save / load s", "joblib save / load s", ".sklsh identical", "joblib identical"],
            file_rows,
        ),  # fmt: skip
    ])  # fmt: skip
    publish("memory-22", body, not args.no_write and not args.quick)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--n-classes", type=int, default=10**6, help="issue 22: the number of classes")
    parser.add_argument("--before", help="issue 22: a source tree of the package to measure as 'before'")
    parser.add_argument("--by-reference", action="store_true",
                        help="issue 22: also the experiment of training tables over the live weights")
    parser.add_argument("--issue6", action="store_true", help="the issue-6 table (docs/reliability.md)")
    add_run_arguments(parser, worker=True)
    args = parser.parse_args(argv)
    if (task := worker_task(args)) is not None:
        return worker22(task) if task.get("issue") == 22 else worker(task)
    if not args.issue6:
        return main22(args)
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
