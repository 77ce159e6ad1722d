"""One loader for the data-file formats of the command line.

``DATA_FILE_FORMATS`` maps each format name to its reader, a function
``reader(path, *, zero_based) -> (X, y)`` whose docstring summary describes
the format; ``DATA_FILE_SUFFIXES`` maps the file suffixes that decide a
format on their own to its name. :func:`load_data_file` dispatches through
them, and the command line reads its ``--format`` choices and help from
them.
"""

from __future__ import annotations

import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._xc import _is_header, load_xc_repo_file


def _line_error(line, zero_based, multilabel):
    """Why scikit-learn's svmlight parser rejects ``line`` (bytes), or None.
    It follows that parser: text after '#' is a comment, then a label (in
    multi-label files, comma-separated labels, or none), an optional
    'qid:N', and 'index:value' pairs with sorted, unique indices."""
    parts = line.split(b"#", 1)[0].split()
    if not parts:
        return None
    target, features = parts[0].decode(errors="replace"), parts[1:]
    try:
        if not multilabel:
            float(target)
        elif ":" in target:
            features = parts
        else:
            [float(label) for label in target.split(",")]
    except ValueError:
        return f"the label {target!r} is not a number"
    if features and features[0].startswith(b"qid") and b":" not in features[0]:
        return f"{features[0].decode(errors='replace')!r} is not 'qid:N'"
    previous = -1
    for feature in features[1:] if features and features[0].startswith(b"qid") else features:
        text = feature.decode(errors="replace")
        index, colon, value = text.partition(":")
        if not colon:
            return f"{text!r} is not 'index:value'"
        try:
            index = int(index)
            float(value)
        except ValueError:
            return f"{text!r} is not 'index:value' with an integer index and a number value"
        if index < 0 or (not zero_based and index == 0):
            return f"Invalid index {index} in SVMlight/LibSVM data (indices are 1-based unless zero-based)"
        if index >= 2**31:
            return f"the feature index {index} is too large (at most 2**31 - 1)"
        if index <= previous:
            return f"the feature indices must be sorted and unique, got {index} after {previous}"
        previous = index
    return None


