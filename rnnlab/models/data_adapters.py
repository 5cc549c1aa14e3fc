"""Where ``fit``, ``evaluate`` and ``predict`` get their batches.

There are two kinds of data:

- **arrays** (a NumPy array, or a list or dict of them): :class:`ArrayBatches` slices them in memory;
- **data objects**: :class:`DataBatches` reads them one batch at a time and never turns them into one array:
  - a ``PyDataset``/``Sequence``, or any object with ``__len__`` and ``__getitem__`` (batch ``i`` is ``x[i]``);
  - a generator or other iterator, one stream read on from epoch to epoch;
  - any other iterable of batches, such as the dataset of ``timeseries_dataset_from_array``, with a new pass
    each epoch.

A batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.  A dict is ``x`` (inputs by name).

Epochs and steps follow Keras 3's ``EpochIterator``:

- without ``steps``, an epoch is one pass;
- with ``steps``, an epoch takes that many batches, and the next epoch reads on from where it stopped;
- a new pass starts once one ends, and an epoch never spans two passes;
- a generator (or other iterator) is read once.  As Keras's ``GeneratorDataAdapter``, rnnlab keeps its first two
  batches and puts them in front of every pass, so once it is exhausted each new pass gives those two again.  A
  pass that reaches the end of the stream warns that the input ran out of data, as Keras does.

Both classes give the trainer the same calls:

- ``reset()``, before ``fit``/``evaluate``;
- per epoch, ``begin_epoch()``, ``epoch()`` (the batches, standardized by the trainer's ``prepare``) and
  ``end_epoch()``;
- ``num_batches`` for the progress bar;
- ``ran_out``: an iterable whose new pass gave no batches (training stops there).
"""
from __future__ import annotations

import collections
import itertools
import math
import numbers
import types
import warnings

import numpy as np

from rnnlab.random import make_rng
from rnnlab.utils.py_dataset import PyDataset

_BATCH_FORMS = "x, (x,), (x, y) or (x, y, sample_weight)"


def data_kind(x):
    """What kind of data object ``x`` is: "PyDataset", "Sequence", "generator", "iterator" or "iterable";
    ``None`` for arrays (and for anything else, which the array path refuses)."""
    if isinstance(x, PyDataset):
        return "PyDataset"
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes, numbers.Number)) or \
            hasattr(x, "__array__"):
        return None
    if isinstance(x, types.GeneratorType):
        return "generator"
    if hasattr(x, "__next__"):
        return "iterator"
    if hasattr(x, "__len__") and hasattr(x, "__getitem__"):
        return "Sequence"
    if hasattr(x, "__iter__"):
        return "iterable"
    return None


def check_arrays(x, argument="x"):
    """Refuse, with a TypeError, an ``x`` that is neither arrays nor a data object."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, numbers.Number)) or hasattr(x, "__array__"):
        return
    raise TypeError(
        f"Argument `{argument}` must be arrays (a NumPy array, or a list or dict of them) or a data object (a "
        f"PyDataset/Sequence, a generator or an iterable of batches); received {type(x).__name__}."
    )


_CARRIED = {
    "y": "its batches hold the targets, as (x, y)",
    "sample_weight": "its batches hold the sample weights, as (x, y, sample_weight)",
    "validation_split": "only arrays can be split; pass `validation_data` instead",
}


def refuse_with_data_object(kind, argument="x", **given):
    """Refuse, by name, arguments that a data object's batches carry themselves (``y``, ``sample_weight``) or
    that need arrays (``validation_split``), as Keras refuses them."""
    for name, value in given.items():
        if value is not None and not (name == "validation_split" and not value):
            raise ValueError(f"Argument `{name}` must not be given when `{argument}` is a {kind}: {_CARRIED[name]}; "
                             f"received {name} of type {type(value).__name__}.")


def unpack_batch(batch):
    """``(x, y, sample_weight)`` from one batch, with None for what it lacks."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"a batch must be {_BATCH_FORMS}; received a tuple of {len(batch)} items.")
        return batch + (None,) * (3 - len(batch))
    if isinstance(batch, (np.ndarray, dict)) or hasattr(batch, "__array__"):
        return batch, None, None
    raise TypeError(f"a batch must be {_BATCH_FORMS}, made of arrays or dicts of arrays; received "
                    f"{type(batch).__name__}.")


