"""BaseSoftmaxSGD: what every softmax classifier of the package shares.

In the manner of scikit-learn's ``BaseSGD`` / ``BaseSGDClassifier``: merged
parameter constraints; ``fit`` and ``partial_fit`` both go through one
``_partial_fit``; one epoch loop (shuffling, ``tol``, early stopping on a
validation split, divergence checks, verbose output); rollback of a failed
call over the fitted state; and the prediction methods over one scoring
hook, ``_exact_scores``.

A subclass provides the model: ``_init_model``, ``_step`` (one minibatch
update, returning its weighted loss sum), ``_exact_scores`` (the scorer of
exact prediction: a :class:`._prediction.LinearScores` or
:class:`._prediction.NormalisedChunks`), ``_check_model_arrays``,
``_architecture_mismatch``, ``_weights_finite`` and ``_model_dtype``; and
optionally the epoch hooks ``_training_session``, ``_end_epoch``,
``_after_epoch`` and ``_after_training``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._arrays import row_norms
from ._concurrency import ModelLock
from ._parallel import numba_threads, training_threads
from ._rng import Stream, generator
from ._rollback import TRANSIENT, RollbackMixin
from ._validation import check_dense_output, check_sample_weight, label_index, sample_class_weights, unique_labels

__all__ = ["BaseSoftmaxSGD"]

_LOCK_CREATION = threading.Lock()


def _reads_model(method):
    """Run a prediction method under the instance's lock: it waits while
    another thread trains the instance (see :class:`ModelLock`)."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock().predicting():
            return method(self, *args, **kwargs)

    return locked


