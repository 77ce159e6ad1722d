"""The prefetch hints compile for every array the kernels pass and never
change what a kernel reads or returns."""

import numba
import numpy as np
import pytest

from sklearn_lsh._kernels._prefetch import prefetch_item, prefetch_row


@numba.njit
def _sum_rows_with_hints(A, rows, distance):
    total = 0.0
    for p in range(rows.shape[0]):
        if p + distance < rows.shape[0]:
            prefetch_row(A, rows[p + distance])
        for f in range(A.shape[1]):
            total += A[rows[p], f]
    return total


@numba.njit
def _sum_items_with_hints(a, items):
    total = 0.0
    for p in range(items.shape[0]):
        prefetch_item(a, items[(p + 3) % items.shape[0]])
        total += a[items[p]]
    return total


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 64, 1000])
def test_prefetch_row_does_not_change_the_result(dtype, n_features):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((500, n_features)).astype(dtype)
    rows = rng.integers(0, 500, 2000)
    rows[-1] = 499  # hints up to the last row (and past its end) are harmless
    expected = _sum_rows_with_hints(A, rows, 0)
    assert _sum_rows_with_hints(A, rows, 8) == expected
    np.testing.assert_allclose(expected, A[rows].astype(np.float64).sum(), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.int64, np.float32, np.float64])
def test_prefetch_item_does_not_change_the_result(dtype):
    a = np.arange(100).astype(dtype)
    items = np.array([5, 99, 0, 42, 7])
    assert _sum_items_with_hints(a, items) == a[items].sum()
