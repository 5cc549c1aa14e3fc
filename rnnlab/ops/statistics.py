"""Order statistics and weighted means: ``quantile``, ``percentile``, ``median``, ``average``, ``ptp``, and their
NaN-skipping versions (``nanquantile``, ``nanpercentile``, ``nanmedian``) beside the other ``nan*`` reductions.

The quantiles sort the reduced axes (a recorded ``sort``), pick the two neighbours of the position
``(n - 1) q`` and interpolate as ``method`` says, so the gradient goes to the one or two entries each result was
read from. Index arithmetic is float64 and ``q`` of a percentile is ``floatx(q) / 100``, as in Keras's
TensorFlow backend. Integers give ``floatx()``.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops import reductions
from rnnlab.ops.arithmetic import add, divide, multiply, subtract
from rnnlab.ops.checks import normalize_axis
from rnnlab.ops.dtypes import as_array, cast, result_type
from rnnlab.ops.products import tensordot
from rnnlab.ops.selection import sort, where
from rnnlab.ops.shapes import expand_dims, moveaxis, reshape, take_along_axis, transpose
from rnnlab.ops.tensor import operand, unwrap

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _rows(x, axis, op):
    """``x`` with the reduced axes moved last and flattened into one: ``(rows..., n)``; and the reduced axes."""
    v = as_array(x)
    axes = tuple(range(v.ndim)) if axis is None else normalize_axis(axis, v.ndim, op)
    rest = [a for a in range(v.ndim) if a not in axes]
    moved = transpose(x, rest + list(axes))
    return reshape(moved, [v.shape[a] for a in rest] + [-1]), axes


def _quantile(x, q, axis, method, keepdims, skip_nan, op):
    if method not in _METHODS:
        raise ValueError(f"ops.{op}: argument `method` must be one of {list(_METHODS)}; received method={method!r}.")
    x = operand(x)
    v = as_array(x)
    x = cast(x, result_type(v, 1.0))
    qv = np.asarray(unwrap(q), dtype="float64")
    if qv.ndim > 1 or np.any((qv < 0) | (qv > 1)):
        raise ValueError(f"ops.{op}: `q` must be a scalar or a 1-D array of quantiles in [0, 1]; received "
                         f"q={np.asarray(unwrap(q)).tolist()}.")
    rows, axes = _rows(x, axis, op)
    ordered = sort(rows, axis=-1)  # NaNs sort last
    values = as_array(ordered)
    nan = np.isnan(values)
    n = values.shape[-1]
    count = (n - np.sum(nan, axis=-1) if skip_nan else np.full(values.shape[:-1], n))[..., None]  # (..., 1)
    exact = (count - 1) * qv.reshape(-1)  # (..., nq)
    last = np.maximum(count - 1, 0)

    def index(kind):
        pick = {"lower": np.floor, "higher": np.ceil, "nearest": np.round}[kind]
        return np.clip(pick(exact), 0, last).astype("int64")

    if method == "linear":
        larger = index("higher")
        smaller = np.maximum(larger - 1, 0)
        larger = np.minimum(smaller + 1, last)
        fraction = (larger - exact).astype(values.dtype)
        y = add(multiply(take_along_axis(ordered, larger, axis=-1), 1 - fraction),
                multiply(take_along_axis(ordered, smaller, axis=-1), fraction))
    elif method == "midpoint":
        y = multiply(add(take_along_axis(ordered, index("lower"), axis=-1),
                         take_along_axis(ordered, index("higher"), axis=-1)), 0.5)
    else:
        y = take_along_axis(ordered, index(method), axis=-1)
    empty = (count == 0) if skip_nan else np.any(nan, axis=-1, keepdims=True)
    if np.any(empty):
        y = where(np.broadcast_to(empty, np.shape(as_array(y))), np.nan, y)
    if keepdims:
        y = expand_dims(y, tuple(sorted(axes)))  # the reduced axes come back as 1s, before q's axis
    return moveaxis(y, -1, 0) if qv.ndim == 1 else reshape(y, np.shape(as_array(y))[:-1])


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles (``q`` in [0, 1], a scalar or 1-D) over ``axis`` (every axis for None); a 1-D
    ``q`` adds a first axis. ``method`` is "linear" (interpolate), "lower", "higher", "midpoint" or "nearest".
    A NaN among the entries gives NaN."""
    return _quantile(x, q, axis, method, keepdims, skip_nan=False, op="quantile")


def _percent(q):
    return np.asarray(unwrap(q), dtype=backend.floatx()) / np.asarray(100, dtype=backend.floatx())


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`quantile` with ``q`` in percent (0 to 100)."""
    return _quantile(x, _percent(q), axis, method, keepdims, skip_nan=False, op="percentile")


def median(x, axis=None, keepdims=False):
    """The median over ``axis`` (the mean of the two middle entries for an even count)."""
    return _quantile(x, 0.5, axis, "linear", keepdims, skip_nan=False, op="median")


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`quantile` of the entries that are not NaN (NaN where every entry is)."""
    return _quantile(x, q, axis, method, keepdims, skip_nan=True, op="nanquantile")


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`percentile` of the entries that are not NaN."""
    return _quantile(x, _percent(q), axis, method, keepdims, skip_nan=True, op="nanpercentile")


def nanmedian(x, axis=None, keepdims=False):
    """:func:`median` of the entries that are not NaN."""
    return _quantile(x, 0.5, axis, "linear", keepdims, skip_nan=True, op="nanmedian")


def average(x, axis=None, weights=None):
    """The mean over ``axis``, weighted by ``weights`` (of ``x``'s shape, or 1-D along ``axis``):
    ``sum(x w) / sum(w)``. Integers give ``floatx()``."""
    x = operand(x)
    if weights is None:
        return reductions.mean(cast(x, result_type(x, 1.0)), axis=axis)
    w = operand(weights)
    dtype = result_type(x, w, 1.0)
    x, w = cast(x, dtype), cast(w, dtype)
    xs, ws = np.shape(as_array(x)), np.shape(as_array(w))
    if xs == ws:
        return divide(reductions.sum(multiply(x, w), axis=axis), reductions.sum(w, axis=axis))
    if axis is None or len(ws) != 1 or not isinstance(axis, (int, np.integer)) or \
            ws[0] != xs[normalize_axis(axis, len(xs), "average")[0]]:
        raise ValueError(f"ops.average: `weights` must have the shape of x, or be 1-D with the length of x's "
                         f"`axis`; received x of shape {xs}, weights of shape {ws}, axis={axis!r}.")
    return divide(tensordot(x, w, axes=([axis], [0])), reductions.sum(w))


def ptp(x, axis=None, keepdims=False):
    """The range ``max - min`` over ``axis``; the gradient goes to the extremes."""
    return subtract(reductions.max(x, axis=axis, keepdims=keepdims), reductions.min(x, axis=axis, keepdims=keepdims))


__all__ = ["quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian", "average", "ptp"]
