"""Exploration for issue 2's 1% budget: which candidate-selection rules could
reach "within 2x of Gumbel" at C = 10,000, d = 64, 100 inner products?

Not a package feature: a NumPy simulation (Gaussian SimHash bits on the
norm-range-transformed class vectors, exact inclusion probabilities from the
binomial law) of two rules, on the partition benchmark's problem:

* ``hamming``: include class j when its B-bit code is within Hamming distance
  r of the query's; P_j = P(Binomial(B, theta_j / pi) <= r). Needs a scan of
  all C codes (or a multi-index whose probes reach most of C at these radii).
* ``t-of-m``: m groups of b bits, include j when at least t groups match
  exactly; P_j = P(Binomial(m, cp_j^b) >= t). Sublinear through m group
  tables, but the buckets scanned are m * C / 2^b codes.

Cost counted: B + 1 projections (hashing) + |S| scored classes. Run
``python benchmarks/selection_rules.py`` (about 13 minutes); prints the
settings within 110 (hamming) or 100 (t-of-m) inner products.
"""
import numpy as np
from scipy.stats import binom
from scipy.special import logsumexp
from sklearn_lsh.datasets import make_partition_problem
from sklearn.utils.extmath import row_norms
from sklearn_lsh._index import _norm_range_maxima


def hamming_rule():
    W, X = make_partition_problem(10000, 64, n_queries=600, random_state=0)
    X = X[100:]
    S = X @ W.T
    exact = logsumexp(S, axis=1)
    norms = row_norms(W)
    qn = row_norms(X)
    rng = np.random.default_rng(1)
    for R in (64, 10000):
        M = _norm_range_maxima(norms, R)
        Wt = np.hstack([W / M[:, None], np.sqrt(np.maximum(0, 1 - (norms / M) ** 2))[:, None]])
        cos = S / (M[None, :] * qn[:, None])
        theta = np.arccos(np.clip(cos, -1, 1)) / np.pi  # bit mismatch prob
        for B in (24, 32, 40, 48, 56, 64):
            for r in range(0, 12):
                maes = []; sizes = []
                for rep in range(3):
                    G = rng.standard_normal((65, B))
                    cw = (Wt @ G) > 0
                    cx = (X @ G[:64]) > 0
                    ham = (cx[:, None, :] != cw[None, :, :]).sum(-1)
                    inc = ham <= r
                    logP = binom.logcdf(r, B, theta)
                    logterms = np.where(inc, S - logP, -np.inf)
                    est = logsumexp(logterms, axis=1)
                    maes.append(np.mean(np.abs(est - exact))); sizes.append(inc.sum(1).mean())
                cost = B + 1 + np.mean(sizes)
                if cost <= 110:
                    print(f"R={R} B={B} r={r} size={np.mean(sizes):.1f} cost={cost:.0f} mae={np.mean(maes):.3f}")


def t_of_m_rule():
    W, X = make_partition_problem(10000, 64, n_queries=600, random_state=0)
    X = X[100:400]
    S = X @ W.T
    exact = logsumexp(S, axis=1)
    norms = row_norms(W); qn = row_norms(X)
    rng = np.random.default_rng(1)
    M = _norm_range_maxima(norms, 10000)
    Wt = np.hstack([W / M[:, None], np.sqrt(np.maximum(0, 1 - (norms / M) ** 2))[:, None]])
    cos = S / (M[None, :] * qn[:, None])
    pbit = 1 - np.arccos(np.clip(cos, -1, 1)) / np.pi
    res = []
    for b in (4, 5, 6, 7, 8, 10):
        for m in range(2, 17):
            if m * b + 1 >= 100: continue
            for rep in range(2):
                G = rng.standard_normal((65, m * b))
                cw = ((Wt @ G) > 0).reshape(10000, m, b)
                cx = ((X @ G[:64]) > 0).reshape(len(X), m, b)
                pw = (1 << np.arange(b))
                gw = (cw * pw).sum(-1); gx = (cx * pw).sum(-1)
                count = np.zeros(S.shape, dtype=np.int16)
                for g in range(m):
                    count += (gx[:, g][:, None] == gw[:, g][None, :])
                scanned = m * 10000 / 2**b
                q = pbit ** b
                for t in range(1, min(m, 6) + 1):
                    inc = count >= t
                    logP = binom.logsf(t - 1, m, q)
                    est = logsumexp(np.where(inc, S - logP, -np.inf), axis=1)
                    res.append((b, m, t, rep, inc.sum(1).mean(), np.mean(np.abs(est - exact)), scanned))
    import collections
    agg = collections.defaultdict(list)
    for b, m, t, rep, size, mae, sc in res:
        agg[(b, m, t)].append((size, mae, sc))
    best = []
    for k, v in agg.items():
        size = np.mean([x[0] for x in v]); mae = np.mean([x[1] for x in v]); cost = k[0]*k[1] + 1 + size
        if cost <= 100 and np.isfinite(mae): best.append((mae, k, size, cost, v[0][2]))
    for r in sorted(best)[:15]: print(r)


if __name__ == "__main__":
    hamming_rule()
    t_of_m_rule()
