"""Ops that pick elements: ``where``, ``maximum``, ``minimum``, ``clip``. The gradient goes to the argument
each element was taken from.

Ties follow TensorFlow (Keras's default backend): ``maximum(x1, x2)`` sends the whole gradient to ``x1``
where ``x1 >= x2``, ``minimum`` where ``x1 <= x2``; ``clip`` passes it to ``x`` where
``x_min <= x <= x_max`` (the bounds included) and to a bound where ``x`` lies strictly beyond it
(with crossed bounds, to both, as TensorFlow does).
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.arithmetic import _pair
from rnnlab.ops.checks import names_shapes
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.shapes import broadcast_to, reshape, take_along_axis
from rnnlab.ops.tensor import operand, record


@names_shapes("condition", "x1", "x2")
def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (all three broadcast). With only ``condition``: the
    indices of its nonzero entries, one int array per axis, as ``nonzero``."""
    c = as_array(operand(condition)).astype(bool, copy=False)
    if x1 is None and x2 is None:
        return nonzero(c)
    if x1 is None or x2 is None:
        raise ValueError("ops.where: `x1` and `x2` must both be given or both be None; received "
                         f"x1={'None' if x1 is None else 'an array'}, x2={'None' if x2 is None else 'an array'}.")
    x1, x2, a, b = _pair(x1, x2)
    y = np.where(c, a, b)
    zero = np.zeros((), dtype=y.dtype)
    return record(y, (x1, x2), lambda g: (np.where(c, g, zero), np.where(c, zero, g)))


def nonzero(x):
    """The indices of ``x``'s nonzero entries: a tuple of int32 arrays, one per axis."""
    return tuple(i.astype("int32") for i in np.nonzero(as_array(operand(x))))


@names_shapes("x1", "x2")
def maximum(x1, x2):
    x1, x2, a, b = _pair(x1, x2)
    first = a >= b  # ties send the gradient to x1, as TensorFlow does
    return record(np.where(first, a, b), (x1, x2), lambda g: (g * first, g * ~first))


@names_shapes("x1", "x2")
def minimum(x1, x2):
    x1, x2, a, b = _pair(x1, x2)
    first = a <= b  # ties send the gradient to x1, as TensorFlow does
    return record(np.where(first, a, b), (x1, x2), lambda g: (g * first, g * ~first))


def _nan_aware(name, pick):
    def op(x1, x2):
        x1, x2, a, b = _pair(x1, x2)
        y = pick(a, b)  # NumPy's fmax/fmin: a NaN loses to a number
        first = (y == a) | np.isnan(b)  # ties go to x1, as TensorFlow's maximum/minimum
        return record(y, (x1, x2), lambda g: (g * first, g * ~first))

    op.__name__ = name
    op.__doc__ = (f"Elementwise {name[1:]}imum where a NaN loses to a number (NaN only where both are). The "
                  f"gradient goes to the argument picked, to ``x1`` at ties.")
    return names_shapes("x1", "x2")(op)


fmax = _nan_aware("fmax", np.fmax)
fmin = _nan_aware("fmin", np.fmin)


def select(condlist, choicelist, default=0):
    """For each element, the entry of the first ``choicelist`` array whose ``condlist`` condition holds, else
    ``default`` (all broadcast together). The gradient goes to the array each element was taken from."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"ops.select: `condlist` and `choicelist` must have the same length; received "
                         f"{len(condlist)} conditions and {len(choicelist)} choices.")
    if not condlist:
        raise ValueError("ops.select: `condlist` must hold at least one condition; received an empty list.")
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        out = where(cond, choice, out)
    shape = np.broadcast_shapes(*(np.shape(as_array(operand(v))) for v in condlist + choicelist + [default]))
    return out if np.shape(as_array(out)) == shape else broadcast_to(out, shape)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN replaced by ``nan`` and infinities by ``posinf``/``neginf`` (the dtype's largest and
    lowest values by default); integers are returned as they are. The gradient passes where nothing was replaced."""
    x = operand(x)
    v = as_array(x)
    if v.dtype.kind != "f":
        return x
    info = np.finfo(v.dtype)
    y = np.nan_to_num(v, nan=nan, posinf=info.max if posinf is None else posinf,
                      neginf=info.min if neginf is None else neginf)
    finite = np.isfinite(v)
    return record(y, (x,), lambda g: (g * finite,))


@names_shapes("x", "x_min", "x_max")
def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]`` elementwise; the result keeps ``x``'s dtype (booleans become int32)."""
    x, lo, hi = operand(x), operand(x_min), operand(x_max)
    v = as_array(x)
    dtype = "int32" if v.dtype == bool else v.dtype
    v = v.astype(dtype, copy=False)
    lo_v, hi_v = as_array(lo, dtype), as_array(hi, dtype)
    below, above = v < lo_v, v > hi_v
    y = np.minimum(np.maximum(v, lo_v), hi_v)
    inside = ~(below | above)
    return record(y, (x, lo, hi), lambda g: (g * inside, g * below, g * above))


def sort(x, axis=-1):
    """``x`` sorted along ``axis`` (flattened for None); the gradient goes back to where each entry came from."""
    x = operand(x)
    if axis is None:
        x, axis = reshape(x, -1), 0
    order = np.argsort(as_array(x), axis=axis, kind="stable")
    return take_along_axis(x, order, axis=axis)


def argsort(x, axis=-1):
    """The int32 indices that sort ``x`` along ``axis`` (flattened for None); equal values keep their order."""
    v = as_array(operand(x))
    if v.ndim == 0:
        return np.zeros(1, dtype="int32")
    return np.argsort(v.reshape(-1) if axis is None else v, axis=0 if axis is None else axis,
                      kind="stable").astype("int32")


def _band(x, k, lower):
    x = operand(x)
    v = as_array(x)
    rows, cols = v.shape[-2:]
    keep = np.tri(rows, cols, k=int(k), dtype=bool)
    keep = keep if lower else ~np.tri(rows, cols, k=int(k) - 1, dtype=bool)
    return record(np.where(keep, v, np.zeros((), v.dtype)), (x,), lambda g: (g * keep,))


def tril(x, k=0):
    """``x`` with the entries above the ``k``-th diagonal (of its last two axes) set to 0."""
    return _band(x, k, lower=True)


def triu(x, k=0):
    """``x`` with the entries below the ``k``-th diagonal (of its last two axes) set to 0."""
    return _band(x, k, lower=False)


__all__ = ["where", "nonzero", "maximum", "minimum", "fmax", "fmin", "select", "nan_to_num", "clip", "sort",
           "argsort", "tril", "triu"]
