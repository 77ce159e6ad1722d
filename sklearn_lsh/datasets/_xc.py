"""Reader of the extreme classification repository's text format."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file


def _is_header(line: bytes) -> bool:
    """Whether ``line`` is the repository's header: three integers and nothing else."""
    fields = line.split()
    return len(fields) == 3 and all(field.isdigit() for field in fields)


def _read_header(path):
    with open(path, "rb") as f:
        first = f.readline()
    if not _is_header(first):
        raise ValueError(
            f"{str(path)!r} does not start with the extreme classification repository header "
            f"'n_samples n_features n_labels' (three integers); its first line is {first[:80]!r}."
        )
    return len(first), [int(v) for v in first.split()]


def load_xc_repo_file(path, *, multilabel: bool = False, dtype=np.float32):
    """Read a data file of the Extreme Classification Repository.

    The format (Bhatia et al., manikvarma.org/downloads/XC/XMLRepository.html)
    is a header line ``n_samples n_features n_labels`` followed by one line
    per sample, ``l1,l2,... f1:v1 f2:v2 ...``, with 0-based label and
    feature indices; a sample without labels starts with a space. The body
    is parsed by scikit-learn's compiled svmlight reader and checked against
    the header.

    Parameters
    ----------
    path : str or Path
    multilabel : bool, default=False
        False: every sample must have exactly one label (extreme
        *multiclass*), returned as a 1-D integer array. True: a sparse
        indicator matrix of shape (n_samples, n_labels).
    dtype : numpy dtype, default=np.float32

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int64, or csr_matrix of shape (n_samples, n_labels)

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_lsh.datasets import load_xc_repo_file
    >>> path = os.path.join(tempfile.mkdtemp(), "train.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("2 4 3\\n2 0:1.5 3:1\\n0 1:0.5\\n")
    >>> X, y = load_xc_repo_file(path)
    >>> X.shape, y.tolist()
    ((2, 4), [2, 0])
    """
    offset, (n_samples, n_features, n_labels) = _read_header(path)
    if n_samples == 0:
        raise ValueError(f"{str(path)!r} declares 0 samples.")
    try:
        X, labels = load_svmlight_file(
            str(path), n_features=n_features, dtype=dtype, multilabel=True, zero_based=True, offset=offset - 1
        )
    except ValueError as exc:
        raise ValueError(f"Malformed extreme classification repository file {str(path)!r}: {exc}") from exc
    if X.shape[0] != n_samples:
        raise ValueError(f"{str(path)!r} declares {n_samples} samples in its header but holds {X.shape[0]}.")
    counts = np.fromiter((len(row) for row in labels), dtype=np.int64, count=len(labels))
    flat = np.fromiter((v for row in labels for v in row), dtype=np.float64, count=int(counts.sum()))
    ids = flat.astype(np.int64)
    if (ids != flat).any() or (ids < 0).any() or (ids >= n_labels).any():
        bad = flat[(ids != flat) | (ids < 0) | (ids >= n_labels)][:5]
        raise ValueError(
            f"{str(path)!r}: labels must be integers in [0, {n_labels}) per its header, found {bad.tolist()}."
        )
    if not multilabel:
        wrong = np.flatnonzero(counts != 1)
        if wrong.shape[0]:
            raise ValueError(
                f"{str(path)!r}: {wrong.shape[0]} of {n_samples} samples do not have exactly one label (first at "
                f"sample {wrong[0]}, with {counts[wrong[0]]}); pass multilabel=True for multi-label data."
            )
        return X, ids
    indptr = np.concatenate([[0], np.cumsum(counts)])
    Y = sp.csr_matrix((np.ones(ids.shape[0], dtype=np.float32), ids, indptr), shape=(n_samples, n_labels))
    Y.sum_duplicates()
    return X, Y
