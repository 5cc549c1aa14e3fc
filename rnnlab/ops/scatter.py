"""Writing at indices: ``scatter`` (values added into zeros) and ``scatter_update`` (values written into, added
to, or combined with an array), Keras's core ops after TensorFlow's ``scatter_nd``.

``indices`` has shape ``(..., d)``: each row names the first ``d`` coordinates of one entry (or one slice) of
the result, and ``values``/``updates`` has shape ``indices.shape[:-1] + shape[d:]``. The gradient of an update is
the result's gradient read back at its index.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import refuse_gradient
from rnnlab.ops.creation import _shape
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.tensor import operand, record, unwrap

_REDUCTIONS = (None, "add", "max", "min", "mul")


def _index(indices, shape, updates_shape, op, updates_name):
    """``indices`` as a tuple of coordinate arrays, checked against ``shape`` and the updates' shape."""
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu" or idx.ndim < 1:
        raise TypeError(f"ops.{op}: `indices` must be an integer array of shape (..., d); received shape "
                        f"{idx.shape} and dtype {idx.dtype}.")
    depth = idx.shape[-1]
    if depth > len(shape):
        raise ValueError(f"ops.{op}: `indices` rows have {depth} coordinates, more than the {len(shape)} axes of "
                         f"the result (shape {tuple(shape)}).")
    expected = idx.shape[:-1] + tuple(shape[depth:])
    if tuple(updates_shape) != expected:
        raise ValueError(f"ops.{op}: `{updates_name}` must have shape indices.shape[:-1] + shape[{depth}:] = "
                         f"{expected}; received {tuple(updates_shape)}.")
    for axis in range(depth):
        column = idx[..., axis]
        if column.size and (column.min() < 0 or column.max() >= shape[axis]):
            raise ValueError(f"ops.{op}: `indices` column {axis} must lie in [0, {shape[axis]}); received values "
                             f"from {column.min()} to {column.max()}.")
    return tuple(idx[..., axis] for axis in range(depth))


def scatter(indices, values, shape):
    """An array of ``shape`` (in ``values``' dtype), zero except where ``indices`` point: there ``values`` are
    added (so repeated indices sum)."""
    v_op = operand(values)
    v = as_array(v_op)
    shape = _shape(shape)
    key = _index(indices, shape, v.shape, "scatter", "values")
    y = np.zeros(shape, dtype=v.dtype)
    np.add.at(y, key, v)
    return record(y, (v_op,), lambda g: (g[key],))


def scatter_update(inputs, indices, updates, reduction=None):
    """``inputs`` with ``updates`` (cast to its dtype) written at ``indices`` (``reduction=None``), or added
    ("add"), or combined by "max", "min" or "mul". Replacing and adding have gradients (an overwritten entry of
    ``inputs`` gets none); "max", "min" and "mul" are forward only."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"ops.scatter_update: argument `reduction` must be one of {list(_REDUCTIONS)}; received "
                         f"reduction={reduction!r}.")
    x, u = operand(inputs), operand(updates)
    v = as_array(x)
    uv = as_array(u, v.dtype)
    key = _index(indices, v.shape, uv.shape, "scatter_update", "updates")
    y = v.copy()
    if reduction is None:
        y[key] = uv
        written = np.zeros(v.shape, dtype=bool)
        written[key] = True
        return record(y, (x, u), lambda g: (np.where(written, 0, g), g[key]))
    if reduction == "add":
        np.add.at(y, key, uv)
        return record(y, (x, u), lambda g: (g, g[key]))
    refuse_gradient(f"scatter_update(reduction={reduction!r})", inputs=x, updates=u)
    {"max": np.maximum, "min": np.minimum, "mul": np.multiply}[reduction].at(y, key, uv)
    return y


__all__ = ["scatter", "scatter_update"]
