"""``softmax`` and ``log_softmax`` over one or several axes, each backward beside its forward (the softmax's from
its saved output). They live below :mod:`rnnlab.ops.nn` so that ops built on them (attention) need not import
the whole ``nn`` family."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.elementwise import _float_operand
from rnnlab.ops.tensor import record


def _softmax_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if np.isscalar(axis) else axis))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` over ``axis`` (an int, a tuple, or None for every axis)."""
    x, v = _float_operand(x)
    axes = _softmax_axes(axis, v.ndim)
    e = np.exp(v - np.max(v, axis=axes, keepdims=True))
    y = e / np.sum(e, axis=axes, keepdims=True)
    return record(y, (x,), lambda g: (y * (g - np.sum(g * y, axis=axes, keepdims=True)),))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` over ``axis``."""
    x, v = _float_operand(x)
    axes = _softmax_axes(axis, v.ndim)
    z = v - np.max(v, axis=axes, keepdims=True)
    y = z - np.log(np.sum(np.exp(z), axis=axes, keepdims=True))
    return record(y, (x,), lambda g: (g - np.exp(y) * np.sum(g, axis=axes, keepdims=True),))


__all__ = ["softmax", "log_softmax"]
