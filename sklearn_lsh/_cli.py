"""Command line of sklearn-lsh (``sklearn-lsh`` or ``python -m sklearn_lsh``).

Commands: ``demo`` (the default), ``train``, ``predict``, ``evaluate`` and
``partition``. Data files are read by
:func:`sklearn_lsh.datasets.load_data_file`; models are saved by
:func:`sklearn_lsh.save_model` (a format that runs no code on load),
atomically, and never over an existing file unless ``--force`` is given;
pickles are read only with ``--allow-unsafe-pickle``. User errors print one
line and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils._param_validation import StrOptions

from . import __version__
from ._classifier import LSHSoftmaxClassifier
from ._partition import METHOD_OPTIONS, EmptySampleWarning, estimate_log_partition
from ._persistence import (MODEL_SUFFIX, PICKLE_SUFFIXES, atomic_write, check_output_path, read_model_file,
                           save_model)  # fmt: skip
from .datasets import load_data_file, make_partition_problem
from .datasets._files import DATA_FILE_FORMATS, DATA_FILE_SUFFIXES

PROG = "sklearn-lsh"


class CommandError(Exception):
    """A user error (missing or malformed file, bad option) reported without a traceback."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP during a command: unwinds like KeyboardInterrupt, so
    that temporary files are removed on the way out."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# ---------------------------------------------------------------- files
# Advice on errors of load_data_file, keyed by what its readers say.
_HINTS = {
    "Invalid index 0 in SVMlight/LibSVM": " Its feature indices start at 0: pass --zero-based.",
    "do not have exactly one label": " The command line trains multiclass models, one label per row.",
}


