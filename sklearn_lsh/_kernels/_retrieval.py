"""Bucket look-up in flat (K, L) hash tables.

Table layout (built by :class:`sklearn_lsh.LSHIndex`), all flat arrays:

``members``     int32 (n_tables * n_classes,): class ids; table ``t`` occupies
                ``[t * n_classes, (t + 1) * n_classes)``, sorted by bucket id.
``table_ptr``   int64 (n_tables + 1,): table ``t`` owns buckets
                ``table_ptr[t] : table_ptr[t + 1]``.
``bucket_keys`` int64 (n_buckets,): bucket ids, sorted within each table.
``bucket_ptr``  int64 (n_buckets + 1,): bucket ``b`` holds
                ``members[bucket_ptr[b] : bucket_ptr[b + 1]]``.

The ``table_design="scan"`` index keeps instead one code per class and
table, ``class_codes`` int64 (n_classes, n_tables), compared with the
query's by Hamming distance (:func:`hamming_candidates`).
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ._random import randint, seed_stream, uniform


@numba.njit(cache=True, inline="always")
def find_bucket(bucket_keys, lo, hi, code):
    """Index of ``code`` in the sorted ``bucket_keys[lo:hi]``, or -1."""
    while lo < hi:
        mid = (lo + hi) >> 1
        key = bucket_keys[mid]
        if key < code:
            lo = mid + 1
        elif key > code:
            hi = mid
        else:
            return mid
    return -1


@numba.njit(cache=True, inline="always")
def probe_code(code, probe):
    """Probe 0 is the query's own bucket; probe ``b + 1`` flips bit ``b``."""
    if probe == 0:
        return code
    return code ^ (np.int64(1) << (probe - 1))


@numba.njit(cache=True, inline="always")
def _set_capacity(n_items):
    """A power of two >= 2 * n_items (at least 16): the slots of a
    :func:`_set_add` table for that many items (load <= 1/2)."""
    capacity = 16
    while capacity < 2 * n_items:
        capacity *= 2
    return capacity


