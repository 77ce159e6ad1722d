"""Saving and loading estimators without pickle: :func:`save_model` and
:func:`load_model`.

A model file is a zip archive (stored, not compressed) of ``model.json``,
the estimator's class name, parameters and fitted attributes as tagged JSON
values, and ``arrays/<n>.npy``, one ``.npy`` file per NumPy array, read
with ``allow_pickle=False``. Loading parses JSON and reads arrays of plain
dtypes; the only objects it creates are the package's own estimator
classes (a fixed list, looked up by name), NumPy arrays and scalars,
``numpy.random.RandomState`` and Python's built-in values. Nothing in the
file can name a function to call, so loading a file runs no code from it.

Hash tables are not stored: an :class:`~sklearn_lsh.LSHIndex` is saved as
its parameters, seed, build count and the class vectors of its last build,
and rebuilt on load with the same random projections. A digest of the
tables checks that the rebuild reproduced them. A classifier's prediction
tables are a cache over its weights, built again from their seed on first
use; the training tables of :class:`~sklearn_lsh.LSHSoftmaxClassifier`
hold stale copies of the weights; both are dropped, and the next
``partial_fit`` builds fresh training tables.

The end of the module serves the command line: reading a model file that
may be a pickle, and output files checked before any work and written
atomically (with the umask's permissions; temporary files of killed runs
are removed by the next run).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import math
import os
import re
import secrets
import socket
import stat
import warnings
import zipfile
from pathlib import Path
from typing import IO, Union

import numpy as np
from sklearn.base import BaseEstimator

from ._base import BaseSoftmaxSGD
from ._classifier import LSHSoftmaxClassifier
from ._index import LSHIndex
from ._simhash import SimHashBucketEncoder, SimHashTransformer
from ._two_component import TwoComponentSoftmaxClassifier

__all__ = ["load_model", "save_model"]  # the rest serves the command line

FORMAT = "sklearn-lsh-model"
FORMAT_VERSION = 1
HEADER = "model.json"

#: The classes a model file may name; nothing else is ever instantiated.
MODEL_CLASSES = {
    cls.__name__: cls
    for cls in (LSHSoftmaxClassifier, TwoComponentSoftmaxClassifier, SimHashTransformer, SimHashBucketEncoder,
                LSHIndex)  # fmt: skip
}

# Fitted attributes not stored, with the value they get on load: the
# training tables (stale weights; the next partial_fit rebuilds them) and
# the prediction tables (a cache, rebuilt from their seed on first use).
_DROPPED = {"LSHSoftmaxClassifier": {"_index": None, "_predict_index": None}}

# The counters of an LSHIndex besides its constructor's parameters.
_INDEX_COUNTERS = ("n_builds_", "build_inner_products_", "_n_draw_calls")

# Dtype kinds stored inline in the JSON (numpy scalars) or in .npy files.
_INLINE_KINDS = "biufU"

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]


class _Encoder:
    """Turns a value into tagged JSON, collecting its arrays."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []

    def value(self, v, where):
        kind = type(v)
        if v is None or kind in (bool, str):
            return v
        if kind is int:
            return v
        if kind is float:
            return v if math.isfinite(v) else {"__float__": repr(v)}
        if kind is list:
            return [self.value(item, f"{where}[{i}]") for i, item in enumerate(v)]
        if kind is tuple:
            return {"__tuple__": [self.value(item, f"{where}[{i}]") for i, item in enumerate(v)]}
        if kind is dict:
            return {"__dict__": [[self.value(k, f"{where} key"), self.value(item, f"{where}[{k!r}]")]
                                 for k, item in v.items()]}  # fmt: skip
        if isinstance(v, np.generic) and v.dtype.kind in _INLINE_KINDS:
            return {"__scalar__": v.dtype.str, "value": self.value(v.item(), where)}
        if isinstance(v, np.generic) and not v.dtype.hasobject:
            return {"__scalar_array__": self.array(np.asarray(v), where)}
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if kind is np.random.RandomState:
            return {"__random_state__": self.value(v.get_state(legacy=True), where)}
        if kind is LSHIndex:
            return {"__lsh_index__": self.index(v, None, where)}
        if kind in MODEL_CLASSES.values():
            return {"__estimator__": self.estimator(v, where)}
        raise TypeError(
            f"{where} is a {kind.__module__}.{kind.__qualname__}, which a sklearn-lsh model file cannot hold (it "
            "holds arrays, numbers, strings, lists, tuples, dicts and the package's estimators); save this model "
            "with pickle or joblib instead."
        )

    def array(self, a, where):
        if a.dtype.hasobject:
            if a.dtype != object:
                raise TypeError(f"{where} is a structured array with object fields, which a model file cannot hold.")
            flat = a.ravel(order="C")
            return {"__object_array__": list(a.shape), "items": [self.value(flat[i], f"{where}[{i}]")
                                                                 for i in range(flat.shape[0])]}  # fmt: skip
        self.arrays.append(a)
        return {"__ndarray__": len(self.arrays) - 1}

    def index(self, index, owner, where):
        params = {name: getattr(index, name) for name in inspect.signature(LSHIndex).parameters}
        state = {"params": self.value(params, where), **{k: getattr(index, k) for k in _INDEX_COUNTERS}}
        if hasattr(index, "members_"):
            vectors = index.vectors_
            own = owner._table_vectors() if hasattr(owner, "_table_vectors") else None
            if own is not None and own.dtype == vectors.dtype and np.array_equal(own, vectors):
                state["vectors"] = "table_vectors"  # the owner's weights: not stored twice
            else:
                state["vectors"] = self.array(vectors, f"{where}.vectors_")
            state["tables_sha256"] = _tables_digest(index)
        return state

    def estimator(self, est, where):
        name = type(est).__name__
        if isinstance(est, LSHIndex):
            return {"class": name, "index": self.index(est, None, where)}
        state = dict(est.__getstate__())
        dropped = _DROPPED.get(name, {})
        attributes, indexes = {}, {}
        for key, v in state.items():
            if key in dropped:
                continue
            if type(v) is LSHIndex:
                indexes[key] = self.index(v, est, f"{where}.{key}")
            else:
                attributes[key] = self.value(v, f"{where}.{key}")
        dropped = sorted(set(dropped) & set(state))
        return {"class": name, "attributes": attributes, "indexes": indexes, "dropped": dropped}


