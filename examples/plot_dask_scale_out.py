"""
Scaling out with Dask: streaming training and a distributed grid search
=======================================================================

Two ways to go beyond one machine without leaving the scikit-learn API:

* :class:`dask_ml.wrappers.Incremental` streams
  :meth:`~sklearn_lsh.LSHSoftmaxClassifier.partial_fit` over the blocks of a
  Dask array, so the training data never has to fit in memory (the model
  does: it travels from block to block).
* :class:`~sklearn.model_selection.GridSearchCV` runs its candidates x folds
  on the workers of a ``distributed`` cluster through the joblib ``"dask"``
  backend.

Here the "cluster" is a :class:`distributed.LocalCluster` of two in-process
workers, so the example runs anywhere in a few seconds; on a real cluster
you connect with ``Client("tcp://scheduler-address:8786")`` instead and the
rest of the code is unchanged. See :doc:`/scale_out` for when to use which.
"""

# %%
# Data generated lazily, block by block
# -------------------------------------
# A Dask array of 16 blocks of 2,000 rows. Nothing is generated here: every
# block is a delayed call, computed when a task needs it and released
# afterwards, as for data read from files that together exceed memory. The
# problem itself (one prototype direction per class, Zipf class frequencies)
# is fixed by one seed; each block draws its own rows from a per-block seed.
# (:func:`sklearn_lsh.datasets.make_extreme_classification` cannot be used
# per block: its ``random_state`` also draws the classes' prototypes, so two
# seeds give two different problems.)
import time
import warnings

import dask
import dask.array as da
import joblib
import numpy as np
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_lsh import LSHSoftmaxClassifier
from sklearn_lsh.metrics import make_topk_scorer

N_CLASSES, N_FEATURES = 200, 32
N_BLOCKS, BLOCK_ROWS = 16, 2000

_problem = np.random.default_rng(0)
PROTOTYPES = _problem.standard_normal((N_CLASSES, N_FEATURES)).astype(np.float32)
PROTOTYPES /= np.linalg.norm(PROTOTYPES, axis=1, keepdims=True)
FREQUENCIES = 1.0 / np.arange(1, N_CLASSES + 1)
FREQUENCIES = _problem.permutation(FREQUENCIES / FREQUENCIES.sum())


def make_block(block_id, n_rows=BLOCK_ROWS, noise=1.6):
    """Rows ``prototype[y] + noise * N(0, I / d)`` of one block, from its own seed."""
    rng = np.random.default_rng([1, block_id])
    y = rng.choice(N_CLASSES, size=n_rows, p=FREQUENCIES)
    X = PROTOTYPES[y] + noise * rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32) / np.sqrt(N_FEATURES)
    return X.astype(np.float32), y


def lazy_blocks(block_ids):
    """Dask arrays X, y with one chunk of rows per block id."""
    blocks = [dask.delayed(make_block, nout=2)(i) for i in block_ids]
    X = da.concatenate(
        [da.from_delayed(Xb, shape=(BLOCK_ROWS, N_FEATURES), dtype=np.float32) for Xb, _ in blocks]
    )
    y = da.concatenate([da.from_delayed(yb, shape=(BLOCK_ROWS,), dtype=np.int64) for _, yb in blocks])
    return X, y


X_train, y_train = lazy_blocks(range(N_BLOCKS))
X_test, y_test = make_block(N_BLOCKS)  # a held-out block, in memory
print(f"X_train: {X_train.shape} in {X_train.numblocks[0]} blocks of {BLOCK_ROWS} rows, "
      f"{X_train.nbytes / 2**20:.1f} MiB if materialised")

# %%
# Streaming training with ``Incremental``
# ---------------------------------------
# Each call of ``Incremental.partial_fit`` is one pass over the blocks:
# ``partial_fit`` on block 1, then on block 2 with the model that block 1
# left, and so on (in a shuffled block order with ``shuffle_blocks=True``).
# This is sequential: the blocks are streamed through one model, not trained
# in parallel. ``classes=`` is required, because no single block need hold
# every class.
N_PASSES = 3
params = dict(n_tables=8, batch_size=64, random_state=0)

start = time.perf_counter()
streamed = Incremental(LSHSoftmaxClassifier(**params), shuffle_blocks=True, random_state=0)
for _ in range(N_PASSES):
    streamed.partial_fit(X_train, y_train, classes=np.arange(N_CLASSES))
streamed_time = time.perf_counter() - start
streamed_accuracy = streamed.score(X_test, y_test)

# %%
# The in-memory baseline: the same rows, materialised, and ``fit`` with the
# same number of passes (``tol=None``: exactly ``max_iter`` epochs).
start = time.perf_counter()
X_memory, y_memory = dask.compute(X_train, y_train)
in_memory = LSHSoftmaxClassifier(**params, max_iter=N_PASSES, tol=None).fit(X_memory, y_memory)
memory_time = time.perf_counter() - start
memory_accuracy = in_memory.score(X_test, y_test)

majority = np.bincount(y_test).max() / y_test.shape[0]
print(f"test accuracy, Incremental over {N_BLOCKS} blocks: {streamed_accuracy:.3f} ({streamed_time:.1f} s)")
print(f"test accuracy, in-memory fit:                 {memory_accuracy:.3f} ({memory_time:.1f} s)")
print(f"(majority class: {majority:.3f})")

# %%
# The fitted ``Incremental`` also predicts lazily on Dask arrays, block by
# block (here the first two training blocks).
predictions = streamed.predict(X_train[: 2 * BLOCK_ROWS])
print(predictions, "->", predictions.compute()[:8])

# %%
# A grid search on a (local) cluster
# ----------------------------------
# ``GridSearchCV(n_jobs=-1)`` inside ``joblib.parallel_backend("dask")``
# sends every (candidate, fold) fit to the cluster's workers: that part is
# parallel. Each worker needs the whole (in-memory) training subset, so this
# is for data of a size one worker can hold. The scorer ranks the classes
# with ``predict_topk``. ``processes=False`` keeps the two workers in this
# process (fast to start); with worker processes, each compiles or loads the
# numba kernels once.
X_search, y_search = X_memory[:8000], y_memory[:8000]
search = GridSearchCV(
    LSHSoftmaxClassifier(n_tables=8, batch_size=64, max_iter=3, tol=None, random_state=0),
    {"eta0": [0.1, 0.3, 1.0], "n_bits": [3, 5]},
    scoring=make_topk_scorer("precision", k=5),
    cv=3,
    n_jobs=-1,
)
start = time.perf_counter()
with (
    LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
    Client(cluster) as client,  # on a real cluster: Client("tcp://scheduler-address:8786")
    joblib.parallel_backend("dask"),
    warnings.catch_warnings(),
):
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # none expected with tol=None
    search.fit(X_search, y_search)
search_time = time.perf_counter() - start

print(f"{len(search.cv_results_['params'])} candidates x 3 folds on 2 workers: {search_time:.1f} s")
for params_, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"  {params_}: precision@5 = {score:.4f}")
print("best:", search.best_params_, f"precision@5 = {search.best_score_:.4f}")
print(f"best model, test accuracy: {search.best_estimator_.score(X_test, y_test):.3f}")
