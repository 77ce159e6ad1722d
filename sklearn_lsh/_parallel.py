"""Thread counts for a block of work (``n_jobs`` of the estimators)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_limits


@contextmanager
def numba_threads(n_jobs):
    """Set numba's thread count for the block and restore it afterwards.

    ``n_jobs=None`` means 1 thread, ``-1`` all of numba's threads, ``-2`` all
    but one, as in scikit-learn.
    """
    previous = numba.get_num_threads()
    wanted = n_threads(n_jobs)
    try:
        numba.set_num_threads(wanted)
        yield
    finally:
        numba.set_num_threads(previous)


def n_threads(n_jobs) -> int:
    """The number of threads ``n_jobs`` stands for (at least 1)."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, numba.config.NUMBA_NUM_THREADS + 1 + n_jobs)
    return max(1, min(n_jobs, numba.config.NUMBA_NUM_THREADS))


@contextmanager
def training_threads(n_jobs):
    """``n_jobs`` threads for training: numba's (the kernels' ``prange``
    loops: scoring over examples, updates over disjoint class rows), with
    the BLAS library on one thread (through threadpoolctl), both restored
    afterwards. BLAS's own threads next to numba's spin on the same cores
    (docs/classifier.md, "n_jobs"). The kernels give the same results for
    any thread count and BLAS always runs on one, so
    a fit does not depend on ``n_jobs``."""
    with numba_threads(n_jobs), threadpool_limits(limits=1, user_api="blas"):
        yield


_ONE_BLAS_THREAD = {"lock": threading.Lock(), "users": 0, "limits": None, "controller": None}


@contextmanager
def one_blas_thread():
    """The BLAS library on one thread for the block: for many small GEMMs
    (the score blocks of exact prediction) its threads cost more than they
    give, and next to other threads they spin on the same cores.

    Concurrent blocks (several Python threads predicting) share one limit:
    the first sets it, the last restores the previous one.
    """
    state = _ONE_BLAS_THREAD
    with state["lock"]:
        if state["users"] == 0:
            if state["controller"] is None:  # (a controller caches the library scan: 10 us a limit, not 1 ms)
                state["controller"] = ThreadpoolController()
            state["limits"] = state["controller"].limit(limits=1, user_api="blas")
        state["users"] += 1
    try:
        yield
    finally:
        with state["lock"]:
            state["users"] -= 1
            if state["users"] == 0:
                state["limits"].restore_original_limits()
                state["limits"] = None


# Class-blocked GEMMs. BLAS stays on one thread in training (its spinning
# threads beside numba's cost more than they give on a small machine), so
# the big products of a step are split by class rows into fixed blocks and
# the blocks run on a small pool of Python threads (NumPy releases the GIL
# in BLAS). The blocks do not depend on the thread count, so neither do the
# results: a fit is bit-identical for any ``n_jobs``.
CLASS_BLOCK = 4096
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _run_blocks(job, n_rows, n_threads):
    blocks = [(lo, min(lo + CLASS_BLOCK, n_rows)) for lo in range(0, n_rows, CLASS_BLOCK)]
    if n_threads <= 1 or len(blocks) == 1:
        for lo, hi in blocks:
            job(lo, hi)
        return
    with _POOLS_LOCK:
        pool = _POOLS.get(n_threads)
        if pool is None:
            pool = _POOLS[n_threads] = ThreadPoolExecutor(n_threads, thread_name_prefix="sklearn_lsh")
    for future in [pool.submit(job, lo, hi) for lo, hi in blocks]:
        future.result()


def scores_by_class_blocks(X: np.ndarray, W: np.ndarray, n_threads: int) -> np.ndarray:
    """``X @ W.T`` for dense ``X`` (n_rows, d) and class rows ``W`` (C, d),
    computed by blocks of ``CLASS_BLOCK`` classes on ``n_threads``."""
    out = np.empty((X.shape[0], W.shape[0]), dtype=np.result_type(X, W))

    def job(lo, hi):
        with np.errstate(over="ignore", invalid="ignore"):  # (non-finite scores are the caller's check)
            np.matmul(X, W[lo:hi].T, out=out[:, lo:hi])

    _run_blocks(job, W.shape[0], n_threads)
    return out


def gradient_by_class_blocks(coefficients: np.ndarray, X: np.ndarray, n_threads: int) -> np.ndarray:
    """``coefficients.T @ X`` for dense ``coefficients`` (n_rows, C) and
    ``X`` (n_rows, d), computed by blocks of ``CLASS_BLOCK`` classes."""
    out = np.empty((coefficients.shape[1], X.shape[1]), dtype=np.result_type(coefficients, X))

    def job(lo, hi):
        with np.errstate(over="ignore", invalid="ignore"):
            np.matmul(coefficients[:, lo:hi].T, X, out=out[lo:hi])

    _run_blocks(job, coefficients.shape[1], n_threads)
    return out
