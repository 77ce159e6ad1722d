"""SimHash features: SimHashTransformer against the scikit-learn recipe.

The recipe a user would write today is a random projection followed by
``np.sign``: ``GaussianRandomProjection`` for dense rows,
``SparseRandomProjection`` (density "auto") for sparse ones. Both sides
produce ``n_bits`` sign features per row (+-1; the recipe leaves a 0 where a
projection is exactly 0). Measured per configuration in a fresh process:
rows per second of ``fit_transform`` (median of 7 calls, after a warm-up
call on 1,000 rows, so numba compilation is not timed) and the peak
resident memory above the process's size with the data loaded.

Data: (a) dense 100k x 256 float32 Gaussian rows; (b) CSR text-like rows from
``make_extreme_classification(sparse=True, n_nonzero=100)`` with 2^20
features, and the same rows with 2^24 features (to show whether memory
grows with the input dimension).

Run ``python benchmarks/simhash.py``; ``--quick`` for a smoke run;
``--no-write`` leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    add_run_arguments, emit_result, load_csr, markdown_table, peak_rss_mb, publish, report_head, reset_peak_rss, rss_mb,
    run_worker, worker_task,
)


def make_model(name, n_bits, seed):
    from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection

    from sklearn_lsh import SimHashTransformer

    if name == "SimHashTransformer (Gaussian)":
        return SimHashTransformer(n_bits=n_bits, random_state=seed)
    if name == "SimHashTransformer (density=auto)":
        return SimHashTransformer(n_bits=n_bits, density="auto", random_state=seed)
    if name == "SimHashTransformer (density=auto, n_jobs=-1)":
        return SimHashTransformer(n_bits=n_bits, density="auto", random_state=seed, n_jobs=-1)
    if name == "GaussianRandomProjection + np.sign":
        return GaussianRandomProjection(n_components=n_bits, random_state=seed)
    return SparseRandomProjection(n_components=n_bits, density="auto", dense_output=False, random_state=seed)


def run_one(model, X):
    out = model.fit_transform(X)
    if "RandomProjection" in type(model).__name__:
        out = np.sign(out.toarray() if sp.issparse(out) else out)
    return out


def worker(task):
    data = np.load(task["data"])
    X = load_csr(data) if "indptr" in data else data["X"]
    run_one(make_model(task["model"], task["n_bits"], 0), X[:1000])  # warm-up
    base = rss_mb()
    reset_peak_rss()  # the peak of loading the data is not the method's
    times = []
    for _ in range(7):
        start = time.perf_counter()
        out = run_one(make_model(task["model"], task["n_bits"], 0), X)
        times.append(time.perf_counter() - start)
        del out
    seconds = float(np.median(times))
    out = run_one(make_model(task["model"], task["n_bits"], 0), X[:10000])
    result = {"seconds": seconds, "rows_per_s": X.shape[0] / seconds, "extra_mb": peak_rss_mb() - base,
              "zero_fraction": float(np.mean(out == 0))}  # fmt: skip  (zeros: on the first 10,000 rows)
    emit_result(result)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rows", type=int, default=100_000)
    parser.add_argument("--n-bits", type=int, default=64)
    add_run_arguments(parser, worker=True)
    args = parser.parse_args(argv)
    if (task := worker_task(args)) is not None:
        return worker(task)
    from sklearn_lsh.datasets import make_extreme_classification

    n_rows = 5_000 if args.quick else args.n_rows
    rows, ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        datasets = []
        dense = np.random.default_rng(0).standard_normal((n_rows, 256), dtype=np.float32)
        np.savez(Path(tmp) / "dense.npz", X=dense)
        datasets.append(("dense 256", Path(tmp) / "dense.npz",
                         ["SimHashTransformer (Gaussian)", "GaussianRandomProjection + np.sign"]))  # fmt: skip
        X, _ = make_extreme_classification(n_rows, 2**20, 1000, sparse=True, n_nonzero=100, random_state=0)
        for log_d in (20, 24):
            path = Path(tmp) / f"csr{log_d}.npz"
            np.savez(path, data=X.data, indices=X.indices * 2 ** (log_d - 20), indptr=X.indptr,
                     shape=(n_rows, 2**log_d))  # fmt: skip
            datasets.append((f"CSR 2^{log_d}, ~100 nnz/row", path,
                             ["SimHashTransformer (density=auto)", "SimHashTransformer (density=auto, n_jobs=-1)",
                              "SparseRandomProjection + np.sign"]))  # fmt: skip
        for label, path, models in datasets:
            results = {}
            for model in models:
                results[model] = r = run_worker(__file__, {"data": str(path), "model": model, "n_bits": args.n_bits})
                print(f"{label} {model}: {r}", flush=True)
                zeros = "-" if model.startswith("SimHash") else f"{r['zero_fraction']:.3f}"
                rows.append([label, model, f"{r['rows_per_s']:,.0f}", f"{r['seconds']:.3f}", f"{r['extra_mb']:.0f}",
                             zeros])  # fmt: skip
            theirs = results[models[-1]]
            for model in models[:-1]:
                ratios.append([label, model, f"{theirs['seconds'] / results[model]['seconds']:.1f}x"])

    body = "\n".join([
        *report_head("## SimHash features (issue 5)"),
        f"{n_rows:,} rows, n_bits = {args.n_bits} sign features per row (`output=\"sign\"`), `fit_transform` "
        "timed in a fresh process (median of 7 calls) after a 1,000-row warm-up. \"Peak extra memory\" is the process's peak "
        "RSS minus its RSS with the data loaded. \"Zeros\" is the fraction of the recipe's outputs that are 0, "
        "i.e. projections that are exactly 0. SimHashTransformer with the same density has the same share of "
        "zero projections, and maps them to -1.",
        "",
        markdown_table(["data", "method", "rows/s", "seconds", "peak extra memory (MB)", "zeros"], rows),
        "",
        markdown_table(["data", "method", "speed-up over the scikit-learn recipe"], ratios),
    ])  # fmt: skip
    publish("simhash", body, not args.no_write)


if __name__ == "__main__":
    main()
