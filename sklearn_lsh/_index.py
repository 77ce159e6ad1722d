"""SimHash (K, L) hash tables over the rows of a class-weight matrix.

This module deliberately has no scikit-learn import: the index is a plain
object of flat NumPy arrays and integers, so it pickles anywhere and can be
used on its own. See :doc:`method.md <method>` section 2 for the maths.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ._arrays import csr_arrays, row_norms
from ._inclusion import _pair_groups, log_inclusion_probability
from ._kernels import _hashing, _retrieval
from ._prior import log_prior_inclusion
from ._table_build import bucket_directory, norm_range_maxima, pair_scores_with_bias, vector_block, vector_norms

__all__ = ["LSHIndex", "UnionSample", "DrawSample"]

#: Above this many bytes, a build generates its Gaussian projections on the
#: fly instead of storing the (n_features + 1, hash_cost) matrix (wide, e.g.
#: sparse text, input): memory no longer grows with n_features and a CSR
#: query reads only the projection rows of its non-zero features.
GENERATED_PROJECTIONS_ABOVE = 32 * 2**20

# Inclusion probabilities are floored here (pitfall 2 of method.md): a
# retrieved class can only have P_j == 0 through a floating-point tie, and
# its weight 1 / P_j would be infinite. Floored samples are counted.
MIN_PROBABILITY = 1e-300
_LOG_MIN_PROBABILITY = np.log(MIN_PROBABILITY)


class UnionSample(NamedTuple):
    """Union-form retrieval result for a batch of queries (CSR-like layout).

    The classes of query ``i`` are ``classes[indptr[i]:indptr[i + 1]]``, each
    once, with their scores ``w_j . x`` and ``log P_j``, where
    ``P_j = 1 - (1 - cp_j**n_bits)**n_tables`` is the probability, over the
    random projections, that class ``j`` is in the union of the query's
    buckets (cp computed on the hashed, transformed vectors).
    """

    indptr: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    log_probabilities: np.ndarray
    n_scanned: np.ndarray
    n_floored: int
    #: d-dimensional inner products spent hashing the queries
    hash_inner_products: int = 0
    #: inner products spent scoring classes for their ``P_j`` (and the query norms)
    score_inner_products: int = 0

    @property
    def sizes(self) -> np.ndarray:
        """Number of distinct classes retrieved per query."""
        return np.diff(self.indptr)


class DrawSample(NamedTuple):
    """Draw-form retrieval result, arrays of shape (n_queries, n_draws).

    ``classes`` is -1 where every probed bucket was empty (that draw then
    estimates Z by 0). ``log_probabilities`` is ``log P_l`` with
    ``P_l = 1 - (1 - cp**n_bits)**l`` for ``l = probes`` (``-inf`` for an
    empty draw); a draw's estimate of Z is ``exp(score) * bucket_size / P_l``.
    """

    classes: np.ndarray
    bucket_sizes: np.ndarray
    probes: np.ndarray
    scores: np.ndarray
    log_probabilities: np.ndarray
    n_floored: int
    #: d-dimensional inner products spent hashing the queries
    hash_inner_products: int = 0
    #: inner products spent scoring the drawn classes (and the query norms)
    score_inner_products: int = 0


def _check_positive_int(value, name, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value}.")
    return int(value)


def _check_matrix(A, name, *, allow_sparse, n_features=None):
    """NumPy-only validation shared by the index's public methods."""
    if sp.issparse(A):
        if not allow_sparse:
            raise TypeError(f"{name} must be a dense array, got a sparse matrix.")
        A = sp.csr_matrix(A)
        if not A.has_canonical_format:
            A = A.copy()
            A.sum_duplicates()
        data = A.data
    else:
        A = np.asarray(A)
        if A.dtype.kind not in "fiub":
            raise ValueError(f"{name} must be numeric, got dtype {A.dtype}.")
        data = A
    if A.ndim != 2:
        raise ValueError(f"Expected a 2D array for {name}, got {A.ndim}D with shape {A.shape}.")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape={A.shape}); at least one row and one column are required.")
    if data.dtype not in (np.float32, np.float64):
        if sp.issparse(A):
            A = A.astype(np.float64)
            data = A.data
        else:
            A = data = A.astype(np.float64)
    if not np.isfinite(data).all():
        raise ValueError(f"Input {name} contains NaN or infinity.")
    with np.errstate(over="ignore"):
        norms_overflow = not np.isfinite(row_norms(A)).all()
    if norms_overflow:
        raise FloatingPointError(
            f"Input {name} has rows whose squared Euclidean norm overflows float64 (largest |value| "
            f"{np.abs(data).max():.3g}): the hash transform divides by the norms. Scale {name} down."
        )
    if n_features is not None and A.shape[1] != n_features:
        raise ValueError(f"{name} has {A.shape[1]} features, but the index was built on {n_features} features.")
    if not sp.issparse(A):
        A = np.ascontiguousarray(A)
    return A


