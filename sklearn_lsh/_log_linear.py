"""The fitted arrays of the log-linear model, full or low-rank: storage,
the user-assignable attributes (``coef_``, ``class_embedding_``,
``embedding_``, ``intercept_``) with their checks, and initialisation."""

from __future__ import annotations

import numpy as np
from sklearn import get_config
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_array

from ._validation import check_allocation

__all__ = ["LogLinearArraysMixin"]


def _scaled_normal(init, shape, scale, dtype):
    """``(init.standard_normal(shape) * scale).astype(dtype)``, drawn in
    blocks of rows: the same values and the same generator state after,
    without a float64 array of the whole shape (twice the weights' size in
    float32)."""
    out = np.empty(shape, dtype=dtype)
    block = np.empty((max(1, (1 << 17) // max(1, shape[1])), shape[1]))
    for lo in range(0, shape[0], block.shape[0]):
        part = block[: min(block.shape[0], shape[0] - lo)]
        init.standard_normal(out=part)
        out[lo : lo + part.shape[0]] = part * scale
    return out


class LogLinearArraysMixin:
    """Model arrays of :class:`~sklearn_lsh.LSHSoftmaxClassifier`.

    ``_weights`` holds the class rows (``coef_``, or ``class_embedding_`` in
    the low-rank mode, where ``embedding_`` maps the input to the hidden
    rows). The kernels index these arrays without bounds checks, so every
    assignment is checked here.
    """

    @property
    def _model_dtype(self):
        return self._weights.dtype

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

    def _architecture_mismatch(self, classes, X):
        if (
            not np.array_equal(self.classes_, classes)
            or self._model_n_features() != X.shape[1]
            or self._weights.dtype != X.dtype
            or self._fitted_n_components() != self.n_components
        ):
            return "classes, number of features, dtype and n_components"
        return None

    def _check_partial_fit_model(self, X):
        if self._fitted_n_components() != self.n_components:
            raise ValueError(
                f"n_components={self.n_components!r} differs from the model being trained "
                f"(n_components={self._fitted_n_components()!r}); partial_fit cannot change the architecture."
            )
        self._check_model_arrays()

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

    def _init_arrays(self, n_features, dtype, init):
        """The class rows (and the embedding), their optimiser state and workspaces."""
        n_classes = self.classes_.shape[0]
        # Small random rows rather than zeros: all-zero rows would share one
        # bucket of every table (the method would silently become a full
        # softmax until the first rebuild).
        width = n_features if self.n_components is None else self.n_components
        n_weights = n_classes * width + (0 if self.n_components is None else n_features * self.n_components)
        check_allocation(
            f"The model's weights ({n_classes} classes, {n_features} features)",
            3 * n_weights * 8,  # the weights, the training tables' copy of them, the tables
            "Use the low-rank mode (n_components) for wide inputs, or fewer features (e.g. feature hashing).",
        )
        self._weights = _scaled_normal(init, (n_classes, width), 0.01 / np.sqrt(width), dtype)
        self.intercept_ = np.zeros(n_classes, dtype=dtype)
        for name in ("embedding_", "_embedding_accumulator", "_embedding_last_step", "_embedding_slot"):
            self.__dict__.pop(name, None)
        if self.n_components is not None:
            # A Gaussian random projection to start from (x @ E keeps the
            # geometry of x in expectation), learned from there on.
            scale = 1.0 / np.sqrt(self.n_components)
            self.embedding_ = _scaled_normal(init, (n_features, self.n_components), scale, dtype)
            self._embedding_accumulator = np.zeros(n_features, dtype=np.float64)
            self._embedding_last_step = np.zeros(n_features, dtype=np.int64)
            self._embedding_slot = np.full(n_features, -1, dtype=np.int64)
        self._accumulator = np.zeros(n_classes, dtype=np.float64)
        self._last_step = np.zeros(n_classes, dtype=np.int64)
        self._slot = np.full(n_classes, -1, dtype=np.int64)  # workspace of the sampled step (left all -1)

    def _weights_finite(self):
        finite = np.isfinite(self._weights).all() and np.isfinite(self.intercept_).all()
        if "embedding_" in self.__dict__:
            finite = finite and np.isfinite(self.embedding_).all()
        return finite

    def _hidden(self, X):
        """The inputs of the class layer: ``X`` itself, or ``X @ embedding_``
        (dense) in the low-rank mode."""
        if "embedding_" not in self.__dict__:
            return X
        return np.asarray(safe_sparse_dot(X, self.embedding_, dense_output=True))
