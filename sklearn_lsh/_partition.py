"""Estimators of the softmax partition function log Z(x) = log sum_j exp(w_j . x).

One public entry point, :func:`estimate_log_partition`, dispatches to the
exact value and five estimators (method.md sections 3 and 4). Every
estimate is formed in log space, and every method reports the
d-dimensional inner products it computed, hashing included.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_random_state, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

from ._index import LSHIndex
from ._prior import prior_draw_tables
from ._rng import CallStreams
from ._samplers import SAMPLER_NAMES, SAMPLERS, SamplerSettings, make_sampler
from ._validation import check_class_prior

__all__ = ["estimate_log_partition", "PartitionWork", "EmptySampleWarning", "METHODS"]


class EmptySampleWarning(UserWarning):
    """Some queries retrieved no class, so their estimate of Z is 0 (log Z = -inf)."""


#: Default options of each built-in method (from the sampler registry,
#: ``SAMPLERS[method].partition_options``); an option not listed for a
#: method is an error.
METHOD_OPTIONS = {name: dict(cls.partition_options) for name, cls in SAMPLERS.items()}
METHODS = tuple(METHOD_OPTIONS)

_OPTION_CONSTRAINTS = {
    "n_bits": [Interval(Integral, 1, 63, closed="both")],
    "n_tables": [Interval(Integral, 1, None, closed="left")],
    "n_norm_ranges": [Interval(Integral, 1, None, closed="left")],
    "table_design": [StrOptions({"independent", "pairs", "scan"})],
    "probe_radius": [Interval(Integral, 0, 63, closed="both")],
    "n_samples": [Interval(Integral, 1, None, closed="left")],
    "max_probes": [Interval(Integral, 1, None, closed="left"), None],
    "n_top": [Interval(Integral, 1, None, closed="left")],
    "n_prior_samples": [Interval(Integral, 0, None, closed="left")],
    "class_prior": ["array-like", None],
}


@dataclass(frozen=True)
class PartitionWork:
    """Work done by one call of :func:`estimate_log_partition`.

    Inner products are d-dimensional (one per class scored, ``n_bits``
    per table for hashing a query, one for a query norm). Building the
    tables is a one-off cost over the class vectors, reported separately.

    Attributes
    ----------
    method : str
    n_queries : int
    inner_products_per_query : float
        Hashing plus scoring, per query: the figure to compare at equal budget.
    hash_inner_products_per_query : float
    score_inner_products_per_query : float
    mean_sample_size : float
        Classes scored per query (distinct classes for "lsh"; draws that
        found a class for "lsh-draw"; top + tail for "mips-gumbel"; C for
        "exact" and "gumbel").
    build_inner_products : int
        Inner products spent hashing the class vectors into the tables.
    n_empty : int
        Queries whose estimate is Z = 0 (log Z = -inf): nothing retrieved.
    n_floored : int
        Sampled classes whose inclusion probability was floored at
        ``sklearn_lsh._index.MIN_PROBABILITY`` (a recorded bias; normally 0).
    mean_probes : float or None
        Tables probed per draw ("lsh-draw" only).
    scanned_per_query : float
        Integer work of the union retrieval per query ("lsh",
        "mips-gumbel"; 0 otherwise), not counted in the inner products:
        bucket members read (table designs) or class codes
        compared (``table_design="scan"``, ``n_classes * n_tables``).
    """

    method: str
    n_queries: int
    inner_products_per_query: float
    hash_inner_products_per_query: float
    score_inner_products_per_query: float
    mean_sample_size: float
    build_inner_products: int
    n_empty: int
    n_floored: int
    mean_probes: float | None = None
    scanned_per_query: float = 0.0


def _check_options(method, options):
    allowed = SAMPLERS[method].partition_options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        raise TypeError(
            f"estimate_log_partition got unexpected option(s) {unknown} for method={method!r}; "
            f"valid options are: {valid}."
        )
    params = {**allowed, **options}
    validate_parameter_constraints(
        {k: _OPTION_CONSTRAINTS[k] for k in params}, params, caller_name="estimate_log_partition"
    )
    if params.get("table_design") == "scan" and method == "lsh-draw":
        raise ValueError(
            "table_design='scan' retrieves by a Hamming scan, which has no draw form; use method='lsh' "
            "or 'mips-gumbel', or table_design='independent' or 'pairs' for 'lsh-draw'."
        )
    radius = params.get("probe_radius", 0)
    if params.get("table_design") == "scan" and radius > params["n_bits"]:
        raise ValueError(
            f"probe_radius={radius} exceeds n_bits={params['n_bits']}: a code has n_bits bits, so a radius "
            "of n_bits already retrieves every class."
        )
    if params.get("table_design") in ("independent", "pairs") and radius > 1:
        raise ValueError(
            f"probe_radius={radius} needs table_design='scan'; the bucket tables probe radius 0 or 1."
        )
    if params.get("max_probes") is not None and params["max_probes"] > params["n_tables"]:
        raise ValueError(
            f"max_probes={params['max_probes']} exceeds n_tables={params['n_tables']}: a draw probes "
            "distinct tables. Use max_probes <= n_tables, or None for all tables."
        )
    return params


@validate_params(
    {
        "W": ["array-like"],
        "X": ["array-like", "sparse matrix"],
        "method": [StrOptions(SAMPLER_NAMES)],
        "random_state": ["random_state"],
        "return_work": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def estimate_log_partition(W, X, method="lsh", *, random_state=None, return_work=False, **options):
    """Estimate the log partition function ``log Z(x)`` for each row x of X.

    ``Z(x) = sum_j exp(w_j . x)`` sums over the rows ``w_j`` of ``W``.

    Parameters
    ----------
    W : array-like of shape (n_classes, n_features)
        Class vectors (fold a bias in as an extra feature). float32 or
        float64; finite; at least one class.
    X : {array-like, sparse matrix} of shape (n_queries, n_features)
        Queries, dense or CSR.
    method : {"lsh", "lsh-draw", "exact", "uniform", "prior", "gumbel", "mips-gumbel"}, default="lsh"
        - ``"exact"``: stable log-sum-exp over all classes (C inner products).
        - ``"lsh"``: union form, Horvitz-Thompson over the deduplicated union
          S of the query's buckets, ``Z = sum_{j in S} exp(s_j) / P_j``.
        - ``"lsh-draw"``: draw form, ``n_samples`` draws of (random table,
          uniform bucket member), ``Z = mean exp(s_j) |B| / P_l``.
        - ``"uniform"``: ``n_samples`` uniform draws, ``Z = C / N sum exp(s_j)``.
        - ``"prior"``: ``n_samples`` draws with replacement from
          ``class_prior`` ``q``; each distinct class ``j`` drawn counts
          ``exp(s_j) / (1 - (1 - q_j) ** n)`` (Horvitz-Thompson).
        - ``"gumbel"``: exact Gumbel-max, mean over ``n_samples`` draws of
          ``max_j (s_j + G_j)`` minus Euler's gamma (C inner products,
          ``C * n_samples`` Gumbel variates).
        - ``"mips-gumbel"``: the ``n_top`` best classes of the LSH union summed
          exactly plus ``n_samples`` uniform draws from the other classes
          scaled by ``(C - n_top) / n_samples`` (partition form of Mussmann &
          Ermon, 2016).
    random_state : int, RandomState instance or None, default=None
        Seeds the hash projections and the draws. Pass an int for
        reproducible output.
    return_work : bool, default=False
        Also return a :class:`PartitionWork` record.
    **options
        Per-method options (an option the method does not use is an error):

        - ``n_bits`` (int in [1, 63]), ``n_tables`` (int >= 1),
          ``n_norm_ranges`` (int >= 1) and ``table_design`` ("independent",
          "pairs", or "scan" for "lsh" and "mips-gumbel"): the hash tables,
          see :class:`LSHIndex` ("lsh", "lsh-draw", "mips-gumbel").
        - ``probe_radius``: Hamming radius of the union ("lsh",
          "mips-gumbel"): 0 or 1 for the table designs, 0 to ``n_bits`` for
          "scan" (a linear scan of the class codes, reported in
          ``PartitionWork.scanned_per_query``).
        - ``n_samples`` (int >= 1): draws ("lsh-draw", "uniform", "gumbel")
          or the uniform tail ("mips-gumbel").
        - ``max_probes`` (int or None): tables tried per draw ("lsh-draw").
        - ``n_top`` (int >= 1): classes summed exactly ("mips-gumbel").
        - ``class_prior`` (array-like of shape (n_classes,), positive, or
          None for uniform): the proposal of "prior" and of the prior draws
          of "lsh" (normalised internally).
        - ``n_prior_samples`` (int >= 0, "lsh"): draws from ``class_prior``
          added to the union. Class ``j`` is then in the sample with
          probability ``pi_j = 1 - (1 - P_j) (1 - q_j) ** n``, and the
          estimate is ``sum exp(s_j) / pi_j`` (``P_j`` of a drawn class that
          was not retrieved is scored like the union's, one inner product).

        Defaults are in ``sklearn_lsh.METHOD_OPTIONS``.

    Returns
    -------
    log_z : ndarray of shape (n_queries,)
        Estimates of log Z, float64. The estimators are unbiased for Z
        ("lsh" exactly, "lsh-draw" with ``max_probes=1``, "uniform",
        "mips-gumbel"), hence biased low for log Z (Jensen). A query whose
        sample is empty gets ``-inf`` and an :class:`EmptySampleWarning`.
    work : PartitionWork
        Only with ``return_work=True``.

    Raises
    ------
    ValueError
        Non-finite or empty ``W`` or ``X``, a feature-count mismatch, or
        options that do not fit together (``table_design="pairs"`` with an
        ``n_tables`` that is not m (m - 1) / 2, or an odd ``n_bits``;
        ``max_probes > n_tables``).
    TypeError
        An option the method does not take.
    FloatingPointError
        Finite ``W`` and ``X`` whose scores ``w_j . x`` (or squared row
        norms, for the hash tables) overflow float64: the estimate would be
        NaN or infinite. Never a silent non-finite result (``-inf`` only for
        an empty sample, with the warning above).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import estimate_log_partition
    >>> from sklearn_lsh.datasets import make_partition_problem
    >>> W, X = make_partition_problem(n_classes=2000, n_queries=5, random_state=0)
    >>> exact = estimate_log_partition(W, X, method="exact")
    >>> approx, work = estimate_log_partition(
    ...     W, X, method="lsh", n_bits=8, n_tables=10, random_state=0, return_work=True)
    >>> bool(np.all(np.abs(approx - exact) < 0.5))
    True
    >>> work.inner_products_per_query < 2000
    True
    """
    params = _check_options(method, options)
    W = check_array(W, dtype=[np.float64, np.float32], input_name="W")
    X = check_array(X, accept_sparse="csr", dtype=[np.float64, np.float32], input_name="X")
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but W has {W.shape[1]} features (columns); they must match."
        )
    if sp.issparse(X) and not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    if not sp.issparse(X):
        X = np.ascontiguousarray(X)
    W = np.ascontiguousarray(W)

    n_queries, n_classes = X.shape[0], W.shape[0]
    cls = SAMPLERS[method]
    n_prior_draws = params.get("n_prior_samples", 0)
    prior = None
    if params.get("class_prior") is not None or cls.needs_prior(n_prior_draws):
        prior = _prior_tables(params.get("class_prior"), n_classes)
    settings = SamplerSettings(
        n_classes, n_draws=params.get("n_samples", 1), n_top=params.get("n_top", 10), n_prior_draws=n_prior_draws,
        prior=prior, max_probes=params.get("max_probes"),
    )  # fmt: skip
    sampler = make_sampler(method, settings)

    rng = check_random_state(random_state)
    index_seed = int(rng.randint(np.iinfo(np.int32).max))
    sample_seed = int(rng.randint(np.iinfo(np.int32).max))

    index = None
    if cls.uses_tables:
        index = LSHIndex(
            params["n_bits"],
            params["n_tables"],
            n_norm_ranges=params["n_norm_ranges"],
            table_design=params["table_design"],
            probe_radius=params.get("probe_radius", 0),
            seed=index_seed,
        )
        index.build(W, copy=False)  # W is not changed during the call

    row_bytes = 8 * max(n_classes, 4 * (params.get("n_samples", 1) + n_prior_draws))
    chunk_rows = get_chunk_n_rows(row_bytes=row_bytes)
    log_z = np.empty(n_queries, dtype=np.float64)
    totals = {"hash": 0, "score": 0, "sample": 0, "floored": 0, "probes": 0, "scanned": 0}
    for rows in gen_batches(n_queries, chunk_rows):
        chunk = X[rows]
        streams = CallStreams(sample_seed, rows.start)
        candidates = sampler.sample(chunk, None, index, streams)
        log_z[rows], n_scored = sampler.log_partition(W, chunk, candidates, streams)
        totals["hash"] += candidates.hash_inner_products
        totals["score"] += candidates.score_inner_products + n_scored
        totals["sample"] += sampler.sample_size(candidates, chunk.shape[0])
        totals["floored"] += candidates.n_floored
        totals["probes"] += candidates.n_probes
        totals["scanned"] += candidates.n_scanned

    if np.isnan(log_z).any() or np.isposinf(log_z).any():  # defensive: every path checks its scores
        raise FloatingPointError(
            f"estimate_log_partition(method={method!r}) produced a non-finite log Z from finite W and X: their "
            "scores are too large for float64. Scale W or X down."
        )
    n_empty = int(np.isneginf(log_z).sum())
    if n_empty:
        warnings.warn(
            f"{n_empty} of {n_queries} queries sampled no class with method={method!r}, so their "
            "estimate is Z = 0 (log Z = -inf). Use fewer n_bits or more n_tables.",
            EmptySampleWarning,
            stacklevel=3,  # the caller of the validate_params wrapper
        )
    if not return_work:
        return log_z
    work = PartitionWork(
        method=method,
        n_queries=n_queries,
        inner_products_per_query=(totals["hash"] + totals["score"]) / n_queries,
        hash_inner_products_per_query=totals["hash"] / n_queries,
        score_inner_products_per_query=totals["score"] / n_queries,
        mean_sample_size=totals["sample"] / n_queries,
        build_inner_products=index.build_inner_products_ if index is not None else 0,
        n_empty=n_empty,
        n_floored=totals["floored"],
        mean_probes=totals["probes"] / (n_queries * params["n_samples"]) if method == "lsh-draw" else None,
        scanned_per_query=totals["scanned"] / n_queries,
    )
    return log_z, work


def _prior_tables(class_prior, n_classes):
    """Draw tables of a validated class prior (None: uniform)."""
    if class_prior is None:
        return prior_draw_tables(np.ones(n_classes))
    return prior_draw_tables(check_class_prior(class_prior, n_classes, f"W has {n_classes} classes (rows)"))
