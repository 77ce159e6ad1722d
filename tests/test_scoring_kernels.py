"""Scoring kernels against NumPy references."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp

from sklearn_lsh._kernels import _scoring

from . import reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pair_scores_dense_and_csr_match_reference(dtype):
    rng = np.random.default_rng(0)
    X = sp.random(20, 30, density=0.3, format="csr", random_state=0, dtype=dtype)
    W = rng.standard_normal((50, 30)).astype(dtype)
    sizes = rng.integers(0, 6, 20)
    indptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    classes = rng.integers(-1, 50, indptr[-1])
    want = reference.pair_scores(X, W, indptr, classes)
    got_csr = _scoring.pair_scores_csr(X.indptr, X.indices, X.data, W, indptr, classes)
    got_dense = _scoring.pair_scores_dense(X.toarray(), W, indptr, classes)
    np.testing.assert_allclose(got_csr, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_dense, want, rtol=1e-6, atol=1e-6)


def test_segment_logsumexp_matches_reference_including_empty_and_huge():
    values = np.array([1e3, 1e3 - 1, -5.0, 2.0, -np.inf, -np.inf, 700.0, -700.0])
    indptr = np.array([0, 3, 3, 4, 6, 8], dtype=np.int64)
    got = _scoring.segment_logsumexp(values, indptr)
    np.testing.assert_allclose(got, reference.segment_logsumexp(values, indptr))
    assert got[0] == pytest.approx(1e3 + np.log1p(np.exp(-1)))
    assert got[1] == -np.inf and got[3] == -np.inf


def test_top_k_per_segment():
    scores = np.array([3.0, 1.0, 2.0, 5.0, 4.0, 0.0])
    indptr = np.array([0, 3, 4, 6], dtype=np.int64)
    mask = _scoring.top_k_per_segment(scores, indptr, 2)
    np.testing.assert_array_equal(mask, [True, False, True, True, True, True])


def test_gumbel_max_is_unbiased_for_log_z():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((3, 200)) * 3
    est = _scoring.gumbel_max_log_partition(scores, 4000, 9, 0)
    # Var of one Gumbel maximum is pi^2 / 6.
    se = np.pi / np.sqrt(6 * 4000)
    np.testing.assert_array_less(np.abs(est - logsumexp(scores, axis=1)), 4 * se)


@pytest.mark.parametrize("n_jobs", [None, 2])  # the serial kernel, and the parallel one
@pytest.mark.parametrize("k", [1, 3, 40])
def test_top_k_rows_matches_stable_argsort(k, n_jobs):
    from sklearn_lsh._kernels._scoring import top_k_rows
    from sklearn_lsh._parallel import numba_threads

    rng = np.random.default_rng(k)
    scores = np.round(rng.standard_normal((30, 40)), 1)  # many ties: lower index first
    with numba_threads(n_jobs):
        got = top_k_rows(scores, k)
    np.testing.assert_array_equal(got, np.argsort(-scores, axis=1, kind="stable")[:, :k])


def test_single_threaded_kernels_are_safe_from_many_python_threads():
    """Several Python threads (e.g. Dask workers in one process) predicting at
    once with n_jobs=None must not enter numba's thread pool: under the
    "workqueue" threading layer, concurrent use of the pool aborts the process."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import threading
        import numpy as np
        import scipy.sparse as sp
        from sklearn_lsh import SimHashTransformer
        from sklearn_lsh._kernels import _softmax
        from sklearn_lsh._kernels._scoring import top_k_rows
        from sklearn_lsh._parallel import numba_threads

        scores = np.random.default_rng(0).standard_normal((2000, 300))
        X = sp.random(2000, 3000, density=0.01, format="csr", random_state=0)
        hasher = SimHashTransformer(64, density=0.05, random_state=0).fit(X)

        def fused():
            state = _softmax.new_state(2000, 5)
            empty = np.empty(0)
            _softmax.scan_block(scores.copy(), 0, 0, empty, empty, 1e300, True, np.empty(0, np.int64), empty, *state)
            return state[1]

        expected = top_k_rows(scores, 5), hasher.transform(X), fused()
        errors = []

        def work():
            try:
                with numba_threads(None):
                    for _ in range(20):
                        assert (top_k_rows(scores, 5) == expected[0]).all()
                        assert (hasher.transform(X) == expected[1]).all()
                        assert (fused() == expected[2]).all()
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        print("ok")
        """
    )
    env = {**__import__("os").environ, "NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
