"""The global random state, and the keyed draws of training steps.

:func:`set_random_seed` makes weight initialisation, dropout and shuffling repeatable.

**Keyed draws.**  A layer that draws in training (dropout masks, noise) calls :func:`layer_uniform` or :func:`layer_normal`.
Outside ``fit`` they draw from the layer's own generator (``layer._training_rng()``: its seeded generator, or one
seeded from the global state).  Inside a ``fit`` step (:func:`keyed_draws`) every draw is a pure function of

- the layer's key: one number drawn from that generator when ``fit`` starts (:func:`draw_keys`),
- the global step (the count of ``fit``'s training steps so far),
- the draw's index among the layer's draws in that step,
- the sample's row in the step's batch.

The draw is counter-based: NumPy's Philox generator with the layer's key as its key and
``(0, 0, draw index, step)`` as its counter.  It fills the batch's rows one after the other, so the rows
``start:stop`` of the batch are the values from ``start * row_size`` to ``stop * row_size``.  A data-parallel worker
that holds those rows of the batch draws the same numbers for them as ``fit`` in one process on the whole batch.  A
task that runs again draws them again.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import random

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed every random draw that was not given its own seed, as ``keras.utils.set_random_seed``.

    It seeds Python's ``random``, NumPy's global generator (``np.random.seed``) and rnnlab's own generator.  The
    last one draws initial weights, dropout masks and ``fit``'s shuffling.
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"Argument `seed` must be an integer in [0, 2**32), the range np.random.seed takes; "
                         f"received seed={seed!r}.")
    random.seed(int(seed))
    np.random.seed(int(seed))
    _rng = np.random.default_rng(int(seed))


def make_rng(seed=None) -> np.random.Generator:
    """A generator for one draw: seeded from ``seed`` if given, otherwise from the global state."""
    if seed is None:
        return np.random.default_rng(_rng.integers(0, 2**63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer or None; received seed={seed!r}.")
    return np.random.default_rng(int(seed))


# ----------------------------------------------------------------------------------------- keyed draws
def draw_keys(layers) -> list:
    """One key per layer of ``layers`` (a model and its nested layers, in a fixed order): an int drawn from the
    generator of a layer that draws in training (which advances it, so the next ``fit`` draws anew), None for
    the others.  Without any layer that draws, nothing is drawn and the global state is left as it is."""
    keys = []
    for layer in layers:
        rng = layer._training_rng() if hasattr(layer, "_training_rng") else None
        keys.append(None if rng is None else int(rng.integers(0, 2**63 - 1)))
    return keys


@dataclasses.dataclass
class StepDraws:
    """The keys of one training step: ``keys`` lines up with the layers given to :func:`keyed_draws`;
    ``rows`` is ``(start, stop, total)``, this process's rows of the step's batch (None: all of it)."""

    keys: list
    step: int
    rows: tuple = None
    strict: bool = False
    by_layer: dict = dataclasses.field(default_factory=dict)  # id(layer) -> key
    counts: dict = dataclasses.field(default_factory=dict)  # id(layer) -> draws made in this step


_active: contextvars.ContextVar = contextvars.ContextVar("rnnlab_step_draws", default=None)


@contextlib.contextmanager
def keyed_draws(layers, keys, step, rows=None, strict=False):
    """Within the block, draws of ``layers`` are keyed by ``keys`` (from :func:`draw_keys` on the same layers, in
    the same order) and ``step``.  ``rows``: ``(start, stop, total)`` when this process holds only the rows
    ``start:stop`` of a batch of ``total`` rows.  ``strict``: a draw by a layer without a key raises (a worker
    must not draw what a rerun of its task would draw differently); otherwise it draws unkeyed."""
    if len(keys) != len(layers):
        raise ValueError(f"keyed_draws() needs one key per layer: {len(layers)} layers, received {len(keys)} keys.")
    draws = StepDraws(list(keys), int(step), rows, strict,
                      {id(layer): key for layer, key in zip(layers, keys) if key is not None})
    token = _active.set(draws)
    try:
        yield draws
    finally:
        _active.reset(token)


def active_draws() -> StepDraws | None:
    """The :class:`StepDraws` of the training step running in this thread, or None."""
    return _active.get()


def layer_uniform(layer, shape, batch_axis=0) -> np.ndarray:
    """Floats in ``[0, 1)`` of ``shape`` (float64) for ``layer``; ``batch_axis`` is the axis of the batch's
    samples (its length a multiple of the rows, as ``(B*T, ...)`` inside TimeDistributed), or None when the draw
    is shared by all samples."""
    return _draw(layer, tuple(shape), batch_axis, lambda rng, s: rng.random(s))


def layer_normal(layer, shape, batch_axis=0) -> np.ndarray:
    """Standard normal floats of ``shape`` (float64) for ``layer``; ``batch_axis`` as in :func:`layer_uniform`."""
    return _draw(layer, tuple(shape), batch_axis, lambda rng, s: rng.standard_normal(s))


def _draw(layer, shape, batch_axis, sample):
    draws = _active.get()
    key = None if draws is None else draws.by_layer.get(id(layer))
    if key is None:
        if draws is not None and draws.strict:
            raise ValueError(f"Layer {getattr(layer, 'name', layer)!r} drew random numbers in a data-parallel "
                             "training step without a key from fit(): the draw could not be repeated by a task "
                             "that runs again. Draw with rnnlab.random.layer_uniform()/layer_normal() from a layer of the "
                             "model.")
        return sample(layer._training_rng(), shape)
    index = draws.counts.get(id(layer), 0)
    draws.counts[id(layer)] = index + 1
    rng = np.random.Generator(np.random.Philox(key=key, counter=[0, 0, index, draws.step]))
    if batch_axis is None or not shape:
        return sample(rng, shape)
    axis = batch_axis % len(shape)
    rest = shape[:axis] + shape[axis + 1:]
    start, stop, total = draws.rows or (0, shape[axis], shape[axis])
    per_row, remainder = divmod(shape[axis], stop - start)
    if remainder:
        raise ValueError(f"Layer {getattr(layer, 'name', layer)!r} drew {shape[axis]} rows along its batch axis "
                         f"for a part of {stop - start} samples; expected a multiple of it.")
    rows = sample(rng, (stop * per_row,) + rest)[start * per_row:]  # the rows before `start` are skipped
    return np.moveaxis(rows, 0, axis)
