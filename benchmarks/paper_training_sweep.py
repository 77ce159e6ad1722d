"""Pure "lsh" training on PTB over a grid of table settings (issue 7, the training bar).

``benchmarks/paper_training.py`` trains "lsh" at one setting (8 bits, 16
tables, rebuilt every 300 steps): 1.107x exact's test perplexity at 4.0% of
its work. The bar of issue 7 asks for "lsh" within 5% of exact perplexity at
no more than 5% of exact's computation, all work counted. This script trains
the same model (same data, features, optimiser, epochs and seed) with
``estimator="lsh"`` and no prior draws at every setting of a grid, and
reports each one's test perplexity against the exact model that
``paper_training.py`` saved, with the fraction of exact work
(``inner_products_per_example_ / C``: the step's scores, hashing, the scores
behind the inclusion probabilities and every table build). A setting that
meets the bar at the first seed is retrained at the ``--confirm-seeds``, each
against an exact model trained with the same seed, since one seed can pass
or miss by a hair.

Run ``python benchmarks/paper_training_sweep.py`` after
``benchmarks/paper_training.py``; ``--quick`` for a smoke run (two settings,
50,000 positions, one epoch); ``--no-write`` leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    PTB_DATA, PTB_EXACT_MODEL, add_run_arguments, load_ptb_features, markdown_table, publish, report_head,
    timed_epochs, wall_seconds,
)

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402
from sklearn_lsh.metrics import perplexity  # noqa: E402


def grid():
    """(n_bits, n_tables, table_design, probe_radius, rebuild_interval)."""
    for n_bits in (7, 8, 9, 10):
        for n_tables in (8, 16, 24, 32):
            yield n_bits, n_tables, "independent", 0, 300
    for n_bits, n_tables in ((7, 12), (7, 16), (8, 16), (8, 20), (9, 24), (9, 32), (10, 32)):
        yield n_bits, n_tables, "independent", 0, 100
    yield 8, 16, "independent", 0, 50
    for n_bits in (7, 8):
        yield n_bits, 16, "independent", 0, 1000
    for n_bits in (10, 12):
        for n_tables in (8, 16):
            yield n_bits, n_tables, "independent", 1, 300


def train(X, y, classes, epochs, seed, estimator="lsh", **params):
    """The model of paper_training.py with ``estimator`` and ``params``; returns it and its seconds per epoch."""
    clf = LSHSoftmaxClassifier(estimator, eta0=0.1, alpha=1e-6, batch_size=128, random_state=seed, shuffle=True,
                               n_jobs=1, **params)  # fmt: skip
    return clf, wall_seconds(timed_epochs(clf, X, y, epochs, classes=classes)) / epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(PTB_DATA))
    parser.add_argument("--model", default=str(PTB_EXACT_MODEL), help="the exact model of paper_training.py")
    parser.add_argument("--max-train", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--confirm-seeds", default="1,2",
                        help="seeds at which the settings that meet the bar are retrained (with exact)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    settings = list(grid())
    if args.quick:
        args.max_train, args.epochs, settings = 50_000, 1, settings[:2]

    start = time.perf_counter()
    ptb = load_ptb_features(args.data, 0, limits={"train": args.max_train})
    classes, (X, y) = ptb.classes, ptb.data["train"]
    (X_test, y_test), (X_valid, y_valid) = ptb.data["test"], ptb.data["valid"]
    with open(args.model, "rb") as f:
        exact_model = pickle.load(f)
    exact, exact_valid = perplexity(exact_model, X_test, y_test), perplexity(exact_model, X_valid, y_valid)
    n_classes = classes.shape[0]

    rows, best, passing = [], None, []
    for n_bits, n_tables, design, radius, rebuild in settings:
        params = dict(n_bits=n_bits, n_tables=n_tables, table_design=design, probe_radius=radius,
                      rebuild_interval=rebuild)  # fmt: skip
        clf, seconds = train(X, y, classes, args.epochs, args.seed, **params)
        ratio = perplexity(clf, X_test, y_test) / exact
        fraction = clf.inner_products_per_example_ / n_classes
        meets = ratio <= 1.05 and fraction <= 0.05
        rows.append([str(n_bits), str(n_tables), design, str(radius), str(rebuild),
                     f"{perplexity(clf, X_valid, y_valid) / exact_valid:.3f}", f"{ratio:.3f}",
                     f"{100 * fraction:.2f}%", f"{clf.mean_classes_scored_:.0f}", f"{seconds:.1f}",
                     "yes" if meets else "no"])  # fmt: skip
        if fraction <= 0.05 and (best is None or ratio < best[0]):
            best = (ratio, fraction, rows[-1])
        if meets:
            passing.append(params)
        print(" | ".join(rows[-1]), flush=True)

    # The settings that meet the bar at the first seed, retrained at the others, each against an exact model
    # trained with the same seed (one seed can pass or miss by chance).
    confirm, exact_by_seed = [], {}
    for params in passing:
        for seed in (int(v) for v in args.confirm_seeds.split(",") if v):
            if seed not in exact_by_seed:
                exact_by_seed[seed] = perplexity(train(X, y, classes, args.epochs, seed, "exact")[0], X_test, y_test)
            clf, _ = train(X, y, classes, args.epochs, seed, **params)
            ratio = perplexity(clf, X_test, y_test) / exact_by_seed[seed]
            fraction = clf.inner_products_per_example_ / n_classes
            confirm.append([", ".join(f"{k}={v}" for k, v in params.items() if k != "table_design"), str(seed),
                            f"{exact_by_seed[seed]:.1f}", f"{ratio:.3f}", f"{100 * fraction:.2f}%",
                            "yes" if ratio <= 1.05 and fraction <= 0.05 else "no"])  # fmt: skip
            print(" | ".join(confirm[-1]), flush=True)
    minutes = (time.perf_counter() - start) / 60

    summary = "No setting of the grid fits within 5% of exact's work." if best is None else (
        f"Best within 5% of exact's work: {best[0]:.3f}x exact's perplexity at {100 * best[1]:.2f}% "
        f"(n_bits={best[2][0]}, n_tables={best[2][1]}, probe_radius={best[2][3]}, "
        f"rebuild_interval={best[2][4]}).")  # fmt: skip
    summary += f" {len(passing)} of the {len(settings)} settings meet the bar at seed {args.seed}."
    body = "\n".join([
        *report_head("## Pure \"lsh\" training on PTB over a grid of table settings (issue 7)"),
        f"Data, features and optimiser as in the training section above ({X.shape[0]:,} training positions, "
        f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, `LSHSoftmaxClassifier(\"lsh\", eta0=0.1, alpha=1e-06, batch_size=128, "
        f"random_state={args.seed}, n_jobs=1)` plus the settings of each row, no prior draws). Validation and test "
        f"perplexity over exact's ({exact_valid:.1f} and {exact:.1f}, the exact model saved by "
        "`benchmarks/paper_training.py`); work as in that "
        "section, all counted. \"bar\" says whether the row is within 5% of exact's perplexity at no more than "
        f"5% of its work. {summary} Whole run: {minutes:.0f} min.",
        "",
        markdown_table(["n_bits", "n_tables", "table_design", "probe_radius", "rebuild_interval",
                        "valid ppl / exact", "test ppl / exact", "fraction of exact work", "classes scored/example",
                        "s/epoch", "bar"], rows),
    ])  # fmt: skip
    if confirm:
        body += "\n\n" + "\n".join([
            f"The settings that meet the bar at seed {args.seed}, retrained with other seeds (`random_state`: "
            "shuffling, projections and sampling; the features stay those of seed 0), each against an \"exact\" "
            "model trained with the same seed:",
            "",
            markdown_table(["setting", "seed", "exact test ppl", "test ppl / exact", "fraction of exact work",
                            "bar"], confirm),
        ])  # fmt: skip
    publish("paper_training_sweep", body, not args.no_write and not args.quick)


if __name__ == "__main__":
    main()
