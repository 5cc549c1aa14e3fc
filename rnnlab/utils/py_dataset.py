"""``PyDataset`` (Keras 2's ``Sequence``): a data set that makes its batches on demand, one index at a time."""
from __future__ import annotations

import itertools


class PyDataset:
    """Base class for a data set whose batches are made when asked for, as ``keras.utils.PyDataset``.

    A subclass defines ``__len__`` (the number of batches) and ``__getitem__(index)``, which returns one whole
    batch: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.  ``x`` may be an array, a list of arrays (one
    per model input) or a dict by input name.  ``on_epoch_begin()`` and ``on_epoch_end()`` are called around
    every epoch of ``fit``.  As in Keras 3, ``on_epoch_end()`` is also called once before the first epoch of
    ``fit`` and ``evaluate``.

    ``fit``, ``evaluate`` and ``predict`` read the batches one at a time and never hold the whole data set.
    ``fit(shuffle=True)``, its default, visits the batches in a new random order each epoch.  A data set with no
    end returns ``None`` from ``num_batches`` and needs ``steps_per_epoch``.

    ``workers`` > 1 makes batches on that many threads, up to ``max_queue_size`` batches ahead of the one being
    used, in order (so results are the same as with one worker).  ``use_multiprocessing=True`` (worker processes)
    is refused: rnnlab does not pickle data sets into other processes.
    """

    workers, use_multiprocessing, max_queue_size = 1, False, 10  # for subclasses that skip super().__init__()

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        for name, value, least in (("workers", workers, 0), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"Argument `{name}` of PyDataset must be an int >= {least}; received {name}={value!r}.")
        if not isinstance(use_multiprocessing, bool):
            raise TypeError(f"Argument `use_multiprocessing` must be a bool; received {use_multiprocessing!r}.")
        if use_multiprocessing:
            raise ValueError("Argument `use_multiprocessing=True` is not supported: rnnlab makes batches on threads "
                             "(`workers=N`), not in worker processes. Pass use_multiprocessing=False.")
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index):
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index), returning one batch.")

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or ``None`` for a data set without an end."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (its number of batches), or a "
                                  "`num_batches` property that returns None for a data set without an end.")

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset  # Keras 3 keeps Keras 2's name as an alias
