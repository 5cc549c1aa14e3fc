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


def _close(x1, x2, rtol, atol, equal_nan, equal_infinities):
    _, _, a, b = _pair(x1, x2)
    if a.dtype.kind != "f":
        return a == b  # integers and booleans: exact equality, as Keras
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.abs(b)
    if equal_infinities:
        close = close | (a == b)
    return close | (np.isnan(a) & np.isnan(b)) if equal_nan else close


@names_shapes("x1", "x2")
def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether ``|x1 - x2| <= atol + rtol * |x2|`` elementwise (NaNs equal each other only with ``equal_nan``;
    equal infinities are not close, as in Keras's TensorFlow backend)."""
    return _close(x1, x2, rtol, atol, equal_nan, equal_infinities=False)


@names_shapes("x1", "x2")
def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every pair is close as in :func:`isclose` or equal (infinities included): a boolean scalar."""
    return np.all(_close(x1, x2, rtol, atol, equal_nan, equal_infinities=True))


__all__ = ["isclose", "allclose", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite"]
