import numpy as np
import pytest

from sklearn_lsh.metrics import ndcg_at_k, precision_at_k


def test_precision_and_ndcg_by_hand():
    y = np.array(["a", "b", "c"])
    ranked = np.array([["a", "x", "y"], ["x", "y", "b"], ["x", "y", "z"]])
    assert precision_at_k(y, ranked, k=1) == pytest.approx(1 / 3)
    assert precision_at_k(y, ranked, k=3) == pytest.approx(2 / 9)
    assert ndcg_at_k(y, ranked, k=3) == pytest.approx((1 + 1 / np.log2(4)) / 3)
    assert ndcg_at_k(y, ranked, k=2) == pytest.approx(1 / 3)


def test_metric_errors():
    with pytest.raises(ValueError, match="k must be"):
        precision_at_k([1], [[1, 2]], k=3)
    with pytest.raises(ValueError, match="Expected y_true"):
        ndcg_at_k([1, 2], [[1, 2]], k=1)
