"""LSHIndex: build, query, draw, rebuild, work accounting, persistence, errors."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh import LSHIndex, log_inclusion_probability

from . import reference


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((400, 10)) * rng.uniform(0.2, 2.0, (400, 1))
    X = rng.standard_normal((30, 10))
    return W, X


def test_log_inclusion_probability_matches_direct_formula():
    cos = np.linspace(-1, 1, 41)
    for n_bits, n_tables in [(1, 1), (4, 8), (20, 3), (63, 50)]:
        got = np.exp(log_inclusion_probability(cos, n_bits, n_tables))
        np.testing.assert_allclose(got, reference.inclusion_probability(cos, n_bits, n_tables), rtol=1e-7, atol=1e-12)
    # tiny probabilities keep their relative precision (the direct formula rounds to 0)
    tiny = np.exp(log_inclusion_probability(np.array([0.0]), 60, 3))[0]
    assert tiny == pytest.approx(3 * 0.5**60, rel=1e-9)
    # clamped: cosines a hair outside [-1, 1] do not produce NaN
    assert np.isfinite(log_inclusion_probability(np.array([1 + 1e-12]), 4, 4)).all()


def _exact_log_inclusion(cos, n_bits, n_tables, design, radius):
    """The inclusion probability in exact rational arithmetic from the float
    collision probability: the miss formulas of the docstring, no rounding."""
    from fractions import Fraction
    from math import comb, log

    c = Fraction(float(1.0 - np.arccos(cos) / np.pi))
    if design == "pairs":
        m = next(m for m in range(2, 100) if m * (m - 1) // 2 == n_tables)
        h = n_bits // 2
        q0, q1 = c**h, h * c ** (h - 1) * (1 - c)
        miss = (1 - q0) ** m + m * q0 * ((1 - q0 - q1) if radius else (1 - q0)) ** (m - 1)
    elif design == "scan":
        hit = sum(comb(n_bits, j) * (1 - c) ** j * c ** (n_bits - j) for j in range(radius + 1))
        miss = (1 - hit) ** n_tables
    else:
        hit = c**n_bits + (n_bits * c ** (n_bits - 1) * (1 - c) if radius else 0)
        miss = (1 - hit) ** n_tables
    hit = 1 - miss
    if hit == 0:
        return -np.inf
    return log(hit.numerator) - log(hit.denominator)


@pytest.mark.parametrize(
    "n_bits, n_tables, design, radius",
    [(14, 3, "pairs", 1), (14, 3, "pairs", 0), (20, 15, "pairs", 1), (64, 3, "independent", 1),
     (12, 3, "scan", 2), (12, 3, "scan", 0)],  # fmt: skip
)
def test_log_inclusion_probability_has_no_cancellation_at_the_tails(n_bits, n_tables, design, radius):
    # the fuzz run found NaN for (-0.99999, 14, 3, "pairs", 1): the miss
    # probability rounded above 1; the scan design lost up to 50% relative
    # precision below 1e-15 (1 - P(miss) with P(miss) from logsf)
    cos = np.array([-1.0, -0.99999, -0.999, -0.9, -0.5, 0.0, 0.5, 0.9, 0.999])
    got = log_inclusion_probability(cos, n_bits, n_tables, design, radius)
    want = np.array([_exact_log_inclusion(c, n_bits, n_tables, design, radius) for c in cos])
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))  # only an exact 0 is -inf
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, atol=1e-12)  # atol: p to 1e-12 relative


@pytest.mark.parametrize("n_norm_ranges", [1, 7, 400])
def test_union_probabilities_are_computed_on_the_hashed_vectors(problem, n_norm_ranges):
    W, X = problem
    index = LSHIndex(n_bits=5, n_tables=6, n_norm_ranges=n_norm_ranges, seed=1).build(W)
    sample = index.query(X)
    transformed = reference.mips_transform(W, index.class_scale_)
    Q = X / np.linalg.norm(X, axis=1, keepdims=True)
    for i in range(X.shape[0]):
        lo, hi = sample.indptr[i], sample.indptr[i + 1]
        classes = sample.classes[lo:hi]
        np.testing.assert_allclose(sample.scores[lo:hi], W[classes] @ X[i], rtol=1e-10)
        cos = transformed[classes, :-1] @ Q[i]  # the query's extra coordinate is 0
        want = reference.inclusion_probability(cos, 5, 6)
        np.testing.assert_allclose(np.exp(sample.log_probabilities[lo:hi]), want, rtol=1e-9)


@pytest.mark.parametrize("m", [2, 3, 5, 12])
def test_pair_probability_matches_binomial_reference(m):
    cos = np.linspace(-1, 1, 21)
    q = (1 - np.arccos(cos) / np.pi) ** 3
    want = 1 - (1 - q) ** m - m * q * (1 - q) ** (m - 1)  # P(at least 2 of m groups match)
    got = np.exp(log_inclusion_probability(cos, 6, m * (m - 1) // 2, "pairs"))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "table_design, n_bits, n_tables, probe_radius",
    [("independent", 3, 4, 0), ("pairs", 4, 6, 0), ("independent", 2, 3, 0), ("independent", 4, 2, 1), ("pairs", 6, 3, 1), ("pairs", 4, 6, 1),
     ("scan", 6, 2, 0), ("scan", 6, 2, 1), ("scan", 8, 1, 3), ("scan", 5, 3, 2), ("scan", 4, 2, 4)],
)
def test_closed_forms_match_enumeration(table_design, n_bits, n_tables, probe_radius):
    for cp in (0.5, 0.7, 0.93):
        cos = np.cos(np.pi * (1 - cp))
        got = np.exp(log_inclusion_probability(np.array([cos]), n_bits, n_tables, table_design, probe_radius))[0]
        want = reference.union_probability_by_enumeration(cp, n_bits, n_tables, table_design, probe_radius)
        assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(
    "table_design, n_bits, n_tables, probe_radius",
    [("independent", 3, 4, 0), ("pairs", 4, 6, 0), ("independent", 5, 3, 1), ("pairs", 6, 6, 1),
     ("scan", 12, 1, 3), ("scan", 8, 2, 2)],
)
def test_union_membership_frequency_over_rebuilds_matches_p(table_design, n_bits, n_tables, probe_radius):
    # The defining property of P_j: over independent builds, class j is in
    # the query's union with probability P_j (computed on the hashed vectors).
    rng = np.random.default_rng(7)
    W = rng.standard_normal((40, 6)) * rng.uniform(0.3, 1.5, (40, 1))
    x = rng.standard_normal((1, 6))
    index = LSHIndex(
        n_bits, n_tables, n_norm_ranges=4, table_design=table_design, probe_radius=probe_radius, seed=0
    ).build(W)
    n_trials, hits, returned = 3000, np.zeros(40), np.full(40, np.nan)
    for _ in range(n_trials):
        sample = index.query(x)
        hits[sample.classes] += 1
        returned[sample.classes] = np.exp(sample.log_probabilities)  # P_j does not depend on the draw
        index.rebuild()
    cos = (W @ x[0]) / (index.class_scale_ * np.linalg.norm(x))
    p = np.exp(log_inclusion_probability(cos, n_bits, n_tables, table_design, probe_radius))
    seen = ~np.isnan(returned)
    np.testing.assert_allclose(returned[seen], p[seen], rtol=1e-9)
    frequency = hits / n_trials
    assert np.all(np.abs(frequency - p) < 4.5 * np.sqrt(p * (1 - p) / n_trials) + 1e-9)
    if table_design == "pairs" or probe_radius:
        # power: the formula of independent tables without probing is rejected
        wrong = np.exp(log_inclusion_probability(cos, n_bits, n_tables, "independent"))
        assert np.any(np.abs(frequency - wrong) > 4.5 * np.sqrt(wrong * (1 - wrong) / n_trials))


def test_pairs_design_hashes_fewer_projections(problem):
    W, X = problem
    index = LSHIndex(n_bits=8, n_tables=10, table_design="pairs", seed=0).build(W)  # m = 5 groups
    assert index.hash_cost == 5 * 4 and index.projections_.shape == (11, 20)
    codes = index.hash(X)
    assert codes.shape == (30, 10) and codes.max() < 2**8
    groups = reference.simhash_codes(X, index.projections_, 4, 5)
    first, second = np.triu_indices(5, k=1)
    np.testing.assert_array_equal(codes, groups[:, first] | (groups[:, second] << 4))
    sample = index.query(X)
    assert sample.classes.size > 0 and sample.hash_inner_products == 30 * 20


def test_norm_ranges_use_each_ranges_maximum():
    W = np.diag([1.0, 2.0, 3.0, 4.0])
    assert LSHIndex(2, 2, n_norm_ranges=1, seed=0).build(W).class_scale_.tolist() == [4, 4, 4, 4]
    assert LSHIndex(2, 2, n_norm_ranges=2, seed=0).build(W).class_scale_.tolist() == [2, 2, 4, 4]
    assert LSHIndex(2, 2, n_norm_ranges=99, seed=0).build(W).class_scale_.tolist() == [1, 2, 3, 4]


def test_dense_and_csr_queries_agree(problem):
    W, X = problem
    X[np.abs(X) < 0.8] = 0.0
    index = LSHIndex(n_bits=6, n_tables=4, seed=2).build(W)
    np.testing.assert_array_equal(index.hash(X), index.hash(sp.csr_matrix(X)))
    a, b = index.query(X), index.query(sp.csr_matrix(X))
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_allclose(a.log_probabilities, b.log_probabilities)


def test_query_classes_found_with_certainty(problem):
    W, _ = problem
    index = LSHIndex(n_bits=8, n_tables=4, n_norm_ranges=1, seed=3).build(W)
    biggest = int(np.argmax(np.linalg.norm(W, axis=1)))
    sample = index.query(W[[biggest]])
    # x = w_max: P(w_max) = [w_max / M, 0] is parallel to Q(x), cp = 1, P = 1
    assert biggest in sample.classes.tolist()
    pos = sample.classes.tolist().index(biggest)
    assert sample.log_probabilities[pos] == pytest.approx(0.0, abs=1e-12)


def test_rebuild_draws_fresh_projections_and_counts_work(problem):
    W, X = problem
    index = LSHIndex(n_bits=4, n_tables=3, seed=4).build(W)
    first = index.projections_.copy()
    assert index.n_builds_ == 1 and index.build_inner_products_ == 400 * (4 * 3 + 1)
    index.rebuild()
    assert index.n_builds_ == 2 and not np.array_equal(first, index.projections_)
    state = {name: getattr(index, name) for name in vars(index)}
    sample = index.query(X)
    assert sample.hash_inner_products == 30 * 12
    assert sample.score_inner_products == sample.classes.shape[0] + 30
    assert all(getattr(index, name) is value for name, value in state.items())  # a query changes nothing
    again = LSHIndex(n_bits=4, n_tables=3, seed=4).build(W)
    np.testing.assert_array_equal(again.projections_, first)  # same seed, same first build


def test_draw_form_sample(problem):
    W, X = problem
    index = LSHIndex(n_bits=3, n_tables=4, seed=5).build(W)
    sample = index.draw(X, 40, seed=1)
    found = sample.classes >= 0
    assert found.all()  # 3 bits, 400 classes: buckets are never all empty
    np.testing.assert_allclose(
        sample.scores, np.einsum("ij,imj->im", X, W[sample.classes]), rtol=1e-10
    )
    cos = sample.scores / (index.class_scale_[sample.classes] * np.linalg.norm(X, axis=1)[:, None])
    want = reference.inclusion_probability(cos, 3, sample.probes)
    np.testing.assert_allclose(np.exp(sample.log_probabilities), want, rtol=1e-9)
    # same seed, same draws; no seed, fresh draws
    np.testing.assert_array_equal(index.draw(X, 40, seed=1).classes, sample.classes)
    assert not np.array_equal(index.draw(X, 40).classes, index.draw(X, 40).classes)


def test_all_zero_weights_put_every_class_in_one_bucket():
    index = LSHIndex(n_bits=6, n_tables=3, seed=0).build(np.zeros((50, 4)))
    assert index.bucket_keys_.shape[0] == 3  # one bucket per table
    sample = index.query(np.ones((2, 4)))
    # cos = 0 for every class: P = 1 - (1 - 2^-6)^3, consistent with collisions
    np.testing.assert_allclose(np.exp(sample.log_probabilities), 1 - (1 - 2.0**-6) ** 3)


def test_pickle_holds_plain_arrays_and_queries_identically_in_a_fresh_process(problem, tmp_path):
    W, X = problem
    index = LSHIndex(n_bits=5, n_tables=4, seed=6).build(W)
    for value in vars(index).values():
        assert isinstance(value, (int, float, str, np.ndarray)), type(value)
    path = tmp_path / "index.pkl"
    path.write_bytes(pickle.dumps(index))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, numpy as np, sys;"
        f"index = pickle.load(open({str(path)!r}, 'rb'));"
        f"s = index.query(np.load({str(tmp_path / 'X.npy')!r}));"
        "np.save(sys.argv[1], s.classes)"
    )
    out = tmp_path / "classes.npy"
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    np.testing.assert_array_equal(np.load(out), index.query(X).classes)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_bits": 0}, ValueError, "n_bits must be in"),
        ({"n_bits": 64}, ValueError, "n_bits must be in"),
        ({"n_tables": 0}, ValueError, "n_tables must be"),
        ({"n_bits": 2.5}, TypeError, "n_bits must be an int"),
        ({"seed": -1}, ValueError, "seed must be"),
        ({"table_design": "tree"}, ValueError, "table_design must be"),
        ({"probe_radius": 2}, ValueError, "probe_radius must be 0 or 1"),
        ({"n_bits": 8, "probe_radius": 9, "table_design": "scan"}, ValueError, r"probe_radius must be an int in \[0, n_bits=8\]"),
        ({"probe_radius": -1, "table_design": "scan"}, ValueError, "probe_radius must be an int"),
        ({"probe_radius": 1.5, "table_design": "scan"}, ValueError, "probe_radius must be an int"),
        ({"n_bits": 5, "table_design": "pairs"}, ValueError, "even n_bits"),
        ({"n_bits": 6, "n_tables": 7, "table_design": "pairs"}, ValueError, "Nearest: 6 or 10"),
    ],
)
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        LSHIndex(**kwargs)


def test_bad_inputs(problem):
    W, X = problem
    with pytest.raises(ValueError, match="contains NaN"):
        LSHIndex().build(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="empty"):
        LSHIndex().build(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="2D"):
        LSHIndex().build(np.zeros(3))
    with pytest.raises(TypeError, match="dense"):
        LSHIndex().build(sp.csr_matrix(W))
    with pytest.raises(RuntimeError, match="not been built"):
        LSHIndex().query(X)
    index = LSHIndex(seed=0).build(W)
    with pytest.raises(ValueError, match="has 3 features, but the index was built on 10"):
        index.query(X[:, :3])
    with pytest.raises(ValueError, match="contains NaN or infinity"):
        index.query(np.full((1, 10), np.inf))
    with pytest.raises(ValueError, match="max_probes must be in"):
        index.draw(X, 3, max_probes=index.n_tables + 1)


def test_scan_design_retrieves_by_hamming_distance_on_the_independent_codes(problem):
    W, X = problem
    scan = LSHIndex(12, 2, table_design="scan", probe_radius=3, seed=5).build(W)
    tables = LSHIndex(12, 2, seed=5).build(W)
    np.testing.assert_array_equal(scan.hash(X), tables.hash(X))  # same codes as "independent"
    np.testing.assert_array_equal(scan.bucket_keys_, tables.bucket_keys_)
    codes = scan.hash(X)
    sample = scan.query(X)
    expected = reference.hamming_candidates(codes, scan.class_codes_, 3)
    for i, want in enumerate(expected):
        got = sample.classes[sample.indptr[i] : sample.indptr[i + 1]].tolist()
        assert got == sorted(want)
    assert np.all(sample.n_scanned <= 2 * W.shape[0]) and np.all(sample.n_scanned >= W.shape[0])
    # radius 0 of the scan is exactly the union of the independent tables
    exact_buckets = LSHIndex(12, 2, table_design="scan", probe_radius=0, seed=5).build(W).query(X)
    union = tables.query(X)
    for i in range(X.shape[0]):
        assert set(exact_buckets.classes[exact_buckets.indptr[i] : exact_buckets.indptr[i + 1]]) == set(
            union.classes[union.indptr[i] : union.indptr[i + 1]]
        )
    np.testing.assert_allclose(
        np.sort(exact_buckets.log_probabilities), np.sort(union.log_probabilities), rtol=1e-12
    )


# ------------------------------------------- generated projections (wide input)
@pytest.fixture
def generated(monkeypatch):
    """Every index generates its projections, however narrow the input."""
    from sklearn_lsh import _index

    monkeypatch.setattr(_index, "GENERATED_PROJECTIONS_ABOVE", 0)


def test_generated_projections_hash_like_the_stored_reference(generated):
    from sklearn_lsh._kernels._hashing import gaussian_rows

    rng = np.random.default_rng(0)
    W, X = rng.standard_normal((300, 12)), rng.standard_normal((40, 12))
    X[rng.random(X.shape) < 0.5] = 0.0
    index = LSHIndex(n_bits=6, n_tables=4, seed=1).build(W)
    assert index.projections_ is None
    R = gaussian_rows(np.uint64(index._projection_key), 0, 13, index.hash_cost)  # the matrix never stored
    np.testing.assert_array_equal(index.hash(X), reference.simhash_codes(X, R, 6, 4))
    np.testing.assert_array_equal(index.hash(X), index.hash(sp.csr_matrix(X)))  # dense == CSR
    a, b = index.query(X), index.query(sp.csr_matrix(X))
    np.testing.assert_array_equal(a.classes, b.classes)
    # the class codes: each class is in the bucket its own code names
    norms = np.linalg.norm(W, axis=1)
    extra = np.sqrt(np.maximum(0.0, 1.0 - (norms / index.class_scale_) ** 2))
    codes = reference.simhash_codes(W, R, 6, 4, scale=1.0 / index.class_scale_, extra=extra)
    for t in range(4):
        members = index.members_[t * 300 : (t + 1) * 300]
        keys = np.repeat(index.bucket_keys_[index.table_ptr_[t] : index.table_ptr_[t + 1]],
                         np.diff(index.bucket_ptr_[index.table_ptr_[t] : index.table_ptr_[t + 1] + 1]))  # fmt: skip
        np.testing.assert_array_equal(keys, codes[members, t])


def test_generated_projections_collide_as_simhash_requires(generated):
    # P(bit agrees) = 1 - theta / pi for Gaussian projections; the inclusion
    # probabilities (and the estimators' unbiasedness) rest on it.
    u = np.array([[1.0, 0.0, 0.0, 0.0]])
    v = np.array([[np.cos(1.0), np.sin(1.0), 0.0, 0.0]])
    agree = []
    for seed in range(300):
        index = LSHIndex(n_bits=32, n_tables=1, n_norm_ranges=1, seed=seed).build(np.vstack([u, u]))
        agree.append(32 - bin(int(index.hash(u)[0, 0] ^ index.hash(v)[0, 0])).count("1"))
    expected = 1.0 - 1.0 / np.pi
    assert abs(np.mean(agree) / 32 - expected) < 4 * np.sqrt(expected * (1 - expected) / (300 * 32))


def test_wide_input_does_not_store_the_projection_matrix():
    # 200,000 features, 126 projections: stored, the matrix would take 192 MiB
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 200_000))
    index = LSHIndex(n_bits=63, n_tables=2, seed=0).build(W)
    assert index.projections_ is None
    held = sum(v.nbytes for v in vars(index).values() if isinstance(v, np.ndarray))
    assert held < 2 * W.nbytes  # the vectors (a copy of W) and the small tables
    X = sp.random(20, 200_000, density=1e-4, format="csr", random_state=0)
    np.testing.assert_array_equal(index.hash(X), index.hash(X.toarray()))
