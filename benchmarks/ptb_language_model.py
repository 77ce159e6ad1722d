"""Penn Treebank next-word prediction: "exact" vs "lsh" vs "uniform" training.

Features (``sklearn_lsh.datasets.NextWordFeatures``): the previous 3 tokens'
64-dim PPMI-SVD word vectors (learned on the training split only),
concatenated: 192 dense float32 features; target: the next token (10,000
classes). Each estimator trains ``LSHSoftmaxClassifier`` for the same number
of epochs with the same optimiser; "uniform" draws as many negatives per
example as "lsh" scored classes on average (equal sample budget).
Perplexity is ``exp(mean negative log-likelihood)`` with the exact Z.

Run ``python benchmarks/ptb_language_model.py --data ../shared/data/ptb``;
``--quick`` trains on 100k positions for a smoke run; ``--no-write`` leaves
docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    PTB_DATA, add_run_arguments, load_ptb_features, markdown_table, peak_rss_mb, publish, report_head,
    reset_peak_rss, rss_mb, timed_epochs,
)

from sklearn_lsh import LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier  # noqa: E402
from sklearn_lsh.metrics import perplexity  # noqa: E402


def train(name, X, y, classes, args, **params):
    if name == "two-component":
        clf = TwoComponentSoftmaxClassifier(eta0=args.eta0, alpha=args.alpha, batch_size=args.batch_size,
                                            random_state=args.seed, shuffle=True)  # fmt: skip
    else:
        clf = LSHSoftmaxClassifier(
            name, eta0=args.eta0, alpha=args.alpha, batch_size=args.batch_size, n_bits=args.n_bits,
            n_tables=args.n_tables, random_state=args.seed, shuffle=True, **params,
        )  # fmt: skip
    # two-component: what fit does after every epoch, timed with the epoch
    replace = (lambda m: m.update_placement(X, y)) if name == "two-component" else None

    def progress(clf, epoch):
        print(f"  {name}: epoch {clf.n_iter_} {epoch.wall:.1f} s, loss {clf.loss_curve_[-1]:.3f}, "
              f"classes/example {clf.mean_classes_scored_:.1f}", flush=True)

    times = timed_epochs(clf, X, y, args.epochs, classes=classes, each_epoch=replace, after_epoch=progress)
    return clf, [t.wall for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(PTB_DATA))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eta0", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=1e-6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-bits", type=int, default=None)
    parser.add_argument("--n-tables", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=None, help="use the first N training positions")
    parser.add_argument("--estimators", default="exact,lsh,uniform,two-component")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_train, args.epochs = 100_000, 1

    ptb = load_ptb_features(args.data, args.seed, limits={"train": args.max_train})
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = (ptb.data[s] for s in ("train", "valid", "test"))
    feature_seconds, classes = ptb.seconds, ptb.classes
    print(f"features: {X_train.shape} train, {feature_seconds:.1f} s", flush=True)

    results = {}
    lsh_budget = None
    for name in args.estimators.split(","):
        params = {}
        if name == "uniform":
            params["n_samples"] = max(1, int(round(lsh_budget - 1))) if lsh_budget else 100
        reset_peak_rss()
        before = rss_mb()
        clf, epochs = train(name, X_train, y_train, classes, args, **params)
        memory = peak_rss_mb() - before
        if name == "lsh":
            lsh_budget = clf.mean_classes_scored_
        results[name] = {
            "valid": perplexity(clf, X_valid, y_valid),
            "test": perplexity(clf, X_test, y_test),
            "epoch_s": float(np.mean(epochs)),
            "scored": clf.mean_classes_scored_,
            "rebuilds": getattr(clf, "n_rebuilds_", 0),
            "memory_mb": memory,
            "params": params,
        }
        print(f"{name}: {results[name]}", flush=True)

    n_classes = classes.shape[0]
    rows = [
        [name, f"{r['valid']:.1f}", f"{r['test']:.1f}", f"{r['epoch_s']:.1f}",
         f"{r['scored']:.0f} ({100 * r['scored'] / n_classes:.1f}%)", f"{r['memory_mb']:.0f}", str(r["rebuilds"]),
         ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"]
        for name, r in results.items()
    ]  # fmt: skip
    lines = [
        *report_head("## Penn Treebank next-word model (issue 3)"),
        f"Data: PTB (Mikolov's 10k vocabulary), {X_train.shape[0]:,} training positions, "
        f"{X_valid.shape[0]:,} validation, {X_test.shape[0]:,} test. Features: previous 3 tokens' 64-dim "
        f"PPMI-SVD vectors (train split only), 192 float32 columns, built in {feature_seconds:.0f} s. "
        f"`LSHSoftmaxClassifier(eta0={args.eta0}, alpha={args.alpha}, batch_size={args.batch_size}, "
        f"n_bits={args.n_bits}, n_tables={args.n_tables}, random_state={args.seed})`, {args.epochs} epochs each "
        "(row-wise AdaGrad for all); \"two-component\" is `TwoComponentSoftmaxClassifier(eta0, alpha, "
        "batch_size, random_state)` with its default re-placement, its \"classes scored\" the row and column "
        "scores per example. Perplexity uses the exact softmax. \"Training memory\" is the rise of the "
        "process's peak resident size during training over its size before (features already built).",
        "",
        markdown_table(
            ["estimator", "valid ppl", "test ppl", "s/epoch", "classes scored/example", "training memory (MB)",
             "table builds", "settings"],
            rows,
        ),
    ]
    if "exact" in results and "lsh" in results:
        ratio = results["lsh"]["test"] / results["exact"]["test"]
        lines += ["", f"lsh / exact test perplexity: {ratio:.3f}; epoch time exact / lsh: "
                      f"{results['exact']['epoch_s'] / results['lsh']['epoch_s']:.1f}x."]
    publish("ptb_language_model", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
