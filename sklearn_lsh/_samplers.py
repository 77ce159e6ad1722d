"""The estimators of the partition function as sampler objects.

One class per estimator. Training (``LSHSoftmaxClassifier``) and
:func:`~sklearn_lsh.estimate_log_partition` use the same objects, so each
estimator's formula exists once. A sampler turns a batch of queries into
:class:`Candidates`: the classes whose terms estimate ``Z(x)`` and their
log importance weights, so that

    ``Z_hat(x_i) = sum_p exp(s(x_i, c_p) + log_weight_p)``

over row ``i``'s candidates ``p`` is unbiased for ``Z(x_i)`` (for the sum
over the classes other than the label, when labels are given: a training
step adds the label's own term with weight 1).

Adding an estimator is one :class:`Sampler` subclass and one entry of
:data:`SAMPLERS`: the classifier's ``estimator`` choices, the partition
API's ``method`` choices and their options, and the command line read the
registry.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._arrays import pair_scores
from ._kernels import _retrieval, _scoring
from ._prior import PriorTables, log_prior_inclusion
from ._rng import Draws

__all__ = [
    "Candidates",
    "SamplerSettings",
    "Sampler",
    "ExactSampler",
    "GumbelSampler",
    "UniformSampler",
    "PriorSampler",
    "LSHUnionSampler",
    "LSHDrawSampler",
    "MipsGumbelSampler",
    "SAMPLERS",
    "SAMPLER_NAMES",
    "TRAINING_SAMPLERS",
    "register_sampler",
    "unregister_sampler",
    "make_sampler",
    "fill_empty_rows",
]

_TABLE_OPTIONS = {"n_bits": 10, "n_tables": 12, "n_norm_ranges": 64, "table_design": "independent", "probe_radius": 0}


@dataclass(frozen=True)
class Candidates:
    """Candidate classes of a batch of ``n_rows`` queries.

    Per-row layout (``indptr`` given): row ``i`` owns
    ``classes[indptr[i]:indptr[i + 1]]`` and their ``log_weight``.
    Shared layout (``indptr`` None): every row uses ``classes`` with
    ``log_weight`` of shape ``(len(classes),)`` (the same for every row) or
    ``(n_rows, len(classes))`` (``-inf`` where a row does not use a class),
    which lets a step score the batch against the set with one matrix
    product.

    The work fields count d-dimensional inner products spent sampling
    (hashing the queries, scoring classes for their inclusion
    probabilities); the scores of the terms themselves are the consumer's.
    """

    indptr: np.ndarray | None
    classes: np.ndarray
    log_weight: np.ndarray
    #: scores of the candidates against the index's vectors, where the
    #: sampler computed them (NaN where it did not), else None
    scores: np.ndarray | None = None
    hash_inner_products: int = 0
    score_inner_products: int = 0
    #: classes scored to choose the candidates but not among them (the LSH
    #: union beyond "mips-gumbel"'s top classes)
    extra_scored: int = 0
    #: integer work of the retrieval: bucket members read or codes compared
    n_scanned: int = 0
    #: inclusion probabilities floored at ``MIN_PROBABILITY`` (a recorded bias)
    n_floored: int = 0
    #: tables probed by the draws ("lsh-draw")
    n_probes: int = 0
    #: rows whose sample held no class but the label, given uniform negatives
    n_empty: int = 0
    #: the shared set is every class at weight 1 (the exact softmax)
    complete: bool = False

    @property
    def shared(self) -> bool:
        return self.indptr is None

    @property
    def inner_products(self) -> int:
        return self.hash_inner_products + self.score_inner_products


@dataclass(frozen=True)
class SamplerSettings:
    """What a sampler may need besides the queries: filled by its caller
    from the classifier's parameters or the partition API's options."""

    n_classes: int
    #: draws per example (uniform, prior, lsh-draw; the uniform tail of
    #: mips-gumbel; the fallback negatives of an empty LSH sample)
    n_draws: int = 1
    #: classes of the LSH union kept exactly (mips-gumbel)
    n_top: int = 10
    #: draws from the class prior added to the LSH union
    n_prior_draws: int = 0
    #: the class prior's draw tables (prior; lsh with prior draws)
    prior: PriorTables | None = None
    #: tables tried per draw (lsh-draw); None: all
    max_probes: int | None = None
    #: in training, one set of draws for the whole batch (uniform, prior):
    #: the Candidates' shared layout, scored with one GEMM
    shared_draws: bool = False


class Sampler(abc.ABC):
    """Interface of the estimators of Z.

    ``sample`` returns the :class:`Candidates` of a batch; ``log_partition``
    turns them into estimates of ``log Z`` for the partition API.
    """

    #: the ``estimator`` / ``method`` string
    name: ClassVar[str]
    #: can draw one set for a whole training batch (``settings.shared_draws``)
    shares_draws = False
    #: needs hash tables over the class vectors (the caller builds them)
    uses_tables: ClassVar[bool] = False
    #: may train a classifier (False: an estimate of log Z only)
    trains: ClassVar[bool] = True
    #: options of ``estimate_log_partition`` with their defaults
    partition_options: ClassVar[dict] = {}

    def __init__(self, settings: SamplerSettings):
        self.settings = settings

    @classmethod
    def needs_prior(cls, n_prior_draws: int) -> bool:
        """Whether the draws need the class prior's tables (``settings.prior``)."""
        return False

    @abc.abstractmethod
    def sample(self, X, labels, index, streams) -> Candidates:
        """Candidates of the queries ``X`` (validated, dense or CSR).

        ``labels``: the rows' label indices (training: the label is left out
        of the candidates' estimate, which covers the other classes) or
        None. ``index``: the built :class:`~sklearn_lsh.LSHIndex` when
        ``uses_tables``. ``streams``: a :class:`~sklearn_lsh._rng.StepStreams`
        or :class:`~sklearn_lsh._rng.CallStreams` giving the kernel seed of
        each kind of draw.
        """

    def log_partition(self, W, X, candidates: Candidates, streams):
        """``(log Z_hat per row, inner products spent scoring terms)`` of the
        class vectors ``W`` (the rows the index was built on, if any)."""
        scores, n_scored = _complete_scores(W, X, candidates)
        return _scoring.segment_logsumexp(scores + candidates.log_weight, candidates.indptr), n_scored

    def sample_size(self, candidates: Candidates, n_rows: int) -> int:
        """Classes scored for the batch: the terms and ``extra_scored`` (a
        shared set: every row scores every class of it)."""
        if candidates.shared:
            return n_rows * candidates.classes.shape[0] + candidates.extra_scored
        return candidates.classes.shape[0] + candidates.extra_scored