def _check_steps(steps, argument):
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"Argument `{argument}` must be None or a positive integer; received {argument}={steps!r}.")
    return int(steps)


class ArrayBatches:
    """Standardized arrays ``xs``, ``ys`` (or None, for ``predict``) and ``sw`` cut into ``batch_size`` rows.

    A new random order each epoch with ``shuffle``, in order otherwise.  ``steps`` caps the batches per epoch.
    Arrays of 0 samples give no batches, with Keras's "ran out of data" warning each epoch.
    """

    ran_out = False

    def __init__(self, xs, ys, sw, batch_size, shuffle=False, steps=None, rng=None, steps_argument="steps",
                 argument="x"):
        self.xs, self.ys, self.sw = xs, ys, sw
        self.n = xs[0].shape[0]
        self.batch_size, self.shuffle, self.rng = batch_size, shuffle, rng
        self.argument = argument
        steps = _check_steps(steps, steps_argument)
        self.num_batches = math.ceil(self.n / batch_size)
        if steps is not None:
            self.num_batches = min(self.num_batches, steps)

    def reset(self):
        pass

    def begin_epoch(self):
        pass

    def end_epoch(self):
        pass

    def epoch(self):
        if self.n == 0:
            warnings.warn(f"Your input ran out of data: `{self.argument}` has 0 samples, so this epoch has no "
                          "batches and reports no loss or metrics. Make sure your arrays hold at least one sample.",
                          stacklevel=4)
            return
        order = self.rng.permutation(self.n) if self.shuffle else None
        size = self.batch_size
        for b in range(self.num_batches):
            rows = slice(b * size, (b + 1) * size) if order is None else order[b * size:(b + 1) * size]
            yield ([a[rows] for a in self.xs], None if self.ys is None else [a[rows] for a in self.ys],
                   None if self.sw is None else self.sw[rows])


def _prefetched(data, indices, workers, depth):
    """``data[i]`` for each index, in order, made on ``workers`` threads up to ``depth`` batches ahead."""
    from concurrent.futures import ThreadPoolExecutor  # only when a data set asks for workers (import time)

    indices = iter(indices)
    with ThreadPoolExecutor(workers) as pool:
        pending = collections.deque(pool.submit(data.__getitem__, int(i)) for i in itertools.islice(indices, depth))
        while pending:
            batch = pending.popleft().result()
            following = next(indices, None)
            if following is not None:
                pending.append(pool.submit(data.__getitem__, int(following)))
            yield batch


