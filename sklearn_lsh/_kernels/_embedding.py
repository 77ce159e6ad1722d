"""Input embedding of the low-rank classifier (``n_components`` set).

The model scores class ``j`` as ``W[j] . h + b[j]`` with the hidden vector
``h = E^T x = sum_f x_f E[f]``: ``E`` (n_features, n_components) is learned
with the classes. A minibatch step is

1. :func:`hidden_rows`: bring the embedding rows of the batch's features up
   to date (lazy L2, as the class rows) and compute ``H = X_b E``;
2. a softmax step on ``(H, y)`` over the class rows (sampled or exact) that
   also returns ``dL/dH``;
3. :func:`embedding_step`: ``dL/dE[f] = sum_i x_if dL/dH[i]`` for the
   features present in the batch, applied with the same row-wise AdaGrad and
   lazy L2 as the class rows.

Steps 1 and 3 touch only the rows of ``E`` of the batch's non-zero features,
so a step costs O(nnz x n_components) on the input side. Rows are given as
CSR arrays of the non-zero entries (dense input through ``sklearn_lsh._arrays.csr_arrays``).
"""

import numba
import numpy as np

from ._prefetch import PREFETCH_DISTANCE, prefetch_row
from ._sgd import _catch_up, _update_row


@numba.njit(cache=True)
def hidden_rows(x_indptr, x_indices, x_data, E, accumulator, last_step, step, eta0, alpha, adagrad):
    """``H[i] = sum_p x_data[p] * E[x_indices[p]]`` over row ``i``'s entries,
    after applying the rows' pending L2 decay up to ``step``.

    Accumulates in float64 and returns ``H`` in the dtype of ``E``.
    """
    n_rows = x_indptr.shape[0] - 1
    n_nonzero = x_indices.shape[0]
    n_components = E.shape[1]
    H = np.empty((n_rows, n_components), dtype=E.dtype)
    acc = np.zeros(n_components, dtype=np.float64)
    for i in range(n_rows):
        for p in range(x_indptr[i], x_indptr[i + 1]):
            if p + PREFETCH_DISTANCE < n_nonzero:
                prefetch_row(E, x_indices[p + PREFETCH_DISTANCE])
            f = x_indices[p]
            _catch_up(E, accumulator, last_step, f, step, eta0, alpha, adagrad)
            value = np.float64(x_data[p])
            for c in range(n_components):
                acc[c] += value * E[f, c]
        for c in range(n_components):
            H[i, c] = acc[c]
            acc[c] = 0.0
    return H


@numba.njit(cache=True)
def embedding_step(x_indptr, x_indices, x_data, grad_hidden, E, accumulator, last_step, step, eta0, alpha,
                   adagrad, slot):  # fmt: skip
    """Update the embedding rows of the batch's features.

    ``grad_hidden`` (n_rows, n_components) is ``dL/dH`` of the batch loss
    (sample weights and the batch average already applied). For each feature
    ``f`` present: ``g = sum_i x_if grad_hidden[i] + alpha E[f]``, then the
    row-wise AdaGrad update ``G_f += mean(g^2)``, ``E[f] -= eta0 / sqrt(G_f)
    g`` (or the constant step). The rows must already be at ``step``
    (:func:`hidden_rows` did that). ``slot`` is an int64 workspace of length
    n_features filled with -1 (left so).
    """
    n_rows = x_indptr.shape[0] - 1
    n_nonzero = x_indices.shape[0]
    n_components = E.shape[1]
    # Distinct features of the batch, and their entries grouped by feature
    # (a counting sort that keeps the row order).
    features = np.empty(n_nonzero, dtype=np.int64)
    count = np.zeros(n_nonzero + 1, dtype=np.int64)
    n_touched = 0
    for p in range(n_nonzero):
        f = x_indices[p]
        if slot[f] < 0:
            slot[f] = n_touched
            features[n_touched] = f
            n_touched += 1
        count[slot[f] + 1] += 1
    for r in range(n_touched):
        count[r + 1] += count[r]
    fill = count[:n_touched].copy()
    entry_of = np.empty(n_nonzero, dtype=np.int64)
    row_of = np.empty(n_nonzero, dtype=np.int64)
    for i in range(n_rows):
        for p in range(x_indptr[i], x_indptr[i + 1]):
            r = slot[x_indices[p]]
            entry_of[fill[r]] = p
            row_of[fill[r]] = i
            fill[r] += 1
    grad = np.zeros(n_components, dtype=np.float64)
    for r in range(n_touched):
        if r + PREFETCH_DISTANCE < n_touched:
            prefetch_row(E, features[r + PREFETCH_DISTANCE])
        f = features[r]
        for q in range(count[r], count[r + 1]):
            value = np.float64(x_data[entry_of[q]])
            i = row_of[q]
            for c in range(n_components):
                grad[c] += value * grad_hidden[i, c]
        _update_row(E, f, grad, 0.0, n_components, accumulator, eta0, alpha, adagrad)
        last_step[f] = step + 1
        slot[f] = -1