def _checked(scores):
    """The scores of an estimate, or a FloatingPointError if one overflows."""
    if not np.isfinite(scores).all():
        raise FloatingPointError(
            "A score w_j . x overflows float64 (W and X are finite, their product is not), so log Z cannot be "
            "estimated. Scale W or X down."
        )
    return scores


def _complete_scores(W, X, candidates):
    """Scores of every candidate: the sampler's, and the others computed."""
    if candidates.scores is None:
        return _checked(pair_scores(X, W, candidates.indptr, candidates.classes)), candidates.classes.shape[0]
    scores = candidates.scores
    missing = np.isnan(scores)
    n_missing = int(missing.sum())
    if n_missing:
        scores = scores.copy()
        rows = np.repeat(np.arange(candidates.indptr.shape[0] - 1), np.diff(candidates.indptr))[missing]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=candidates.indptr.shape[0] - 1))])
        scores[missing] = pair_scores(X, W, indptr.astype(np.int64), candidates.classes[missing])
    return _checked(scores), n_missing


def _all_scores(W, X):
    """Every class's score, computed in float64."""
    W = W.astype(np.float64, copy=False)
    with np.errstate(over="ignore", invalid="ignore"):
        return _checked(np.asarray(X @ W.T, dtype=np.float64))


class ExactSampler(Sampler):
    """Every class, weight 1: the exact partition function (the degenerate
    sampler; a training step with it is full-softmax SGD through BLAS)."""

    name = "exact"

    def __init__(self, settings):
        super().__init__(settings)
        self._classes = np.arange(settings.n_classes, dtype=np.int64)
        self._log_weight = np.zeros(settings.n_classes)

    def sample(self, X, labels, index, streams):
        return Candidates(None, self._classes, self._log_weight, complete=True)

    def log_partition(self, W, X, candidates, streams):
        from ._prediction import row_logsumexp

        return row_logsumexp(_all_scores(W, X)), X.shape[0] * W.shape[0]

    def sample_size(self, candidates, n_rows):
        return n_rows * self.settings.n_classes


