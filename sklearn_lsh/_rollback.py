"""Rollback of a failed training call without a copy of the whole model.

A training call (``fit``, ``partial_fit``) that fails, or is interrupted,
must leave the model exactly as it was. :class:`RollbackState` holds what
is needed for that, and only that:

- references to every value that training replaces rather than writes into
  (an array assigned anew, numbers, strings), and the vectors, seed and
  counters of an :class:`~sklearn_lsh.LSHIndex` (a rebuild replaces its
  arrays): a restore builds its tables again, identical, so that a call
  does not hold the old tables next to the new ones;
- copies of the small arrays that training writes in place (intercepts,
  optimiser state, label counts: O(n_classes) or O(n_features) each) and of
  the lists it appends to;
- for the large row arrays that training writes in place (the class rows,
  the low-rank embedding), a :class:`RowJournal`: the original value of a
  row is saved just before training first writes it, so a call that
  touches few rows copies few rows;
- nothing for caches that are rebuilt on demand (the prediction tables) and
  workspaces that training leaves as it found them.

Restoring writes the journalled rows back in place and puts the saved
references back, so every array keeps its identity (an index built over
the weights by reference stays consistent with them).
"""

from __future__ import annotations

import numpy as np

from ._index import LSHIndex

__all__ = ["RollbackMixin", "RollbackState", "RowJournal", "TRANSIENT", "copy_state"]

# The arrays of a built LSHIndex that its build computes (besides its vectors).
_TABLE_ARRAYS = ("projections_", "class_scale_", "class_codes_", "members_", "table_ptr_", "bucket_keys_",
                 "bucket_ptr_", "_projection_key")  # fmt: skip

# Attributes that are neither parameters nor fitted state: the locks and the
# rollback journal of the training call under way.
TRANSIENT = frozenset({"_model_lock", "_cache_build_lock", "_journal"})


def copy_state(value):
    """A copy of a fitted attribute that later training cannot change."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return list(value)
    if isinstance(value, LSHIndex):  # a rebuild replaces its arrays, never writes into them
        clone = LSHIndex.__new__(LSHIndex)
        clone.__dict__.update(value.__dict__)
        return clone
    return value


class RowJournal:
    """Original rows of 2-D arrays, saved before a training call writes them.

    ``track(name, array)`` starts the journal of an array; ``save(name,
    rows)`` saves the rows (row ids, or a tuple of arrays of them; repeats
    and negative ids allowed) not
    saved yet, or every remaining row with ``rows=None``; ``restore()``
    writes the saved rows back. A row is copied into the journal before it
    is marked saved and before the caller writes it, so an interrupt at any
    point leaves a journal that restores the original values.
    """

    def __init__(self):
        self._entries = {}  # name -> (array, saved mask, [(rows, values)])

    def track(self, name, array):
        self._entries[name] = (array, np.zeros(array.shape[0], dtype=bool), [])

    def save(self, name, rows=None):
        entry = self._entries.get(name)
        if entry is None:
            return
        array, saved, log = entry
        if rows is None:
            if not saved.any():  # the whole array: one plain copy
                log.append((slice(None), array.copy()))
                saved[:] = True
                return
            new = np.flatnonzero(~saved)
        else:
            if isinstance(rows, tuple):
                rows = np.concatenate([np.ravel(part) for part in rows])
            rows = np.asarray(rows).ravel()
            rows = rows[rows >= 0]
            new = np.unique(rows[~saved[rows]])
        if new.shape[0]:
            log.append((new, array[new]))
            saved[new] = True

    def restore(self):
        # latest first, so a row saved twice (an interrupt between the copy
        # and the mark) ends with its earliest, original value
        for array, _, log in self._entries.values():
            for rows, values in reversed(log):
                array[rows] = values

    @property
    def nbytes(self) -> int:
        """Bytes of saved rows (and their ids)."""
        total = 0
        for _, saved, log in self._entries.values():
            total += saved.nbytes
            for rows, values in log:
                total += values.nbytes + (rows.nbytes if isinstance(rows, np.ndarray) else 0)
        return total

    def saved_rows(self, name) -> int:
        """Rows of ``name`` saved so far."""
        entry = self._entries.get(name)
        return 0 if entry is None else int(entry[1].sum())


class RollbackState(dict):
    """The fitted attributes to put back after a failed call (a dict of
    name to value) and the journal of the row arrays trained in place."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.journal = RowJournal()
        self.rebuild = []  # names of indexes kept without their tables

    def _index_without_tables(self, name, index):
        """A clone of ``index`` holding its vectors, seed and counters but
        not its tables, which a restore builds again (the same tables: build
        ``b`` draws its projections from its seed and ``b``), so that a call
        that rebuilds the index does not hold the old tables next to the new
        ones."""
        clone = copy_state(index)
        if "members_" in vars(clone):
            for key in _TABLE_ARRAYS:
                vars(clone).pop(key, None)
            self.rebuild.append(name)
        return clone

    def protect(self, current, journalled=(), workspaces=()):
        """Make every saved value that is still the object in ``current``
        (the estimator's ``__dict__``) safe from in-place training: row
        arrays named in ``journalled`` are journalled, ``workspaces`` kept
        by reference, other arrays and lists copied."""
        for name, value in self.items():
            if current.get(name) is not value or name in workspaces:
                continue
            if name in journalled and isinstance(value, np.ndarray) and value.ndim == 2:
                self.journal.track(name, value)
            elif isinstance(value, LSHIndex):
                self[name] = self._index_without_tables(name, value)
            else:
                self[name] = copy_state(value)
        return self

    def restore_into(self, current, names):
        """Write the journalled rows back, then replace the attributes
        ``names`` of ``current`` (a ``__dict__``) by the saved ones."""
        self.journal.restore()
        for name in self.rebuild:
            index = self[name]
            builds, work = index.n_builds_, index.build_inner_products_
            index.n_builds_ -= 1
            index._build()
            index.n_builds_, index.build_inner_products_ = builds, work
        self.rebuild = []
        for name in names:
            del current[name]
        current.update(self)


