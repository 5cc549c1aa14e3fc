"""Numeric preprocessing layers, as Keras 3's: Rescaling, CategoryEncoding and Discretization.

- ``Rescaling(scale, offset=0.0)``: ``y = x * scale + offset`` (``scale``/``offset`` scalars or arrays that
  broadcast against the input's trailing axes).
- ``CategoryEncoding(num_tokens, output_mode)``: integer ids in ``[0, num_tokens)`` to ``one_hot``,
  ``multi_hot`` or ``count`` vectors (a larger id counts nowhere, as in Keras;
  a negative one is refused) (shapes: :mod:`rnnlab.layers.preprocessing.categorical`); ``count`` may
  weigh each id with ``count_weights`` (same shape as the ids).
- ``Discretization(bin_boundaries | num_bins, epsilon, output_mode)``: the bin index of every value
  (``boundaries[i-1] <= x < boundaries[i]`` is bin ``i``; int32 ids), or its categorical encoding;
  ``adapt(data)`` chooses ``num_bins - 1`` boundaries at the data's quantiles with Keras's approximate quantile
  summary (``epsilon`` sets its resolution), so the boundaries equal Keras's.

None of them has weights; ids and bins carry no gradient back to the input (Rescaling's does).
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.layers.base import FunctionLayer
from rnnlab.layers.preprocessing.categorical import encode, one_hot

_MODES = ("int", "one_hot", "multi_hot", "count")


def _no_gradient(dy):
    return None


class Rescaling(FunctionLayer):
    """``y = x * scale + offset`` in the layer's dtype."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for key, value in (("scale", scale), ("offset", offset)):
            backend.to_float_array(value, "float64", key)
        self.scale, self.offset = scale, offset

    def _forward(self, x, training, grads):
        scale = np.asarray(self.scale, dtype=x.dtype)
        y = x * scale + np.asarray(self.offset, dtype=x.dtype)

        def backward(dy):
            dx = dy * scale
            extra = dx.ndim - x.ndim  # an array scale may broadcast beyond the input's shape
            return dx.sum(axis=tuple(range(extra))) if extra > 0 else dx

        return y, backward

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if isinstance(v, (np.ndarray, np.generic)) else v
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


def _check_ids(ids, depth, where):
    """Integer ids as int64, none negative (Keras's bincount refuses them)."""
    arr = np.asarray(ids)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise TypeError(f"{where} expects integer ids; received float values that are not integers.")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{where} expects integer ids; received dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{where} expects non-negative ids; received the id {arr.min()}.")
    return arr  # (an id >= depth counts nowhere, as in Keras)


class CategoryEncoding(FunctionLayer):
    """Integer ids -> ``one_hot`` / ``multi_hot`` / ``count`` vectors of length ``num_tokens``."""

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in _MODES[1:]:
            raise ValueError(f"Unknown arg for output_mode: {output_mode!r}; expected one of {list(_MODES[1:])}.")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if isinstance(num_tokens, bool) or not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ValueError(f"`num_tokens` must be an integer >= 1. Received: num_tokens={num_tokens!r}.")
        if sparse:
            raise ValueError("Argument `sparse=True` of CategoryEncoding is not supported by rnnlab (it has no sparse "
                             "tensors); received sparse=True.")
        self.num_tokens, self.output_mode, self.sparse = int(num_tokens), output_mode, False

    def _convert_inputs(self, inputs):
        return _check_ids(inputs, self.num_tokens, f"CategoryEncoding layer {self.name!r}")

    def call(self, inputs, count_weights=None):
        ids = self._convert_inputs(inputs)
        if count_weights is None:
            return encode(ids, self.output_mode, self.num_tokens).astype(self.dtype)
        if self.output_mode != "count":
            raise ValueError(f"`count_weights` is not used when `output_mode` is not `'count'`. Received "
                             f"`count_weights={count_weights!r}`.")
        weights = backend.to_float_array(count_weights, self.dtype, "count_weights")
        if weights.shape != ids.shape:
            raise ValueError(f"Argument `count_weights` must have the shape of the inputs {ids.shape}; received "
                             f"shape {weights.shape}.")
        if ids.ndim == 0:
            ids, weights = ids.reshape(1), weights.reshape(1)
        weighted = one_hot(ids, self.num_tokens).astype(self.dtype) * weights[..., None]
        return weighted.sum(axis=1 if ids.ndim > 1 else 0)

    def _forward(self, x, training, grads):
        return self.call(x), _no_gradient

    def compute_output_shape(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if not input_shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
            return input_shape + (self.num_tokens,)
        return input_shape[:-1] + (self.num_tokens,)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}


