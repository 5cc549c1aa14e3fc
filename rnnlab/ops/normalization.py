"""Normalisations over axes: ``layer_normalization``, ``rms_normalization`` and ``batch_normalization``.

They are written with recorded ops (means, variances, ``rsqrt``, products), so their gradients are those ops';
float16 inputs are computed in float32 and cast back, as Keras does.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops import reductions
from rnnlab.ops.arithmetic import add, multiply, negative, subtract
from rnnlab.ops.checks import normalize_axis
from rnnlab.ops.dtypes import as_array, cast, result_type
from rnnlab.ops.elementwise import rsqrt, square
from rnnlab.ops.shapes import expand_dims, reshape
from rnnlab.ops.tensor import operand

EPSILON = 1e-7  # Keras's backend.epsilon()


def _compute(x):
    """``x`` cast to at least float32, and the dtype to cast the result back to."""
    x = operand(x)
    original = as_array(x).dtype.name
    return cast(x, result_type(as_array(x), "float32")), original


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with the moments over ``axis`` (an int or a list);
    ``gamma`` and ``beta`` have the shape of those axes. ``rms_scaling=True`` (deprecated in Keras) divides by
    ``sqrt(var + epsilon)`` without centring or ``beta``, as Keras does."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"ops.layer_normalization: unexpected keyword arguments {sorted(kwargs)}.")
    epsilon = EPSILON if epsilon is None else epsilon
    x, original = _compute(x)
    ndim = np.ndim(as_array(x))
    axes = list(normalize_axis(axis, ndim, "layer_normalization"))
    shape = [np.shape(as_array(x))[a] if a in axes else 1 for a in range(ndim)]

    def broadcast(v):  # a gamma/beta of the normalised axes' shape, placed on those axes
        if v is None:
            return None
        v = cast(v, as_array(x).dtype.name)
        return reshape(v, shape) if np.ndim(as_array(v)) != ndim and axes != [ndim - 1] else v

    gamma, beta = broadcast(gamma), broadcast(beta)
    variance = reductions.var(x, axis=axes, keepdims=True)
    inv = rsqrt(add(variance, epsilon))
    if rms_scaling:
        out = multiply(x, inv)
        return cast(out if gamma is None else multiply(out, gamma), original)
    if gamma is not None:
        inv = multiply(inv, gamma)
    shift = negative(multiply(reductions.mean(x, axis=axes, keepdims=True), inv))
    if beta is not None:
        shift = add(shift, beta)
    return cast(add(multiply(x, inv), shift), original)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """``x / sqrt(mean(x^2) + epsilon) * scale`` with the mean over ``axis``."""
    epsilon = EPSILON if epsilon is None else epsilon
    x, original = _compute(x)
    if np.ndim(as_array(x)) == 0:
        x = expand_dims(x, 0)
    axes = normalize_axis(axis, np.ndim(as_array(x)), "rms_normalization")
    out = multiply(x, rsqrt(add(reductions.mean(square(x), axis=axes, keepdims=True), epsilon)))
    if scale is not None:
        out = multiply(out, cast(scale, as_array(x).dtype.name))
    return cast(out, original)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset`` with the 1-D statistics laid along ``axis``."""
    x = operand(x)
    ndim = np.ndim(as_array(x))
    a = normalize_axis(axis, ndim, "batch_normalization")[0]
    size = np.shape(as_array(x))[a]

    def along(v, name):
        if v is None:
            return None
        v = operand(v)
        if np.shape(as_array(v)) != (size,) and a != ndim - 1:
            raise ValueError(f"ops.batch_normalization: `{name}` must be 1-D with the size of axis {axis} of x "
                             f"({size}); received shape {np.shape(as_array(v))}.")
        return v if a == ndim - 1 else reshape(v, [size if i == a else 1 for i in range(ndim)])

    mean, variance, offset, scale = (along(v, n) for v, n in
                                     ((mean, "mean"), (variance, "variance"), (offset, "offset"), (scale, "scale")))
    inv = rsqrt(add(variance, epsilon))
    if scale is not None:
        inv = multiply(inv, scale)
    shift = negative(multiply(mean, inv)) if offset is None else subtract(offset, multiply(mean, inv))
    return add(multiply(x, inv), shift)


__all__ = ["layer_normalization", "rms_normalization", "batch_normalization"]
