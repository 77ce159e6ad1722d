"""Bucket look-up kernels against NumPy/set references."""

import numpy as np
import pytest

from sklearn_lsh import LSHIndex
from sklearn_lsh._kernels import _retrieval

from . import reference


@pytest.fixture
def index_and_codes():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((300, 8))
    index = LSHIndex(n_bits=4, n_tables=5, seed=0).build(W)
    class_codes = np.empty((300, 5), dtype=np.int64)
    for t in range(5):
        lo, hi = index.table_ptr_[t], index.table_ptr_[t + 1]
        for b in range(lo, hi):
            class_codes[index.members_[index.bucket_ptr_[b] : index.bucket_ptr_[b + 1]], t] = index.bucket_keys_[b]
    queries = rng.standard_normal((25, 8))
    return index, class_codes, index.hash(queries)


def test_tables_hold_every_class_once_per_table(index_and_codes):
    index, _, _ = index_and_codes
    members = index.members_.reshape(5, 300)
    for t in range(5):
        np.testing.assert_array_equal(np.sort(members[t]), np.arange(300))
    assert index.bucket_ptr_[-1] == 5 * 300
    assert np.all(np.diff(index.bucket_ptr_) > 0)  # no empty bucket is stored


def test_stored_codes_match_reference_hash(index_and_codes):
    index, class_codes, _ = index_and_codes
    W = index.vectors_
    transformed = reference.mips_transform(W, index.class_scale_)
    expected = reference.simhash_codes(transformed[:, :-1], index.projections_, 4, 5,
                                       scale=np.ones(300), extra=transformed[:, -1])
    np.testing.assert_array_equal(class_codes, expected)


@pytest.mark.parametrize("probe_radius", [0, 1])
def test_union_matches_set_reference(index_and_codes, probe_radius):
    index, class_codes, query_codes = index_and_codes
    indptr, classes, n_scanned = _retrieval.union_candidates(
        query_codes, index.members_, index.table_ptr_, index.bucket_keys_, index.bucket_ptr_, 300,
        1 + 4 * probe_radius,
    )
    expected = reference.union_candidates(query_codes, class_codes, probe_bits=4 * probe_radius)
    if probe_radius:
        assert sum(map(len, expected)) > sum(map(len, reference.union_candidates(query_codes, class_codes)))
    for i, want in enumerate(expected):
        got = classes[indptr[i] : indptr[i + 1]].tolist()
        assert len(got) == len(set(got))  # deduplicated
        assert set(got) == want
        if not probe_radius:
            assert n_scanned[i] == sum(
                len(reference.bucket_members(class_codes, t, c)) for t, c in enumerate(query_codes[i])
            )


def test_draws_come_from_a_probed_bucket(index_and_codes):
    index, class_codes, query_codes = index_and_codes
    classes, sizes, probes = _retrieval.draw_candidates(
        query_codes, index.members_, index.table_ptr_, index.bucket_keys_, index.bucket_ptr_, 50, 5, 7, 0
    )
    assert classes.shape == sizes.shape == probes.shape == (25, 50)
    assert np.all((probes >= 1) & (probes <= 5))
    for i in range(25):
        bucket_sets = [reference.bucket_members(class_codes, t, query_codes[i, t]) for t in range(5)]
        for m in range(50):
            j = classes[i, m]
            if j < 0:
                assert all(len(b) == 0 for b in bucket_sets)  # all 5 distinct tables probed
                continue
            assert sizes[i, m] in {len(b) for b in bucket_sets if j in b}


def test_draws_do_not_depend_on_batch_chunking(index_and_codes):
    index, _, query_codes = index_and_codes
    args = (index.members_, index.table_ptr_, index.bucket_keys_, index.bucket_ptr_, 20, 3, 11)
    whole = _retrieval.draw_candidates(query_codes, *args, 0)
    tail = _retrieval.draw_candidates(query_codes[10:], *args, 10)
    for a, b in zip(whole, tail):
        np.testing.assert_array_equal(a[10:], b)


def test_uniform_classes_excluding_avoids_excluded_and_covers_rest():
    indptr = np.array([0, 3, 3, 5], dtype=np.int64)
    excluded = np.array([0, 1, 2, 5, 5], dtype=np.int64)
    out = _retrieval.uniform_classes_excluding(indptr, excluded, 4000, 6, 3, 0)
    assert set(out[0].tolist()) == {3, 4, 5}
    assert set(out[1].tolist()) == set(range(6))
    assert set(out[2].tolist()) == {0, 1, 2, 3, 4}
    counts = np.bincount(out[0], minlength=6)[3:]
    assert np.all(np.abs(counts - 4000 / 3) < 4 * np.sqrt(4000 * (1 / 3) * (2 / 3)))
    full = _retrieval.uniform_classes_excluding(np.array([0, 2]), np.array([0, 1]), 3, 2, 3, 0)
    np.testing.assert_array_equal(full, -1)


def test_uniform_classes_are_uniform():
    out = _retrieval.uniform_classes(2, 50_000, 10, 5, 0)
    counts = np.bincount(out.ravel(), minlength=10)
    assert np.all(np.abs(counts - 10_000) < 4 * np.sqrt(100_000 * 0.1 * 0.9))


def _reference_prior_merge(indptr, classes, draws):
    """NumPy reference of add_prior_draws given the drawn classes per query."""
    out_ptr, out, drawn = [0], [], []
    for i in range(indptr.shape[0] - 1):
        row = list(classes[indptr[i]:indptr[i + 1]])
        seen = set(row)
        new = []
        for j in draws[i]:
            if j not in seen:
                seen.add(j)
                new.append(j)
        out += row + new
        drawn += [False] * len(row) + [True] * len(new)
        out_ptr.append(len(out))
    return np.array(out_ptr), np.array(out, dtype=np.int64), np.array(drawn)