@contextlib.contextmanager
def _user_errors():
    """ValueError and OSError (their messages are one line) as ``CommandError``, with
    advice from ``_HINTS``; UserWarnings as notes on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        except (OSError, ValueError) as exc:
            hint = next((text for phrase, text in _HINTS.items() if phrase in str(exc)), "")
            raise CommandError(f"{exc}{hint}") from exc
    for warning in caught:
        print(f"note: {warning.message}", file=sys.stderr)


def _read_data(args, n_features=None):
    if os.path.isdir(args.data):
        raise CommandError(f"{args.data!r} is a directory, not a data file.")
    with _user_errors():
        return load_data_file(args.data, args.format, n_features=n_features, zero_based=args.zero_based)


def _check_output(path: Path, force: bool) -> None:
    """The output path is usable (see ``check_output_path``), before any work."""
    with _user_errors():
        for name in check_output_path(path, force):
            print(f"note: removed {name!r}, left in {str(path.parent)!r} by an interrupted run.", file=sys.stderr)


def _atomic_write(path: Path, force: bool, write) -> None:
    _check_output(path, force)  # again: the folder may have changed during training
    with _user_errors():
        atomic_write(path, write)


def _load_model(path, allow_pickle=False):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    with _user_errors():
        model = read_model_file(path, allow_pickle=allow_pickle)
    if not isinstance(model, LSHSoftmaxClassifier):
        raise CommandError(f"{str(path)!r} holds a {type(model).__name__}, not an LSHSoftmaxClassifier.")
    try:
        check_is_fitted(model)
    except NotFittedError:
        message = f"{str(path)!r} holds an LSHSoftmaxClassifier that was never fitted: train it first."
        raise CommandError(message) from None
    return model


def _check_k(ks, model):
    n_classes = model.classes_.shape[0]
    if max(ks) > n_classes:
        raise CommandError(f"-k {max(ks)} is more than the model's {n_classes} classes; use -k {n_classes} at most.")


# --------------------------------------------------------------- training loop
def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    # disable=None: bars only on a terminal, so logs and pipes stay clean.
    return tqdm(total=total, desc=desc, unit="rows", unit_scale=True, leave=False, disable=None if enabled else True)


def _train(clf, X, y, epochs, seed, desc, progress=True, block_rows=8192):
    """``epochs`` passes of ``partial_fit`` over row blocks in a fresh random
    order each epoch, with a progress bar; returns the training seconds."""
    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    seconds = 0.0
    with _progress(epochs * X.shape[0], desc, progress) as bar:
        for epoch in range(epochs):
            order = rng.permutation(X.shape[0])
            for start in range(0, X.shape[0], block_rows):
                rows = order[start : start + block_rows]
                Xb, yb = X[rows], y[rows]
                begin = time.perf_counter()
                clf.partial_fit(Xb, yb, classes=classes)
                seconds += time.perf_counter() - begin
                bar.update(rows.shape[0])
                bar.set_postfix(epoch=f"{epoch + 1}/{epochs}")
    return seconds


def _table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, tuple("-" * w for w in widths)] + rows]  # fmt: skip
    return "\n".join(lines)


# ----------------------------------------------------------------------- demo
def _demo(args) -> int:
    from .datasets import make_extreme_classification
    from .metrics import precision_at_k

    n_test = max(1, args.n_samples // 10)
    print(
        f"Extreme multiclass demo: make_extreme_classification(n_samples={args.n_samples + n_test}, "
        f"n_features={args.n_features}, n_classes={args.n_classes}, random_state={args.seed}); "
        f"{args.n_samples} rows to train, {n_test} to test; {args.epochs} epochs each.",
        flush=True,
    )
    X, y = make_extreme_classification(
        args.n_samples + n_test, args.n_features, args.n_classes, random_state=args.seed
    )
    X_train, y_train, X_test, y_test = X[:args.n_samples], y[:args.n_samples], X[args.n_samples:], y[args.n_samples:]
    # Compile (or load from numba's cache) the kernels on a tiny problem so the
    # timings below measure training, not compilation.
    Xw, yw = make_extreme_classification(300, args.n_features, 40, random_state=0)
    for name in ("exact", "lsh"):
        LSHSoftmaxClassifier(name, n_bits=4, n_tables=2, max_iter=1, tol=None, random_state=0).fit(Xw, yw)
    rows = []
    for name in ("exact", "lsh"):
        clf = LSHSoftmaxClassifier(name, n_bits=args.n_bits, n_tables=args.n_tables, random_state=args.seed)
        seconds = _train(clf, X_train, y_train, args.epochs, args.seed, f"train {name}", not args.no_progress)
        begin = time.perf_counter()
        labels, _ = clf.predict_topk(X_test, k=5)
        predict_ms = 1e3 * (time.perf_counter() - begin) / X_test.shape[0]
        scored = clf.mean_classes_scored_
        rows.append(
            [name, f"{seconds:.1f}", f"{scored:.0f} ({100 * scored / clf.classes_.shape[0]:.1f}%)",
             f"{np.mean(labels[:, 0] == y_test):.3f}", f"{precision_at_k(y_test, labels, 5):.3f}",
             f"{predict_ms:.3f}", f"n_bits={clf.n_bits_}, n_tables={clf.n_tables}" if name == "lsh" else "-"]
        )  # fmt: skip
    print()
    print(_table(rows, ("estimator", "train s", "classes scored/example", "top-1", "P@5", "predict ms/row", "tables")))
    t_exact, t_lsh = float(rows[0][1]), float(rows[1][1])
    print(
        f"\n'lsh' trained {t_exact / max(t_lsh, 1e-9):.1f}x faster than 'exact' here, scoring "
        f"{rows[1][2].split()[1].strip('()')} of the {clf.classes_.shape[0]} classes of the training rows per "
        f"example (of {args.n_classes} generated; Zipf frequencies leave the rarest unseen); top-1 "
        f"{100 * (float(rows[1][3]) - float(rows[0][3])):+.1f} points. Prediction is exact for both "
        "(predict_topk(retrieval='lsh') is the sublinear option). The gap grows with the number of classes: "
        "see docs/benchmarks.md (C = 10^5: 17x per epoch, top-1 0.9 points lower)."
    )
    return 0


# ---------------------------------------------------------------------- train
def _train_command(args) -> int:
    output = Path(args.output)
    if output.suffix.lower() in PICKLE_SUFFIXES:
        raise CommandError(
            f"{args.output!r}: models are saved in sklearn-lsh's model format, not as a pickle; name the file e.g. "
            f"{output.with_suffix(MODEL_SUFFIX).name!r} (sklearn_lsh.load_model reads it in Python)."
        )
    _check_output(output, args.force)  # fail before reading and training, not after
    X, y = _read_data(args)
    if np.unique(y).shape[0] < 2:
        raise CommandError(f"{args.data!r} holds a single class; a classifier needs at least 2.")
    params = {
        "n_bits": args.n_bits, "n_tables": args.n_tables, "eta0": args.eta0, "alpha": args.alpha,
        "batch_size": args.batch_size, "n_components": args.n_components, "random_state": args.seed,
        "n_jobs": args.n_jobs, "logit_adjustment": args.logit_adjustment,
        "logit_adjustment_form": args.logit_adjustment_form, "n_samples": args.n_samples,
        "n_prior_samples": args.n_prior_samples,
    }  # fmt: skip
    try:
        clf = LSHSoftmaxClassifier(args.estimator, **params)
        seconds = _train(clf, X, y, args.epochs, args.seed, "train", not args.no_progress)
    except (ValueError, TypeError, MemoryError) as exc:
        raise CommandError(f"Training failed: {exc}") from exc
    _atomic_write(output, args.force, lambda f: save_model(clf, f))
    print(
        f"Trained {args.estimator!r} on {X.shape[0]} rows x {X.shape[1]} features, {clf.classes_.shape[0]} classes, "
        f"{args.epochs} epochs in {seconds:.1f} s ({clf.mean_classes_scored_:.0f} classes scored per example); "
        f"saved to {str(output)!r}."
    )
    return 0


# -------------------------------------------------------------------- predict
def _predict_command(args) -> int:
    to_file = args.output not in (None, "-")
    if to_file:
        _check_output(Path(args.output), args.force)
    model = _load_model(args.model, args.allow_unsafe_pickle)
    _check_k([args.k], model)
    X, _ = _read_data(args, model.n_features_in_)
    k = args.k
    try:
        labels, proba = model.predict_topk(X, k=k, retrieval=args.retrieval)
    except ValueError as exc:
        raise CommandError(f"Prediction failed: {exc}") from exc
    header = "\t".join(["row", *(f"label_{i + 1}" for i in range(k)), *(f"proba_{i + 1}" for i in range(k))])

    def write(stream):
        stream.write(header + "\n")
        for i in range(labels.shape[0]):
            fields = [str(i), *(str(v) for v in labels[i].tolist()), *(f"{p:.6g}" for p in proba[i])]
            stream.write("\t".join(fields) + "\n")

    if to_file:
        def write_text(f):
            text = io.TextIOWrapper(f, encoding="utf-8", newline="\n")
            write(text)
            text.flush()
            text.detach()  # the caller closes f

        _atomic_write(Path(args.output), args.force, write_text)
        return 0
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise CommandError(f"Cannot write to standard output: {exc.strerror or exc}.") from exc
    return 0


# ------------------------------------------------------------------- evaluate
def _evaluate_command(args) -> int:
    from .metrics import ndcg_at_k, perplexity, precision_at_k

    model = _load_model(args.model, args.allow_unsafe_pickle)
    ks = sorted(set(args.k))
    _check_k(ks, model)
    X, y = _read_data(args, model.n_features_in_)
    k_max = ks[-1]
    labels, _ = model.predict_topk(X, k=k_max, retrieval=args.retrieval)
    known = np.isin(y, model.classes_)
    results = {"n_samples": int(X.shape[0]), "accuracy": float(np.mean(labels[:, 0] == y))}
    for k in ks:
        results[f"P@{k}"] = precision_at_k(y, labels, k)
        results[f"nDCG@{k}"] = ndcg_at_k(y, labels, k)
    results["perplexity"] = perplexity(model, X[known], y[known]) if known.any() else float("nan")
    results["n_unseen_labels"] = int((~known).sum())
    if args.json:
        print(json.dumps(results))
        return 0
    print(_table([[name, f"{value:.4f}" if isinstance(value, float) else str(value)] for name, value in results.items()],
                 ("metric", "value")))  # fmt: skip
    if results["n_unseen_labels"]:
        print(f"\nperplexity is over the {int(known.sum())} rows whose label the model was trained on; the other "
              f"{results['n_unseen_labels']} count as misses in the ranking metrics.")  # fmt: skip
    return 0


# ------------------------------------------------------------------ partition
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
    print()
    print(_table(rows, ("method", "MAE log Z", "inner products/query", "entries scanned/query", "ms/query", "settings")))
    print(
        "\nInner products count hashing the query (n_bits x n_tables projections, or n_groups x n_bits / 2 "
        "for pair tables) and scoring the sampled classes. Entries scanned are integer work, not inner "
        "products: bucket members read, or, for table_design=scan, class codes compared (C per code). "
        "ms/query includes building the tables once per call, amortised over the queries. See "
        "docs/benchmarks.md for budgets of 1%, 2% and 5% of C."
    )
    return 0


# --------------------------------------------------------------------- parser
def _int_at_least(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _positive_int(text):
    return _int_at_least(text, 1)


def _nonnegative_int(text):
    return _int_at_least(text, 0)


def _number(text, minimum, strict, what):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        raise argparse.ArgumentTypeError(f"must be a {what} number, got {text!r}")
    return value


def _positive_float(text):
    return _number(text, 0.0, True, "positive")


def _nonnegative_float(text):
    return _number(text, 0.0, False, "non-negative")


def _add_data_options(p, what):
    # Each reader's docstring summary describes its format.
    formats = "; ".join(f"{name}: {inspect.getdoc(read).splitlines()[0].rstrip('.')}"
                        for name, read in DATA_FILE_FORMATS.items())  # fmt: skip
    by_suffix = "; ".join(f"{name} for {suffix} files" for suffix, name in DATA_FILE_SUFFIXES.items())
    p.add_argument("data", help=f"{what} file ({', '.join(DATA_FILE_FORMATS)}: see --format)")
    p.add_argument("--format", choices=("auto", *DATA_FILE_FORMATS), default="auto",
                   help=f"data file format: {formats} (default: auto: {by_suffix}; else xc when the first line "
                   "is the repository's header; else svmlight)")  # fmt: skip
    p.add_argument("--zero-based", action="store_true",
                   help="svmlight feature indices start at 0 (default: 1, as in libsvm); must match training")


def _add_pickle_option(p):
    p.add_argument("--allow-unsafe-pickle", action="store_true",
                   help="also read a pickle or joblib model file. UNSAFE: loading a pickle runs any code it contains; "
                   "use only for files you trust")  # fmt: skip


def _str_options(param):
    """The string values of an ``LSHSoftmaxClassifier`` parameter, read from its
    constraints: the default first, then the others in sorted order."""
    default = inspect.signature(LSHSoftmaxClassifier).parameters[param].default
    constraints = LSHSoftmaxClassifier._parameter_constraints[param]
    options = set().union(*(c.options - c.deprecated for c in constraints if isinstance(c, StrOptions)))
    return [default, *sorted(options - {default})]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="sklearn-lsh: extreme multiclass classification with LSH-sampled softmax partition "
        "functions (Spring & Shrivastava, 2017). Without a command, runs 'demo'.",
        epilog="Model files are in sklearn-lsh's model format (sklearn_lsh.save_model), which runs no code when "
        "read; pickle and joblib files are read only with --allow-unsafe-pickle.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}",
                        help="print the version of sklearn-lsh and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="train 'exact' and 'lsh' on a generated extreme multiclass problem and compare them (the default)",
        description="Generate an extreme multiclass problem (make_extreme_classification: Zipf class "
        "frequencies, dense features), train LSHSoftmaxClassifier with estimator='exact' (full softmax) and "
        "'lsh' (the LSH-estimated partition function) for the same epochs, and print time, classes scored per "
        "example, top-1 accuracy, P@5 and prediction time. About a minute on 2 cores with the defaults.",
    )
    demo.add_argument("--n-classes", type=_positive_int, default=20_000, help="number of classes C (default: 20000)")
    demo.add_argument("--n-samples", type=_positive_int, default=60_000,
                      help="training rows; a tenth as many more are generated for testing (default: 60000)")
    demo.add_argument("--n-features", type=_positive_int, default=64, help="dense features (default: 64)")
    demo.add_argument("--epochs", type=_positive_int, default=2, help="passes over the training rows (default: 2)")
    demo.add_argument("--n-bits", type=_positive_int, default=None,
                      help="bits per hash table for 'lsh' (default: ceil(log2 C) - 4)")
    demo.add_argument("--n-tables", type=_positive_int, default=16, help="hash tables for 'lsh' (default: 16)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of data and models (default: 0)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars (they show only on a terminal)")
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train",
        help="train a model on a data file and save it",
        description="Train LSHSoftmaxClassifier on a data file by SGD (partial_fit over row blocks in a fresh "
        "random order each epoch) and save it in sklearn-lsh's model format (sklearn_lsh.save_model; the hash "
        "tables are rebuilt from their seed on load). The output path is checked before the data is read; the "
        "file is written atomically, and an existing file is kept unless --force.",
    )
    _add_data_options(train, "training")
    train.add_argument("-o", "--output", required=True, help=f"model file to write (e.g. model{MODEL_SUFFIX})")
    estimators = _str_options("estimator")
    train.add_argument("--estimator", choices=estimators, default=estimators[0],
                       help=f"partition-function estimator of the training steps (default: {estimators[0]})")
    train.add_argument("--epochs", type=_positive_int, default=5, help="passes over the data (default: 5)")
    train.add_argument("--n-bits", type=_positive_int, default=None,
                       help="bits per hash table (default: ceil(log2 C) - 4)")
    train.add_argument("--n-tables", type=_positive_int, default=16, help="hash tables (default: 16)")
    train.add_argument("--eta0", type=_positive_float, default=0.1, help="AdaGrad step size (default: 0.1)")
    train.add_argument("--alpha", type=_nonnegative_float, default=1e-6, help="L2 penalty (default: 1e-6)")
    train.add_argument("--batch-size", type=_positive_int, default=128, help="minibatch rows (default: 128)")
    train.add_argument("--n-components", type=_positive_int, default=None,
                       help="low-rank mode: learn a feature embedding of this width (for sparse, wide data; "
                       "default: the full model)")  # fmt: skip
    train.add_argument("--logit-adjustment", type=_nonnegative_float, default=0.0, metavar="TAU",
                       help="long-tail logit adjustment strength tau, priors from the training labels "
                       "(default: 0, off)")
    forms = _str_options("logit_adjustment_form")
    train.add_argument("--logit-adjustment-form", choices=forms, default=forms[0],
                       help="train on s_j + tau log pi_j ('loss') or predict with s_j - tau log pi_j "
                       f"('post-hoc'; default: {forms[0]})")
    train.add_argument("--n-samples", type=_positive_int, default=None,
                       help="draws per example of the 'uniform', 'prior', 'lsh-draw' and 'mips-gumbel' estimators "
                       "(default: 1%% of the classes)")
    train.add_argument("--n-prior-samples", type=_nonnegative_int, default=0,
                       help="'lsh' only: draws per example from the class frequencies added to the hash-table "
                       "sample (default: 0)")
    train.add_argument("--n-jobs", type=int, default=None, help="numba threads (default: numba's default)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    train.add_argument("--no-progress", action="store_true", help="no progress bar (it shows only on a terminal)")
    train.set_defaults(func=_train_command)

    predict = sub.add_parser(
        "predict",
        help="write the top-k labels and probabilities of every row as TSV",
        description="Predict the k most probable labels of every row of a data file with a saved model. "
        "Output: a header line, then one line per row: row, label_1..label_k, proba_1..proba_k (best first), "
        "tab-separated.",
    )
    predict.add_argument("model", help="model file written by 'sklearn-lsh train' or sklearn_lsh.save_model")
    _add_pickle_option(predict)
    _add_data_options(predict, "input")
    predict.add_argument("-k", type=_positive_int, default=5,
                         help="labels per row, at most the model's number of classes (default: 5)")
    predict.add_argument("--retrieval", choices=("exact", "lsh", "hnsw"), default="exact",
                         help="'exact' scores every class; 'lsh' only those the hash tables retrieve (sublinear "
                         "in C); 'hnsw' those an HNSW graph finds (needs hnswlib: pip install "
                         "'sklearn-lsh[ann]'; default: exact)")  # fmt: skip
    predict.add_argument("-o", "--output", default=None, help="TSV file to write (default: standard output)")
    predict.add_argument("--force", action="store_true", help="overwrite the output file if it exists")
    predict.set_defaults(func=_predict_command)

    evaluate = sub.add_parser(
        "evaluate",
        help="accuracy, P@k, nDCG@k and perplexity of a saved model on a labelled file",
        description="Evaluate a saved model on a labelled data file: accuracy (top-1), precision@k and nDCG@k "
        "for each -k, and perplexity exp(-mean log p(y | x)) from exact probabilities.",
    )
    evaluate.add_argument("model", help="model file written by 'sklearn-lsh train' or sklearn_lsh.save_model")
    _add_pickle_option(evaluate)
    _add_data_options(evaluate, "labelled test")
    evaluate.add_argument("-k", type=_positive_int, nargs="+", default=[1, 3, 5],
                          help="cut-offs of P@k and nDCG@k, at most the model's number of classes (default: 1 3 5)")
    evaluate.add_argument("--retrieval", choices=("exact", "lsh", "hnsw"), default="exact",
                          help="ranking by exact scores, by LSH retrieval or by an HNSW graph (default: exact)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    evaluate.set_defaults(func=_evaluate_command)

    part = sub.add_parser(
        "partition",
        help="compare the partition-function estimators on generated data",
        description="Estimate log Z(x) = log sum_j exp(w_j . x) for generated queries with every "
        "method of sklearn_lsh.estimate_log_partition and print error, cost and time per query.",
    )
    part.add_argument("--n-classes", type=_positive_int, default=10_000, help="number of classes C (default: 10000)")
    part.add_argument("--n-features", type=_positive_int, default=64, help="dimension d (default: 64)")
    part.add_argument("--n-queries", type=_positive_int, default=200, help="number of queries (default: 200)")
    part.add_argument("--budget", type=_positive_int, default=200,
                      help="samples for the 'uniform' and 'gumbel' baselines (default: 200)")
    part.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    part.set_defaults(func=_partition)
    return parser


@contextlib.contextmanager
def _signals_raise():
    """SIGTERM and SIGHUP raise :class:`Interrupted` while a command runs (in
    the main thread), so the ``finally`` clauses remove temporary files."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    signums = [sig for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig is not None]
    previous = {sig: signal.signal(sig, interrupt) for sig in signums}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo", *argv]
    args = parser.parse_args(argv)
    try:
        with _signals_raise():
            return args.func(args)
    except CommandError as exc:
        message = str(exc).replace("\n", " ")  # one line, whatever the message
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        print(f"{PROG} {args.command}: interrupted ({signal.Signals(signum).name}); no output file was written.",
              file=sys.stderr)  # fmt: skip
        return 128 + signum
    except BrokenPipeError:
        # The reader went away (e.g. `sklearn-lsh predict ... | head`): stop
        # quietly, as command-line tools do, instead of a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
