"""Long-tail logit adjustment on Zipf-distributed classes (issue 9, item 1).

Data: ``make_extreme_classification`` (dense, Zipf class frequencies), so a
few head classes hold most rows and the rarest third of the classes have a
handful of training examples each. For "exact" and "lsh" training, the
classifier is fit without adjustment, with the loss form and with the
post-hoc form of the logit adjustment (``logit_adjustment=tau``, priors from
the training labels). Reported on held-out rows drawn from the same
distribution: top-1 accuracy, balanced accuracy (mean per-class recall over
the classes of the test rows), P@5, and accuracy on the rows whose class is
in the rarest third / the most frequent third of the training classes (by
training count). The bar: adjustment raises the rare-third accuracy without
lowering balanced accuracy.

Run ``python benchmarks/logit_adjustment.py`` (writes the
``logit_adjustment`` section of docs/benchmarks.md); ``--quick`` for a smoke
run, ``--no-write`` to leave the docs alone.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import add_run_arguments, markdown_table, publish, report_head  # noqa: E402

from sklearn_lsh import LSHSoftmaxClassifier  # noqa: E402
from sklearn_lsh.datasets import make_extreme_classification  # noqa: E402
from sklearn_lsh.metrics import precision_at_k  # noqa: E402


def evaluate(clf, X_test, y_test):
    labels, _ = clf.predict_topk(X_test, k=5)
    pred = labels[:, 0]
    counts = clf.class_count_
    order = np.argsort(counts, kind="stable")
    third = order.shape[0] // 3
    rare, head = clf.classes_[order[:third]], clf.classes_[order[-third:]]
    in_rare, in_head = np.isin(y_test, rare), np.isin(y_test, head)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # predicted classes absent from y_test
        balanced = balanced_accuracy_score(y_test, pred)
    return {
        "top1": float(np.mean(pred == y_test)),
        "balanced": float(balanced),
        "p5": precision_at_k(y_test, labels, 5),
        "rare": float(np.mean(pred[in_rare] == y_test[in_rare])),
        "head": float(np.mean(pred[in_head] == y_test[in_head])),
        "n_rare": int(in_rare.sum()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-classes", type=int, default=2000)
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--n-test", type=int, default=20_000)
    parser.add_argument("--noise", type=float, default=1.5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--taus", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--seed", type=int, default=0)
    add_run_arguments(parser)
    args = parser.parse_args()
    if args.quick:
        args.n_classes, args.n_train, args.n_test, args.epochs, args.taus = 200, 5000, 2000, 2, [1.0]
    X, y = make_extreme_classification(
        args.n_train + args.n_test, 64, args.n_classes, noise=args.noise, random_state=args.seed
    )
    X_train, y_train, X_test, y_test = X[: args.n_train], y[: args.n_train], X[args.n_train :], y[args.n_train :]
    # numba compilation outside the timings
    LSHSoftmaxClassifier(max_iter=1, tol=None, random_state=0).fit(X_train[:500], y_train[:500])

    rows, results = [], {}
    settings = [("none", 0.0, "loss")]
    for tau in args.taus:
        settings += [(f"loss, tau={tau:g}", tau, "loss"), (f"post-hoc, tau={tau:g}", tau, "post-hoc")]
    for estimator in ("exact", "lsh"):
        for name, tau, form in settings:
            clf = LSHSoftmaxClassifier(
                estimator, logit_adjustment=tau, logit_adjustment_form=form, max_iter=args.epochs, tol=None,
                random_state=args.seed,
            )  # fmt: skip
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            m = evaluate(clf, X_test, y_test)
            results[(estimator, name)] = m
            print(f"{estimator:5s} {name:18s} {seconds:6.1f} s  {m}", flush=True)
            rows.append([estimator, name, f"{m['top1']:.4f}", f"{m['balanced']:.4f}", f"{m['rare']:.4f}",
                         f"{m['head']:.4f}", f"{m['p5']:.4f}", f"{seconds:.1f}"])  # fmt: skip
    n_seen = np.unique(y_train).shape[0]
    n_rare = results[("exact", "none")]["n_rare"]
    body = [
        *report_head("## Long-tail logit adjustment (issue 9)"),
        f"Data: `make_extreme_classification(n_samples={args.n_train + args.n_test}, n_features=64, "
        f"n_classes={args.n_classes}, noise={args.noise}, random_state={args.seed})` (dense, Zipf class "
        f"frequencies), first {args.n_train:,} rows for training ({n_seen} classes present), the other "
        f"{args.n_test:,} for testing. `LSHSoftmaxClassifier(estimator, logit_adjustment=tau, "
        f"logit_adjustment_form=form, max_iter={args.epochs}, tol=None, random_state={args.seed})`, other "
        "parameters at their defaults; priors from the training labels (add-one smoothed). Balanced accuracy "
        "is the mean recall over the classes of the test rows; \"rare third\" / \"head third\" is the "
        "accuracy on the test rows whose class is among the third of the training classes with the fewest / "
        f"most training examples ({n_rare} test rows in the rare third, so a binomial standard error of about "
        f"{np.sqrt(0.25 / max(n_rare, 1)):.3f} at most). Seconds are fit wall time.",
        "",
        markdown_table(
            ("training", "adjustment", "top-1", "balanced accuracy", "rare third", "head third", "P@5", "fit s"),
            rows,
        ),
    ]
    print()
    publish("logit_adjustment", "\n".join(body), not args.no_write and not args.quick)


if __name__ == "__main__":
    main()
