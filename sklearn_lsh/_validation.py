"""Input checks shared by the estimators: sample and class weights, labels,
class priors, and the memory an output needs."""

from __future__ import annotations

import os
from numbers import Real

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

__all__ = [
    "check_sample_weight",
    "unique_labels",
    "label_index",
    "sample_class_weights",
    "check_class_prior",
    "available_memory",
    "check_dense_output",
    "check_allocation",
]


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Validated float64 copy of ``sample_weight`` (mirrors scikit-learn's
    private ``_check_sample_weight``)."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, float(sample_weight))
    sample_weight = column_or_1d(np.asarray(sample_weight, dtype=np.float64), warn=False)
    if sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},): "
            "one weight per sample."
        )
    if not np.isfinite(sample_weight).all():
        raise ValueError("Input sample_weight contains NaN or infinity.")
    if (sample_weight < 0).any():
        raise ValueError("Negative values in data passed to sample_weight.")
    if not sample_weight.any():
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight.copy()


def unique_labels(labels, name: str) -> np.ndarray:
    """Sorted unique labels; a clear ValueError for labels that cannot be
    ordered (e.g. a mix of strings and numbers), which ``np.unique`` would
    report as a TypeError from deep inside its sort."""
    try:
        return np.unique(labels)
    except TypeError as error:
        kinds = sorted({type(label).__name__ for label in np.asarray(labels, dtype=object).ravel()})
        raise ValueError(
            f"{name} mixes label types that cannot be sorted together ({', '.join(kinds)}); use labels of one "
            "type, e.g. all strings or all numbers."
        ) from error


def label_index(y, known: np.ndarray) -> np.ndarray:
    """Positions of the labels ``y`` in the sorted ``known`` classes; a
    ValueError names the labels that are not among them."""
    unique_labels(y, "y")
    check_classification_targets(y)
    y_index = np.searchsorted(known, y)
    y_index[y_index >= known.shape[0]] = 0
    unknown = known[y_index] != y
    if unknown.any():
        raise ValueError(
            f"y contains labels not in classes: {np.unique(y[unknown])[:10]!r}. Every label must be "
            "listed in the classes of the first partial_fit call."
        )
    return y_index


def sample_class_weights(class_weight, classes: np.ndarray, y_index: np.ndarray):
    """Per-sample factors from ``class_weight`` (None, "balanced" over the
    classes present in ``y_index``, or a dict of label to weight)."""
    if class_weight is None:
        return 1.0
    per_class = np.ones(classes.shape[0])
    if class_weight == "balanced":
        present = np.unique(y_index)
        per_class[present] = compute_class_weight("balanced", classes=present, y=y_index)
        return per_class[y_index]
    for label, weight in class_weight.items():
        position = np.searchsorted(classes, label)
        if position >= classes.shape[0] or classes[position] != label:
            raise ValueError(f"class_weight has a label {label!r} that is not in classes_ {classes!r}.")
        per_class[position] = weight
    return per_class[y_index]


def check_class_prior(class_prior, n_classes: int, classes_of: str) -> np.ndarray:
    """A validated float64 class prior of shape ``(n_classes,)``: positive
    and finite (any scale; callers normalise). ``classes_of`` says where
    the classes come from, for the message of a length mismatch."""
    prior = check_array(class_prior, ensure_2d=False, dtype=np.float64, input_name="class_prior")
    if prior.ndim != 1:
        raise ValueError(f"class_prior must be 1-dimensional, one value per class; got shape {prior.shape}.")
    if prior.shape[0] != n_classes:
        raise ValueError(
            f"class_prior has {prior.shape[0]} entries, but {classes_of}; they must match."
        )
    if not (prior > 0).all():
        raise ValueError("class_prior must hold positive values: a class that cannot be drawn biases Z.")
    return prior


def _read_int(path):
    """The integer in a one-line file (cgroup limits), or None ("max", absent)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _cgroup_room(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """Bytes the process's memory cgroup (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``) still allows, or None without a limit. In a
    container the cgroup files sit at the mount's root rather than under the
    path /proc names, so both places are read."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        path = path.lstrip("/")
        if controllers == "":  # v2, the unified hierarchy
            bases = [os.path.join(root, path), root, os.path.join(root, "unified", path)]
            files = ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # v1
            bases = [os.path.join(root, "memory", path), os.path.join(root, "memory")]
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        for base in bases:
            limit = _read_int(os.path.join(base, files[0]))
            if limit is None or limit >= 2**60:  # absent, "max", or v1's huge "no limit"
                continue
            return max(0, limit - (_read_int(os.path.join(base, files[1])) or 0))
    return None


def _address_space_room():
    """Bytes ``RLIMIT_AS`` still allows the process to map, or None."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except OSError:
        pass
    return soft


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation, or None if unknown:
    the least of the system's ``MemAvailable`` (Linux; elsewhere the
    physical memory), the room under the process's ``RLIMIT_AS`` and the
    room under its memory cgroup's limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``)."""
    system = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    system = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if system is None:
        try:
            system = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            system = None
    limits = [room for room in (system, _address_space_room(), _cgroup_room()) if room is not None]
    return min(limits) if limits else None


def check_dense_output(method: str, n_rows: int, n_classes: int, dtype) -> None:
    """Refuse an (n_rows, n_classes) output that cannot fit in memory with a
    clear error, instead of the OS killing the process mid-way."""
    needed = n_rows * n_classes * np.dtype(dtype).itemsize
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{method} would return an array of {n_rows} x {n_classes} {np.dtype(dtype).name} "
            f"({needed / 2**30:.1f} GiB), more than the {available / 2**30:.1f} GiB of memory available. Use "
            "predict_topk(X, k) for the k most probable classes of each row (memory O(n_samples x k)), "
            "predict(X) for the best class, or pass X in smaller batches."
        )


def check_allocation(what: str, n_bytes: int, advice: str) -> None:
    """A MemoryError before allocating ``n_bytes`` that the memory available
    (system, ``RLIMIT_AS``, cgroup) cannot hold: with overcommit the
    allocation itself would succeed and the OS would kill the process when
    the pages are touched."""
    available = available_memory()
    if available is not None and n_bytes > available:
        raise MemoryError(
            f"{what} would take {n_bytes / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB of memory "
            f"available. {advice}"
        )
