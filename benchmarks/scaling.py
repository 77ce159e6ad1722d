"""How training cost grows with the number of classes: "exact" vs "lsh".

Data: ``sklearn_lsh.datasets.make_extreme_classification`` (dense, 64
features, Zipf class frequencies), the same training and test rows for every
C. For C = 10^3, 10^4, 10^5 both estimators train ``LSHSoftmaxClassifier``
for the same epochs with the same optimiser; at C = 10^6 only "lsh" (the
exact path would need a 10^6-wide softmax per example). Reported: seconds
per epoch, mean classes scored per example, top-1 accuracy and P@5 on the
test rows (exact prediction), and the recall of ``predict_topk(...,
retrieval="lsh")`` against the exact top-1 / top-5 with its prediction time.

With ``--sparse`` (issue 4): text-like CSR data (10^5 features, ~50
non-zeros per row) at C = 10^4 and 10^5, where a full ``coef_`` would take
4 to 40 GB. It compares the low-rank mode (``n_components``) trained with
"lsh" and with "exact", and the recipe a user would write today,
``make_pipeline(SparseRandomProjection, LSHSoftmaxClassifier)``: seconds per
epoch, top-1, P@5 and the peak memory of ``fit``. Every configuration runs in
its own process (data loaded from a temporary .npz), so the peak RSS is
its own.

Run ``python benchmarks/scaling.py`` (dense) or ``python benchmarks/scaling.py
--sparse``; ``--quick`` for a smoke run; ``--no-write`` leaves
docs/benchmarks.md alone. Every timed run is preceded by a small warm-up fit
so numba compilation (or cache loading) is not timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.random_projection import SparseRandomProjection

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    add_run_arguments, emit_result, load_csr, markdown_table, peak_rss_mb, publish, report_head, reset_peak_rss, rss_mb,
    run_worker, timed_epochs, wall_seconds, warm_up, worker_task,
)

from sklearn_lsh import LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier  # noqa: E402
from sklearn_lsh.datasets import make_extreme_classification  # noqa: E402
from sklearn_lsh.metrics import precision_at_k  # noqa: E402


def n_bits_for(n_classes):
    # About 16-32 classes per bucket of a random class set; 16 tables.
    return max(4, int(np.ceil(np.log2(n_classes))) - 5)


def run(name, n_classes, X, y, X_test, y_test, args):
    params = dict(n_bits=n_bits_for(n_classes), n_tables=args.n_tables, eta0=args.eta0, batch_size=args.batch_size,
                  random_state=args.seed)  # fmt: skip
    if n_classes >= 10**6:
        params["rebuild_interval"] = args.rebuild_interval_1m
    clf = LSHSoftmaxClassifier(name, **params)
    classes = np.arange(n_classes)
    warm_up(clf, X, y, classes)  # numba compilation is not timed
    seconds = [t.wall for t in timed_epochs(clf, X, y, args.epochs, classes=classes)]
    start = time.perf_counter()
    exact_top, _ = clf.predict_topk(X_test, k=5)
    exact_s = time.perf_counter() - start
    start = time.perf_counter()
    lsh_top, _ = clf.predict_topk(X_test, k=5, retrieval="lsh")
    lsh_s = time.perf_counter() - start
    recall1 = float(np.mean(lsh_top[:, 0] == exact_top[:, 0]))
    recall5 = float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(lsh_top, exact_top)]))
    result = {
        "epoch_s": float(np.mean(seconds)),
        "scored": clf.mean_classes_scored_,
        "top1": float(np.mean(exact_top[:, 0] == y_test)),
        "p5": precision_at_k(y_test, exact_top, k=5),
        "recall1": recall1,
        "recall5": recall5,
        "exact_ms": 1e3 * exact_s / X_test.shape[0],
        "lsh_ms": 1e3 * lsh_s / X_test.shape[0],
        "n_bits": params["n_bits"],
        "rebuilds": clf.n_rebuilds_,
    }
    print(f"C={n_classes} {name}: {result}", flush=True)
    return result


def ratio_row(n_classes, exact, lsh):
    """C, the epoch time of "exact" over "lsh", and their top-1 difference in points."""
    return [f"{n_classes:,}", f"{exact['epoch_s'] / lsh['epoch_s']:.1f}x",
            f"{100 * (lsh['top1'] - exact['top1']):+.1f}"]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--eta0", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-tables", type=int, default=16)
    parser.add_argument("--rebuild-interval-1m", type=int, default=200)
    parser.add_argument("--exact-max", type=int, default=100_000, help="largest C trained with 'exact'")
    parser.add_argument("--seed", type=int, default=0)
    add_run_arguments(parser, worker=True)
    parser.add_argument("--sparse", action="store_true", help="the sparse low-rank comparison (issue 4)")
    parser.add_argument("--compare", action="store_true",
                        help="exact, lsh, uniform and the two-component softmax side by side, with memory (issue 9)")
    parser.add_argument("--n-components", type=int, default=64, help="--sparse: embedding / projection width")
    args = parser.parse_args(argv)
    if (task := worker_task(args)) is not None:
        return sparse_worker(task)
    if args.sparse:
        return main_sparse(args)
    if args.compare:
        return main_compare(args)
    if args.quick:
        args.sizes, args.n_train, args.n_test, args.epochs = "1000,10000", 20_000, 2_000, 1

    rows, ratios = [], []
    for n_classes in (int(s) for s in args.sizes.split(",")):
        X_all, y_all = make_extreme_classification(
            args.n_train + args.n_test, args.n_features, n_classes, noise=1.0,
            random_state=args.seed,
        )
        X, y, X_test, y_test = X_all[: args.n_train], y_all[: args.n_train], X_all[args.n_train :], y_all[args.n_train :]
        results = {}
        for name in ("exact", "lsh"):
            if name == "exact" and n_classes > args.exact_max:
                continue
            results[name] = r = run(name, n_classes, X, y, X_test, y_test, args)
            rows.append([f"{n_classes:,}", name, f"{r['epoch_s']:.1f}", f"{r['scored']:.0f}", f"{r['top1']:.3f}",
                         f"{r['p5']:.3f}", f"{r['recall1']:.3f} / {r['recall5']:.3f}",
                         f"{r['exact_ms']:.3f} / {r['lsh_ms']:.3f}", f"n_bits={r['n_bits']}, builds={r['rebuilds']}"])
        if "exact" in results:
            ratios.append(ratio_row(n_classes, results["exact"], results["lsh"]))

    body = "\n".join([
        *report_head("## Scaling with the number of classes (issue 3)"),
        f"Data: `make_extreme_classification(n_samples={args.n_train + args.n_test}, n_features={args.n_features}, "
        f"n_classes=C, random_state={args.seed})` (dense float32, Zipf class frequencies), first {args.n_train:,} rows "
        f"for training, {args.n_test:,} for testing. `LSHSoftmaxClassifier(eta0={args.eta0}, "
        f"batch_size={args.batch_size}, n_tables={args.n_tables})`, n_bits = ceil(log2 C) - 5, {args.epochs} epochs; "
        f"at C = 10^6 the tables are rebuilt every {args.rebuild_interval_1m} updates. Top-1 and P@5 use exact "
        "prediction; recall compares `predict_topk(retrieval=\"lsh\")` with the exact top-1 / top-5.",
        "",
        markdown_table(["C", "estimator", "s/epoch", "classes scored/example", "top-1", "P@5",
                        "LSH recall@1 / @5", "predict ms/row exact / lsh", "settings"], rows),
        "",
        markdown_table(["C", "epoch time exact / lsh", "top-1 lsh - exact (points)"], ratios),
    ])  # fmt: skip
    publish("scaling", body, not args.no_write)


# -------------------------------------------------------------------- compare
COMPARE_MODELS = ("exact", "lsh", "uniform", "prior", "two-component")


def compare_model(name, n_classes, args, lsh_budget):
    common = dict(eta0=args.eta0, batch_size=args.batch_size, random_state=args.seed)
    if name == "two-component":
        return TwoComponentSoftmaxClassifier(**common)
    params = dict(common, n_bits=n_bits_for(n_classes), n_tables=args.n_tables)
    if name in ("uniform", "prior"):  # the sample budget "lsh" spent (classes scored per example, label excluded)
        params["n_samples"] = max(1, int(round(lsh_budget - 1)))
    return LSHSoftmaxClassifier(name, **params)


def _array_bytes(obj):
    """Bytes of the NumPy arrays an estimator holds, its LSH indexes' included."""
    total = 0
    for value in vars(obj).values():
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            total += sum(v.nbytes for v in vars(value).values() if isinstance(v, np.ndarray))
    return total


