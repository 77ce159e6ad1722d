"""LSHSoftmaxClassifier: multinomial log-linear model trained by SGD with an
LSH-estimated partition function (Spring & Shrivastava, 2017)."""

from __future__ import annotations

import os
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d, validate_data

from ._index import LSHIndex, _row_norms, log_prior_inclusion, prior_draw_tables
from ._parallel import numba_threads as _numba_threads
from ._kernels import _embedding, _retrieval, _scoring, _sgd

__all__ = ["LSHSoftmaxClassifier"]

_LSH_NORM_RANGES = 64


def default_rebuild_schedule(step: int) -> bool:
    """Default table rebuild schedule (``rebuild_interval=None``): after every
    10 updates for the first 100 updates, then after every 100 (the schedule
    of the method's published code)."""
    return step % 10 == 0 if step <= 100 else step % 100 == 0


def auto_n_bits(n_classes: int) -> int:
    """``n_bits=None``: ``ceil(log2(C)) - 4`` (at least 1), so a bucket of a
    random class set holds about 8-16 classes."""
    return int(min(63, max(1, int(np.ceil(np.log2(max(n_classes, 2)))) - 4)))


def _check_sample_weight(sample_weight, n_samples):
    """Validated float64 copy of ``sample_weight`` (mirrors scikit-learn's
    private ``_check_sample_weight``)."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, float(sample_weight))
    sample_weight = column_or_1d(np.asarray(sample_weight, dtype=np.float64), warn=False)
    if sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},): "
            "one weight per sample."
        )
    if not np.isfinite(sample_weight).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (sample_weight < 0).any():
        raise ValueError("Negative values in data passed to sample_weight.")
    if not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight.copy()


def _unique_labels(labels, name):
    """Sorted unique labels; a clear ValueError for labels that cannot be
    ordered (e.g. a mix of strings and numbers), which ``np.unique`` would
    report as a TypeError from deep inside its sort."""
    try:
        return np.unique(labels)
    except TypeError as error:
        kinds = sorted({type(label).__name__ for label in np.asarray(labels, dtype=object).ravel()})
        raise ValueError(
            f"{name} mixes label types that cannot be sorted together ({', '.join(kinds)}); use labels of one "
            "type, e.g. all strings or all numbers."
        ) from error


def _label_index(y, known):
    """Positions of the labels ``y`` in the sorted ``known`` classes; a
    ValueError names the labels that are not among them."""
    _unique_labels(y, "y")
    check_classification_targets(y)
    y_index = np.searchsorted(known, y)
    y_index[y_index >= known.shape[0]] = 0
    unknown = known[y_index] != y
    if unknown.any():
        raise ValueError(
            f"y contains labels not in classes: {np.unique(y[unknown])[:10]!r}. Every label must be "
            "listed in the classes of the first partial_fit call."
        )
    return y_index


def _sample_class_weights(class_weight, classes, y_index):
    """Per-sample factors from ``class_weight`` (None, "balanced" over the
    classes present in ``y_index``, or a dict of label to weight)."""
    if class_weight is None:
        return 1.0
    per_class = np.ones(classes.shape[0])
    if class_weight == "balanced":
        present = np.unique(y_index)
        per_class[present] = compute_class_weight("balanced", classes=present, y=y_index)
        return per_class[y_index]
    for label, weight in class_weight.items():
        position = np.searchsorted(classes, label)
        if position >= classes.shape[0] or classes[position] != label:
            raise ValueError(f"class_weight has a label {label!r} that is not in classes_ {classes!r}.")
        per_class[position] = weight
    return per_class[y_index]


def _add_ones_column(X):
    """``[X, 1]``: queries for tables built over ``[coef_, intercept_]``."""
    ones = np.ones((X.shape[0], 1), dtype=X.dtype)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(ones)], format="csr")
    return np.hstack([X, ones])


class LSHSoftmaxClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial log-linear classifier trained by SGD with an LSH-estimated softmax.

    The softmax loss ``-s_y + log Z(x)`` needs ``Z(x) = sum_j exp(s_j)`` over
    all C classes. With ``estimator="lsh"`` each step estimates ``Z(x)``
    without bias (over the random hash functions) from the classes that
    SimHash tables over the class vectors retrieve for ``x``:
    ``Z_hat = f_y + sum_{j in S, j != y} f_j / P_j``, where ``P_j`` is the
    exact probability that class ``j`` is retrieved. A step then reads and
    writes only the true class and the retrieved ones, so training costs
    ``O(|S| x nnz)`` per example instead of ``O(C x nnz)``. Predictions are exact by
    default; :meth:`predict_topk` can also retrieve candidates from the
    tables and rescore them exactly (sublinear in C).

    Parameters
    ----------
    estimator : {"lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel"}, default="lsh"
        How the partition function of a training step is computed. "exact"
        is full-softmax minibatch SGD through BLAS; "uniform" draws
        ``n_samples`` negatives uniformly (importance weight ``(C - 1) / n``);
        "prior" draws ``n_samples`` classes with replacement from the class
        prior ``q`` (``class_prior``, or the smoothed training frequencies:
        the unigram proposal of sampled softmax) and weights each distinct
        class by ``1 / (1 - (1 - q_j) ** n)`` (Horvitz-Thompson, unbiased).
        The other two use the same hash tables as "lsh" (method.md section
        4): "lsh-draw" makes ``n_samples`` draws per example (a random
        table's bucket, one member uniformly; weight ``|bucket| / (n P_l)``,
        ``P_l`` over the ``l`` tables probed); "mips-gumbel" keeps the
        ``n_top`` best-scoring classes of the "lsh" union at weight 1 and
        adds ``n_samples`` uniform draws from the other classes (weight
        ``(C - 1 - n_top) / n``).
    n_components : int >= 1 or None, default=None
        None: the full log-linear model, ``s_j = coef_[j] . x + b_j``.
        An int: the low-rank model ``s_j = class_embedding_[j] . (x @
        embedding_) + b_j`` (the fastText architecture), which learns a
        feature embedding of ``n_components`` columns with the classes.
        Memory is O((n_features + n_classes) x n_components) instead of
        O(n_features x n_classes), and a step updates only the embedding
        rows of the batch's non-zero features. The hash tables are built
        over the class embeddings and queried with ``x @ embedding_``.
    n_bits : int in [1, 63] or None, default=None
        Bits per hash table (K). None: ``ceil(log2(n_classes)) - 4``.
    n_tables : int >= 1, default=16
        Number of hash tables (L).
    table_design : {"independent", "pairs", "scan"}, default="independent"
        Layout of the hash tables, as in :class:`LSHIndex`: L independent
        tables of ``n_bits`` bits; ``"pairs"`` (``n_tables = m (m - 1) / 2``
        tables from ``m`` groups of ``n_bits / 2`` bits, so hashing costs
        ``m n_bits / 2`` projections; ``n_bits=None`` is rounded up to an
        even number); or ``"scan"`` (the classes within Hamming distance
        ``probe_radius`` of the query's ``n_bits``-bit code in some table,
        found by comparing all C codes: linear integer work in C, fewer
        projections). Inclusion probabilities are exact for all three.
    probe_radius : int >= 0, default=0
        Hamming radius of the retrieval: 0 or 1 (multi-probe) for the
        bucket designs, up to ``n_bits`` for ``"scan"``.
    n_samples : int >= 1 or None, default=None
        Negatives per example for ``estimator="uniform"``, draws per example
        for "prior" and "lsh-draw", the uniform tail of "mips-gumbel", and the negatives
        of the "lsh" and "lsh-draw" examples whose sample is empty (see
        ``n_empty_samples_``). None: 1% of the classes (at least 1).
    n_top : int >= 1, default=10
        Classes of the LSH union kept exactly by ``estimator="mips-gumbel"``
        (ignored otherwise).
    n_prior_samples : int >= 0, default=0
        ``estimator="lsh"`` only (ignored otherwise): per example, this many
        draws (with replacement) from the class prior ``q`` (``class_prior``,
        or the smoothed training frequencies) are added to the LSH union.
        The draws are independent of the hash functions, so class ``j`` is
        in the combined sample with probability ``1 - (1 - P_j) (1 - q_j)
        ** n``, and weighting it by the inverse of that probability keeps
        ``Z_hat`` unbiased. Frequent classes that the tables miss then come
        in at a moderate weight instead of a rare, large ``1 / P_j``, which
        helps when the intercepts (class frequencies) carry much of the
        score, as in language models (docs/benchmarks.md). 0: the LSH union
        alone (method.md). Drawn classes that the tables did not retrieve
        are scored twice (for their ``P_j`` and in the step) and counted.
    rebuild_interval : int >= 1 or None, default=None
        Rebuild the tables (fresh projections, current weights) after every
        ``rebuild_interval`` updates. None: after every 10 updates for the
        first 100, then every 100.
    learning_rate : {"adagrad", "constant"}, default="adagrad"
        "adagrad": row-wise AdaGrad, step ``eta0 / sqrt(G_j)`` per class row;
        "constant": step ``eta0``.
    eta0 : float > 0, default=0.1
        Initial (or constant) step size.
    alpha : float >= 0, default=1e-6
        L2 penalty on ``coef_`` (low-rank mode: on ``class_embedding_`` and
        ``embedding_``), applied lazily (a row's missed decays are applied
        when it is next touched), so a step stays O(touched rows x nnz).
    batch_size : int >= 1, default=128
        Examples per update (the gradient is averaged over the batch).
    max_iter : int >= 1, default=5
        Epochs over the data in :meth:`fit`.
    tol : float >= 0 or None, default=1e-3
        Stop when the monitored loss (training loss, or validation log-loss
        with ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. None: run ``max_iter`` epochs.
    n_iter_no_change : int >= 1, default=3
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and monitor its
        exact log-loss.
    validation_fraction : float in (0, 1), default=0.1
    shuffle : bool, default=True
        Shuffle the training data before each epoch.
    fit_intercept : bool, default=True
    logit_adjustment : float >= 0, default=0.0
        Long-tail logit adjustment (Menon et al., 2021) with strength
        ``tau``; 0 disables it. With class priors ``pi_j``:
        ``logit_adjustment_form="loss"`` trains on the logits
        ``s_j + tau log pi_j`` (every estimator: the exact softmax, and the
        terms of the sampled ``Z_hat``) and predicts with ``s_j``;
        ``"post-hoc"`` trains as usual and predicts with
        ``s_j - tau log pi_j``. Either way the prediction methods
        (``decision_function``, ``predict``, ``predict_proba``,
        ``predict_topk``, ``score``) give the adjusted, prior-balanced
        answer, which favours rare classes; ``tau=1`` targets the balanced
        error.
    logit_adjustment_form : {"loss", "post-hoc"}, default="loss"
    class_prior : array-like of shape (n_classes,) or None, default=None
        Priors ``pi_j`` of the logit adjustment, in the order of
        ``classes_`` (sorted labels); positive, normalised internally. None:
        from the training labels, ``(n_j + 1) / (n + C)`` (add-one smoothing,
        so a class without training examples keeps a finite prior), updated
        by every :meth:`partial_fit` call.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights per class ("balanced" is not available
        in :meth:`partial_fit`).
    warm_start : bool, default=False
        Reuse the previous solution (weights, optimiser state, tables) in
        :meth:`fit`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the hash projections and the
        uniform draws. With an int, two fits give identical ``coef_``.
    verbose : int, default=0
        Print a line per epoch when > 0.
    n_jobs : int or None, default=None
        Numba threads for the parallel prediction kernels (top-k selection).
        None means 1, -1 all cores. Training updates are serial and
        deterministic; BLAS threading is left to its own settings.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any hashable, e.g. strings).
    coef_ : ndarray of shape (n_classes, n_features)
        Class weight rows, in the dtype of the training input. In the
        low-rank mode it is the product ``class_embedding_ @ embedding_.T``,
        computed on access (a new array; writing to it does not change the
        model) when it fits in ``sklearn.get_config()["working_memory"]``;
        above that, accessing it raises an AttributeError that gives its
        size (at 10^5 classes x 10^5 features it would be 37 GiB).
    embedding_ : ndarray of shape (n_features, n_components)
        Low-rank mode only: the learned feature embedding.
    class_embedding_ : ndarray of shape (n_classes, n_components)
        Low-rank mode only: the class vectors in the embedding space.
    intercept_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when X has string feature names.
    class_count_ : ndarray of shape (n_classes,), float64
        Training labels per class (unweighted), accumulated over
        :meth:`partial_fit` calls; the source of the default ``class_prior``.
    n_iter_ : int
        Epochs run by the last :meth:`fit` (cumulative over
        :meth:`partial_fit` calls).
    t_ : int
        Weight updates (minibatch steps) performed so far.
    loss_curve_ : list of float
        Mean training loss per epoch. For "lsh" and "uniform" it is the
        estimated loss ``log Z_hat - s_y`` of the step (biased low by Jensen).
    validation_scores_ : list of float or None
        Validation log-loss per epoch with ``early_stopping``, else None.
    n_rebuilds_ : int
        Table builds during training ("lsh").
    n_degenerate_builds_ : int
        Table builds ("lsh") in which every table put more than half of the
        classes in one bucket (all-zero or identical class rows, e.g. after
        ``coef_`` was set to zeros). Such tables would turn steps into a
        full softmax, so they are rebuilt at the next step, until training
        has separated the rows.
    n_empty_samples_ : int
        Training examples ("lsh") whose LSH sample held no class besides the
        true one. They get ``n_samples`` uniform negatives instead (without
        them the example would have no gradient); 0 with working tables.
    mean_classes_scored_ : float
        Classes whose score a training step computed per example, averaged
        over the updates so far (true class included; C for "exact").
    inner_products_per_example_ : float
        All the d-dimensional inner products (d = n_features, or
        n_components in the low-rank mode) that training computed per
        example, averaged over the updates so far: the scores of the step
        (as in ``mean_classes_scored_``), plus hashing the queries, plus the
        scores the tables compute for the inclusion probabilities, plus
        every table build (C x (projections + 1)). C for "exact". The ratio
        to C is the honest fraction of the exact computation.
    n_bits_ : int
        The n_bits used (resolves None).

    See Also
    --------
    sklearn.linear_model.SGDClassifier : one-vs-all linear models by SGD.
    sklearn_lsh.estimate_log_partition : the estimators of Z on their own.

    References
    ----------
    R. Spring and A. Shrivastava, "A New Unbiased and Efficient Class of
    LSH-Based Samplers and Estimators for Partition Function Computation in
    Log-Linear Models", arXiv:1703.05160, 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_lsh import LSHSoftmaxClassifier
    >>> X, y = make_classification(n_samples=600, n_features=20, n_informative=10,
    ...                            n_classes=8, n_clusters_per_class=1, random_state=0)
    >>> clf = LSHSoftmaxClassifier(n_bits=2, n_tables=4, max_iter=20, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.6)
    True
    >>> labels, proba = clf.predict_topk(X[:2], k=3)
    >>> labels.shape, proba.shape
    ((2, 3), (2, 3))

    The low-rank mode for sparse, wide inputs:

    >>> from sklearn_lsh.datasets import make_extreme_classification
    >>> Xs, ys = make_extreme_classification(2000, 5000, 30, sparse=True, n_nonzero=20, random_state=0)
    >>> low_rank = LSHSoftmaxClassifier(n_components=16, max_iter=5, random_state=0).fit(Xs, ys)
    >>> low_rank.embedding_.shape, low_rank.class_embedding_.shape
    ((5000, 16), (30, 16))
    >>> bool(low_rank.score(Xs, ys) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [StrOptions({"lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel"})],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "n_bits": [Interval(Integral, 1, 63, closed="both"), None],
        "n_tables": [Interval(Integral, 1, None, closed="left")],
        "table_design": [StrOptions({"independent", "pairs", "scan"})],
        "probe_radius": [Interval(Integral, 0, 63, closed="both")],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "n_top": [Interval(Integral, 1, None, closed="left")],
        "n_prior_samples": [Interval(Integral, 0, None, closed="left")],
        "rebuild_interval": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [StrOptions({"adagrad", "constant"})],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "fit_intercept": ["boolean"],
        "logit_adjustment": [Interval(Real, 0, None, closed="left")],
        "logit_adjustment_form": [StrOptions({"loss", "post-hoc"})],
        "class_prior": ["array-like", None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator="lsh",
        *,
        n_components=None,
        n_bits=None,
        n_tables=16,
        table_design="independent",
        probe_radius=0,
        n_samples=None,
        n_top=10,
        n_prior_samples=0,
        rebuild_interval=None,
        learning_rate="adagrad",
        eta0=0.1,
        alpha=1e-6,
        batch_size=128,
        max_iter=5,
        tol=1e-3,
        n_iter_no_change=3,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        fit_intercept=True,
        logit_adjustment=0.0,
        logit_adjustment_form="loss",
        class_prior=None,
        class_weight=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.n_components = n_components
        self.n_bits = n_bits
        self.n_tables = n_tables
        self.table_design = table_design
        self.probe_radius = probe_radius
        self.n_samples = n_samples
        self.n_top = n_top
        self.n_prior_samples = n_prior_samples
        self.rebuild_interval = rebuild_interval
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.fit_intercept = fit_intercept
        self.logit_adjustment = logit_adjustment
        self.logit_adjustment_form = logit_adjustment_form
        self.class_prior = class_prior
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.poor_score = True
        return tags

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by ``max_iter`` epochs of SGD (fewer with ``tol``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 input is kept as float32 (weights included).
        y : array-like of shape (n_samples,)
            Class labels, any hashable values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a zero weight contributes no gradient.

        Returns
        -------
        self : LSHSoftmaxClassifier
        """
        state = self._snapshot() if self._has_model() else {}
        try:
            return self._fit(X, y, sample_weight)
        except BaseException:
            # A failed fit leaves the previous model intact, or no model at
            # all: never a half-trained (possibly non-finite) one.
            self._restore(state)
            raise

    def _fit(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C", reset=True
        )
        classes = _unique_labels(y, "y")
        check_classification_targets(y)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data contains "
                f"only one class: {classes[0]!r}."
            )
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        keep = self.warm_start and self._has_model()
        if keep and (
            not np.array_equal(self.classes_, classes)
            or self._model_n_features() != X.shape[1]
            or self._weights.dtype != X.dtype
            or self._fitted_n_components() != self.n_components
        ):
            raise ValueError(
                "warm_start=True needs the same classes, number of features, dtype and n_components as the "
                "previous fit; set warm_start=False to start over."
            )
        if keep:
            self._check_model_arrays()
        else:
            self._initialize(classes, X.shape[1], X.dtype)
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        y_index = np.searchsorted(self.classes_, y)
        self.class_count_ = np.bincount(y_index, minlength=self.classes_.shape[0]).astype(np.float64)
        self._check_class_prior()
        weights = sample_weight * _sample_class_weights(self.class_weight, self.classes_, y_index)
        if self.early_stopping:
            X, y_index, weights, X_val, y_val = self._split_validation(X, y_index, weights)
        else:
            X_val = y_val = None
        self._epochs(X, y_index, weights, self.max_iter, X_val, y_val, monitor=self.tol is not None)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of SGD over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem. Required on the first call, ignored
            (must match) afterwards. Labels in ``y`` outside ``classes``
            raise a ValueError.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : LSHSoftmaxClassifier
        """
        first_call = not hasattr(self, "classes_")
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = _unique_labels(np.asarray(classes), "classes")
            if classes.shape[0] < 2:
                raise ValueError(f"partial_fit needs at least 2 classes, got {classes.shape[0]}.")
        elif classes is not None and not np.array_equal(self.classes_, _unique_labels(np.asarray(classes), "classes")):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the first call to partial_fit, "
                f"was: {self.classes_!r}."
            )
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C", reset=first_call
        )
        known = classes if first_call else self.classes_
        y_index = _label_index(y, known)
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: it needs the class frequencies "
                "of the whole data. Pass a dict of weights, or use fit."
            )
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        if not first_call and self._fitted_n_components() != self.n_components:
            raise ValueError(
                f"n_components={self.n_components!r} differs from the model being trained "
                f"(n_components={self._fitted_n_components()!r}); partial_fit cannot change the architecture."
            )
        if not first_call:
            self._check_model_arrays()
        if not first_call and X.dtype != self._weights.dtype:
            X = X.astype(self._weights.dtype)
        state = None if first_call else self._snapshot()
        try:
            if first_call:
                self._initialize(known, X.shape[1], X.dtype)
                self.n_iter_ = 0
                self.loss_curve_ = []
                self.validation_scores_ = None
                self.class_count_ = np.zeros(known.shape[0], dtype=np.float64)
            elif "class_count_" not in self.__dict__:  # a model fitted before class_count_ existed
                self.class_count_ = np.zeros(known.shape[0], dtype=np.float64)
            self.class_count_ += np.bincount(y_index, minlength=known.shape[0])
            self._check_class_prior()
            weights = sample_weight * _sample_class_weights(self.class_weight, known, y_index)
            self._epochs(X, y_index, weights, 1, None, None, monitor=False)
        except BaseException:
            self._restore({} if state is None else state)
            raise
        return self

    # ---------------------------------------------------------- internals
    _STATE = (
        "classes_", "n_features_in_", "feature_names_in_", "n_bits_", "_seed", "_predict_index", "_slot",
        "_weights", "intercept_", "_accumulator", "_last_step", "_index", "t_", "n_iter_", "loss_curve_",
        "n_rebuilds_", "n_degenerate_builds_", "n_empty_samples_", "_degenerate_index", "_n_epochs",
        "_classes_scored", "_inner_products", "_examples_seen", "validation_scores_",
        "embedding_", "_embedding_accumulator", "_embedding_last_step", "_embedding_slot", "class_count_",
    )  # fmt: skip

    def _has_model(self):
        return "_weights" in self.__dict__

    def _model_n_features(self):
        """Input features of the fitted model (not ``n_features_in_``, which
        ``validate_data(reset=True)`` has already overwritten in ``fit``)."""
        embedding = self.__dict__.get("embedding_")
        return self._weights.shape[1] if embedding is None else embedding.shape[0]

    def _fitted_n_components(self):
        """n_components of the fitted model (None: full model)."""
        embedding = self.__dict__.get("embedding_")
        return None if embedding is None else embedding.shape[1]

    @property
    def coef_(self) -> np.ndarray:
        if not self._has_model():
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'coef_'")
        if "embedding_" not in self.__dict__:
            return self._weights
        n_classes, n_features = self._weights.shape[0], self.embedding_.shape[0]
        size = n_classes * n_features * self._weights.dtype.itemsize
        limit = get_config()["working_memory"] * 2**20
        if size > limit:
            raise AttributeError(
                f"coef_ is not materialised in the low-rank mode (n_components={self.embedding_.shape[1]}): it "
                f"would be a ({n_classes}, {n_features}) {self._weights.dtype} array of {size / 2**30:.1f} GiB, "
                f"more than working_memory={get_config()['working_memory']} MiB. The model is "
                "coef_ = class_embedding_ @ embedding_.T: use the factors, or decision_function / predict_topk."
            )
        return self._weights @ self.embedding_.T

    @coef_.setter
    def coef_(self, value):
        if "embedding_" in self.__dict__:
            raise AttributeError("coef_ cannot be set in the low-rank mode; set class_embedding_ and embedding_.")
        self._weights = self._checked_class_rows(value, "coef_")

    def _checked_class_rows(self, value, name):
        """A private C-contiguous copy of new class rows, in the model's
        dtype, after checking their shape and values: the kernels index
        these rows without bounds checks."""
        if not self._has_model():
            raise AttributeError(f"{name} can only be replaced on a fitted model (fit sets its shape and classes).")
        value = check_array(value, dtype=[np.float64, np.float32], input_name=name)
        if value.shape != self._weights.shape:
            raise ValueError(
                f"{name} must have shape {self._weights.shape} (one row per class of classes_), got {value.shape}."
            )
        return np.array(value, dtype=self._weights.dtype, order="C", copy=True)

    def _check_model_arrays(self):
        """Shapes of the (user-assignable) fitted arrays, checked in O(1)
        before any kernel reads them; ``intercept_`` is brought to the
        model's dtype and layout."""
        n_classes = self.classes_.shape[0]
        intercept = self.__dict__.get("intercept_")
        if not isinstance(intercept, np.ndarray) or intercept.shape != (n_classes,):
            raise ValueError(
                f"intercept_ must be an array of shape ({n_classes},), one value per class of classes_; got "
                f"{getattr(intercept, 'shape', type(intercept).__name__)}."
            )
        if intercept.dtype != self._weights.dtype or not intercept.flags.c_contiguous:
            self.intercept_ = np.ascontiguousarray(intercept, dtype=self._weights.dtype)
        if "embedding_" in self.__dict__:
            expected = (self._embedding_accumulator.shape[0], self._weights.shape[1])
            embedding = self.embedding_
            if not isinstance(embedding, np.ndarray) or embedding.shape != expected:
                raise ValueError(
                    f"embedding_ must be an array of shape {expected} (n_features, n_components); got "
                    f"{getattr(embedding, 'shape', type(embedding).__name__)}."
                )
            if embedding.dtype != self._weights.dtype or not embedding.flags.c_contiguous:
                self.embedding_ = np.ascontiguousarray(embedding, dtype=self._weights.dtype)

    @property
    def class_embedding_(self) -> np.ndarray:
        if "embedding_" not in self.__dict__:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute 'class_embedding_' (it exists in the "
                "low-rank mode, n_components set, once fitted; the full model's class rows are coef_)."
            )
        return self._weights

    @class_embedding_.setter
    def class_embedding_(self, value):
        if "embedding_" not in self.__dict__:
            raise AttributeError("class_embedding_ exists only in the low-rank mode; set coef_.")
        self._weights = self._checked_class_rows(value, "class_embedding_")

    def _snapshot(self):
        state = {}
        for name in self._STATE:
            if name not in self.__dict__:
                continue
            value = self.__dict__[name]
            if isinstance(value, np.ndarray):
                value = value.copy()
            elif isinstance(value, list):
                value = list(value)
            elif isinstance(value, LSHIndex):
                value = _copy_index(value)
            state[name] = value
        return state

    def _restore(self, state):
        for name in self._STATE:
            self.__dict__.pop(name, None)
        self.__dict__.update(state)

    def _initialize(self, classes, n_features, dtype):
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        n_classes = classes.shape[0]
        self.classes_ = classes
        init = np.random.default_rng([self._seed, 0])
        # Small random rows rather than zeros: all-zero rows would share one
        # bucket of every table (the method would silently become a full
        # softmax until the first rebuild).
        width = n_features if self.n_components is None else self.n_components
        self._weights = (init.standard_normal((n_classes, width)) * (0.01 / np.sqrt(width))).astype(dtype)
        self.intercept_ = np.zeros(n_classes, dtype=dtype)
        for name in ("embedding_", "_embedding_accumulator", "_embedding_last_step", "_embedding_slot"):
            self.__dict__.pop(name, None)
        if self.n_components is not None:
            # A Gaussian random projection to start from (x @ E keeps the
            # geometry of x in expectation), learned from there on.
            scale = 1.0 / np.sqrt(self.n_components)
            self.embedding_ = (init.standard_normal((n_features, self.n_components)) * scale).astype(dtype)
            self._embedding_accumulator = np.zeros(n_features, dtype=np.float64)
            self._embedding_last_step = np.zeros(n_features, dtype=np.int64)
            self._embedding_slot = np.full(n_features, -1, dtype=np.int64)
        self._accumulator = np.zeros(n_classes, dtype=np.float64)
        self._last_step = np.zeros(n_classes, dtype=np.int64)
        self._slot = np.full(n_classes, -1, dtype=np.int64)  # workspace of the sampled step (left all -1)
        self.n_bits_ = self.n_bits if self.n_bits is not None else auto_n_bits(n_classes)
        if self.n_bits is None and self.table_design == "pairs":
            self.n_bits_ += self.n_bits_ % 2  # two halves per pair table
        LSHIndex(self.n_bits_, self.n_tables, table_design=self.table_design, probe_radius=self.probe_radius)  # checks
        self.t_ = 0
        self.n_rebuilds_ = 0
        self.n_degenerate_builds_ = 0
        self.n_empty_samples_ = 0
        self._degenerate_index = False
        self._n_epochs = 0
        self._classes_scored = 0.0
        self._inner_products = 0.0
        self._examples_seen = 0
        self._index = None

    @property
    def mean_classes_scored_(self) -> float:
        check_is_fitted(self)
        return self._classes_scored / max(self._examples_seen, 1)

    @property
    def inner_products_per_example_(self) -> float:
        check_is_fitted(self)
        return self._inner_products / max(self._examples_seen, 1)

    def _check_class_prior(self):
        if self.class_prior is None:
            return
        prior = np.asarray(self.class_prior, dtype=np.float64)
        n_classes = self.classes_.shape[0]
        if prior.shape != (n_classes,):
            raise ValueError(
                f"class_prior must have one entry per class, in the order of classes_ (shape ({n_classes},)); "
                f"got shape {prior.shape}."
            )
        if not (np.isfinite(prior).all() and (prior > 0).all()):
            raise ValueError("class_prior must hold positive finite values.")

    def _log_prior(self):
        """``log pi_j`` of the logit adjustment, normalised."""
        if self.class_prior is not None:
            prior = np.asarray(self.class_prior, dtype=np.float64)
        else:
            prior = self.class_count_ + 1.0
        return np.log(prior) - np.log(prior.sum())

    def _prior_draw_tables(self):
        """Tables of the class prior for the draws of "prior" and the prior
        draws of "lsh" (:func:`prior_draw_tables`), or None when there are
        none."""
        if not (self.estimator == "prior" or (self.estimator == "lsh" and self.n_prior_samples)):
            return None
        return prior_draw_tables(np.exp(self._log_prior()))

    def _current_prior_tables(self):
        # Set for the duration of a fit / partial_fit call (see _epochs).
        return self.__dict__.get("_prior_tables") or self._prior_draw_tables()

    def _logit_offset(self, when):
        """Per-class offsets added to the scores in training (``when="train"``)
        or prediction (``"predict"``), or None when there are none."""
        if self.logit_adjustment == 0:
            return None
        form = self.logit_adjustment_form
        if when == "train" and form == "loss":
            return self.logit_adjustment * self._log_prior()
        if when == "predict" and form == "post-hoc":
            if "class_count_" not in self.__dict__ and self.class_prior is None:
                raise AttributeError("This model has no class_count_ (fitted by an older version): refit it.")
            return -self.logit_adjustment * self._log_prior()
        return None

    def _split_validation(self, X, y_index, weights):
        seed = np.random.default_rng([self._seed, 1]).integers(2**31)
        counts = np.bincount(y_index)
        if (counts[counts > 0] >= 2).all():
            splitter = StratifiedShuffleSplit(test_size=self.validation_fraction, random_state=seed)
        else:
            splitter = ShuffleSplit(test_size=self.validation_fraction, random_state=seed)
        try:
            train, val = next(splitter.split(np.zeros(X.shape[0]), y_index))
        except ValueError:
            train, val = next(ShuffleSplit(test_size=self.validation_fraction, random_state=seed).split(y_index))
        if val.shape[0] == 0 or train.shape[0] == 0:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves an empty training or validation set "
                f"for {X.shape[0]} samples."
            )
        return X[train], y_index[train], weights[train], X[val], y_index[val]

    def _optimiser(self):
        return float(self.eta0), float(self.alpha), self.learning_rate == "adagrad"

    def _epochs(self, X, y_index, weights, n_epochs, X_val, y_val, monitor):
        n_samples = X.shape[0]
        # The rows of largest norm, whose scores are checked after every epoch.
        norms = _row_norms(X)
        largest = np.argpartition(norms, n_samples - min(64, n_samples))[n_samples - min(64, n_samples):]
        # The class prior of the prior draws, fixed for this call.
        self._prior_tables = self._prior_draw_tables()
        try:
            self._epoch_loop(X, y_index, weights, n_epochs, X_val, y_val, monitor, largest)
        finally:
            del self._prior_tables
        self._build_prediction_index()

    def _epoch_loop(self, X, y_index, weights, n_epochs, X_val, y_val, monitor, largest):
        n_samples = X.shape[0]
        best, no_improvement = np.inf, 0
        converged = False
        with _numba_threads(self.n_jobs):
            for _ in range(n_epochs):
                start = time.perf_counter()
                epoch = self._n_epochs
                if self.shuffle:
                    order = np.random.default_rng([self._seed, 2, epoch]).permutation(n_samples)
                else:
                    order = np.arange(n_samples)
                total = 0.0
                for batch in gen_batches(n_samples, self.batch_size):
                    rows = order[batch]
                    step_loss = self._step(X[rows], y_index[rows], weights[rows], stream=epoch * n_samples + batch.start)
                    if not np.isfinite(step_loss):
                        self._diverged(f"The training loss became {step_loss}", f"update {self.t_}")
                    total += step_loss
                self._finish_lazy_updates()
                self._n_epochs += 1
                self.n_iter_ += 1
                loss = total / n_samples
                if not np.isfinite(loss) or not self._weights_finite():
                    self._diverged(f"The training loss became {loss} (or a weight non-finite)", f"epoch {self.n_iter_}")
                self._check_scores_finite(X[largest])
                self.loss_curve_.append(float(loss))
                monitored = loss
                if X_val is not None:
                    monitored = -np.mean(self._log_proba_of(X_val, y_val))
                    self.validation_scores_.append(float(monitored))
                if self.verbose:
                    extra = f", validation log-loss {monitored:.4f}" if X_val is not None else ""
                    print(
                        f"-- Epoch {self.n_iter_}: loss {loss:.4f}{extra}, classes scored/example "
                        f"{self.mean_classes_scored_:.1f}, {time.perf_counter() - start:.2f} s"
                    )
                if monitor:
                    if monitored > best - self.tol:
                        no_improvement += 1
                    else:
                        no_improvement = 0
                    best = min(best, monitored)
                    if no_improvement >= self.n_iter_no_change:
                        converged = True
                        break
        if monitor and not converged:
            warnings.warn(
                f"Maximum number of iteration reached ({self.max_iter}) before the loss stopped improving by "
                f"tol={self.tol}; consider increasing max_iter.",
                ConvergenceWarning,
            )

    def _diverged(self, what, where):
        raise FloatingPointError(
            f"{what} at {where}: the step size is too large for this data. Lower eta0 (now {self.eta0}) or scale "
            "the features. The model was left as it was before this call."
        )

    def _check_scores_finite(self, Xb):
        """Finite weights can still give scores that overflow the model's
        dtype (float32 weights of 1e22 in the low-rank mode, where two
        factors grow together); prediction would then return NaN. Scoring
        the 64 training rows of largest norm as prediction does catches that
        in training (and prediction itself refuses non-finite scores)."""
        try:
            for _ in self._score_chunks(Xb):
                pass
        except FloatingPointError:
            self._diverged(f"The class scores overflow {self._weights.dtype}", f"epoch {self.n_iter_}")

    def _weights_finite(self):
        finite = np.isfinite(self._weights).all() and np.isfinite(self.intercept_).all()
        if "embedding_" in self.__dict__:
            finite = finite and np.isfinite(self.embedding_).all()
        return finite

    def _finish_lazy_updates(self):
        eta0, alpha, adagrad = self._optimiser()
        _sgd.catch_up_rows(self._weights, self._accumulator, self._last_step, self.t_, eta0, alpha, adagrad)
        if "embedding_" in self.__dict__:
            _sgd.catch_up_rows(self.embedding_, self._embedding_accumulator, self._embedding_last_step, self.t_,
                               eta0, alpha, adagrad)  # fmt: skip

    def _table_vectors(self):
        if self.fit_intercept:
            return np.hstack([self._weights, self.intercept_[:, None]])
        return self._weights

    def _new_index(self, stream):
        seed = int(np.random.default_rng([self._seed, stream]).integers(2**62))
        return LSHIndex(
            self.n_bits_, self.n_tables, n_norm_ranges=_LSH_NORM_RANGES, table_design=self.table_design,
            probe_radius=self.probe_radius, seed=seed,
        )

    def _build_prediction_index(self):
        # Tables over the final weights for ``predict_topk(retrieval="lsh")``;
        # separate from the training tables so that building them does not
        # change the training's random projections.
        self._predict_index = self._new_index(4).build(self._table_vectors())

    def _needs_rebuild(self):
        if self._index is None or self._degenerate_index:
            return True
        if self.rebuild_interval is None:
            return default_rebuild_schedule(self.t_)
        return self.t_ % self.rebuild_interval == 0

    def _step(self, Xb, yb, wb, stream):
        eta0, alpha, adagrad = self._optimiser()
        n_rows = Xb.shape[0]
        wb = wb / n_rows
        if "embedding_" not in self.__dict__:
            loss = self._class_step(Xb, yb, wb, stream, None)
        else:
            # Low-rank: hidden rows H = X_b E, a softmax step on (H, y) that
            # also returns dL/dH, then the embedding rows of the batch's
            # features are updated from dL/dH.
            x_indptr, x_indices, x_data = _csr_arrays(Xb)
            embedding_state = (self.embedding_, self._embedding_accumulator, self._embedding_last_step, self.t_,
                               eta0, alpha, adagrad)  # fmt: skip
            H = _embedding.hidden_rows(x_indptr, x_indices, x_data, *embedding_state)
            grad_hidden = np.zeros(H.shape, dtype=np.float64)
            loss = self._class_step(H, yb, wb, stream, grad_hidden)
            _embedding.embedding_step(x_indptr, x_indices, x_data, grad_hidden, *embedding_state,
                                      self._embedding_slot)  # fmt: skip
        self._examples_seen += n_rows
        self.t_ += 1
        return loss * n_rows

    def _class_step(self, Xb, yb, wb, stream, grad_x):
        """Softmax step of the class rows on inputs ``Xb`` (the features, or
        the hidden rows of the low-rank model). ``grad_x``: None, or a float64
        zero array that receives dL/dXb."""
        eta0, alpha, adagrad = self._optimiser()
        n_classes = self.classes_.shape[0]
        if self.estimator == "exact":
            self._classes_scored += n_classes * Xb.shape[0]
            self._inner_products += n_classes * Xb.shape[0]
            return self._exact_step(Xb, yb, wb, eta0, alpha, adagrad, grad_x)
        if self.estimator == "uniform":
            cand_indptr, cand_classes, log_weight = self._uniform_negatives(yb, stream, self._seed)
        elif self.estimator == "prior":
            cand_indptr, cand_classes, log_weight = self._prior_negatives(yb.shape[0], stream)
        else:
            cand_indptr, cand_classes, log_weight = self._lsh_candidates(Xb, yb, stream)
        offset = self._logit_offset("train")
        if offset is not None:
            # Logit adjustment, loss form: the loss log Z_hat' - (s_y + o_y)
            # with Z_hat' = exp(s_y + o_y) + sum_j exp(s_j + o_j) / P_j equals
            # the kernel's loss once every candidate's log weight is shifted
            # by o_j - o_y (divide Z_hat' by exp(o_y)); its gradients too.
            row_label = np.repeat(yb, np.diff(cand_indptr))
            log_weight = log_weight + (offset[cand_classes] - offset[row_label])
        if sp.issparse(Xb):
            x_dense, x_indptr, x_indices, x_data = np.empty((0, 0), Xb.dtype), Xb.indptr, Xb.indices, Xb.data
        else:
            x_dense = np.ascontiguousarray(Xb)
            x_indptr, x_indices, x_data = np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, Xb.dtype)
        loss = _sgd.sampled_softmax_step(
            x_dense, x_indptr, x_indices, x_data, yb.astype(np.int64), wb,
            cand_indptr, cand_classes, log_weight,
            self._weights, self.intercept_, self.fit_intercept, self._accumulator, self._last_step, self.t_,
            eta0, alpha, adagrad, self._slot, np.empty((0, 0)) if grad_x is None else grad_x,
        )  # fmt: skip
        self._classes_scored += cand_classes.shape[0] + Xb.shape[0]
        self._inner_products += cand_classes.shape[0] + Xb.shape[0]
        return loss

    def _lsh_candidates(self, Xb, yb, stream):
        """Candidates and log importance weights of the three LSH estimators
        ("lsh", "lsh-draw", "mips-gumbel") for the batch; the index's own
        work (builds, query hashing, the scores behind the inclusion
        probabilities) is added to ``_inner_products``."""
        n_classes = self.classes_.shape[0]
        rebuild = self._needs_rebuild()  # always True while there is no index
        if self._index is None:
            self._index = self._new_index(3)
        index = self._index
        work_before = index.build_inner_products_ + index.hash_inner_products_ + index.score_inner_products_
        if rebuild:
            self._finish_lazy_updates()
            # _table_vectors() is a fresh array when it appends the intercept.
            index.build(self._table_vectors(), copy=not self.fit_intercept)
            self.n_rebuilds_ += 1
            # Tables that cannot tell the classes apart (e.g. all-zero or
            # identical rows, as after a user sets coef_ to zeros) put most
            # classes in one bucket: rebuild at every step until training
            # has separated the rows.
            self._degenerate_index = bool(2 * index.largest_bucket_sizes().min() > n_classes)
            self.n_degenerate_builds_ += self._degenerate_index
        Xq = _add_ones_column(Xb) if self.fit_intercept else Xb
        if self.estimator == "lsh-draw":
            n_draws = self._n_samples()
            seed = int(np.random.default_rng([self._seed, 5, stream]).integers(2**62))
            sample = index._draw(Xq, n_draws, index.n_tables, seed, 0)
            found = sample.classes >= 0
            indptr = np.concatenate([[0], np.cumsum(found.sum(axis=1))]).astype(np.int64)
            classes = sample.classes[found].astype(np.int64)
            log_weight = np.log(sample.bucket_sizes[found]) - sample.log_probabilities[found] - np.log(n_draws)
            result = self._negatives_where_empty(yb, indptr, classes, log_weight, stream)
        else:
            sample = index._query(Xq)
            indptr, classes = sample.indptr, sample.classes.astype(np.int64)
            if self.estimator == "lsh":
                if self.n_prior_samples:
                    seed = int(np.random.default_rng([self._seed, 6, stream]).integers(2**62))
                    sample = index._add_prior_draws(Xq, sample, self._current_prior_tables(), self.n_prior_samples,
                                                    seed, 0)  # fmt: skip
                    indptr, classes = sample.indptr, sample.classes
                result = self._negatives_where_empty(yb, indptr, classes, -sample.log_probabilities, stream)
            else:
                result = self._top_and_uniform_tail(yb, sample, stream)
        self._inner_products += (
            index.build_inner_products_ + index.hash_inner_products_ + index.score_inner_products_ - work_before
        )
        return result

    def _prior_negatives(self, n_rows, stream):
        """``n_samples`` (default: 1% of C) draws per example from the class
        prior; each distinct class weighted ``1 / (1 - (1 - q_j) ** n)``.
        A draw of the label is kept out of ``Z_hat`` by the step (the label's
        term has weight 1), which leaves the estimate unbiased."""
        prior_cdf, log1m_prior = self._current_prior_tables()
        n = self._n_samples()
        seed = int(np.random.default_rng([self._seed, 7, stream]).integers(2**62))
        empty = np.zeros(n_rows + 1, dtype=np.int64)
        indptr, classes, _ = _retrieval.add_prior_draws(empty, empty[:0], prior_cdf, n, seed, 0)
        return indptr, classes, -log_prior_inclusion(log1m_prior, classes, n)

    def _top_and_uniform_tail(self, yb, sample, stream):
        """"mips-gumbel" candidates: the ``n_top`` best-scoring classes of
        the union other than the label (weight 1), then ``n_samples`` uniform
        draws from the classes that are neither those nor the label (weight
        ``(C - 1 - n_top_i) / n``), so ``Z_hat`` stays unbiased for the sum
        over the classes other than the label."""
        n_classes, n_rows = self.classes_.shape[0], yb.shape[0]
        scores = np.where(sample.classes == np.repeat(yb, sample.sizes), -np.inf, sample.scores)
        top = _scoring.top_k_per_segment(scores, sample.indptr, self.n_top) & np.isfinite(scores)
        row_of = np.repeat(np.arange(n_rows), sample.sizes)
        top_counts = np.bincount(row_of[top], minlength=n_rows)
        top_classes = sample.classes[top].astype(np.int64)
        # Exclude each row's top classes and its label from the tail draws.
        excluded_ptr = np.concatenate([[0], np.cumsum(top_counts + 1)]).astype(np.int64)
        excluded = np.empty(excluded_ptr[-1], dtype=np.int64)
        label_at = excluded_ptr[1:] - 1
        excluded[label_at] = yb
        keep = np.ones(excluded.shape[0], dtype=bool)
        keep[label_at] = False
        excluded[keep] = top_classes
        n = self._n_samples()
        tail = _retrieval.uniform_classes_excluding(excluded_ptr, excluded, n, n_classes, self._seed + 2, stream)
        tail_found = tail >= 0
        tail_counts = tail_found.sum(axis=1)
        tail_log_weight = np.log(np.maximum(n_classes - 1 - top_counts, 1) / n)
        indptr = np.concatenate([[0], np.cumsum(top_counts + tail_counts)]).astype(np.int64)
        # Top classes first, then the tail draws, regrouped by row (stable).
        rows = np.repeat(np.tile(np.arange(n_rows), 2), np.concatenate([top_counts, tail_counts]))
        classes = np.concatenate([top_classes, tail[tail_found]])
        log_weight = np.concatenate([np.zeros(top_classes.shape[0]), np.repeat(tail_log_weight, tail_counts)])
        order = np.argsort(rows, kind="stable")
        self._classes_scored += sample.classes.shape[0] - top_classes.shape[0]  # scored to pick the top
        return indptr, classes[order], log_weight[order]

    def _n_samples(self):
        n_classes = self.classes_.shape[0]
        return self.n_samples if self.n_samples is not None else max(1, int(np.ceil(0.01 * n_classes)))

    def _uniform_negatives(self, yb, stream, seed):
        """``n_samples`` (default: 1% of C) classes per example, uniform over
        the classes other than its label, each weighted ``(C - 1) / n``."""
        n_classes = self.classes_.shape[0]
        n = self._n_samples()
        excluded_ptr = np.arange(yb.shape[0] + 1, dtype=np.int64)
        drawn = _retrieval.uniform_classes_excluding(excluded_ptr, yb.astype(np.int64), n, n_classes, seed, stream)
        indptr = np.arange(0, (yb.shape[0] + 1) * n, n, dtype=np.int64)
        return indptr, drawn.ravel(), np.full(drawn.size, np.log((n_classes - 1) / n))

    def _negatives_where_empty(self, yb, indptr, classes, log_weight, stream):
        """Uniform negatives for the examples whose LSH sample holds no class
        but the label (method.md, pitfall 6): such an example would give a
        zero loss and no gradient. Counted in ``n_empty_samples_``. This is
        a fallback, so it adds a small upward bias to Z_hat exactly where
        the union estimate was 0; with working tables it never triggers."""
        n_rows = yb.shape[0]
        empty = _retrieval.count_negatives(indptr, classes, yb.astype(np.int64)) == 0
        if not empty.any():
            return indptr, classes, log_weight
        self.n_empty_samples_ += int(empty.sum())
        fill_indptr, fill_classes, fill_log_weight = self._uniform_negatives(yb[empty], stream, self._seed + 1)
        # Drop what the empty rows held (at most their label), append their
        # draws, and regroup by row (a stable sort keeps each row's order).
        row_of = np.repeat(np.arange(n_rows), np.diff(indptr))
        keep = ~empty[row_of]
        rows = np.concatenate([row_of[keep], np.repeat(np.flatnonzero(empty), np.diff(fill_indptr))])
        order = np.argsort(rows, kind="stable")
        new_indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
        new_classes = np.concatenate([classes[keep], fill_classes])[order]
        new_log_weight = np.concatenate([log_weight[keep], fill_log_weight])[order]
        return new_indptr, new_classes, new_log_weight

    def _exact_step(self, Xb, yb, wb, eta0, alpha, adagrad, grad_x):
        scores = np.asarray(safe_sparse_dot(Xb, self._weights.T))
        if self.fit_intercept:
            scores += self.intercept_
        offset = self._logit_offset("train")
        if offset is not None:
            scores += offset.astype(scores.dtype)
        log_z = logsumexp(scores, axis=1)
        rows = np.arange(Xb.shape[0])
        loss = float(np.dot(wb, log_z - scores[rows, yb]))
        proba = np.exp(scores - log_z[:, None], out=scores)
        proba[rows, yb] -= 1.0
        proba *= wb[:, None].astype(proba.dtype)
        grad = np.ascontiguousarray(safe_sparse_dot(proba.T, Xb, dense_output=True))
        grad_b = proba.sum(axis=0) if self.fit_intercept else np.zeros(proba.shape[1], dtype=proba.dtype)
        if grad_x is not None:
            grad_x += proba @ self._weights  # at the weights before the update
        _sgd.dense_step_apply(
            self._weights, self.intercept_, self.fit_intercept, self._accumulator, self._last_step, self.t_,
            eta0, alpha, adagrad, grad, grad_b,
        )  # fmt: skip
        return loss

    # ------------------------------------------------------------ predict
    def _validate_for_predict(self, X):
        check_is_fitted(self)
        self._check_model_arrays()
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        if X.dtype != self._weights.dtype:
            X = X.astype(self._weights.dtype)
        return X

    def _hidden(self, X):
        """The inputs of the class layer: ``X`` itself, or ``X @ embedding_``
        (dense) in the low-rank mode."""
        if "embedding_" not in self.__dict__:
            return X
        return np.asarray(safe_sparse_dot(X, self.embedding_, dense_output=True))

    def _score_chunks(self, X):
        """Yield ``(rows, scores)`` chunks bounded by ``working_memory``."""
        n_classes = self.classes_.shape[0]
        chunk = get_chunk_n_rows(row_bytes=2 * n_classes * self._weights.dtype.itemsize, max_n_rows=X.shape[0])
        offset = self._logit_offset("predict")
        for rows in gen_batches(X.shape[0], chunk):
            scores = np.asarray(safe_sparse_dot(self._hidden(X[rows]), self._weights.T, dense_output=True))
            if self.fit_intercept:
                scores += self.intercept_
            if offset is not None:
                scores += offset.astype(scores.dtype)
            if not np.isfinite(scores).all():
                raise FloatingPointError(
                    f"Class scores overflow {scores.dtype} (largest |weight| {np.abs(self._weights).max():.3g}): "
                    "the model diverged in training or these inputs are too large for it. Refit with a lower "
                    f"eta0 (now {self.eta0}), scaled features, or float64 input."
                )
            yield rows, scores

    def decision_function(self, X):
        """Class scores ``s_j = coef_[j] . x + intercept_[j]`` (low-rank mode:
        ``class_embedding_[j] . (x @ embedding_) + intercept_[j]``), minus
        ``logit_adjustment * log pi_j`` with the post-hoc logit adjustment.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            With two classes, the scikit-learn binary convention:
            ``s_1 - s_0``, positive when ``classes_[1]`` is predicted.
        """
        X = self._validate_for_predict(X)
        n_classes = self.classes_.shape[0]
        _check_dense_output("decision_function", X.shape[0], n_classes, self._weights.dtype)
        out = np.empty((X.shape[0], n_classes), dtype=self._weights.dtype)
        for rows, scores in self._score_chunks(X):
            out[rows] = scores
        if out.shape[1] == 2:
            return out[:, 1] - out[:, 0]
        return out

    def predict(self, X):
        """Most probable class per row (exact scores, in chunks).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._validate_for_predict(X)
        best = np.empty(X.shape[0], dtype=np.int64)
        for rows, scores in self._score_chunks(X):
            best[rows] = np.argmax(scores, axis=1)
        return self.classes_[best]

    def predict_log_proba(self, X):
        """Log of the softmax probabilities, columns in the order of ``classes_``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._log_proba(X, "predict_log_proba")

    def predict_proba(self, X):
        """Softmax probabilities, columns in the order of ``classes_``.

        An output that would not fit in the available memory raises a
        MemoryError before any work; :meth:`predict_topk` returns the ``k``
        most probable classes in O(n_samples x k) memory.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1.
        """
        log_proba = self._log_proba(X, "predict_proba")
        return np.exp(log_proba, out=log_proba)  # in place: one n x C array, not two

    def _log_proba(self, X, method):
        X = self._validate_for_predict(X)
        n_classes = self.classes_.shape[0]
        _check_dense_output(method, X.shape[0], n_classes, self._weights.dtype)
        out = np.empty((X.shape[0], n_classes), dtype=self._weights.dtype)
        for rows, scores in self._score_chunks(X):
            _shift_to_row_max(scores)
            out[rows] = scores - _row_logsumexp(scores)[:, None]
        return out

    def _log_proba_of(self, X, y_index):
        out = np.empty(X.shape[0])
        for rows, scores in self._score_chunks(X):
            _shift_to_row_max(scores)
            out[rows] = scores[np.arange(scores.shape[0]), y_index[rows]] - _row_logsumexp(scores)
        return out

    def predict_topk(self, X, k: int = 5, *, retrieval: str = "exact"):
        """The ``k`` most probable classes per row, best first, with probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        k : int, default=5
            Number of classes per row, 1 <= k <= n_classes.
        retrieval : {"exact", "lsh"}, default="exact"
            "exact" scores every class (chunked by ``working_memory``).
            "lsh" scores only the classes that the hash tables (built on the
            final weights) retrieve, so the cost is sublinear in C; the
            returned probabilities then use the unbiased LSH estimate of
            Z(x). A row with fewer than ``k`` retrieved classes falls back to
            exact scoring.

        Returns
        -------
        labels : ndarray of shape (n_samples, k)
            Labels from ``classes_``.
        proba : ndarray of shape (n_samples, k)
        """
        X = self._validate_for_predict(X)
        n_classes = self.classes_.shape[0]
        if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= n_classes:
            raise ValueError(f"k must be an int in [1, n_classes={n_classes}], got {k!r}.")
        if retrieval not in ("exact", "lsh"):
            raise ValueError(f"retrieval must be 'exact' or 'lsh', got {retrieval!r}.")
        top = np.empty((X.shape[0], k), dtype=np.int64)
        proba = np.empty((X.shape[0], k), dtype=np.float64)
        with _numba_threads(self.n_jobs):
            if retrieval == "exact":
                self._topk_exact(X, k, np.arange(X.shape[0]), top, proba)
            else:
                self._topk_lsh(X, k, top, proba)
        return self.classes_[top], proba

    def _topk_exact(self, X, k, rows_out, top, proba):
        for rows, scores in self._score_chunks(X):
            _shift_to_row_max(scores)
            best = _scoring.top_k_rows(scores, k)
            log_z = _row_logsumexp(scores)[:, None]
            top[rows_out[rows]] = best
            proba[rows_out[rows]] = np.exp(np.take_along_axis(scores, best, axis=1) - log_z)

    def _topk_lsh(self, X, k, top, proba):
        index = _copy_index(self._predict_index)  # queries update counters: keep the fitted state read-only
        H = self._hidden(X)
        Xq = _add_ones_column(H) if self.fit_intercept else H
        sample = index._query(Xq)
        offset = self._logit_offset("predict")
        if offset is not None:  # post-hoc logit adjustment of the retrieved classes' scores
            sample = sample._replace(scores=sample.scores + offset[sample.classes])
        sizes = np.diff(sample.indptr)
        # Scores relative to each row's largest term, so that the estimate of
        # log Z is near 0 and the probabilities keep their digits (as in
        # _shift_to_row_max).
        log_terms = sample.scores - sample.log_probabilities
        shift = np.zeros(sizes.shape[0])
        starts = sample.indptr[:-1][sizes > 0]
        if starts.shape[0]:
            shift[sizes > 0] = np.maximum.reduceat(log_terms, starts)
        shift = np.repeat(shift, sizes)
        shifted = sample.scores - shift
        log_z = _scoring.segment_logsumexp(log_terms - shift, sample.indptr)
        full = sizes >= k
        # The k best candidates of every row, then best first within each row.
        keep = np.flatnonzero(_scoring.top_k_per_segment(sample.scores, sample.indptr, k))
        row_of = np.repeat(np.arange(sizes.shape[0]), sizes)[keep]
        keep = keep[full[row_of]]
        row_of = row_of[full[row_of]]
        keep = keep[np.lexsort((-sample.scores[keep], row_of))]
        top[full] = sample.classes[keep].reshape(-1, k)
        proba[full] = np.exp(shifted[keep].reshape(-1, k) - log_z[full][:, None])
        short = np.flatnonzero(sizes < k)
        if short.shape[0]:
            self._topk_exact(X[short], k, short, top, proba)


