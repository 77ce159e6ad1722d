"""Thread counts for a block of work (``n_jobs`` of the estimators)."""

from contextlib import contextmanager

import numba
from threadpoolctl import threadpool_limits


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
    loops) and the BLAS library's (the GEMMs of the exact step and of the
    table builds), both restored afterwards. With a given ``n_jobs`` a fit
    is deterministic; the kernels' results do not depend on the thread
    count, the BLAS products may differ in the last bits between counts."""
    with numba_threads(n_jobs), threadpool_limits(limits=n_threads(n_jobs), user_api="blas"):
        yield
