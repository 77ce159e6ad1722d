"""Data sets and generators for extreme multiclass problems."""

from ._synthetic import make_extreme_classification, make_partition_problem
from ._text import NextWordFeatures, load_ptb, read_tokens

__all__ = ["NextWordFeatures", "load_ptb", "make_extreme_classification", "make_partition_problem", "read_tokens"]