class GumbelSampler(ExactSampler):
    """Exact Gumbel-max: the mean over ``n_draws`` of ``max_j (s_j + G_j)``
    minus Euler's gamma (every class scored, ``C x n_draws`` variates)."""

    name = "gumbel"
    trains = False
    partition_options = {"n_samples": 100}

    def log_partition(self, W, X, candidates, streams):
        seed, offset = streams(Draws.UNIFORM)
        scores = _all_scores(W, X)
        return _scoring.gumbel_max_log_partition(scores, self.settings.n_draws, seed, offset), scores.size


def _uniform_excluding(excluded_ptr, excluded, n_draws, n_classes, seeds):
    seed, offset = seeds
    return _retrieval.uniform_classes_excluding(excluded_ptr, excluded, n_draws, n_classes, seed, offset)


class UniformSampler(Sampler):
    """``n_draws`` classes per row, uniformly with replacement from the
    classes other than the label (all classes without labels), each
    weighted ``C' / n`` (``C' = C - 1``, or C)."""

    name = "uniform"
    shares_draws = True
    partition_options = {"n_samples": 100}

    def sample(self, X, labels, index, streams):
        n_rows, n, n_classes = X.shape[0], self.settings.n_draws, self.settings.n_classes
        if self.settings.shared_draws and labels is not None:
            # n draws from every class for the whole batch; row i keeps the
            # draws that are not its label, each weighted C / n (Hansen-
            # Hurwitz: E[(C/n) sum_k [j_k != y] f_jk] = sum_{j != y} f_j).
            none = np.zeros(2, dtype=np.int64)
            drawn = _uniform_excluding(none, none[:0], n, n_classes, streams(Draws.UNIFORM)).ravel()
            classes, counts = np.unique(drawn, return_counts=True)
            return Candidates(None, classes, np.log(counts * (n_classes / n)))
        if labels is None:
            excluded_ptr, excluded, n_other = np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int64), n_classes
        else:
            excluded_ptr, excluded, n_other = np.arange(n_rows + 1, dtype=np.int64), labels, n_classes - 1
        drawn = _uniform_excluding(excluded_ptr, excluded, n, n_classes, streams(Draws.UNIFORM))
        indptr = np.arange(0, (n_rows + 1) * n, n, dtype=np.int64)
        return Candidates(indptr, drawn.ravel(), np.full(drawn.size, np.log(n_other / n)))


class PriorSampler(Sampler):
    """``n_draws`` draws per row from the class prior ``q``; each distinct
    class weighted ``1 / (1 - (1 - q_j) ** n)`` (Horvitz-Thompson). A draw
    of the label is kept out of ``Z_hat`` by the step (the label's term has
    weight 1), which leaves the estimate unbiased."""

    name = "prior"
    shares_draws = True
    partition_options = {"n_samples": 100, "class_prior": None}

    @classmethod
    def needs_prior(cls, n_prior_draws):
        return True

    def sample(self, X, labels, index, streams):
        prior, n = self.settings.prior, self.settings.n_draws
        seed, offset = streams(Draws.PRIOR_SAMPLES)
        shared = self.settings.shared_draws and labels is not None
        # shared: one draw set for the batch, each distinct class weighted by
        # its inclusion probability as for a row; each row masks its label
        empty = np.zeros((1 if shared else X.shape[0]) + 1, dtype=np.int64)
        indptr, classes, _ = _retrieval.add_prior_draws(empty, empty[:0], prior.alias_probability, prior.alias, n, seed,
                                                       offset)  # fmt: skip
        log_weight = -log_prior_inclusion(prior.log1m_prior, classes, n)
        if shared:
            order = np.argsort(classes, kind="stable")
            return Candidates(None, classes[order], log_weight[order])
        return Candidates(indptr, classes, log_weight)


