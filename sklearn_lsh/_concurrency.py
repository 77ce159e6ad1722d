"""One estimator instance, several threads: training is exclusive, and
prediction never reads a model that another thread is training."""

from __future__ import annotations

import threading
from contextlib import contextmanager

__all__ = ["ModelLock"]


class ModelLock:
    """A readers-writer lock of one estimator instance (not pickled).

    ``training`` (fit, partial_fit, update_placement) is exclusive: a second
    call while one runs raises a RuntimeError at once, and it waits for the
    predictions under way to finish. ``predicting`` waits while a training
    call runs, so it sees the model before or after that call, never half
    updated; predictions run concurrently with each other. The training
    thread itself may predict (e.g. a verbose score) without waiting.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._trainer = None  # ident of the thread in a training call
        self._n_predicting = 0

    @contextmanager
    def training(self, owner: str, method: str):
        me = threading.get_ident()
        with self._condition:
            if self._trainer is not None:
                raise RuntimeError(
                    f"{owner}.{method} was called while another fit, partial_fit or update_placement call is "
                    f"running on the same instance{' in this thread' if self._trainer == me else ''}. Calls that "
                    "train one instance must not overlap: wait for the first to return, or train a clone "
                    "(sklearn.base.clone) in the other thread."
                )
            self._trainer = me
            while self._n_predicting:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._trainer = None
                self._condition.notify_all()

    @contextmanager
    def predicting(self):
        me = threading.get_ident()
        with self._condition:
            if self._trainer == me:  # the training thread reads its own model
                counted = False
            else:
                while self._trainer is not None:
                    self._condition.wait()
                self._n_predicting += 1
                counted = True
        try:
            yield
        finally:
            if counted:
                with self._condition:
                    self._n_predicting -= 1
                    self._condition.notify_all()
