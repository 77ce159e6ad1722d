"""LSHSoftmaxClassifier: multinomial log-linear model trained by SGD with an
LSH-estimated partition function (Spring & Shrivastava, 2017)."""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _ann, _prediction
from ._arrays import add_ones_column, csr_arrays
from ._base import BaseSoftmaxSGD
from ._log_linear import LogLinearArraysMixin
from ._logit_adjustment import LogitAdjustmentMixin
from ._index import LSHIndex
from ._kernels import _embedding, _sgd
from ._prior import prior_draw_tables
from ._rng import StepStreams, Stream, derived_seed
from ._samplers import SAMPLERS, TRAINING_SAMPLERS, SamplerSettings, make_sampler
from ._steps import ClassLayer, softmax_step

__all__ = ["LSHSoftmaxClassifier", "auto_estimator", "auto_n_bits", "default_rebuild_schedule"]

#: ``estimator="auto"`` trains the exact softmax up to this many classes.
AUTO_EXACT_MAX_CLASSES = 1024

_LSH_NORM_RANGES = 64


def default_rebuild_schedule(step: int) -> bool:
    """Default table rebuild schedule (``rebuild_interval=None``): after every
    10 updates for the first 100 updates, then after every 100 (the schedule
    of the method's published code)."""
    return step % 10 == 0 if step <= 100 else step % 100 == 0


def auto_estimator(n_classes: int) -> str:
    """The estimator that ``estimator="auto"`` trains with: "exact" up to
    ``AUTO_EXACT_MAX_CLASSES`` (1,024) classes, "prior" above.

    Measured (docs/classifier.md, "Choosing an estimator";
    ``python benchmarks/auto_estimator.py``): with few classes the sampled
    estimators' defaults score most of the classes anyway (sector: "lsh"
    scored 102 of 105 per example) and lose accuracy, while the exact step
    costs little; above a few thousand classes "prior" (draws from the
    training label frequencies) matched or beat exact's accuracy at a
    fraction of its time, and beat "lsh" on every real data set measured
    (Brown, PTB next-word).

    Examples
    --------
    >>> from sklearn_lsh import auto_estimator
    >>> auto_estimator(105), auto_estimator(50_000)
    ('exact', 'prior')
    """
    return "exact" if n_classes <= AUTO_EXACT_MAX_CLASSES else "prior"


def auto_n_bits(n_classes: int) -> int:
    """``n_bits=None``: ``ceil(log2(C)) - 4`` (at least 1), so a bucket of a
    random class set holds about 8-16 classes."""
    return int(min(63, max(1, int(np.ceil(np.log2(max(n_classes, 2)))) - 4)))