def fill_empty_rows(labels, candidates: Candidates, settings: SamplerSettings, streams) -> Candidates:
    """Uniform negatives for the rows whose sample holds no class but the
    label (method.md, pitfall 6): such a row would give a zero loss and no
    gradient. Counted in ``n_empty``. This is a fallback, so it adds a small
    upward bias to Z_hat exactly where the sample's estimate was 0; with
    working tables it never triggers."""
    indptr, classes, log_weight = candidates.indptr, candidates.classes, candidates.log_weight
    n_rows = labels.shape[0]
    empty = _retrieval.count_negatives(indptr, classes, labels) == 0
    if not empty.any():
        return candidates
    n_empty = int(empty.sum())
    fill = UniformSampler(dataclasses.replace(settings, shared_draws=False)).sample(np.empty((n_empty, 0)), labels[empty], None,
                                           lambda draws: streams(Draws.EMPTY_FALLBACK))  # fmt: skip
    # Drop what the empty rows held (at most their label), append their
    # draws, and regroup by row (a stable sort keeps each row's order).
    row_of = np.repeat(np.arange(n_rows), np.diff(indptr))
    keep = ~empty[row_of]
    rows = np.concatenate([row_of[keep], np.repeat(np.flatnonzero(empty), np.diff(fill.indptr))])
    order = np.argsort(rows, kind="stable")
    new_indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
    return Candidates(
        new_indptr, np.concatenate([classes[keep], fill.classes])[order],
        np.concatenate([log_weight[keep], fill.log_weight])[order],
        hash_inner_products=candidates.hash_inner_products, score_inner_products=candidates.score_inner_products,
        extra_scored=candidates.extra_scored, n_scanned=candidates.n_scanned, n_floored=candidates.n_floored,
        n_probes=candidates.n_probes, n_empty=candidates.n_empty + n_empty,
    )  # fmt: skip


class LSHUnionSampler(Sampler):
    """"lsh": the deduplicated union of the query's buckets, each class
    weighted ``1 / P_j`` (its exact inclusion probability), optionally with
    ``n_prior_draws`` draws from the class prior mixed in (inclusion
    ``1 - (1 - P_j) (1 - q_j) ** n``)."""

    name = "lsh"
    uses_tables = True
    partition_options = {**_TABLE_OPTIONS, "n_prior_samples": 0, "class_prior": None}

    @classmethod
    def needs_prior(cls, n_prior_draws):
        return n_prior_draws > 0

    def sample(self, X, labels, index, streams):
        sample = index.retrieve_union(X)
        n_prior = self.settings.n_prior_draws
        if n_prior:
            seed, offset = streams(Draws.PRIOR_DRAWS)
            sample = index.add_prior_draws(X, sample, self.settings.prior, n_prior, seed, offset)
        candidates = Candidates(
            sample.indptr, sample.classes.astype(np.int64), -sample.log_probabilities, sample.scores,
            hash_inner_products=sample.hash_inner_products, score_inner_products=sample.score_inner_products,
            n_scanned=int(sample.n_scanned.sum()), n_floored=sample.n_floored,
        )  # fmt: skip
        return candidates if labels is None else fill_empty_rows(labels, candidates, self.settings, streams)


class LSHDrawSampler(Sampler):
    """"lsh-draw": ``n_draws`` draws per row of (random table, uniform
    member of the query's bucket there), each weighted ``|bucket| / (n
    P_l)``, ``P_l`` over the ``l`` tables probed."""

    name = "lsh-draw"
    uses_tables = True
    partition_options = {"n_bits": 4, "n_tables": 16, "n_norm_ranges": 64, "table_design": "independent",
                         "n_samples": 100, "max_probes": None}  # fmt: skip

    def sample(self, X, labels, index, streams):
        n_draws = self.settings.n_draws
        max_probes = self.settings.max_probes or index.n_tables
        seed, offset = streams(Draws.LSH_DRAWS)
        sample = index.retrieve_draws(X, n_draws, max_probes, seed, offset)
        found = sample.classes >= 0
        indptr = np.concatenate([[0], np.cumsum(found.sum(axis=1))]).astype(np.int64)
        log_weight = np.log(sample.bucket_sizes[found]) - sample.log_probabilities[found] - np.log(n_draws)
        candidates = Candidates(
            indptr, sample.classes[found].astype(np.int64), log_weight, sample.scores[found],
            hash_inner_products=sample.hash_inner_products, score_inner_products=sample.score_inner_products,
            n_floored=sample.n_floored, n_probes=int(sample.probes.sum()),
        )  # fmt: skip
        return candidates if labels is None else fill_empty_rows(labels, candidates, self.settings, streams)


