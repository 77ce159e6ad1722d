"""Inclusion probabilities of the SimHash retrievals (method.md section 2):
the exact probability, over the random projections, that a class is
retrieved for a query, for each table design. No scikit-learn import."""

from __future__ import annotations

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

    Cosines are clamped to [-1, 1]; everything is computed in log space so
    that tiny and near-one probabilities keep their precision.

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
    >>> float(np.exp(log_inclusion_probability(np.array([0.0]), 2, 3, "pairs"))[0])
    0.5
    """
    cos = np.clip(np.asarray(cosines, dtype=np.float64), -1.0, 1.0)
    collision = 1.0 - np.arccos(cos) / np.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        if table_design == "scan":
            log_miss_one = binom.logsf(probe_radius, n_bits, np.clip(1.0 - collision, 0.0, 1.0))
            return np.log(-np.expm1(n_tables * log_miss_one))
        if table_design == "pairs":
            m, h = _pair_groups(n_tables), n_bits // 2
            q0 = collision**h
            if probe_radius == 0:
                log_miss = (m - 1) * np.log1p(-q0) + np.log1p((m - 1) * q0)
            else:
                q1 = h * collision ** (h - 1) * (1.0 - collision)
                log_miss = np.logaddexp(m * np.log1p(-q0), np.log(m * q0) + (m - 1) * np.log1p(-np.minimum(q0 + q1, 1.0)))
            return np.log(-np.expm1(log_miss))
        per_table = collision**n_bits
        if probe_radius:
            per_table = per_table + n_bits * collision ** (n_bits - 1) * (1.0 - collision)
        return np.log(-np.expm1(n_tables * np.log1p(-np.minimum(per_table, 1.0))))


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
