"""Approximate top-k against the exact top-k on a trained model (issue 22, item 4).

Model: ``LSHSoftmaxClassifier("lsh")`` trained with ``partial_fit`` for
``--epochs`` epochs on ``--n-train`` rows of
``sklearn_lsh.datasets.make_extreme_classification`` (dense, ``--n-features``
= 128, C = ``--n-classes`` = 10^5, Zipf class frequencies, float32); the
queries are ``--n-queries`` further rows of the same draw (held out). The
trained model is saved to ``~/.cache/sklearn-lsh/`` and reused.

Every option tried is one row: its recall of the exact top-1 and top-5 (of
``predict_topk(retrieval="exact")``), its query time (CPU seconds,
``time.process_time``, and wall seconds, median over ``--repeats``
interleaved repeats, every row once per repeat) and its build time, timed
separately (once). Rows:

* exact: the package's ``predict_topk`` (the 1.0 row), a plain float32 GEMM
  + ``argpartition`` and faiss ``IndexFlatIP`` (references);
* the package's ``retrieval="lsh"`` as fitted, and LSH tables of other
  settings (more tables, fewer bits, multi-probe, "scan") through the same
  code (``_prediction.topk_lsh``), each also with the 256 classes of largest
  intercept added to every row's candidates (scored exactly);
* the package's ``retrieval="hnsw"`` over ``n_candidates`` (its graph:
  hnswlib, inner product, M = 16, ef_construction = 100);
* reference rows not used by the package: hnswlib (inner-product space,
  other M and ef_construction; and M = 16 on the MIPS-to-L2 transform,
  ``[w, sqrt(M^2 - |w|^2)]``),
  faiss HNSW (M = 32) and faiss IVF (1,024 lists) over their search beams,
  their candidates rescored exactly as the package does.

Every package row runs with ``n_jobs=None`` (one thread for numba and
hnswlib; BLAS keeps its own threads), the references with one thread. The
machine's load average is printed before and after.

    python benchmarks/approximate_topk.py [--quick] [--no-write] [--repeats 3]

Needs hnswlib and faiss-cpu (both in the ``bench`` extra: ``pip install -e
".[bench]"``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import add_run_arguments, markdown_table, publish, report_head  # noqa: E402

from sklearn_lsh import LSHIndex, LSHSoftmaxClassifier, load_model, save_model  # noqa: E402
from sklearn_lsh import _ann, _prediction  # noqa: E402
from sklearn_lsh._arrays import pair_scores  # noqa: E402
from sklearn_lsh.datasets import make_extreme_classification  # noqa: E402

CACHE = Path.home() / ".cache" / "sklearn-lsh"
K = 5
N_BIAS_CLASSES = 256


def trained_model(args, X, y):
    path = CACHE / f"approx-topk-C{args.n_classes}-d{args.n_features}-n{args.n_train}-e{args.epochs}.skl"
    if path.exists():
        return load_model(path), "loaded from cache"
    clf = LSHSoftmaxClassifier("lsh", random_state=0)
    start = time.process_time()
    clf.partial_fit(X[:2000], y[:2000], classes=np.arange(args.n_classes))
    for _ in range(args.epochs):
        clf.partial_fit(X, y)
    seconds = time.process_time() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    save_model(clf, path)
    return clf, f"trained in {seconds:.0f} CPU s"


def top_rescored(H, W, bias, candidates):
    """The K best of each row's candidate classes (-1: none) by their exact scores."""
    n, m = candidates.shape
    scores = pair_scores(H, W, np.arange(0, n * m + 1, m, dtype=np.int64), candidates.ravel()).reshape(n, m)
    scores += bias[np.maximum(candidates, 0)]
    scores[candidates < 0] = -np.inf
    order = np.argsort(-scores, axis=1)[:, :K]
    return np.take_along_axis(candidates, order, axis=1)


