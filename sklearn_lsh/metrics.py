"""Ranking metrics for extreme classification, and scorers for model selection.

Single-label form: every row has one true label, and a prediction is a
ranked list of labels per row (e.g. the labels returned by
:meth:`LSHSoftmaxClassifier.predict_topk <sklearn_lsh.LSHSoftmaxClassifier.predict_topk>`).

- :func:`precision_at_k`, :func:`ndcg_at_k`: the standard P@k and nDCG@k.
- :func:`psprecision_at_k` with :func:`inverse_propensity`: propensity-scored
  P@k (Jain, Prabhu & Varma, KDD 2016), which credits a hit on a rare label
  more than a hit on a frequent one.
- :func:`make_topk_scorer`: any of the three as a scorer for
  :class:`~sklearn.model_selection.GridSearchCV` and
  :func:`~sklearn.model_selection.cross_val_score`.
- :func:`perplexity`: ``exp`` of the mean negative log-likelihood of the true
  labels, computed in chunks without an ``(n_samples, n_classes)`` matrix.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "inverse_propensity",
    "make_topk_scorer",
    "ndcg_at_k",
    "perplexity",
    "precision_at_k",
    "psprecision_at_k",
]


def _check_k(k, n_ranked):
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"k must be an int, got {k!r}.")
    if not 1 <= k <= n_ranked:
        raise ValueError(f"k must be in [1, {n_ranked}] (the ranked labels per row), got {k}.")


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
    _check_k(k, ranked.shape[1])
    return y_true, ranked[:, :k] == y_true[:, None]


def precision_at_k(y_true, ranked, k: int = 5) -> float:
    """Mean over rows of (relevant labels among the top k) / k.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        The true label of every row.
    ranked : array-like of shape (n_samples, n_ranked)
        Predicted labels per row, best first; ``n_ranked >= k``.
    k : int, default=5

    Returns
    -------
    precision : float
        In [0, 1/k] with one true label per row.

    Examples
    --------
    >>> from sklearn_lsh.metrics import precision_at_k
    >>> precision_at_k([1, 2], [[1, 0], [0, 1]], k=2)
    0.25
    """
    _, hits = _check(y_true, ranked, k)
    return float(hits.sum(axis=1).mean() / k)


def ndcg_at_k(y_true, ranked, k: int = 5) -> float:
    """Mean nDCG@k with one relevant label per row.

    A row scores ``1 / log2(1 + rank)`` when its true label is at
    ``rank <= k``, else 0 (the ideal DCG of one relevant label is 1).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    ranked : array-like of shape (n_samples, n_ranked)
        Predicted labels per row, best first; ``n_ranked >= k``.
    k : int, default=5

    Returns
    -------
    ndcg : float
        In [0, 1].

    Examples
    --------
    >>> from sklearn_lsh.metrics import ndcg_at_k
    >>> round(ndcg_at_k([1, 2], [[1, 0], [0, 2]], k=2), 4)
    0.8155
    """
    _, hits = _check(y_true, ranked, k)
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    return float((hits * gains).sum(axis=1).mean())


def inverse_propensity(y, *, a: float = 0.55, b: float = 1.5, classes=None) -> dict:
    """Inverse propensities ``1 / p_l`` of the labels, from training label counts.

    The empirical model of Jain, Prabhu & Varma (KDD 2016), used by the
    extreme classification repository::

        p_l = 1 / (1 + c * exp(-a * log(n_l + b))),   c = (log n - 1) * (b + 1) ** a

    with ``n`` the number of training rows and ``n_l`` those with label
    ``l``. Rare labels get a small propensity, so a large weight.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Training labels (one per row).
    a, b : float, default=0.55, 1.5
        The model's constants; the repository uses 0.55 and 1.5 for most
        data sets (0.5, 0.4 for Wikipedia-LSHTC; 0.6, 2.6 for Amazon).
    classes : array-like, default=None
        Labels to include. Default: those in ``y``. Labels absent from
        ``y`` get ``n_l = 0`` (the largest weight), e.g. pass
        ``clf.classes_`` or the labels of a test set.

    Returns
    -------
    inv_propensity : dict
        Label to ``1 / p_l`` (a float >= 1).

    Examples
    --------
    >>> from sklearn_lsh.metrics import inverse_propensity
    >>> w = inverse_propensity(["a"] * 90 + ["b"] * 10)
    >>> bool(w["b"] > w["a"] > 1)
    True
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] < 2:
        raise ValueError(f"y must be a 1-D array of at least 2 training labels, got shape {y.shape}.")
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive finite number, got {value!r}.")
    labels, counts = np.unique(y, return_counts=True)
    if classes is not None:
        classes = np.unique(np.asarray(classes))
        missing = np.setdiff1d(labels, classes)
        if missing.shape[0]:
            raise ValueError(f"classes misses labels that occur in y: {missing[:5].tolist()!r}.")
        full = np.zeros(classes.shape[0], dtype=np.int64)
        full[np.searchsorted(classes, labels)] = counts
        labels, counts = classes, full
    n = y.shape[0]
    c = (np.log(n) - 1.0) * (b + 1.0) ** a
    inv = 1.0 + c * np.exp(-a * np.log(counts + b))
    return {label: float(w) for label, w in zip(labels.tolist(), inv)}


