"""TwoComponentSoftmaxClassifier: the row/column (LightRNN) factorisation of
the softmax for a log-linear model (Li et al., 2016; method.md section 6)."""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _prediction
from ._base import BaseSoftmaxSGD
from ._placement import (
    EXACT_MAX_CLASSES, grid_log_proba, grid_shape, label_log_proba_and_gradient, placement_loss, reassign,
)  # fmt: skip
from ._validation import check_allocation, check_sample_weight, label_index, sample_class_weights

__all__ = ["TwoComponentSoftmaxClassifier"]

_EPS = 1e-8  # AdaGrad's epsilon, as in the main classifier


class TwoComponentSoftmaxClassifier(BaseSoftmaxSGD):
    """Log-linear classifier with a two-component (row x column) softmax.

    The C classes sit in the cells of an R x Q grid (``R = ceil(sqrt(C))``,
    ``Q = ceil(C / R)``: the smallest such grid with ``R Q >= C``; fewer than
    Q cells stay empty, so every row holds a class), and ``p(y | x) =
    p(row(y) | x) p(col(y) | x, row(y))`` (LightRNN, Li et al. 2016): a
    softmax over the R row scores ``row_coef_[r] . x + row_intercept_[r]``,
    then one over the occupied cells ``c`` of the row of ``col_coef_[c] . x
    + class_intercept_[k]``, ``k`` the class in the cell. The column vectors
    are shared by all rows, as LightRNN shares its column embeddings; the
    intercept belongs to the class and moves with it, so each class keeps its
    own prior. ``decision_function`` returns ``log p(y | x)``.

    A class's weight vector is in effect ``row_coef_[r] + col_coef_[c]``:
    the model stores ``R + Q`` vectors instead of C, and a training step
    scores and updates ``R + Q`` of them per example (O((R + Q) x nnz),
    about ``2 sqrt(C)`` instead of C) with the *exact* loss, nothing
    sampled. The price is expressiveness: classes of a row (or column) share
    that half of their weights, so which classes share is learned too.

    **Re-placement.** After every epoch of :meth:`fit` a pass over the
    training data computes, at the current weights, LightRNN's separable cost
    of class ``k`` in cell ``(r, c)``, ``A[k, r] + B[k, c]``: the summed
    ``-log p(row r | x)`` and ``-log p(col c | x, row)`` over the examples of
    ``k``, the latter with the column normaliser of the example's current
    row (at the current placement the total is the exact loss; the change of
    the normalisers by the moves is ignored). ``"exact"`` solves the
    assignment with :func:`scipy.optimize.linear_sum_assignment` on the C x
    cells matrix (at most 3000 classes); ``"greedy"`` lets the classes,
    heaviest first, take their cheapest free cell (O(C x (R + Q)) memory),
    then improves that by exact assignments within each row and each column.
    The new placement is kept only if a second pass finds a lower exact loss.
    Classes without weight in the data keep their cell. :meth:`partial_fit`
    does not re-place (a call is one epoch, often of a small chunk): call
    :meth:`update_placement` on a representative sample instead.

    Optimiser: row-wise AdaGrad as in :class:`LSHSoftmaxClassifier` (an
    accumulator per vector and per class intercept); the L2 decay is kept as
    a per-vector scale, so that a sparse step writes only the rows of the
    batch's features, and (unlike the main classifier) the accumulator sees
    the loss gradient without the L2 term.

    Parameters
    ----------
    reassign : {"greedy", "exact"} or None, default="greedy"
        Re-placement of the classes after every epoch of :meth:`fit` (and
        the default of :meth:`update_placement`); None keeps the initial
        random placement.
    eta0 : float > 0, default=0.1
        Step size of AdaGrad.
    alpha : float >= 0, default=1e-6
        L2 penalty on ``row_coef_`` and ``col_coef_`` (not the intercepts),
        applied as decay ``(1 - rate alpha)`` at every step.
    batch_size : int >= 1, default=128
        Examples per update (the gradient is averaged over the batch).
    max_iter : int >= 1, default=5
        Epochs over the data in :meth:`fit`.
    tol : float >= 0 or None, default=1e-3
        Stop when ``loss_curve_`` has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. None: run ``max_iter`` epochs.
    n_iter_no_change : int >= 1, default=3
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data and monitor its
        exact log-loss (the re-placement then uses the rest).
    validation_fraction : float in (0, 1), default=0.1
    shuffle : bool, default=True
        Shuffle the training data before each epoch.
    class_weight : dict, "balanced" or None, default=None
        Multiplies the sample weights per class ("balanced" is not available
        in :meth:`partial_fit`).
    warm_start : bool, default=False
        Reuse the previous solution (weights, optimiser state, placement) in
        :meth:`fit`.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the initial (random) placement and the
        shuffling. With an int, two fits give bit-identical weights.
    verbose : int, default=0
        Print a line per epoch when > 0.
    n_jobs : int or None, default=None
        Threads of the parallel numba kernels in training and prediction
        (exact prediction: chunks of rows on ``n_jobs`` threads); the BLAS
        library runs on one thread meanwhile (threadpoolctl, restored
        afterwards). None means 1, -1 all cores. Results do not depend on
        ``n_jobs``: with an int ``random_state`` two fits are bit-identical
        whatever their thread counts.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any hashable, e.g. strings).
    grid_shape_ : tuple of int
        ``(R, Q)``: rows and columns of the grid.
    placement_ : ndarray of shape (n_classes,)
        Cell of each class, ``row * Q + col``.
    row_coef_ : ndarray of shape (R, n_features)
        Row vectors (a read-only view of the model's storage), in the dtype
        of the training input.
    row_intercept_ : ndarray of shape (R,)
    col_coef_ : ndarray of shape (Q, n_features)
        Column vectors shared by all rows (a read-only view).
    class_intercept_ : ndarray of shape (n_classes,)
        Per-class intercept of the column softmax.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when X has string feature names.
    n_iter_ : int
        Epochs run by the last :meth:`fit` (cumulative over
        :meth:`partial_fit` calls).
    t_ : int
        Weight updates (minibatch steps) performed so far.
    class_count_ : ndarray of shape (n_classes,), float64
        Training labels per class (unweighted), accumulated over
        :meth:`partial_fit` calls.
    validation_scores_ : list of float or None
        Validation log-loss per epoch with ``early_stopping``, else None.
    loss_curve_ : list of float
        Per epoch, the weighted mean over the training examples of their
        exact loss ``-log p(y | x)`` at the step that used them (as for
        scikit-learn's SGD estimators; nothing is estimated).
    n_moved_ : list of int
        Classes that changed cell, per re-placement (0 if it was rejected).
    reassign_history_ : list of dict
        Per re-placement: ``epoch``, ``method``, ``loss_before``,
        ``loss_after`` (exact mean training losses with the old and the new
        placement, same weights), ``predicted_loss`` (the separable estimate
        of ``loss_after`` that was minimised), ``accepted``, ``n_moved``.
    mean_classes_scored_ : float
        Scores a training step computes per example: ``R + Q``, to compare
        with ``LSHSoftmaxClassifier.mean_classes_scored_`` (C for the exact
        softmax).
    inner_products_per_example_ : float
        All the d-dimensional inner products training computed per training
        example: ``R + Q`` per step, plus ``2 (R + Q)`` per example of every
        re-placement (the cost pass and the exact loss at the new placement).

    See Also
    --------
    LSHSoftmaxClassifier : the full softmax, exact or with an LSH-estimated
        partition function.

    References
    ----------
    X. Li, T. Qin, J. Yang and T.-Y. Liu, "LightRNN: Memory and
    Computation-Efficient Recurrent Neural Networks", NeurIPS 2016.

    Examples
    --------
    >>> from sklearn_lsh import TwoComponentSoftmaxClassifier
    >>> from sklearn_lsh.datasets import make_extreme_classification
    >>> X, y = make_extreme_classification(3000, 32, 100, noise=0.3, zipf_exponent=0.5, random_state=0)
    >>> clf = TwoComponentSoftmaxClassifier(max_iter=10, tol=None, random_state=0).fit(X, y)
    >>> clf.grid_shape_, clf.mean_classes_scored_
    ((10, 10), 20.0)
    >>> bool(clf.score(X, y) > 0.7)
    True
    >>> h = clf.reassign_history_[0]
    >>> bool(h["loss_after"] < h["loss_before"]), h["n_moved"] > 0
    (True, True)
    >>> labels, proba = clf.predict_topk(X[:2], k=3)
    >>> labels.shape, proba.shape
    ((2, 3), (2, 3))
    """

    _parameter_constraints: dict = {
        **BaseSoftmaxSGD._parameter_constraints,
        "reassign": [StrOptions({"greedy", "exact"}), None],
    }

    def __init__(
        self, reassign="greedy", *, eta0=0.1, alpha=1e-6, batch_size=128, max_iter=5, tol=1e-3, n_iter_no_change=3,
        early_stopping=False, validation_fraction=0.1, shuffle=True, class_weight=None, warm_start=False,
        random_state=None, verbose=0, n_jobs=None,
    ):  # fmt: skip
        self.reassign = reassign
        self.eta0 = eta0
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def update_placement(self, X, y, sample_weight=None, *, method=None):
        """Re-place the classes in the grid to lower the training loss on
        ``(X, y)`` at the current weights (what :meth:`fit` does after every
        epoch); for models trained by :meth:`partial_fit`.

        The new placement is kept only if the exact loss on ``(X, y)`` is
        lower; classes absent from ``y`` (or of zero weight) keep their cell.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels from ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None
        method : {"greedy", "exact"} or None, default=None
            None: ``reassign``, or "greedy" if that is None.

        Returns
        -------
        self : TwoComponentSoftmaxClassifier
        """
        check_is_fitted(self)
        method = method if method is not None else (self.reassign or "greedy")
        if method not in ("greedy", "exact"):
            raise ValueError(f"method must be 'greedy', 'exact' or None, got {method!r}.")
        if method == "exact" and self.classes_.shape[0] > EXACT_MAX_CLASSES:
            raise ValueError(f"method='exact' is limited to {EXACT_MAX_CLASSES} classes; use 'greedy'.")
        self._check_model_arrays()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C", reset=False)
        X = X.astype(self._coef.dtype, copy=False)
        y_index = label_index(y, self.classes_)
        weights = check_sample_weight(sample_weight, X.shape[0])
        weights = weights * sample_class_weights(self.class_weight, self.classes_, y_index)
        with self._lock().training(type(self).__name__, "update_placement"):
            state = self._snapshot()
            try:
                self._replace(X, y_index, weights, method)
            except BaseException:
                self._restore(state)  # an interrupted re-placement leaves the model as it was
                raise
        return self

    # ------------------------------------------------------- model arrays
    @property
    def _model_dtype(self):
        return self._coef.dtype

    def _has_model(self):
        return "_coef" in self.__dict__

    def _architecture_mismatch(self, classes, X):
        if (not np.array_equal(self.classes_, classes) or self._coef.shape != (X.shape[1], self._coef.shape[1])
                or self._coef.dtype != X.dtype):  # fmt: skip
            return "classes, number of features and dtype"
        return None

    def _check_fit_classes(self, classes):
        if self.reassign == "exact" and classes.shape[0] > EXACT_MAX_CLASSES:
            raise ValueError(
                f"reassign='exact' solves a {classes.shape[0]} x {np.prod(grid_shape(classes.shape[0]))} "
                f"assignment problem; it is limited to {EXACT_MAX_CLASSES} classes. Use reassign='greedy'."
            )

    def _init_model(self, n_features, dtype, init):
        n_classes = self.classes_.shape[0]
        self.grid_shape_ = grid_shape(n_classes)
        n_rows, n_cols = self.grid_shape_
        # Row vectors then column vectors, stored transposed (n_features, R + Q)
        # so that a sparse step updates only the rows of its features.
        check_allocation(
            f"The model's weights ({n_rows + n_cols} vectors of {n_features} features)", 3 * n_features * (n_rows + n_cols) * 8,
            "Reduce the number of features (e.g. feature hashing).",
        )
        self._coef = (init.standard_normal((n_features, n_rows + n_cols)) * (0.01 / np.sqrt(n_features))).astype(dtype)
        self.row_intercept_ = np.zeros(n_rows, dtype=dtype)
        self.class_intercept_ = np.zeros(n_classes, dtype=dtype)
        self.placement_ = init.permutation(n_classes).astype(np.int64)  # random cells, the empty ones last
        self._accumulator = np.zeros(n_rows + n_cols)
        self._bias_accumulator = np.zeros(n_classes)
        self.n_moved_ = []
        self.reassign_history_ = []

    def _check_model_arrays(self):
        """Shapes and values of the (user-assignable) fitted arrays, checked
        before use; intercepts are brought to the model's dtype."""
        n_classes = self.classes_.shape[0]
        n_rows, n_cols = self.grid_shape_
        for name, size in (("row_intercept_", n_rows), ("class_intercept_", n_classes)):
            value = self.__dict__.get(name)
            if not isinstance(value, np.ndarray) or value.shape != (size,):
                raise ValueError(f"{name} must be an array of shape ({size},).")
            if value.dtype != self._coef.dtype or not value.flags.c_contiguous:
                setattr(self, name, np.ascontiguousarray(value, dtype=self._coef.dtype))
        cells = self.placement_
        if not isinstance(cells, np.ndarray) or cells.shape != (n_classes,) or not (
                0 <= cells.min() and cells.max() < n_rows * n_cols
                and np.unique(cells).shape == cells.shape):  # fmt: skip
            raise ValueError(f"placement_ must hold {n_classes} distinct cells in [0, {n_rows * n_cols}).")

    @property
    def row_coef_(self):
        return self._coef_view(rows=True)

    @property
    def col_coef_(self):
        return self._coef_view(rows=False)

    def _coef_view(self, rows):
        if not self._has_model():
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet: fit sets the vectors.")
        n_rows = self.grid_shape_[0]
        view = (self._coef[:, :n_rows] if rows else self._coef[:, n_rows:]).T
        view.flags.writeable = False
        return view

    @property
    def mean_classes_scored_(self) -> float:
        check_is_fitted(self)
        return float(sum(self.grid_shape_))

    def _weights_finite(self):
        return all(np.isfinite(a).all() for a in (self._coef, self.row_intercept_, self.class_intercept_))

    def _grid(self):
        """``(row_of, col_of, bias_grid)``: ``bias_grid[r, c]`` is the intercept
        of the class in cell (r, c), -inf for an empty cell."""
        n_rows, n_cols = self.grid_shape_
        bias_grid = np.full(n_rows * n_cols, -np.inf)
        bias_grid[self.placement_] = self.class_intercept_
        return self.placement_ // n_cols, self.placement_ % n_cols, bias_grid.reshape(n_rows, n_cols)

    def _scores(self, X, scale=None):
        """Row scores and column scores (float64); ``scale``: the pending
        L2 decay of the vectors during an epoch."""
        n_rows = self.grid_shape_[0]
        Z = np.asarray(safe_sparse_dot(X, self._coef, dense_output=True))
        if not np.isfinite(Z).all():
            raise FloatingPointError(
                f"Scores overflow {Z.dtype} (largest |weight| {np.abs(self._coef).max():.3g}): the model diverged "
                f"in training or these inputs are too large for it. Refit with a lower eta0 (now {self.eta0}), "
                "scaled features, or float64 input."
            )
        Z = Z.astype(np.float64) if scale is None else Z * scale
        return Z[:, :n_rows] + self.row_intercept_, Z[:, n_rows:]

    # ------------------------------------------------------------ training
    @contextlib.contextmanager
    def _training_session(self, X):
        # Per-vector scale of the L2 decay during an epoch: the true vector j
        # is scale[j] * _coef[:, j], so that a sparse step touches only the
        # rows of its features; folded back at the end of every epoch.
        self._decay_scale = np.ones(self._coef.shape[1])
        try:
            yield
        finally:
            del self._decay_scale

    def _end_epoch(self):
        self._coef *= self._decay_scale.astype(self._coef.dtype)
        self._decay_scale = np.ones(self._coef.shape[1])

    def _after_epoch(self, X, y_index, weights, refit):
        if not refit or self.reassign is None:
            return ""
        self._replace(X, y_index, weights, self.reassign)
        return f", {self.n_moved_[-1]} classes moved"

    def _step(self, Xb, yb, wb, stream):
        """One AdaGrad step on a minibatch; returns its weighted loss sum."""
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported by the epoch loop
            return self._adagrad_step(Xb, yb, wb, self._decay_scale)

    def _adagrad_step(self, Xb, yb, wb, scale):
        row_of, col_of, bias_grid = self._grid()
        n_rows, n_cols = self.grid_shape_
        n, n_features = Xb.shape
        wb = wb / n
        S, T = self._scores(Xb, scale)
        ry, cy = row_of[yb], col_of[yb]
        log_p, grad_S, grad_T = label_log_proba_and_gradient(S, T, bias_grid, ry, cy)
        loss = -float(np.dot(wb, log_p))
        G = np.concatenate([grad_S, grad_T], axis=1) * wb[:, None]  # dL/d(scores)
        grad_row_b = G[:, :n_rows].sum(axis=0)
        cells = (ry[:, None] * n_cols + np.arange(n_cols)).ravel()
        grad_cells = np.bincount(cells, G[:, n_rows:].ravel(), minlength=n_rows * n_cols)
        grad_class_b = grad_cells[self.placement_]
        if sp.issparse(Xb):  # only the features of the batch
            features, local = np.unique(Xb.indices, return_inverse=True)
            Xl = sp.csr_matrix((Xb.data, local.ravel(), Xb.indptr), shape=(n, features.shape[0]))
            grad = np.asarray(safe_sparse_dot(Xl.T, G.astype(Xb.dtype), dense_output=True))
        else:
            features = slice(None)
            grad = Xb.T @ G.astype(Xb.dtype)
        square = np.einsum("ij,ij->j", grad, grad, dtype=np.float64)
        square[:n_rows] = (square[:n_rows] + grad_row_b**2) / (n_features + 1)
        square[n_rows:] /= n_features
        self._accumulator += square
        rate = self.eta0 / np.sqrt(self._accumulator + _EPS)
        self._bias_accumulator += grad_class_b**2
        dtype = self._coef.dtype
        self.class_intercept_ -= (self.eta0 / np.sqrt(self._bias_accumulator + _EPS) * grad_class_b).astype(dtype)
        self.row_intercept_ -= (rate[:n_rows] * grad_row_b).astype(dtype)
        if self.alpha > 0:
            scale *= np.maximum(1.0 - rate * self.alpha, 0.0)
            tiny = scale < 1e-30
            if tiny.any():  # fold a vanishing scale into the vector
                self._coef[:, tiny] *= scale[tiny].astype(dtype)
                scale[tiny] = 1.0
        self._coef[features] -= grad * (rate / scale).astype(dtype)
        self.t_ += 1
        self._examples_seen += n
        self._inner_products += n * (n_rows + n_cols)
        return loss * n

    # --------------------------------------------------------- re-placement
    def _pass(self, X, y_index, weights, placement, costs):
        """``(loss_sum, A, B)``: :func:`placement_loss` at the current weights."""
        chunk = get_chunk_n_rows(row_bytes=64 * sum(self.grid_shape_), max_n_rows=X.shape[0])
        chunks = ((rows, *self._scores(X[rows])) for rows in gen_batches(X.shape[0], chunk))
        self._inner_products += X.shape[0] * sum(self.grid_shape_)
        return placement_loss(chunks, y_index, weights, placement, self.class_intercept_, self.grid_shape_, costs)

    def _replace(self, X, y_index, weights, method):
        loss_before, A, B = self._pass(X, y_index, weights, self.placement_, True)
        class_weight = np.bincount(y_index, weights, minlength=self.classes_.shape[0])
        placement, predicted = reassign(A, B, self.placement_, class_weight, np.prod(self.grid_shape_), method)
        loss_after = loss_before
        if not np.array_equal(placement, self.placement_):
            loss_after = self._pass(X, y_index, weights, placement, False)[0]
        accepted = bool(loss_after < loss_before)
        n_moved = int((placement != self.placement_).sum()) if accepted else 0
        if accepted:
            self.placement_ = placement
        self.n_moved_.append(n_moved)
        n = X.shape[0]
        self.reassign_history_.append(
            {
                "epoch": self._n_epochs, "method": method, "loss_before": loss_before / n, "loss_after": loss_after / n,
                "predicted_loss": predicted / n, "accepted": accepted, "n_moved": n_moved,
            }
        )  # fmt: skip

    # ------------------------------------------------------------ predict
    def _exact_scores(self):
        return _prediction.NormalisedChunks(self._score_chunks)

    def _score_chunks(self, X):
        """Yield ``(rows, log p(y | x))`` chunks, in the model's dtype, of at
        most ``working_memory``."""
        n_classes, n_cells = self.classes_.shape[0], np.prod(self.grid_shape_)
        bias_grid = self._grid()[2]
        row_bytes = 8 * (n_classes + n_cells + 4 * sum(self.grid_shape_))
        for rows in _prediction.chunk_rows(X.shape[0], row_bytes):
            S, T = self._scores(X[rows])
            yield rows, grid_log_proba(S, T, bias_grid, self.placement_, self.class_intercept_, self._coef.dtype)
