"""Plain NumPy reference implementations of the numba kernels.

Slow, obvious code: each kernel test compares a kernel with its reference.
"""

import math

import numpy as np
from scipy.special import logsumexp

_MASK64 = (1 << 64) - 1
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _splitmix_finish(z):
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def sparse_projection_rows(features, n_used, density, seed):
    """The on-the-fly sparse projection, in Python integers and floats.

    Feature ``f``'s stream starts at ``first = mix(key, f)`` (``key =
    mix(seed, 0)``, SplitMix64 finalisation of ``key ^ value * golden``)
    and continues as SplitMix64 from there. Its first uniform gives the
    first position ``floor(log(u) / log(1 - density))`` (none when ``u <=
    (1 - density) ** n_used``); then each entry draws its sign (low bit of
    the next output) and a uniform for the gap ``1 + floor(log(u) /
    log(1 - density))`` to the next entry.
    """
    def mix(key, value):
        return _splitmix_finish(key ^ ((value * _GOLDEN) & _MASK64))

    def uniform(z):
        return ((z >> 11) + 0.5) / 2.0**53

    key = mix(seed, 0)
    log_miss = math.log1p(-density) if density < 1.0 else -math.inf
    R = np.zeros((len(features), n_used))
    for r, feature in enumerate(features):
        state = mix(key, int(feature))
        if log_miss == -math.inf:
            position = 0
        else:
            u = uniform(state)
            if u <= math.exp(n_used * log_miss):
                continue
            position = math.floor(math.log(u) / log_miss)
        while position < n_used:
            state = (state + _GOLDEN) & _MASK64
            R[r, position] = 1.0 if _splitmix_finish(state) & 1 else -1.0
            if log_miss == -math.inf:
                position += 1
            else:
                state = (state + _GOLDEN) & _MASK64
                position += 1 + math.floor(math.log(uniform(_splitmix_finish(state))) / log_miss)
    return R