class LSHSoftmaxClassifier(LogLinearArraysMixin, LogitAdjustmentMixin, BaseSoftmaxSGD):
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
    tables, or from an HNSW graph over the class vectors (``retrieval="hnsw"``,
    optional dependency hnswlib), and rescore them exactly (sublinear in C).

    Parameters
    ----------
    estimator : {"auto", "lsh", "exact", "uniform", "prior", "lsh-draw", "mips-gumbel"}, default="auto"
        How the partition function of a training step is computed. "auto"
        picks by the number of classes (:func:`auto_estimator`): "exact" up
        to 1,024 classes, "prior" above; ``estimator_`` says which. "exact"
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
        With dense input or ``n_components`` set, "uniform" and "prior" draw
        once per minibatch, shared by its examples (each still masks its own
        label): then ``n_samples`` is the draws per minibatch, by default 4%
        of the classes, and the step runs as two matrix products.
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
    max_iter : int >= 1, default=100
        Most epochs over the data in :meth:`fit`. With ``tol`` set, the fit
        stops before when the monitored loss stops improving (on sector,
        clinc150 and generated data the defaults stopped after 20 to 35
        epochs; docs/classifier.md, "Defaults").
    tol : float >= 0 or None, default=1e-3
        Stop when the monitored loss (training loss, or validation log-loss
        with ``early_stopping``) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs. None: run ``max_iter`` epochs.
    n_iter_no_change : int >= 1, default=5
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
    estimator_ : str
        The estimator the last training call used: ``estimator``, or what
        "auto" chose for the number of classes.
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

    Approximate top-k from an HNSW graph (``pip install "sklearn-lsh[ann]"``):

    >>> approx, _ = clf.predict_topk(X[:2], k=3, retrieval="hnsw", n_candidates=5)
    >>> bool((approx[:, 0] == labels[:, 0]).all())
    True

    The low-rank mode for sparse, wide inputs:

    >>> from sklearn_lsh.datasets import make_extreme_classification
    >>> Xs, ys = make_extreme_classification(2000, 5000, 30, sparse=True, n_nonzero=20, random_state=0)
    >>> low_rank = LSHSoftmaxClassifier(n_components=16, max_iter=5, random_state=0).fit(Xs, ys)
    >>> low_rank.embedding_.shape, low_rank.class_embedding_.shape
    ((5000, 16), (30, 16))
    >>> bool(low_rank.score(Xs, ys) > 0.9)
    True
    """


    # Rollback of a failed call (sklearn_lsh._rollback): the class rows and
    # the embedding are journalled row by row as training writes them.
    _journalled_arrays = ("_weights", "embedding_")
    _workspace_arrays = ("_slot", "_embedding_slot")
    _cache_attributes = ("_predict_index",)
    # Not a parameter (an experiment of benchmarks/memory.py, issue 22): the
    # training tables over the live weights by reference instead of a copy
    # of [coef_, intercept_] at build time. Saves a copy of the class rows,
    # but P_j then comes from the current weights between rebuilds (the
    # approximation of method.md, "Rebuilds"), which moves results.
    _training_tables_by_reference = False

    _parameter_constraints: dict = {
        **BaseSoftmaxSGD._parameter_constraints,
        # the registry's live set of training samplers (register_sampler adds to it)
        "estimator": [StrOptions({"auto"}), StrOptions(TRAINING_SAMPLERS)],
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
        "fit_intercept": ["boolean"],
        "logit_adjustment": [Interval(Real, 0, None, closed="left")],
        "logit_adjustment_form": [StrOptions({"loss", "post-hoc"})],
        "class_prior": ["array-like", None],
    }

    def __init__(
        self,
        estimator="auto",
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
        max_iter=100,
        tol=1e-3,
        n_iter_no_change=5,
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

    def _init_model(self, n_features, dtype, init):
        self._init_arrays(n_features, dtype, init)
        n_classes = self.classes_.shape[0]
        self.n_bits_ = self.n_bits if self.n_bits is not None else auto_n_bits(n_classes)
        if self.n_bits is None and self.table_design == "pairs":
            self.n_bits_ += self.n_bits_ % 2  # two halves per pair table
        LSHIndex(self.n_bits_, self.n_tables, table_design=self.table_design, probe_radius=self.probe_radius)  # checks
        self.n_rebuilds_ = 0
        self.n_degenerate_builds_ = 0
        self.n_empty_samples_ = 0
        self._degenerate_index = False
        self._classes_scored = 0.0
        self._index = None
        self._predict_index = None

    @property
    def mean_classes_scored_(self) -> float:
        check_is_fitted(self)
        return self._classes_scored / max(self._examples_seen, 1)

    # ------------------------------------------------------------ training
    def _new_sampler(self, X=None):
        """The estimator's sampler for one fit / partial_fit call on ``X`` (the
        class prior of its draws is fixed for the call)."""
        n_classes = self.classes_.shape[0]
        estimator = self._chosen_estimator()
        cls = SAMPLERS[estimator]
        shared = cls.shares_draws and X is not None and self._batch_shares_draws(X)
        # Default draws: 1% of C per example; 4% of C per batch when the batch
        # shares them: a shared draw moves every row of the batch at once,
        # so a larger set keeps the gradient's variance down at a small cost
        # (its rows are gathered once; docs/classifier.md).
        share = 0.04 if shared else 0.01
        n_draws = self.n_samples if self.n_samples is not None else max(1, int(np.ceil(share * n_classes)))
        n_prior_draws = self.n_prior_samples if estimator == "lsh" else 0
        prior = prior_draw_tables(np.exp(self._log_prior())) if cls.needs_prior(n_prior_draws) else None
        settings = SamplerSettings(n_classes, n_draws=n_draws, n_top=self.n_top, n_prior_draws=n_prior_draws,
                                   prior=prior, shared_draws=shared)  # fmt: skip
        return make_sampler(estimator, settings)

    def _chosen_estimator(self) -> str:
        """``estimator``, with "auto" resolved for the fitted classes."""
        if self.estimator == "auto":
            return auto_estimator(self.classes_.shape[0])
        return self.estimator

    def _batch_shares_draws(self, X):
        """Whether the batch shares one set of draws ("uniform", "prior"):
        its step then gathers the drawn rows once and runs as two GEMMs.
        Not for sparse input to the full-rank model, whose gradient rows
        would be dense over every feature (the per-row kernel touches only
        the batch's non-zeros)."""
        return "embedding_" in self.__dict__ or not sp.issparse(X)

    @contextlib.contextmanager
    def _training_session(self, X):
        self._predict_index = None  # tables over the weights being trained: built again on demand
        self.estimator_ = self._chosen_estimator()
        if self.verbose and self.estimator == "auto":
            print(f"-- estimator='auto': {self.estimator_!r} for {self.classes_.shape[0]:,} classes "
                  f"(\"exact\" up to {AUTO_EXACT_MAX_CLASSES:,})")  # fmt: skip
        self._sampler = self._new_sampler(X)
        try:
            yield
        finally:
            del self._sampler

    def _end_epoch(self):
        self._finish_lazy_updates()

    def _after_epoch(self, X, y_index, weights, refit):
        return f", classes scored/example {self.mean_classes_scored_:.1f}"

    def _optimiser(self):
        return float(self.eta0), float(self.alpha), self.learning_rate == "adagrad"

    def _finish_lazy_updates(self):
        eta0, alpha, adagrad = self._optimiser()
        if alpha > 0.0:  # the decay writes every row that missed some (without it, only _last_step)
            self._journal_rows("_weights")
            self._journal_rows("embedding_")
        _sgd.catch_up_rows(self._weights, self._accumulator, self._last_step, self.t_, eta0, alpha, adagrad)
        if "embedding_" in self.__dict__:
            _sgd.catch_up_rows(self.embedding_, self._embedding_accumulator, self._embedding_last_step, self.t_,
                               eta0, alpha, adagrad)  # fmt: skip

    def _table_vectors(self):
        if self.fit_intercept:
            return np.hstack([self._weights, self.intercept_[:, None]])
        return self._weights

    def _new_index(self, stream):
        return LSHIndex(
            self.n_bits_, self.n_tables, n_norm_ranges=_LSH_NORM_RANGES, table_design=self.table_design,
            probe_radius=self.probe_radius, seed=derived_seed(self._seed, stream),
        )  # fmt: skip

    def _training_tables(self):
        """The training index, rebuilt on schedule; its build work is counted."""
        n_classes = self.classes_.shape[0]
        rebuild = self._index is None or self._degenerate_index
        if not rebuild:
            rebuild = (
                default_rebuild_schedule(self.t_) if self.rebuild_interval is None
                else self.t_ % self.rebuild_interval == 0
            )  # fmt: skip
        if self._index is None:
            self._index = self._new_index(Stream.TRAIN_TABLES)
        if rebuild:
            self._finish_lazy_updates()
            # The old tables and their vectors go first (a failed call gets
            # them back from its rollback state), so they are not held
            # together with the new ones.
            self._index._release()
            built_before = self._index.build_inner_products_
            # Weights made non-finite by a step (a step size far too large)
            # are the model diverging, not bad input to the index.
            if not all(np.isfinite([a.max(), a.min()]).all() for a in (self._weights, self.intercept_)):
                self._diverged("The class weights are not finite", f"update {self.t_}")
            # _table_vectors() is a fresh array when it appends the intercept.
            try:
                if self._training_tables_by_reference:
                    self._index._build_shared(self._weights, self.intercept_ if self.fit_intercept else None)
                else:
                    self._index.build(self._table_vectors(), copy=not self.fit_intercept)
            except FloatingPointError:
                self._diverged("The class weights overflow the hash transform", f"update {self.t_}")
            self._inner_products += self._index.build_inner_products_ - built_before
            self.n_rebuilds_ += 1
            # Tables that cannot tell the classes apart (e.g. all-zero or
            # identical rows, as after a user sets coef_ to zeros) put most
            # classes in one bucket: rebuild at every step until training
            # has separated the rows.
            self._degenerate_index = bool(2 * self._index.largest_bucket_sizes().min() > n_classes)
            self.n_degenerate_builds_ += self._degenerate_index
        return self._index

    def _step(self, Xb, yb, wb, stream):
        eta0, alpha, adagrad = self._optimiser()
        n_rows = Xb.shape[0]
        wb = wb / n_rows
        yb = yb.astype(np.int64)
        if "embedding_" not in self.__dict__:
            loss = self._class_step(Xb, yb, wb, stream, None)
        else:
            # Low-rank: hidden rows H = X_b E, a softmax step on (H, y) that
            # also returns dL/dH, then the embedding rows of the batch's
            # features are updated from dL/dH.
            x_indptr, x_indices, x_data = csr_arrays(Xb)
            self._journal_rows("embedding_", x_indices)  # the rows of the batch's features are written
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
        the hidden rows of the low-rank model): one sampler call, one step.
        ``grad_x``: None, or a float64 zero array that receives dL/dXb."""
        candidates = self._sample_candidates(Xb, yb, stream)
        n_rows = Xb.shape[0]
        scored = self._sampler.sample_size(candidates, n_rows)
        labels = 0 if candidates.complete else n_rows  # the labels' scores, when not among the classes
        self._classes_scored += scored + labels
        self._inner_products += candidates.inner_products + labels + (
            candidates.classes.shape[0] * n_rows if candidates.shared else candidates.classes.shape[0]
        )  # fmt: skip
        self.n_empty_samples_ += candidates.n_empty
        eta0, alpha, adagrad = self._optimiser()
        # The rows the step writes: the candidates' and the labels' (every
        # row for the exact step).
        self._journal_rows("_weights", None if candidates.complete else (candidates.classes, yb))
        layer = ClassLayer(self._weights, self.intercept_, self.fit_intercept, self._accumulator, self._last_step,
                           self._slot, self.t_, eta0, alpha, adagrad)  # fmt: skip
        return softmax_step(layer, Xb, yb, wb, candidates, self._logit_offset("train"), grad_x)

    def _sample_candidates(self, Xb, yb, stream):
        """The candidates of a training step (inside ``_training_session``):
        the tables refreshed on schedule, then one sampler call."""
        index, Xq = None, Xb
        if self._sampler.uses_tables:
            index = self._training_tables()
            Xq = add_ones_column(Xb) if self.fit_intercept else Xb
        try:
            return self._sampler.sample(Xq, yb, index, StepStreams(self._seed, stream))
        except FloatingPointError:
            self._diverged("The scores of the sampled classes overflow", f"update {self.t_}")

    # ------------------------------------------------------------ predict
    def _exact_scores(self):
        return _prediction.LinearScores(
            self._weights, self.intercept_ if self.fit_intercept else None, self._logit_offset("predict"),
            self._hidden, self.eta0, sparse_hidden="embedding_" not in self.__dict__, n_jobs=self.n_jobs,
        )  # fmt: skip

    def _has_retrieval(self):
        return True

    def _prediction_index(self):
        """Tables over the current weights for ``predict_topk(retrieval="lsh")``,
        built on first use and kept until training changes the weights (or
        they are replaced). Separate from the training tables (their own
        random stream), so building them changes no training result. They
        hold ``[_weights, intercept_]`` by reference, not a copy: the
        model's class rows are kept once."""
        bias = self.intercept_ if self.fit_intercept else None
        index = self.__dict__.get("_predict_index")
        if index is not None and index.vectors_ is self._weights and index.__dict__.get("_bias") is bias:
            return index
        with self._cache_lock():
            index = self.__dict__.get("_predict_index")
            if index is not None and index.vectors_ is self._weights and index.__dict__.get("_bias") is bias:
                return index
            # (max and min are NaN or infinite if any entry is; no temporary of the weights' size)
            if not all(np.isfinite([a.max(), a.min()]).all() for a in (self._weights, bias) if a is not None):
                raise ValueError("The class weights or intercepts are not finite; the hash tables cannot be built.")
            index = self._new_index(Stream.PREDICT_TABLES)._build_shared(self._weights, bias)
            self._predict_index = index
        return index

    def _topk_retrieved(self, X, k, top, proba, retrieval="lsh", n_candidates=None):
        if retrieval == "hnsw":
            return _ann.topk_hnsw(self, X, k, top, proba, n_candidates)
        return _prediction.topk_lsh(self._prediction_index(), self._hidden(X), self.fit_intercept,
                                    self._logit_offset("predict"), k, top, proba)  # fmt: skip
