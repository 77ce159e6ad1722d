"""The fused softmax kernels of exact prediction against NumPy references."""

import numpy as np
import pytest

from sklearn_lsh._kernels import _softmax
from sklearn_lsh._parallel import numba_threads

from . import reference


def test_exp_nonpositive_is_within_two_ulp_of_numpy():
    x = np.concatenate([-np.geomspace(1e-300, 708, 200_000), np.linspace(-708, 0, 200_001), [-0.0, 0.0]])
    got, want = _softmax.exp_nonpositive_array(x), np.exp(x)
    assert np.max(np.abs(got - want) / np.spacing(want)) <= 2
    assert _softmax.exp_nonpositive_array(np.array([0.0]))[0] == 1.0
    np.testing.assert_array_equal(_softmax.exp_nonpositive_array(np.array([-708.5, -1e5, -np.inf])), 0.0)


def _scan(scores, intercept, offset, k, label, width, limit=1e300):
    """Fold ``scores`` through the kernel in blocks of ``width`` classes (a
    copy, as the kernel writes the offsets into its block)."""
    n_rows, n_classes = scores.shape
    state = _softmax.new_state(n_rows, k)
    label_score = np.empty(0 if label is None else n_rows)
    no_label = np.empty(0, dtype=np.int64)
    empty = np.empty(0, dtype=scores.dtype)
    out = np.empty_like(scores)
    for c0 in range(0, n_classes, width):
        block = scores[:, c0 : c0 + width].copy()
        parts = [empty if a is None else np.ascontiguousarray(a[c0 : c0 + width]) for a in (intercept, offset)]
        _softmax.scan_block(block, 0, c0, *parts, limit, True, no_label if label is None else label,
                            label_score, *state)  # fmt: skip
        out[:, c0 : c0 + width] = block
    _softmax.sort_heaps(state[0], state[1])
    return out, state, label_score


@pytest.mark.parametrize("n_jobs", [None, 2])  # the serial kernel, and the parallel one
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 7, 50])
@pytest.mark.parametrize("offsets", [(False, False), (True, False), (True, True), (False, True)])
def test_scan_block_matches_reference(n_jobs, dtype, width, offsets):
    rng = np.random.default_rng(width)
    scores = (rng.standard_normal((23, 50)) * 10).astype(dtype)
    scores[3] = np.round(scores[3])  # ties: the lower class first
    scores[4] += 1e5  # large scores: the log-sum-exp stays exact relative to the row's maximum
    intercept, offset = (rng.standard_normal(50).astype(dtype) if on else None for on in offsets)
    label = rng.integers(0, 50, 23)
    k = 5
    with numba_threads(n_jobs):
        out, (top_score, top_index, row_max, row_sum, bad), label_score = _scan(
            scores, intercept, offset, k, label, width
        )
    want_scores, want_top, want_log_z, want_label = reference.softmax_scan(scores, intercept, offset, k, label)
    np.testing.assert_array_equal(out, want_scores)
    np.testing.assert_array_equal(top_index, want_top)
    np.testing.assert_array_equal(top_score, np.take_along_axis(want_scores, want_top, axis=1))
    np.testing.assert_allclose(row_max + np.log(row_sum), want_log_z, rtol=1e-14)
    np.testing.assert_array_equal(label_score, want_label)
    assert not bad.any()


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_scan_block_marks_non_finite_and_out_of_range_rows(n_jobs):
    scores = np.zeros((5, 9))
    scores[1, 4] = np.nan
    scores[2, 8] = np.inf
    scores[3, 0] = -np.inf
    scores[4, 5] = 2e10  # beyond the limit
    with numba_threads(n_jobs):
        *_, (_, _, _, _, bad), _ = _scan(scores, None, None, 2, None, 4, limit=1e10)
    np.testing.assert_array_equal(bad, [False, True, True, True, True])


def test_k_larger_than_a_block_and_k_zero():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((4, 30))
    _, (top_score, top_index, *_), _ = _scan(scores, None, None, 12, None, 5)
    np.testing.assert_array_equal(top_index, np.argsort(-scores, axis=1, kind="stable")[:, :12])
    _, (top_score, top_index, row_max, row_sum, _), _ = _scan(scores, None, None, 0, None, 5)
    assert top_index.shape == (4, 0)
    np.testing.assert_allclose(row_max + np.log(row_sum), reference.softmax_scan(scores, None, None, 0, None)[2])


@pytest.mark.parametrize("n_jobs", [None, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_rows_matches_reference(n_jobs, dtype):
    rng = np.random.default_rng(1)
    scores = (rng.standard_normal((6, 40)) * 5).astype(dtype)
    scores[2] += 1e12 if dtype == np.float64 else 1e6  # the shift first keeps the digits
    out, (_, _, row_max, row_sum, _), _ = _scan(scores, None, None, 0, None, 40)
    with numba_threads(n_jobs):
        _softmax.log_softmax_rows(out, row_max, row_sum)
    S = scores.astype(np.float64)
    want = S - S.max(axis=1, keepdims=True)
    want -= np.log(np.exp(want).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out, want, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)
