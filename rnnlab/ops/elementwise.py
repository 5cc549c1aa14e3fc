"""Unary elementwise maths, each op's backward beside its forward (derivatives from the saved result where
that is exact, as ``exp``'s is ``y``)."""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.tensor import operand, record


def _float_operand(x):
    """``x`` on the record and its array; integers and booleans become ``floatx()`` as Keras's float maths does."""
    x = operand(x)
    value = as_array(x)
    if value.dtype.kind != "f":
        value = value.astype(backend.floatx())
    return x, value


def exp(x):
    x, v = _float_operand(x)
    y = np.exp(v)
    return record(y, (x,), lambda g: (g * y,))


def log(x):
    x, v = _float_operand(x)
    return record(np.log(v), (x,), lambda g: (g / v,))


def log1p(x):
    x, v = _float_operand(x)
    return record(np.log1p(v), (x,), lambda g: (g / (1 + v),))


def expm1(x):
    x, v = _float_operand(x)
    y = np.expm1(v)
    return record(y, (x,), lambda g: (g * (y + 1),))


def sqrt(x):
    x, v = _float_operand(x)
    y = np.sqrt(v)
    return record(y, (x,), lambda g: (g / (2 * y),))


def rsqrt(x):
    x, v = _float_operand(x)
    y = 1 / np.sqrt(v)
    return record(y, (x,), lambda g: (-0.5 * g * y / v,))


def square(x):
    x = operand(x)
    v = as_array(x)
    return record(np.square(v), (x,), lambda g: (2 * g * v,))


def reciprocal(x):
    x, v = _float_operand(x)
    y = 1 / v
    return record(y, (x,), lambda g: (-g * y * y,))


def absolute(x):
    """``|x|``; the gradient at 0 is 0, as in Keras's backends."""
    x = operand(x)
    v = as_array(x)
    return record(np.abs(v), (x,), lambda g: (g * np.sign(v),))


abs = absolute  # noqa: A001 - Keras's name


def sign(x):
    return np.sign(as_array(operand(x)))


def sin(x):
    x, v = _float_operand(x)
    return record(np.sin(v), (x,), lambda g: (g * np.cos(v),))


def cos(x):
    x, v = _float_operand(x)
    return record(np.cos(v), (x,), lambda g: (-g * np.sin(v),))


def tanh(x):
    x, v = _float_operand(x)
    y = np.tanh(v)
    return record(y, (x,), lambda g: (g * (1 - y * y),))


__all__ = ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "absolute", "abs", "sign",
           "sin", "cos", "tanh"]