def main_compare(args):
    """exact, lsh, uniform and two-component on the same dense data, each
    after a warm-up, with the peak resident memory of its training."""
    sizes = "10000,100000" if args.sizes == "1000,10000,100000,1000000" else args.sizes
    if args.quick:
        sizes, args.n_train, args.n_test, args.epochs = "2000", 10_000, 2_000, 1
    rows = []
    for n_classes in (int(s) for s in sizes.split(",")):
        X_all, y_all = make_extreme_classification(
            args.n_train + args.n_test, args.n_features, n_classes, noise=1.0, random_state=args.seed
        )
        X, y, X_test, y_test = X_all[: args.n_train], y_all[: args.n_train], X_all[args.n_train :], y_all[args.n_train :]
        del X_all, y_all
        classes = np.arange(n_classes)
        lsh_budget = None
        for name in COMPARE_MODELS:
            clf = compare_model(name, n_classes, args, lsh_budget)
            warm_up(clf, X, y, classes)  # numba compilation is not timed
            reset_peak_rss()
            before = rss_mb()
            # two-component: what fit does after every epoch, timed with the epoch
            replace = (lambda m: m.update_placement(X, y)) if name == "two-component" else None
            times = timed_epochs(clf, X, y, args.epochs, classes=classes, each_epoch=replace)
            epoch_s = wall_seconds(times) / args.epochs
            peak = peak_rss_mb() - before
            start = time.perf_counter()
            top, _ = clf.predict_topk(X_test, k=5)
            predict_ms = 1e3 * (time.perf_counter() - start) / X_test.shape[0]
            model_mb = _array_bytes(clf) / 2**20
            scored = clf.mean_classes_scored_
            if name == "lsh":
                lsh_budget = scored
            r = {"epoch_s": epoch_s, "scored": scored, "top1": float(np.mean(top[:, 0] == y_test)),
                 "p5": precision_at_k(y_test, top, k=5), "peak_mb": peak, "model_mb": model_mb,
                 "predict_ms": predict_ms}  # fmt: skip
            print(f"C={n_classes} {name}: {r}", flush=True)
            if name == "two-component":
                settings = f"grid {clf.grid_shape_[0]} x {clf.grid_shape_[1]}"
            elif name == "lsh":
                settings = f"n_bits={clf.n_bits_}, n_tables={args.n_tables}"
            else:
                settings = f"n_samples={clf.n_samples}" if name in ("uniform", "prior") else "-"
            rows.append([f"{n_classes:,}", name, f"{epoch_s:.1f}", f"{scored:.0f}", f"{r['top1']:.3f}",
                         f"{r['p5']:.3f}", f"{peak:.0f}", f"{model_mb:.0f}", f"{predict_ms:.3f}", settings])
            del clf
    body = "\n".join([
        *report_head("## Exact, LSH, uniform, prior and two-component softmax side by side (issue 9)"),
        f"Data: `make_extreme_classification(n_samples={args.n_train + args.n_test}, n_features={args.n_features}, "
        f"n_classes=C, random_state={args.seed})` (dense float32, Zipf class frequencies), first {args.n_train:,} rows "
        f"for training, {args.n_test:,} for testing; {args.epochs} epochs of `partial_fit(X, y, classes=range(C))` "
        f"each, `eta0={args.eta0}, batch_size={args.batch_size}`, one process. `LSHSoftmaxClassifier` "
        f"(\"exact\", \"lsh\" with n_bits = ceil(log2 C) - 5 and {args.n_tables} tables, \"uniform\" with as many "
        "negatives per example as \"lsh\" scored classes besides the label, \"prior\" with as many draws from the "
        "smoothed training class frequencies) and `TwoComponentSoftmaxClassifier` "
        "(default re-placement). \"Classes scored\" is `mean_classes_scored_` (for the two-component model the "
        "row and column scores per example). \"Training memory\" is the rise of the process's peak resident "
        "size during the epochs over its size before (model state, optimiser state, tables and temporaries; "
        "the data were loaded before); \"model arrays\" sums the fitted NumPy arrays. Top-1 and P@5 use exact "
        "`predict_topk` on the test rows.",
        "",
        markdown_table(["C", "model", "s/epoch", "classes scored/example", "top-1", "P@5", "training memory (MB)",
                        "model arrays (MB)", "predict ms/row", "settings"], rows),
    ])  # fmt: skip
    publish("scaling-compare", body, not args.no_write)


