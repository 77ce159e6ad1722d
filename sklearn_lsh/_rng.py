"""Named random streams: every random number of a fit or an estimate comes
from here.

A fitted model keeps one integer seed (``_seed``, drawn from
``random_state``). Each use of randomness has its own stream, so that
changing one (e.g. how many tables are built) never shifts another (the
shuffling). NumPy streams are ``numpy.random.default_rng([seed, stream,
*keys])`` (:class:`Stream`). The numba kernels take a 64-bit seed and a
per-row stream number (:mod:`sklearn_lsh._kernels._random`); what a
sampler's draws use is named by :class:`Draws` and resolved by
:class:`StepStreams` (a training step) or :class:`CallStreams` (a call of
``estimate_log_partition``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np

__all__ = ["Stream", "Draws", "StepStreams", "CallStreams", "generator", "derived_seed"]


class Stream(IntEnum):
    """NumPy streams of a model seed, ``default_rng([seed, stream, *keys])``."""

    #: initial weights (and the two-component model's initial placement)
    INIT = 0
    #: the ``early_stopping`` validation split
    VALIDATION = 1
    #: the shuffling of epoch ``e`` (key: the epoch)
    SHUFFLE = 2
    #: the seed of the training hash tables' projections
    TRAIN_TABLES = 3
    #: the seed of the prediction hash tables' projections
    PREDICT_TABLES = 4
    #: "lsh-draw" draws of a step (key: the step's stream)
    LSH_DRAWS = 5
    #: the prior draws added to the "lsh" union (key: the step's stream)
    PRIOR_DRAWS = 6
    #: the draws of the "prior" estimator (key: the step's stream)
    PRIOR_SAMPLES = 7
    #: ``predict_topk(retrieval="hnsw")``: the graph's seed (key 0) and the
    #: draws of its estimate of Z (key 1)
    PREDICT_GRAPH = 8


class Draws(Enum):
    """The random draws a sampler makes; each has its own training stream."""

    UNIFORM = "uniform negatives"
    EMPTY_FALLBACK = "uniform negatives of an example whose LSH sample is empty"
    MIPS_TAIL = "uniform tail of mips-gumbel"
    LSH_DRAWS = "lsh-draw draws"
    PRIOR_DRAWS = "prior draws added to the lsh union"
    PRIOR_SAMPLES = "draws of the prior estimator"


# In training, these draws use a seed derived from the model seed and the
# step's stream (rows are streams 0, 1, ... of it) ...
_DERIVED = {Draws.LSH_DRAWS: Stream.LSH_DRAWS, Draws.PRIOR_DRAWS: Stream.PRIOR_DRAWS,
            Draws.PRIOR_SAMPLES: Stream.PRIOR_SAMPLES}  # fmt: skip
# ... and these the model seed plus an offset, with the step's stream as the
# first row's stream.
_OFFSET = {Draws.UNIFORM: 0, Draws.EMPTY_FALLBACK: 1, Draws.MIPS_TAIL: 2}


def generator(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """The NumPy generator of ``stream`` (and ``keys``) of ``seed``."""
    return np.random.default_rng([seed, int(stream), *keys])


def derived_seed(seed: int, stream: Stream, *keys: int) -> int:
    """A 62-bit kernel seed drawn from ``generator(seed, stream, *keys)``."""
    return int(generator(seed, stream, *keys).integers(2**62))


@dataclass(frozen=True)
class StepStreams:
    """Kernel seeds of the draws of one training step.

    ``seed`` is the model seed and ``stream`` the step's stream (its epoch
    times the number of rows plus its first row), so every step draws afresh
    and reproducibly, whatever the batch size of the others.
    """

    seed: int
    stream: int

    def __call__(self, draws: Draws) -> tuple[int, int]:
        """``(kernel seed, stream of the first row)`` of ``draws``."""
        if draws in _DERIVED:
            return derived_seed(self.seed, _DERIVED[draws], self.stream), 0
        return self.seed + _OFFSET[draws], self.stream


@dataclass(frozen=True)
class CallStreams:
    """Kernel seeds of the draws of one ``estimate_log_partition`` call: one
    seed for every kind of draw; query ``i`` of the call is stream ``i``, so a
    chunk starting at query ``offset`` draws as the whole call would."""

    seed: int
    offset: int

    def __call__(self, draws: Draws) -> tuple[int, int]:
        return self.seed, self.offset
