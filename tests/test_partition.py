"""estimate_log_partition: correctness, unbiasedness, numerics, work, errors."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from scipy.special import logsumexp
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_lsh import METHODS, EmptySampleWarning, LSHIndex, estimate_log_partition
from sklearn_lsh._kernels import _retrieval
from sklearn_lsh.datasets import make_partition_problem

from . import reference


@pytest.fixture(scope="module")
def problem():
    return make_partition_problem(n_classes=1000, n_features=16, n_queries=20, random_state=0)


def test_exact_matches_reference(problem):
    W, X = problem
    np.testing.assert_allclose(estimate_log_partition(W, X, "exact"), reference.exact_log_partition(W, X), rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_close_on_the_structured_problem(problem, method):
    W, X = problem
    exact = reference.exact_log_partition(W, X)
    options = {} if method == "exact" else {"n_samples": 400} if method in ("uniform", "gumbel", "prior") else {}
    if method in ("lsh", "mips-gumbel"):
        options = {"n_bits": 6, "n_tables": 16}
    if method == "lsh-draw":
        options = {"n_bits": 4, "n_tables": 16, "n_samples": 400}
    est = estimate_log_partition(W, X, method, random_state=0, **options)
    assert est.shape == (20,) and est.dtype == np.float64
    tolerance = {"exact": 1e-9, "gumbel": 0.3, "lsh": 0.3, "lsh-draw": 0.6, "mips-gumbel": 0.6, "uniform": 3.0,
                 "prior": 3.0}  # fmt: skip
    assert np.mean(np.abs(est - exact)) < tolerance[method]


@pytest.mark.parametrize("method", METHODS)
def test_dense_csr_float32_give_same_estimates(problem, method):
    W, X = problem
    X = X.copy()
    X[np.abs(X) < 1.0] = 0.0
    dense = estimate_log_partition(W, X, method, random_state=3)
    csr = estimate_log_partition(W, sp.csr_matrix(X), method, random_state=3)
    np.testing.assert_allclose(dense, csr, rtol=1e-9)
    single = estimate_log_partition(W.astype(np.float32), X.astype(np.float32), method, random_state=3)
    assert single.dtype == np.float64
    np.testing.assert_allclose(single, dense, atol=0.05 if method != "uniform" else 0.5)


@pytest.mark.parametrize("method", METHODS)
def test_results_do_not_depend_on_working_memory_chunks(problem, method):
    W, X = problem
    whole = estimate_log_partition(W, X, method, random_state=5)
    with sklearn.config_context(working_memory=0.02):  # ~2 queries per chunk at C=1000
        chunked = estimate_log_partition(W, X, method, random_state=5)
    np.testing.assert_allclose(whole, chunked, rtol=1e-12)


def test_random_state_reproducible_and_varies(problem):
    W, X = problem
    a = estimate_log_partition(W, X, "lsh", random_state=7)
    np.testing.assert_array_equal(a, estimate_log_partition(W, X, "lsh", random_state=7))
    assert not np.array_equal(a, estimate_log_partition(W, X, "lsh", random_state=8))


# ---------------------------------------------------------------- unbiasedness
N_TRIALS = 500


@pytest.fixture(scope="module")
def small_problem():
    # C = 500 classes in clusters; moderate temperature so several classes matter.
    W, X = make_partition_problem(n_classes=500, n_features=12, n_queries=3, query_norm=5.0,
                                  norm_spread=0.3, random_state=1)
    return W, X, np.exp(reference.exact_log_partition(W, X))


def _z_scores(estimates, truth):
    """|mean - truth| in standard errors, per query, over independent trials."""
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(estimates.shape[0])
    return np.abs(mean - truth) / se


UNBIASED_CASES = [
        ("lsh", {"n_bits": 6, "n_tables": 4, "n_norm_ranges": 1}),
        ("lsh", {"n_bits": 4, "n_tables": 2, "n_norm_ranges": 8}),
        ("lsh", {"n_bits": 6, "n_tables": 6, "n_norm_ranges": 8, "table_design": "pairs"}),
        ("lsh", {"n_bits": 8, "n_tables": 3, "n_norm_ranges": 8, "table_design": "pairs", "probe_radius": 1}),
        ("lsh", {"n_bits": 24, "n_tables": 1, "n_norm_ranges": 8, "table_design": "scan", "probe_radius": 6}),
        ("mips-gumbel", {"n_bits": 16, "n_tables": 2, "table_design": "scan", "probe_radius": 3, "n_top": 5, "n_samples": 20}),
        ("lsh-draw", {"n_bits": 2, "n_tables": 4, "n_samples": 5}),  # K small: probes rarely miss
        ("lsh-draw", {"n_bits": 5, "n_tables": 4, "n_samples": 5, "max_probes": 1}),  # exactly unbiased
        ("mips-gumbel", {"n_bits": 6, "n_tables": 2, "n_top": 5, "n_samples": 20}),
        ("uniform", {"n_samples": 50}),
        ("prior", {"n_samples": 50}),
        ("prior", {"n_samples": 30, "class_prior": np.linspace(0.1, 3.0, 500)}),
        # Few retrieved classes, so that much of the estimate comes through the prior draws.
        ("lsh", {"n_bits": 8, "n_tables": 2, "n_norm_ranges": 8, "n_prior_samples": 10,
                 "class_prior": np.linspace(0.1, 3.0, 500)}),
        ("lsh", {"n_bits": 16, "n_tables": 1, "table_design": "scan", "probe_radius": 4, "n_prior_samples": 5}),
    ]  # fmt: skip


@pytest.mark.parametrize("method, options", UNBIASED_CASES)
def test_z_estimate_is_unbiased_over_independent_rebuilds(small_problem, method, options):
    # Unbiasedness holds over the random hash functions (pitfall 8): every
    # trial builds its tables from fresh projections (a new random_state).
    W, X, Z = small_problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptySampleWarning)
        estimates = np.exp(np.array(
            [estimate_log_partition(W, X, method, random_state=t, **options) for t in range(N_TRIALS)]
        ))
    assert np.all(_z_scores(estimates, Z) < 4), _z_scores(estimates, Z)


def test_the_unbiasedness_test_detects_probabilities_from_the_wrong_vectors(small_problem):
    # The same statistic applied to a deliberately biased estimator: P_j
    # computed from the raw cosine of (w_j, x) instead of the transformed,
    # hashed vectors. It must be flagged, so the test above can fail.
    W, X, Z = small_problem
    right, wrong = [], []
    for t in range(N_TRIALS):
        index = LSHIndex(n_bits=6, n_tables=4, n_norm_ranges=1, seed=t).build(W)
        sample = index.query(X)
        raw_cos = sample.scores / (
            np.linalg.norm(W[sample.classes], axis=1) * np.repeat(np.linalg.norm(X, axis=1), sample.sizes)
        )
        log_p_wrong = np.log(reference.inclusion_probability(raw_cos, 6, 4))
        right.append([logsumexp(sample.scores[a:b] - sample.log_probabilities[a:b]) if b > a else -np.inf
                      for a, b in zip(sample.indptr[:-1], sample.indptr[1:])])
        wrong.append([logsumexp(sample.scores[a:b] - log_p_wrong[a:b]) if b > a else -np.inf
                      for a, b in zip(sample.indptr[:-1], sample.indptr[1:])])
    assert np.all(_z_scores(np.exp(np.array(right)), Z) < 4)
    assert np.any(_z_scores(np.exp(np.array(wrong)), Z) > 4)


def test_the_unbiasedness_test_detects_prior_draws_weighted_without_their_p(small_problem):
    # With prior draws added to the union, a drawn class that the tables did
    # not retrieve still had probability P_j of being retrieved. Weighting it
    # by 1 / (1 - (1 - q_j)^n) alone (as if P_j were 0) looks natural and is
    # biased upwards; the statistic of the unbiasedness test must flag it.
    W, X, Z = small_problem
    n_draws, q = 10, np.full(W.shape[0], 1.0 / W.shape[0])
    table, log1m_q = _retrieval.alias_table(q), np.log1p(-q)
    right, wrong = [], []
    for t in range(N_TRIALS):
        index = LSHIndex(n_bits=8, n_tables=2, n_norm_ranges=8, seed=t).build(W)
        sample = index.query(X)
        indptr, classes, drawn = _retrieval.add_prior_draws(sample.indptr, sample.classes, *table, n_draws, t, 0)
        scores = (X @ W.T)[np.repeat(np.arange(X.shape[0]), np.diff(indptr)), classes]
        log_p = np.full(classes.shape[0], -np.inf)
        log_p[~drawn] = sample.log_probabilities
        drawn_p = np.log(reference.inclusion_probability(index._cosines(
            scores[drawn], classes[drawn], np.repeat(np.linalg.norm(X, axis=1), np.diff(indptr))[drawn]), 8, 2))
        for estimates, p_of_drawn in ((right, drawn_p), (wrong, -np.inf)):
            log_p[drawn] = p_of_drawn
            log_pi = np.log(-np.expm1(np.log1p(-np.exp(log_p)) + n_draws * log1m_q[classes]))
            estimates.append([logsumexp(scores[a:b] - log_pi[a:b]) for a, b in zip(indptr[:-1], indptr[1:])])
    assert np.all(_z_scores(np.exp(np.array(right)), Z) < 4)
    assert np.any(_z_scores(np.exp(np.array(wrong)), Z) > 4)


# ---------------------------------------------------------------- numerics
@pytest.mark.parametrize("method", METHODS)
def test_logits_of_magnitude_1e3_give_finite_correct_log_z(method):
    W, X = make_partition_problem(n_classes=300, n_features=8, n_queries=10, query_norm=1000.0, random_state=2)
    exact = estimate_log_partition(W, X, "exact")
    scores = X @ W.T
    assert np.abs(scores).max() > 500
    # log Z ~ max score: compare with a float128-free direct form
    np.testing.assert_allclose(exact, scores.max(1) + np.log(np.exp(scores - scores.max(1, keepdims=True)).sum(1)))
    est = estimate_log_partition(W, X, method, random_state=0)
    assert np.all(np.isfinite(est))
    if method in ("exact", "lsh", "mips-gumbel", "gumbel"):
        # these score every retrieved class, so they find the dominant one
        assert np.max(np.abs(est - exact)) < 1.0
    if method == "lsh-draw":
        # a draw may miss the dominant class (high variance, not numerics):
        # check the log-space arithmetic against scipy on the same draws
        rng = np.random.RandomState(0)
        index_seed, draw_seed = rng.randint(np.iinfo(np.int32).max, size=2)
        index = LSHIndex(4, 16, n_norm_ranges=64, seed=int(index_seed)).build(W)
        sample = index.draw(X, 100, seed=int(draw_seed))
        want = logsumexp(sample.scores + np.log(sample.bucket_sizes) - sample.log_probabilities, axis=1) - np.log(100)
        np.testing.assert_allclose(est, want, rtol=1e-12)


def test_empty_samples_give_minus_inf_with_a_warning(problem):
    W, X = problem
    with pytest.warns(EmptySampleWarning, match="sampled no class"):
        est, work = estimate_log_partition(W, -X, "lsh", n_bits=40, n_tables=1, random_state=0, return_work=True)
    assert work.n_empty == np.isneginf(est).sum() > 0


# ---------------------------------------------------------------- work
def test_work_accounting(problem):
    W, X = problem
    C = W.shape[0]
    _, work = estimate_log_partition(W, X, "exact", return_work=True)
    assert work.inner_products_per_query == C and work.hash_inner_products_per_query == 0
    _, work = estimate_log_partition(W, X, "uniform", n_samples=37, return_work=True)
    assert work.inner_products_per_query == 37
    log_z, work = estimate_log_partition(W, X, "lsh", n_bits=7, n_tables=5, random_state=0, return_work=True)
    index = LSHIndex(7, 5, seed=0).build(W)
    assert work.hash_inner_products_per_query == 35
    assert work.score_inner_products_per_query == work.mean_sample_size + 1  # + the query norm
    assert work.inner_products_per_query == 36 + work.mean_sample_size
    assert work.build_inner_products == index.build_inner_products_ == C * 36
    _, work = estimate_log_partition(W, X, "lsh-draw", n_bits=3, n_tables=5, n_samples=9, return_work=True)
    assert work.inner_products_per_query <= 15 + 9 + 1 and 1 <= work.mean_probes <= 5
    assert work.scanned_per_query == 0
    _, work = estimate_log_partition(W, X, "lsh", n_bits=7, n_tables=5, random_state=0, return_work=True)
    assert 0 < work.scanned_per_query <= 5 * C  # bucket entries read
    _, work = estimate_log_partition(
        W, X, "lsh", n_bits=20, n_tables=1, table_design="scan", probe_radius=4, return_work=True
    )
    assert work.scanned_per_query == C  # every class code compared once
    assert work.hash_inner_products_per_query == 20


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("method", METHODS)
def test_bad_input_raises_clear_errors(problem, method):
    W, X = problem
    with pytest.raises(ValueError, match="X has 15 features, but W has 16"):
        estimate_log_partition(W, X[:, :15], method)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimate_log_partition(W, bad, method)
    bad = W.copy()
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input W contains infinity"):
        estimate_log_partition(bad, X, method)
    with pytest.raises(ValueError, match="0 sample"):
        estimate_log_partition(W[:0], X, method)
    with pytest.raises(ValueError, match="0 feature"):
        estimate_log_partition(W[:, :0], X[:, :0], method)
    with pytest.raises(ValueError, match="Expected 2D"):
        estimate_log_partition(W, X[0], method)


def test_bad_options_raise():
    W, X = make_partition_problem(n_classes=50, n_features=4, n_queries=2, random_state=0)
    with pytest.raises(InvalidParameterError, match="method"):
        estimate_log_partition(W, X, "softmax")
    with pytest.raises(TypeError, match=r"unexpected option\(s\) \['n_bits'\] for method='uniform'"):
        estimate_log_partition(W, X, "uniform", n_bits=4)
    with pytest.raises(TypeError, match="valid options are: none"):
        estimate_log_partition(W, X, "exact", n_samples=4)
    with pytest.raises(InvalidParameterError, match="n_bits"):
        estimate_log_partition(W, X, "lsh", n_bits=64)
    with pytest.raises(InvalidParameterError, match="n_samples"):
        estimate_log_partition(W, X, "uniform", n_samples=0)
    with pytest.raises(ValueError, match="n_tables = m"):
        estimate_log_partition(W, X, "lsh", n_tables=4, table_design="pairs")
    with pytest.raises(InvalidParameterError, match="table_design"):
        estimate_log_partition(W, X, "lsh", table_design="pair")
    with pytest.raises(ValueError, match="probe_radius=2 needs table_design='scan'"):
        estimate_log_partition(W, X, "lsh", probe_radius=2)
    with pytest.raises(ValueError, match="probe_radius=11 exceeds n_bits=10"):
        estimate_log_partition(W, X, "lsh", n_bits=10, table_design="scan", probe_radius=11)
    with pytest.raises(ValueError, match="has no draw form"):
        estimate_log_partition(W, X, "lsh-draw", table_design="scan")
    with pytest.raises(ValueError, match="max_probes=5 exceeds n_tables=4"):
        estimate_log_partition(W, X, "lsh-draw", n_tables=4, max_probes=5)
    with pytest.raises(ValueError, match="class_prior has 49 entries, but W has 50 classes"):
        estimate_log_partition(W, X, "prior", class_prior=np.ones(49))
    with pytest.raises(ValueError, match="class_prior must hold positive values"):
        estimate_log_partition(W, X, "lsh", n_prior_samples=3, class_prior=np.r_[0.0, np.ones(49)])
    with pytest.raises(ValueError, match="class_prior contains NaN"):
        estimate_log_partition(W, X, "prior", class_prior=np.r_[np.nan, np.ones(49)])
    with pytest.raises(InvalidParameterError, match="n_prior_samples"):
        estimate_log_partition(W, X, "lsh", n_prior_samples=-1)


# ------------------------------------- no silent NaN / inf from finite input
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "W, X",
    [
        (np.array([[1e200], [-1e200], [1.0]]), np.array([[1e200]])),  # scores of 1e400
        (np.array([[1e160, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0]])),  # squared norm of 1e320
        (np.array([[1.0, 2.0], [3.0, 1.0]]), np.array([[1e308, 1.0]])),
    ],
)
def test_scores_that_overflow_raise_instead_of_nan_or_inf(method, W, X):
    # The audit's cases: NaN (uniform, prior, lsh-draw, mips-gumbel) or +inf
    # (exact, gumbel) came back from finite input.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptySampleWarning)
            log_z = estimate_log_partition(W, X, method, random_state=0, n_samples=5) if method in (
                "uniform", "prior", "gumbel", "lsh-draw", "mips-gumbel") else estimate_log_partition(
                W, X, method, random_state=0)  # fmt: skip
    except FloatingPointError as error:
        assert "Scale" in str(error)
    else:  # a finite answer is allowed only when it is right
        exact = reference.exact_log_partition(W, X)
        assert np.isfinite(exact).all() and np.all((log_z == -np.inf) | np.isfinite(log_z)), log_z


def test_index_refuses_queries_and_vectors_whose_norm_overflows():
    index = LSHIndex(4, 2, seed=0).build(np.random.default_rng(0).standard_normal((10, 2)))
    for call in (lambda: index.query(np.array([[1e308, 1.0]])), lambda: index.draw(np.array([[1e308, 1.0]]), 3),
                 lambda: index.hash(np.array([[1e308, 1.0]])), lambda: LSHIndex(4, 2).build(np.array([[1e200, 1.0]]))):
        with pytest.raises(FloatingPointError, match="Scale"):
            call()
    # with both squared norms finite, |w . x| <= |w| |x| cannot overflow (Cauchy-Schwarz)
    big = LSHIndex(4, 2, seed=0).build(np.array([[1e150, 0.0], [0.0, 1.0]]))
    assert np.isfinite(big.query(np.array([[1e150, 1.0]])).log_probabilities).all()


@pytest.mark.parametrize("method", METHODS)
def test_float32_dense_and_csr_queries_agree_to_float32_rounding(problem, method):
    # The row norms of float32 CSR queries were summed in float32 (dense ones
    # in float64), which moved lsh-draw's log Z between layouts (2.6e-8 here,
    # ~2e-4 in the audit). Both layouts now compute in float64 throughout.
    W, X = problem
    X = X * np.random.default_rng(0).lognormal(0.0, 2.0, (X.shape[0], 1))  # rows of very different norms
    X[np.abs(X) < 0.5] = 0.0
    W32, X32 = W.astype(np.float32), X.astype(np.float32)
    dense = estimate_log_partition(W32, X32, method, random_state=3)
    csr = estimate_log_partition(W32, sp.csr_matrix(X32), method, random_state=3)
    np.testing.assert_allclose(dense, csr, rtol=1e-12)
