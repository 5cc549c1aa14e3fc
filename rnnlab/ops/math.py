"""Keras's ``ops.math`` family: ``erf``, ``top_k``, ``in_top_k``, ``segment_sum``, ``segment_max``, and
``logsumexp`` and ``rsqrt`` (written in :mod:`rnnlab.ops.reductions` and :mod:`rnnlab.ops.elementwise`)."""
from __future__ import annotations

import math

import numpy as np

from rnnlab.ops.dtypes import as_array
from rnnlab.ops.elementwise import _float_operand, rsqrt  # noqa: F401 - part of this family in Keras
from rnnlab.ops.reductions import logsumexp  # noqa: F401 - part of this family in Keras
from rnnlab.ops.shapes import take_along_axis
from rnnlab.ops.tensor import operand, record

_erf = np.frompyfunc(math.erf, 1, 1)  # exact to the last bit; NumPy has no erf of its own


def erf(x):
    """The error function; its derivative is ``2 / sqrt(pi) * exp(-x^2)``."""
    x, v = _float_operand(x)
    y = _erf(v).astype(v.dtype)
    return record(y, (x,), lambda g: (g * (2 / math.sqrt(math.pi)) * np.exp(-v * v),))


def top_k(x, k, sorted=True):  # noqa: A002 - Keras's name
    """The ``k`` largest entries along the last axis and their int32 indices, largest first (equal values in
    index order, as TensorFlow). The values' gradient goes back to the entries picked."""
    x = operand(x)
    v = as_array(x)
    if not 0 <= int(k) <= v.shape[-1]:
        raise ValueError(f"ops.top_k: argument `k` must lie in [0, {v.shape[-1]}] for x of shape {v.shape}; "
                         f"received k={k}.")
    order = np.argsort(-v if v.dtype.kind != "b" else ~v, axis=-1, kind="stable")[..., :int(k)]
    return take_along_axis(x, order, axis=-1), order.astype("int32")


def in_top_k(targets, predictions, k):
    """Whether each ``targets[i]`` is among the ``k`` largest of ``predictions[i]`` (ties count as in)."""
    p = as_array(operand(predictions))
    t = as_array(operand(targets)).astype("int64")
    target_value = np.take_along_axis(p, t[:, None], axis=-1)
    return np.sum(p > target_value, axis=-1) < int(k)


def _segments(data, segment_ids, num_segments, sorted, op):
    ids = as_array(operand(segment_ids)).astype("int64")
    if sorted:
        if num_segments is not None:
            raise ValueError(f"ops.{op}: `num_segments` cannot be given with sorted=True, as in Keras's "
                             f"TensorFlow backend; received num_segments={num_segments}.")
        count = int(ids.max()) + 1 if ids.size else 0
    else:
        count = len(np.unique(ids)) if num_segments is None else int(num_segments)
    if ids.size and (ids.min() < 0 or ids.max() >= count):
        raise ValueError(f"ops.{op}: segment_ids must lie in [0, {count}); received ids from {ids.min()} to "
                         f"{ids.max()}.")
    if ids.shape != np.shape(as_array(data))[:ids.ndim]:
        raise ValueError(f"ops.{op}: segment_ids (shape {ids.shape}) must match the leading axes of data "
                         f"(shape {np.shape(as_array(data))}).")
    return ids, count


def segment_sum(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras's name
    """The sums of ``data``'s rows that share a segment id: shape ``(num_segments,) + data.shape[ids.ndim:]``."""
    x = operand(data)
    v = as_array(x)
    ids, count = _segments(x, segment_ids, num_segments, sorted, "segment_sum")
    y = np.zeros((count,) + v.shape[ids.ndim:], dtype=v.dtype)
    np.add.at(y, ids, v)
    return record(y, (x,), lambda g: (g[ids],))


def segment_max(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras's name
    """The maxima of ``data``'s rows per segment (the dtype's lowest value for an empty segment)."""
    v = as_array(operand(data))
    ids, count = _segments(data, segment_ids, num_segments, sorted, "segment_max")
    low = np.finfo(v.dtype).min if v.dtype.kind == "f" else np.iinfo(v.dtype).min
    y = np.full((count,) + v.shape[ids.ndim:], low, dtype=v.dtype)
    np.maximum.at(y, ids, v)
    return y


__all__ = ["erf", "top_k", "in_top_k", "segment_sum", "segment_max", "logsumexp", "rsqrt"]
