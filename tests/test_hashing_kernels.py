"""SimHash kernels: NumPy reference, dense == CSR, collision rate 1 - phi / pi."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_lsh._kernels import _hashing

from . import reference


def _random_sparse(rng, n, d, density, dtype):
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
    X.data = rng.standard_normal(X.data.shape[0])
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_bits, n_tables", [(1, 1), (7, 3), (16, 4), (63, 2)])
def test_dense_codes_match_reference(dtype, n_bits, n_tables):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12)).astype(dtype)
    R = rng.standard_normal((13, n_bits * n_tables))
    scale = rng.uniform(0.5, 2.0, 40)
    extra = rng.uniform(0.0, 1.0, 40)
    codes = _hashing.hash_dense(X, R, n_bits, n_tables, scale, extra)
    assert codes.dtype == np.int64 and codes.shape == (40, n_tables)
    assert (codes >= 0).all()
    np.testing.assert_array_equal(codes, reference.simhash_codes(X, R, n_bits, n_tables, scale, extra))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_and_csr_codes_are_identical(dtype):
    rng = np.random.default_rng(1)
    X = _random_sparse(rng, 300, 500, 0.02, dtype)
    R = rng.standard_normal((501, 8 * 6))
    ones, zeros = np.ones(300), np.zeros(300)
    from_csr = _hashing.hash_csr(X.indptr, X.indices, X.data, R, 8, 6, ones, zeros)
    from_dense = _hashing.hash_dense(X.toarray(), R, 8, 6, ones, zeros)
    np.testing.assert_array_equal(from_csr, from_dense)


def test_zero_row_hashes_to_bucket_zero():
    R = np.random.default_rng(2).standard_normal((5, 12))
    codes = _hashing.hash_dense(np.zeros((1, 4)), R, 4, 3, np.ones(1), np.zeros(1))
    np.testing.assert_array_equal(codes, 0)


@pytest.mark.parametrize("angle", [0.1, np.pi / 4, np.pi / 2, 2.5])
def test_collision_rate_is_one_minus_angle_over_pi(angle):
    # 20,000 independent one-bit tables: the fraction of equal bits of two
    # vectors at angle phi estimates 1 - phi / pi with a known binomial error.
    rng = np.random.default_rng(3)
    d, n_tables = 10, 20_000
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    w = rng.standard_normal(d)
    w -= (w @ u) * u
    w /= np.linalg.norm(w)
    v = np.cos(angle) * u + np.sin(angle) * w
    R = rng.standard_normal((d + 1, n_tables))
    codes = _hashing.hash_dense(np.vstack([u, v]), R, 1, n_tables, np.ones(2), np.zeros(2))
    rate = np.mean(codes[0] == codes[1])
    expected = 1 - angle / np.pi
    se = np.sqrt(expected * (1 - expected) / n_tables)
    assert abs(rate - expected) < 4 * se + 1e-12


def test_collision_rate_detects_a_wrong_law():
    # The same statistic separates 1 - phi/pi from a plausible wrong law
    # (cos^2(phi / 2)), so the test above can fail.
    rng = np.random.default_rng(4)
    angle, d, n_tables = np.pi / 3, 10, 20_000
    u = np.eye(d)[0]
    v = np.cos(angle) * u + np.sin(angle) * np.eye(d)[1]
    R = rng.standard_normal((d + 1, n_tables))
    codes = _hashing.hash_dense(np.vstack([u, v]), R, 1, n_tables, np.ones(2), np.zeros(2))
    rate = np.mean(codes[0] == codes[1])
    wrong = np.cos(angle / 2) ** 2
    se = np.sqrt(wrong * (1 - wrong) / n_tables)
    assert abs(rate - wrong) > 4 * se


def test_pack_signs_of_a_blas_product_matches_the_loop_kernel():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((300, 7))
    R = rng.standard_normal((8, 6 * 5))
    scale, extra = rng.uniform(0.5, 2, 300), rng.uniform(0, 1, 300)
    np.testing.assert_array_equal(
        _hashing.pack_signs(W @ R[:7], scale, extra, R[7], 6, 5), _hashing.hash_dense(W, R, 6, 5, scale, extra)
    )


@pytest.mark.parametrize("empty_below", [0.0, 1e-300, 0.25, 0.9394130628134758, 1 - 2**-53, 1.0])
def test_integer_empty_feature_test_matches_the_float_one(empty_below):
    # A feature has no projection entry when its first uniform (k + 0.5) / 2**53
    # is <= empty_below; the kernel decides this on the integer k instead.
    def is_empty(k):
        return (float(k) + 0.5) * (1.0 / 2**53) <= empty_below

    first_nonempty = int(_hashing._nonempty_from(empty_below))
    assert 0 <= first_nonempty <= 2**53
    if first_nonempty > 0:
        assert is_empty(first_nonempty - 1)
    if first_nonempty < 2**53:
        assert not is_empty(first_nonempty)


@pytest.mark.parametrize("density", [1 / 1024, 0.05, 0.5, 1.0])
def test_sparse_projection_matches_the_python_reference(density):
    features = np.r_[np.arange(3000), np.array([2**20 - 1, 2**31 - 1, 2**40 + 7])]
    kernel = _hashing.sparse_projection_rows(features, 70, density, 12345)
    np.testing.assert_array_equal(kernel, reference.sparse_projection_rows(features, 70, density, 12345))
    assert kernel.any()


@pytest.mark.parametrize("n_jobs", [None, 2])  # the serial kernel, and the parallel one
def test_sparse_projection_csr_codes_match_the_reference_projection(n_jobs):
    from sklearn_lsh._parallel import numba_threads

    rng = np.random.default_rng(0)
    X = sp.random(1300, 5000, density=0.02, format="csr", random_state=rng, dtype=np.float64)
    n_bits, n_tables, seed, density = 20, 3, 99, 0.01
    R = reference.sparse_projection_rows(np.arange(X.shape[1]), n_bits * n_tables, density, seed)
    with numba_threads(n_jobs):
        codes = _hashing.hash_csr_sparse_projection(X.indptr, X.indices, X.data, n_bits, n_tables,
                                                    n_bits * n_tables, density, seed)  # fmt: skip
    projected = X @ R
    assert np.abs(projected[projected != 0]).min() > 1e-9
    bits = (projected > 0).reshape(X.shape[0], n_tables, n_bits).astype(np.int64)
    np.testing.assert_array_equal(codes, (bits << np.arange(n_bits)).sum(axis=2))
