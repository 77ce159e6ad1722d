"""The small harness the benchmark scripts share.

* Reports: :func:`machine_description`, :func:`command_line`,
  :func:`report_head`, :func:`markdown_table`, :func:`write_section` (the
  marked sections of docs/*.md that each script rewrites) and
  :func:`publish` (print a section and write it unless told not to).
* Memory of this process: :func:`rss_mb`, :func:`peak_rss_mb`,
  :func:`reset_peak_rss` (Linux).
* Training: :func:`warm_up` (numba compilation outside the clock),
  :func:`timed_epochs` (``partial_fit`` epochs, CPU and wall seconds of
  each) and :func:`mean_log_loss`.
* Penn Treebank: :func:`load_ptb_features`, the next-word features of every
  script that trains or evaluates on PTB.
* Subprocess workers: :func:`load_csr` (a CSR matrix a parent saved),
  :func:`add_run_arguments` (``--quick``,
  ``--no-write`` and the hidden ``--worker``), :func:`worker_task`,
  :func:`worker_command`, :func:`run_worker`, :func:`read_result` and
  :func:`emit_result`: a script runs ``script --worker TASK`` in a fresh
  process (TASK a JSON object), the child prints its result as the last
  line of its output, one JSON object.

Only the standard library and NumPy are imported at module level, so that a
worker in another environment (the PECOS venv of ``peers.py``) can import
this module; scikit-learn, numba and sklearn_lsh are imported where used.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
PTB_DATA = ROOT.parent / "shared" / "data" / "ptb"
PTB_EXACT_MODEL = Path.home() / ".cache" / "sklearn-lsh" / "ptb-exact-model.pkl"  # saved by paper_training.py


# ------------------------------------------------------------------ reports
def machine_description() -> str:
    import numba
    import sklearn

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"numba {numba.__version__}, scikit-learn {sklearn.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def command_line() -> str:
    args = " ".join(sys.argv[1:])
    script = Path(sys.argv[0]).resolve().relative_to(DOCS.parent.parent)
    return f"python {script}{' ' + args if args else ''}"


def report_head(title: str) -> list[str]:
    """The first lines of a report section: its title, the command and the machine."""
    return [title, "", f"Command: `{command_line()}`  ", f"Machine: {machine_description()}", ""]


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, body: str, path: Path = DOCS) -> None:
    """Replace (or append) the section between ``<!-- name:begin -->`` and
    ``<!-- name:end -->`` of ``path`` with ``body``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def publish(name: str, body: str, write: bool, path: Path = DOCS) -> None:
    """Print a report section; write it to ``path`` when ``write``."""
    print(body)
    if write:
        write_section(name, body, path)