class DataBatches:
    """A data object read one batch at a time, with Keras's epochs and steps.

    ``prepare(x, y, sample_weight)`` turns each raw batch into what the trainer's step takes.  Its TypeError or
    ValueError is raised again with the batch's index and the data object's argument name.  With ``shuffle``, a
    PyDataset/Sequence is visited in a new random batch order each pass.  Streams are read as they come.
    """

    def __init__(self, data, prepare, steps=None, shuffle=False, argument="x", steps_argument="steps_per_epoch"):
        self.data, self.prepare, self.argument, self.steps_argument = data, prepare, argument, steps_argument
        self.kind = data_kind(data)
        if self.kind is None:
            raise TypeError(f"Argument `{argument}` is not a data object; received {type(data).__name__}.")
        self.what = f"{'an' if self.kind[0] in 'aeiou' else 'a'} {self.kind}"  # for messages: "an iterator"
        self.steps = _check_steps(steps, steps_argument)
        self._by_index = self.kind in ("PyDataset", "Sequence")
        self._one_shot = self.kind in ("generator", "iterator")
        self._rng = make_rng(None) if shuffle and self._by_index else None
        self._iterator, self._seen, self._total = None, 0, 0
        self._stream, self._first_batches = None, None  # a one-shot stream, and the batches kept from its start
        self.ran_out = False
        length = self._length()
        if length == 0:
            raise ValueError(f"Argument `{argument}` ({self.what}) has no batches: its length is 0.")
        if length is None and self._by_index and self.steps is None:
            raise ValueError(f"Argument `{argument}` is {self.what} without an end (num_batches is None): pass "
                             f"`{steps_argument}`.")

    def _length(self):
        """Batches per pass: None when unknown (a stream) or endless."""
        if self.kind == "PyDataset":
            return self.data.num_batches
        if self._one_shot or not hasattr(self.data, "__len__"):
            return None
        return len(self.data)

    @property
    def num_batches(self):
        return self.steps if self.steps is not None else self._length()

    def _new_pass(self):
        if self._one_shot:
            if self._stream is None:  # Keras peeks at a generator's first two batches, and keeps them
                self._stream = iter(self.data)
                self._first_batches = list(itertools.islice(self._stream, 2))
            return itertools.chain(self._first_batches, self._stream)  # then reads on where the last pass stopped
        if not self._by_index:
            return iter(self.data)
        count = self._length()
        if count is None:
            indices = itertools.count()
        else:
            indices = self._rng.permutation(count) if self._rng is not None else range(count)
        workers = getattr(self.data, "workers", 1)
        if isinstance(workers, int) and workers > 1:
            return _prefetched(self.data, indices, workers, max(1, int(getattr(self.data, "max_queue_size", 10))))
        return (self.data[int(i)] for i in indices)

    def _hook(self, name):
        hook = getattr(self.data, name, None)
        if callable(hook):
            hook()

    def reset(self):
        """Before ``fit``/``evaluate`` (Keras's ``EpochIterator.reset``): a new pass, and the data's
        ``on_epoch_end``."""
        self._iterator, self._seen = None, 0
        self._hook("on_epoch_end")

    def begin_epoch(self):
        self._hook("on_epoch_begin")

    def end_epoch(self):
        self._hook("on_epoch_end")

    def _prepared(self, batch):
        index = self._total
        self._total += 1
        try:
            return self.prepare(*unpack_batch(batch))
        except (TypeError, ValueError) as exc:
            if type(exc) not in (TypeError, ValueError):
                raise
            raise type(exc)(f"Batch {index} of `{self.argument}` ({self.what}): {exc}") from exc

    def _warn_ran_out(self, taken):
        """Keras's "Your input ran out of data" warning: how many batches came, and what happens next."""
        if self.steps:
            got = f"gave {taken} of the {self.steps} batches that `{self.steps_argument}` asks for"
        else:
            got = f"ended after {taken} batches" if taken else "gave no batches this epoch"
        if self._one_shot:
            next_step = (f"it is read once, so a new pass gives only the {len(self._first_batches)} batches kept from "
                         "its start, as Keras does")
        elif not self.ran_out:
            next_step = "the next epoch starts a new pass"
        else:
            next_step = "training stops here" if self.steps_argument == "steps_per_epoch" else "it has no more batches"
        advice = "`steps_per_epoch * epochs` batches: a generator is read once, across all epochs" if self._one_shot \
            else f"at least `{self.steps_argument}` batches a pass"
        warnings.warn(f"Your input ran out of data: `{self.argument}` ({self.what}) {got}; {next_step}. Make sure "
                      f"it can give {advice}.", stacklevel=4)

    def epoch(self):
        """The prepared batches of one epoch."""
        if self.steps is None:  # one whole pass
            taken = 0
            for batch in self._new_pass():
                taken += 1
                yield self._prepared(batch)
            if self._one_shot and taken:  # Keras reads a stream until it ends, and warns that it ran out
                self._warn_ran_out(taken)
            elif taken == 0:
                if self._total == 0:
                    raise ValueError(f"Argument `{self.argument}` ({self.what}) gave no batches.")
                self.ran_out = True
                self._warn_ran_out(0)
            return
        if self._iterator is None:
            self._iterator, self._seen = self._new_pass(), 0
        length = self._length()
        for taken in range(self.steps):
            if length is not None and self._seen >= length:
                self._warn_ran_out(taken)
                break
            try:
                batch = next(self._iterator)
            except StopIteration:
                if self._total == 0:
                    raise ValueError(f"Argument `{self.argument}` ({self.what}) gave no batches.") from None
                self._iterator = None
                self._warn_ran_out(taken)
                break
            self._seen += 1
            yield self._prepared(batch)
        if length is not None and self._seen >= length:
            self._iterator = None
