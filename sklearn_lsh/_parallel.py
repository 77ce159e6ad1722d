"""Thread counts for a block of work (``n_jobs`` of the estimators)."""

import threading
from contextlib import contextmanager

import numba
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