class RollbackMixin:
    """The rollback of :class:`~sklearn_lsh._base.BaseSoftmaxSGD`'s training
    calls: which attributes are fitted state, the state to restore, the
    journal hook and the restore."""

    #: row arrays (2-D) that training writes in place and the subclass
    #: journals (``_journal_rows``) before every write; other arrays are
    #: copied for the rollback of a failed call
    _journalled_arrays: tuple = ()
    #: arrays that training leaves as it found them (kept by reference)
    _workspace_arrays: tuple = ()
    #: caches rebuilt on demand from the model (dropped by a training call,
    #: not pickled)
    _cache_attributes: tuple = ()

    def _fitted_state_names(self):
        params = self._get_param_names()
        return [name for name in self.__dict__ if name not in params and name not in TRANSIENT]

    def _snapshot(self, protect=True) -> RollbackState:
        """The fitted attributes (everything but the parameters) to restore
        after a failed call: references, with caches as None; with
        ``protect``, made safe from in-place training (see
        :meth:`_protect`)."""
        state = RollbackState({name: None if name in self._cache_attributes else self.__dict__[name]
                               for name in self._fitted_state_names()})  # fmt: skip
        return self._protect(state) if protect else state

    def _protect(self, state):
        """Copy the small arrays and lists of ``state`` that training writes
        in place, journal its ``_journalled_arrays``."""
        return state.protect(self.__dict__, self._journalled_arrays, self._workspace_arrays)

    def _journal_rows(self, name, rows=None):
        """Before training writes rows of the array ``name`` in place: save
        their values for the rollback (``rows=None``: every row)."""
        journal = self.__dict__.get("_journal")
        if journal is not None:
            journal.save(name, rows)

    def _restore(self, state):
        if isinstance(state, RollbackState):
            state.restore_into(self.__dict__, self._fitted_state_names())
            return
        for name in self._fitted_state_names():
            del self.__dict__[name]
        self.__dict__.update(state)
