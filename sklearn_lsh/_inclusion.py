"""Inclusion probabilities of the SimHash retrievals (method.md section 2):
the exact probability, over the random projections, that a class is
retrieved for a query, for each table design. No scikit-learn import."""

from __future__ import annotations

from math import comb

import numpy as np
from scipy.stats import binom

__all__ = ["log_inclusion_probability"]


def log_inclusion_probability(cosines, n_bits, n_tables, table_design="independent", probe_radius=0):
    """Log of the probability that a class is in the union of a query's buckets.

    ``cp = 1 - arccos(cos) / pi`` is the one-bit collision probability.

    - ``table_design="independent"``: ``P = 1 - (1 - cp**n_bits)**n_tables``,
      computed as ``-expm1(n_tables * log1p(-cp**n_bits))``.
    - ``table_design="pairs"``: ``n_tables = m (m - 1) / 2`` tables, each the
      concatenation of two of ``m`` independent groups of ``n_bits / 2`` bits
      (Andoni & Indyk 2006). A class is retrieved when at least two groups
      match: with ``q = cp**(n_bits / 2)``,
      ``1 - P = (1 - q)**(m - 1) * (1 + (m - 1) q)``.

    With ``probe_radius=1`` every bucket one bit away from the query's is
    probed too, so a table retrieves a class with at most one differing bit:
    ``cp**K + K cp**(K - 1) (1 - cp)`` per independent table; for pairs, with
    ``q0 = cp**h`` and ``q1 = h cp**(h - 1) (1 - cp)`` (``h = n_bits / 2``),
    ``1 - P = (1 - q0)**m + m q0 (1 - q0 - q1)**(m - 1)``.

    - ``table_design="scan"``: a class is retrieved when its code is within
      Hamming distance ``r = probe_radius`` of the query's in at least one of
      ``L`` independent codes of ``K`` bits. Mismatching bits are
      Binomial(K, 1 - cp), so ``1 - P = P(Binomial(K, 1 - cp) > r)**L``
      (``r = 0`` is the independent design).

    Cosines are clamped to [-1, 1]; everything is computed in log space, and
    each probability as a sum of disjoint events or from the small tail of a
    binomial rather than as ``1 - P(miss)``, so that tiny probabilities keep
    their relative precision (``-inf`` only for an exact 0) and near-one
    probabilities their absolute precision.

    Parameters
    ----------
    cosines : ndarray
        Cosines between the hashed (transformed) class and query vectors.
    n_bits : int
        Bits per table (K).
    n_tables : int or ndarray of int
        Number of tables looked up (L, or probes per draw).
    table_design : {"independent", "pairs", "scan"}, default="independent"
    probe_radius : int, default=0
        Hamming radius around the query's code: 0 or 1 for the table
        designs, 0 to ``n_bits`` for ``"scan"``.

    Returns
    -------
    log_p : ndarray of float64
        ``-inf`` where the probability is exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import log_inclusion_probability
    >>> p = np.exp(log_inclusion_probability(np.array([1.0, 0.0]), 2, 3))
    >>> np.round(p, 4)  # cos 1 always collides; cos 0: 1 - (1 - 0.25)**3
    array([1.    , 0.5781])
    >>> # 3 groups of 1 bit, 3 pair tables: P(at least 2 of 3 bits match) = 0.5
    >>> round(float(np.exp(log_inclusion_probability(np.array([0.0]), 2, 3, "pairs"))[0]), 12)
    0.5
    """
    cos = np.clip(np.asarray(cosines, dtype=np.float64), -1.0, 1.0)
    collision = 1.0 - np.arccos(cos) / np.pi
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_c, log_1mc = np.log(collision), np.log1p(-collision)
        if table_design == "scan":
            log_hit_one = binom.logcdf(probe_radius, n_bits, np.clip(1.0 - collision, 0.0, 1.0))
            return _log_hit_any(log_hit_one, n_tables)
        if table_design == "pairs":
            return _log_hit_pairs(log_c, log_1mc, _pair_groups(n_tables), n_bits // 2, probe_radius)
        log_per_table = n_bits * log_c
        if probe_radius:
            log_per_table = np.logaddexp(log_per_table, np.log(n_bits) + _times(n_bits - 1, log_c) + log_1mc)
        return _log_hit_any(np.minimum(log_per_table, 0.0), n_tables)


def _times(k, log_x):
    """``k * log_x`` with ``0 * -inf = 0`` (``x**0 == 1``)."""
    return np.where(k == 0, 0.0, k * log_x)


def _log_hit_any(log_p, n_tables):
    """``log(1 - (1 - p)**n_tables)`` from ``log p``, without cancellation.

    Below ``p = e**-40`` the first-order term ``n_tables * p`` is exact to
    float64 rounding and keeps its precision where ``p`` itself underflows.
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    tiny = log_p < -40.0
    direct = np.log(-np.expm1(n_tables * np.log1p(-np.exp(np.where(tiny, -40.0, log_p)))))
    return np.where(tiny, np.log(n_tables) + log_p, direct)


def _log_hit_pairs(log_c, log_1mc, m, h, probe_radius):
    """Log probability that a pair design of ``m`` groups of ``h`` bits
    retrieves a class, as a sum of disjoint events (no cancellation).

    Each group matches exactly (``q0 = cp**h``), is one bit off
    (``q1 = h cp**(h-1) (1 - cp)``), or neither. A pair table hits when both
    its groups match, or (``probe_radius=1``) one matches and the other is
    one bit off. So P = P(>= 2 groups match)
    + [radius 1] P(exactly one matches and >= 1 of the others is one bit off).
    """
    log_q0 = h * log_c
    log_1mq0 = np.log(-np.expm1(log_q0))  # log(1 - q0)
    k = np.arange(2, m + 1, dtype=np.float64).reshape((-1,) + (1,) * np.ndim(log_q0))
    log_choose = np.array([np.log(float(comb(m, int(j)))) for j in k.ravel()]).reshape(k.shape)
    terms = log_choose + _times(k, log_q0) + _times(m - k, log_1mq0)
    log_p = np.logaddexp.reduce(terms, axis=0)
    if probe_radius:
        log_q1 = np.log(h) + _times(h - 1, log_c) + log_1mc
        log_ratio = np.minimum(log_q1 - log_1mq0, 0.0)  # q1 / (1 - q0) <= 1
        log_one_off = _log_hit_any(log_ratio, m - 1)  # >= 1 of m - 1 one bit off, given not matching
        one_match = np.log(m) + log_q0 + _times(m - 1, log_1mq0) + log_one_off
        log_p = np.logaddexp(log_p, np.where(np.isneginf(log_1mq0), -np.inf, one_match))
    return log_p



def _pair_groups(n_tables):
    """m such that m (m - 1) / 2 == n_tables, or a ValueError."""
    m = int(round((1 + np.sqrt(1 + 8 * n_tables)) / 2))
    if m < 2 or m * (m - 1) // 2 != n_tables:
        lo = max(2, int((1 + np.sqrt(1 + 8 * n_tables)) / 2))
        raise ValueError(
            f"table_design='pairs' needs n_tables = m (m - 1) / 2 for m >= 2 groups (1, 3, 6, 10, 15, ...); "
            f"got n_tables={n_tables}. Nearest: {lo * (lo - 1) // 2} or {(lo + 1) * lo // 2}."
        )
    return m