def _tables_digest(index):
    """sha256 of an index's built arrays (tables, projections, scales)."""
    digest = hashlib.sha256()
    for name in sorted(vars(index)):
        value = vars(index)[name]
        if name not in ("vectors_", "_bias") and isinstance(value, np.ndarray):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


class _Decoder:
    """Rebuilds values from tagged JSON, reading arrays from the archive."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive

    def read_array(self, n):
        if type(n) is not int or n < 0:
            raise ValueError(f"bad array reference {n!r}")
        with self.archive.open(f"arrays/{n}.npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)

    def value(self, v):
        if v is None or type(v) in (bool, int, float, str):
            return v
        if type(v) is list:
            return [self.value(item) for item in v]
        if type(v) is not dict or len(v) == 0:
            raise ValueError(f"unexpected JSON value {v!r:.80}")
        tag = next(iter(v))
        body = v[tag]
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "__tuple__" and type(body) is list:
            return tuple(self.value(item) for item in body)
        if tag == "__dict__" and type(body) is list:
            return {self.value(k): self.value(item) for k, item in body}
        if tag == "__scalar__":
            dtype = np.dtype(body)
            if dtype.kind not in _INLINE_KINDS:
                raise ValueError(f"unexpected scalar dtype {body!r}")
            return dtype.type(self.value(v["value"]))
        if tag == "__ndarray__":
            return self.read_array(body)
        if tag == "__scalar_array__":
            return self.value(body)[()]
        if tag == "__object_array__":
            items = [self.value(item) for item in v["items"]]
            out = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                out[i] = item
            return out.reshape(tuple(int(s) for s in body))
        if tag == "__random_state__":
            rng = np.random.RandomState()
            rng.set_state(self.value(body))
            return rng
        if tag == "__lsh_index__":
            return self.index(body, None)
        if tag == "__estimator__":
            return self.estimator(body)
        raise ValueError(f"unknown tag {tag!r}")

    def index(self, state, owner):
        params = self.value(state["params"])
        if type(params) is not dict or set(params) != set(inspect.signature(LSHIndex).parameters):
            raise ValueError("an LSHIndex entry does not list the index's parameters")
        index = LSHIndex(**params)  # checks them
        counters = {k: state[k] for k in _INDEX_COUNTERS}
        if any(type(c) is not int or c < 0 for c in counters.values()):
            raise ValueError(f"bad LSHIndex counters {counters!r}")
        if "vectors" in state:
            if counters["n_builds_"] < 1:
                raise ValueError("a built LSHIndex with n_builds_ < 1")
            if state["vectors"] == "table_vectors":
                if owner is None or not hasattr(owner, "_table_vectors"):
                    raise ValueError("an LSHIndex refers to the weights of a model that has none")
                vectors = owner._table_vectors()
            else:
                vectors = self.value(state["vectors"])
            # Build b draws its projections from default_rng([seed, b]):
            # the last build again gives the same tables.
            index.n_builds_ = counters["n_builds_"] - 1
            index.build(vectors)
            if _tables_digest(index) != state["tables_sha256"]:
                warnings.warn(
                    "An LSHIndex rebuilt on load differs from the one saved (a different BLAS can flip the sign of a "
                    "projection of exactly 0, or its vectors were changed in place after build(copy=False)): "
                    "queries of its tables (predict_topk(retrieval='lsh')) may retrieve slightly different classes.",
                    UserWarning,
                    stacklevel=4,
                )
        vars(index).update(counters)
        return index

    def estimator(self, node):
        name = node["class"]
        cls = MODEL_CLASSES.get(name) if type(name) is str else None
        if cls is None:
            raise ValueError(f"it names the class {name!r:.80}, not one of {sorted(MODEL_CLASSES)}")
        if cls is LSHIndex:
            return self.index(node["index"], None)
        attributes = {key: self.value(v) for key, v in node["attributes"].items()}
        missing = [p for p in cls._get_param_names() if p not in attributes]
        if missing:
            raise ValueError(f"its {name} lacks the parameters {missing}")
        est = cls.__new__(cls)
        est.__setstate__({**attributes, **{key: _DROPPED[name][key] for key in node.get("dropped", [])}})
        est._validate_params()
        _check_fitted_arrays(est)
        for key, state in node["indexes"].items():
            if key not in _DROPPED.get(name, {}):  # (earlier files kept the prediction tables: ignored)
                setattr(est, key, self.index(state, est))
        return est


def _check_shapes(est, expected):
    for key, shape in expected.items():
        value = vars(est).get(key)
        if not isinstance(value, np.ndarray) or value.shape != shape:
            raise ValueError(f"its {key} has shape {getattr(value, 'shape', None)}, expected {shape}")


def _check_fitted_arrays(est):
    """The arrays that the kernels index without bounds checks agree with
    ``classes_`` and ``n_features_in_`` (a file is trusted for nothing)."""
    if isinstance(est, (SimHashTransformer, SimHashBucketEncoder)) and "projections_" in vars(est):
        bits, n_blocks, _ = est._block_layout()
        _check_shapes(est, {"projections_": (est.n_features_in_ + 1, bits * n_blocks)})
    if not isinstance(est, BaseSoftmaxSGD) or "classes_" not in vars(est):
        return
    n_classes, n_features = est.classes_.shape[0], est.n_features_in_
    if isinstance(est, LSHSoftmaxClassifier):
        width = est._fitted_n_components() or n_features
        expected = {"_weights": (n_classes, width), "_accumulator": (n_classes,), "_last_step": (n_classes,),
                    "_slot": (n_classes,)}  # fmt: skip
        if "embedding_" in vars(est):
            expected.update({"embedding_": (n_features, width), "_embedding_accumulator": (n_features,),
                             "_embedding_last_step": (n_features,), "_embedding_slot": (n_features,)})  # fmt: skip
    else:
        n_rows, n_cols = est.grid_shape_
        if n_rows * n_cols < n_classes:
            raise ValueError(f"its grid_shape_ {est.grid_shape_} has fewer cells than its {n_classes} classes")
        expected = {"_coef": (n_features, n_rows + n_cols), "_accumulator": (n_rows + n_cols,),
                    "_bias_accumulator": (n_classes,)}  # fmt: skip
    if "class_count_" in vars(est):
        expected["class_count_"] = (n_classes,)
    _check_shapes(est, expected)
    for key in ("_slot", "_embedding_slot"):  # workspaces, all -1 between steps
        if key in vars(est) and (vars(est)[key] != -1).any():
            raise ValueError(f"its {key} is not all -1")
    est._check_model_arrays()


def save_model(model: BaseEstimator | LSHIndex, file: PathOrFile) -> None:
    """Save an estimator of the package to a file that loading cannot run code from.

    The file is a zip archive of ``model.json`` (class, parameters and
    fitted attributes) and one ``.npy`` file per array; see
    :doc:`/persistence`. Hash tables are not stored but rebuilt from their
    seed by :func:`load_model`, so a file is about the size of the model's
    weights. The training tables of an
    :class:`~sklearn_lsh.LSHSoftmaxClassifier` are dropped: predictions of
    the loaded model are identical, and a later ``partial_fit`` first builds
    new training tables, so it can differ from continuing the saved
    instance. pickle and joblib keep working as in scikit-learn (they store
    everything, and loading them can run code).

    Parameters
    ----------
    model : estimator or LSHIndex
        An :class:`~sklearn_lsh.LSHSoftmaxClassifier`,
        :class:`~sklearn_lsh.TwoComponentSoftmaxClassifier`,
        :class:`~sklearn_lsh.SimHashTransformer`,
        :class:`~sklearn_lsh.SimHashBucketEncoder` or
        :class:`~sklearn_lsh.LSHIndex`, fitted or not.
    file : str, path-like or binary file object
        Where to write. An existing file is overwritten.

    Raises
    ------
    TypeError
        If ``model`` is not one of those classes, or holds a value the
        format cannot represent (a parameter or label that is not a number,
        string, bool, None, tuple, list, dict or NumPy array of those).

    See Also
    --------
    load_model : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import make_classification
    >>> from sklearn_lsh import LSHSoftmaxClassifier, load_model, save_model
    >>> X, y = make_classification(300, 10, n_informative=6, n_classes=5, random_state=0)
    >>> clf = LSHSoftmaxClassifier(n_bits=2, n_tables=4, max_iter=3, tol=None, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.sklsh")
    >>> save_model(clf, path)
    >>> loaded = load_model(path)
    >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    if type(model) not in MODEL_CLASSES.values():
        raise TypeError(
            f"save_model saves the package's estimators ({', '.join(MODEL_CLASSES)}), got a "
            f"{type(model).__module__}.{type(model).__qualname__}."
        )
    encoder = _Encoder()
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_lsh_version": _package_version(),
        "class": type(model).__name__,
        "estimator": encoder.estimator(model, type(model).__name__),
    }
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr(HEADER, json.dumps(header, allow_nan=False))
        for n, array in enumerate(encoder.arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(f"arrays/{n}.npy", buffer.getbuffer())


def load_model(file: PathOrFile) -> BaseEstimator | LSHIndex:
    """Load an estimator saved by :func:`save_model`, running no code from the file.

    Only the package's estimator classes are instantiated, the arrays are
    read with ``allow_pickle=False``, and the fitted arrays are checked
    against ``classes_`` and ``n_features_in_`` before they are returned.
    Hash tables are rebuilt from their stored seed and vectors, so
    predictions, ``predict_topk(retrieval="lsh")`` included, are identical
    to those of the saved model.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save_model`.

    Returns
    -------
    model : estimator or LSHIndex
        The saved object, fitted if it was.

    Raises
    ------
    ValueError
        If the file is not a sklearn-lsh model file (a pickle, a truncated
        or corrupted file, a newer format version) or its contents are
        inconsistent.

    Warns
    -----
    UserWarning
        If it was saved by another version of sklearn-lsh, or a rebuilt hash
        table differs from the saved one.

    See Also
    --------
    save_model : Write such a file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn_lsh import LSHIndex, load_model, save_model
    >>> W = np.random.default_rng(0).standard_normal((200, 8))
    >>> index = LSHIndex(n_bits=4, n_tables=3, seed=0).build(W)
    >>> path = os.path.join(tempfile.mkdtemp(), "index.sklsh")
    >>> save_model(index, path)
    >>> loaded = load_model(path)
    >>> bool(np.array_equal(loaded.hash(W), index.hash(W)))
    True
    """
    name = getattr(file, "name", file)
    try:
        with zipfile.ZipFile(file) as archive:
            try:
                header = json.loads(archive.read(HEADER))
            except KeyError:
                raise ValueError(f"it has no {HEADER}") from None
            if type(header) is not dict or header.get("format") != FORMAT:
                raise ValueError(f"its {HEADER} does not declare format {FORMAT!r}")
            version = header.get("format_version")
            if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
                raise ValueError(
                    f"it is in format version {version!r}; this sklearn-lsh ({_package_version()}) reads versions "
                    f"up to {FORMAT_VERSION}: upgrade sklearn-lsh"
                )
            saved_by = header.get("sklearn_lsh_version")
            if saved_by != _package_version():
                warnings.warn(
                    f"{str(name)!r} was saved by sklearn-lsh {saved_by}, this is {_package_version()}: check its "
                    "predictions, or refit it with this version.",
                    UserWarning,
                    stacklevel=2,
                )
            return _Decoder(archive).estimator(header["estimator"])
    except (zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError,
            RecursionError, OSError) as exc:  # fmt: skip
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        reason = str(exc) or type(exc).__name__
        raise ValueError(f"{str(name)!r} is not a valid sklearn-lsh model file: {reason}.") from exc


def _package_version():
    from . import __version__

    return __version__



# ------------------------------------------------ model and output files of the command line
MODEL_SUFFIX = ".sklsh"
PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _pickle_head(head: bytes) -> bool:
    """Pickle protocol 2+ or a compressed joblib file (zlib, gzip, bz2, xz, lzma, lz4)."""
    return head[:1] == b"\x80" or head.startswith((b"x\x01", b"x^", b"x\x9c", b"x\xda", b"ZF", b"\x1f\x8b", b"BZh",
                                                   b"\xfd7zXZ", b"]\x00\x00", b"\x04\x22\x4d\x18"))  # fmt: skip


def read_model_file(path, *, allow_pickle: bool):
    """A model file for the command line: :func:`load_model`, or with
    ``allow_pickle`` a pickle or joblib file. ValueError or OSError with a
    one-line message for anything else; a pickle is refused without
    ``allow_pickle`` before a byte of it is unpickled."""
    where = str(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{where!r} is a directory, not a model file.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such model file: {where!r}.")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise OSError(f"Cannot read {where!r}: {exc.strerror or exc}.") from exc
    if head.startswith(b"PK"):  # a zip archive, maybe truncated
        return load_model(path)
    if not _pickle_head(head):
        raise ValueError(
            f"{where!r} is not a model file: neither a sklearn-lsh model (written by 'sklearn-lsh train' or "
            "sklearn_lsh.save_model) nor a pickle."
        )
    if not allow_pickle:
        raise ValueError(
            f"{where!r} is a pickle or joblib file. Loading a pickle can run any code it contains, so it is read only "
            "with --allow-unsafe-pickle: pass it only for a file you trust, or convert the file once with "
            "sklearn_lsh.save_model."
        )
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # an unpickling error takes many forms
        raise ValueError(f"Cannot load a model from {where!r}: {type(exc).__name__}: {exc}") from exc


def _host_tag():
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _part_pattern(path: Path):
    """Temporary files of ``path``: ``.NAME.HOST-PID-RANDOM.part`` in its folder."""
    return re.compile(rf"^\.{re.escape(path.name)}\.(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-[0-9a-f]{{8}}\.part$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_parts(path: Path) -> list[str]:
    """Remove the temporary files of ``path`` left by runs on this host whose
    process is gone (killed by SIGKILL, or the machine went down); returns
    their names. Files of live processes and of other hosts are kept."""
    pattern, host = _part_pattern(path), _host_tag()
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    removed = []
    for name in names:
        match = pattern.match(name)
        if match and match["host"] == host and not _pid_alive(int(match["pid"])):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path.parent / name)
                removed.append(name)
    return removed


def check_output_path(path: Path, force: bool) -> list[str]:
    """What can be known about writing ``path`` before any work: not a
    directory, in an existing writable folder, not an existing file unless
    ``force``. OSError with a one-line message otherwise. Removes stale
    temporary files of ``path`` and returns their names."""
    where = str(path)
    if path.is_dir():
        raise IsADirectoryError(f"{where!r} is a directory; give the path of a file to write.")
    folder = path.parent
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"No such folder: {str(folder)!r}.") from None
    except OSError as exc:
        raise OSError(f"Cannot use the folder {str(folder)!r}: {exc.strerror}.") from None
    if not stat.S_ISDIR(mode):
        raise NotADirectoryError(f"{str(folder)!r} is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write in the folder {str(folder)!r}: permission denied.")
    if os.path.lexists(path) and not force:
        raise FileExistsError(f"{where!r} exists; pass --force to overwrite it.")
    return remove_stale_parts(path)


def atomic_write(path: Path, write) -> None:
    """``write(binary_file)`` into a temporary file in the target's folder,
    then rename it into place: an interrupted write never leaves a truncated
    file (the temporary file of a killed run is removed by the next run, see
    :func:`remove_stale_parts`). The file is created with mode 0o666 less the
    umask, like any new file. OSError with a one-line message on failure."""
    tmp = path.parent / f".{path.name}.{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.part"
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OSError(f"Cannot write {str(path)!r}: {exc.strerror or exc}; nothing was written.") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
