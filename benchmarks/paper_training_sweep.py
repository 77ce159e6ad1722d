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
behind the inclusion probabilities and every table build).

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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, machine_description, markdown_table, write_section  # noqa: E402
from paper_training import DEFAULT_MODEL, ROOT, load_features, perplexity  # noqa: E402

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402


def grid():
    """(n_bits, n_tables, table_design, probe_radius, rebuild_interval)."""
    for n_bits in (7, 8, 9, 10):
        for n_tables in (8, 16, 24, 32):
            yield n_bits, n_tables, "independent", 0, 300
    for n_bits in (7, 8):
        for rebuild_interval in (100, 1000):
            yield n_bits, 16, "independent", 0, rebuild_interval
    for n_bits in (10, 12):
        for n_tables in (8, 16):
            yield n_bits, n_tables, "independent", 1, 300


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "ptb"))
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="the exact model of paper_training.py")
    parser.add_argument("--max-train", type=int, default=300_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    settings = list(grid())
    if args.quick:
        args.max_train, args.epochs, settings = 50_000, 1, settings[:2]

    start = time.perf_counter()
    data, classes, _ = load_features(args.data, args.seed, args.max_train)
    X, y = data["train"]
    X_test, y_test = data["test"]
    with open(args.model, "rb") as f:
        exact = perplexity(pickle.load(f), X_test, y_test)
    n_classes = classes.shape[0]

    rows, best = [], None
    for n_bits, n_tables, design, radius, rebuild in settings:
        clf = LSHSoftmaxClassifier(
            "lsh", eta0=0.1, alpha=1e-6, batch_size=128, n_bits=n_bits, n_tables=n_tables, table_design=design,
            probe_radius=radius, rebuild_interval=rebuild, random_state=args.seed, shuffle=True, n_jobs=1,
        )  # fmt: skip
        t0 = time.perf_counter()
        for _ in range(args.epochs):
            clf.partial_fit(X, y, classes=classes)
        seconds = (time.perf_counter() - t0) / args.epochs
        ratio = perplexity(clf, X_test, y_test) / exact
        fraction = clf.inner_products_per_example_ / n_classes
        meets = ratio <= 1.05 and fraction <= 0.05
        rows.append([str(n_bits), str(n_tables), design, str(radius), str(rebuild), f"{ratio:.3f}",
                     f"{100 * fraction:.2f}%", f"{clf.mean_classes_scored_:.0f}", f"{seconds:.1f}",
                     "yes" if meets else "no"])  # fmt: skip
        if fraction <= 0.05 and (best is None or ratio < best[0]):
            best = (ratio, fraction, rows[-1])
        print(" | ".join(rows[-1]), flush=True)
    minutes = (time.perf_counter() - start) / 60

    summary = "No setting of the grid fits within 5% of exact's work." if best is None else (
        f"Best within 5% of exact's work: {best[0]:.3f}x exact's perplexity at {100 * best[1]:.2f}% "
        f"(n_bits={best[2][0]}, n_tables={best[2][1]}, probe_radius={best[2][3]}, "
        f"rebuild_interval={best[2][4]}).")  # fmt: skip
    body = "\n".join([
        "## Pure \"lsh\" training on PTB over a grid of table settings (issue 7)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_description()}",
        "",
        f"Data, features and optimiser as in the training section above ({X.shape[0]:,} training positions, "
        f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, `LSHSoftmaxClassifier(\"lsh\", eta0=0.1, alpha=1e-06, batch_size=128, "
        f"random_state={args.seed}, n_jobs=1)` plus the settings of each row, no prior draws). Test perplexity "
        f"over exact's ({exact:.1f}, the exact model saved by `benchmarks/paper_training.py`); work as in that "
        "section, all counted. \"bar\" says whether the row is within 5% of exact's perplexity at no more than "
        f"5% of its work. {summary} Whole run: {minutes:.0f} min.",
        "",
        markdown_table(["n_bits", "n_tables", "table_design", "probe_radius", "rebuild_interval",
                        "test ppl / exact", "fraction of exact work", "classes scored/example", "s/epoch",
                        "bar"], rows),
    ])  # fmt: skip
    print(body)
    if not args.no_write and not args.quick:
        write_section("paper_training_sweep", body)


if __name__ == "__main__":
    main()