# --------------------------------------------------------------------- sparse
SPARSE_CONFIGS = ("low-rank lsh", "low-rank exact", "SRP + lsh")


def sparse_model(config, n_classes, settings):
    """``(projection or None, classifier)`` of a configuration."""
    # n_bits=None: the classifier's default, ceil(log2 C) - 4 (one bit more
    # than the dense runs above: the classes never seen in training keep
    # near-random directions, which collide with every query at cp ~ 1/2).
    params = dict(n_tables=settings["n_tables"], eta0=settings["eta0"], batch_size=settings["batch_size"],
                  random_state=settings["seed"])  # fmt: skip
    k = settings["n_components"]
    if config == "low-rank lsh":
        return None, LSHSoftmaxClassifier("lsh", n_components=k, **params)
    if config == "low-rank exact":
        return None, LSHSoftmaxClassifier("exact", n_components=k, **params)
    projection = SparseRandomProjection(n_components=k, dense_output=True, random_state=settings["seed"])
    return projection, LSHSoftmaxClassifier("lsh", **params)


def class_layer_arrays(clf):
    """The parameter arrays of a fitted LSHSoftmaxClassifier: the low-rank
    factors and intercepts, or the full class rows and intercepts."""
    if clf.n_components is not None:
        return clf.embedding_, clf.class_embedding_, clf.intercept_
    return clf.coef_, clf.intercept_