def test_add_prior_draws_merges_like_reference_and_draws_from_prior():
    prior = np.array([1.0, 0.0001, 3.0, 0.5, 0.5, 5.0])
    table = _retrieval.alias_table(prior)  # (probability, alias)
    indptr = np.array([0, 2, 2, 5], dtype=np.int64)
    classes = np.array([5, 1, 0, 3, 2], dtype=np.int64)
    out_ptr, out, drawn = _retrieval.add_prior_draws(indptr, classes, *table, 7, 11, 0)
    # The draws themselves, read back from an empty candidate set with the same streams.
    alone_ptr, alone, _ = _retrieval.add_prior_draws(np.zeros(4, np.int64), classes[:0], *table, 7, 11, 0)
    ref_ptr, ref, ref_drawn = _reference_prior_merge(indptr, classes, [alone[alone_ptr[i]:alone_ptr[i + 1]] for i in range(3)])
    np.testing.assert_array_equal(out_ptr, ref_ptr)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(drawn, ref_drawn)
    # Frequencies of single draws follow the prior (not normalised on input).
    n = 60_000
    ptr, single, _ = _retrieval.add_prior_draws(np.zeros(n + 1, np.int64), classes[:0], *table, 1, 3, 0)
    assert np.all(np.diff(ptr) == 1)
    counts = np.bincount(single, minlength=6)
    q = prior / prior.sum()
    assert np.all(np.abs(counts - n * q) < 4 * np.sqrt(n * q * (1 - q)) + 1)
    # Query i with stream offset k draws like query i + k with offset 0.
    p0 = _retrieval.add_prior_draws(np.zeros(6, np.int64), classes[:0], *table, 4, 9, 0)
    p2 = _retrieval.add_prior_draws(np.zeros(4, np.int64), classes[:0], *table, 4, 9, 2)
    np.testing.assert_array_equal(p0[1][p0[0][2]:], p2[1])


def test_count_negatives_matches_numpy():
    rng = np.random.default_rng(0)
    sizes = rng.integers(0, 6, 50)
    indptr = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    classes = rng.integers(0, 4, indptr[-1]).astype(np.int64)
    labels = rng.integers(0, 4, 50).astype(np.int64)
    row_of = np.repeat(np.arange(50), sizes)
    expected = np.bincount(row_of[classes != labels[row_of]], minlength=50)
    np.testing.assert_array_equal(_retrieval.count_negatives(indptr, classes, labels), expected)


@pytest.mark.parametrize("radius", [0, 1, 5, 62])
def test_hamming_candidates_match_bit_count_reference(radius):
    rng = np.random.default_rng(3)
    class_codes = rng.integers(0, 2**62, size=(200, 3), dtype=np.int64)
    query_codes = class_codes[:12] ^ (1 << rng.integers(0, 62, size=(12, 3)))  # one bit from a class
    query_codes[0] = class_codes[5] ^ 0b111  # 3 bits away in every table
    indptr, classes, n_scanned = _retrieval.hamming_candidates(query_codes, class_codes, radius)
    expected = reference.hamming_candidates(query_codes, class_codes, radius)
    for i, want in enumerate(expected):
        assert classes[indptr[i] : indptr[i + 1]].tolist() == sorted(want)
    assert np.all((200 <= n_scanned) & (n_scanned <= 600))
    if radius >= 1:
        assert all(i in expected[i] for i in range(1, 12))
    assert (5 in expected[0]) == (radius >= 3)


def test_deduplication_memory_does_not_grow_with_the_number_of_classes():
    # The union, the prior draws and the excluding uniform draws deduplicate
    # in a set sized by the query's candidates, not a C-sized array: with
    # C = 2**40 the kernels would otherwise need 8 TiB.
    huge = 2**40
    members = np.array([3, 5, 5, 9], dtype=np.int32)
    codes = np.array([[1], [1]], dtype=np.int64)
    table_ptr, keys, bucket_ptr = np.array([0, 1]), np.array([1]), np.array([0, 4])
    indptr, classes, scanned = _retrieval.union_candidates(codes, members, table_ptr, keys, bucket_ptr, huge, 1)
    np.testing.assert_array_equal(indptr, [0, 3, 6])
    np.testing.assert_array_equal(classes, [3, 5, 9, 3, 5, 9])
    np.testing.assert_array_equal(scanned, [4, 4])
    drawn = _retrieval.uniform_classes_excluding(np.array([0, 2]), np.array([7, 7]), 50, 8, 1, 0)
    assert set(drawn.ravel()) <= set(range(7))
    table = _retrieval.alias_table(np.ones(1000))
    ptr, out, new = _retrieval.add_prior_draws(np.array([0, 2]), np.array([4, 2]), *table, 3000, 1, 0)
    assert out[:2].tolist() == [4, 2] and len(set(out.tolist())) == out.shape[0] and not new[:2].any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alias_table_gives_exactly_the_prior(seed):
    # The distribution an alias table implies, sum over columns k of
    # (p_k [j == k] + (1 - p_k) [j == alias_k]) / n, equals the normalised
    # weights (a uniform column then a coin: O(1) per draw).
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.0, 500) + 1e-6  # heavy-tailed, as word frequencies
    weights[:3] = [1e-9, 1e3, 1.0]
    probability, alias = _retrieval.alias_table(weights)
    assert ((probability >= 0) & (probability <= 1 + 1e-12)).all()
    implied = np.bincount(np.arange(500), probability, minlength=500)
    implied += np.bincount(alias, 1 - probability, minlength=500)
    np.testing.assert_allclose(implied / 500, weights / weights.sum(), rtol=1e-9, atol=1e-15)