def _checked_scores(scores):
    """Scores of (query, class) pairs, or a FloatingPointError if one
    overflows: its inclusion probability would be NaN."""
    if not np.isfinite(scores).all():
        raise FloatingPointError(
            "A score w_j . x overflows float64 (the vectors are finite, their product is not): the inclusion "
            "probabilities and estimates would be NaN. Scale the class vectors or the queries down."
        )
    return scores


_norm_range_maxima = norm_range_maxima  # (the name benchmarks/selection_rules.py imports)


class LSHIndex:
    """SimHash (K, L) hash tables over class vectors, for inner-product search.

    Each class vector ``w_j`` is mapped by the MIPS-to-cosine transform of
    Neyshabur & Srebro (2015), ``P(w) = [w / M, sqrt(1 - |w|^2 / M^2)]``, and
    a query ``x`` by ``Q(x) = [x / |x|, 0]``, so that
    ``cos(P(w_j), Q(x)) = (w_j . x) / (M |x|)``. With ``n_norm_ranges=1``,
    ``M = max_j |w_j|`` and the cosine is monotone in the score; with more
    ranges (norm-ranging LSH, Yan et al. 2018) the classes are split by norm
    into equal-size ranges and each range uses its own ``M``, which keeps
    classes of typical norm from being squeezed towards cosine 0 by a few
    large norms. The query hash does not depend on ``M``, so ranges cost
    nothing at query time, and every inclusion probability uses the ``M`` of
    its class, so the estimators built on it stay unbiased.
    Each of ``n_tables`` tables packs ``n_bits`` signed Gaussian projections
    of ``P(w_j)`` into one int64 bucket id.

    All state is flat NumPy arrays and plain integers (no dicts of lists, no
    numba containers), so the index pickles and can be rebuilt anywhere.

    Parameters
    ----------
    n_bits : int, default=8
        Bits per table (K), 1 to 63. More bits give smaller buckets.
    n_tables : int, default=16
        Number of independent tables (L). More tables retrieve more classes.
    n_norm_ranges : int, default=64
        Number of norm ranges of the transform (1: the plain transform; a
        value >= n_classes: one range per class, i.e. angular SimHash of the
        class directions).
    table_design : {"independent", "pairs", "scan"}, default="independent"
        ``"independent"``: every table has its own ``n_bits`` projections, so
        hashing a query costs ``n_bits * n_tables`` projections.
        ``"pairs"``: ``m`` groups of ``n_bits / 2`` projections, every pair of
        groups forms a table (``n_tables = m (m - 1) / 2``), so hashing costs
        ``m * n_bits / 2`` projections (Andoni & Indyk 2006).
        ``"scan"``: the codes of ``"independent"``, but :meth:`query` compares
        the query's code with every class's code and keeps the classes within
        Hamming distance ``probe_radius`` in some table. The scan is linear in
        ``n_classes`` (integer XOR and popcount, no inner products), which
        pays at moderate ``n_classes``: it lets long codes with a wide radius
        retrieve the large-score classes more reliably than exact buckets do
        for the same hashing cost. Inclusion probabilities are exact for all
        three designs.
    probe_radius : int, default=0
        Multi-probe: with 1, :meth:`query` also looks up the ``n_bits``
        buckets one bit away from the query's in every table. This costs
        bucket look-ups, not inner products; inclusion probabilities stay
        exact. With ``table_design="scan"``, any radius from 0 to ``n_bits``.
        :meth:`draw` always probes the query's own bucket (for ``"scan"``,
        the buckets of the ``"independent"`` design).
    seed : int, numpy.random.Generator or None, default=None
        Seed of the random projections (and of :meth:`draw` unless it is
        given its own). Build ``b`` uses projections drawn from
        ``numpy.random.default_rng([seed, b])``, so rebuilds are fresh and
        reproducible. ``None`` draws a seed from the operating system.

    Attributes
    ----------
    vectors_ : ndarray of shape (n_classes, n_features)
        The class vectors the tables were built from (the hashed vectors;
        inclusion probabilities are computed from them).
    class_scale_ : ndarray of shape (n_classes,)
        ``M`` of each class: the largest norm of its norm range (1.0 for a
        range of zero vectors).
    projections_ : ndarray of shape (n_features + 1, hash_cost) or None
        Gaussian projections, feature-major; None when they take more than
        ``GENERATED_PROJECTIONS_ABOVE`` bytes (32 MiB, e.g. 33,000 features
        and 126 projections): they are then generated on the fly from a key
        drawn from the seed, with identical codes for dense and CSR
        queries. The last row is for the extra
        coordinate of the transform.
    class_codes_ : ndarray of int64, shape (n_classes, n_tables)
        Only with ``table_design="scan"``: every class's code per table.
    members_ : ndarray of int32, shape (n_tables * n_classes,)
        Class ids sorted by bucket within each table.
    table_ptr_, bucket_keys_, bucket_ptr_ : ndarray of int64
        Bucket directory (see ``sklearn_lsh._kernels._retrieval``).
    n_builds_ : int
        Number of builds so far (build and rebuilds).
    build_inner_products_ : int
        d-dimensional inner products spent hashing class vectors (and their
        norms), summed over builds.

    Queries do not change the index (their work is in the sample they
    return), so one built index can answer queries from several threads.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import LSHIndex
    >>> rng = np.random.default_rng(0)
    >>> W = rng.standard_normal((1000, 16))
    >>> index = LSHIndex(n_bits=6, n_tables=8, seed=0).build(W)
    >>> sample = index.query(W[:3] * 5.0)
    >>> sample.indptr.shape, bool(np.all(sample.log_probabilities <= 0))
    ((4,), True)
    >>> all(i in sample.classes[sample.indptr[i]:sample.indptr[i + 1]] for i in range(3))
    True
    """

    def __init__(
        self,
        n_bits: int = 8,
        n_tables: int = 16,
        *,
        n_norm_ranges: int = 64,
        table_design: str = "independent",
        probe_radius: int = 0,
        seed=None,
    ):
        self.n_bits = _check_positive_int(n_bits, "n_bits", 1, 63)
        self.n_tables = _check_positive_int(n_tables, "n_tables", 1)
        self.n_norm_ranges = _check_positive_int(n_norm_ranges, "n_norm_ranges", 1)
        if table_design not in ("independent", "pairs", "scan"):
            raise ValueError(f"table_design must be 'independent', 'pairs' or 'scan', got {table_design!r}.")
        if table_design == "pairs":
            if self.n_bits % 2:
                raise ValueError(f"table_design='pairs' needs an even n_bits (two halves per table), got {n_bits}.")
            self._n_groups, self._group_bits = _pair_groups(self.n_tables), self.n_bits // 2
        else:
            self._n_groups, self._group_bits = self.n_tables, self.n_bits
        self.table_design = table_design
        if table_design == "scan":
            if not isinstance(probe_radius, numbers.Integral) or isinstance(probe_radius, bool) or not (
                0 <= probe_radius <= self.n_bits
            ):
                raise ValueError(
                    f"probe_radius must be an int in [0, n_bits={self.n_bits}] with table_design='scan', "
                    f"got {probe_radius!r}."
                )
            probe_radius = int(probe_radius)
        elif probe_radius not in (0, 1) or isinstance(probe_radius, bool):
            raise ValueError(
                f"probe_radius must be 0 or 1 (any radius up to n_bits needs table_design='scan'), got {probe_radius!r}."
            )
        self.probe_radius = probe_radius
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        elif isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**63))
        else:
            seed = _check_positive_int(seed, "seed", 0)
        self.seed = seed
        self.n_builds_ = 0
        self.build_inner_products_ = 0
        self._n_draw_calls = 0

    # ------------------------------------------------------------------ build
    def build(self, W, *, copy: bool = True) -> "LSHIndex":
        """Hash the rows of ``W`` (n_classes, n_features) into the tables.

        Parameters
        ----------
        W : array-like of shape (n_classes, n_features)
            Class vectors, float32 or float64 (other numeric types become
            float64). Must be finite and non-empty.
        copy : bool, default=True
            Keep a private copy of ``W``. With ``copy=False`` the index keeps
            a reference: if the caller later changes ``W`` in place, inclusion
            probabilities are computed from the changed vectors, which is an
            approximation (method.md, "Rebuilds").

        Returns
        -------
        self : LSHIndex
        """
        W = _check_matrix(W, "W", allow_sparse=False)
        if W.shape[0] >= 2**31:
            raise ValueError(f"W has {W.shape[0]} rows; at most 2**31 - 1 classes are supported.")
        self.vectors_ = W.copy() if copy else W
        self.__dict__.pop("_bias", None)
        return self._build()

    def _build_shared(self, W, bias) -> "LSHIndex":
        """:meth:`build` over ``[W, bias]`` without forming that matrix:
        the index keeps references to ``W`` (C-contiguous, finite) and
        ``bias`` (shape ``(n_classes,)``, or None for ``W`` alone), and its
        tables, probabilities and scores are bit-identical to those of
        ``build(np.hstack([W, bias[:, None]]))``. Package-internal: a
        classifier's prediction tables over its own weights, which the
        classifier drops whenever the weights change. The queries carry the
        ``bias`` coordinate as their last column."""
        if W.shape[0] >= 2**31:
            raise ValueError(f"W has {W.shape[0]} rows; at most 2**31 - 1 classes are supported.")
        self.vectors_ = W
        if bias is None:
            self.__dict__.pop("_bias", None)
        else:
            self._bias = bias
        return self._build()

    def _vector_block(self, lo, hi, columns=None, dtype=np.float64):
        return vector_block(self.vectors_, self.__dict__.get("_bias"), lo, hi, columns, dtype)

    def _pair_scores(self, X, indptr, classes):
        """``pair_scores`` against the class vectors (bias included)."""
        return pair_scores_with_bias(X, self.vectors_, self.__dict__.get("_bias"), indptr, classes)

    def _release(self):
        """Drop the built arrays and vectors, keeping the parameters, seed
        and counters (package-internal: before a rebuild replaces them, so
        that the old and the new tables are not held together)."""
        for name in ("vectors_", "_bias", "projections_", "class_scale_", "class_codes_", "members_", "table_ptr_",
                     "bucket_keys_", "bucket_ptr_"):  # fmt: skip
            self.__dict__.pop(name, None)

    def rebuild(self) -> "LSHIndex":
        """Rebuild the tables from ``vectors_`` with fresh random projections."""
        self._check_built()
        return self._build()

    def _build(self):
        n_classes, n_features = self.vectors_.shape[0], self._vector_width()
        n_tables = self.n_tables
        rng = np.random.default_rng([self.seed, self.n_builds_])
        if (n_features + 1) * self.hash_cost * 8 > GENERATED_PROJECTIONS_ABOVE:
            # wide input: the projections are generated on the fly from a key
            projections, self._projection_key = None, int(rng.integers(2**63))
        else:  # (no key: 0)
            projections, self._projection_key = rng.standard_normal((n_features + 1, self.hash_cost)), 0
        block = max(1, (1 << 20) // max(1, self.hash_cost))
        norms = vector_norms(self.vectors_, self.__dict__.get("_bias"), block)
        if not np.isfinite(norms).all():  # (build() checked its W; _build_shared's come from a model)
            raise FloatingPointError("The class vectors have non-finite or overflowing norms.")
        class_scale = norm_range_maxima(norms, self.n_norm_ranges)
        extra = np.sqrt(np.maximum(0.0, 1.0 - (norms / class_scale) ** 2))
        del norms
        # Codes in the bucket ids' own type (the scan design keeps int64
        # codes, which its kernel compares).
        small = np.min_scalar_type((1 << self.n_bits) - 1)
        code_dtype = np.int64 if self.table_design == "scan" else small
        codes = self._table_codes(self._hash_classes(projections, 1.0 / class_scale, extra, code_dtype))
        del extra
        if self.table_design == "scan":
            self.class_codes_ = codes  # (n_classes, n_tables), compared by Hamming distance
        members, table_ptr, bucket_keys, bucket_ptr = bucket_directory(codes, self.n_bits)
        del codes
        self.projections_ = projections
        self.class_scale_ = class_scale
        self.members_ = members
        self.table_ptr_, self.bucket_keys_, self.bucket_ptr_ = table_ptr, bucket_keys, bucket_ptr
        self.n_builds_ += 1
        self.build_inner_products_ += n_classes * (self.hash_cost + 1)
        return self

    def _hash_classes(self, projections, scale, extra, dtype):
        """Group codes of the transformed class vectors, in ``dtype``: one
        BLAS product per block of rows (bounded memory), then the signs
        packed."""
        n_classes, n_features = self.vectors_.shape[0], self._vector_width()
        if projections is None:
            return self._hash_classes_generated(scale, extra).astype(dtype)
        codes = np.empty((n_classes, self._n_groups), dtype=dtype)
        # Blocks of about 2**20 products stay in cache; the product runs in
        # BLAS in the vectors' dtype (float32 class vectors against float32
        # copies of the projections: twice the speed of float64).
        block = max(1, (1 << 20) // max(1, projections.shape[1]))
        work = np.float32 if self.vectors_.dtype == np.float32 else np.float64
        matrix = projections[:n_features].astype(work, copy=False)
        for lo in range(0, n_classes, block):
            hi = min(lo + block, n_classes)
            products = self._vector_block(lo, hi, dtype=work) @ matrix
            codes[lo:hi] = _hashing.pack_signs(
                products, scale[lo:hi], extra[lo:hi], projections[n_features], self._group_bits, self._n_groups
            ).astype(dtype)
        return codes

    def _hash_classes_generated(self, scale, extra):
        """:meth:`_hash_classes` with generated projections: blocks of about
        2**20 projection entries are generated and multiplied in turn, so
        memory does not grow with the number of features."""
        n_classes, n_features = self.vectors_.shape[0], self._vector_width()
        key, n_proj = np.uint64(self._projection_key), self.hash_cost
        products = np.zeros((n_classes, n_proj))
        block = max(1, (1 << 20) // n_proj)
        for lo in range(0, n_features, block):
            hi = min(lo + block, n_features)
            products += self._vector_block(0, n_classes, slice(lo, hi)) @ _hashing.gaussian_rows(key, lo, hi, n_proj)
        last = _hashing.gaussian_rows(key, n_features, n_features + 1, n_proj)[0]
        return _hashing.pack_signs(products, scale, extra, last, self._group_bits, self._n_groups)

    def _table_codes(self, group_codes):
        """Bucket ids per table from the hashed groups of bits."""
        if self.table_design != "pairs":
            return group_codes
        first, second = np.triu_indices(self._n_groups, k=1)
        return group_codes[:, first] | (group_codes[:, second] << self._group_bits)

    def largest_bucket_sizes(self) -> np.ndarray:
        """Classes in the largest bucket of every table, shape (n_tables,).

        A value near ``n_classes`` means the table cannot tell the classes
        apart (e.g. all-zero or identical vectors): a query that lands in that
        bucket retrieves almost every class.
        """
        self._check_built()
        return np.maximum.reduceat(np.diff(self.bucket_ptr_), self.table_ptr_[:-1])

    @property
    def hash_cost(self) -> int:
        """Projections (d-dimensional inner products) to hash one query."""
        return self._n_groups * self._group_bits

    # ------------------------------------------------------------------ query
    @property
    def n_classes(self) -> int:
        self._check_built()
        return self.vectors_.shape[0]

    @property
    def n_features(self) -> int:
        self._check_built()
        return self._vector_width()

    def _vector_width(self):
        return self.vectors_.shape[1] + (self.__dict__.get("_bias") is not None)

    def _check_built(self):
        if not hasattr(self, "members_"):
            raise RuntimeError("This LSHIndex has not been built yet; call build(W) first.")

    def _check_queries(self, X):
        self._check_built()
        return _check_matrix(X, "X", allow_sparse=True, n_features=self.n_features)

    def hash(self, X) -> np.ndarray:
        """Bucket ids of the queries ``X`` in every table, shape (n_queries, n_tables).

        ``X`` may be dense or CSR; the same rows give identical codes.
        """
        X = self._check_queries(X)
        return self._hash(X)

    def _hash(self, X):
        """Table codes of validated queries (``hash_cost`` inner products each)."""
        n = X.shape[0]
        ones, zeros = np.ones(n), np.zeros(n)
        bits, groups = self._group_bits, self._n_groups
        if self.projections_ is None:  # generated projections: CSR rows (dense ones without their zeros)
            indptr, indices, data = csr_arrays(X)
            codes = _hashing.hash_csr_generated(indptr, indices, data, np.uint64(self._projection_key), self.n_features, bits,
                                                groups, ones, zeros)  # fmt: skip
        elif sp.issparse(X):
            codes = _hashing.hash_csr(X.indptr, X.indices, X.data, self.projections_, bits, groups, ones, zeros)
        else:
            codes = _hashing.hash_dense(X, self.projections_, bits, groups, ones, zeros)
        return self._table_codes(codes)

    def _cosines(self, scores, classes, query_norms):
        denom = self.class_scale_[classes] * query_norms
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.where(denom > 0, scores / np.where(denom > 0, denom, 1.0), 0.0)
        return cos

    def query(self, X) -> UnionSample:
        """Union form: every class sharing a bucket with the query in any table.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)

        Returns
        -------
        sample : UnionSample
            Deduplicated classes per query with their scores and log
            inclusion probabilities ``log P_j``.
        """
        return self.retrieve_union(self._check_queries(X))

    def retrieve_union(self, X) -> UnionSample:
        """:meth:`query` for queries already validated (package-internal:
        finite float rows, dense C-contiguous or canonical CSR, of
        ``n_features`` columns); no checks, no change to the index."""
        codes = self._hash(X)
        if self.table_design == "scan":
            indptr, classes, n_scanned = _retrieval.hamming_candidates(codes, self.class_codes_, self.probe_radius)
        else:
            indptr, classes, n_scanned = _retrieval.union_candidates(
                codes, self.members_, self.table_ptr_, self.bucket_keys_, self.bucket_ptr_, self.n_classes,
                1 + self.probe_radius * self.n_bits,
            )
        scores, log_p, n_floored = self._union_log_probabilities(X, indptr, classes)
        n = X.shape[0]
        # scored: the classes for their P_j, and the query norms
        return UnionSample(indptr, classes, scores, log_p, n_scanned, n_floored, n * self.hash_cost,
                           classes.shape[0] + n)  # fmt: skip

    def _union_log_probabilities(self, X, indptr, classes):
        """Scores against the hashed vectors and log P_j (floored) of the
        union form for any (query, class) pairs, retrieved or not: query
        ``i`` with ``classes[indptr[i]:indptr[i + 1]]``. Returns ``(scores,
        log_p, n_floored)``."""
        scores = _checked_scores(self._pair_scores(X, indptr, classes))
        norms = np.repeat(row_norms(X), np.diff(indptr))
        log_p = log_inclusion_probability(
            self._cosines(scores, classes, norms), self.n_bits, self.n_tables, self.table_design, self.probe_radius
        )
        floored = log_p < _LOG_MIN_PROBABILITY
        np.maximum(log_p, _LOG_MIN_PROBABILITY, out=log_p)
        return scores, log_p, int(floored.sum())

    def add_prior_draws(self, X, sample, prior_tables, n_draws, seed, stream_offset) -> UnionSample:
        """``sample`` (the union of queries ``X``) plus ``n_draws`` draws per
        query from a class prior (``prior_tables`` from
        :func:`prior_draw_tables`), deduplicated. Returns a
        :class:`UnionSample` whose ``log_probabilities`` are the log
        inclusion probabilities of the combined sample,
        ``log(1 - (1 - P_j) (1 - q_j) ** n)``. The ``P_j`` of a drawn class
        that the tables did not retrieve is needed too: it is scored against
        the hashed vectors like the union's (and counted). Package-internal:
        ``X`` validated as for :meth:`retrieve_union`."""
        log1m_prior = prior_tables.log1m_prior
        indptr, classes, drawn = _retrieval.add_prior_draws(
            sample.indptr, sample.classes, prior_tables.alias_probability, prior_tables.alias, n_draws, seed,
            stream_offset,
        )  # fmt: skip
        scores, log_p = np.empty(classes.shape[0]), np.empty(classes.shape[0])
        scores[~drawn], log_p[~drawn] = sample.scores, sample.log_probabilities
        n_queries = indptr.shape[0] - 1
        drawn_rows = np.repeat(np.arange(n_queries), np.diff(indptr))[drawn]
        drawn_ptr = np.concatenate([[0], np.cumsum(np.bincount(drawn_rows, minlength=n_queries))]).astype(np.int64)
        scores[drawn], log_p[drawn], n_floored = self._union_log_probabilities(X, drawn_ptr, classes[drawn])
        log_pi = log_prior_inclusion(log1m_prior, classes, n_draws, log_p)
        return UnionSample(indptr, classes, scores, log_pi, sample.n_scanned, sample.n_floored + n_floored,
                           sample.hash_inner_products, sample.score_inner_products + int(drawn.sum()))  # fmt: skip

    def draw(self, X, n_draws: int, *, max_probes: int | None = None, seed=None, stream_offset: int = 0) -> DrawSample:
        """Draw form: per draw, probe random tables until a bucket is non-empty
        and pick one of its members uniformly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
        n_draws : int
            Draws per query (repeats are kept).
        max_probes : int, default=None
            Distinct tables tried per draw before giving up (``None``: all
            ``n_tables``). With ``max_probes=1`` the estimator is exactly
            unbiased; skipping empty buckets makes it approximately so (the
            probability ``1 - (1 - cp**K)**l`` treats the ``l`` probed tables
            as independent, which pair tables are not).
        seed : int, default=None
            Seed of the draws; ``None`` derives a fresh one from the index
            seed and a call counter.
        stream_offset : int, default=0
            Global index of the first query (query ``i`` uses random stream
            ``stream_offset + i``), so chunked batches draw like one batch.

        Returns
        -------
        sample : DrawSample
        """
        X = self._check_queries(X)
        n_draws = _check_positive_int(n_draws, "n_draws", 1)
        max_probes = self.n_tables if max_probes is None else _check_positive_int(max_probes, "max_probes", 1, self.n_tables)
        if seed is None:
            # The one state a query changes: a counter, so that repeated
            # unseeded calls draw afresh (and reproducibly from ``seed``).
            seed = int(np.random.default_rng([self.seed, self.n_builds_, self._n_draw_calls, 1]).integers(2**63))
            self._n_draw_calls += 1
        return self.retrieve_draws(X, n_draws, max_probes, seed, stream_offset)

    def retrieve_draws(self, X, n_draws, max_probes, seed, stream_offset) -> DrawSample:
        """:meth:`draw` for validated queries and arguments (package-internal,
        as :meth:`retrieve_union`); no change to the index."""
        n = X.shape[0]
        codes = self._hash(X)
        classes, sizes, probes = _retrieval.draw_candidates(
            codes, self.members_, self.table_ptr_, self.bucket_keys_, self.bucket_ptr_,
            n_draws, max_probes, seed, stream_offset,
        )
        flat = classes.ravel()
        indptr = np.arange(0, n * n_draws + 1, n_draws, dtype=np.int64)
        scores = _checked_scores(self._pair_scores(X, indptr, flat)).reshape(n, n_draws)
        norms = np.repeat(row_norms(X)[:, None], n_draws, axis=1)
        log_p = log_inclusion_probability(
            self._cosines(scores, np.maximum(classes, 0), norms), self.n_bits, probes
        )
        found = classes >= 0
        floored = found & (log_p < _LOG_MIN_PROBABILITY)
        log_p = np.where(found, np.maximum(log_p, _LOG_MIN_PROBABILITY), -np.inf)
        return DrawSample(classes, sizes, probes, scores, log_p, int(floored.sum()), n * self.hash_cost,
                          int(found.sum()) + n)  # fmt: skip

    def __repr__(self):
        built = f", n_classes={self.vectors_.shape[0]}" if hasattr(self, "members_") else ""
        return (
            f"LSHIndex(n_bits={self.n_bits}, n_tables={self.n_tables}, "
            f"n_norm_ranges={self.n_norm_ranges}, table_design={self.table_design!r}, "
            f"probe_radius={self.probe_radius}, seed={self.seed}{built})"
        )