def _available_memory():
    """Bytes of memory available to a new allocation, or None if unknown
    (Linux: ``MemAvailable`` of /proc/meminfo; elsewhere the physical memory)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_dense_output(method, n_rows, n_classes, dtype):
    """Refuse an (n_rows, n_classes) output that cannot fit in memory with a
    clear error, instead of the OS killing the process mid-way."""
    needed = n_rows * n_classes * np.dtype(dtype).itemsize
    available = _available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{method} would return an array of {n_rows} x {n_classes} {np.dtype(dtype).name} "
            f"({needed / 2**30:.1f} GiB), more than the {available / 2**30:.1f} GiB of memory available. Use "
            "predict_topk(X, k) for the k most probable classes of each row (memory O(n_samples x k)), "
            "predict(X) for the best class, or pass X in smaller batches."
        )


def _shift_to_row_max(scores):
    """Subtract each row's maximum in place. Log-probabilities are then
    ``shifted - log(sum(exp(shifted)))`` with a log-sum-exp near 0, instead of
    a difference of two large numbers: with scores of 1e12 the direct form
    ``scores - logsumexp(scores)`` keeps only about 4 significant digits of
    the probabilities (rows summed to 1 +- 3e-5)."""
    scores -= scores.max(axis=1, keepdims=True)


def _row_logsumexp(scores):
    """Stable log-sum-exp of each row of a C-contiguous score chunk, without
    the chunk-sized temporaries of ``scipy.special.logsumexp`` (which would
    multiply the memory that ``working_memory`` bounds)."""
    n_rows, n_classes = scores.shape
    indptr = np.arange(0, (n_rows + 1) * n_classes, n_classes, dtype=np.int64)
    return _scoring.segment_logsumexp(np.ascontiguousarray(scores).ravel(), indptr)


def _csr_arrays(X):
    """``(indptr, indices, data)`` of CSR rows; dense rows with every entry."""
    if sp.issparse(X):
        return X.indptr, X.indices, X.data
    return _sgd.dense_as_csr(X)


def _copy_index(index):
    clone = LSHIndex.__new__(LSHIndex)
    clone.__dict__.update(index.__dict__)
    return clone