class MipsGumbelSampler(Sampler):
    """"mips-gumbel": the ``n_top`` best-scoring classes of the LSH union
    (other than the label) at weight 1, then ``n_draws`` uniform draws from
    the classes that are neither those nor the label, weighted
    ``(C' - n_top_i) / n`` (partition form of Mussmann & Ermon, 2016)."""

    name = "mips-gumbel"
    uses_tables = True
    partition_options = {**_TABLE_OPTIONS, "n_top": 10, "n_samples": 100}

    def sample(self, X, labels, index, streams):
        n_classes, n_rows, n = self.settings.n_classes, X.shape[0], self.settings.n_draws
        sample = index.retrieve_union(X)
        scores = sample.scores
        if labels is not None:
            scores = np.where(sample.classes == np.repeat(labels, sample.sizes), -np.inf, scores)
        top = _scoring.top_k_per_segment(scores, sample.indptr, self.settings.n_top) & np.isfinite(scores)
        row_of = np.repeat(np.arange(n_rows), sample.sizes)
        top_counts = np.bincount(row_of[top], minlength=n_rows)
        top_classes = sample.classes[top].astype(np.int64)
        # Exclude each row's top classes (and its label) from the tail draws.
        has_label = labels is not None
        excluded_ptr = np.concatenate([[0], np.cumsum(top_counts + has_label)]).astype(np.int64)
        excluded = np.empty(excluded_ptr[-1], dtype=np.int64)
        keep = np.ones(excluded.shape[0], dtype=bool)
        if has_label:
            label_at = excluded_ptr[1:] - 1
            excluded[label_at] = labels
            keep[label_at] = False
        excluded[keep] = top_classes
        tail = _uniform_excluding(excluded_ptr, excluded, n, n_classes, streams(Draws.MIPS_TAIL))
        tail_found = tail >= 0
        tail_counts = tail_found.sum(axis=1)
        tail_log_weight = np.log(np.maximum(n_classes - has_label - top_counts, 1) / n)
        indptr = np.concatenate([[0], np.cumsum(top_counts + tail_counts)]).astype(np.int64)
        # Top classes first, then the tail draws, regrouped by row (stable).
        rows = np.repeat(np.tile(np.arange(n_rows), 2), np.concatenate([top_counts, tail_counts]))
        order = np.argsort(rows, kind="stable")
        n_tail = int(tail_found.sum())
        return Candidates(
            indptr, np.concatenate([top_classes, tail[tail_found]])[order],
            np.concatenate([np.zeros(top_classes.shape[0]), np.repeat(tail_log_weight, tail_counts)])[order],
            np.concatenate([sample.scores[top], np.full(n_tail, np.nan)])[order],
            hash_inner_products=sample.hash_inner_products, score_inner_products=sample.score_inner_products,
            extra_scored=sample.classes.shape[0] - top_classes.shape[0], n_scanned=int(sample.n_scanned.sum()),
            n_floored=sample.n_floored,
        )  # fmt: skip


#: name -> sampler class, in the order the documentation lists them
SAMPLERS: dict[str, type[Sampler]] = {}
#: names of every sampler, and of those that can train a classifier: live
#: sets, held by the partition API's ``method`` and the classifier's
#: ``estimator`` constraints, so a registered sampler is accepted by both
SAMPLER_NAMES: set[str] = set()
TRAINING_SAMPLERS: set[str] = set()


def register_sampler(cls: type[Sampler]) -> type[Sampler]:
    """Add a sampler class to :data:`SAMPLERS` under ``cls.name`` (and to
    :data:`TRAINING_SAMPLERS` if it trains); usable as a class decorator."""
    SAMPLERS[cls.name] = cls
    SAMPLER_NAMES.add(cls.name)
    if cls.trains:
        TRAINING_SAMPLERS.add(cls.name)
    return cls


def unregister_sampler(name: str) -> None:
    """Remove a registered sampler (tests that register a toy one)."""
    del SAMPLERS[name]
    SAMPLER_NAMES.discard(name)
    TRAINING_SAMPLERS.discard(name)


for _cls in (ExactSampler, LSHUnionSampler, LSHDrawSampler, UniformSampler, PriorSampler, GumbelSampler,
             MipsGumbelSampler):  # fmt: skip
    register_sampler(_cls)


def make_sampler(name: str, settings: SamplerSettings) -> Sampler:
    """The registered sampler ``name`` with ``settings``."""
    return SAMPLERS[name](settings)
