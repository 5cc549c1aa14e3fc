"""Binary elementwise maths beyond arithmetic (``arctan2``, ``hypot``, ``logaddexp``, ``fmod``, ``heaviside``,
``divide_no_nan``, ``ldexp``, ``nextafter``), each backward beside its forward.

Arguments broadcast as in NumPy (a broadcast argument's gradient is summed back by the record). Dtypes are
Keras's: most of these give a float (integers become ``floatx()``), ``hypot`` and ``heaviside`` turn int64 into
float64, and ``fmod`` keeps integers.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.checks import names_shapes
from rnnlab.ops.dtypes import _kind_of, as_array, result_type
from rnnlab.ops.tensor import operand, record


def _float_pair(x1, x2):
    """Both arguments on the record and their arrays in Keras's ``result_type(x1, x2, float)``."""
    x1, x2 = operand(x1), operand(x2)
    dtype = result_type(x1, x2, 1.0)
    return x1, x2, as_array(x1, dtype), as_array(x2, dtype)


def _wide_float_pair(x1, x2):
    """As :func:`_float_pair`, but int64 gives float64 and bool gives ``floatx()`` (``hypot``, ``heaviside``)."""
    x1, x2 = operand(x1), operand(x2)
    dtype = result_type(x1, x2)
    if dtype == "int64":
        dtype = "float64"
    elif np.dtype(dtype).kind != "f":
        dtype = backend.floatx()
    return x1, x2, as_array(x1, dtype), as_array(x2, dtype)


@names_shapes("x1", "x2")
def arctan2(x1, x2):
    """The angle of the point ``(x2, x1)``, in ``[-pi, pi]``; ``d/dx1 = x2 / r^2``, ``d/dx2 = -x1 / r^2``."""
    x1, x2, a, b = _float_pair(x1, x2)
    r2 = a * a + b * b
    return record(np.arctan2(a, b), (x1, x2), lambda g: (g * b / r2, -g * a / r2))


@names_shapes("x1", "x2")
def hypot(x1, x2):
    """``sqrt(x1^2 + x2^2)`` without overflow; the gradient ``(x1, x2) / hypot`` is 0 at the origin."""
    x1, x2, a, b = _wide_float_pair(x1, x2)
    y = np.hypot(a, b)
    safe = np.where(y == 0, 1, y)
    return record(y, (x1, x2), lambda g: (g * a / safe, g * b / safe))


@names_shapes("x1", "x2")
def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))`` computed stably; the gradients are ``exp(x1 - y)`` and ``exp(x2 - y)``."""
    x1, x2, a, b = _float_pair(x1, x2)
    y = np.logaddexp(a, b)
    return record(y, (x1, x2), lambda g: (g * np.exp(a - y), g * np.exp(b - y)))


@names_shapes("x1", "x2")
def logaddexp2(x1, x2):
    """``log2(2^x1 + 2^x2)`` computed stably; the gradients are ``2^(x1 - y)`` and ``2^(x2 - y)``."""
    x1, x2, a, b = _float_pair(x1, x2)
    y = np.logaddexp2(a, b)
    return record(y, (x1, x2), lambda g: (g * np.exp2(a - y), g * np.exp2(b - y)))


@names_shapes("x1", "x2")
def fmod(x1, x2):
    """The remainder of ``x1 / x2`` with the sign of ``x1`` (C's ``fmod``); integers stay integers (booleans
    become int32). The gradient is 1 w.r.t. ``x1`` and ``-trunc(x1 / x2)`` w.r.t. ``x2``."""
    x1, x2 = operand(x1), operand(x2)
    dtype = result_type(x1, x2)
    dtype = "int32" if dtype == "bool" else dtype
    a, b = as_array(x1, dtype), as_array(x2, dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.fmod(a, b)
    return record(y, (x1, x2), lambda g: (g, -g * np.trunc(a / b)))


@names_shapes("x1", "x2")
def heaviside(x1, x2):
    """The step function: 0 where ``x1 < 0``, 1 where ``x1 > 0``, ``x2`` where ``x1 == 0``. Only ``x2`` gets a
    gradient (where ``x1 == 0``)."""
    x1, x2, a, b = _wide_float_pair(x1, x2)
    y = np.heaviside(a, b)
    return record(y, (x1, x2), lambda g: (None, g * (a == 0)))


@names_shapes("x1", "x2")
def divide_no_nan(x1, x2):
    """``x1 / x2``, and 0 where ``x2 == 0`` (with no gradient there)."""
    x1, x2, a, b = _float_pair(x1, x2)
    zero = b == 0
    safe = np.where(zero, 1, b)
    y = np.where(zero, 0, a / safe).astype(a.dtype, copy=False)
    return record(y, (x1, x2), lambda g: (np.where(zero, 0, g / safe), np.where(zero, 0, -g * y / safe)))


@names_shapes("x1", "x2")
def ldexp(x1, x2):
    """``x1 * 2**x2`` for an integer exponent ``x2`` (a TypeError otherwise, as Keras); the gradient w.r.t.
    ``x1`` is ``2**x2``."""
    x1, x2 = operand(x1), operand(x2)
    if _kind_of(x2)[0] != 1:
        raise TypeError(f"ops.ldexp: argument `x2` (the exponent) must have an integer dtype; received "
                        f"dtype {np.asarray(as_array(x2)).dtype}.")
    dtype = result_type(x1, x2, 1.0)
    a = as_array(x1, dtype)
    scale = np.exp2(as_array(x2).astype(dtype))
    return record(a * scale, (x1, x2), lambda g: (g * scale, None))


@names_shapes("x1", "x2")
def nextafter(x1, x2):
    """The next float after ``x1`` towards ``x2``, taken in float64 and cast to the result dtype as Keras's
    TensorFlow backend does. Its gradient is 1 w.r.t. ``x1`` (the step is below rounding) and none w.r.t. ``x2``."""
    x1, x2 = operand(x1), operand(x2)
    dtype = result_type(x1, x2, 1.0)
    y = np.nextafter(as_array(x1, "float64"), as_array(x2, "float64")).astype(dtype)
    return record(y, (x1, x2), lambda g: (g, None))


__all__ = ["arctan2", "hypot", "logaddexp", "logaddexp2", "fmod", "heaviside", "divide_no_nan", "ldexp",
           "nextafter"]