def sparse_worker(task):
    """One configuration in a fresh process; prints a JSON line of results."""
    data = np.load(task["data"])
    X, y = load_csr(data), data["y"]
    n_train = task["n_train"]
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    projection, clf = sparse_model(task["config"], task["n_classes"], task)
    classes = np.arange(task["n_classes"])  # every class of the problem, seen in training or not
    warm_rows = X_train[:500] if projection is None else clone(projection).fit_transform(X_train[:500])
    warm_up(clf, warm_rows, y_train, classes)  # numba compilation is not timed
    del warm_rows
    rss_before = rss_mb()
    start = time.perf_counter()
    if projection is not None:  # the pipeline's first step, timed with the epochs
        X_train = projection.fit_transform(X_train)
        X_test = projection.transform(X_test)
    projection_s = time.perf_counter() - start
    fit_s = projection_s + wall_seconds(timed_epochs(clf, X_train, y_train, task["epochs"], classes=classes))
    peak_fit = peak_rss_mb()
    top, _ = clf.predict_topk(X_test, k=5)
    result = {
        "epoch_s": fit_s / task["epochs"],
        "scored": clf.mean_classes_scored_,
        "top1": float(np.mean(top[:, 0] == y_test)),
        "p5": precision_at_k(y_test, top, k=5),
        "rss_before_mb": rss_before,
        "peak_fit_mb": peak_fit,
        "model_mb": sum(a.nbytes for a in class_layer_arrays(clf)) / 2**20,
        "n_train_classes": int(np.unique(y_train).shape[0]),
    }
    emit_result(result)


