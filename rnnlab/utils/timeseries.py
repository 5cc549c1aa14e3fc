"""Sliding windows over a time series: ``timeseries_dataset_from_array`` (Keras 3) and ``TimeseriesGenerator``
(Keras 2).  Both cut their batches on demand, so a long series is never copied window by window.
"""
from __future__ import annotations

import numpy as np

from rnnlab.random import make_rng
from rnnlab.utils.py_dataset import PyDataset

# tf.data.Dataset methods a Keras program may call on the dataset; rnnlab's dataset names them in its refusal
_TF_DATA_METHODS = frozenset({
    "apply", "batch", "bucket_by_sequence_length", "cache", "cardinality", "concatenate", "element_spec",
    "enumerate", "filter", "flat_map", "get_single_element", "group_by_window", "ignore_errors", "interleave",
    "map", "options", "padded_batch", "prefetch", "ragged_batch", "rebatch", "reduce", "repeat", "rejection_resample",
    "sample_from_datasets", "save", "scan", "shard", "shuffle", "skip", "snapshot", "sparse_batch", "unbatch",
    "unique", "window", "with_options", "zip",
})


def _as_series(values, argument):
    """``values`` as an array whose axis 0 is time.  A list gets the dtype TensorFlow gives it (float32 for
    floats, int32 for integers that fit), since that is what Keras's dataset yields for one."""
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "__array__"):
        return np.asarray(values)
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Argument `{argument}` must be an array whose axis 0 is time; received "
                        f"{type(values).__name__} ({exc}).") from None
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.int64 and (arr.size == 0 or (arr.min() >= -2**31 and arr.max() < 2**31)):
        return arr.astype(np.int32)
    return arr


def _check_int(value, argument, minimum, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"Argument `{argument}` must be {expected}{' or None' if allow_none else ''}; received "
                         f"{argument}={value!r}.")


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None,
                                  format="tf"):
    """Batches of sliding windows over ``data``, as ``keras.utils.timeseries_dataset_from_array``.

    Window ``k`` starts at row ``s = start_index + k * sequence_stride`` and holds rows
    ``s, s + sampling_rate, ..., s + (sequence_length - 1) * sampling_rate``.  Only rows before ``end_index`` are
    used.  Its target is ``targets[s]``.  ``targets=None`` gives batches of windows alone.

    The result is a :class:`TimeseriesDataset`, not a ``tf.data.Dataset``.  It is an iterable of NumPy batches
    ``(inputs, targets)``, with ``len()`` its number of batches, and ``fit``, ``evaluate`` and ``predict`` take it.
    Its windows, batches and dtypes are Keras's.

    With ``shuffle=True`` each pass visits the same windows in a new order.  The orders come from a NumPy
    generator seeded by ``seed``, so they do not match TensorFlow's.  ``format`` is accepted for Keras's
    signature ("tf" or "grain"), and either gives this dataset.
    """
    if not hasattr(data, "__len__"):
        raise TypeError(f"Argument `data` must be an array whose axis 0 is time; received {type(data).__name__}.")
    n = len(data)
    _check_int(sequence_length, "sequence_length", 1)
    _check_int(batch_size, "batch_size", 1, allow_none=True)
    _check_int(start_index, "start_index", 0, allow_none=True)
    _check_int(end_index, "end_index", 1, allow_none=True)
    if start_index and start_index >= n:
        raise ValueError(f"Argument `start_index` must be lower than the length of `data` ({n}); received "
                         f"start_index={start_index}.")
    if end_index is not None:
        if start_index and end_index <= start_index:
            raise ValueError(f"Argument `end_index` must be higher than `start_index` ({start_index}); received "
                             f"end_index={end_index}.")
        if end_index >= n:  # as Keras: strictly lower
            raise ValueError(f"Argument `end_index` must be lower than the length of `data` ({n}); received "
                             f"end_index={end_index}.")
    for argument, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        _check_int(value, argument, 1)
        if value >= n:
            raise ValueError(f"Argument `{argument}` must be lower than the length of `data` ({n}); received "
                             f"{argument}={value}.")
    if format not in ("tf", "grain"):
        raise ValueError(f"Argument `format` must be 'tf' or 'grain'; received format={format!r}.")

    start = start_index or 0
    end = n if end_index is None else end_index
    num_windows = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        if not hasattr(targets, "__len__"):
            raise TypeError(f"Argument `targets` must be an array (or None); received {type(targets).__name__}.")
        num_windows = min(num_windows, len(targets))
    starts = start + np.arange(0, max(num_windows, 0), sequence_stride)  # (windows,) first row of each
    if targets is not None and len(starts) and starts[-1] >= len(targets):
        raise ValueError(f"Argument `targets` has {len(targets)} items, too few for the window that starts at row "
                         f"{starts[-1]}: a window's target is targets[its first row].")
    return TimeseriesDataset(_as_series(data, "data"), None if targets is None else _as_series(targets, "targets"),
                             starts, sequence_length, sampling_rate, batch_size, bool(shuffle), seed)