class BaseSoftmaxSGD(RollbackMixin, ClassifierMixin, BaseEstimator):
    """Base of the softmax classifiers trained by minibatch SGD (not public)."""

    _parameter_constraints: dict = {
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    # ------------------------------------------------------------- threads
    def _lock(self) -> ModelLock:
        """The instance's :class:`ModelLock`, made on first use (not pickled)."""
        lock = self.__dict__.get("_model_lock")
        if lock is None:
            with _LOCK_CREATION:
                lock = self.__dict__.setdefault("_model_lock", ModelLock())
        return lock

    def _cache_lock(self) -> threading.Lock:
        """The lock under which a prediction builds a cache (not pickled)."""
        lock = self.__dict__.get("_cache_build_lock")
        if lock is None:
            with _LOCK_CREATION:
                lock = self.__dict__.setdefault("_cache_build_lock", threading.Lock())
        return lock

    def __getstate__(self):
        state = dict(super().__getstate__())
        for name in TRANSIENT:
            state.pop(name, None)
        for name in self._cache_attributes:
            if name in state:
                state[name] = None
        state.pop("_graph_index", None)  # retrieval="hnsw": rebuilt on first use
        return state

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
        self : object
            The fitted estimator.
        """
        with self._lock().training(type(self).__name__, "fit"):
            return self._partial_fit(X, y, None, sample_weight, n_epochs=self.max_iter, refit=True)

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
        self : object
            The updated estimator.
        """
        with self._lock().training(type(self).__name__, "partial_fit"):
            return self._partial_fit(X, y, classes, sample_weight, n_epochs=1, refit=False)

    def _partial_fit(self, X, y, classes, sample_weight, *, n_epochs, refit):
        """Validate, (re)initialise or check the model, run ``n_epochs``.
        ``refit``: a :meth:`fit` call (classes from ``y``, reset unless
        ``warm_start``, ``tol`` and early stopping honoured). A failed call
        leaves the previous model intact, or no model at all: never a
        half-trained (possibly non-finite) one.

        Everything is validated before the model is touched; the rollback
        state then holds only what a failure could corrupt (see
        :mod:`sklearn_lsh._rollback`): a fit that starts over keeps
        references to the previous model, a call that trains the model in
        place copies its small arrays and journals the rows it writes."""
        first_call = refit or not hasattr(self, "classes_")
        if refit:
            state = self._snapshot(protect=False)  # references; fit protects them if it keeps the model
        else:
            classes = self._check_partial_fit_classes(classes, first_call)
        try:
            X, y = validate_data(
                self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C", reset=first_call
            )
            if refit:
                X, y_index, weights = self._prepare_fit(X, y, sample_weight, state)
            else:
                X, y_index, weights = self._prepare_partial_fit(X, y, classes, sample_weight, first_call)
                state = None if first_call else self._snapshot()
        except BaseException:
            if refit or first_call:
                self._restore(state if refit else {})
            raise
        if state is not None:
            self.__dict__["_journal"] = state.journal
        try:
            if not refit:
                self._start_partial_fit(classes if first_call else self.classes_, X, first_call)
            self._count_labels(y_index, reset=refit)
            weights = weights * sample_class_weights(self.class_weight, self.classes_, y_index)
            X_val = y_val = None
            if refit and self.early_stopping:
                X, y_index, weights, X_val, y_val = self._split_validation(X, y_index, weights)
            self._run_epochs(X, y_index, weights, n_epochs, X_val, y_val, refit=refit)
        except BaseException:
            self._restore({} if state is None else state)
            raise
        finally:
            self.__dict__.pop("_journal", None)
        return self

    def _check_partial_fit_classes(self, classes, first_call):
        if first_call:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = unique_labels(np.asarray(classes), "classes")
            if classes.shape[0] < 2:
                raise ValueError(f"partial_fit needs at least 2 classes, got {classes.shape[0]}.")
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(np.asarray(classes), "classes")):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the first call to partial_fit, "
                f"was: {self.classes_!r}."
            )
        return classes

    def _prepare_fit(self, X, y, sample_weight, state):
        classes = unique_labels(y, "y")
        check_classification_targets(y)
        if classes.shape[0] < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data contains "
                f"only one class: {classes[0]!r}."
            )
        self._check_fit_classes(classes)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        keep = self.warm_start and self._has_model()
        if keep:
            mismatch = self._architecture_mismatch(classes, X)
            if mismatch:
                raise ValueError(
                    f"warm_start=True needs the same {mismatch} as the previous fit; set warm_start=False to start "
                    "over."
                )
            self._check_model_arrays()
            self._protect(state)  # trained in place from here on
        else:
            self._initialize(classes, X.shape[1], X.dtype)  # new arrays: the previous ones stay as they are
        self.n_iter_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if self.early_stopping else None
        return X, np.searchsorted(self.classes_, y), sample_weight

    def _prepare_partial_fit(self, X, y, classes, sample_weight, first_call):
        y_index = label_index(y, classes if first_call else self.classes_)
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: it needs the class frequencies "
                "of the whole data. Pass a dict of weights, or use fit."
            )
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        if not first_call:
            self._check_partial_fit_model(X)
            if X.dtype != self._model_dtype:
                X = X.astype(self._model_dtype)
        return X, y_index, sample_weight

    def _check_partial_fit_model(self, X):
        """Before a later ``partial_fit`` call: the model can take ``X``."""
        self._check_model_arrays()

    def _start_partial_fit(self, classes, X, first_call):
        if first_call:
            self._initialize(classes, X.shape[1], X.dtype)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.validation_scores_ = None

    def _count_labels(self, y_index, reset):
        """``class_count_``: training labels per class, over partial_fit calls."""
        n_classes = self.classes_.shape[0]
        if reset or "class_count_" not in self.__dict__:  # (or a model fitted before class_count_ existed)
            self.class_count_ = np.zeros(n_classes, dtype=np.float64)
        self.class_count_ += np.bincount(y_index, minlength=n_classes)

    def _check_fit_classes(self, classes):
        """Model-specific limits on the classes of a fit (none by default)."""

    def _initialize(self, classes, n_features, dtype):
        rng = check_random_state(self.random_state)
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        self.classes_ = classes
        self.t_ = 0
        self._n_epochs = 0
        self._inner_products = 0.0
        self._examples_seen = 0
        self._init_model(n_features, dtype, generator(self._seed, Stream.INIT))

    def _has_model(self):
        return hasattr(self, "classes_")

    # -------------------------------------------------------------- epochs
    def _split_validation(self, X, y_index, weights):
        seed = generator(self._seed, Stream.VALIDATION).integers(2**31)
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

    def _run_epochs(self, X, y_index, weights, n_epochs, X_val, y_val, refit):
        n_samples = X.shape[0]
        monitor = refit and self.tol is not None
        # The rows of largest norm, whose scores are checked after every epoch.
        n_largest = min(64, n_samples)
        largest = np.argpartition(row_norms(X), n_samples - n_largest)[n_samples - n_largest :]
        best, no_improvement, converged = np.inf, 0, False
        with training_threads(self.n_jobs), self._training_session(X):
            for _ in range(n_epochs):
                start = time.perf_counter()
                epoch = self._n_epochs
                if self.shuffle:
                    order = generator(self._seed, Stream.SHUFFLE, epoch).permutation(n_samples)
                else:
                    order = np.arange(n_samples)
                total = 0.0
                for batch in gen_batches(n_samples, self.batch_size):
                    rows = order[batch]
                    step_loss = self._step(X[rows], y_index[rows], weights[rows], stream=epoch * n_samples + batch.start)
                    if not np.isfinite(step_loss):
                        self._diverged(f"The training loss became {step_loss}", f"update {self.t_}")
                    total += step_loss
                self._end_epoch()
                self._n_epochs += 1
                self.n_iter_ += 1
                loss = total / n_samples
                if not np.isfinite(loss) or not self._weights_finite():
                    self._diverged(f"The training loss became {loss} (or a weight non-finite)", f"epoch {self.n_iter_}")
                self._check_scores_finite(X[largest])
                self.loss_curve_.append(float(loss))
                summary = self._after_epoch(X, y_index, weights, refit)
                monitored = loss
                if X_val is not None:
                    monitored = -np.mean(self._label_log_proba(X_val, y_val))
                    self.validation_scores_.append(float(monitored))
                if self.verbose:
                    extra = f", validation log-loss {monitored:.4f}" if X_val is not None else ""
                    print(
                        f"-- Epoch {self.n_iter_}: loss {loss:.4f}{extra}{summary}, "
                        f"{time.perf_counter() - start:.2f} s"
                    )
                if monitor:
                    no_improvement = no_improvement + 1 if monitored > best - self.tol else 0
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
        self._after_training()

    def _training_session(self, X):
        """Context of one fit / partial_fit call's epochs on ``X`` (e.g. its sampler)."""
        return contextlib.nullcontext()

    def _end_epoch(self):
        """Bring the model up to date at the end of an epoch."""

    def _after_epoch(self, X, y_index, weights, refit):
        """After an epoch's checks (e.g. the two-component re-placement);
        returns the text after the loss of a verbose epoch line."""
        return ""

    def _after_training(self):
        """After the epochs of a call."""

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
        in training (and prediction itself refuses non-finite scores). The
        rows are scored a few at a time (chunks of at most 64 MiB), so that
        the check does not hold a (64, n_classes) block."""
        try:
            self._exact_scores().argmax(Xb)
        except FloatingPointError:
            self._diverged(f"The class scores overflow {self._model_dtype}", f"epoch {self.n_iter_}")

    # ------------------------------------------------------------ counters
    @property
    def inner_products_per_example_(self) -> float:
        check_is_fitted(self)
        return self._inner_products / max(self._examples_seen, 1)

    # ------------------------------------------------------------ predict
    def _validate_for_predict(self, X):
        check_is_fitted(self)
        self._check_model_arrays()
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False)
        if X.dtype != self._model_dtype:
            X = X.astype(self._model_dtype)
        return X

    @_reads_model
    def decision_function(self, X):
        """Class scores (see the class docstring for what they are).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            With two classes, the scikit-learn binary convention:
            ``s_1 - s_0``, positive when ``classes_[1]`` is predicted.
        """
        X = self._validate_for_predict(X)
        n_classes = self.classes_.shape[0]
        check_dense_output("decision_function", X.shape[0], n_classes, self._model_dtype)
        out = np.empty((X.shape[0], n_classes), dtype=self._model_dtype)
        with numba_threads(self.n_jobs):
            self._exact_scores().fill(X, out, log_proba=False)
        if out.shape[1] == 2:
            return out[:, 1] - out[:, 0]
        return out

    @_reads_model
    def predict(self, X):
        """Most probable class per row (exact scores, in chunks).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._validate_for_predict(X)
        with numba_threads(self.n_jobs):
            best = self._exact_scores().argmax(X)
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

    @_reads_model
    def _log_proba(self, X, method):
        X = self._validate_for_predict(X)
        n_classes = self.classes_.shape[0]
        check_dense_output(method, X.shape[0], n_classes, self._model_dtype)
        out = np.empty((X.shape[0], n_classes), dtype=self._model_dtype)
        with numba_threads(self.n_jobs):
            self._exact_scores().fill(X, out, log_proba=True)
        return out

    @_reads_model
    def predict_log_proba_of(self, X, y) -> np.ndarray:
        """``log p(y_i | x_i)`` of every row, in chunks (O(n_samples) memory).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels from ``classes_``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples,), float64
        """
        X = self._validate_for_predict(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != X.shape[0] or y.shape[0] == 0:
            raise ValueError(f"y must have shape ({X.shape[0]},) with at least one row, got {y.shape}.")
        index = np.searchsorted(self.classes_, y)
        index[index >= self.classes_.shape[0]] = 0
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"y has labels the model was not trained on: {np.unique(y[unknown])[:5].tolist()!r}.")
        return self._label_log_proba(X, index)

    def _label_log_proba(self, X, y_index):
        with numba_threads(self.n_jobs):
            return self._exact_scores().label_log_proba(X, y_index)

    @_reads_model
    def predict_topk(self, X, k: int = 5, *, retrieval: str = "exact", n_candidates: int | None = None):
        """The ``k`` most probable classes per row, best first, with probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        k : int, default=5
            Number of classes per row, 1 <= k <= n_classes.
        retrieval : {"exact", "lsh"}, default="exact"
            "exact" scores every class (in cache-sized blocks).
            "lsh" (models with hash tables) scores only the classes that the
            hash tables built on the final weights retrieve, so the cost is
            sublinear in C; the returned probabilities then use the unbiased
            LSH estimate of Z(x). A row with fewer than ``k`` retrieved
            classes falls back to exact scoring.
            "hnsw" (models with hash tables; needs the optional dependency
            hnswlib: ``pip install "sklearn-lsh[ann]"``) searches an HNSW
            graph over the class vectors (intercepts and logit offsets
            included) for ``n_candidates`` classes per row and rescores them
            exactly. The graph is built on the first call (seconds to a
            minute at 10^5 classes) and kept until the model changes; it is
            not pickled or saved. The probabilities are ``exp(s_j) /
            Z_hat(x)`` with ``Z_hat`` the candidates' exact terms plus an
            unbiased estimate of the other classes' from ``n_candidates``
            uniform draws (docs/classifier.md).
        n_candidates : int >= k or None, default=None
            ``retrieval="hnsw"`` only: classes the graph search returns per
            row (hnswlib's ``ef``), all rescored exactly. More is slower
            and closer to the exact top-k. None: ``max(80, k)``.

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
        retrievals = ("exact", "lsh", "hnsw") if self._has_retrieval() else ("exact",)
        if retrieval not in retrievals:
            raise ValueError(f"retrieval must be {' or '.join(map(repr, retrievals))}, got {retrieval!r}.")
        if n_candidates is not None and retrieval != "hnsw":
            raise ValueError(f"n_candidates is used by retrieval='hnsw' only, got it with retrieval={retrieval!r}.")
        top = np.empty((X.shape[0], k), dtype=np.int64)
        proba = np.empty((X.shape[0], k), dtype=np.float64)
        with numba_threads(self.n_jobs):
            if retrieval != "exact":
                short = self._topk_retrieved(X, k, top, proba, retrieval, n_candidates)
                X, rows_out = X[short], short
            else:
                rows_out = np.arange(X.shape[0])
            if rows_out.shape[0]:
                self._exact_scores().topk(X, k, top, proba, rows_out)
        return self.classes_[top], proba

    def _has_retrieval(self):
        """Whether ``predict_topk(retrieval="lsh")`` is available."""
        return False