class Row:
    def __init__(self, option, setting, query, build=None):
        self.option, self.setting, self.query, self.build = option, setting, query, build
        self.cpu, self.wall, self.build_cpu, self.build_wall = [], [], 0.0, 0.0

    def prepare(self):
        if self.build is not None:
            c, w = time.process_time(), time.perf_counter()
            self.build()
            self.build_cpu, self.build_wall = time.process_time() - c, time.perf_counter() - w

    def run(self):
        c, w = time.process_time(), time.perf_counter()
        self.top = self.query()
        self.cpu.append(time.process_time() - c)
        self.wall.append(time.perf_counter() - w)


def lsh_rows(clf, H, W, bias, by_bias, settings):
    rows = []
    Wa = np.hstack([W, clf.intercept_[:, None]]).astype(np.float64)
    for n_bits, n_tables, radius, design in settings:
        index = LSHIndex(n_bits, n_tables, n_norm_ranges=64, table_design=design, probe_radius=radius, seed=0)

        def query(index=index):
            top, proba = np.empty((H.shape[0], K), np.int64), np.empty((H.shape[0], K))
            short = _prediction.topk_lsh(index, H, True, None, K, top, proba)
            top[short] = -1  # rows with fewer than K candidates: left to exact scoring in the package
            return top

        def query_bias(query=query):
            top = query()
            extra = np.broadcast_to(by_bias[:N_BIAS_CLASSES], (H.shape[0], N_BIAS_CLASSES))
            merged = np.hstack([top, extra])
            merged = np.where(_dupes(merged), -1, merged)
            return top_rescored(H, W, bias, merged)

        name = f"K={n_bits}, L={n_tables}, probe {radius}" + (", scan" if design == "scan" else "")
        rows.append(Row("LSH tables", name, query, lambda index=index: index.build(Wa)))
        rows.append(Row(f"LSH tables + {N_BIAS_CLASSES} top-intercept classes", name, query_bias))
    return rows


