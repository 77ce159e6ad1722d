"""The rule of ``estimator="auto"``: where sampling starts to pay.

"exact", "prior" and "lsh" side by side (``LSHSoftmaxClassifier`` defaults
otherwise, one thread) on generated problems over a range of class counts,
dense (``make_extreme_classification(..., n_features=128)``) and sparse
(``sparse=True, n_features=20_000, n_nonzero=50``, the full-rank model),
and on sector (105 classes, the real sparse set of ``../shared/data``: fit
on ``sector.heldout``, scored on ``sector.test``). For each problem the
three models train ``--epochs`` epochs, interleaved (epoch 1 of each, then
epoch 2, ...), each epoch one ``partial_fit`` timed in CPU seconds
(``time.process_time``); top-1 on held-out rows after the last epoch.

The rule it supports (``sklearn_lsh.auto_estimator``): "exact" up to 1,024
classes, "prior" above. Run ``python benchmarks/auto_estimator.py`` (about
15 minutes on 2 cores); ``--quick`` is a smoke run; ``--no-write`` leaves
docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, add_run_arguments, markdown_table, publish, report_head  # noqa: E402

SECTOR = ROOT.parent / "shared" / "data" / "sector-partial"
ESTIMATORS = ("exact", "prior", "lsh")


def generated(n_classes, sparse, n_train, n_test):
    from sklearn_lsh.datasets import make_extreme_classification

    options = dict(n_features=20_000, sparse=True, n_nonzero=50) if sparse else dict(n_features=128)
    X, y = make_extreme_classification(n_train + n_test, n_classes=n_classes, random_state=0, **options)
    if sparse:
        X = X.tocsr()
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def sector():
    from sklearn_lsh.datasets import load_data_file

    X, y = load_data_file(SECTOR / "sector.heldout")
    X_test, y_test = load_data_file(SECTOR / "sector.test", n_features=X.shape[1])
    return X, y, X_test, y_test


def run(data, epochs):
    from sklearn_lsh import LSHSoftmaxClassifier

    X, y, X_test, y_test = data
    classes = np.unique(y)
    models = {}
    for estimator in ESTIMATORS:
        clf = LSHSoftmaxClassifier(estimator, random_state=0, n_jobs=1)
        clf.partial_fit(X[:64], y[:64], classes=classes)  # compile / load the kernels, not timed
        models[estimator] = {"clf": clf, "cpu": []}
    for _ in range(epochs):
        for m in models.values():
            start = time.process_time()
            m["clf"].partial_fit(X, y)
            m["cpu"].append(time.process_time() - start)
    rows = {}
    for estimator, m in models.items():
        top1 = float(np.mean(m["clf"].predict(X_test) == y_test))
        rows[estimator] = (float(np.median(m["cpu"])), top1, m["clf"].mean_classes_scored_)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser, quick_help="a smoke run on small problems")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # ConvergenceWarning of the epoch-by-epoch partial_fit
    if args.quick:
        problems = [("dense", 64, 2_000), ("sparse", 64, 2_000)]
        n_test, epochs = 500, 1
    else:
        problems = [("dense", c, 20_000) for c in (256, 1024, 4096, 16_384)]
        problems += [("sparse", c, 10_000) for c in (256, 1024, 4096)]
        n_test, epochs = 4_000, args.epochs
    lines = report_head("### The rule of estimator=\"auto\": exact against sampled, by class count")
    load_before = os.getloadavg()
    table = []

    def add(name, n_classes, n_train, rows):
        exact_cpu, exact_top1 = rows["exact"][0], rows["exact"][1]
        for estimator, (cpu, top1, scored) in rows.items():
            table.append([name, f"{n_classes:,}", f"{n_train:,}", estimator, f"{cpu:.2f}", f"{exact_cpu / cpu:.1f}x",
                          f"{scored:,.0f}", f"{top1:.3f}", f"{top1 - exact_top1:+.3f}"])  # fmt: skip
        print(table[-3:], flush=True)

    if not args.quick:
        add("sector (sparse, real)", 105, 865, run(sector(), epochs))
    for kind, n_classes, n_train in problems:
        add(f"generated {kind}", n_classes, n_train, run(generated(n_classes, kind == "sparse", n_train, n_test), epochs))
    load_after = os.getloadavg()
    lines += [
        f"Each problem: \"exact\", \"prior\" and \"lsh\" at their defaults, {epochs} epoch(s) each, interleaved, one "
        f"thread; generated dense: `make_extreme_classification(n + {n_test:,}, n_features=128, n_classes=C)`; "
        f"generated sparse: the same with `n_features=20_000, sparse=True, n_nonzero=50` (full-rank model); "
        f"top-1 on the {n_test:,} held-out rows (sector: `sector.test`). Load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after.",
        "",
        markdown_table(["problem", "classes", "training rows", "estimator", "CPU s / epoch", "exact / this (CPU)",
                        "classes scored / example", f"top-1 after {epochs} epochs", "vs exact"], table),  # fmt: skip
    ]
    publish("auto-estimator", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
