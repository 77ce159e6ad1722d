"""The sampler registry: every estimator of Z is one object used by training
and by ``estimate_log_partition``; unbiasedness through both paths; a toy
sampler registered from outside trains and estimates."""

import warnings

import numpy as np
import scipy.sparse as sp
import pytest

from sklearn_lsh import LSHSoftmaxClassifier, estimate_log_partition
from sklearn_lsh._kernels import _retrieval
from sklearn_lsh._samplers import (
    SAMPLERS,
    TRAINING_SAMPLERS,
    Candidates,
    fill_empty_rows,
    SamplerSettings,
    UniformSampler,
    register_sampler,
    unregister_sampler,
)
from sklearn_lsh._rng import Draws, StepStreams

from . import test_partition
from .test_classifier import _fit, data  # noqa: F401 (a fixture)

# The settings of the training-path unbiasedness test, per estimator.
TRAINING_CASES = [
    ("lsh", {}), ("lsh-draw", {}), ("mips-gumbel", {}), ("uniform", {"n_samples": 3}),
    # Few retrieved classes, so that most of Z_hat comes through the prior draws.
    ("lsh", {"n_prior_samples": 10, "n_bits": 3, "n_tables": 2}),
    ("lsh", {"n_prior_samples": 2, "class_prior": [5.0, 1.0, 1.0, 1.0, 0.5, 0.5]}),
    ("prior", {"n_samples": 3}), ("prior", {"n_samples": 2, "class_prior": [5.0, 1.0, 1.0, 1.0, 0.5, 0.5]}),
]  # fmt: skip


def _terms_by_row(candidates, scores, labels):
    """``Z_hat - f_y`` per row from a step's candidates (either layout)."""
    n_rows = labels.shape[0]
    if candidates.shared:  # every row uses the set, its label's column masked
        log_w = np.broadcast_to(candidates.log_weight, (n_rows, candidates.classes.shape[0]))
        terms = np.exp(scores[:, candidates.classes] + log_w)
        return np.where(candidates.classes[None, :] != labels[:, None], terms, 0.0).sum(axis=1)
    row = np.repeat(np.arange(n_rows), np.diff(candidates.indptr))
    not_label = candidates.classes != labels[row]
    terms = np.where(not_label, np.exp(scores[row, candidates.classes] + candidates.log_weight), 0.0)
    return np.bincount(row, terms, minlength=n_rows)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("estimator, extra", TRAINING_CASES)
def test_training_candidates_estimate_z_without_bias(data, estimator, extra, sparse):
    # Z_hat = f_y + sum_j f_j exp(log_weight_j) over a step's candidates is
    # unbiased for Z over fresh tables (rebuild_interval=1: every call builds
    # new projections) and fresh draws; the mean over 600 steps must lie
    # within 4 standard errors of the exact Z for every example. Dense input
    # gives "uniform" and "prior" one shared draw set per batch, CSR input
    # (full rank) per-row draws.
    X, y = data
    # Few bits and many draws, so that no sample is empty: the uniform
    # fallback for empty samples (n_empty_samples_) is a documented bias.
    params = {"n_bits": 1, "n_tables": 4, "n_samples": 8, "n_top": 2, "rebuild_interval": 1, **extra}
    clf = _fit(X, y, estimator=estimator, **params)
    Xb, yb = X[:8], np.searchsorted(clf.classes_, y[:8]).astype(np.int64)
    scores = Xb @ clf.coef_.T + clf.intercept_
    Z = np.exp(scores).sum(axis=1)
    Xq = sp.csr_matrix(Xb) if sparse else Xb
    estimates = []
    with clf._training_session(Xq):  # the sampler of a fit call, as _class_step uses it
        assert clf._sampler.settings.shared_draws == (estimator in ("uniform", "prior") and not sparse)
        for stream in range(600):
            candidates = clf._sample_candidates(Xq, yb, stream)
            assert candidates.n_empty == 0
            assert candidates.shared == (estimator in ("uniform", "prior") and not sparse)
            estimates.append(np.exp(scores[np.arange(8), yb]) + _terms_by_row(candidates, scores, yb))
    estimates = np.array(estimates)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(estimates.shape[0])
    assert np.all(np.abs(estimates.mean(axis=0) - Z) < 4 * se + 1e-9 * Z)
    assert np.all(se > 0)  # the estimate does vary: the test has power


