"""Pooling and block rearrangements of images and sequences: ``max_pool``, ``average_pool`` (1 to 3 spatial
axes), ``depth_to_space`` and ``space_to_depth``.

Pools follow TensorFlow (Keras's default backend): ``strides`` defaults to ``pool_size``; "same" padding puts
the odd entry after; a max over a padded window ignores the padding, and an average divides by the number of
real entries in the window. The max's gradient goes to the first maximum of each window, the average's is
shared by the window's real entries.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.dtypes import as_array
from rnnlab.ops.shapes import reshape, transpose
from rnnlab.ops.tensor import operand, record


def _per_axis(value, n, argument, op):
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or any(int(v) < 1 for v in values):
        raise ValueError(f"ops.{op}: argument `{argument}` must be a positive int or {n} of them; received "
                         f"{argument}={value!r}.")
    return tuple(int(v) for v in values)


def _data_format(data_format, op):
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: argument `data_format` must be 'channels_last' or 'channels_first'; received "
                         f"data_format={data_format!r}.")
    return data_format == "channels_first"


def _pool(inputs, pool_size, strides, padding, data_format, op, reduce_max):
    first = _data_format(data_format, op)
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"ops.{op}: argument `padding` must be 'valid' or 'same'; received padding={padding!r}.")
    x = operand(inputs)
    v = as_array(x)
    n = v.ndim - 2
    if n not in (1, 2, 3):
        raise ValueError(f"ops.{op}: expected inputs (batch, spatial..., channels) with 1 to 3 spatial axes; "
                         f"received shape {v.shape}.")
    xv = np.moveaxis(v, 1, -1) if first else v  # (B, *spatial, C)
    size = _per_axis(pool_size, n, "pool_size", op)
    step = size if strides is None else _per_axis(strides, n, "strides", op)
    spatial = xv.shape[1:-1]
    if padding == "same":
        out = [-(-s // st) for s, st in zip(spatial, step)]
        total = [max((o - 1) * st + k - s, 0) for o, st, k, s in zip(out, step, size, spatial)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        out = [(s - k) // st + 1 for s, k, st in zip(spatial, size, step)]
        pads = [(0, 0)] * n
    if any(o <= 0 for o in out):
        raise ValueError(f"ops.{op}: a pool of size {size} does not fit inputs of shape {v.shape} with "
                         f"padding='valid'.")
    widths = [(0, 0)] + pads + [(0, 0)]
    real = np.pad(np.ones(spatial, dtype=bool), pads)[None, ..., None]  # (1, *padded, 1): not padding
    xp = np.pad(xv, widths)
    windows = [(np.s_[:],) + tuple(np.s_[o: o + st * (m - 1) + 1: st] for o, st, m in zip(offset, step, out))
               + (np.s_[:],) for offset in np.ndindex(*size)]
    stacked = np.stack([np.where(real[w], xp[w], -np.inf if reduce_max else 0) for w in windows])  # (W, B, *out, C)
    if reduce_max:
        pick = np.argmax(stacked, axis=0)  # the first maximum of each window
        y = np.take_along_axis(stacked, pick[None], axis=0)[0].astype(xv.dtype)
    else:
        count = np.sum(np.stack([np.broadcast_to(real[w], stacked.shape[1:]) for w in windows]), axis=0)
        y = (np.sum(stacked, axis=0) / count).astype(xv.dtype)

    def vjp(g):
        g = np.moveaxis(g, 1, -1) if first else g
        dxp = np.zeros(xp.shape, dtype=g.dtype)
        for i, w in enumerate(windows):
            dxp[w] += g * (pick == i) if reduce_max else np.where(real[w], g / count, 0)
        dx = dxp[(np.s_[:],) + tuple(np.s_[b: b + s] for (b, _), s in zip(pads, spatial)) + (np.s_[:],)]
        return (np.moveaxis(dx, -1, 1) if first else dx,)

    return record(np.moveaxis(y, -1, 1) if first else y, (x,), vjp)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The maximum of each ``pool_size`` window, moved by ``strides`` (default ``pool_size``): inputs
    ``(batch, spatial..., channels)`` (``channels_first``: ``(batch, channels, spatial...)``)."""
    return _pool(inputs, pool_size, strides, padding, data_format, "max_pool", reduce_max=True)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each ``pool_size`` window (of its real entries with "same" padding)."""
    return _pool(inputs, pool_size, strides, padding, data_format, "average_pool", reduce_max=False)


def _blocks(x, block_size, data_format, op):
    first = _data_format(data_format, op)
    if not isinstance(block_size, (int, np.integer)) or block_size < 2:
        raise ValueError(f"ops.{op}: argument `block_size` must be an int of at least 2; received "
                         f"block_size={block_size!r}.")
    x = operand(x)
    shape = np.shape(as_array(x))
    if len(shape) != 4:
        raise ValueError(f"ops.{op}: x must be 4-D (batch, height, width, channels); received shape {shape}.")
    if first:
        x = transpose(x, (0, 2, 3, 1))
        shape = np.shape(as_array(x))
    return x, shape, int(block_size), first


def depth_to_space(x, block_size, data_format="channels_last"):
    """Channels moved into ``block_size x block_size`` spatial blocks: ``(B, H, W, C)`` becomes
    ``(B, H b, W b, C / b^2)``, TensorFlow's order (the channel index is ``(row_in_block, col_in_block, c)``)."""
    x, (b_, h, w, c), b, first = _blocks(x, block_size, data_format, "depth_to_space")
    if c % (b * b):
        raise ValueError(f"ops.depth_to_space: the channels ({c}) must be divisible by block_size^2 ({b * b}).")
    y = reshape(x, (b_, h, w, b, b, c // (b * b)))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (b_, h * b, w * b, c // (b * b)))
    return transpose(y, (0, 3, 1, 2)) if first else y


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of :func:`depth_to_space`: ``(B, H, W, C)`` becomes ``(B, H / b, W / b, C b^2)``."""
    x, (b_, h, w, c), b, first = _blocks(x, block_size, data_format, "space_to_depth")
    if h % b or w % b:
        raise ValueError(f"ops.space_to_depth: height and width ({h}, {w}) must be divisible by block_size ({b}).")
    y = reshape(x, (b_, h // b, b, w // b, b, c))
    y = reshape(transpose(y, (0, 1, 3, 2, 4, 5)), (b_, h // b, w // b, c * b * b))
    return transpose(y, (0, 3, 1, 2)) if first else y


__all__ = ["max_pool", "average_pool", "depth_to_space", "space_to_depth"]
