"""Placement of classes in the grid of the two-component softmax.

Pure NumPy/SciPy helpers of :class:`sklearn_lsh.TwoComponentSoftmaxClassifier`
(LightRNN, Li et al. 2016). A placement maps class ``k`` to the cell
``cells[k] = row * n_cols + col`` of an ``n_rows x n_cols`` grid, one class
per cell.

The cost of putting class ``k`` in cell ``(r, c)`` is taken, as in LightRNN,
to be separable: ``row_cost[k, r] + col_cost[k, c]``. The estimator computes
both terms in one pass over the training data (``row_cost[k, r]`` is the
summed ``-log p(row r | x)`` of the examples of class ``k``; ``col_cost[k,
c]`` the summed ``-log p(col c | x, row)`` with the column normaliser of the
example's current row). Choosing the cells is then a linear assignment
problem over ``m`` classes and the available cells:

* :func:`assign_exact` solves it exactly with
  :func:`scipy.optimize.linear_sum_assignment` on the ``m x n_cells`` cost
  matrix (memory O(m x n_cells) = O(C^2); limited to
  ``EXACT_MAX_CLASSES`` classes).
* :func:`assign_greedy` gives each class, in the given order (the estimator
  uses decreasing training weight), its cheapest free cell. It never forms
  the ``m x n_cells`` matrix: a class's rows are visited in increasing order
  of the lower bound ``row_cost[k, r] + min_c col_cost[k, c]`` and the
  search stops once that bound reaches the best cell found, so a class costs
  O(R log R + Q x rows visited) time (usually one or two rows) and the whole
  pass O(C x (R + Q)) memory. :func:`polish` then improves any assignment by
  exact assignments within each row and each column.

:func:`placement_loss` computes the loss and the cost matrices from score
chunks; :func:`reassign` is the estimator's re-placement step.
:func:`grid_log_proba` and :func:`label_log_proba_and_gradient` are the
model's log-probabilities and loss gradient given the row scores ``S``
(n x R) and column scores ``T`` (n x Q) of a batch.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._prediction import row_logsumexp

__all__ = [
    "EXACT_MAX_CLASSES", "assign_exact", "assign_greedy", "assignment_cost", "grid_log_proba", "grid_shape",
    "label_log_proba_and_gradient", "placement_loss", "polish", "reassign",
]  # fmt: skip

#: Largest number of classes for ``reassign="exact"``: the cost matrix is
#: C x n_cells float64 (3000 classes: 72 MB; the Hungarian solver's time
#: grows as C^3).
EXACT_MAX_CLASSES = 3000


def grid_shape(n_classes: int) -> tuple[int, int]:
    """``(R, Q)`` with ``R = ceil(sqrt(C))`` rows and ``Q = ceil(C / R)``
    columns: the smallest such grid with ``R * Q >= C``. Fewer than ``Q``
    cells are unused (``(R - 1) Q < C``), so every row of any placement
    holds a class, and ``2 sqrt(C) <= R + Q < 2 sqrt(C) + 2``.

    >>> grid_shape(400), grid_shape(401), grid_shape(2)
    ((20, 20), (21, 20), (2, 1))
    """
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}.")
    n_rows = math.isqrt(n_classes - 1) + 1 if n_classes > 1 else 1
    n_cols = -(-n_classes // n_rows)
    return n_rows, n_cols


def assignment_cost(row_cost, col_cost, cells, n_cols) -> float:
    """Total separable cost ``sum_k row_cost[k, cells[k] // n_cols] +
    col_cost[k, cells[k] % n_cols]``."""
    index = np.arange(cells.shape[0])
    return float(row_cost[index, cells // n_cols].sum() + col_cost[index, cells % n_cols].sum())


def assign_exact(row_cost, col_cost, free_cells):
    """Distinct cells from ``free_cells`` for the ``m`` classes of minimal
    total separable cost (Hungarian algorithm).

    Parameters
    ----------
    row_cost : ndarray of shape (m, n_rows)
    col_cost : ndarray of shape (m, n_cols)
    free_cells : ndarray of shape (n_free,), n_free >= m
        The cells the classes may take.

    Returns
    -------
    cells : ndarray of shape (m,), int64
    """
    n_cols = col_cost.shape[1]
    free_cells = np.asarray(free_cells, dtype=np.int64)
    _check_sizes(row_cost, col_cost, free_cells)
    if row_cost.shape[0] > EXACT_MAX_CLASSES:
        raise ValueError(
            f"The exact assignment of {row_cost.shape[0]} classes would form a {row_cost.shape[0]} x "
            f"{free_cells.shape[0]} cost matrix; it is limited to {EXACT_MAX_CLASSES} classes. Use the greedy "
            "assignment."
        )
    cost = row_cost[:, free_cells // n_cols] + col_cost[:, free_cells % n_cols]
    rows, cols = linear_sum_assignment(cost)
    cells = np.empty(row_cost.shape[0], dtype=np.int64)
    cells[rows] = free_cells[cols]
    return cells


def assign_greedy(row_cost, col_cost, free_cells, order=None):
    """Each class, in ``order``, takes its cheapest cell among those still
    free (ties: the lower row, then the lower column).

    Parameters
    ----------
    row_cost : ndarray of shape (m, n_rows)
    col_cost : ndarray of shape (m, n_cols)
    free_cells : ndarray of shape (n_free,), n_free >= m
    order : ndarray of shape (m,) or None
        A permutation of the classes; None: ``0, 1, ..., m - 1``.

    Returns
    -------
    cells : ndarray of shape (m,), int64
    """
    n_classes, n_rows = row_cost.shape
    n_cols = col_cost.shape[1]
    free_cells = np.asarray(free_cells, dtype=np.int64)
    _check_sizes(row_cost, col_cost, free_cells)
    order = np.arange(n_classes) if order is None else np.asarray(order, dtype=np.int64)
    free = np.zeros((n_rows, n_cols), dtype=bool)
    free.flat[free_cells] = True
    n_free = free.sum(axis=1)
    col_min = col_cost.min(axis=1)
    cells = np.full(n_classes, -1, dtype=np.int64)
    masked = np.empty((n_rows, n_cols))
    for k in order:
        row_k, col_k = row_cost[k], col_cost[k]
        # A lower bound of the best cell of each row (its best column, free
        # or not); full rows are out.
        bound = np.where(n_free > 0, row_k + col_min[k], np.inf)
        rows = np.argsort(bound, kind="stable")
        best, best_cell, start, width = np.inf, -1, 0, 1
        while start < n_rows and bound[rows[start]] < best:
            block = np.sort(rows[start : start + width])  # ascending rows: ties go to the lower row
            values = masked[: block.shape[0]]
            np.copyto(values, np.inf)
            np.copyto(values, col_k, where=free[block])
            cols = values.argmin(axis=1)
            costs = row_k[block] + values[np.arange(block.shape[0]), cols]
            j = int(costs.argmin())
            if costs[j] < best or (costs[j] == best and block[j] * n_cols + cols[j] < best_cell):
                best, best_cell = costs[j], int(block[j] * n_cols + cols[j])
            start, width = start + width, 2 * width
        if best_cell < 0:  # only infinite costs left: the first free cell
            best_cell = int(np.flatnonzero(free.ravel())[0])
        cells[k] = best_cell
        free.flat[best_cell] = False
        n_free[best_cell // n_cols] -= 1
    return cells


def polish(row_cost, col_cost, cells, free_cells, n_cols, max_sweeps=3):
    """Lower the cost of an assignment by block coordinate descent: the
    classes of each row take the best arrangement of that row's available
    cells (an exact assignment of their column costs, at most Q x Q), then
    the classes of each column the best arrangement of that column's cells
    (row costs, at most R x R); repeated until a sweep changes nothing or
    ``max_sweeps``. Each sub-problem keeps the current arrangement feasible,
    so the cost never rises. Time O(R Q^3 + Q R^3) per sweep (the Hungarian
    algorithm on every row and column), memory O(R^2 + Q^2).

    Parameters
    ----------
    row_cost, col_cost : ndarray of shape (m, n_rows), (m, n_cols)
    cells : ndarray of shape (m,)
        A valid assignment into ``free_cells``.
    free_cells : ndarray of shape (n_free,)
    n_cols : int
    max_sweeps : int, default=3

    Returns
    -------
    cells : ndarray of shape (m,), int64
        A new array.
    """
    cells = np.array(cells, dtype=np.int64)
    free_cells = np.asarray(free_cells, dtype=np.int64)
    for _ in range(max_sweeps):
        changed = False
        for by_row in (True, False):
            key = cells // n_cols if by_row else cells % n_cols
            free_key = free_cells // n_cols if by_row else free_cells % n_cols
            order = np.argsort(key, kind="stable")
            bounds = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1], True])
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                members = order[lo:hi]
                if members.shape[0] == 1 and (free_key == key[members[0]]).sum() == 1:
                    continue
                available = np.sort(free_cells[free_key == key[members[0]]])
                other = available % n_cols if by_row else available // n_cols
                cost = (col_cost if by_row else row_cost)[members][:, other]
                rows, cols = linear_sum_assignment(cost)
                new = available[cols]
                # Keep the current cells unless the optimum is strictly cheaper
                # (ties would make the sweeps cycle).
                current = cost[rows, np.searchsorted(available, cells[members[rows]])].sum()
                if cost[rows, cols].sum() < current and not np.array_equal(new, cells[members[rows]]):
                    cells[members[rows]] = new
                    changed = True
        if not changed:
            break
    return cells


def placement_loss(score_chunks, y_index, weights, placement, class_intercept, shape, costs):
    """The exact weighted loss sum ``-sum_i w_i log p(y_i | x_i)`` of a
    placement and, with ``costs``, the separable cost matrices.

    Parameters
    ----------
    score_chunks : iterable of (slice, ndarray, ndarray)
        ``(rows, S, T)``: the row scores ``S`` (n_rows_chunk x R, intercepts
        included) and column scores ``T`` (n_rows_chunk x Q) of the rows.
    y_index, weights : ndarray of shape (n_samples,)
    placement : ndarray of shape (n_classes,)
    class_intercept : ndarray of shape (n_classes,)
    shape : (R, Q)
    costs : bool

    Returns
    -------
    loss : float
    A, B : ndarray of shape (n_classes, R) and (n_classes, Q), or None
        ``A[k, r]``: the summed ``-log p(row r | x)`` over the examples of
        class ``k``; ``B[k, c]``: the summed ``-log p(col c | x, row)`` with
        the column normaliser of the example's current row. At the current
        placement their separable total is the loss.
    """
    n_rows, n_cols = shape
    n_classes = placement.shape[0]
    row_of, col_of = placement // n_cols, placement % n_cols
    bias_grid = np.full(n_rows * n_cols, -np.inf)
    bias_grid[placement] = class_intercept
    bias_grid = bias_grid.reshape(n_rows, n_cols)
    A = np.zeros((n_classes, n_rows)) if costs else None
    B = np.zeros((n_classes, n_cols)) if costs else None
    total = 0.0
    for rows, S, T in score_chunks:
        yb, wb = y_index[rows], weights[rows]
        ry, cy = row_of[yb], col_of[yb]
        L = T + bias_grid[ry]
        log_z_row, log_z_col = row_logsumexp(S), row_logsumexp(L)
        index = np.arange(yb.shape[0])
        total -= float(np.dot(wb, S[index, ry] - log_z_row + L[index, cy] - log_z_col))
        if costs:
            _add_rows(A, yb, wb[:, None] * (log_z_row[:, None] - S))
            b_y = np.asarray(class_intercept, dtype=np.float64)[yb]
            _add_rows(B, yb, wb[:, None] * (log_z_col[:, None] - T - b_y[:, None]))
    return total, A, B


def reassign(row_cost, col_cost, placement, class_weight, n_cells, method):
    """A new placement from the separable costs: the classes of positive
    ``class_weight`` (the others keep their cells) take their own cells and
    the empty ones, by "exact" assignment or by "greedy" (heaviest class
    first) followed by :func:`polish`.

    Returns
    -------
    placement : ndarray of shape (n_classes,)
        A new array.
    predicted : float
        Its separable cost.
    """
    n_cols = col_cost.shape[1]
    movable = np.flatnonzero(class_weight > 0)
    free_cells = np.concatenate([placement[movable], np.setdiff1d(np.arange(n_cells), placement)])
    A, B = row_cost[movable], col_cost[movable]
    if method == "exact":
        cells = assign_exact(A, B, free_cells)
    else:
        cells = assign_greedy(A, B, free_cells, np.argsort(-class_weight[movable], kind="stable"))
        cells = polish(A, B, cells, free_cells, n_cols)
    placement = placement.copy()
    placement[movable] = cells
    return placement, assignment_cost(row_cost, col_cost, placement, n_cols)


def grid_log_proba(S, T, bias_grid, placement, class_intercept, dtype):
    """``log p(k | x)`` of every class, shape (n, C), in ``dtype``.

    ``bias_grid[r, c]`` is the intercept of the class in cell (r, c), -inf
    for an empty cell. The column normalisers of all rows are one product,
    ``Z[i, r] = sum_c exp(t_ic - m_i) exp(b_rc - m_r)``; rows where that
    underflows (scores more than ~600 apart) are summed directly.
    """
    n_rows, n_cols = bias_grid.shape
    bias_peak = bias_grid.max(axis=1)
    # Everything relative to each row's largest row score and column score,
    # so that log p is a sum of small terms: with scores of 1e9 the absolute
    # form S - log Z_row + T - log Z_col lost the digits of log p (p > 1).
    peak = T.max(axis=1)
    T = T - peak[:, None]
    with np.errstate(divide="ignore"):
        log_z_col = np.log(np.exp(T) @ np.exp(bias_grid - bias_peak[:, None]).T)
    lost = ~np.isfinite(log_z_col) | (log_z_col < -600)
    if lost.any():
        bad = np.flatnonzero(lost.any(axis=1))
        values = (T[bad][:, None, :] + (bias_grid - bias_peak[:, None])[None]).reshape(-1, n_cols)
        log_z_col[bad] = row_logsumexp(values).reshape(bad.shape[0], n_rows)
    S = S - S.max(axis=1, keepdims=True)
    base = S - row_logsumexp(S)[:, None] - log_z_col
    cells = (base[:, :, None] + T[:, None, :]).reshape(base.shape[0], n_rows * n_cols)
    out = np.take(cells, placement, axis=1)  # C-contiguous, unlike cells[:, placement]
    # each class's intercept relative to the largest of its row, which
    # log_z_col left out: large intercepts cancel before they are added
    out += np.asarray(class_intercept, dtype=np.float64) - bias_peak[placement // n_cols]
    # Summed in float64 and rounded once: a float32 sum of the three terms
    # put log p of the best class up to 2e-6 above 0.
    # a log-probability below the dtype's range (p = 0 there) is floored at
    # its most negative finite value instead of rounding to -inf
    np.maximum(out, np.finfo(dtype).min, out=out)
    return out.astype(dtype, copy=False)


def label_log_proba_and_gradient(S, T, bias_grid, row_y, col_y):
    """``log p(y_i | x_i)`` and the gradients of ``-log p(y_i | x_i)`` with
    respect to ``S`` and ``T`` (softmax minus one-hot, 0 at empty cells)."""
    L = T + bias_grid[row_y]
    p_row, log_p_row = _softmax(S, row_y)
    p_col, log_p_col = _softmax(L, col_y)
    index = np.arange(S.shape[0])
    p_row[index, row_y] -= 1.0
    p_col[index, col_y] -= 1.0
    return log_p_row + log_p_col, p_row, p_col


def _softmax(scores, label):
    """Softmax of each row (entries at -inf get 0) and the log-probability
    of ``label[i]`` in row ``i``."""
    peak = scores.max(axis=1, keepdims=True)
    proba = np.exp(scores - peak)
    total = proba.sum(axis=1)
    proba /= total[:, None]
    return proba, scores[np.arange(scores.shape[0]), label] - peak[:, 0] - np.log(total)


def _add_rows(out, index, values):
    """``out[index[i]] += values[i]``, summing repeated indices."""
    order = np.argsort(index, kind="stable")
    index = index[order]
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    out[index[starts]] += np.add.reduceat(values[order], starts, axis=0)


def _check_sizes(row_cost, col_cost, free_cells):
    if row_cost.shape[0] != col_cost.shape[0]:
        raise ValueError(f"row_cost and col_cost differ in classes: {row_cost.shape[0]} and {col_cost.shape[0]}.")
    if free_cells.shape[0] < row_cost.shape[0]:
        raise ValueError(f"{row_cost.shape[0]} classes cannot take {free_cells.shape[0]} free cells.")
    if np.unique(free_cells).shape[0] != free_cells.shape[0]:
        raise ValueError("free_cells has repeated cells.")
