"""How training cost grows with the number of classes: "exact" vs "lsh".

Data: ``sklearn_lsh.datasets.make_extreme_classification`` (dense, 64
features, Zipf class frequencies), the same training and test rows for every
C. For C = 10^3, 10^4, 10^5 both estimators train ``LSHSoftmaxClassifier``
for the same epochs with the same optimiser; at C = 10^6 only "lsh" (the
exact path would need a 10^6-wide softmax per example). Reported: seconds
per epoch, mean classes scored per example, top-1 accuracy and P@5 on the
test rows (exact prediction), and the recall of ``predict_topk(...,
retrieval="lsh")`` against the exact top-1 / top-5 with its prediction time.

Run ``python benchmarks/scaling.py``; ``--quick`` for a smoke run;
``--no-write`` leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, machine_description, markdown_table, write_section  # noqa: E402

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402
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
    seconds = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        clf.partial_fit(X, y, classes=classes)
        seconds.append(time.perf_counter() - start)
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
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
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
            e, s = results["exact"], results["lsh"]
            ratios.append([f"{n_classes:,}", f"{e['epoch_s'] / s['epoch_s']:.1f}x",
                           f"{100 * (s['top1'] - e['top1']):+.1f}"])  # fmt: skip

    body = "\n".join([
        "## Scaling with the number of classes (issue 3)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_description()}",
        "",
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
    print(body)
    if not args.no_write:
        write_section("scaling", body)


if __name__ == "__main__":
    main()
