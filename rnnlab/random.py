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

**Keras's draws.**  :func:`normal`, :func:`uniform`, ..., :func:`beta` are Keras's ``keras.random``: Keras's
arguments, defaults, dtypes and seed semantics (an integer ``seed`` gives the same values on every call, a
:class:`SeedGenerator` gives new values on each call and is itself repeatable, ``seed=None`` draws fresh values from
the global state).  They follow Keras's distributions, but their numbers are NumPy's, not TensorFlow's.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import random

import numpy as np

from rnnlab.backend import floatx, is_float_dtype, is_int_dtype

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


# ----------------------------------------------------------------------------------------- keras.random
class SeedGenerator:
    """Keras's ``keras.random.SeedGenerator``: a seed whose state advances with each draw that uses it.

    ``state`` is ``[seed, counter]`` (int64); each draw reads it and adds one to the counter, so two generators made
    with the same ``seed`` give the same sequence of draws.  ``seed=None`` picks the seed from the global state.
    """

    _count = 0

    def __init__(self, seed=None, name=None):
        if name is None:
            SeedGenerator._count += 1
            name = "seed_generator" if SeedGenerator._count == 1 else f"seed_generator_{SeedGenerator._count - 1}"
        self.name = name
        self._initial_seed = seed
        if seed is None:
            seed = int(_rng.integers(1, 10**9))
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer; received seed={seed!r}.")
        self.state = np.array([int(seed), 0], dtype=np.int64)

    def next(self, ordered=True):
        """The current ``[seed, counter]`` (a copy); the state then advances, as Keras's ``next``."""
        current = self.state.copy()
        if ordered:
            self.state[1] += 1
        else:
            self.state = (self.state + 1) * 5387 % 933199
        return current

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _generator(seed) -> np.random.Generator:
    """The NumPy generator for one draw: ``seed`` an integer (the same values each call), a
    :class:`SeedGenerator` (its state advances) or None (the global state)."""
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng([int(v) & (2**63 - 1) for v in seed.next()])
    if seed is None:
        return make_rng(None)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed) % 2**64)  # a negative seed is a valid Keras seed too
    raise ValueError("Argument `seed` must be either an integer or an instance of SeedGenerator; "
                     f"received seed={seed!r}.")


def _float_dtype(dtype, function):
    dtype = floatx() if dtype is None else dtype
    if not is_float_dtype(dtype):
        raise ValueError(f"`keras.random.{function}` requires a floating point `dtype`; received dtype={dtype!r}.")
    return np.dtype(getattr(dtype, "name", dtype))


def _shape(shape):
    """``shape`` as a tuple of non-negative ints."""
    try:
        shape = tuple(int(d) for d in np.atleast_1d(np.asarray(shape)))
    except (TypeError, ValueError):
        raise TypeError(f"Argument `shape` must be a tuple of integers; received shape={shape!r}.") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"Argument `shape` must hold non-negative sizes; received shape={shape!r}.")
    return shape


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal(``mean``, ``stddev``) values of ``shape`` (float ``dtype``, default ``floatx()``)."""
    dtype = _float_dtype(dtype, "normal")
    return _generator(seed).normal(mean, stddev, _shape(shape)).astype(dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform values in ``[minval, maxval)`` of ``shape`` (float ``dtype``, default ``floatx()``)."""
    dtype = _float_dtype(dtype, "uniform")
    values = _generator(seed).uniform(minval, maxval, _shape(shape)).astype(dtype)
    # rounding to float32 can reach maxval itself; keep the upper bound excluded
    return np.where(values >= maxval, np.nextafter(np.asarray(maxval, dtype), np.asarray(minval, dtype)), values)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers drawn uniformly from ``[minval, maxval)``, of ``shape`` and integer ``dtype``."""
    if not dtype or not is_int_dtype(dtype):
        raise ValueError(f"`keras.random.randint` requires an integer `dtype`; received dtype={dtype!r}.")
    if not maxval > minval:
        raise ValueError(f"Arguments `minval` < `maxval` required; received minval={minval!r}, maxval={maxval!r}.")
    return _generator(seed).integers(minval, maxval, _shape(shape)).astype(getattr(dtype, "name", dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal(``mean``, ``stddev``) values, each redrawn while more than two ``stddev`` from ``mean``."""
    dtype = _float_dtype(dtype, "truncated_normal")
    rng, shape = _generator(seed), _shape(shape)
    values = rng.normal(0.0, 1.0, shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.normal(0.0, 1.0, int(outside.sum()))
        outside = np.abs(values) > 2
    return (mean + stddev * values).astype(dtype)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each entry zeroed with probability ``rate`` and the rest scaled by ``1 / (1 - rate)``.

    ``noise_shape`` (broadcastable to ``inputs.shape``; ``None`` entries take the input's size) shares one keep
    decision along its size-1 axes.
    """
    inputs = np.asarray(inputs)
    if not 0 <= rate <= 1:
        raise ValueError(f"Argument `rate` must be in [0, 1]; received rate={rate!r}.")
    if rate == 1:
        return np.zeros_like(inputs)
    if rate == 0:
        return inputs
    if noise_shape is None:
        noise_shape = inputs.shape
    elif len(noise_shape) != inputs.ndim:
        raise ValueError(f"Argument `noise_shape` must have {inputs.ndim} entries like inputs of shape "
                         f"{inputs.shape}; received noise_shape={noise_shape!r}.")
    noise_shape = tuple(size if want is None else int(want) for want, size in zip(noise_shape, inputs.shape))
    keep = _generator(seed).uniform(0.0, 1.0, noise_shape) >= rate
    return np.where(keep, inputs / (1 - rate), 0).astype(inputs.dtype)


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order."""
    x = np.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"Argument `axis` must be an axis of x (rank {x.ndim}); received axis={axis!r}.")
    return np.take(x, _generator(seed).permutation(x.shape[axis]), axis=axis)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``(batch_size, num_samples)`` class indices, row ``b`` drawn with probabilities ``softmax(logits[b])``."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, num_classes]; received logits "
                         f"of shape {logits.shape}.")
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    cumulative = np.cumsum(probabilities / probabilities.sum(axis=1, keepdims=True), axis=1)
    u = _generator(seed).uniform(0.0, 1.0, (logits.shape[0], int(num_samples)))
    samples = np.stack([np.searchsorted(row, draws, side="right") for row, draws in zip(cumulative, u)])
    samples = np.minimum(samples.reshape(logits.shape[0], int(num_samples)), logits.shape[1] - 1)
    return samples.astype(getattr(dtype, "name", dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma(``alpha``, scale 1) values of ``shape``."""
    dtype = _float_dtype(dtype, "gamma")
    return _generator(seed).gamma(np.asarray(alpha, np.float64), 1.0, _shape(shape)).astype(dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial(``counts``, ``probabilities``) success counts of ``shape`` (a float ``dtype``, as in Keras)."""
    dtype = _float_dtype(dtype, "binomial")
    counts = np.asarray(counts)
    return _generator(seed).binomial(counts.astype(np.int64), np.asarray(probabilities, np.float64),
                                     _shape(shape)).astype(dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta(``alpha``, ``beta``) values of ``shape`` in [0, 1]."""
    dtype = _float_dtype(dtype, "beta")
    return _generator(seed).beta(np.asarray(alpha, np.float64), np.asarray(beta, np.float64),
                                 _shape(shape)).astype(dtype)


def __getattr__(name):
    from rnnlab.tensorflow_names import missing_attribute  # TensorFlow's tf.random.set_seed, ...

    raise missing_attribute(__name__, name)
