"""Ranking metrics for extreme classification: precision@k and nDCG@k.

Single-label form: every row has one true label, and a prediction is a
ranked list of labels per row (e.g. from
:meth:`LSHSoftmaxClassifier.predict_topk`).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np


def _check(y_true, ranked, k):
    y_true = np.asarray(y_true)
    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or y_true.ndim != 1 or ranked.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"Expected y_true of shape (n_samples,) and ranked labels of shape (n_samples, k'), got "
            f"{y_true.shape} and {ranked.shape}."
        )
    if y_true.shape[0] == 0:
        raise ValueError("Found 0 samples: the metric of an empty set of rows is undefined.")
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"k must be an int, got {k!r}.")
    if not 1 <= k <= ranked.shape[1]:
        raise ValueError(f"k must be in [1, {ranked.shape[1]}] (the ranked labels per row), got {k}.")
    return ranked[:, :k] == y_true[:, None]


def precision_at_k(y_true, ranked, k: int = 5) -> float:
    """Mean over rows of (relevant labels among the top k) / k.

    Examples
    --------
    >>> from sklearn_lsh.metrics import precision_at_k
    >>> precision_at_k([1, 2], [[1, 0], [0, 1]], k=2)
    0.25
    """
    hits = _check(y_true, ranked, k)
    return float(hits.sum(axis=1).mean() / k)


def ndcg_at_k(y_true, ranked, k: int = 5) -> float:
    """Mean nDCG@k with one relevant label per row: ``1 / log2(1 + rank)``
    when the true label is at ``rank <= k``, else 0.

    Examples
    --------
    >>> from sklearn_lsh.metrics import ndcg_at_k
    >>> round(ndcg_at_k([1, 2], [[1, 0], [0, 2]], k=2), 4)
    0.8155
    """
    hits = _check(y_true, ranked, k)
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    return float((hits * gains).sum(axis=1).mean())