def simhash_codes(X, projections, n_bits, n_tables, scale=None, extra=None):
    """sign(scale * X @ R[:d] + extra * R[d]) bits packed per table."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    n, d = X.shape
    scale = np.ones(n) if scale is None else scale
    extra = np.zeros(n) if extra is None else extra
    proj = scale[:, None] * (X @ projections[:d]) + extra[:, None] * projections[d][None, :]
    bits = (proj > 0).reshape(n, n_tables, n_bits).astype(np.int64)
    return (bits << np.arange(n_bits)).sum(axis=2)


def mips_transform(W, M):
    """[w / M, sqrt(1 - |w|^2 / M^2)] row-wise, M a scalar or per-row array."""
    M = np.broadcast_to(np.asarray(M, dtype=np.float64), (W.shape[0],))
    norms = np.linalg.norm(W, axis=1)
    extra = np.sqrt(np.maximum(0.0, 1.0 - (norms / M) ** 2))
    return np.hstack([W / M[:, None], extra[:, None]])


def inclusion_probability(cos, n_bits, n_tables):
    cp = 1.0 - np.arccos(np.clip(cos, -1, 1)) / np.pi
    return 1.0 - (1.0 - cp**n_bits) ** n_tables


def bucket_members(class_codes, table, code):
    return set(np.flatnonzero(class_codes[:, table] == code).tolist())


def union_candidates(query_codes, class_codes, probe_bits=0):
    """List of sets: classes whose code differs from query i's in at most
    ``probe_bits > 0 and 1`` bit (of ``probe_bits`` bits) in any table."""
    out = []
    for row in query_codes:
        found = set()
        for t, code in enumerate(row):
            found |= bucket_members(class_codes, t, code)
            for b in range(probe_bits):
                found |= bucket_members(class_codes, t, code ^ (1 << b))
        out.append(found)
    return out


def hamming_candidates(query_codes, class_codes, radius):
    """List of sets: classes within Hamming distance ``radius`` of query i's
    code in at least one table (bit counts by Python's int.bit_count)."""
    return [
        {j for j in range(class_codes.shape[0])
         if any(int(q ^ c).bit_count() <= radius for q, c in zip(row, class_codes[j]))}
        for row in query_codes
    ]


def union_probability_by_enumeration(cp, n_bits, n_tables, table_design, probe_radius):
    """P(class in union) by summing over the number of mismatching bits per
    group (binomial), for small sizes: an independent check of the closed forms."""
    from itertools import product
    from math import comb

    groups, bits = (n_tables, n_bits) if table_design != "pairs" else (None, n_bits // 2)
    if table_design == "pairs":
        groups = int(round((1 + np.sqrt(1 + 8 * n_tables)) / 2))
    law = [comb(bits, k) * cp ** (bits - k) * (1 - cp) ** k for k in range(bits + 1)]
    total = 0.0
    for mismatches in product(range(bits + 1), repeat=groups):
        weight = np.prod([law[k] for k in mismatches])
        if table_design in ("independent", "scan"):
            hit = any(k <= probe_radius for k in mismatches)
        else:
            hit = any(mismatches[a] + mismatches[b] <= probe_radius
                      for a in range(groups) for b in range(a + 1, groups))
        total += weight * hit
    return total


def pair_scores(X, W, indptr, classes):
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(indptr))
    scores = np.einsum("ij,ij->i", X[rows], W[np.maximum(classes, 0)])
    return np.where(classes >= 0, scores, 0.0)


def segment_logsumexp(values, indptr):
    return np.array(
        [logsumexp(values[a:b]) if b > a else -np.inf for a, b in zip(indptr[:-1], indptr[1:])]
    )


def exact_log_partition(W, X):
    return logsumexp(np.asarray(X, dtype=np.float64) @ np.asarray(W, dtype=np.float64).T, axis=1)


def _row_rate(G, j, eta0, adagrad):
    return eta0 / np.sqrt(G[j] + 1e-8) if adagrad else eta0


def _apply_missed_decay(W, G, last, rows, step, eta0, alpha, adagrad):
    """Eager form of the lazy L2: every missed ``(1 - rate alpha)`` decay."""
    for j in rows:
        missed = step - last[j]
        if missed > 0 and alpha > 0:
            W[j] *= max(1 - _row_rate(G, j, eta0, adagrad) * alpha, 0.0) ** missed


def sgd_sampled_step(X, y, sample_weight, candidates, log_weights, W, b, fit_intercept, G, last, step, eta0,
                     alpha, adagrad, grad_x=None):
    """One minibatch step of the sampled softmax with row-wise AdaGrad and
    lazy L2, written eagerly: every missed decay is applied to the touched
    rows first, then the averaged gradient. Updates W, b, G, last in place.
    ``candidates[i]`` / ``log_weights[i]`` list example i's sampled classes.
    ``grad_x`` (n_rows, n_features), if given, receives the gradient with
    respect to the input rows (at the weights before the update)."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    touched = sorted(set(int(c) for cs in candidates for c in cs) | set(int(v) for v in y))

    def rate(j):
        return _row_rate(G, j, eta0, adagrad)

    _apply_missed_decay(W, G, last, touched, step, eta0, alpha, adagrad)
    grad = {j: np.zeros(W.shape[1]) for j in touched}
    grad_b = {j: 0.0 for j in touched}
    loss = 0.0
    for i in range(X.shape[0]):
        score = lambda j: X[i] @ W[j] + (b[j] if fit_intercept else 0.0)  # noqa: E731
        terms = [(int(y[i]), score(y[i]))]
        terms += [(int(j), score(j) + lw) for j, lw in zip(candidates[i], log_weights[i]) if j != y[i]]
        log_z = logsumexp([t for _, t in terms])
        loss += sample_weight[i] * (log_z - terms[0][1])
        for k, (j, t) in enumerate(terms):
            coef = sample_weight[i] * (np.exp(t - log_z) - (1.0 if k == 0 else 0.0))
            grad[j] += coef * X[i]
            grad_b[j] += coef
            if grad_x is not None:
                grad_x[i] += coef * W[j]
    width = W.shape[1] + (1 if fit_intercept else 0)
    for j in touched:
        g = grad[j] + alpha * W[j]
        if adagrad:
            G[j] += (g @ g + (grad_b[j] ** 2 if fit_intercept else 0.0)) / width
        W[j] -= rate(j) * g
        if fit_intercept:
            b[j] -= rate(j) * grad_b[j]
        last[j] = step + 1
    return loss


def embedding_hidden_and_step(X, grad_hidden_fn, E, G, last, step, eta0, alpha, adagrad):
    """The low-rank input side of one step, eagerly: catch up the rows of the
    batch's features (lazy L2), ``H = X E``, ``dL/dH = grad_hidden_fn(H)``,
    then row-wise AdaGrad on ``dL/dE[f] = sum_i X[i, f] dL/dH[i] + alpha
    E[f]`` for every feature with a stored entry. Updates E, G, last in
    place; returns H. ``X`` is a CSR matrix."""
    X = X.tocsr()
    present = sorted(set(int(f) for f in X.indices))

    def rate(f):
        return _row_rate(G, f, eta0, adagrad)

    _apply_missed_decay(E, G, last, present, step, eta0, alpha, adagrad)
    H = X.toarray() @ E
    grad_hidden = grad_hidden_fn(H)
    grad_E = X.toarray().T @ grad_hidden
    for f in present:
        g = grad_E[f] + alpha * E[f]
        if adagrad:
            G[f] += (g @ g) / E.shape[1]
        E[f] -= rate(f) * g
        last[f] = step + 1
    return H


def softmax_scan(scores, intercept, offset, k, label):
    """The result of folding every block of ``scores`` through
    ``_softmax.scan_block``: the scores with the offsets added (in their
    dtype, the intercept first), the ``k`` best classes per row (ties: the
    lower index), each row's log-sum-exp and its label's score."""
    S = scores.copy()
    if intercept is not None:
        S = S + intercept
    if offset is not None:
        S = S + offset
    top = np.argsort(-S, axis=1, kind="stable")[:, :k]
    S64 = S.astype(np.float64)
    label_score = S64[np.arange(S.shape[0]), label] if label is not None else None
    return S, top, logsumexp(S64, axis=1), label_score