def _weights_of(labels, inv_propensity):
    if not isinstance(inv_propensity, Mapping):
        raise TypeError(
            "inv_propensity must be a mapping from label to 1 / propensity, e.g. inverse_propensity(y_train); "
            f"got {type(inv_propensity).__name__}."
        )
    try:
        weights = np.array([inv_propensity[label] for label in labels.tolist()], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(
            f"Label {exc.args[0]!r} of y_true has no propensity: compute inv_propensity with "
            "inverse_propensity(y_train, classes=...) covering every label."
        ) from None
    if not (np.isfinite(weights).all() and (weights > 0).all()):
        raise ValueError("inv_propensity must hold positive finite weights.")
    return weights


def psprecision_at_k(y_true, ranked, inv_propensity: Mapping, k: int = 5, *, normalize: bool = True) -> float:
    """Propensity-scored precision@k (Jain, Prabhu & Varma, KDD 2016).

    Each hit in the top ``k`` counts ``1 / p_l`` instead of 1::

        PSP@k = mean_rows( sum_{l in top k} [l = y] / p_l ) / k

    With ``normalize=True`` (the extreme classification repository's
    convention) it is divided by the same quantity for the best possible
    ranking, so a perfect ranking scores 1 and the value is comparable
    across data sets.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    ranked : array-like of shape (n_samples, n_ranked)
        Predicted labels per row, best first; ``n_ranked >= k``.
    inv_propensity : mapping
        Label to inverse propensity, from :func:`inverse_propensity` on the
        *training* labels. Every label of ``y_true`` must be a key.
    k : int, default=5
    normalize : bool, default=True

    Returns
    -------
    psp : float

    Examples
    --------
    >>> from sklearn_lsh.metrics import psprecision_at_k
    >>> w = {"a": 1.0, "b": 3.0}
    >>> psprecision_at_k(["a", "b"], [["a", "b"], ["a", "b"]], w, k=1)
    0.25
    >>> psprecision_at_k(["a", "b"], [["a", "b"], ["b", "a"]], w, k=1)
    1.0
    """
    y_true, hits = _check(y_true, ranked, k)
    weights = _weights_of(y_true, inv_propensity)
    score = float((hits.any(axis=1) * weights).mean() / k)
    if not normalize:
        return score
    return score / float(weights.mean() / k)


_METRICS = {"precision": precision_at_k, "ndcg": ndcg_at_k, "psprecision": psprecision_at_k}


def _ranked_labels(estimator, X, k):
    """The ``k`` best labels per row from any fitted classifier or pipeline."""
    if hasattr(estimator, "predict_topk"):
        return estimator.predict_topk(X, k)[0]
    steps = getattr(estimator, "steps", None)
    if steps is not None and hasattr(steps[-1][1], "predict_topk"):
        return steps[-1][1].predict_topk(estimator[:-1].transform(X), k)[0]
    for method in ("decision_function", "predict_proba"):
        if hasattr(estimator, method):
            scores = np.asarray(getattr(estimator, method)(X))
            break
    else:
        raise TypeError(
            f"{type(estimator).__name__} has none of predict_topk, decision_function, predict_proba: a top-k "
            "scorer cannot rank its classes."
        )
    classes = estimator.classes_
    if scores.ndim == 1:  # binary decision_function: s_1 - s_0
        scores = np.column_stack([-scores, scores])
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k={k} exceeds the {scores.shape[1]} classes of the estimator.")
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return classes[np.take_along_axis(top, order, axis=1)]


class _TopKScorer:
    """Scorer ``scorer(estimator, X, y) -> float`` for a top-k metric (greater is better)."""

    def __init__(self, metric, k, inv_propensity):
        self.metric = metric
        self.k = k
        self.inv_propensity = inv_propensity

    def __call__(self, estimator, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"The {self.metric}@{self.k} scorer does not support sample_weight.")
        check_is_fitted(estimator)
        ranked = _ranked_labels(estimator, X, self.k)
        if self.metric == "psprecision":
            return psprecision_at_k(y, ranked, self.inv_propensity, k=self.k)
        return _METRICS[self.metric](y, ranked, k=self.k)

    def __repr__(self):
        extra = ", inv_propensity=..." if self.inv_propensity is not None else ""
        return f"make_topk_scorer({self.metric!r}, k={self.k}{extra})"


def make_topk_scorer(metric: str = "precision", k: int = 5, *, inv_propensity: Mapping | None = None):
    """A scorer for model selection from a top-k ranking metric.

    The scorer ranks classes with the estimator's ``predict_topk`` (for a
    :class:`~sklearn.pipeline.Pipeline`, the last step's, after the other
    steps' ``transform``), so no ``(n_samples, n_classes)`` matrix is built
    for an :class:`~sklearn_lsh.LSHSoftmaxClassifier`; other classifiers are
    ranked by ``decision_function`` or ``predict_proba``.

    Parameters
    ----------
    metric : {"precision", "ndcg", "psprecision"}, default="precision"
        :func:`precision_at_k`, :func:`ndcg_at_k` or :func:`psprecision_at_k`
        (normalized).
    k : int, default=5
    inv_propensity : mapping, default=None
        Required for "psprecision": label to inverse propensity, from
        :func:`inverse_propensity` on the training labels (with
        ``classes=`` covering every label a validation fold may hold).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better; pass it as
        ``scoring=`` (alone or in a dict of scorers). It pickles, so it works
        with process-based and Dask joblib backends.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_lsh import LSHSoftmaxClassifier
    >>> from sklearn_lsh.datasets import make_extreme_classification
    >>> from sklearn_lsh.metrics import make_topk_scorer
    >>> X, y = make_extreme_classification(600, 8, n_classes=30, random_state=0)
    >>> search = GridSearchCV(
    ...     LSHSoftmaxClassifier(n_bits=4, n_tables=4, max_iter=3, random_state=0),
    ...     {"eta0": [0.05, 0.2]}, scoring=make_topk_scorer("precision", k=5), cv=2,
    ... ).fit(X, y)  # doctest: +SKIP
    >>> make_topk_scorer("ndcg", k=3)
    make_topk_scorer('ndcg', k=3)
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {sorted(_METRICS)}, got {metric!r}.")
    _check_k(k, np.iinfo(np.int64).max)
    if metric == "psprecision":
        if inv_propensity is None:
            raise ValueError(
                "metric='psprecision' needs inv_propensity, e.g. inverse_propensity(y_train, classes=all_labels)."
            )
        if not isinstance(inv_propensity, Mapping):
            raise TypeError(f"inv_propensity must be a mapping, got {type(inv_propensity).__name__}.")
        inv_propensity = dict(inv_propensity)
    elif inv_propensity is not None:
        raise ValueError(f"inv_propensity is only used by metric='psprecision', not {metric!r}.")
    return _TopKScorer(metric, int(k), inv_propensity)


def perplexity(estimator, X, y) -> float:
    """``exp(-mean log p(y | x))`` of a fitted probabilistic classifier.

    Computed in row chunks bounded by scikit-learn's ``working_memory``, so it
    never holds an ``(n_samples, n_classes)`` matrix: through the exact
    chunked ``predict_log_proba_of`` of the package's classifiers, or
    ``predict_log_proba`` on row chunks for any other classifier. Lower is better (a
    scorer-style signature; for model selection use ``scoring="neg_log_loss"``
    or a top-k scorer).

    Parameters
    ----------
    estimator : fitted classifier with ``classes_`` and ``predict_log_proba``
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Labels; every one must be in ``estimator.classes_``.

    Returns
    -------
    perplexity : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_lsh import LSHSoftmaxClassifier
    >>> from sklearn_lsh.metrics import perplexity
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]] * 20)
    >>> y = np.array([0, 1] * 20)
    >>> clf = LSHSoftmaxClassifier("exact", max_iter=20, random_state=0).fit(X, y)
    >>> bool(1.0 < perplexity(clf, X, y) < 2.0)
    True
    """
    from sklearn.utils import _safe_indexing, gen_batches
    from sklearn.utils._chunking import get_chunk_n_rows
    from sklearn.utils.validation import _num_samples

    check_is_fitted(estimator)
    if not hasattr(estimator, "predict_log_proba"):
        raise TypeError(f"perplexity needs a classifier with predict_log_proba, got {type(estimator).__name__}.")
    if hasattr(estimator, "predict_log_proba_of"):  # the package's classifiers: log p(y | x) in row chunks
        return _exp_log_loss(-np.mean(estimator.predict_log_proba_of(X, y)))
    n_rows = _num_samples(X)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows or y.shape[0] == 0:
        raise ValueError(f"y must have shape ({n_rows},) with at least one row, got {y.shape}.")
    classes = estimator.classes_
    index = np.searchsorted(classes, y)
    index[index >= classes.shape[0]] = 0
    unknown = classes[index] != y
    if unknown.any():
        raise ValueError(f"y has labels the model was not trained on: {np.unique(y[unknown])[:5].tolist()!r}.")
    log_p = np.empty(n_rows)
    chunk = get_chunk_n_rows(row_bytes=16 * classes.shape[0], max_n_rows=n_rows)
    for rows in gen_batches(n_rows, chunk):
        log_proba = estimator.predict_log_proba(_safe_indexing(X, rows))
        log_p[rows] = log_proba[np.arange(rows.stop - rows.start), index[rows]]
    return _exp_log_loss(-np.mean(log_p))


def _exp_log_loss(log_loss):
    """``exp(log_loss)``, or a FloatingPointError when it overflows float64."""
    if not np.isfinite(log_loss) or log_loss > np.log(np.finfo(np.float64).max):
        raise FloatingPointError(
            f"The perplexity exp({log_loss:.6g}) overflows float64: some labels have (near) zero probability "
            "under the model. Report the mean log-loss (the log of the perplexity) instead, e.g. "
            "-estimator.predict_log_proba_of(X, y).mean()."
        )
    return float(np.exp(log_loss))
