"""Unary elementwise maths, each op's backward beside its forward (derivatives from the saved result where
that is exact, as ``exp``'s is ``y``)."""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.tensor import Tensor, operand, record


def _float_operand(x, int64_to_float64=False):
    """``x`` on the record and its array; integers and booleans become ``floatx()`` as Keras's float maths does
    (int64 becomes float64 with ``int64_to_float64``, as a few of Keras's ops do)."""
    x = operand(x)
    value = x.value if type(x) is Tensor else x
    if type(value) is not np.ndarray or value.dtype.kind != "f":
        value = as_array(value)
        if value.dtype.kind != "f":
            wide = int64_to_float64 and value.dtype == np.int64
            value = value.astype("float64" if wide else backend.floatx())
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


arccosh = _smooth("arccosh", np.arccosh, lambda v, y: 1 / np.sqrt(v * v - 1))
sinc = _smooth("sinc", np.sinc, lambda v, y: np.where(
    v == 0, 0, (np.cos(np.pi * v) - y) / np.where(v == 0, 1, v)))  # d/dv sin(pi v)/(pi v); 0 at v = 0


def fabs(x):
    """``|x|`` as a float (integers and booleans become ``floatx()``); the gradient at 0 is 0."""
    x, v = _float_operand(x)
    return record(np.abs(v), (x,), lambda g: (g * np.sign(v),))


def cbrt(x):
    """The real cube root (negative for negative ``x``); int64 gives float64. Its derivative ``1 / (3 y^2)``
    is infinite at 0."""
    x, v = _float_operand(x, int64_to_float64=True)
    y = np.cbrt(v)
    return record(y, (x,), lambda g: (g / (3 * y * y),))


def _scaled(name, factor):
    def op(x):
        x, v = _float_operand(x, int64_to_float64=True)
        scale = v.dtype.type(factor)
        return record(v * scale, (x,), lambda g: (g * scale,))

    op.__name__ = name
    op.__doc__ = f"``x`` times {factor!r}; int64 gives float64, other integers ``floatx()``."
    return op


deg2rad = _scaled("deg2rad", np.pi / 180)
rad2deg = _scaled("rad2deg", 180 / np.pi)


def signbit(x):
    """Whether the sign bit of ``x`` is set (``-0.0`` included): a boolean array, no gradient."""
    v = as_array(operand(x))
    return np.zeros(v.shape, bool) if v.dtype == bool else np.signbit(v)


def _bessel_i1(v):
    """The modified Bessel function of the first kind, order 1 (the derivative of ``i0``), from the
    trapezoid rule on ``(1/pi) int_0^pi exp(v cos t) cos t dt``, exact to rounding for a periodic integrand."""
    t = (np.arange(256) + 0.5) * (np.pi / 256)  # (256,) midpoints on [0, pi]
    wide = np.asarray(v, dtype="float64")[..., None]
    return np.mean(np.exp(wide * np.cos(t)) * np.cos(t), axis=-1).astype(v.dtype)


def i0(x):
    """The modified Bessel function of the first kind, order 0; its derivative is ``i1``. int64 gives float64."""
    x, v = _float_operand(x, int64_to_float64=True)
    y = np.i0(v).astype(v.dtype)
    return record(y, (x,), lambda g: (g * _bessel_i1(v),))


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
           "arcsinh", "arctanh", "floor", "ceil", "round", "trunc", "arccosh", "sinc", "fabs", "cbrt", "deg2rad",
           "rad2deg", "signbit", "i0"]
