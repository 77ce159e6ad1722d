"""Numba kernels of sklearn-lsh.

Every kernel is a module-level ``@numba.njit(cache=True)`` function over
NumPy arrays and scalars only: no estimator objects, no numba typed
containers, no global random state. Randomness comes from an explicit
64-bit seed and a per-query stream number (see :mod:`._random`), so results
do not depend on how a batch is chunked.

Modules
-------
_random
    SplitMix64 streams: uniform floats, bounded integers, Gumbel noise.
_hashing
    SimHash codes of dense and CSR rows (K bits packed per table, L tables).
_retrieval
    Bucket look-up in the flat tables: union of buckets, and random draws;
    uniform draws and draws from a class prior.
_scoring
    Inner products of (query, class) pairs, segment log-sum-exp, Gumbel-max,
    parallel top-k.
_softmax
    Exact prediction: one fused pass over a cache-sized block of scores
    (offsets, finite check, online log-sum-exp, top-k, label scores), and
    the log-softmax of full rows.
_sgd
    Minibatch SGD steps of the classifier (sampled and dense) with row-wise
    AdaGrad and lazy L2.
_embedding
    The low-rank classifier's input embedding: hidden rows and their update.
_prefetch
    Software prefetch hints for kernels that read class rows at random.

Each kernel has a plain NumPy reference implementation in ``tests/``.
"""