# ------------------------------------------------------------------- memory
def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux)."""
    import resource

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """High-water mark of this process's resident set size (VmHWM), in MiB
    (Linux); since the process started or the last :func:`reset_peak_rss`."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("VmHWM not found in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset the high-water mark to the current size (Linux clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# ----------------------------------------------------------------- training
class EpochTime(NamedTuple):
    cpu: float  # time.process_time() seconds of this process (every thread)
    wall: float  # time.perf_counter() seconds


def warm_up(clf, X, y, classes, n_rows: int = 500) -> None:
    """``partial_fit`` a clone of ``clf`` on the first ``n_rows`` rows, so
    that numba compilation (or cache loading) is not timed."""
    from sklearn.base import clone

    clone(clf).partial_fit(X[:n_rows], y[:n_rows], classes=classes)


def timed_epochs(clf, X, y, epochs: int, *, classes=None, each_epoch=None, after_epoch=None) -> list[EpochTime]:
    """``epochs`` calls of ``clf.partial_fit(X, y, classes=classes)``, each
    timed in CPU and wall seconds.

    ``each_epoch(clf)``, if given, runs after every ``partial_fit`` and is
    timed with the epoch (the two-component model's ``update_placement``,
    which ``fit`` runs after every epoch). ``after_epoch(clf, epoch_time)``
    runs after the clocks stopped (validation, progress lines).
    """
    times = []
    for _ in range(epochs):
        cpu, wall = time.process_time(), time.perf_counter()
        clf.partial_fit(X, y, classes=classes)
        if each_epoch is not None:
            each_epoch(clf)
        times.append(EpochTime(time.process_time() - cpu, time.perf_counter() - wall))
        if after_epoch is not None:
            after_epoch(clf, times[-1])
    return times


def wall_seconds(times) -> float:
    """Total wall seconds of :func:`timed_epochs`' epochs."""
    return sum(t.wall for t in times)


def mean_log_loss(clf, X, y, chunk: int = 1000) -> float:
    """Mean negative log-likelihood of ``y`` under ``clf.predict_log_proba``
    (the exact softmax), in chunks of ``chunk`` rows."""
    column = np.searchsorted(clf.classes_, y)
    total = 0.0
    for lo in range(0, X.shape[0], chunk):
        log_proba = clf.predict_log_proba(X[lo : lo + chunk])
        total -= float(log_proba[np.arange(log_proba.shape[0]), column[lo : lo + chunk]].sum())
    return total / X.shape[0]


# ---------------------------------------------------------------------- PTB
@dataclass
class PTBFeatures:
    features: object  # the fitted NextWordFeatures (vocabulary_, embeddings_)
    tokens: dict  # split name -> the tokens transformed (a prefix when limited)
    data: dict  # split name -> (X, y): float32 features, int64 next-word ids
    classes: np.ndarray  # every word id, arange(vocabulary size)
    seconds: float  # fitting the features and transforming the splits (reading the files not included)


def load_ptb_features(data=PTB_DATA, seed: int = 0, *, splits=("train", "valid", "test"), limits=None) -> PTBFeatures:
    """Penn Treebank next-word features: ``NextWordFeatures(context_size=3,
    n_components=64, random_state=seed)`` fitted on the whole training split
    (the previous 3 tokens' PPMI-SVD vectors, 192 float32 columns; target the
    next token, 10,000 classes), then the ``splits`` transformed.

    ``limits`` (``{split: n}``) keeps the first n positions of a split (None
    or 0: all). The features of a position depend only on the tokens before
    it, so this is the first n rows of the whole split's features.
    """
    from sklearn_lsh.datasets import NextWordFeatures, load_ptb

    raw = load_ptb(data)
    start = time.perf_counter()
    features = NextWordFeatures(context_size=3, n_components=64, random_state=seed).fit(raw["train"])
    tokens = {name: raw[name][: (limits or {}).get(name) or None] for name in splits}
    out = {name: features.transform(tokens[name]) for name in splits}
    seconds = time.perf_counter() - start
    return PTBFeatures(features, tokens, out, np.arange(features.vocabulary_.shape[0]), seconds)


# ------------------------------------------------------------------ workers
def load_csr(npz, prefix: str = ""):
    """The CSR matrix stored as the arrays ``<prefix>data``, ``<prefix>indices``,
    ``<prefix>indptr`` and ``<prefix>shape`` of an .npz file (a path or the
    loaded file): the data a parent wrote for its workers."""
    import scipy.sparse as sp

    z = np.load(npz) if isinstance(npz, (str, os.PathLike)) else npz
    return sp.csr_matrix((z[prefix + "data"], z[prefix + "indices"], z[prefix + "indptr"]),
                         shape=tuple(z[prefix + "shape"]))  # fmt: skip


def add_run_arguments(parser, *, quick=True, worker=False, quick_help=None, no_write_help=None) -> None:
    """The arguments the scripts share: ``--quick`` (a smoke run),
    ``--no-write`` (leave the docs alone) and, for the scripts that run
    parts in fresh processes, the hidden ``--worker TASK``."""
    if quick:
        parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--no-write", action="store_true", help=no_write_help)
    if worker:
        parser.add_argument("--worker", help=argparse.SUPPRESS)


def worker_task(args):
    """The task of a ``--worker`` run (a dict), or None in the parent."""
    return json.loads(args.worker) if getattr(args, "worker", None) else None


def worker_command(script, task, python=None) -> list[str]:
    """The command line that runs ``task`` in a fresh process of ``script``."""
    return [str(python or sys.executable), str(Path(script).resolve()), "--worker", json.dumps(task)]


def read_result(stdout: str):
    """The result a worker printed: its last line of output, one JSON object."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_worker(script, task):
    """Run ``task`` in a fresh process of ``script`` (which must exit 0) and
    return its result."""
    out = subprocess.run(worker_command(script, task), check=True, capture_output=True, text=True).stdout
    return read_result(out)


def emit_result(result, **dumps_options) -> None:
    """Print a worker's result (the line :func:`read_result` reads)."""
    print(json.dumps(result, **dumps_options), flush=True)