def _located(exc, path, *, zero_based, multilabel=False):
    """``exc`` of the svmlight parser as a ValueError that names the first line
    it rejects (the parser does not say which)."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            # an XC file's header is its first line, never parsed as a row
            reason = None if multilabel and number == 1 else _line_error(line, zero_based, multilabel)
            if reason:
                return ValueError(f"line {number}: {reason}")
    return exc if isinstance(exc, ValueError) else ValueError(str(exc))


def _read_svmlight(path, *, zero_based):
    """svmlight/libsvm text, 'label index:value ...' per row (indices 1-based unless zero-based)."""
    try:
        X, y = load_svmlight_file(str(path), dtype=np.float32, zero_based=zero_based)
    except (ValueError, OverflowError) as exc:
        raise _located(exc, path, zero_based=zero_based) from exc
    # Labels are parsed as floats: 94.0 -> 94 when all are integers.
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    return X, y


def _read_xc(path, *, zero_based):
    """Extreme Classification Repository text: a header 'n_samples n_features n_labels', then 0-based rows."""
    try:
        return load_xc_repo_file(path)
    except (ValueError, OverflowError) as exc:
        if isinstance(exc, ValueError) and not str(exc).startswith("Malformed"):
            raise
        raise _located(exc, path, zero_based=True, multilabel=True) from exc


def _read_npz(path, *, zero_based):
    """arrays X and y (numpy.savez), or a scipy.sparse.save_npz matrix plus an array y."""
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        if "y" not in keys:
            raise ValueError(f"it has no array 'y' (arrays: {sorted(keys)})")
        y = data["y"]
        if "X" in keys:
            return data["X"], y
        if not {"format", "shape", "data", "indices", "indptr"} <= keys:
            raise ValueError(
                "it holds neither an array 'X' (numpy.savez(path, X=X, y=y)) nor a scipy.sparse.save_npz "
                f"matrix (arrays: {sorted(keys)})"
            )
        fmt_name = data["format"].item()
        fmt_name = fmt_name.decode() if isinstance(fmt_name, bytes) else fmt_name
        if fmt_name not in ("csr", "csc"):
            raise ValueError(f"its sparse matrix is {fmt_name!r}, expected 'csr' or 'csc'")
        cls = sp.csr_matrix if fmt_name == "csr" else sp.csc_matrix
        return cls((data["data"], data["indices"], data["indptr"]), shape=tuple(data["shape"])).tocsr(), y


DATA_FILE_FORMATS = {"svmlight": _read_svmlight, "xc": _read_xc, "npz": _read_npz}
DATA_FILE_SUFFIXES = {".npz": "npz"}


def _sniff_format(path: Path) -> str:
    if path.suffix in DATA_FILE_SUFFIXES:
        return DATA_FILE_SUFFIXES[path.suffix]
    with open(path, "rb") as f:
        return "xc" if _is_header(f.readline()) else "svmlight"


def _to_width(X, n_features, path):
    """Sparse rows at a model's width. The width of a text file is its largest
    feature index, which is incidental: columns past the model's are features
    never seen in training (zero weight), so they are dropped, with a warning
    saying how many non-zeros that was."""
    X = X.tocsr()
    if X.shape[1] > n_features:
        outside = X.indices >= n_features
        if outside.any():
            warnings.warn(
                f"{int(outside.sum())} non-zeros of {str(path)!r} are in features {n_features} and above, "
                f"which the model (n_features_in_={n_features}) never saw in training; they are ignored.",
                UserWarning,
                stacklevel=4,  # the caller of the validate_params wrapper of load_data_file
            )
        X = X[:, :n_features]
    return sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], n_features))


@validate_params(
    {
        "path": [str, os.PathLike],
        "file_format": [StrOptions({"auto", *DATA_FILE_FORMATS})],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "zero_based": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_data_file(
    path: str | os.PathLike,
    file_format: str = "auto",
    *,
    n_features: int | None = None,
    zero_based: bool = False,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    """Load ``(X, y)`` from a multiclass data file in any of the formats of the command line.

    This is the reader of ``sklearn-lsh train``, ``predict`` and
    ``evaluate``.

    Parameters
    ----------
    path : str or path-like
        The data file.
    file_format : {"auto", "svmlight", "xc", "npz"}, default="auto"
        - ``"svmlight"``: libsvm/svmlight text, ``label index:value ...``
          per row, indices 1-based unless ``zero_based``; integral labels
          (parsed as floats) are returned as integers.
        - ``"xc"``: the Extreme Classification Repository's format, read by
          :func:`load_xc_repo_file`: a header ``n_samples n_features
          n_labels``, 0-based indices, exactly one label per row.
        - ``"npz"``: ``numpy.savez(path, X=X, y=y)``, or a
          ``scipy.sparse.save_npz`` file (CSR or CSC) with an extra array
          ``y``; labels of any type NumPy stores without pickling.
        - ``"auto"``: ``"npz"`` for the suffix ``.npz``, else ``"xc"`` when
          the first line is three integers, else ``"svmlight"``.
    n_features : int, default=None
        Width of a sparse ``X``, usually a model's ``n_features_in_``: a
        narrower file is padded with empty columns, and the non-zeros of a
        wider one past this width (features the model never saw in
        training) are dropped with a ``UserWarning`` that counts them. A
        dense ``X`` must have this width. None keeps the file's width.
    zero_based : bool, default=False
        Whether the feature indices of an svmlight file start at 0 (the
        libsvm format is 1-based). Ignored by the other formats.

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix of shape (n_samples, n_features)
        The samples: float32 for the text formats, as stored for ``"npz"``.
    y : ndarray of shape (n_samples,)
        The labels.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file cannot be read in its format, holds no samples, does
        not have one label per row, or a dense ``X`` is not
        ``n_features`` wide.

    See Also
    --------
    load_xc_repo_file : The repository's format, multi-label data included.
    sklearn.datasets.load_svmlight_file : The svmlight reader underneath.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn_lsh.datasets import load_data_file
    >>> path = Path(tempfile.mkdtemp()) / "train.svm"
    >>> _ = path.write_text("3 1:0.5 4:1\\n7 2:2\\n")  # labels 3 and 7, libsvm's 1-based indices
    >>> X, y = load_data_file(path)
    >>> X.shape, y.tolist()
    ((2, 4), [3, 7])
    >>> X, y = load_data_file(path, n_features=6)
    >>> X.shape
    (2, 6)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such data file: {str(path)!r}.")
    fmt = _sniff_format(path) if file_format == "auto" else file_format
    try:
        X, y = DATA_FILE_FORMATS[fmt](path, zero_based=zero_based)
        if n_features is not None and not sp.issparse(X) and X.ndim == 2 and X.shape[1] != n_features:
            raise ValueError(f"X has {X.shape[1]} features, the model {n_features}")
    except (ValueError, OSError, KeyError, EOFError) as exc:
        raise ValueError(f"Cannot read {str(path)!r} as {fmt}: {exc}.") from exc
    if X.shape[0] == 0:
        raise ValueError(f"{str(path)!r} holds no samples.")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{str(path)!r}: y must have one label per row of X, got {y.shape} for {X.shape[0]} rows.")
    if n_features is not None and sp.issparse(X) and X.shape[1] != n_features:
        X = _to_width(X, n_features, path)
    return X, y
