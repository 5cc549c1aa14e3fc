"""``Normalization``: features shifted and scaled to mean 0 and variance 1, as Keras 3's layer.

``y = (x - mean) / max(sqrt(variance), 1e-7)`` (or, with ``invert=True``, ``y = mean + x * max(sqrt(variance),
1e-7)``), with one ``mean``/``variance`` per position of the kept ``axis`` (default: the last axis; ``axis=None``
keeps none: one scalar pair).  The statistics come from the ``mean``/``variance`` arguments, or from
:meth:`Normalization.adapt` on data, which stores them in the non-trainable weights ``mean``, ``variance`` (shaped
as the kept axes) and ``count`` (an int64 scalar Keras creates and never changes), in that order.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import backend
from rnnlab.layers.base import FunctionLayer

EPSILON = 1e-7  # Keras's backend.epsilon()


class Normalization(FunctionLayer):
    """Per-feature standardization (see the module docstring); ``adapt(data)`` learns the statistics."""

    supports_masking = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                                                      for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise TypeError(f"Argument `axis` of Normalization must be None, an int or a tuple of ints; received "
                            f"axis={axis!r}.")
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError("When setting values directly, both `mean` and `variance` must be set. Received: "
                             f"mean={mean!r} and variance={variance!r}.")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"When setting values directly, `mean` and `variance` must have the same shape. "
                                 f"Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}.")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the number of axes "
                                 f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis {self.axis}.")
            backend.to_float_array(mean, "float64", "mean")
            backend.to_float_array(variance, "float64", "variance")
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._build_input_shape = None
        self.adapt_mean = self.adapt_variance = self.count = None

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        ndim = len(input_shape)
        self._build_input_shape = tuple(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"All `axis` values of Normalization must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}.")
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        unknown = [d for d in self._keep_axis if input_shape[d] is None]
        if unknown:
            raise ValueError(f"All `axis` values to be kept must have a known shape. Received axis={self.axis}, "
                             f"inputs.shape={tuple(input_shape)}, with unknown axis at index {unknown[0]}.")
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(input_shape[d] if d in self._keep_axis else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in self._keep_axis)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape, initializer="zeros", trainable=False)
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape, initializer="ones",
                                                  trainable=False)
            self.count = self.add_weight(name="count", shape=(), dtype="int64", initializer="zeros",
                                         trainable=False)
        self.built = True

    def _statistics(self):
        """``(mean, variance)`` broadcast to the input's rank, in the layer's dtype."""
        shape = self._broadcast_shape
        if self.input_mean is None:
            mean, variance = self.adapt_mean.value.reshape(shape), self.adapt_variance.value.reshape(shape)
        else:
            mean, variance = (np.asarray(v, dtype=self.dtype) for v in (self.input_mean, self.input_variance))
            if mean.ndim:  # the given values fill the last kept axes
                expanded = [1] * len(shape)
                for i in range(1, mean.ndim + 1):
                    expanded[self._keep_axis[-i]] = mean.shape[-i]
                mean, variance = mean.reshape(expanded), variance.reshape(expanded)
        return np.broadcast_to(mean, shape), np.broadcast_to(variance, shape)

    # ------------------------------------------------------------------ running
    def _forward(self, x, training, grads):
        mean, variance = self._statistics()
        scale = np.maximum(np.sqrt(variance), x.dtype.type(EPSILON))
        if self.invert:
            return mean + x * scale, lambda dy: dy * scale
        return (x - mean) / scale, lambda dy: dy / scale  # dL/dx = dL/dy / scale

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape)

    # ------------------------------------------------------------------ adapt
    def adapt(self, data):
        """Compute ``mean`` and ``variance`` over the reduced axes of ``data``: a NumPy array, a ``PyDataset``
        (its ``(x, y)`` batches' ``x``) or an iterable of batches (a list of arrays, a generator); batches are
        combined as Keras combines them (a running, count-weighted mean and variance)."""
        if self.built and self.input_mean is not None:
            raise ValueError(f"Normalization layer {self.name!r} was given `mean` and `variance`; it cannot also "
                             "be adapted.")
        if isinstance(data, np.ndarray) or hasattr(data, "numpy") and not isinstance(data, (list, tuple)):
            data = np.asarray(data.numpy() if hasattr(data, "numpy") else data)
            self._build_or_check(data.shape)
            self.adapt_mean.assign(np.mean(data, axis=self._reduce_axis))
            self.adapt_variance.assign(np.var(data, axis=self._reduce_axis))
            return
        batches = _batches(data)
        first = next(batches, None)
        if first is None:
            raise ValueError("adapt() received an empty iterable (no batches). Expected at least one batch. Pass a "
                             "non-empty iterable of arrays, e.g. layer.adapt([x]).")
        first = np.asarray(first)
        self._build_or_check(first.shape)
        total_mean = np.zeros(self.adapt_mean.shape, self.dtype)
        total_var = np.zeros(self.adapt_mean.shape, self.dtype)
        total_count = 0
        for batch in _chain(first, batches):
            batch = backend.to_float_array(batch, self.dtype, "data")
            for d in self._keep_axis:
                if batch.ndim != len(self._build_input_shape) or batch.shape[d] != self._build_input_shape[d]:
                    raise ValueError(f"adapt() yielded a batch with incompatible shape. Expected "
                                     f"{self._build_input_shape}, got {batch.shape}.")
            batch_mean = np.mean(batch, axis=self._reduce_axis)
            batch_var = np.var(batch, axis=self._reduce_axis)
            batch_count = math.prod(batch.shape[d] for d in self._reduce_axis) if self._reduce_axis else 1
            total_count += batch_count
            new_weight = self.dtype_type(batch_count / total_count)
            old_weight = self.dtype_type(1.0) - new_weight
            new_mean = total_mean * old_weight + batch_mean * new_weight
            total_var = (total_var + (total_mean - new_mean) ** 2) * old_weight + \
                (batch_var + (batch_mean - new_mean) ** 2) * new_weight
            total_mean = new_mean
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_var)

    @property
    def dtype_type(self):
        return np.dtype(self.dtype).type

    def _build_or_check(self, shape):
        shape = tuple(shape)
        if not self.built:
            self._maybe_build(shape)
            return
        for d in self._keep_axis:
            if len(shape) != len(self._build_input_shape) or shape[d] != self._build_input_shape[d]:
                raise ValueError(f"The layer was built with input_shape={self._build_input_shape}, but adapt() is "
                                 f"being called with data with an incompatible shape, data.shape={shape}.")

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "invert": self.invert,
                       "mean": np.array(self.input_mean).tolist(), "variance": np.array(self.input_variance).tolist()})
        return config


def _extract_batch(batch):
    """The inputs of a batch: ``x`` of an ``(x, y)`` or ``(x, y, sample_weight)`` tuple."""
    return batch[0] if isinstance(batch, tuple) else batch


def _batches(data):
    """An iterator over the input batches of a ``PyDataset`` (anything with ``__len__`` and ``__getitem__``, batch
    ``i`` being ``data[i]``) or of any other iterable of batches."""
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not isinstance(data, (list, tuple, str, bytes, dict)):
        return (_extract_batch(data[i]) for i in range(len(data)))
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise TypeError(f"Unsupported data type: {type(data).__name__}. `adapt` supports NumPy arrays, "
                        "`PyDataset`s and iterables of batches (e.g. a list of arrays or a generator).")
    return (_extract_batch(b) for b in data)


def _chain(first, rest):
    yield first
    yield from rest
