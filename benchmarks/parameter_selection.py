"""Parameter selection for ``LSHSoftmaxClassifier(estimator="lsh")``:
measured trade-offs of n_bits, n_tables, the rebuild interval and the table
design (issue 8).

Data: ``sklearn_lsh.datasets.make_extreme_classification`` (dense float32,
64 features, C = 10,000 classes with Zipf frequencies), the first
``--n-train`` rows for training and the next ``--n-test`` for testing.
Every run trains ``LSHSoftmaxClassifier`` for the same epochs of
``partial_fit(X, y, classes=range(C))`` with the same optimiser and seed. The
sweeps change one parameter at a time around the package defaults
(``n_bits=None``, i.e. ceil(log2 C) - 4, ``n_tables=16``,
``rebuild_interval=None``, independent tables, ``probe_radius=0``). The
"exact" estimator is the reference. The default configuration and "exact"
are also run with ``--spread-seeds`` values of ``random_state`` (weight
initialisation, shuffling, projections; the data stay the same), so the
seed-to-seed spread of top-1 shows which differences are noise.

Measured per run: classes scored and inner products per training example
(``mean_classes_scored_``, ``inner_products_per_example_``: everything the
training computed, hashing and table builds included), both also as a
fraction of C; table builds; training seconds (wall time); top-1 accuracy
and P@5 on the test rows (exact prediction); the exact test log-loss; and the
last epoch's training loss from ``loss_curve_`` (for "lsh" the *estimated*
loss, biased low).

Run ``python benchmarks/parameter_selection.py``; ``--quick`` for a smoke
run; ``--no-write`` leaves docs/parameters.md alone; ``--seeds N`` runs every
configuration with N seeds and reports means. A small warm-up fit precedes
the runs, so numba compilation (or cache loading) is not timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    add_run_arguments, command_line, machine_description, markdown_table, mean_log_loss, timed_epochs, wall_seconds,
    write_section,
)

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402
from sklearn_lsh.datasets import make_extreme_classification  # noqa: E402
from sklearn_lsh.metrics import precision_at_k  # noqa: E402

PAGE = Path(__file__).resolve().parent.parent / "docs" / "parameters.md"
NEVER = 10**9  # a rebuild interval longer than any run: the tables are built once, at the first update


def ints(text):
    return [int(s) for s in text.split(",") if s.strip()]


def sweeps(args):
    """``[(sweep, label, params)]``: one-at-a-time changes of the defaults."""
    runs = [("reference", "exact", {"estimator": "exact"}), ("reference", "default", {})]
    runs += [("n_bits", f"n_bits={k}", {"n_bits": k}) for k in ints(args.n_bits) if k != args.default_bits]
    runs += [("n_tables", f"n_tables={L}", {"n_tables": L}) for L in ints(args.n_tables) if L != 16]
    for r in ints(args.rebuild):
        label = "never (built once, at the first update)" if r >= NEVER else f"rebuild_interval={r}"
        runs.append(("rebuild", label, {"rebuild_interval": r}))
    if not args.no_designs:
        runs += [
            ("design", "probe_radius=1", {"probe_radius": 1}),
            ("design", "pairs, n_bits=10, n_tables=28 (8 groups)",
             {"table_design": "pairs", "n_bits": 10, "n_tables": 28}),
            ("design", "pairs, n_bits=12, n_tables=66 (12 groups)",
             {"table_design": "pairs", "n_bits": 12, "n_tables": 66}),
            ("design", "scan, n_bits=40, n_tables=1, probe_radius=14",
             {"table_design": "scan", "n_bits": 40, "n_tables": 1, "probe_radius": 14}),
        ]  # fmt: skip
    return runs


def run_one(params, seed, data, args):
    X, y, X_test, y_test = data
    classes = np.arange(args.n_classes)
    clf = LSHSoftmaxClassifier(**{"estimator": "lsh", **params}, eta0=args.eta0, batch_size=args.batch_size,
                               random_state=seed)  # fmt: skip
    train_s = wall_seconds(timed_epochs(clf, X, y, args.epochs, classes=classes))
    top, _ = clf.predict_topk(X_test, k=5)
    return {
        "scored": clf.mean_classes_scored_,
        "ips": clf.inner_products_per_example_,
        "builds": int(clf.n_rebuilds_),
        "train_s": train_s,
        "top1": float(np.mean(top[:, 0] == y_test)),
        "p5": precision_at_k(y_test, top, k=5),
        "test_log_loss": mean_log_loss(clf, X_test, y_test),
        "train_loss": float(clf.loss_curve_[-1]),
        "empty": int(clf.n_empty_samples_),
        "n_bits": int(clf.n_bits_),
    }


def mean_of(results, key):
    return float(np.mean([r[key] for r in results]))


def row(label, results, n_classes, show_range):
    top1 = [r["top1"] for r in results]
    top1_text = f"{np.mean(top1):.4f}"
    if show_range and len(top1) > 1:
        top1_text += f" ({min(top1):.4f}-{max(top1):.4f})"
    scored, ips = mean_of(results, "scored"), mean_of(results, "ips")
    return [label, f"{scored:.0f}", f"{100 * scored / n_classes:.2f}%", f"{ips:.0f}", f"{100 * ips / n_classes:.2f}%",
            f"{mean_of(results, 'builds'):.0f}", f"{mean_of(results, 'train_s'):.1f}", top1_text,
            f"{mean_of(results, 'p5'):.4f}", f"{mean_of(results, 'test_log_loss'):.3f}",
            f"{mean_of(results, 'train_loss'):.3f}", f"{mean_of(results, 'empty'):.0f}"]  # fmt: skip


HEADER = ["setting", "classes scored / example", "of C", "inner products / example", "of C", "table builds",
          "train s", "top-1", "P@5", "test log-loss", "train loss (last epoch)", "empty samples"]  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-classes", type=int, default=10_000)
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--eta0", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-bits", default="6,7,8,9,10,11,12,13", help="n_bits sweep")
    parser.add_argument("--n-tables", default="4,8,16,32,64", help="n_tables sweep")
    parser.add_argument("--rebuild", default=f"10,30,100,300,1000,{NEVER}",
                        help=f"rebuild_interval sweep ({NEVER} or more: never rebuilt)")
    parser.add_argument("--no-designs", action="store_true", help="skip the table_design / probe_radius rows")
    parser.add_argument("--seeds", type=int, default=1, help="seeds (random_state 0..N-1) of every configuration")
    parser.add_argument("--spread-seeds", type=int, default=3,
                        help="seeds of the default configuration and 'exact' (seed-to-seed spread)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--json", help="also write the raw results to this file")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_classes, args.n_train, args.n_test, args.epochs = 1000, 10_000, 2_000, 1
        args.n_bits, args.n_tables, args.rebuild, args.spread_seeds = "4,6,8", "8,16", f"100,{NEVER}", 2

    X_all, y_all = make_extreme_classification(args.n_train + args.n_test, args.n_features, args.n_classes,
                                               random_state=args.data_seed)  # fmt: skip
    n = args.n_train
    data = (X_all[:n], y_all[:n], X_all[n:], y_all[n:])
    with warnings.catch_warnings():  # warm-up: numba compilation is not timed
        warnings.simplefilter("ignore")
        warm = [LSHSoftmaxClassifier(**params, random_state=0).partial_fit(
                    X_all[:500], y_all[:500], classes=np.arange(args.n_classes))
                for params in ({}, {"table_design": "pairs", "n_bits": 6, "n_tables": 3},
                               {"table_design": "scan", "n_bits": 16, "n_tables": 1, "probe_radius": 2})]  # fmt: skip
    args.default_bits = warm[0].n_bits_  # what n_bits=None gives at C classes: ceil(log2 C) - 4

    runs = sweeps(args)
    results = {}  # label -> [result per seed]
    start_all = time.perf_counter()
    for sweep, label, params in runs:
        n_seeds = max(args.seeds, args.spread_seeds) if sweep == "reference" else args.seeds
        results[label] = []
        for seed in range(n_seeds):
            r = run_one(params, seed, data, args)
            r["seed"] = seed
            results[label].append(r)
            print(f"[{time.perf_counter() - start_all:6.0f} s] {label} seed={seed}: "
                  + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()),
                  flush=True)  # fmt: skip
    total_s = time.perf_counter() - start_all

    C = args.n_classes
    main_seeds = list(range(args.seeds))

    def sweep_table(sweep):
        rows = [row(f"default (n_bits={args.default_bits}, n_tables=16, schedule)",
                    [r for r in results["default"] if r["seed"] in main_seeds], C, True)]  # fmt: skip
        rows += [row(label, results[label], C, True) for s, label, _ in runs if s == sweep]
        return markdown_table(HEADER, rows)

    reference_rows = []
    for label in ("exact", "default"):
        for r in results[label]:
            reference_rows.append(row(f"{label}, random_state={r['seed']}", [r], C, False))
        reference_rows.append(row(f"{label}, mean (min-max) of {len(results[label])} seeds", results[label], C, True))
    spread = {label: 100 * (max(r["top1"] for r in results[label]) - min(r["top1"] for r in results[label]))
              for label in ("exact", "default")}  # fmt: skip

    seeds_text = "random_state=0" if args.seeds == 1 else f"mean of random_state=0..{args.seeds - 1}"
    body = "\n".join([
        f"Command: `{command_line()}` ({total_s / 60:.1f} minutes for all runs)  ",
        f"Machine: {machine_description()}; 2-core Xeon shared with other jobs (a docs build, tests) during "
        "the run, so the seconds are indicative only: the inner-product counts are the load-independent cost.",
        "",
        f"Data: `make_extreme_classification(n_samples={args.n_train + args.n_test}, n_features={args.n_features}, "
        f"n_classes={C}, random_state={args.data_seed})` (dense float32, Zipf class frequencies), first "
        f"{args.n_train:,} rows for training, {args.n_test:,} for testing. Every run: `LSHSoftmaxClassifier("
        f"estimator, eta0={args.eta0}, batch_size={args.batch_size}, random_state=seed, ...)`, {args.epochs} "
        f"epoch{'s' if args.epochs > 1 else ''} of `partial_fit(X, y, classes=range({C}))` ({-(-args.n_train // args.batch_size) * args.epochs} "
        f"updates), row-wise AdaGrad; the default is n_bits=None (= {args.default_bits}), n_tables=16, "
        "rebuild_interval=None (every 10 updates for the first 100, then every 100), independent tables, "
        f"probe_radius=0. Sweep rows change one parameter and use {seeds_text}. \"Inner products\" is "
        "`inner_products_per_example_`: the step's scores, hashing the query, the scores behind the inclusion "
        "probabilities and every table build, per training example. \"train s\" is the wall time of the "
        f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}. Top-1, P@5 and the test log-loss use exact prediction; the training loss is "
        "`loss_curve_[-1]`, which for the LSH rows is the *estimated* loss `log Z_hat - s_y` (biased low). "
        "\"Empty samples\" is `n_empty_samples_`: training examples (of "
        f"{args.n_train * args.epochs:,} example visits) whose LSH sample held no class but the label and got "
        "uniform negatives instead.",
        "",
        "### Reference: exact softmax and the default, seed to seed",
        "",
        markdown_table(HEADER, reference_rows),
        "",
        f"Top-1 spread (max - min) over the seeds: exact {spread['exact']:.2f} points, default "
        f"{spread['default']:.2f} points.",
        "",
        "### n_bits (bits per table, K)",
        "",
        sweep_table("n_bits"),
        "",
        "### n_tables (L)",
        "",
        sweep_table("n_tables"),
        "",
        "### Rebuild interval",
        "",
        sweep_table("rebuild"),
    ])  # fmt: skip
    if not args.no_designs:
        body += "\n\n" + "\n".join(["### Table design and probing", "", sweep_table("design")])
    print(body)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "total_s": total_s, "results": results}, indent=1))
    if not args.no_write:
        if not PAGE.exists():
            PAGE.write_text("# Choosing parameters\n")
        write_section("parameter_selection", body, path=PAGE)


if __name__ == "__main__":
    main()