def test_every_sampler_is_checked_for_bias_through_both_paths():
    trained = {estimator for estimator, _ in TRAINING_CASES}
    assert trained == set(TRAINING_SAMPLERS) - {"exact"}  # exact has no randomness to check
    partition = {method for method, _ in test_partition.UNBIASED_CASES}
    assert partition == set(SAMPLERS) - {"exact", "gumbel"}  # exact is exact; gumbel is unbiased for log Z
    assert set(TRAINING_SAMPLERS) <= set(SAMPLERS)


def test_registry_drives_the_estimator_and_method_choices():
    from sklearn_lsh import METHOD_OPTIONS, METHODS

    assert tuple(SAMPLERS) == METHODS
    assert set(METHOD_OPTIONS) == set(SAMPLERS)
    auto, options = (c.options for c in LSHSoftmaxClassifier._parameter_constraints["estimator"])
    assert auto == {"auto"}
    assert options is TRAINING_SAMPLERS  # the live set, not a copy
    assert "gumbel" in SAMPLERS and "gumbel" not in TRAINING_SAMPLERS


def test_uniform_negatives_fill_exactly_the_empty_rows():
    settings = SamplerSettings(10, n_draws=3)
    y = np.array([4, 1, 2, 9])
    # rows: {4 (its label), 5}, {1 (only the label)}, {}, {0, 3}
    candidates = Candidates(np.array([0, 2, 3, 3, 5]), np.array([4, 5, 1, 0, 3]), np.array([0.1, 0.2, 0.3, 0.4, 0.5]))
    filled = fill_empty_rows(y, candidates, settings, StepStreams(7, 100))
    assert filled.n_empty == 2
    np.testing.assert_array_equal(np.diff(filled.indptr), [2, 3, 3, 2])
    np.testing.assert_array_equal(filled.classes[:2], [4, 5])
    np.testing.assert_array_equal(filled.classes[8:], [0, 3])
    np.testing.assert_array_equal(filled.log_weight[[0, 1, 8, 9]], [0.1, 0.2, 0.4, 0.5])
    for row, label in ((1, 1), (2, 2)):
        drawn = filled.classes[filled.indptr[row] : filled.indptr[row + 1]]
        assert ((drawn >= 0) & (drawn < 10) & (drawn != label)).all()
        np.testing.assert_allclose(filled.log_weight[filled.indptr[row] : filled.indptr[row + 1]], np.log(9 / 3))
    # the fallback draws come from their own stream of the model seed
    seed, stream = StepStreams(7, 100)(Draws.EMPTY_FALLBACK)
    expected = _retrieval.uniform_classes_excluding(np.arange(3, dtype=np.int64), np.array([1, 2]), 3, 10, seed,
                                                    stream)  # fmt: skip
    np.testing.assert_array_equal(filled.classes[2:8], expected.ravel())


class FixedSeedUniform(UniformSampler):
    """A toy estimator: uniform draws from a fixed seed (the same classes at
    every step), weighted as "uniform" weights them."""

    name = "toy-uniform"

    def sample(self, X, labels, index, streams):
        return super().sample(X, labels, index, lambda draws: (12345, 0))


@pytest.fixture
def toy_sampler():
    register_sampler(FixedSeedUniform)
    try:
        yield FixedSeedUniform
    finally:
        unregister_sampler(FixedSeedUniform.name)


def test_a_registered_toy_sampler_trains_and_estimates(data, toy_sampler):
    X, y = data
    clf = LSHSoftmaxClassifier("toy-uniform", n_samples=3, max_iter=5, tol=None, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.6
    # dense input: 3 draws shared by the batch, scored once per distinct class, + the label
    assert 2.0 <= clf.mean_classes_scored_ <= 4.0
    W = np.hstack([clf.coef_, clf.intercept_[:, None]])
    Xq = np.hstack([X[:5], np.ones((5, 1))])
    log_z, work = estimate_log_partition(W, Xq, "toy-uniform", n_samples=50, random_state=0, return_work=True)
    exact = estimate_log_partition(W, Xq, "exact")
    assert log_z.shape == (5,) and np.all(np.abs(log_z - exact) < 1.0)
    assert work.mean_sample_size == 50
    with pytest.raises(TypeError, match="unexpected option"):
        estimate_log_partition(W, Xq, "toy-uniform", n_bits=3)


def test_an_unregistered_sampler_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="estimator"):
        LSHSoftmaxClassifier("toy-uniform").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="method"):
            estimate_log_partition(X, X, "toy-uniform")