def main_sparse(args):
    sizes = "10000,100000" if args.sizes == "1000,10000,100000,1000000" else args.sizes
    n_features, n_nonzero = 100_000, 50
    if args.quick:
        sizes, args.n_train, args.n_test, args.epochs, n_features = "1000", 5_000, 1_000, 1, 10_000
    settings = dict(n_tables=args.n_tables, eta0=args.eta0, batch_size=args.batch_size, epochs=args.epochs,
                    seed=args.seed, n_components=args.n_components, n_train=args.n_train)  # fmt: skip
    rows, ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n_classes in (int(s) for s in sizes.split(",")):
            X, y = make_extreme_classification(args.n_train + args.n_test, n_features, n_classes, sparse=True,
                                               n_nonzero=n_nonzero, random_state=args.seed)  # fmt: skip
            path = Path(tmp) / f"data_{n_classes}.npz"
            np.savez(path, data=X.data, indices=X.indices, indptr=X.indptr, shape=X.shape, y=y)
            del X, y
            results = {}
            for config in SPARSE_CONFIGS:
                task = dict(settings, data=str(path), config=config, n_classes=n_classes)
                results[config] = r = run_worker(__file__, task)
                print(f"C={n_classes} {config}: {r}", flush=True)
                rows.append([f"{n_classes:,}", config, f"{r['epoch_s']:.1f}", f"{r['scored']:.0f}",
                             f"{r['top1']:.3f}", f"{r['p5']:.3f}", f"{r['peak_fit_mb']:.0f}",
                             f"{r['rss_before_mb']:.0f}", f"{r['model_mb']:.0f}",
                             f"{r['n_train_classes']:,}"])  # fmt: skip
            full_gb = n_classes * n_features * 4 / 2**30
            rows.append([f"{n_classes:,}", "full-rank (any estimator)", "not run", "", "", "", "", "",
                         f"coef_ alone: {full_gb:.1f} GiB", ""])  # fmt: skip
            ratios.append(ratio_row(n_classes, results["low-rank exact"], results["low-rank lsh"]))

    body = "\n".join([
        *report_head("## Sparse input, low-rank mode (issue 4)"),
        f"Data: `make_extreme_classification(n_samples={args.n_train + args.n_test}, n_features={n_features}, "
        f"n_classes=C, sparse=True, n_nonzero={n_nonzero}, random_state={args.seed})` (CSR float32, tf weights, "
        f"Zipf class frequencies), first {args.n_train:,} rows for training, {args.n_test:,} for testing. "
        f"All models: `eta0={args.eta0}, batch_size={args.batch_size}, n_tables={args.n_tables}`, n_bits=None "
        f"(the default, ceil(log2 C) - 4), {args.epochs} epochs of `partial_fit(X, y, classes=range(C))` (all C classes are in "
        f"the softmax, seen in training or not); n_components = {args.n_components} for the low-rank models and "
        "the projection width of the `SparseRandomProjection(n_components, dense_output=True)` + "
        "`LSHSoftmaxClassifier(\"lsh\")` pipeline (the projection time is included in its s/epoch). Peak RSS "
        "is the process high-water mark at the end of training (Python, libraries, the loaded data and a "
        "500-row warm-up fit included); \"RSS before fit\" is the resident size just before it. Top-1 and "
        "P@5 use exact prediction on the test rows; \"classes seen\" counts the classes present in the "
        "training rows.",
        "",
        markdown_table(["C", "model", "s/epoch", "classes scored/example", "top-1", "P@5", "peak RSS of fit (MB)",
                        "RSS before fit (MB)", "parameters (MB)", "classes seen"], rows),
        "",
        markdown_table(["C", "epoch time low-rank exact / lsh", "top-1 lsh - exact (points)"], ratios),
    ])  # fmt: skip
    publish("scaling-sparse", body, not args.no_write)


if __name__ == "__main__":
    main()