@numba.njit(cache=True, inline="always")
def _set_add(keys, stamps, stamp, key):
    """Insert ``key`` (>= 0) into the open-addressing set ``keys`` whose live
    slots are those with ``stamps == stamp``; True if it was new. Each query
    uses its own stamp, so the table is never cleared: memory and time are
    proportional to the query's candidates, not to the number of classes."""
    mask = keys.shape[0] - 1
    slot = (np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    slot = np.int64(slot) & mask
    while stamps[slot] == stamp:
        if keys[slot] == key:
            return False
        slot = (slot + 1) & mask
    stamps[slot] = stamp
    keys[slot] = key
    return True


@numba.njit(cache=True, inline="always")
def _set_contains(keys, stamps, stamp, key):
    """Whether ``key`` is in the set of :func:`_set_add`."""
    mask = keys.shape[0] - 1
    slot = np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
    while stamps[slot] == stamp:
        if keys[slot] == key:
            return True
        slot = (slot + 1) & mask
    return False


@numba.njit(cache=True)
def union_candidates(query_codes, members, table_ptr, bucket_keys, bucket_ptr, n_classes, n_probes):
    """Deduplicated union of each query's buckets over all tables.

    ``n_probes`` buckets are looked up per table: 1 (the query's bucket) or
    ``1 + n_bits`` (also every bucket one bit away, multi-probe radius 1).
    Returns ``(indptr, classes, n_scanned)``: the classes of query ``i`` are
    ``classes[indptr[i]:indptr[i + 1]]`` (in order of first retrieval), and
    ``n_scanned[i]`` counts bucket members read, repeats included.
    """
    n_queries, n_tables = query_codes.shape
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    n_scanned = np.zeros(n_queries, dtype=np.int64)
    buckets = np.full((n_queries, n_tables * n_probes), -1, dtype=np.int64)
    largest = 0
    for i in range(n_queries):  # the buckets first: their sizes bound the set
        for t in range(n_tables):
            for probe in range(n_probes):
                b = find_bucket(bucket_keys, table_ptr[t], table_ptr[t + 1], probe_code(query_codes[i, t], probe))
                if b >= 0:
                    buckets[i, t * n_probes + probe] = b
                    n_scanned[i] += bucket_ptr[b + 1] - bucket_ptr[b]
        largest = max(largest, n_scanned[i])
    capacity = _set_capacity(min(largest, n_classes))
    keys = np.empty(capacity, dtype=np.int64)
    stamps = np.full(capacity, -1, dtype=np.int64)
    classes = np.empty(max(64, 16 * n_queries), dtype=np.int32)  # grown by doubling
    n_out = 0
    for i in range(n_queries):
        for k in range(n_tables * n_probes):
            b = buckets[i, k]
            if b < 0:
                continue
            for ptr in range(bucket_ptr[b], bucket_ptr[b + 1]):
                j = members[ptr]
                if _set_add(keys, stamps, i, j):
                    if n_out == classes.shape[0]:
                        grown = np.empty(2 * n_out, dtype=np.int32)
                        grown[:n_out] = classes
                        classes = grown
                    classes[n_out] = j
                    n_out += 1
        indptr[i + 1] = n_out
    return indptr, classes[:n_out].copy(), n_scanned


@intrinsic
def _ctpop(typingctx, value):
    """``llvm.ctpop.i64``: the number of set bits (one POPCNT instruction)."""
    if value != types.int64:
        return None

    def codegen(context, builder, signature, args):
        int64 = ir.IntType(64)
        function = builder.module.declare_intrinsic("llvm.ctpop", [int64])
        return builder.call(function, [args[0]])

    return types.int64(types.int64), codegen


@numba.njit(cache=True, inline="always")
def popcount(value):
    """Set bits of a non-negative int64."""
    return _ctpop(np.int64(value))


@numba.njit(cache=True, inline="always")
def _within_radius(query_codes, class_codes, i, j, radius):
    """Whether class ``j`` is within ``radius`` bits of query ``i`` in some
    table, and how many codes were compared to find out."""
    n_tables = query_codes.shape[1]
    for t in range(n_tables):
        if popcount(query_codes[i, t] ^ class_codes[j, t]) <= radius:
            return True, t + 1
    return False, n_tables


@numba.njit(cache=True)
def hamming_candidates(query_codes, class_codes, radius):
    """Classes whose code is within Hamming distance ``radius`` of the
    query's in at least one table: a linear scan of all class codes.

    ``query_codes`` is (n_queries, n_tables) and ``class_codes``
    (n_classes, n_tables). Returns ``(indptr, classes, n_scanned)`` as
    :func:`union_candidates` does; classes come in increasing order and
    ``n_scanned[i]`` counts the codes compared for query ``i``. Two passes
    (count, then fill) keep the inner loop free of array reallocation,
    which made a one-pass version 100x slower.
    """
    n_queries = query_codes.shape[0]
    n_classes = class_codes.shape[0]
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    n_scanned = np.zeros(n_queries, dtype=np.int64)
    for i in range(n_queries):
        found = 0
        compared = 0
        for j in range(n_classes):
            hit, n = _within_radius(query_codes, class_codes, i, j, radius)
            found += hit
            compared += n
        indptr[i + 1] = indptr[i] + found
        n_scanned[i] = compared
    classes = np.empty(indptr[n_queries], dtype=np.int32)
    for i in range(n_queries):
        out = indptr[i]
        for j in range(n_classes):
            hit, _ = _within_radius(query_codes, class_codes, i, j, radius)
            if hit:
                classes[out] = j
                out += 1
    return indptr, classes, n_scanned


@numba.njit(cache=True)
def draw_candidates(
    query_codes, members, table_ptr, bucket_keys, bucket_ptr, n_draws, max_probes, seed, stream_offset
):
    """Draw-form sampling: per draw, probe random distinct tables until a
    non-empty bucket is found (at most ``max_probes``), then pick one member
    uniformly.

    Returns ``(classes, bucket_sizes, probes)``, each (n_queries, n_draws).
    ``classes`` is -1 (and ``bucket_sizes`` 0) where every probe was empty;
    ``probes`` is the number of tables looked up for the draw. Query ``i``
    uses random stream ``stream_offset + i`` of ``seed``.
    """
    n_queries, n_tables = query_codes.shape
    classes = np.full((n_queries, n_draws), -1, dtype=np.int64)
    bucket_sizes = np.zeros((n_queries, n_draws), dtype=np.int64)
    probes = np.zeros((n_queries, n_draws), dtype=np.int64)
    order = np.empty(n_tables, dtype=np.int64)
    state = np.empty(1, dtype=np.uint64)
    for i in range(n_queries):
        seed_stream(state, seed, stream_offset + i)
        for t in range(n_tables):
            order[t] = t
        for m in range(n_draws):
            # Partial Fisher-Yates over ``order``: distinct tables, uniformly
            # (any starting permutation gives a uniform random prefix).
            probes[i, m] = max_probes
            for probe in range(max_probes):
                swap = probe + randint(state, n_tables - probe)
                t = order[swap]
                order[swap] = order[probe]
                order[probe] = t
                b = find_bucket(bucket_keys, table_ptr[t], table_ptr[t + 1], query_codes[i, t])
                if b >= 0:
                    size = bucket_ptr[b + 1] - bucket_ptr[b]
                    classes[i, m] = members[bucket_ptr[b] + randint(state, size)]
                    bucket_sizes[i, m] = size
                    probes[i, m] = probe + 1
                    break
    return classes, bucket_sizes, probes


@numba.njit(cache=True)
def uniform_classes(n_queries, n_samples, n_classes, seed, stream_offset):
    """Classes drawn uniformly with replacement, shape (n_queries, n_samples)."""
    out = np.empty((n_queries, n_samples), dtype=np.int64)
    state = np.empty(1, dtype=np.uint64)
    for i in range(n_queries):
        seed_stream(state, seed, stream_offset + i)
        for m in range(n_samples):
            out[i, m] = randint(state, n_classes)
    return out


@numba.njit(cache=True)
def uniform_classes_excluding(indptr, excluded, n_samples, n_classes, seed, stream_offset):
    """Per query, ``n_samples`` classes drawn uniformly with replacement from
    the classes *not* in ``excluded[indptr[i]:indptr[i + 1]]`` (rejection
    sampling; a query whose exclusion covers every class gets -1s)."""
    n_queries = indptr.shape[0] - 1
    out = np.full((n_queries, n_samples), -1, dtype=np.int64)
    largest = 0
    for i in range(n_queries):
        largest = max(largest, indptr[i + 1] - indptr[i])
    keys = np.empty(_set_capacity(largest), dtype=np.int64)  # not C-sized: see _set_add
    stamps = np.full(keys.shape[0], -1, dtype=np.int64)
    state = np.empty(1, dtype=np.uint64)
    for i in range(n_queries):
        n_excluded = 0
        for ptr in range(indptr[i], indptr[i + 1]):
            if _set_add(keys, stamps, i, excluded[ptr]):
                n_excluded += 1
        if n_excluded >= n_classes:
            continue
        seed_stream(state, seed, stream_offset + i)
        for m in range(n_samples):
            j = randint(state, n_classes)
            while _set_contains(keys, stamps, i, j):
                j = randint(state, n_classes)
            out[i, m] = j
    return out


@numba.njit(cache=True)
def alias_table(weights):
    """Walker's alias table of positive ``weights`` (any scale; Vose's
    stable construction): ``(probability, alias)`` such that drawing a
    column ``k`` uniformly, then keeping ``k`` with ``probability[k]`` or
    else taking ``alias[k]``, draws class ``j`` with probability
    ``weights[j] / sum(weights)`` in O(1)."""
    n = weights.shape[0]
    scaled = weights * (n / weights.sum())
    probability = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    n_small = n_large = 0
    for j in range(n):
        if scaled[j] < 1.0:
            small[n_small] = j
            n_small += 1
        else:
            large[n_large] = j
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        n_large -= 1
        s, g = small[n_small], large[n_large]
        probability[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            small[n_small] = g
            n_small += 1
        else:
            large[n_large] = g
            n_large += 1
    # what is left has probability 1 (up to rounding): it keeps its column
    return probability, alias


@numba.njit(cache=True)
def add_prior_draws(indptr, classes, alias_probability, alias, n_draws, seed, stream_offset):
    """Each query's candidates plus ``n_draws`` draws (with replacement) from
    a class prior, deduplicated.

    Query ``i`` holds the distinct ``classes[indptr[i]:indptr[i + 1]]``;
    these come first, in their order, then the drawn classes that are new,
    in the order drawn. The prior is given by its :func:`alias_table`: a
    draw is a uniform column and a uniform coin, O(1) whatever the number
    of classes. Query ``i`` uses random stream ``stream_offset + i``.
    Returns ``(indptr, classes, drawn)``, ``drawn`` True for the classes
    added by the draws.
    """
    n_queries = indptr.shape[0] - 1
    n_classes = alias.shape[0]
    out_ptr = np.zeros(n_queries + 1, dtype=np.int64)
    out_classes = np.empty(classes.shape[0] + n_queries * n_draws, dtype=np.int64)
    drawn = np.zeros(out_classes.shape[0], dtype=np.bool_)
    largest = 0
    for i in range(n_queries):
        largest = max(largest, indptr[i + 1] - indptr[i])
    keys = np.empty(_set_capacity(largest + n_draws), dtype=np.int64)  # not C-sized: see _set_add
    stamps = np.full(keys.shape[0], -1, dtype=np.int64)
    state = np.empty(1, dtype=np.uint64)
    n_out = 0
    for i in range(n_queries):
        for ptr in range(indptr[i], indptr[i + 1]):
            _set_add(keys, stamps, i, classes[ptr])
            out_classes[n_out] = classes[ptr]
            n_out += 1
        seed_stream(state, seed, stream_offset + i)
        for _ in range(n_draws):
            j = randint(state, n_classes)
            if uniform(state) >= alias_probability[j]:
                j = alias[j]
            if _set_add(keys, stamps, i, j):
                out_classes[n_out] = j
                drawn[n_out] = True
                n_out += 1
        out_ptr[i + 1] = n_out
    return out_ptr, out_classes[:n_out].copy(), drawn[:n_out].copy()


@numba.njit(cache=True)
def count_negatives(indptr, classes, labels):
    """Per query, the candidates ``classes[indptr[i]:indptr[i + 1]]`` other
    than its label ``labels[i]`` (no temporaries of the candidates' size)."""
    n_queries = indptr.shape[0] - 1
    counts = np.zeros(n_queries, dtype=np.int64)
    for i in range(n_queries):
        for ptr in range(indptr[i], indptr[i + 1]):
            if classes[ptr] != labels[i]:
                counts[i] += 1
    return counts
