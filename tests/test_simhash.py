"""SimHashTransformer, SimHashBucketEncoder and simhash_cosine."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_lsh import LSHSoftmaxClassifier, SimHashBucketEncoder, SimHashTransformer, simhash_cosine
from sklearn_lsh._kernels import _hashing


def _data(seed=0, n=60, d=40, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    X[rng.random((n, d)) < 0.6] = 0.0
    return X


def _unpack(codes, bits, n_used):
    out = np.empty((codes.shape[0], n_used))
    _hashing.unpack_codes(codes, bits, n_used, out, 0)
    return out


@pytest.mark.parametrize("density", [None, 0.3, "auto", 1.0])
@pytest.mark.parametrize("output", ["sign", "binary", "packed"])
def test_dense_and_csr_give_identical_codes(density, output):
    X = _data()
    t = SimHashTransformer(n_bits=70, output=output, density=density, random_state=1).fit(X)
    np.testing.assert_array_equal(t.transform(X), t.transform(sp.csr_matrix(X)))


@pytest.mark.parametrize("density", [None, 0.25])
def test_codes_match_a_numpy_reference(density):
    X = _data(1)
    n_bits = 80
    t = SimHashTransformer(n_bits=n_bits, output="binary", density=density, random_state=3).fit(X)
    if density is None:
        R = t.projections_[: X.shape[1], :n_bits]
    else:
        R = _hashing.sparse_projection_rows(np.arange(X.shape[1]), n_bits, density, t.seed_)
        # the on-the-fly entries are +-1 with the requested density
        assert set(np.unique(R)) <= {-1.0, 0.0, 1.0}
        big = _hashing.sparse_projection_rows(np.arange(5000), 64, density, 7)
        assert abs(np.mean(big != 0) - density) < 0.01 and abs(np.mean(big[big != 0] > 0) - 0.5) < 0.01
    projected = X @ R
    assert np.abs(projected[projected != 0]).min() > 1e-9  # no near-ties to argue about
    np.testing.assert_array_equal(t.transform(X), (projected > 0).astype(float))
    signs = SimHashTransformer(n_bits=n_bits, density=density, random_state=3).fit_transform(X)
    np.testing.assert_array_equal(signs, np.where(projected > 0, 1.0, -1.0))


def test_codes_do_not_depend_on_n_jobs():
    import numba

    X = sp.csr_matrix(_data(7, n=3000))
    threads = numba.get_num_threads()
    one = SimHashTransformer(n_bits=40, output="packed", density=0.3, random_state=0).fit_transform(X)
    many = SimHashTransformer(n_bits=40, output="packed", density=0.3, random_state=0, n_jobs=-1).fit_transform(X)
    np.testing.assert_array_equal(one, many)
    assert numba.get_num_threads() == threads


def test_packed_layout_and_float32():
    X = _data(2, dtype=np.float32)
    packed = SimHashTransformer(n_bits=101, output="packed", random_state=0).fit_transform(X)
    assert packed.shape == (60, 2) and packed.dtype == np.int64 and (packed >= 0).all()
    binary = SimHashTransformer(n_bits=101, output="binary", random_state=0).fit_transform(X)
    assert binary.dtype == np.float32
    np.testing.assert_array_equal(_unpack(packed, 51, 101), binary)  # two blocks of 51 bits (one padding bit)


def test_same_random_state_gives_the_same_codes_in_another_process(tmp_path):
    X = _data(4)
    np.save(tmp_path / "X.npy", X)
    here = SimHashTransformer(n_bits=64, output="packed", density=0.2, random_state=42).fit_transform(X)
    code = textwrap.dedent(
        f"""
        import numpy as np
        from sklearn_lsh import SimHashTransformer
        X = np.load({str(tmp_path / "X.npy")!r})
        for density in (None, 0.2):
            codes = SimHashTransformer(n_bits=64, output="packed", density=density, random_state=42).fit_transform(X)
            np.save({str(tmp_path)!r} + f"/codes_{{density}}.npy", codes)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "codes_0.2.npy"), here)
    gaussian = SimHashTransformer(n_bits=64, output="packed", random_state=42).fit_transform(X)
    np.testing.assert_array_equal(np.load(tmp_path / "codes_None.npy"), gaussian)
    other = SimHashTransformer(n_bits=64, output="packed", density=0.2, random_state=43).fit_transform(X)
    assert not np.array_equal(other, here)


