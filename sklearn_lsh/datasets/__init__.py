"""Data sets and generators for extreme multiclass problems."""

from ._synthetic import make_partition_problem

__all__ = ["make_partition_problem"]
