"""The class prior of a classifier and the logit adjustment built on it
(Menon et al., 2021): parameters ``logit_adjustment``,
``logit_adjustment_form`` and ``class_prior``, and ``class_count_``."""

from __future__ import annotations

import numpy as np

from ._validation import check_class_prior

__all__ = ["LogitAdjustmentMixin"]


class LogitAdjustmentMixin:
    """``log pi_j`` of the class prior and the per-class logit offsets of
    training and prediction, for a :class:`~sklearn_lsh._base.BaseSoftmaxSGD`
    subclass with those parameters."""

    def _count_labels(self, y_index, reset):
        super()._count_labels(y_index, reset)
        if self.class_prior is not None:
            check_class_prior(
                self.class_prior, self.classes_.shape[0], f"the model has {self.classes_.shape[0]} classes (classes_)"
            )

    def _log_prior(self):
        """``log pi_j`` of the logit adjustment, normalised."""
        if self.class_prior is not None:
            prior = np.asarray(self.class_prior, dtype=np.float64)
        else:
            prior = self.class_count_ + 1.0
        return np.log(prior) - np.log(prior.sum())

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
