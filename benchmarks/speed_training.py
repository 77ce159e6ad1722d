"""Training speed (issue 22, items 1 and 2): CPU seconds per epoch of every
training estimator against "exact", side by side in one run, on real data
first (Brown next-word, ~47k classes) and at C = 10^5, d = 128 (generated).

For each problem every configuration (estimator x threads) trains one model;
the epochs are interleaved (epoch 1 of every configuration, then epoch 2,
...), so that a change in the machine's load hits every configuration alike.
Each epoch is one ``partial_fit`` over the training rows, timed in CPU
seconds (``time.process_time``, the primary figure on a shared machine) and
wall seconds. The first call (``classes=``, on 256 rows, compiling or
loading the numba kernels) is not timed.

Beside each time: the work (d-dimensional inner products per example, as
the model counts them, and classes scored per example), the test
perplexity (Brown) or top-1 accuracy (generated) after the same epochs,
and the share of the epoch spent in the SGD step with the step's bytes
(class rows it reads and writes, and its batch) against the machine's
copy bandwidth (measured here with a large ``np.copyto``): the "floor" is
the time the step's bytes take at that bandwidth.

Run ``python benchmarks/speed_training.py`` (about 25 minutes on 2 cores);
``--quick`` is a smoke run; ``--no-write`` leaves docs/benchmarks.md alone;
``--problems brown`` or ``generated`` runs one problem.
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

BROWN = ROOT.parent / "shared" / "data" / "brown" / "brown.zip"
ESTIMATORS = ("exact", "lsh", "uniform", "prior")


def copy_bandwidth() -> float:
    """Bytes per second of a 256 MiB ``np.copyto`` (read + write counted),
    the best of 5."""
    a = np.ones(1 << 25)
    b = np.empty_like(a)
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - start)
    return 2 * a.nbytes / best


class StepMeter:
    """Wraps the classifier's ``softmax_step`` to time it (CPU seconds) and
    count the bytes it must move: every touched class row read twice
    (scoring, update) and written once, with its optimiser state, and the
    batch read twice."""

    def __init__(self):
        import sklearn_lsh._classifier as module

        self.module, self.original = module, module.softmax_step
        self.cpu = 0.0
        self.bytes = 0

    def __enter__(self):
        def timed(layer, Xb, yb, wb, candidates, offset, grad_x):
            start = time.process_time()
            loss = self.original(layer, Xb, yb, wb, candidates, offset, grad_x)
            self.cpu += time.process_time() - start
            touched = np.union1d(candidates.classes, yb).shape[0]
            row = layer.weights.shape[1] * layer.weights.itemsize + 3 * 8  # + intercept, accumulator, last step
            batch = Xb.data.nbytes if hasattr(Xb, "indices") else Xb.nbytes
            self.bytes += 3 * touched * row + 2 * batch
            return loss

        self.module.softmax_step = timed
        return self

    def __exit__(self, *exc):
        self.module.softmax_step = self.original


def brown_problem(n_train, n_test):
    from sklearn_lsh.datasets import NextWordFeatures, load_brown

    splits = load_brown(BROWN)
    features = NextWordFeatures(context_size=3, n_components=64, random_state=0).fit(splits["train"])
    X, y = features.transform(splits["train"][: n_train + 1])
    X_test, y_test = features.transform(splits["test"][: n_test + 1])
    classes = np.arange(features.vocabulary_.shape[0])
    return X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test], classes


def generated_problem(n_classes, n_train, n_test):
    from sklearn_lsh.datasets import make_extreme_classification

    X, y = make_extreme_classification(n_train + n_test, 128, n_classes, random_state=0)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], np.arange(n_classes)


def quality(clf, X_test, y_test, kind):
    if kind == "perplexity":
        log_p = np.concatenate([clf.predict_log_proba_of(X_test[i : i + 2000], y_test[i : i + 2000])
                                for i in range(0, X_test.shape[0], 2000)])  # fmt: skip
        return float(np.exp(-log_p.mean()))
    return float(np.mean(clf.predict(X_test) == y_test))


def run_problem(name, data, configs, epochs, kind):
    from sklearn_lsh import LSHSoftmaxClassifier

    X, y, X_test, y_test, classes = data
    models = {}
    for estimator, n_jobs in configs:
        clf = LSHSoftmaxClassifier(estimator=estimator, random_state=0, n_jobs=n_jobs)
        clf.partial_fit(X[:256], y[:256], classes=classes)  # compile / load the kernels, not timed
        models[(estimator, n_jobs)] = {"clf": clf, "cpu": [], "wall": [], "step_cpu": 0.0, "step_bytes": 0}
    load_before = os.getloadavg()
    for epoch in range(epochs):
        for key, m in models.items():
            with StepMeter() as meter:
                cpu, wall = time.process_time(), time.perf_counter()
                m["clf"].partial_fit(X, y)
                m["cpu"].append(time.process_time() - cpu)
                m["wall"].append(time.perf_counter() - wall)
            m["step_cpu"] += meter.cpu
            m["step_bytes"] += meter.bytes
            print(f"{name} epoch {epoch + 1} {key}: {m['cpu'][-1]:.2f} CPU s, {m['wall'][-1]:.2f} wall s",
                  flush=True)  # fmt: skip
    load_after = os.getloadavg()
    for m in models.values():
        m["quality"] = quality(m["clf"], X_test, y_test, kind)
    return models, load_before, load_after


def table(models, bandwidth, kind, epochs):
    exact_cpu = {n_jobs: np.median(m["cpu"]) for (est, n_jobs), m in models.items() if est == "exact"}
    exact_wall = {n_jobs: np.median(m["wall"]) for (est, n_jobs), m in models.items() if est == "exact"}
    one_thread_wall = {est: np.median(m["wall"]) for (est, n_jobs), m in models.items() if n_jobs == 1}
    exact_quality = {n_jobs: m["quality"] for (est, n_jobs), m in models.items() if est == "exact"}
    rows = []
    for (est, n_jobs), m in models.items():
        clf = m["clf"]
        cpu, wall = np.median(m["cpu"]), np.median(m["wall"])
        floor = m["step_bytes"] / bandwidth
        q = m["quality"]
        q_vs = q / exact_quality[n_jobs] if kind == "perplexity" else q - exact_quality[n_jobs]
        rows.append([
            est, n_jobs, f"{cpu:.1f}", f"{wall:.1f}",
            f"{exact_cpu[n_jobs] / cpu:.1f}x" if n_jobs in exact_cpu else "",
            f"{wall / one_thread_wall[est]:.2f}x" if n_jobs != 1 and est in one_thread_wall else "",
            f"{clf.inner_products_per_example_:,.0f}", f"{clf.mean_classes_scored_:,.0f}",
            f"{m['step_cpu'] / sum(m['cpu']):.0%}", f"{m['step_cpu'] / floor:.1f}x",
            f"{q:.1f} ({q_vs:.3f}x)" if kind == "perplexity" else f"{q:.3f} ({q_vs:+.3f})",
        ])  # fmt: skip
    header = ["estimator", "threads", "CPU s / epoch", "wall s / epoch", "exact / this (CPU)",
              "wall vs 1 thread", "inner products / example", "classes scored / example", "step share of CPU",
              "step / copy floor", "test perplexity (vs exact)" if kind == "perplexity" else
              f"test top-1 after {epochs} epochs (vs exact)"]  # fmt: skip
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_run_arguments(parser, quick_help="a smoke run on small subsets")
    parser.add_argument("--problems", default="brown,generated")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # ConvergenceWarning of the epoch-by-epoch partial_fit
    bandwidth = copy_bandwidth()
    lines = report_head("### Training speed: CPU seconds per epoch against exact")
    lines.append(f"Copy bandwidth (np.copyto of 256 MiB, read + write): {bandwidth / 1e9:.1f} GB/s.")
    lines.append("")
    configs = [(e, 1) for e in ESTIMATORS] + [("exact", 2), ("lsh", 2), ("prior", 2)]
    problems = args.problems.split(",")
    if "brown" in problems:
        n_train, n_test, epochs = (5_000, 1_000, 1) if args.quick else (100_000, 20_000, 2)
        data = brown_problem(n_train, n_test)
        models, before, after = run_problem("brown", data, configs, epochs, "perplexity")
        lines += [
            f"**Brown next-word** (`load_brown`, split by file; `NextWordFeatures(context_size=3, n_components=64)`,"
            f" 192 float32 features; {data[4].shape[0]:,} classes; the first {n_train:,} training positions,"
            f" {epochs} epochs, batch 128, defaults otherwise; test perplexity on the first {n_test:,} test"
            f" positions). Load average {before[0]:.2f} before, {after[0]:.2f} after.",
            "", table(models, bandwidth, "perplexity", epochs), "",
        ]  # fmt: skip
    if "generated" in problems:
        n_classes, n_train, n_test, epochs = (2_000, 5_000, 1_000, 1) if args.quick else (100_000, 50_000, 5_000, 1)
        data = generated_problem(n_classes, n_train, n_test)
        models, before, after = run_problem("generated", data, configs, epochs, "top-1")
        lines += [
            f"**Generated, C = {n_classes:,}, d = 128** (`make_extreme_classification`, dense float32, Zipf labels;"
            f" {n_train:,} training rows, {epochs} epoch(s), {n_test:,} test rows). Load average {before[0]:.2f}"
            f" before, {after[0]:.2f} after.",
            "", table(models, bandwidth, "top-1", epochs), "",
        ]  # fmt: skip
    lines += [
        "CPU seconds are the median over the epochs; \"exact / this\" compares CPU seconds per epoch at the same"
        " thread count; \"wall vs 1 thread\" is this configuration's wall time over its 1-thread run (both in this"
        " run; meaningful only on an idle machine); \"step / copy floor\" is the step's CPU time over the time its"
        " bytes take at the measured copy bandwidth.",
    ]
    publish("speed-training", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
