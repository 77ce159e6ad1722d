"""One instance, several threads: a second training call raises at once, the
first completes with every update; predictions wait for a training call."""

import pickle
import threading
import time

import numpy as np
import pytest

from sklearn_lsh.datasets import make_extreme_classification

from .test_common import KINDS, make_classifier


@pytest.fixture(scope="module")
def data():
    return make_extreme_classification(20000, 16, 50, random_state=0)


def _start_training(clf, X, y, **kwargs):
    """partial_fit in a thread; returns once that call holds the model."""
    errors = []

    def train():
        try:
            clf.partial_fit(X, y, **kwargs)
        except BaseException as exc:  # pragma: no cover - reported by the test
            errors.append(exc)

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 30
    while clf.__dict__.get("_model_lock") is None or clf._model_lock._trainer is None:
        assert thread.is_alive() or errors, "the training thread ended before it was seen training"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    return thread, errors


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_training_call_raises_and_the_first_keeps_every_update(kind, data):
    X, y = data
    classes = np.unique(y)
    clf = make_classifier(kind, batch_size=8)
    thread, errors = _start_training(clf, X, y, classes=classes)
    with pytest.raises(RuntimeError, match="must not overlap"):
        clf.partial_fit(X[:100], y[:100])
    with pytest.raises(RuntimeError, match="must not overlap"):
        clf.fit(X[:100], y[:100])
    thread.join()
    assert errors == []
    assert clf.t_ == int(np.ceil(X.shape[0] / 8))  # every step of the first call, none of the refused ones
    np.testing.assert_array_equal(clf.class_count_, np.bincount(np.searchsorted(classes, y), minlength=50))
    clf.partial_fit(X[:100], y[:100])  # the instance trains again afterwards
    assert clf.t_ == int(np.ceil(X.shape[0] / 8)) + 13


@pytest.mark.parametrize("kind", KINDS)
def test_predictions_wait_for_a_training_call(kind, data):
    X, y = data
    clf = make_classifier(kind, batch_size=8).fit(X[:2000], y[:2000])
    before = clf.predict_proba(X[:50])
    thread, errors = _start_training(clf, X, y)
    during = clf.predict_proba(X[:50])  # waits for the call to finish
    thread.join()
    assert errors == []
    np.testing.assert_array_equal(during, clf.predict_proba(X[:50]))
    assert not np.array_equal(during, before)


@pytest.mark.parametrize("kind", KINDS)
def test_the_lock_is_not_pickled_and_a_loaded_model_trains(kind, data):
    X, y = data
    clf = make_classifier(kind).fit(X[:500], y[:500])
    assert "_model_lock" in vars(clf)
    loaded = pickle.loads(pickle.dumps(clf))
    assert "_model_lock" not in vars(loaded)
    np.testing.assert_array_equal(loaded.predict(X[:20]), clf.predict(X[:20]))
    loaded.partial_fit(X[500:600], y[500:600])
