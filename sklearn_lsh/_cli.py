"""Command line of sklearn-lsh (``sklearn-lsh`` or ``python -m sklearn_lsh``)."""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np

from ._partition import METHOD_OPTIONS, EmptySampleWarning, estimate_log_partition
from .datasets import make_partition_problem


# "lsh" settings calibrated for a 2% budget at C = 10^4 in docs/benchmarks.md:
# the best sublinear one (pair tables) and the best overall (the Hamming scan).
CALIBRATED_PAIRS = {"n_bits": 16, "n_tables": 120, "table_design": "pairs"}
CALIBRATED_SCAN = {"n_bits": 48, "n_tables": 2, "table_design": "scan", "probe_radius": 13}


def _partition(args) -> int:
    print(
        f"Partition-function estimators on make_partition_problem(n_classes={args.n_classes}, "
        f"n_features={args.n_features}, n_queries={args.n_queries}, random_state={args.seed})",
        flush=True,
    )
    W, X = make_partition_problem(args.n_classes, args.n_features, n_queries=args.n_queries, random_state=args.seed)
    # Compile the numba kernels on a tiny call first, so the timings below
    # measure the estimators and not the (cached) compilation.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptySampleWarning)
        for method in METHOD_OPTIONS:
            estimate_log_partition(W[:64], X[:2], method, random_state=0)
    exact = estimate_log_partition(W, X, "exact")
    rows = []
    for method, options in (
        ("exact", {}),
        ("lsh", {}),
        ("lsh", CALIBRATED_PAIRS),
        ("lsh", CALIBRATED_SCAN),
        ("lsh-draw", {}),
        ("mips-gumbel", {}),
        ("uniform", {"n_samples": args.budget}),
        ("gumbel", {"n_samples": args.budget}),
    ):
        start = time.perf_counter()
        est, work = estimate_log_partition(W, X, method, random_state=args.seed, return_work=True, **options)
        ms = 1e3 * (time.perf_counter() - start) / X.shape[0]
        settings = {**METHOD_OPTIONS[method], **options}
        rows.append(
            (
                method,
                f"{np.mean(np.abs(est - exact)):.4f}",
                f"{work.inner_products_per_query:.0f}",
                f"{work.scanned_per_query:.0f}",
                f"{ms:.3f}",
                ", ".join(f"{k}={v}" for k, v in settings.items()) or "-",
            )
        )
    header = ("method", "MAE log Z", "inner products/query", "entries scanned/query", "ms/query", "settings")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    print(
        "\nInner products count hashing the query (n_bits x n_tables projections, or n_groups x n_bits / 2 "
        "for pair tables) and scoring the sampled classes. Entries scanned are integer work, not inner "
        "products: bucket members read, or, for table_design=scan, class codes compared (C per code). "
        "ms/query includes building the tables once per call, amortised over the queries. See "
        "docs/benchmarks.md for budgets of 1%, 2% and 5% of C."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sklearn-lsh",
        description="sklearn-lsh: LSH-sampled softmax partition functions for extreme multiclass problems.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    part = sub.add_parser(
        "partition",
        help="compare the partition-function estimators on generated data (the default command)",
        description="Estimate log Z(x) = log sum_j exp(w_j . x) for generated queries with every "
        "method of sklearn_lsh.estimate_log_partition and print error, cost and time per query.",
    )
    part.add_argument("--n-classes", type=int, default=10_000, help="number of classes C (default: 10000)")
    part.add_argument("--n-features", type=int, default=64, help="dimension d (default: 64)")
    part.add_argument("--n-queries", type=int, default=200, help="number of queries (default: 200)")
    part.add_argument("--budget", type=int, default=200,
                      help="samples for the 'uniform' and 'gumbel' baselines (default: 200)")
    part.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    part.set_defaults(func=_partition)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["partition", *argv]
    args = parser.parse_args(argv)
    for name in ("n_classes", "n_features", "n_queries", "budget"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args.func(args)
