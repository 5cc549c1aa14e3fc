"""Keras's ``ops.math`` family: ``erf``, ``erfc``, ``erfinv``, ``top_k``, ``in_top_k``, the ``segment_*`` ops, and
``logsumexp``, ``rsqrt`` and ``logdet`` (written in :mod:`rnnlab.ops.reductions`, :mod:`rnnlab.ops.elementwise`
and :mod:`rnnlab.ops.solvers`)."""
from __future__ import annotations

import math

import numpy as np

from rnnlab.ops.dtypes import as_array
from rnnlab.ops.elementwise import _float_operand, rsqrt  # noqa: F401 - part of this family in Keras
from rnnlab.ops.reductions import logsumexp  # noqa: F401 - part of this family in Keras
from rnnlab.ops.shapes import take_along_axis
from rnnlab.ops.solvers import logdet  # noqa: F401 - part of this family in Keras
from rnnlab.ops.tensor import operand, record

_erf = np.frompyfunc(math.erf, 1, 1)  # exact to the last bit; NumPy has no erf of its own
_erfc = np.frompyfunc(math.erfc, 1, 1)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def erf(x):
    """The error function; its derivative is ``2 / sqrt(pi) * exp(-x^2)``."""
    x, v = _float_operand(x)
    y = _erf(v).astype(v.dtype)
    return record(y, (x,), lambda g: (g * (2 / math.sqrt(math.pi)) * np.exp(-v * v),))


def erfc(x):
    """``1 - erf(x)``, computed without cancellation for large ``x``; its derivative is ``-erf'(x)``."""
    x, v = _float_operand(x)
    y = _erfc(v).astype(v.dtype)
    return record(y, (x,), lambda g: (-g * _TWO_OVER_SQRT_PI * np.exp(-v * v),))


def _erfinv_start(p):
    """Giles' (2010) polynomial approximation of ``erfinv`` (about 1e-7 relative error), in float64."""
    w = -np.log((1 - p) * (1 + p))
    small = w < 5
    a = w - 2.5
    b = np.sqrt(np.where(small, 5, w)) - 3
    central = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
               -0.00417768164, 0.246640727, 1.50140941)
    tail = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
            0.00943887047, 1.00167406, 2.83297682)
    pa, pb = np.zeros_like(p), np.zeros_like(p)
    for ca, cb in zip(central, tail):
        pa, pb = pa * a + ca, pb * b + cb
    return np.where(small, pa, pb) * p


def erfinv(x):
    """The inverse of ``erf`` on ``(-1, 1)`` (``+-inf`` at ``+-1``, NaN outside), refined by Newton steps in
    float64 on ``|x|`` (through ``erfc`` near 1, where ``erf`` is too flat to resolve). Its derivative is
    ``sqrt(pi) / 2 * exp(y^2)``."""
    x, v = _float_operand(x)
    p = v.astype("float64")
    a = np.abs(p)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = _erfinv_start(np.minimum(a, 1))
        tail = a > 0.5
        for _ in range(3):
            inside = np.isfinite(y)
            safe = np.where(inside, y, 0)
            residual = np.where(tail, (1 - a) - _erfc(safe).astype("float64"), _erf(safe).astype("float64") - a)
            y = np.where(inside, y - residual / (_TWO_OVER_SQRT_PI * np.exp(-y * y)), y)
        y = np.sign(p) * np.where(a > 1, np.nan, np.where(a == 1, np.inf, y))
    y = y.astype(v.dtype)
    return record(y, (x,), lambda g: (g / _TWO_OVER_SQRT_PI * np.exp(y * y),))


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


def _segment_extreme(name, ufunc, pick_low):
    def op(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras's name
        x = operand(data)
        v = as_array(x)
        ids, count = _segments(x, segment_ids, num_segments, sorted, name)
        info = np.finfo(v.dtype) if v.dtype.kind == "f" else np.iinfo(v.dtype)
        y = np.full((count,) + v.shape[ids.ndim:], info.min if pick_low else info.max, dtype=v.dtype)
        ufunc.at(y, ids, v)

        def vjp(g):  # to the rows that hold their segment's extreme; ties share it, as TensorFlow does
            hit = v == y[ids]
            ties = np.zeros(y.shape, dtype=v.dtype)
            np.add.at(ties, ids, hit)
            return (hit * g[ids] / np.maximum(ties[ids], 1),)

        return record(y, (x,), vjp)

    op.__name__ = name
    op.__doc__ = (f"The {name[8:]}ima of ``data``'s rows per segment (the dtype's "
                  f"{'lowest' if pick_low else 'highest'} value for an empty segment). The gradient goes to "
                  f"the rows that hold the extreme, shared among ties.")
    return op


segment_max = _segment_extreme("segment_max", np.maximum, pick_low=True)
segment_min = _segment_extreme("segment_min", np.minimum, pick_low=False)


def segment_prod(data, segment_ids, num_segments=None, sorted=False):  # noqa: A002 - Keras's name
    """The products of ``data``'s rows per segment (1 for an empty segment). The gradient of a row is the
    product of the other rows of its segment (formed one row at a time, so zeros are exact)."""
    x = operand(data)
    v = as_array(x)
    ids, count = _segments(x, segment_ids, num_segments, sorted, "segment_prod")
    y = np.ones((count,) + v.shape[ids.ndim:], dtype=v.dtype)
    np.multiply.at(y, ids, v)

    def vjp(g):
        rows = v.reshape((-1,) + v.shape[ids.ndim:])
        flat_ids = ids.reshape(-1)
        dx = np.empty_like(rows)
        for i, s in enumerate(flat_ids):
            others = np.ones_like(rows[0])
            for j in np.flatnonzero(flat_ids == s):
                if j != i:
                    others = others * rows[j]
            dx[i] = others * g[s]
        return (dx.reshape(v.shape),)

    return record(y, (x,), vjp)


__all__ = ["erf", "erfc", "erfinv", "top_k", "in_top_k", "segment_sum", "segment_max", "segment_min",
           "segment_prod", "logsumexp", "rsqrt", "logdet"]
