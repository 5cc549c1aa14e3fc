"""Reductions that skip NaNs: ``nansum``, ``nanprod``, ``nanmean``, ``nanvar``, ``nanstd``, ``nanmax``,
``nanmin``, ``nanargmax``, ``nanargmin``, ``nancumsum``, ``nancumprod`` (the NaN-skipping quantiles live in
:mod:`rnnlab.ops.statistics`).

Each replaces the NaNs by the neutral value of its reduction with a recorded ``where`` and reduces with the
plain op, so a NaN entry gets no gradient and the others get the plain op's. Integers and booleans have no NaN:
they go to the plain op (``nanmean`` of integers is float32, as Keras).
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops import reductions
from rnnlab.ops.arithmetic import divide, multiply, subtract
from rnnlab.ops.dtypes import as_array, cast, result_type
from rnnlab.ops.elementwise import sqrt
from rnnlab.ops.selection import nan_to_num, where
from rnnlab.ops.tensor import operand


def _split(x):
    """``x`` on the record, its array, and its NaN mask (None for integers and booleans)."""
    x = operand(x)
    v = as_array(x)
    return x, v, (np.isnan(v) if v.dtype.kind == "f" else None)


def nansum(x, axis=None, keepdims=False):
    """The sum of the entries that are not NaN."""
    x, v, nan = _split(x)
    return reductions.sum(x if nan is None else where(nan, 0, x), axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    """The product of the entries that are not NaN."""
    x, v, nan = _split(x)
    return reductions.prod(x if nan is None else where(nan, 1, x), axis=axis, keepdims=keepdims)


def _count(nan, axis, keepdims, dtype):
    return np.sum(~nan, axis=reductions._axes(axis, nan.ndim, "nanmean"), keepdims=keepdims).astype(dtype)


def nanmean(x, axis=None, keepdims=False):
    """The mean of the entries that are not NaN (NaN where there are none)."""
    x, v, nan = _split(x)
    if nan is None:
        return reductions.mean(cast(x, "float32"), axis=axis, keepdims=keepdims)
    total = reductions.sum(where(nan, 0, x), axis=axis, keepdims=keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return divide(total, _count(nan, axis, keepdims, v.dtype))


def nanvar(x, axis=None, keepdims=False):
    """The population variance of the entries that are not NaN."""
    x, v, nan = _split(x)
    x = cast(x, result_type(v, 1.0))
    if nan is None:
        return reductions.var(x, axis=axis, keepdims=keepdims)
    centred = where(nan, 0, subtract(x, nanmean(x, axis=axis, keepdims=True)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return divide(reductions.sum(multiply(centred, centred), axis=axis, keepdims=keepdims),
                      _count(nan, axis, keepdims, as_array(x).dtype))


def nanstd(x, axis=None, keepdims=False):
    """The population standard deviation of the entries that are not NaN."""
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def _nan_extreme(name, plain, fill):
    def op(x, axis=None, keepdims=False):
        x, v, nan = _split(x)
        if nan is None:
            return plain(x, axis=axis, keepdims=keepdims)
        y = plain(where(nan, fill, x), axis=axis, keepdims=keepdims)
        every = np.all(nan, axis=reductions._axes(axis, v.ndim, name), keepdims=keepdims)
        return where(every, np.nan, y) if np.any(every) else y

    op.__name__ = name
    op.__doc__ = f"The {name[3:]}imum of the entries that are not NaN (NaN where every entry is)."
    return op


nanmax = _nan_extreme("nanmax", reductions.max, -np.inf)
nanmin = _nan_extreme("nanmin", reductions.min, np.inf)


def _nan_arg(name, plain, fill):
    def op(x, axis=None, keepdims=False):
        x, v, nan = _split(x)
        if nan is None:
            return plain(v, axis=axis, keepdims=keepdims)
        index = plain(np.where(nan, fill, v), axis=axis, keepdims=keepdims)
        every = np.all(nan, axis=axis, keepdims=keepdims)
        return np.where(every, -1, index).astype("int32")

    op.__name__ = name
    op.__doc__ = f"The int32 index of the {name[6:]}imum among the entries that are not NaN (-1 where all are)."
    return op


nanargmax = _nan_arg("nanargmax", reductions.argmax, -np.inf)
nanargmin = _nan_arg("nanargmin", reductions.argmin, np.inf)


def nancumsum(x, axis=None, dtype=None):
    """Running sums with NaNs counted as 0 (and infinities as the dtype's extremes, as Keras's ``nan_to_num``)."""
    return reductions.cumsum(nan_to_num(x), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """Running products with NaNs counted as 1 (and infinities as the dtype's extremes)."""
    return reductions.cumprod(nan_to_num(x, nan=1.0), axis=axis, dtype=dtype)


__all__ = ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanargmax", "nanargmin",
           "nancumsum", "nancumprod"]
