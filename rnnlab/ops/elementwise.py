"""Unary elementwise maths, each op's backward beside its forward (derivatives from the saved result where
that is exact, as ``exp``'s is ``y``)."""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.tensor import Tensor, operand, record


def _float_operand(x):
    """``x`` on the record and its array; integers and booleans become ``floatx()`` as Keras's float maths does."""
    x = operand(x)
    value = x.value if type(x) is Tensor else x
    if type(value) is not np.ndarray or value.dtype.kind != "f":
        value = as_array(value)
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


def _smooth(name, fn, derivative):
    """A float op ``fn`` whose derivative is ``derivative(x, y)``."""
    def op(x):
        x, v = _float_operand(x)
        y = fn(v)
        return record(y, (x,), lambda g: (g * derivative(v, y),))

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; integers become ``floatx()``."
    return op


log2 = _smooth("log2", np.log2, lambda v, y: 1 / (v * np.log(2)))
log10 = _smooth("log10", np.log10, lambda v, y: 1 / (v * np.log(10)))
exp2 = _smooth("exp2", np.exp2, lambda v, y: y * np.log(2))
tan = _smooth("tan", np.tan, lambda v, y: 1 + y * y)
sinh = _smooth("sinh", np.sinh, lambda v, y: np.cosh(v))
cosh = _smooth("cosh", np.cosh, lambda v, y: np.sinh(v))
arcsin = _smooth("arcsin", np.arcsin, lambda v, y: 1 / np.sqrt(1 - v * v))
arccos = _smooth("arccos", np.arccos, lambda v, y: -1 / np.sqrt(1 - v * v))
arctan = _smooth("arctan", np.arctan, lambda v, y: 1 / (1 + v * v))
arcsinh = _smooth("arcsinh", np.arcsinh, lambda v, y: 1 / np.sqrt(v * v + 1))
arctanh = _smooth("arctanh", np.arctanh, lambda v, y: 1 / (1 - v * v))


def floor(x):
    """The largest integer not above ``x`` (as a float; no gradient: it is piecewise constant)."""
    return np.floor(_float_operand(x)[1])


def ceil(x):
    return np.ceil(_float_operand(x)[1])


def round(x, decimals=0):  # noqa: A001 - Keras's name
    """``x`` rounded to ``decimals`` places, halves to even; integers keep their dtype."""
    v = as_array(operand(x))
    if v.dtype.kind in "iub":
        if decimals >= 0:
            return v
        return (np.round(v.astype(backend.floatx()), decimals)).astype(v.dtype)
    return np.round(v, decimals)


def trunc(x):
    """``x`` rounded towards 0; integers and booleans are returned as they are."""
    v = as_array(operand(x))
    return v if v.dtype.kind in "iub" else np.trunc(v)


__all__ = ["exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "reciprocal", "absolute", "abs", "sign",
           "sin", "cos", "tanh", "log2", "log10", "exp2", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan",
           "arcsinh", "arctanh", "floor", "ceil", "round", "trunc"]
