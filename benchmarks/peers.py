"""Peers side by side: the package against the tools users would pick instead.

Same split, same machine, one run per tool, every tool on ONE thread
(``OMP_NUM_THREADS=1`` etc. in every child, and each library's own thread
setting at 1). Reported per tool: train time, predict time (whole test set),
top-1 accuracy, P@5 and the peak RSS of the process that ran the tool.

Every tool runs in its own fresh subprocess (``peers.py --worker``), which
loads the data files the parent wrote once into a temporary directory (writing
them is not timed), trains, predicts the top 5 labels of every test row and
writes them to a .npy file; the parent computes top-1 and P@5 with
``sklearn_lsh.metrics``. The child reports its own ``VmHWM`` (peak RSS, data
and libraries included) at the end. A child still running after
``--time-cap`` seconds (its whole wall time: loading, training and
prediction) is killed and reported "DNF"; one whose resident size passes
``--mem-cap`` GiB is killed and reported "OOM"; a configuration whose dense
parameters alone would pass ``--mem-cap`` is "not run"; a tool that does not
import is "not installed". PECOS (libpecos pins numpy<2) runs in its own
virtual environment under ``~/.cache/sklearn-lsh-bench/pecos-venv``, made on
first use.

The package's rows: ``"lsh"``, ``"exact"`` and ``"prior"`` (sampled softmax
with ``--prior-samples`` draws per example from the smoothed training class
frequencies, no tables). The dominance lines compare "lsh" and "prior"
with the peers.

Data sets (``--datasets``):

* ``sparse-1e4``, ``sparse-1e5``: ``make_extreme_classification(110_000,
  n_features=100_000, n_classes=C, sparse=True, n_nonzero=50,
  random_state=0)``, first 100,000 rows train, next 10,000 test (as
  ``benchmarks/scaling.py --sparse``).
* ``ptb``: Penn Treebank next-word prediction (10,000 classes), the first
  ``--ptb-train`` training positions and the first ``--ptb-test`` test
  positions. The package gets ``NextWordFeatures(context_size=3,
  n_components=64)`` (dense, as ``benchmarks/ptb_language_model.py``);
  fastText gets the previous 3 words as position-tagged tokens; the other
  peers a one-hot CSR of the same 3 position-tagged words (3 x 10,000
  columns).

Install the peers with ``pip install -e ".[bench]"``. Run ``python
benchmarks/peers.py`` (all data sets and tools); ``--quick`` for a smoke run;
``--no-write`` leaves docs/benchmarks.md alone. ``--n-components W`` gives
sklearn-lsh's low-rank model on the sparse data the width W instead of 64
and writes its own section (``peers_n_components_W``); docs/benchmarks.md
has runs at 128 and 256 on ``--datasets sparse-1e5`` with the peers that
finish there.

This file is the driver (running each tool under the caps, the report);
``_peers_tools.py`` holds the tool table, each tool's settings and the python
that runs it, ``_peers_data.py`` writes the data files and
``_peers_runners.py`` is the worker side (one runner per tool).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    PTB_DATA, add_run_arguments, command_line, machine_description, markdown_table, read_result, worker_command,
    worker_task, write_section,
)
from _peers_data import prepare_ptb, prepare_sparse  # noqa: E402
from _peers_runners import K, OURS, worker  # noqa: E402
from _peers_tools import DATASETS, ONE_THREAD, PECOS_SPEC, TOOLS, param_gib, settings_for, tool_available  # noqa: E402

os.environ.update(ONE_THREAD)  # before numpy's BLAS starts its pool in the children


def proc_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_tool(tool, ds, args):
    """Result dict of one tool on one data set (status "ok", "DNF", "OOM",
    "failed", "not run" or "not installed")."""
    s = settings_for(tool, ds, args)
    need = param_gib(tool, ds, s)
    if need > args.mem_cap:
        return dict(status="not run", note=f"needs >= {need:,.0f} GiB (> --mem-cap {args.mem_cap:g})", settings=s)
    python, reason = tool_available(tool)
    if python is None:
        return dict(status="not installed", note=reason, settings=s)
    out = ds["dir"] / f"{tool}.npy"
    task = dict(tool=tool, settings=s, files=ds["files"], n_classes=ds["n_classes"], kind=ds["kind"],
                workdir=str(ds["dir"]), out=str(out))  # fmt: skip
    log_path = ds["dir"] / f"{tool}.stderr"
    env = {**os.environ, **ONE_THREAD}
    start = time.perf_counter()
    peak_seen = 0.0
    with open(log_path, "w") as err:
        proc = subprocess.Popen(worker_command(__file__, task, python), stdout=subprocess.PIPE, stderr=err, text=True,
                                env=env, start_new_session=True)  # fmt: skip
        status = None
        while proc.poll() is None:
            elapsed = time.perf_counter() - start
            peak_seen = max(peak_seen, proc_rss_mib(proc.pid))
            if elapsed > args.time_cap:
                status = "DNF"
            elif peak_seen > args.mem_cap * 1024:
                status = "OOM"
            if status:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.2)
        stdout = proc.stdout.read()
    wall = time.perf_counter() - start
    if status == "DNF":
        return dict(status="DNF", note=f"DNF (> {args.time_cap:g} s)", settings=s, wall=wall)
    if status == "OOM":
        return dict(status="OOM", note=f"killed: RSS > {args.mem_cap:g} GiB", settings=s, wall=wall,
                    peak_mib=peak_seen)  # fmt: skip
    if proc.returncode != 0:
        lines = [ln for ln in log_path.read_text().splitlines() if ln.strip()]
        return dict(status="failed", note=f"failed (exit {proc.returncode}): {(lines or [''])[-1][:150]}",
                    settings=s, wall=wall)  # fmt: skip
    from sklearn_lsh.metrics import precision_at_k

    r = read_result(stdout)
    ranked = np.load(out)
    y_test = ds["y_test"]
    r.update(status="ok", settings=s, wall=wall, top1=float(np.mean(ranked[:, 0] == y_test)))
    r["p5"] = precision_at_k(y_test, ranked, k=K) if (ranked[:, 1:] >= 0).any() else None
    return r


def fmt_settings(tool, s):
    return ", ".join(f"{k}={v}" for k, v in s.items() if k not in ("threads", "thread"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {', '.join(DATASETS)}")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma list of {', '.join(TOOLS)}")
    parser.add_argument("--time-cap", type=float, default=600.0, help="wall seconds per tool run")
    parser.add_argument("--mem-cap", type=float, default=10.0, help="GiB of RSS per tool run")
    parser.add_argument("--n-train", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-features", type=int, default=100_000)
    parser.add_argument("--ptb-data", default=str(PTB_DATA))
    parser.add_argument("--ptb-train", type=int, default=200_000, help="first N PTB training positions")
    parser.add_argument("--ptb-test", type=int, default=20_000, help="first N PTB test positions")
    parser.add_argument("--epochs-sparse", type=int, default=2, help="epochs of sklearn-lsh / SGD on sparse data")
    parser.add_argument("--epochs-ptb", type=int, default=3, help="epochs of sklearn-lsh / SGD on PTB")
    parser.add_argument("--ft-epochs", type=int, default=5, help="fastText epochs")
    parser.add_argument("--ft-lr", type=float, default=0.5, help="fastText learning rate")
    parser.add_argument("--prior-samples", type=int, default=100,
                        help='draws per example of sklearn-lsh "prior" (1%% of C at C = 10^4)')
    parser.add_argument("--n-components", type=int, default=64,
                        help="width of sklearn-lsh's low-rank model on the sparse data; a width other than 64 writes "
                             "its own section (peers_n_components_<width>), not the main table")
    parser.add_argument("--vw-passes", type=int, default=3)
    parser.add_argument("--vw-weight-gib", type=float, default=4.0, help="VW weight table budget (sets -b)")
    parser.add_argument("--logreg-max-iter", type=int, default=100)
    add_run_arguments(parser, worker=True)
    args = parser.parse_args(argv)
    if (task := worker_task(args)) is not None:
        return worker(task)
    if args.quick:
        args.n_train, args.n_test, args.n_features = 5_000, 1_000, 10_000
        args.time_cap = min(args.time_cap, 120)
    datasets = [d for d in args.datasets.split(",") if d]
    tools = [t for t in args.tools.split(",") if t]
    for name in datasets + tools:
        if name not in DATASETS and name not in TOOLS:
            parser.error(f"unknown data set or tool {name!r}")

    t0 = time.perf_counter()
    state = dict(rows=[], descriptions=[], dominance=[], settings_used={})
    for i, name in enumerate(datasets):
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            start = time.perf_counter()
            ds = prepare_ptb(args, Path(tmp)) if name == "ptb" else prepare_sparse(name, args, Path(tmp))
            print(f"{name}: data written in {time.perf_counter() - start:.0f} s", flush=True)
            state["descriptions"].append(ds["description"])
            results = {}
            for tool in tools:
                r = results[tool] = run_tool(tool, ds, args)
                print(f"{name} {tool}: {json.dumps(r, default=str)}", flush=True)
                s = fmt_settings(tool, r["settings"])
                state["settings_used"].setdefault(TOOLS[tool][0], {}).setdefault(s, []).append(name)
                if r["status"] == "ok":
                    p5 = "n/a" if r["p5"] is None else f"{r['p5']:.3f}"
                    state["rows"].append([name, TOOLS[tool][0], f"{r['train_s']:.1f}", f"{r['predict_s']:.1f}",
                                          f"{r['top1']:.3f}", p5, f"{r['peak_mib']:.0f}", s])  # fmt: skip
                else:
                    state["rows"].append([name, TOOLS[tool][0], r["note"], "", "", "", "", s])
            state["dominance"].extend(dominance_lines(name, results))
        done = i + 1 == len(datasets)
        body = report(args, state, time.perf_counter() - t0, done)
        if done:
            print(body)
            print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
        if not args.no_write:  # after every data set, so an interrupted run leaves what it measured
            write_section(section_name(args), body)


def section_name(args):
    """The docs section a run writes: the main table, or one per non-default embedding width."""
    return "peers" if args.n_components == 64 else f"peers_n_components_{args.n_components}"


def report(args, state, total, done):
    header = ["data set", "tool", "train s", "predict s", "top-1", "P@5", "peak RSS MiB", "settings"]
    table = markdown_table(header, state["rows"])
    setting_lines = [f"- {tool}: " + "; ".join(f"`{s}` ({', '.join(names)})" for s, names in by.items())
                     for tool, by in state["settings_used"].items()]  # fmt: skip
    status = (f"Total run time {total / 60:.0f} min." if done else
              f"PARTIAL: the run was still going after {total / 60:.0f} min; the data sets finished so far.")
    return "\n".join([
        "## Peers side by side (issue 7)" if section_name(args) == "peers" else
        f"## Peers side by side, sklearn-lsh with a wider embedding (n_components={args.n_components}, issue 7)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_description()}; every tool ran on one thread (`OMP_NUM_THREADS=1`, "
        "`NUMBA_NUM_THREADS=1`, `OPENBLAS_NUM_THREADS=1`, `MKL_NUM_THREADS=1`, and each tool's own thread setting "
        f"at 1: fastText `thread=1`, napkinXC/Omikuji/PECOS `threads=1`, sklearn-lsh `n_jobs=1`). {status}",
        "",
        "Data:",
        "",
        *[f"- {d}" for d in state["descriptions"]],
        "",
        "Each tool ran once, in its own fresh process, on the same split. Train and predict times are wall "
        "seconds inside that process (data loading and format conversion not included; sklearn-lsh's numba "
        "compilation is done by a 500-row warm-up fit before the clock starts); predict time is for the whole "
        "test set (top 5 labels per row). Top-1 is the fraction of test rows whose first label is right; P@5 is "
        "`sklearn_lsh.metrics.precision_at_k(y, top5, k=5)` (one true label per row, so at most 0.2). Peak RSS is "
        "the process's VmHWM at the end (Python, the libraries and the loaded data included). "
        f"Caps: {args.time_cap:g} s of wall time per run (loading, training and prediction: \"DNF\"), "
        f"{args.mem_cap:g} GiB of RSS (\"killed\"), and configurations whose dense parameters alone would "
        "exceed that memory are \"not run\" (the estimate is shown).",
        "",
        table,
        "",
        "Settings (defaults of each tool unless listed):",
        "",
        *setting_lines,
        f"- sklearn-lsh: the low-rank mode (`n_components={args.n_components}`, n_bits=None, i.e. ceil(log2 C) - 4) on the sparse "
        "data as `benchmarks/scaling.py --sparse`; the dense model of `benchmarks/ptb_language_model.py` on PTB; "
        "`partial_fit(X, y, classes=range(C))` per epoch, `predict_topk(X, k=5)` (exact scoring of all classes). "
        f"\"prior\" is `estimator=\"prior\"` (sampled softmax with {args.prior_samples} draws per example from the "
        "smoothed training class frequencies, no tables), otherwise as \"lsh\".",
        "- sklearn `SGDClassifier(loss=\"log_loss\")` is one-vs-rest (C independent binary models), not a "
        "softmax; `LogisticRegression` (lbfgs) is multinomial. Their top 5 come from `decision_function`.",
        "- napkinXC and Omikuji are multi-label tools; each row gets a one-element label list. PECOS gets a "
        "one-hot label matrix over all C classes, PIFA label embeddings and a hierarchical k-means tree; it runs "
        f"in a separate venv (`{PECOS_SPEC}` pins numpy<2).",
        "- fastText: every non-zero feature id `f` of a sparse row is the token `f<f>` once (the tf weight is "
        "dropped; fastText averages token vectors); labels `__label__<y>`; `predict(lines, k=5)`.",
        "- VW: text rows `y+1 | id:value ...`; `-b` is the bits needed for C x n_features weights, capped by a "
        f"{args.vw_weight_gib:g} GiB weight table (VW's classes share one hashed table). `--oaa` trains with "
        "logistic loss and predicts with `--probabilities` (all C probabilities per row, called row by row from "
        "Python), from which the top 5 are taken; `--log_multi` returns one label per row, so its P@5 is n/a.",
        "",
        "Dominance (peers both faster to train and more accurate, top-1, than the package's sampled rows; the "
        "package's own \"exact\" row is not a peer):",
        "",
        *[f"- {line}" for line in state["dominance"]],
    ])  # fmt: skip


def dominance_lines(name, results):
    """One line per sampled estimator of the package ("lsh", "prior"): the
    peers (not the package's other rows) that both train faster and reach a
    higher top-1."""
    lines = []
    for mine in ("lsh", "prior"):
        if mine not in results:
            continue
        ours, label = results[mine], TOOLS[mine][0]
        if ours["status"] != "ok":
            lines.append(f"{name}: {label} has no result, no comparison.")
            continue
        better = [TOOLS[t][0] + f" ({r['train_s']:.1f} s, {r['top1']:.3f})" for t, r in results.items()
                  if t not in OURS and r["status"] == "ok" and r["train_s"] < ours["train_s"]
                  and r["top1"] > ours["top1"]]  # fmt: skip
        line = f"{name}: {label} trains in {ours['train_s']:.1f} s to top-1 {ours['top1']:.3f}; "
        if better:
            line += "dominated by " + ", ".join(better) + "."
        else:
            line += "no peer here is both faster to train and more accurate."
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