class TimeseriesDataset:
    """The windows of :func:`timeseries_dataset_from_array`: ``for x, y in dataset`` gives NumPy batches.

    ``len(dataset)`` is its number of batches, and ``take(n)`` gives its first ``n``.  It is not a tf.data pipeline:
    a tf.data method (``map``, ``prefetch``, ``cache``, ...) raises an ``AttributeError`` that names it.
    """

    def __init__(self, data, targets, starts, sequence_length, sampling_rate, batch_size, shuffle, seed):
        self._data, self._targets, self._starts = data, targets, starts
        self._offsets = np.arange(sequence_length) * sampling_rate  # (sequence_length,) rows after a window's start
        self.batch_size, self._shuffle = batch_size, shuffle
        self._rng = make_rng(seed) if shuffle else None

    @property
    def num_windows(self):
        return len(self._starts)

    def __len__(self):
        if self.batch_size is None:
            return self.num_windows
        return -(-self.num_windows // self.batch_size)

    def _batch(self, starts):
        windows = self._data[starts[:, None] + self._offsets]  # (batch, sequence_length, *features)
        return windows if self._targets is None else (windows, self._targets[starts])

    def __iter__(self):
        starts = self._rng.permutation(self._starts) if self._shuffle else self._starts
        if self.batch_size is None:  # one window at a time
            for s in starts:
                batch = self._batch(np.array([s]))
                yield batch[0] if self._targets is None else (batch[0][0], batch[1][0])
            return
        for b in range(len(self)):
            yield self._batch(starts[b * self.batch_size:(b + 1) * self.batch_size])

    def take(self, count):
        """The first ``count`` batches (all of them for ``count=-1``), as ``tf.data.Dataset.take``."""
        _check_int(count, "count", -1)
        return _Taken(self, len(self) if count == -1 else min(int(count), len(self)))

    def as_numpy_iterator(self):
        """An iterator over the batches, which are NumPy arrays already."""
        return iter(self)

    def __getattr__(self, name):
        if name in _TF_DATA_METHODS:
            raise AttributeError(
                f"`{name}` is a tf.data.Dataset method. rnnlab's timeseries dataset is a plain iterable of NumPy "
                "batches, not a tf.data pipeline: iterate it, take len() of it, use take(n), or pass it to "
                "fit/evaluate/predict."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self):
        return (f"<TimeseriesDataset: {self.num_windows} windows in {len(self)} batches of "
                f"{self.batch_size}{', shuffled' if self._shuffle else ''}>")


class _Taken:
    """The first ``count`` batches of a dataset (``dataset.take(count)``)."""

    def __init__(self, dataset, count):
        self._dataset, self._count = dataset, count

    def __len__(self):
        return self._count

    def __iter__(self):
        for k, batch in enumerate(self._dataset):
            if k >= self._count:
                return
            yield batch


class TimeseriesGenerator(PyDataset):
    """Keras 2's ``keras.preprocessing.sequence.TimeseriesGenerator``: batches ``(samples, targets)`` by index.

    Its sample for row ``r`` is ``data[r - length:r:sampling_rate]`` and its target is ``targets[r]``.  Rows run
    from ``start_index + length`` to ``end_index`` (default ``len(data) - 1``), one every ``stride`` rows.
    ``reverse=True`` flips each sample in time.  With ``shuffle=True`` each batch is ``batch_size`` rows drawn
    with replacement through NumPy's global ``np.random.randint``, as Keras 2 draws them.  The same
    ``np.random.seed`` therefore gives Keras 2's batches.  An index outside ``range(len(self))`` raises
    ``IndexError``, where Keras 2 returns empty or partial batches.
    """

    def __init__(self, data, targets, length, sampling_rate=1, stride=1, start_index=0, end_index=None,
                 shuffle=False, reverse=False, batch_size=128):
        super().__init__()
        if len(data) != len(targets):
            raise ValueError(f"Arguments `data` and `targets` must have the same length; received {len(data)} and "
                             f"{len(targets)}.")
        for argument, value in (("length", length), ("sampling_rate", sampling_rate), ("stride", stride),
                                ("batch_size", batch_size)):
            _check_int(value, argument, 1)
        _check_int(start_index, "start_index", 0)
        _check_int(end_index, "end_index", 0, allow_none=True)
        self.data, self.targets = data, targets
        self.length, self.sampling_rate, self.stride = length, sampling_rate, stride
        self.start_index = start_index + length  # as Keras 2: the first row that has `length` rows before it
        self.end_index = len(data) - 1 if end_index is None else end_index
        self.shuffle, self.reverse, self.batch_size = shuffle, reverse, batch_size
        if self.start_index > self.end_index:
            raise ValueError(f"Arguments `start_index` + `length` ({self.start_index}) must not exceed `end_index` "
                             f"({self.end_index}): no row would be left to be the current step.")

    def __len__(self):
        rows_per_batch = self.batch_size * self.stride
        return (self.end_index - self.start_index + rows_per_batch) // rows_per_batch

    def __getitem__(self, index):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} index must be an integer; received {index!r}.")
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__} index {index} is out of range: it has {len(self)} batches.")
        if self.shuffle:
            rows = np.random.randint(self.start_index, self.end_index + 1, size=self.batch_size)
        else:
            first = self.start_index + self.batch_size * self.stride * index
            rows = np.arange(first, min(first + self.batch_size * self.stride, self.end_index + 1), self.stride)
        samples = np.array([self.data[r - self.length:r:self.sampling_rate] for r in rows])  # (batch, steps, ...)
        targets = np.array([self.targets[r] for r in rows])
        return (samples[:, ::-1, ...] if self.reverse else samples), targets