def test_cosine_estimate_is_within_its_expected_error():
    rng = np.random.default_rng(0)
    d, n_pairs, n_bits = 50, 400, 256
    U = rng.standard_normal((n_pairs, d))
    angles = rng.uniform(0, np.pi, n_pairs)
    V = rng.standard_normal((n_pairs, d))
    V -= (np.sum(V * U, axis=1) / np.sum(U * U, axis=1))[:, None] * U  # orthogonal to U
    V = np.cos(angles)[:, None] * U / np.linalg.norm(U, axis=1, keepdims=True) + np.sin(angles)[:, None] * (
        V / np.linalg.norm(V, axis=1, keepdims=True)
    )
    t = SimHashTransformer(n_bits=n_bits, output="packed", random_state=0).fit(np.vstack([U, V]))
    cosine, std = simhash_cosine(t.transform(U), t.transform(V), n_bits, return_std=True)
    z = (cosine - np.cos(angles)) / np.maximum(std, 1e-3)
    assert np.mean(np.abs(z) < 2) > 0.9  # ~95% expected within 2 standard deviations
    assert np.abs(cosine - np.cos(angles)).mean() < 0.1
    with pytest.raises(ValueError, match="same shape"):
        simhash_cosine(t.transform(U)[:3], t.transform(V)[:4], n_bits)


def test_bucket_encoder_one_hot_rows_and_width_guard():
    X = _data(5)
    enc = SimHashBucketEncoder(n_bits=5, n_tables=7, random_state=0).fit(X)
    Z = enc.transform(X)
    assert Z.shape == (60, 7 * 32) and (Z.getnnz(axis=1) == 7).all() and set(Z.data) == {1.0}
    cols = Z.indices.reshape(60, 7)
    assert ((cols // 32) == np.arange(7)).all()  # one bucket in each table's block
    np.testing.assert_array_equal(Z.toarray(), enc.transform(sp.csr_matrix(X)).toarray())
    assert enc.get_feature_names_out().shape == (224,)
    with pytest.raises(ValueError, match=r"output columns is more than"):
        SimHashBucketEncoder(n_bits=30, n_tables=4).fit(X)


def test_nearby_rows_share_more_buckets():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 30))
    near = x + 0.1 * rng.standard_normal((1, 30))
    far = rng.standard_normal((1, 30))
    enc = SimHashBucketEncoder(n_bits=6, n_tables=64, random_state=0).fit(np.vstack([x, near, far]))
    Z = enc.transform(np.vstack([x, near, far]))
    shared_near = Z[0].multiply(Z[1]).sum()
    shared_far = Z[0].multiply(Z[2]).sum()
    assert shared_near > 30 > shared_far


def test_pandas_output():
    pd = pytest.importorskip("pandas")
    X = _data(6)
    frame = SimHashTransformer(n_bits=8, random_state=0).set_output(transform="pandas").fit_transform(X)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [f"simhashtransformer{i}" for i in range(8)]


def test_pipeline_with_lsh_classifier_in_grid_search():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((6, 10))
    y = rng.integers(0, 6, 600)
    X = centres[y] + 0.3 * rng.standard_normal((600, 10))
    pipe = make_pipeline(SimHashBucketEncoder(n_tables=8, random_state=0),
                         LSHSoftmaxClassifier(n_bits=2, n_tables=4, max_iter=5, tol=None, random_state=0))
    search = GridSearchCV(pipe, {"simhashbucketencoder__n_bits": [3, 5]}, cv=2).fit(X, y)
    assert search.best_params_["simhashbucketencoder__n_bits"] in (3, 5)
    assert search.score(X, y) > 0.8


def test_dense_projections_too_large_for_memory_raise_before_allocating():
    # With overcommit, np.zeros of ~1 TiB succeeds and the OS kills the
    # process when the pages are touched; the transformers must refuse first.
    import scipy.sparse as sp

    X = sp.csr_matrix((np.ones(3), np.array([5, 10**9, 2**31 - 2]), np.arange(4)), shape=(3, 2**31 - 1))
    for estimator in (SimHashTransformer(64, random_state=0), SimHashBucketEncoder(8, 4, random_state=0)):
        with pytest.raises(MemoryError, match="density='auto'"):
            estimator.fit(X)
    assert SimHashTransformer(64, density="auto", random_state=0).fit_transform(X).shape == (3, 64)
