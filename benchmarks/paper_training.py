"""The paper's training comparison on Penn Treebank (issue 7, item 2).

The next-word model of ``benchmarks/ptb_language_model.py`` (previous 3
tokens' 64-dim PPMI-SVD vectors, 192 dense features, 10,000 classes) trained
with each partition-function estimator for the same epochs and the same
optimiser: "exact", "lsh", "lsh-draw", "uniform" and "mips-gumbel", plus
two rows that use the class prior (the smoothed training frequencies):
"prior" (``estimator="prior"``, sampled softmax with the unigram proposal)
and "lsh+prior" (``estimator="lsh"`` with ``n_prior_samples`` draws from the
prior added to the LSH union, at ``--prior-n-bits``), which separate what
the tables and what the prior contribute.

Reported per estimator: validation perplexity after every epoch (also drawn
in ``docs/img/paper_training.png``), final test perplexity (exact Z), wall
time, and the fraction of the exact computation, with all the work counted:
``LSHSoftmaxClassifier.inner_products_per_example_`` (the step's scores,
hashing the queries, the scores behind the inclusion probabilities and every
table build) divided by C, the exact step's count.

Budgets: "lsh" sets the budget. "uniform" gets as many negatives as "lsh"
spends inner products per example, all its work counted (so uniform sampling
is compared at equal total computation, not just equal samples); "lsh-draw"
as many draws as "lsh" scores classes; "mips-gumbel" the "lsh" tables with
``n_top`` exact classes and a uniform tail of 1% of C; "prior" and
"lsh+prior" ``--n-prior-samples`` draws from the prior.

Run ``python benchmarks/paper_training.py``; ``--quick`` for a smoke run;
``--no-write`` leaves the docs alone. The run in docs/benchmarks.md
(``--max-train 300000 --epochs 2``, one thread per model, on a shared 2-core
machine) took 8.9 minutes, 5.1 of them in the epochs (the table's s/epoch x
2 epochs x 7 models); feature building and the perplexity evaluations make
up the rest. The training is deterministic: a rerun gives the same
perplexities and the same exact model; only the seconds move. The run's
results are saved next to the figure (``docs/img/paper_training.json``), and
``--replot`` redraws the figure from them without training. The exact model
is saved (``--model-out``) for ``benchmarks/paper_partition.py``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    PTB_DATA, PTB_EXACT_MODEL, ROOT, add_run_arguments, command_line, load_ptb_features, markdown_table, publish,
    report_head, timed_epochs,
)

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402
from sklearn_lsh.metrics import perplexity  # noqa: E402

FIGURE = ROOT / "docs" / "img" / "paper_training.png"
RESULTS = ROOT / "docs" / "img" / "paper_training.json"  # the figure's data, so that --replot needs no training
ESTIMATORS = ("exact", "lsh", "lsh+prior", "prior", "lsh-draw", "uniform", "mips-gumbel")


def train(name, data, classes, args, **params):
    X, y = data["train"]
    estimator = "lsh" if name == "lsh+prior" else name
    clf = LSHSoftmaxClassifier(
        estimator, eta0=args.eta0, alpha=args.alpha, batch_size=args.batch_size,
        **{"n_bits": args.n_bits, **params},
        n_tables=args.n_tables, table_design=args.table_design, probe_radius=args.probe_radius,
        rebuild_interval=args.rebuild_interval, random_state=args.seed, shuffle=True,
        n_jobs=args.n_jobs,
    )  # fmt: skip
    valid = []

    def validate(clf, epoch):  # after the epoch's clock stopped
        valid.append(perplexity(clf, *data["valid"]))
        print(f"  {name}: epoch {clf.n_iter_} {epoch.wall:.1f} s, valid ppl {valid[-1]:.1f}, "
              f"classes/example {clf.mean_classes_scored_:.1f}, IPs/example {clf.inner_products_per_example_:.1f}",
              flush=True)  # fmt: skip

    times = timed_epochs(clf, X, y, args.epochs, classes=classes, after_epoch=validate)
    return clf, [t.wall for t in times], valid


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4))
    for name, r in results.items():
        epochs = np.arange(1, len(r["valid"]) + 1)
        ax.plot(epochs, r["valid"], marker="o", label=f"{name} ({100 * r['fraction']:.1f}% of exact work)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation perplexity")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(1, max(len(r["valid"]) for r in results.values()) + 1))
    ax.set_title("PTB next-word model, 10,000 classes")
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes, so that it cannot hide a line (the "uniform" line sits at the top).
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(PTB_DATA))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--eta0", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=1e-6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-bits", type=int, default=8)
    parser.add_argument("--n-tables", type=int, default=16)
    parser.add_argument("--table-design", default="independent", choices=["independent", "pairs", "scan"])
    parser.add_argument("--probe-radius", type=int, default=0)
    parser.add_argument("--rebuild-interval", type=int, default=300)
    parser.add_argument("--n-top", type=int, default=10)
    parser.add_argument("--n-prior-samples", type=int, default=100, help='draws from the class prior ("lsh+prior")')
    parser.add_argument("--prior-n-bits", type=int, default=10, help='n_bits of "lsh+prior" (0: --n-bits)')
    parser.add_argument("--n-jobs", type=int, default=1, help="numba threads per model (default: one core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=None, help="use the first N training positions")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument("--model-out", default=str(PTB_EXACT_MODEL), help="where the exact model is saved")
    add_run_arguments(parser)
    parser.add_argument("--replot", action="store_true",
                        help=f"redraw the figure from the run's saved results ({RESULTS.relative_to(ROOT)}), no training")
    args = parser.parse_args(argv)
    if args.replot:
        plot(json.loads(RESULTS.read_text())["results"], FIGURE)
        print(f"figure redrawn from {RESULTS}: {FIGURE}")
        return
    if args.quick:
        args.max_train, args.epochs = 50_000, 1

    start = time.perf_counter()
    ptb = load_ptb_features(args.data, args.seed, limits={"train": args.max_train})
    data, classes = ptb.data, ptb.classes
    print(f"features: {data['train'][0].shape} train, {time.perf_counter() - start:.1f} s", flush=True)
    n_classes = classes.shape[0]

    results, lsh = {}, None
    names = args.estimators.split(",")
    for name in sorted(names, key=lambda n: n not in ("exact", "lsh")):  # "lsh" sets the budgets
        params = {}
        if name == "uniform":
            params["n_samples"] = max(1, int(round(lsh.inner_products_per_example_ - 1))) if lsh else 100
        elif name == "lsh-draw":
            params["n_samples"] = max(1, int(round(lsh.mean_classes_scored_ - 1))) if lsh else 100
        elif name == "lsh+prior":
            params["n_prior_samples"] = args.n_prior_samples
            if args.prior_n_bits:
                params["n_bits"] = args.prior_n_bits
        elif name == "prior":
            params["n_samples"] = args.n_prior_samples
        elif name == "mips-gumbel":
            params.update(n_top=args.n_top, n_samples=max(1, n_classes // 100))
        clf, seconds, valid = train(name, data, classes, args, **params)
        if name == "lsh":
            lsh = clf
        if name == "exact" and not args.quick:
            path = Path(args.model_out)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                pickle.dump(clf, f)
            print(f"exact model saved to {path}", flush=True)
        results[name] = {
            "valid": valid,
            "test": perplexity(clf, *data["test"]),
            "epoch_s": float(np.mean(seconds)),
            "scored": clf.mean_classes_scored_,
            "ips": clf.inner_products_per_example_,
            "fraction": clf.inner_products_per_example_ / n_classes,
            "rebuilds": clf.n_rebuilds_,
            "empty": clf.n_empty_samples_,
            "params": params,
        }
        print(f"{name}: {results[name]}", flush=True)
    results = {n: results[n] for n in ESTIMATORS if n in results}

    if not args.no_write and not args.quick:
        saved = {"command": command_line(), "results": results}
        RESULTS.write_text(json.dumps(saved, indent=1, default=lambda o: o.item()) + "\n")  # numpy scalars
        plot(results, FIGURE)
    rows = [
        [name, " / ".join(f"{v:.1f}" for v in r["valid"]), f"{r['test']:.1f}", f"{r['epoch_s']:.1f}",
         f"{r['scored']:.0f}", f"{r['ips']:.0f}", f"{100 * r['fraction']:.2f}%", str(r["rebuilds"]), str(r["empty"]),
         ", ".join(f"{k}={v}" for k, v in r["params"].items()) or "-"]
        for name, r in results.items()
    ]  # fmt: skip
    X_train = data["train"][0]
    lines = [
        *report_head("## Training with each estimator on Penn Treebank (issue 7)"),
        f"Data: PTB, {X_train.shape[0]:,} training positions, {data['valid'][0].shape[0]:,} validation, "
        f"{data['test'][0].shape[0]:,} test; features as in the issue-3 PTB section (192 float32 columns). "
        f"`LSHSoftmaxClassifier(estimator, eta0={args.eta0}, alpha={args.alpha}, batch_size={args.batch_size}, "
        f"n_bits={args.n_bits}, n_tables={args.n_tables}, table_design={args.table_design!r}, "
        f"probe_radius={args.probe_radius}, rebuild_interval={args.rebuild_interval}, "
        f"random_state={args.seed}, n_jobs={args.n_jobs})`, {args.epochs} epochs each, row-wise AdaGrad. "
        "Perplexity uses the exact softmax.",
        "",
        "Work = d-dimensional inner products per training example, everything counted "
        "(`inner_products_per_example_`): the step's scores, hashing the query (n_bits x n_tables "
        "projections), the scores of the retrieved classes against the hashed vectors (for P_j), and every "
        "table build (C x (n_bits x n_tables + 1)), divided by C for the fraction of the exact step's scores. "
        "\"uniform\" gets as many negatives as \"lsh\" spends inner products (equal total work); \"lsh-draw\" as "
        "many draws as \"lsh\" scores classes. \"prior\" draws classes from the class prior (the smoothed training "
        "frequencies, i.e. the unigram distribution) and weights each distinct class by 1 / (1 - (1 - q_j)^n); "
        "\"lsh+prior\" adds those draws to the LSH union (inclusion probability 1 - (1 - P_j)(1 - q_j)^n, the P_j "
        "of a drawn class scored like the union's). Settings that differ from the common ones are in the last "
        "column.",
        "",
        markdown_table(
            ["estimator", "valid ppl per epoch", "test ppl", "s/epoch", "classes scored/example",
             "inner products/example", "fraction of exact work", "table builds", "empty samples", "settings"],
            rows,
        ),  # fmt: skip
        "",
        "![validation perplexity per epoch](img/paper_training.png)",
    ]
    if "exact" in results:
        exact = results["exact"]["test"]
        lines += ["", markdown_table(
            ["estimator", "test ppl / exact", "fraction of exact work"],
            [[n, f"{r['test'] / exact:.3f}", f"{100 * r['fraction']:.2f}%"] for n, r in results.items()],
        )]  # fmt: skip
    publish("paper_training", "\n".join(lines), not args.no_write and not args.quick)


if __name__ == "__main__":
    main()
