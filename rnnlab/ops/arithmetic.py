"""Binary arithmetic, ``matmul`` and indexing, each with its backward beside it.

Arguments broadcast as in NumPy; :func:`rnnlab.ops.tensor.backward` sums a broadcast argument's gradient back
to its shape. Dtypes follow Keras's promotion (:func:`rnnlab.ops.dtypes.result_type`).
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import names_shapes
from rnnlab.ops.dtypes import as_array, promoted_arrays, result_type
from rnnlab.ops.tensor import RowProduct, Tensor, operand, record, unwrap


def _pair(x1, x2):
    """Both arguments on the record, and their arrays in the promoted dtype."""
    if type(x1) is not Tensor:
        x1 = operand(x1)
    if type(x2) is not Tensor:
        x2 = operand(x2)
    if type(x1) is Tensor and type(x2) is Tensor:  # the common case, on the record: arrays of one dtype?
        a, b = x1.value, x2.value
        if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype is b.dtype:
            return x1, x2, a, b
    a, b = promoted_arrays(x1, x2)
    return x1, x2, a, b


def _add_vjp(g):
    return g, g


def _subtract_vjp(g):
    return g, -g


@names_shapes("x1", "x2")
def add(x1, x2):
    x1, x2, a, b = _pair(x1, x2)
    return record(a + b, (x1, x2), _add_vjp)


@names_shapes("x1", "x2")
def subtract(x1, x2):
    x1, x2, a, b = _pair(x1, x2)
    return record(a - b, (x1, x2), _subtract_vjp)


@names_shapes("x1", "x2")
def multiply(x1, x2):
    x1, x2, a, b = _pair(x1, x2)
    return record(a * b, (x1, x2), lambda g: (g * b, g * a))


@names_shapes("x1", "x2")
def divide(x1, x2):
    """``x1 / x2``; integers divide to ``floatx()`` as in Keras."""
    x1, x2 = operand(x1), operand(x2)
    dtype = result_type(x1, x2, 1.0)
    a, b = as_array(x1, dtype), as_array(x2, dtype)
    y = a / b
    return record(y, (x1, x2), lambda g: (g / b, -g * y / b))  # d(a/b)/db = -a/b^2 = -y/b


true_divide = divide


@names_shapes("x1", "x2")
def floor_divide(x1, x2):
    """``x1 // x2`` (no gradient: it is piecewise constant)."""
    _, _, a, b = _pair(x1, x2)
    return a // b


@names_shapes("x1", "x2")
def mod(x1, x2):
    """``x1 % x2`` with the sign of ``x2``; the gradient is 1 w.r.t. ``x1`` and ``-floor(x1 / x2)`` w.r.t. ``x2``."""
    x1, x2, a, b = _pair(x1, x2)
    return record(np.mod(a, b), (x1, x2), lambda g: (g, -g * np.floor_divide(a, b)))


@names_shapes("x1", "x2")
def power(x1, x2):
    """``x1 ** x2``. The gradient w.r.t. the exponent uses ``log(x1)`` and is taken as 0 where ``x1 == 0``."""
    x1, x2, a, b = _pair(x1, x2)
    y = np.power(a, b)

    def vjp(g):
        d_base = g * b * np.power(a, b - 1) if isinstance(x1, Tensor) else None
        d_exp = None
        if isinstance(x2, Tensor):
            with np.errstate(divide="ignore", invalid="ignore"):
                d_exp = g * y * np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0)
        return d_base, d_exp

    return record(y, (x1, x2), vjp)


def negative(x):
    x = operand(x)
    return record(-as_array(x), (x,), lambda g: (-g,))


@names_shapes("x1", "x2", verb="multiply")
def matmul(x1, x2):
    """Matrix product with NumPy's ``matmul`` rules (1-D arguments and batch broadcasting)."""
    x1, x2, a, b = _pair(x1, x2)
    y = np.matmul(a, b)

    def vjp(g):
        if b.ndim == 2 and a.ndim >= 2:  # (..., m, n) @ (n, p): the common case, a layer's input times a weight
            da = None
            if isinstance(x1, Tensor):  # g @ b^T; for a 2-D g, as (b @ g^T)^T: BLAS reads both operands in order
                da = np.matmul(b, g.T).T if g.ndim == 2 else np.matmul(g, b.T)  # (..., m, n)
            # d b = sum over every row of a and g: kept as factors, so a weight used at every step of a sequence
            # gets one product over all steps (rnnlab.ops.tensor.RowProduct)
            db = RowProduct(a.reshape(-1, a.shape[-1]), g.reshape(-1, g.shape[-1])) if isinstance(x2, Tensor) \
                else None  # (n, p)
            return da, db
        if a.ndim == 1 and b.ndim == 1:
            return g * b, g * a  # an inner product
        a2 = a[None, :] if a.ndim == 1 else a  # a vector is a (1, n) row on the left...
        b2 = b[:, None] if b.ndim == 1 else b  # ...and an (n, 1) column on the right
        if a.ndim == 1:
            g = np.expand_dims(g, -2)  # the row axis the product dropped
        if b.ndim == 1:
            g = np.expand_dims(g, -1)  # the column axis the product dropped
        da = np.matmul(g, np.swapaxes(b2, -1, -2)) if isinstance(x1, Tensor) else None  # (..., m, n)
        db = np.matmul(np.swapaxes(a2, -1, -2), g) if isinstance(x2, Tensor) else None  # (..., n, p)
        if da is not None and a.ndim == 1:
            da = da.reshape(-1, a.shape[0]).sum(axis=0)
        if db is not None and b.ndim == 1:
            db = db.reshape(-1, b.shape[0]).sum(axis=0)
        return da, db  # batch axes that broadcasting added are summed by the caller

    return record(y, (x1, x2), vjp)


def getitem(x, key):
    """``x[key]`` for any NumPy index (slices, integers, ``None``, ellipsis, integer and boolean arrays).
    The gradient scatters back, adding where an integer array picks an element more than once."""
    x = operand(x)
    parts = key if type(key) is tuple else (key,)
    basic = True  # each element picked at most once: slices, ints, None, ellipsis
    for k in parts:
        if not (type(k) is slice or type(k) is int or k is None or k is Ellipsis):
            basic = False
            break
    if not basic:
        key = tuple(unwrap(k) for k in key) if isinstance(key, tuple) else unwrap(key)
        basic = all(k is None or k is Ellipsis or type(k) in (int, slice) or isinstance(k, np.integer)
                    for k in (key if isinstance(key, tuple) else (key,)))
    value = x.value if type(x) is Tensor else as_array(x)
    y = value[key]

    def vjp(g):
        dx = np.zeros(value.shape, value.dtype)
        if basic:
            dx[key] = g  # a view of x: the gradient lands where the elements came from
        else:
            np.add.at(dx, key, g)
        return (dx,)

    return record(y, (x,), vjp)


__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "power", "negative",
           "matmul"]
