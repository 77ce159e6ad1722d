"""Draws from a class prior ``q``: the proposal of the "prior" estimator and
of the prior draws added to the "lsh" union. No scikit-learn import."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._kernels._retrieval import alias_table

__all__ = ["PriorTables", "prior_draw_tables", "log_prior_inclusion"]


class PriorTables(NamedTuple):
    """What the draws need of a class prior ``q``."""

    #: Walker's alias table of the prior (a draw is O(1)): the probability
    #: of keeping each column, and its alias
    alias_probability: np.ndarray
    alias: np.ndarray
    #: ``log(1 - q_j)``, with ``q`` normalised
    log1m_prior: np.ndarray


def prior_draw_tables(prior) -> PriorTables:
    """The :class:`PriorTables` of a positive class prior (any scale; ``q``
    is it normalised), what :func:`add_prior_draws
    <sklearn_lsh._kernels._retrieval.add_prior_draws>` and
    :func:`log_prior_inclusion` take."""
    prior = np.asarray(prior, dtype=np.float64)
    return PriorTables(*alias_table(prior / prior.max()), np.log1p(-prior / prior.sum()))


def log_prior_inclusion(log1m_prior, classes, n_draws, log_p=None) -> np.ndarray:
    """Log probability that each class is drawn at least once in ``n_draws``
    draws from the prior, ``log(1 - (1 - q_j) ** n)``; with ``log_p`` (the
    union form's ``log P_j``), that it is retrieved or drawn, the two being
    independent: ``log(1 - (1 - P_j) (1 - q_j) ** n)``."""
    log_miss = n_draws * log1m_prior[classes]
    if log_p is not None:
        with np.errstate(divide="ignore"):
            log_miss = log_miss + np.log1p(-np.exp(log_p))
    return np.log(-np.expm1(log_miss))
