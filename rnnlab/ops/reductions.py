"""Reductions over axes (``sum``, ``mean``, ``max``... ``logsumexp``, ``std``), scans (``cumsum``,
``cumprod``) and their inverse ``diff``, each backward beside its forward.

``axis`` is None (every axis), an int or a tuple of ints; ``keepdims`` keeps the reduced axes with size 1. A
reduction's backward puts the output's gradient back on the reduced axes and broadcasts it over them. Dtypes
are Keras's: ``sum`` and ``prod`` of bool/int8/int16 give int32 (uint8/uint16: uint32), ``mean``, ``std`` and
``var`` of integers give ``floatx()``, ``argmax``/``argmin``/``count_nonzero`` give int32.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.arithmetic import getitem, subtract
from rnnlab.ops.checks import normalize_axis
from rnnlab.ops.comparison import not_equal
from rnnlab.ops.dtypes import as_array, result_type, standardize_dtype
from rnnlab.ops.tensor import operand, record

_WIDER = {np.dtype(k): v for k, v in
          {"bool": "int32", "int8": "int32", "int16": "int32", "uint8": "uint32", "uint16": "uint32"}.items()}


def _axes(axis, ndim, op):
    """``axis`` as a tuple of non-negative ints (every axis for None)."""
    return tuple(range(ndim)) if axis is None else normalize_axis(axis, ndim, op)


def _spread(g, shape, axes, keepdims):
    """The gradient of a reduction over ``axes``, broadcast back to the input's ``shape``."""
    if not keepdims and axes:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _float_value(x):
    v = as_array(x)
    return v if v.dtype.kind == "f" else v.astype(backend.floatx())