class Discretization(FunctionLayer):
    """Values -> bin indices by ``bin_boundaries`` (given, or found by ``adapt`` for ``num_bins`` bins)."""

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 dtype=None, name=None):
        super().__init__(name=name, dtype=dtype)
        if sparse:
            raise ValueError("Argument `sparse=True` of Discretization is not supported by rnnlab (it has no sparse "
                             "tensors); received sparse=True.")
        if output_mode not in _MODES:
            raise ValueError(f"Invalid value for argument `output_mode` of Discretization. Expected one of "
                             f"{list(_MODES)}. Received: output_mode={output_mode!r}")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 0):
            raise ValueError(f"`num_bins` must be an integer greater than or equal to 0. Received: "
                             f"`num_bins={num_bins!r}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        if bin_boundaries is not None:
            bounds = backend.to_float_array(bin_boundaries, "float64", "bin_boundaries")
            if bounds.ndim != 1 or np.any(np.diff(bounds) < 0):
                raise ValueError(f"Argument `bin_boundaries` of Discretization must be a sorted list of numbers; "
                                 f"received bin_boundaries={bin_boundaries!r}.")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) or not 0 < epsilon <= 1:
            raise ValueError(f"Argument `epsilon` of Discretization must be a float in (0, 1]; received "
                             f"epsilon={epsilon!r}.")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins, self.epsilon, self.output_mode, self.sparse = num_bins, epsilon, output_mode, False
        self.summary = None if self.bin_boundaries else np.zeros((2, 0), np.float32)

    def _symbolic_output_dtype(self):
        return "int32" if self.output_mode == "int" else self.dtype

    def _convert_inputs(self, inputs):
        return backend.to_float_array(inputs, backend.floatx(), "inputs", check_finite=False)

    # ------------------------------------------------------------------ adapt
    def adapt(self, data, steps=None):
        """Find ``num_bins - 1`` boundaries at the quantiles of ``data`` (an array, or an iterable of batches of
        which the first ``steps`` are read)."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with `bin_boundaries`, "
                             "use `num_bins` instead.")
        self.reset_state()
        if hasattr(data, "__iter__") and not isinstance(data, np.ndarray) and not hasattr(data, "numpy"):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        else:
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data):
        data = np.array(data).astype("float32")
        self.summary = _merge_summaries(_summarize(data, self.epsilon), self.summary, self.epsilon)

    def finalize_state(self):
        if self.num_bins is not None:
            self.bin_boundaries = _compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        if self.num_bins is not None:
            self.summary = np.zeros((2, 0), np.float32)

    # ------------------------------------------------------------------ running
    def _forward(self, x, training, grads):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or call "
                             "`adapt(dataset)` before you can start using the `Discretization` layer.")
        bins = np.digitize(x, np.asarray(self.bin_boundaries, dtype=x.dtype))  # boundaries[i-1] <= x < boundaries[i]
        if self.output_mode == "int":
            return bins.astype(np.int32), _no_gradient
        return encode(bins, self.output_mode, len(self.bin_boundaries) + 1).astype(self.dtype), _no_gradient

    def compute_output_shape(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def get_config(self):
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")  # an adapted layer: both are stored
            layer = cls(**config)
            layer.bin_boundaries = list(boundaries)
            return layer
        return cls(**config)


# ------------------------------------------------------------------ Keras's approximate quantile summary
# A summary is a (2, n) array: sorted values (row 0) and the weight (number of data points) each stands for (row 1).
def _summarize(values, epsilon):
    """Every ``step``-th sorted value (``step = max(n * epsilon, 1)``), each weighing ``step``."""
    values = np.sort(np.reshape(values, -1))
    step = max(values.size * epsilon, 1)
    kept = values[int(step - 1)::int(step)]
    return np.stack([kept, np.full_like(kept, step)])


def _merge_summaries(first, second, epsilon):
    merged = np.concatenate((first, second), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return _compress_summary(merged, epsilon)


def _compress_summary(summary, epsilon):
    """At most ``1 / epsilon`` points: values and weights interpolated at evenly spaced cumulative fractions."""
    if summary.shape[1] * epsilon < 1:
        return summary
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_fractions = cum_weights / cum_weights[-1]
    values = np.interp(fractions, cum_fractions, summary[0])
    cum_at = np.interp(fractions, cum_fractions, cum_weights)
    weights = cum_at - np.concatenate((np.array([0]), cum_at[:-1]))
    return np.stack((values, weights)).astype("float32")
