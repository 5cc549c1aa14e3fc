"""Comparisons and logic: boolean results, which carry no gradient."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.arithmetic import _pair
from rnnlab.ops.checks import names_shapes
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.tensor import operand


def _compare(fn):
    def op(x1, x2):
        _, _, a, b = _pair(x1, x2)
        return fn(a, b)

    op.__name__ = fn.__name__
    op.__doc__ = f"Elementwise ``{fn.__name__}`` of two broadcast arguments (a boolean array)."
    return names_shapes("x1", "x2")(op)


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)


def logical_and(x1, x2):
    return np.logical_and(as_array(operand(x1)), as_array(operand(x2)))


def logical_or(x1, x2):
    return np.logical_or(as_array(operand(x1)), as_array(operand(x2)))


def logical_xor(x1, x2):
    return np.logical_xor(as_array(operand(x1)), as_array(operand(x2)))


def logical_not(x):
    return np.logical_not(as_array(operand(x)))


def isnan(x):
    return np.isnan(as_array(operand(x)))


def isinf(x):
    return np.isinf(as_array(operand(x)))


def isfinite(x):
    return np.isfinite(as_array(operand(x)))


__all__ = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
           "logical_xor", "logical_not", "isnan", "isinf", "isfinite"]
