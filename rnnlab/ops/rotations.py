"""Ops that move entries around an axis or a plane: ``roll``, ``fliplr``, ``flipud``, ``rot90``. Each backward
moves the gradient back the opposite way."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import normalize_axis
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.shapes import _ints, flip
from rnnlab.ops.tensor import operand, record


def roll(x, shift, axis=None):
    """``x``'s entries shifted by ``shift`` along ``axis`` (an int or a tuple, with one shift each), wrapping
    around; with ``axis=None`` the flattened array rolls and keeps ``x``'s shape."""
    x = operand(x)
    v = as_array(x)
    shifts = _ints(shift, "shift", "roll")
    if axis is None:
        if len(shifts) != 1:
            raise ValueError(f"ops.roll: with axis=None, `shift` must be one int; received shift={shift!r}.")
        y = np.roll(v, shifts[0])
        return record(y, (x,), lambda g: (np.roll(g, -shifts[0]),))
    axes = tuple(a % max(v.ndim, 1) for a in _ints(axis, "axis", "roll"))
    for a in _ints(axis, "axis", "roll"):
        normalize_axis(a, v.ndim, "roll")
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise ValueError(f"ops.roll: `shift` and `axis` must have as many entries; received shift={shift!r}, "
                         f"axis={axis!r}.")
    y = np.roll(v, shifts, axes)
    return record(y, (x,), lambda g: (np.roll(g, tuple(-s for s in shifts), axes),))


def _at_least(x, ndim, op):
    v = as_array(operand(x))
    if v.ndim < ndim:
        raise ValueError(f"ops.{op}: x must have at least {ndim} axes; received x of shape {v.shape}.")


def fliplr(x):
    """``x`` reversed along its second axis (left and right)."""
    _at_least(x, 2, "fliplr")
    return flip(x, axis=1)


def flipud(x):
    """``x`` reversed along its first axis (up and down)."""
    _at_least(x, 1, "flipud")
    return flip(x, axis=0)


def rot90(array, k=1, axes=(0, 1)):
    """``array`` turned ``k`` quarter turns in the plane of ``axes``, from the first axis towards the second."""
    x = operand(array)
    v = as_array(x)
    if v.ndim < 2:
        raise ValueError(f"ops.rot90: `array` must have at least 2 axes; received shape {v.shape}.")
    plane = _ints(axes, "axes", "rot90")
    if len(plane) != 2 or len(set(normalize_axis(plane, v.ndim, "rot90", "axes"))) != 2:
        raise ValueError(f"ops.rot90: argument `axes` must name two different axes; received axes={axes!r}.")
    k = int(k)
    y = np.rot90(v, k, plane)
    return record(y, (x,), lambda g: (np.rot90(g, -k, plane),))


__all__ = ["roll", "fliplr", "flipud", "rot90"]
