"""
================================================
Partition-function estimators compared
================================================

The softmax partition function ``Z(x) = sum_j exp(w_j . x)`` costs one inner
product per class. This example estimates ``log Z`` for 100 queries over
10,000 classes with every estimator of
:func:`sklearn_lsh.estimate_log_partition` and plots the mean absolute error
of ``log Z`` against the work per query (inner products): the LSH estimators
at several table settings, and uniform importance sampling and exact
Gumbel-max at several sample sizes.
"""

# %%
# A partition problem: class vectors in clusters, queries near some classes,
# so a few classes carry most of Z (as in a trained softmax).
import matplotlib.pyplot as plt
import numpy as np

from sklearn_lsh import estimate_log_partition
from sklearn_lsh.datasets import make_partition_problem

W, X = make_partition_problem(n_classes=10_000, n_features=64, n_queries=100, random_state=0)
exact = estimate_log_partition(W, X, method="exact")


def error_and_work(method, **options):
    est, work = estimate_log_partition(W, X, method, random_state=0, return_work=True, **options)
    return float(np.mean(np.abs(est - exact))), work.inner_products_per_query


# %%
# Each estimator over a range of budgets. "lsh" trades more tables (a larger
# union, more classes scored) for a smaller error; the Hamming scan retrieves
# every class within a radius of the query's code, so its budget grows with
# the radius.
curves = {
    "uniform": [error_and_work("uniform", n_samples=n) for n in (50, 100, 200, 500, 1000)],
    "gumbel (exact scores)": [error_and_work("gumbel", n_samples=n) for n in (1, 2, 5)],
    "lsh (independent tables)": [error_and_work("lsh", n_bits=12, n_tables=t) for t in (8, 16, 32, 64)],
    "lsh (Hamming scan)": [
        error_and_work("lsh", n_bits=48, n_tables=2, table_design="scan", probe_radius=r) for r in (9, 11, 13, 15)
    ],
    "mips-gumbel": [error_and_work("mips-gumbel", n_bits=12, n_tables=t) for t in (8, 16, 32)],
}
for name, points in curves.items():
    print(name, "  ".join(f"{w:.0f} IPs: {e:.3f}" for e, w in points))

# %%
# Error against work. The x axis counts inner products per query (the exact
# sum needs 10,000; Gumbel needs all 10,000 scores per draw).
fig, ax = plt.subplots(figsize=(6.5, 4))
for name, points in curves.items():
    errors, work = zip(*points)
    ax.plot(work, errors, marker="o", label=name)
ax.axvline(W.shape[0], color="grey", linestyle=":", label="exact (C inner products)")
ax.set(xscale="log", yscale="log", xlabel="inner products per query", ylabel="mean |log Z estimate - log Z|",
       title="log Z over 10,000 classes, 100 queries")  # fmt: skip
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