def sum(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    x = operand(x)
    v = as_array(x)
    v = v.astype(_WIDER.get(v.dtype, v.dtype), copy=False)
    axes = _axes(axis, v.ndim, "sum")
    y = np.sum(v, axis=axes, keepdims=keepdims, dtype=v.dtype)  # NumPy would widen small ints to int64
    return record(y, (x,), lambda g: (_spread(g, v.shape, axes, keepdims),))


def mean(x, axis=None, keepdims=False):
    """The mean; integers and booleans average to ``floatx()``, float16 is summed in float32."""
    x = operand(x)
    v = as_array(x)
    result = v.dtype if v.dtype.kind == "f" else result_type(v, backend.floatx())
    compute = result_type(v, "float32")
    axes = _axes(axis, v.ndim, "mean")
    y = np.mean(v.astype(compute, copy=False), axis=axes, keepdims=keepdims).astype(result, copy=False)
    count = int(np.prod([v.shape[a] for a in axes]))
    return record(y, (x,), lambda g: (_spread(g / count, v.shape, axes, keepdims),))


def _extreme(name, pick):
    def op(x, axis=None, keepdims=False, initial=None):
        x = operand(x)
        v = as_array(x)
        axes = _axes(axis, v.ndim, name)
        if v.size == 0 and initial is None:
            raise ValueError(f"ops.{name}: cannot compute the {name} of an empty tensor (shape {v.shape}).")
        y = pick(v, axis=axes, keepdims=True)
        if initial is not None:
            y = (np.maximum if name == "max" else np.minimum)(y, np.asarray(initial, dtype=v.dtype))
        out = y if keepdims else np.squeeze(y, axis=axes)

        def vjp(g):
            hit = v == y  # ties share the gradient equally, as TensorFlow does
            count = np.sum(hit, axis=axes, keepdims=True)
            g = g if keepdims else np.expand_dims(g, axes)
            return (hit * (g / np.maximum(count, 1)),)

        return record(out, (x,), vjp)

    op.__name__ = name
    op.__doc__ = (f"The {name}imum over ``axis`` (booleans: ``{'any' if name == 'max' else 'all'}``), at least "
                  f"``initial`` when given. Tied elements share the gradient equally.")
    return op


max = _extreme("max", np.max)  # noqa: A001 - Keras's name
min = _extreme("min", np.min)  # noqa: A001 - Keras's name
amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis``. Its gradient is, for each element, the product of the others (exclusive
    products from both sides, so zeros are handled exactly)."""
    x = operand(x)
    v = as_array(x)
    v = v.astype(_WIDER.get(v.dtype, v.dtype) if dtype is None else standardize_dtype(dtype), copy=False)
    axes = _axes(axis, v.ndim, "prod")
    y = np.prod(v, axis=axes, keepdims=keepdims, dtype=v.dtype)

    def vjp(g):
        rest = [a for a in range(v.ndim) if a not in axes]
        moved = np.transpose(v, rest + list(axes))  # reduced axes last...
        flat = moved.reshape(moved.shape[:len(rest)] + (-1,))  # ...flattened into one: (..., n)
        ones = np.ones(flat.shape[:-1] + (1,), dtype=v.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)  # product of those before
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]  # ...after
        others = (left * right).reshape(moved.shape)
        others = np.transpose(others, np.argsort(rest + list(axes)))
        return (others * _spread(g, v.shape, axes, keepdims),)

    return record(y, (x,), vjp)


def _arg(name, fn):
    def op(x, axis=None, keepdims=False):
        v = as_array(operand(x))
        if axis is None:
            y = np.asarray(fn(v.reshape(-1)))
            return y.reshape((1,) * v.ndim).astype("int32") if keepdims else y.astype("int32")
        axis = normalize_axis(axis, v.ndim, name)[0]
        return fn(v, axis=axis, keepdims=keepdims).astype("int32")

    op.__name__ = name
    op.__doc__ = f"The int32 index of the first {name[3:]}imum along ``axis`` (of the flattened array for None)."
    return op


argmax = _arg("argmax", np.argmax)
argmin = _arg("argmin", np.argmin)


def _scan_input(x, axis, dtype, op):
    """The value to scan (flattened for ``axis=None``, booleans as int32), and its axis."""
    v = as_array(x) if dtype is None else as_array(x).astype(standardize_dtype(dtype))
    if v.dtype == bool:
        v = v.astype("int32")
    if axis is None:
        return v.reshape(-1), 0
    return v, normalize_axis(axis, v.ndim, op)[0]


def cumsum(x, axis=None, dtype=None):
    """Running sums along ``axis`` (of the flattened array for None); the gradient is the reversed running sum."""
    x = operand(x)
    v, axis_ = _scan_input(x, axis, dtype, "cumsum")
    shape = np.shape(as_array(x))
    y = np.cumsum(v, axis=axis_, dtype=v.dtype)

    def vjp(g):
        back = np.flip(np.cumsum(np.flip(g, axis_), axis=axis_), axis_)
        return (back.reshape(shape),)

    return record(y, (x,), vjp)


def cumprod(x, axis=None, dtype=None):
    """Running products along ``axis``. The gradient of ``y_j = x_0 ... x_j`` w.r.t. ``x_i`` is the product of
    the other factors; it is formed as ``sum_{j>=i} g_j y_j / x_i`` where no factor is zero, and factor by
    factor where one is."""
    x = operand(x)
    v, axis_ = _scan_input(x, axis, dtype, "cumprod")
    shape = np.shape(as_array(x))
    y = np.cumprod(v, axis=axis_, dtype=v.dtype)

    def vjp(g):
        def reverse_cumsum(a):
            return np.flip(np.cumsum(np.flip(a, axis_), axis=axis_), axis_)

        if np.all(v != 0):
            return ((reverse_cumsum(g * y) / v).reshape(shape),)
        back = np.zeros_like(y)
        n = v.shape[axis_]
        for i in range(n):  # x_i replaced by 1: the running products of the others
            others = v.copy()
            np.moveaxis(others, axis_, 0)[i] = 1
            partial = np.moveaxis(np.cumprod(others, axis=axis_) * g, axis_, 0)
            np.moveaxis(back, axis_, 0)[i] = partial[i:].sum(axis=0)
        return (back.reshape(shape),)

    return record(y, (x,), vjp)


def diff(a, n=1, axis=-1):
    """The ``n``-th differences of neighbours along ``axis`` (``a[1:] - a[:-1]``, ``n`` times; for booleans,
    whether neighbours differ), the inverse of ``cumsum``. The gradient flows through the subtractions."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"ops.diff: argument `n` must be a non-negative int; received n={n!r}.")
    a = operand(a)
    v = as_array(a)
    if v.ndim == 0:
        raise ValueError("ops.diff: `a` must have at least one axis; received a scalar.")
    if not -v.ndim <= axis < v.ndim:
        raise ValueError(f"ops.diff: argument `axis` must lie in [-{v.ndim}, {v.ndim}) for a of shape {v.shape}; "
                         f"received axis={axis}.")
    lead = (slice(None),) * (axis % v.ndim)
    for _ in range(int(n)):
        later, earlier = getitem(a, lead + (slice(1, None),)), getitem(a, lead + (slice(None, -1),))
        a = not_equal(later, earlier) if v.dtype == bool else subtract(later, earlier)
    return a


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed after subtracting the maximum; its gradient is the softmax."""
    x = operand(x)
    v = _float_value(x)
    axes = _axes(axis, v.ndim, "logsumexp")
    top = np.max(v, axis=axes, keepdims=True) if v.size else np.zeros((1,) * v.ndim, v.dtype)
    top = np.where(np.isfinite(top), top, 0)
    y = np.log(np.sum(np.exp(v - top), axis=axes, keepdims=True)) + top
    out = y if keepdims else np.squeeze(y, axis=axes)
    return record(out, (x,), lambda g: (np.exp(v - y) * (g if keepdims else np.expand_dims(g, axes)),))


def var(x, axis=None, keepdims=False):
    """The population variance (divided by the count); integers give ``floatx()``."""
    x = operand(x)
    v = _float_value(x)
    result = v.dtype
    v = v.astype(result_type(v, "float32"), copy=False)
    axes = _axes(axis, v.ndim, "var")
    centred = v - np.mean(v, axis=axes, keepdims=True)
    count = int(np.prod([v.shape[a] for a in axes]))
    y = np.mean(centred * centred, axis=axes, keepdims=keepdims).astype(result, copy=False)
    return record(y, (x,), lambda g: (_spread(g, v.shape, axes, keepdims) * centred * (2 / count),))


def std(x, axis=None, keepdims=False):
    """The population standard deviation; integers give ``floatx()``."""
    x = operand(x)
    v = _float_value(x)
    axes = _axes(axis, v.ndim, "std")
    centred = v - np.mean(v, axis=axes, keepdims=True)
    count = int(np.prod([v.shape[a] for a in axes]))
    s = np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True))
    out = s if keepdims else np.squeeze(s, axis=axes)

    def vjp(g):  # d std / dx = (x - mean) / (count * std); taken as 0 where every entry equals the mean
        scale = np.divide(1.0, count * s, out=np.zeros_like(s), where=s > 0)
        return (_spread(g, v.shape, axes, keepdims) * centred * scale,)

    return record(out, (x,), vjp)


def any(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    v = as_array(operand(x))
    return np.any(v, axis=_axes(axis, v.ndim, "any"), keepdims=keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001 - Keras's name
    v = as_array(operand(x))
    return np.all(v, axis=_axes(axis, v.ndim, "all"), keepdims=keepdims)


def count_nonzero(x, axis=None):
    v = as_array(operand(x))
    return np.asarray(np.count_nonzero(v, axis=_axes(axis, v.ndim, "count_nonzero"))).astype("int32")


__all__ = ["sum", "mean", "max", "min", "amax", "amin", "prod", "argmax", "argmin", "cumsum", "cumprod", "diff",
           "logsumexp", "var", "std", "any", "all", "count_nonzero"]
