"""Data sets, readers and generators for extreme multiclass problems.

- :func:`make_extreme_classification`, :func:`make_partition_problem`:
  deterministic generators.
- :func:`fetch_ptb` (download with a sha256 check, or a local copy) and
  :func:`load_ptb` (a local folder), :class:`NextWordFeatures`: the Penn
  Treebank next-word problem of Spring & Shrivastava (2017).
- :func:`load_xc_repo_file`: the Extreme Classification Repository's format.
- :func:`load_data_file`: ``(X, y)`` from an svmlight, repository or ``.npz``
  file, the formats of the command line.
"""

from ._fetch import fetch_ptb, get_data_home
from ._files import load_data_file
from ._synthetic import make_extreme_classification, make_partition_problem
from ._text import NextWordFeatures, load_brown, load_ptb, read_tokens
from ._xc import load_xc_repo_file

__all__ = [
    "NextWordFeatures",
    "fetch_ptb",
    "get_data_home",
    "load_data_file",
    "load_brown",
    "load_ptb",
    "load_xc_repo_file",
    "make_extreme_classification",
    "make_partition_problem",
    "read_tokens",
]
