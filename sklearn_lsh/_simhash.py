"""SimHash feature transformers: sign bits of random projections, as dense
features or as one-hot buckets per table.

Both reuse the hashing kernels of the LSH index (``_kernels/_hashing.py``):
rows are accumulated feature by feature in float64, so dense and CSR input
give identical codes. Gaussian projections are drawn in ``fit`` (an
``(n_features + 1, n_bits)`` float64 matrix, like
``GaussianRandomProjection``); sparse projections (``density`` set) are
generated on the fly from the seed and the feature index, so no matrix is
stored and memory does not grow with ``n_features``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._kernels import _hashing
from ._parallel import numba_threads
from ._validation import check_allocation

__all__ = ["SimHashTransformer", "SimHashBucketEncoder", "simhash_cosine"]

_MAX_BLOCK_BITS = 63


def _blocks(n_bits):
    """``(bits per block, blocks)``: equal blocks of at most 63 bits."""
    n_blocks = -(-n_bits // _MAX_BLOCK_BITS)
    return -(-n_bits // n_blocks), n_blocks


class _BaseSimHash(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Projection drawing and packed codes shared by the two transformers.

    A subclass defines ``_block_layout()``, returning ``(bits per block,
    blocks, bits used)`` of its packed codes, and ``_transform(X)`` on
    validated input, and may override ``_check_layout()`` to refuse a layout
    in ``fit``.
    """

    _parameter_constraints: dict = {
        "density": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"}), None],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.requires_fit = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the random projections; only ``X.shape[1]`` is used.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        return self._fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Draw the projections and hash X, validating X once.

        Same result as ``fit(X).transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray or sparse matrix
            As returned by ``transform``.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32])
        return self._fit(X)._transform(X)

    def transform(self, X):
        """SimHash features of the rows of X (see the class docstring).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray or sparse matrix
            ``SimHashTransformer``: ndarray of shape (n_samples, n_bits) in
            the dtype of X (+-1 or 0/1), or (n_samples, n_blocks) int64 codes
            for ``output="packed"``. ``SimHashBucketEncoder``: CSR of shape
            (n_samples, n_tables * 2**n_bits) with ``n_tables`` ones per row.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        return self._transform(X)

    def _fit(self, X):
        self._check_layout()
        n_features = X.shape[1]
        self.seed_ = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if self.density == "auto":
            self.density_ = 1.0 / np.sqrt(n_features)
        else:
            self.density_ = None if self.density is None else float(self.density)
        if self.density_ is None:
            bits, n_blocks, n_used = self._block_layout()
            check_allocation(
                f"density=None stores a dense ({n_features + 1}, {bits * n_blocks}) Gaussian projection, which",
                2 * (n_features + 1) * bits * n_blocks * 8,  # the matrix and its random draw
                "Use density='auto' (sparse projections generated on the fly, memory independent of n_features).",
            )
            projections = np.zeros((n_features + 1, bits * n_blocks))  # last row: the unused extra coordinate
            projections[:n_features, :n_used] = np.random.default_rng(self.seed_).standard_normal((n_features, n_used))
            self.projections_ = projections
        else:
            self.__dict__.pop("projections_", None)
        return self

    def _check_layout(self):
        """Every layout is valid unless a subclass says otherwise."""

    def _packed_codes(self, X):
        bits, n_blocks, n_used = self._block_layout()
        if self.density_ is not None:
            if not sp.issparse(X):
                X = sp.csr_matrix(X)  # zeros dropped: the kernel skips them anyway
            with numba_threads(self.n_jobs):
                return _hashing.hash_csr_sparse_projection(
                    X.indptr, X.indices, X.data, bits, n_blocks, n_used, self.density_, self.seed_
                )
        ones, zeros = np.ones(X.shape[0]), np.zeros(X.shape[0])
        if sp.issparse(X):
            return _hashing.hash_csr(X.indptr, X.indices, X.data, self.projections_, bits, n_blocks, ones, zeros)
        return _hashing.hash_dense(X, self.projections_, bits, n_blocks, ones, zeros)



class SimHashTransformer(_BaseSimHash):
    """Sign bits of random projections (SimHash) as features.

    Bit ``b`` of a row ``x`` is ``1`` when ``r_b . x > 0``, for random
    directions ``r_b``. Two rows at angle ``theta`` differ in a bit with
    probability ``theta / pi``, so the Hamming distance between codes
    estimates the angle (:func:`simhash_cosine`).

    Parameters
    ----------
    n_bits : int >= 1, default=64
        Number of random projections (bits per row).
    output : {"sign", "binary", "packed"}, default="sign"
        "sign": +1 / -1 floats, shape (n_samples, n_bits); "binary": 1 / 0;
        "packed": int64 codes, one column per block of up to 63 bits (equal
        blocks; bit ``b`` of block ``t`` is projection ``t * bits_per_block + b``).
        The float outputs keep the input dtype (float32 stays float32).
    density : float in (0, 1], "auto" or None, default=None
        None: Gaussian projections, drawn in ``fit`` and stored
        (``n_features x n_bits`` float64). A float: sparse projections with
        that fraction of non-zero (+-1) entries, as in scikit-learn's
        ``SparseRandomProjection``; "auto" is ``1 / sqrt(n_features)``. Sparse
        projections are generated on the fly from the seed and the feature
        index and never stored, so memory does not depend on
        ``n_features``. With very sparse projections and sparse rows many
        projections are exactly 0 (such a bit is 0 / -1): raise ``density``
        if that happens too often.
    random_state : int, RandomState instance or None, default=None
        Seeds the projections. With an int, the codes are the same in every
        process and on every machine.
    n_jobs : int or None, default=None
        numba threads that hash blocks of rows in parallel with sparse
        projections (``density`` set); None means 1, -1 all cores. The codes
        do not depend on it. Gaussian projections are hashed serially.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when X has string feature names.
    seed_ : int
        Seed of the projections drawn from ``random_state``.
    density_ : float or None
        Resolved ``density``.
    projections_ : ndarray of shape (``n_features_in_ + 1``, n_projections)
        Gaussian projections (``density=None`` only); the last row and any
        padding columns are 0.

    See Also
    --------
    SimHashBucketEncoder : one-hot bucket per table, a sparse feature map.
    sklearn.random_projection.GaussianRandomProjection

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import SimHashTransformer, simhash_cosine
    >>> X = np.random.default_rng(0).standard_normal((3, 20))
    >>> signs = SimHashTransformer(n_bits=16, random_state=0).fit_transform(X)
    >>> signs.shape, sorted(np.unique(signs).tolist())
    ((3, 16), [-1.0, 1.0])
    >>> codes = SimHashTransformer(n_bits=128, output="packed", random_state=0).fit_transform(X)
    >>> codes.shape, codes.dtype
    ((3, 3), dtype('int64'))
    >>> bool(abs(simhash_cosine(codes[:1], codes[:1], 128)[0] - 1.0) < 1e-12)
    True
    """

    _parameter_constraints: dict = {
        **_BaseSimHash._parameter_constraints,
        "n_bits": [Interval(Integral, 1, None, closed="left")],
        "output": [StrOptions({"sign", "binary", "packed"})],
    }

    def __init__(self, n_bits=64, *, output="sign", density=None, random_state=None, n_jobs=None):
        self.n_bits = n_bits
        self.output = output
        self.density = density
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = [] if self.output == "packed" else ["float64", "float32"]
        return tags

    def _block_layout(self):
        bits, n_blocks = _blocks(self.n_bits)
        return bits, n_blocks, self.n_bits

    @property
    def _n_features_out(self):
        return self._block_layout()[1] if self.output == "packed" else self.n_bits

    def _transform(self, X):
        """SimHash bits of the (validated) rows of X: an ndarray of shape
        (n_samples, n_bits), or (n_samples, n_blocks) int64 for "packed"."""
        codes = self._packed_codes(X)
        if self.output == "packed":
            return codes
        bits = self._block_layout()[0]
        out = np.empty((X.shape[0], self.n_bits), dtype=X.dtype)
        _hashing.unpack_codes(codes, bits, self.n_bits, out, -1 if self.output == "sign" else 0)
        return out


class SimHashBucketEncoder(_BaseSimHash):
    """One-hot SimHash buckets: a sparse, locality-sensitive feature map.

    Each of ``n_tables`` tables hashes a row to one of ``2**n_bits`` buckets
    (``n_bits`` sign bits of random projections). The output row is CSR with
    exactly ``n_tables`` ones, at column ``t * 2**n_bits + bucket_t``. Rows at
    a small angle share most buckets, rows far apart few, so a linear model
    on top of this encoding is non-linear in the input (a random-feature
    approximation of an angular kernel).

    Parameters
    ----------
    n_bits : int in [1, 30], default=8
        Bits per table; each table has ``2**n_bits`` buckets.
    n_tables : int >= 1, default=16
    density : float in (0, 1], "auto" or None, default=None
        As in :class:`SimHashTransformer`.
    random_state : int, RandomState instance or None, default=None
    n_jobs : int or None, default=None
        As in :class:`SimHashTransformer`.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when X has string feature names.
    seed_ : int
    density_ : float or None
    projections_ : ndarray
        Gaussian projections (``density=None`` only).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import SimHashBucketEncoder
    >>> X = np.random.default_rng(0).standard_normal((4, 10))
    >>> Z = SimHashBucketEncoder(n_bits=3, n_tables=5, random_state=0).fit_transform(X)
    >>> Z.shape, Z.format, Z.getnnz(axis=1).tolist()
    ((4, 40), 'csr', [5, 5, 5, 5])
    """

    _parameter_constraints: dict = {
        **_BaseSimHash._parameter_constraints,
        "n_bits": [Interval(Integral, 1, 30, closed="both")],
        "n_tables": [Interval(Integral, 1, None, closed="left")],
    }

    # Output columns are int32 CSR indices, and a downstream linear model
    # allocates a weight per column: refuse wider encodings up front.
    _MAX_WIDTH = 2**31 - 1

    def __init__(self, n_bits=8, n_tables=16, *, density=None, random_state=None, n_jobs=None):
        self.n_bits = n_bits
        self.n_tables = n_tables
        self.density = density
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_layout(self):
        width = self.n_tables * 2**self.n_bits
        if width > self._MAX_WIDTH:
            raise ValueError(
                f"n_tables * 2**n_bits = {self.n_tables} * 2**{self.n_bits} = {width} output columns is more than "
                f"{self._MAX_WIDTH} (int32 indices; a linear model on top would need a weight per column). "
                "Lower n_bits or n_tables."
            )

    def _block_layout(self):
        return self.n_bits, self.n_tables, self.n_bits * self.n_tables

    @property
    def _n_features_out(self):
        return self.n_tables * 2**self.n_bits

    def _transform(self, X):
        """One-hot bucket of every table for the (validated) rows of X: CSR of
        shape (n_samples, n_tables * 2**n_bits), ``n_tables`` ones per row, in
        the dtype of X."""
        codes = self._packed_codes(X)
        n_rows = X.shape[0]
        columns = codes + (np.arange(self.n_tables, dtype=np.int64) << self.n_bits)
        indptr = np.arange(0, (n_rows + 1) * self.n_tables, self.n_tables, dtype=np.int64)
        data = np.ones(n_rows * self.n_tables, dtype=X.dtype)
        index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
        return sp.csr_matrix(
            (data, columns.ravel().astype(index_dtype), indptr.astype(index_dtype)),
            shape=(n_rows, self._n_features_out),
        )


def simhash_cosine(codes_a, codes_b, n_bits: int, *, return_std: bool = False):
    """Cosine between rows estimated from their packed SimHash codes.

    With ``h`` differing bits out of ``n_bits``, the angle estimate is
    ``theta_hat = pi * h / n_bits`` and the cosine ``cos(theta_hat)``. Each
    bit differs independently with probability ``p = theta / pi``, so
    ``Var(theta_hat) = pi**2 p (1 - p) / n_bits`` and, to first order,
    ``std(cos_hat) ~= sin(theta) * pi * sqrt(p (1 - p) / n_bits)``
    (returned with ``return_std=True``, evaluated at the estimate). For
    ``n_bits=256`` and orthogonal rows that is about 0.10.

    Parameters
    ----------
    codes_a, codes_b : ndarray of int64, shape (n_rows, n_blocks)
        Packed codes (``SimHashTransformer(output="packed")``) of the rows
        to compare pairwise (row ``i`` with row ``i``), from the same fitted
        transformer.
    n_bits : int
        Bits in the codes (the transformer's ``n_bits``).
    return_std : bool, default=False

    Returns
    -------
    cosine : ndarray of shape (n_rows,)
    std : ndarray of shape (n_rows,)
        Only with ``return_std=True``.
    """
    codes_a, codes_b = np.atleast_2d(codes_a), np.atleast_2d(codes_b)
    if codes_a.shape != codes_b.shape:
        raise ValueError(f"codes_a and codes_b must have the same shape, got {codes_a.shape} and {codes_b.shape}.")
    if isinstance(n_bits, bool) or not isinstance(n_bits, Integral) or n_bits < 1:
        raise ValueError(f"n_bits must be a positive int, got {n_bits!r}.")
    distance = np.bitwise_count(np.bitwise_xor(codes_a.astype(np.int64), codes_b.astype(np.int64))).sum(axis=1)
    if (distance > n_bits).any():
        raise ValueError(
            f"codes_a and codes_b differ in up to {int(distance.max())} bits, more than n_bits={n_bits}: the codes "
            "hold bits beyond n_bits. Pass the n_bits of the transformer that made them."
        )
    p = distance / n_bits
    cosine = np.cos(np.pi * p)
    if not return_std:
        return cosine
    return cosine, np.sin(np.pi * p) * np.pi * np.sqrt(p * (1 - p) / n_bits)