def _dupes(a):
    """Later repeats of a value within each row."""
    order = np.argsort(a, axis=1, kind="stable")
    s = np.take_along_axis(a, order, axis=1)
    dup_sorted = np.zeros(a.shape, bool)
    dup_sorted[:, 1:] = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    out = np.zeros(a.shape, bool)
    np.put_along_axis(out, order, dup_sorted, axis=1)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-classes", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    add_run_arguments(parser, quick_help="C = 10^4, 20,000 training rows, 300 queries, 2 repeats")
    args = parser.parse_args()
    if args.quick:
        args.n_classes, args.n_train, args.n_queries, args.repeats = 10_000, 20_000, 300, 2
    import faiss
    import hnswlib

    faiss.omp_set_num_threads(1)
    load_before = os.getloadavg()
    X, y = make_extreme_classification(args.n_train + args.n_queries, args.n_features, args.n_classes, random_state=0)
    Q = np.ascontiguousarray(X[args.n_train:])
    clf, how = trained_model(args, X[: args.n_train], y[: args.n_train])
    W, b = clf._weights, clf.intercept_.astype(np.float64)
    C, d = W.shape
    Wa = np.hstack([W, clf.intercept_[:, None]]).astype(np.float32)
    Qa = np.hstack([Q, np.ones((Q.shape[0], 1), np.float32)])
    by_bias = np.argsort(-b, kind="stable")
    clf.predict_topk(Q[:10], k=K)  # compile / load the kernels
    clf.predict_topk(Q[:10], k=K, retrieval="lsh")

    def package(retrieval, **kw):
        return lambda: np.searchsorted(clf.classes_, clf.predict_topk(Q, k=K, retrieval=retrieval, **kw)[0])

    def gemm():
        out = np.empty((Q.shape[0], K), np.int64)
        for lo in range(0, Q.shape[0], 200):
            s = Qa[lo:lo + 200] @ Wa.T
            part = np.argpartition(-s, K, axis=1)[:, :K]
            out[lo:lo + 200] = np.take_along_axis(part, np.argsort(-np.take_along_axis(s, part, 1), 1), 1)
        return out

    refs = {}

    def flat_build():
        refs["flat"] = faiss.IndexFlatIP(d + 1)
        refs["flat"].add(Wa)

    rows = [Row("exact", "package predict_topk", package("exact")),
            Row("exact (reference)", "float32 GEMM + argpartition", gemm),
            Row("exact (reference)", "faiss IndexFlatIP", lambda: refs["flat"].search(Qa, K)[1], flat_build),
            Row("package retrieval='lsh'", f"as fitted (K={clf.n_bits_}, L={clf.n_tables})", package("lsh"))]
    rows += lsh_rows(clf, Q, W, b, by_bias, [(10, 16, 0, "independent"), (10, 16, 1, "independent"),
                                             (12, 64, 1, "independent"), (16, 16, 3, "scan")])  # fmt: skip
    graph_build = Row("package retrieval='hnsw'", "graph build (first call)", None,
                      lambda: clf.predict_topk(Q[:1], k=K, retrieval="hnsw"))
    graph_build.prepare()
    candidates = (32, 48, 64, 80, 96, 128, 192)
    for m in candidates:
        rows.append(Row("package retrieval='hnsw'", f"n_candidates={m}" + (" (default)" if m == 80 else ""),
                        package("hnsw", n_candidates=m)))  # fmt: skip
    first = rows[-len(candidates)]
    first.build_cpu, first.build_wall = graph_build.build_cpu, graph_build.build_wall

    def hnsw_ref(space, M, ef_construction, data, queries):
        def build():
            index = hnswlib.Index(space=space, dim=data.shape[1])
            index.init_index(max_elements=C, M=M, ef_construction=ef_construction, random_seed=0)
            index.set_num_threads(1)
            index.add_items(data, np.arange(C))
            refs[(space, M, ef_construction)] = index

        def query(ef):
            index = refs[(space, M, ef_construction)]
            index.set_ef(ef)
            return top_rescored(Q, W, b, index.knn_query(queries, k=ef, num_threads=1)[0].astype(np.int64))

        return build, query

    norms = np.linalg.norm(Wa.astype(np.float64), axis=1)
    Wl2 = np.hstack([Wa, np.sqrt(norms.max() ** 2 - norms**2)[:, None]]).astype(np.float32)
    Ql2 = np.hstack([Qa, np.zeros((Q.shape[0], 1), np.float32)])
    # the package's graph is "ip", M=16, ef_construction=100 on [w, b - mean(b)]; these on [w, b]
    for space, M, efc, data, queries, efs in [("ip", 16, 200, Wa, Qa, (48, 64, 96)),
                                              ("ip", 24, 100, Wa, Qa, (48, 64, 96)),
                                              ("ip", 32, 200, Wa, Qa, (16, 32, 64, 128)),
                                              ("l2", 16, 200, Wl2, Ql2, (64, 256))]:  # fmt: skip
        build, query = hnsw_ref(space, M, efc, data, queries)
        label = f"hnswlib, {'inner product' if space == 'ip' else 'MIPS-to-L2 transform'}, M={M}, efC={efc}"
        for i, ef in enumerate(efs):
            rows.append(Row(label, f"ef={ef}", lambda ef=ef, query=query: query(ef), build if i == 0 else None))

    def faiss_hnsw_build():
        refs["fhnsw"] = faiss.IndexHNSWFlat(d + 1, 32, faiss.METRIC_INNER_PRODUCT)
        refs["fhnsw"].add(Wa)

    def faiss_hnsw(ef):
        refs["fhnsw"].hnsw.efSearch = ef
        return top_rescored(Q, W, b, refs["fhnsw"].search(Qa, ef)[1])

    for i, ef in enumerate((16, 32, 64, 128)):
        rows.append(Row("faiss HNSW, M=32", f"efSearch={ef}", lambda ef=ef: faiss_hnsw(ef),
                        faiss_hnsw_build if i == 0 else None))  # fmt: skip
    n_lists = 1024 if C >= 50_000 else 256

    def ivf_build():
        quantizer = faiss.IndexFlatIP(d + 1)
        refs["ivf"] = faiss.IndexIVFFlat(quantizer, d + 1, n_lists, faiss.METRIC_INNER_PRODUCT)
        refs["ivf"].train(Wa)
        refs["ivf"].add(Wa)
        refs["ivf_q"] = quantizer

    def ivf(nprobe):
        refs["ivf"].nprobe = nprobe
        return top_rescored(Q, W, b, refs["ivf"].search(Qa, 64)[1])

    for i, nprobe in enumerate((8, 16, 32, 64)):
        rows.append(Row(f"faiss IVF, {n_lists} lists (64 rescored)", f"nprobe={nprobe}", lambda p=nprobe: ivf(p),
                        ivf_build if i == 0 else None))  # fmt: skip

    for row in rows:
        row.prepare()
        row.query()  # warm-up: numba compilation, first-touch of the index
        print(f"built {row.option} {row.setting}: {row.build_cpu:.1f} CPU s", flush=True)
    loads = []
    for repeat in range(args.repeats):
        shift = repeat % len(rows)
        for row in rows[shift:] + rows[:shift]:  # interleaved, rotated
            row.run()
        loads.append(os.getloadavg()[0])
        print(f"repeat {repeat + 1} done, load {loads[-1]:.2f}", flush=True)

    exact = rows[0].top
    exact_cpu = float(np.median(rows[0].cpu))
    table = []
    for row in rows:
        top = row.top
        r1 = float(np.mean(top[:, 0] == exact[:, 0]))
        r5 = float(np.mean([len(set(a) & set(e)) / K for a, e in zip(top, exact)]))
        cpu, wall = float(np.median(row.cpu)), float(np.median(row.wall))
        meets = "**yes**" if r1 >= 0.95 and r5 >= 0.90 and exact_cpu / cpu >= 8 else ""
        build = f"{row.build_cpu:.1f} / {row.build_wall:.1f}" if row.build_cpu or row.build_wall else ""
        table.append([row.option, row.setting, f"{r1:.3f}", f"{r5:.3f}", f"{cpu:.3f}", f"{wall:.3f}",
                      f"{1e3 * cpu / Q.shape[0]:.3f}", f"{exact_cpu / cpu:.1f}x", build, meets])  # fmt: skip
    load_after = os.getloadavg()
    lines = report_head("### Approximate top-k against the exact top-k (issue 22, item 4)")
    lines += [
        f"Model: `LSHSoftmaxClassifier(\"lsh\", random_state=0)`, {args.epochs} epochs of `partial_fit` on "
        f"{args.n_train:,} rows of `make_extreme_classification` (dense, d = {d}, C = {C:,}, float32; {how}); "
        f"{Q.shape[0]:,} held-out query rows of the same draw, k = {K}. Recall: the share of the exact top-1 "
        "(top-5) that the option returns. Query times are medians of "
        f"{args.repeats} interleaved repeats (`time.process_time` CPU s and wall s for all {Q.shape[0]:,} rows); "
        "build time (CPU s / wall s) once, apart. Package rows: `n_jobs=None` (one thread for numba and hnswlib, "
        "BLAS its own); references: one thread. Candidates of the reference rows are rescored exactly, as the "
        "package does, inside their time. \"bar\": top-1 >= 0.95, top-5 >= 0.90 at >= 8x less CPU time than "
        "the package's exact top-k.",
        "",
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after each repeat "
        f"(1 min): {', '.join(f'{x:.2f}' for x in loads)}; after: {', '.join(f'{x:.2f}' for x in load_after)} "
        f"on {os.cpu_count()} cores.",
        "",
        markdown_table(["option", "setting", "recall@1", "recall@5", "CPU s", "wall s", "CPU ms/row",
                        "speed-up (CPU)", "build CPU / wall s", "bar"], table),  # fmt: skip
    ]
    publish("approximate-topk", "\n".join(lines), not args.no_write)


if __name__ == "__main__":
    main()
