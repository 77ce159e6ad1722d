"""Two-component (LightRNN) softmax, ``TwoComponentSoftmaxClassifier``
(issue 9, item 2): the measurements of docs/two_component.md.

1. ``gap``: greedy against exact re-placement on the same cost matrices.
   Models trained ``--gap-epochs`` epochs without re-placement on
   ``make_extreme_classification(20 C, 64, C)`` (dense, clustered
   prototypes); from their separable costs, the cells chosen by "exact"
   (Hungarian), plain greedy and greedy + polish (the estimator's "greedy").
   Reported: the separable cost per example, the relative gap to exact, the
   share of exact's improvement over the current placement that each gets,
   the exact training loss after each placement (same weights), seconds.
2. ``loss``: fits with ``reassign=None``, "greedy" and "exact", same seeds
   and epochs, ``--seeds`` seeds; exact training log-loss, test log-loss and
   top-1, on clustered dense data (C = 400) and on sparse keyword data
   without shared structure (C = 400).
3. ``scale``: seconds of one epoch and of one greedy re-placement at
   C = 10^4 and 10^5.
4. ``compare``: side by side with ``LSHSoftmaxClassifier`` ("exact" and the
   default "lsh") on the data of docs/parameters.md (C = 10^4, 100,000
   training rows, 3 epochs of ``partial_fit``; the two-component model
   re-places after each epoch with ``update_placement``).

Run ``python benchmarks/two_component.py`` (``--quick`` for a smoke run,
``--parts gap,loss`` for some parts, ``--no-write`` to leave the docs page
alone, ``--json PATH`` for the raw numbers).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    add_run_arguments, command_line, machine_description, markdown_table, mean_log_loss, timed_epochs, wall_seconds,
    warm_up, write_section,
)

from sklearn_lsh import LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier  # noqa: E402
from sklearn_lsh._placement import assign_exact, assign_greedy, assignment_cost, polish  # noqa: E402
from sklearn_lsh.datasets import make_extreme_classification  # noqa: E402
from sklearn_lsh.metrics import precision_at_k  # noqa: E402

PAGE = Path(__file__).resolve().parent.parent / "docs" / "two_component.md"
MACHINE_NOTE = "2-core Xeon shared with other jobs during the run, so the seconds are indicative only"


def gap(n_classes, epochs, seed=0):
    n = 20 * n_classes
    X, y = make_extreme_classification(n, 64, n_classes, random_state=seed)
    clf = TwoComponentSoftmaxClassifier(None, max_iter=epochs, tol=None, random_state=seed).fit(X, y)
    y_index, w = np.searchsorted(clf.classes_, y), np.ones(n)
    loss, A, B = clf._pass(X, y_index, w, clf.placement_, True)
    weight = np.bincount(y_index, minlength=clf.classes_.shape[0])
    movable = np.flatnonzero(weight > 0)
    n_rows, n_cols = clf.grid_shape_
    free = np.concatenate([clf.placement_[movable], np.setdiff1d(np.arange(n_rows * n_cols), clf.placement_)])
    Am, Bm, order = A[movable], B[movable], np.argsort(-weight[movable], kind="stable")
    current = assignment_cost(Am, Bm, clf.placement_[movable], n_cols)
    out = {"C": n_classes, "epochs": epochs, "n": n, "current": current / n, "loss_current": loss / n}
    timed = {}
    start = time.perf_counter()
    timed["exact"] = assign_exact(Am, Bm, free)
    out["exact_s"] = time.perf_counter() - start
    start = time.perf_counter()
    timed["greedy"] = assign_greedy(Am, Bm, free, order)
    out["greedy_s"] = time.perf_counter() - start
    start = time.perf_counter()
    timed["greedy+polish"] = polish(Am, Bm, timed["greedy"], free, n_cols)
    out["greedy+polish_s"] = out["greedy_s"] + time.perf_counter() - start
    for name, cells in timed.items():
        placement = clf.placement_.copy()
        placement[movable] = cells
        out[name] = assignment_cost(Am, Bm, cells, n_cols) / n
        out[f"loss_{name}"] = clf._pass(X, y_index, w, placement, False)[0] / n
    return out


def gap_table(results):
    rows = []
    for r in results:
        for name in ("exact", "greedy", "greedy+polish"):
            rows.append([
                r["C"], r["epochs"], name, f"{r['current']:.4f}", f"{r[name]:.4f}",
                f"{100 * (r[name] - r['exact']) / r['exact']:.2f}%",
                f"{100 * (r['current'] - r[name]) / (r['current'] - r['exact']):.1f}%",
                f"{r['loss_' + name]:.4f}", f"{r[name + '_s']:.3f}",
            ])  # fmt: skip
    header = ["C", "epochs before", "assignment", "cost now", "cost after", "gap to exact", "of exact's gain",
              "exact loss after", "seconds"]  # fmt: skip
    return markdown_table(header, rows)


def split(X, y, n_train):
    X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    seen = np.isin(y_test, y_train)
    return X_train, y_train, X_test[seen], y_test[seen]


def loss_runs(kind, seeds, epochs):
    if kind == "dense":
        X, y = make_extreme_classification(12000, 64, 400, random_state=0)
    else:
        X, y = make_extreme_classification(12000, 2000, 400, sparse=True, n_nonzero=10, random_state=0)
    X, y, X_test, y_test = split(X, y, 8000)
    results = {}
    for reassign in (None, "greedy", "exact"):
        runs = []
        for seed in range(seeds):
            start = time.perf_counter()
            clf = TwoComponentSoftmaxClassifier(reassign, max_iter=epochs, tol=None, random_state=seed).fit(X, y)
            runs.append({
                "fit_s": time.perf_counter() - start, "loss_curve": clf.loss_curve_[-1],
                "train": log_loss(y, clf.predict_proba(X), labels=clf.classes_),
                "test": log_loss(y_test, clf.predict_proba(X_test), labels=clf.classes_),
                "top1": clf.score(X_test, y_test), "n_moved": list(clf.n_moved_),
                "history": clf.reassign_history_,
            })  # fmt: skip
        results[str(reassign)] = runs
    return {"kind": kind, "epochs": epochs, "n_test": int(X_test.shape[0]), "runs": results}


def loss_table(result):
    rows = []
    for name, runs in result["runs"].items():
        cells = [name]
        for key, fmt in (("loss_curve", ".4f"), ("train", ".4f"), ("test", ".4f"), ("top1", ".4f"), ("fit_s", ".2f")):
            values = np.array([r[key] for r in runs])
            spread = f" ± {values.std(ddof=1):{fmt}}" if len(runs) > 1 else ""
            cells.append(f"{values.mean():{fmt}}{spread}")
        cells.append(", ".join(str(m) for m in runs[0]["n_moved"]) or "-")
        rows.append(cells)
    header = ["reassign", "loss_curve_[-1]", "train log-loss", "test log-loss", "test top-1", "fit s",
              "classes moved per epoch (seed 0)"]  # fmt: skip
    return markdown_table(header, rows)


def scale(n_classes, n_samples):
    X, y = make_extreme_classification(n_samples, 64, n_classes, random_state=0)
    clf = TwoComponentSoftmaxClassifier(None, random_state=0)
    epoch_s = timed_epochs(clf, X, y, 1, classes=np.arange(n_classes))[0].wall
    start = time.perf_counter()
    clf.update_placement(X, y)
    h = clf.reassign_history_[-1]
    return {"C": n_classes, "n": n_samples, "grid": list(clf.grid_shape_), "epoch_s": epoch_s,
            "reassign_s": time.perf_counter() - start, "n_moved": h["n_moved"], "loss_before": h["loss_before"],
            "loss_after": h["loss_after"]}  # fmt: skip


def scale_table(results):
    rows = [[f"{r['C']:,}", f"{r['n']:,}", f"{r['grid'][0]} x {r['grid'][1]}", f"{r['epoch_s']:.1f}",
             f"{r['reassign_s']:.1f}", f"{r['n_moved']:,}", f"{r['loss_before']:.3f}", f"{r['loss_after']:.3f}"]
            for r in results]  # fmt: skip
    return markdown_table(["C", "rows", "grid", "epoch s", "greedy re-placement s", "classes moved",
                           "loss before", "loss after"], rows)  # fmt: skip


def compare(args):
    C, n_train = args.compare_classes, args.compare_train
    X, y = make_extreme_classification(n_train + 10_000, 64, C, random_state=0)
    X, y, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    classes = np.arange(C)
    warm_up(LSHSoftmaxClassifier(random_state=0), X, y, classes)  # numba compilation (or cache loading) is not timed
    settings = [
        ("TwoComponent, reassign=greedy", lambda: TwoComponentSoftmaxClassifier(random_state=0), True),
        ("TwoComponent, reassign=None", lambda: TwoComponentSoftmaxClassifier(None, random_state=0), False),
        ('LSHSoftmax "lsh" (defaults)', lambda: LSHSoftmaxClassifier("lsh", random_state=0), False),
        ('LSHSoftmax "exact"', lambda: LSHSoftmaxClassifier("exact", random_state=0), False),
    ]
    rows = []
    for label, make, replace in settings:
        clf = make()
        each_epoch = (lambda m: m.update_placement(X, y)) if replace else None
        train_s = wall_seconds(timed_epochs(clf, X, y, args.compare_epochs, classes=classes, each_epoch=each_epoch))
        start = time.perf_counter()
        top, _ = clf.predict_topk(X_test, k=5)
        predict_s = time.perf_counter() - start
        if isinstance(clf, TwoComponentSoftmaxClassifier):
            n_params = clf.row_coef_.size + clf.col_coef_.size + clf.row_intercept_.size + clf.class_intercept_.size
        else:
            n_params = clf.coef_.size + clf.intercept_.size
        rows.append({"setting": label, "scored": clf.mean_classes_scored_, "ips": clf.inner_products_per_example_,
                     "train_s": train_s, "predict_s": predict_s, "top1": float(np.mean(top[:, 0] == y_test)),
                     "p5": precision_at_k(y_test, top, k=5), "test_log_loss": mean_log_loss(clf, X_test, y_test),
                     "train_loss": float(clf.loss_curve_[-1]), "params": int(n_params)})  # fmt: skip
        print(rows[-1], flush=True)
    return {"C": C, "n_train": n_train, "epochs": args.compare_epochs, "rows": rows}


def compare_table(result):
    C = result["C"]
    rows = [[r["setting"], f"{r['scored']:.0f}", f"{100 * r['scored'] / C:.2f}%", f"{r['ips']:.0f}",
             f"{100 * r['ips'] / C:.2f}%", f"{r['params']:,}", f"{r['train_s']:.1f}", f"{r['predict_s']:.1f}",
             f"{r['top1']:.4f}", f"{r['p5']:.4f}", f"{r['test_log_loss']:.3f}", f"{r['train_loss']:.3f}"]
            for r in result["rows"]]  # fmt: skip
    header = ["setting", "scores / example", "of C", "inner products / example", "of C", "parameters", "train s",
              "predict s", "top-1", "P@5", "test log-loss", "train loss (last epoch)"]  # fmt: skip
    return markdown_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="gap,loss,scale,compare")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--gap-classes", default="100,400,1000")
    parser.add_argument("--gap-epochs", default="1,4")
    parser.add_argument("--loss-epochs", type=int, default=8)
    parser.add_argument("--scale-classes", default="10000,100000")
    parser.add_argument("--compare-classes", type=int, default=10_000)
    parser.add_argument("--compare-train", type=int, default=100_000)
    parser.add_argument("--compare-epochs", type=int, default=3)
    add_run_arguments(parser, quick_help="small sizes (a smoke run)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.gap_classes, args.loss_epochs, args.scale_classes = 2, "100", 3, "1000"
        args.compare_classes, args.compare_train, args.compare_epochs = 500, 5000, 1
    warnings.simplefilter("ignore")
    parts = args.parts.split(",")
    header = f"Command: `{command_line()}`  \nMachine: {machine_description()}; {MACHINE_NOTE}.\n\n"
    out = {}
    started = time.perf_counter()
    if "gap" in parts:
        out["gap"] = [gap(int(c), int(e)) for c in args.gap_classes.split(",") for e in args.gap_epochs.split(",")]
        print(gap_table(out["gap"]), flush=True)
    if "loss" in parts:
        out["loss"] = [loss_runs(kind, args.seeds, args.loss_epochs) for kind in ("dense", "sparse")]
        for result in out["loss"]:
            print(result["kind"], "\n" + loss_table(result), flush=True)
    if "scale" in parts:
        out["scale"] = [scale(int(c), 5 * int(c)) for c in args.scale_classes.split(",")]
        print(scale_table(out["scale"]), flush=True)
    if "compare" in parts:
        out["compare"] = compare(args)
        print(compare_table(out["compare"]), flush=True)
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float))
    if not args.no_write:
        if "gap" in out:
            write_section("two_component_gap", header + gap_table(out["gap"]), PAGE)
        if "loss" in out:
            body = header + "\n\n".join(f"**{r['kind']}** ({r['n_test']} test rows)\n\n" + loss_table(r)
                                        for r in out["loss"])  # fmt: skip
            write_section("two_component_loss", body, PAGE)
        if "scale" in out:
            write_section("two_component_scale", header + scale_table(out["scale"]), PAGE)
        if "compare" in out:
            write_section("two_component_compare", header + compare_table(out["compare"]), PAGE)


if __name__ == "__main__":
    main()
