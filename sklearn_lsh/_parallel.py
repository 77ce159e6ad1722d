"""numba thread count for a block of work (``n_jobs`` of the estimators)."""

from contextlib import contextmanager

import numba


@contextmanager
def numba_threads(n_jobs):
    """Set numba's thread count for the block and restore it afterwards.

    ``n_jobs=None`` means 1 thread, ``-1`` all of numba's threads, ``-2`` all
    but one, as in scikit-learn.
    """
    previous = numba.get_num_threads()
    if n_jobs is None:
        wanted = 1
    elif n_jobs < 0:
        wanted = max(1, numba.config.NUMBA_NUM_THREADS + 1 + n_jobs)
    else:
        wanted = min(n_jobs, numba.config.NUMBA_NUM_THREADS)
    try:
        numba.set_num_threads(wanted)
        yield
    finally:
        numba.set_num_threads(previous)
