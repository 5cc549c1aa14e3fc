"""Diagonals: ``diagonal``, ``diag``, ``diagflat`` and ``trace``. A diagonal's gradient goes back onto the
diagonal it was read from (zeros elsewhere); a matrix built from a vector sends back its diagonal."""
from __future__ import annotations

import numpy as np

from rnnlab.ops import reductions
from rnnlab.ops.checks import normalize_axis
from rnnlab.ops.dtypes import as_array
from rnnlab.ops.shapes import ravel
from rnnlab.ops.tensor import operand, record


def _diagonal_index(rows, cols, offset):
    """Row and column indices of the ``offset`` diagonal of a ``(rows, cols)`` matrix (empty when it misses)."""
    start_row, start_col = max(-offset, 0), max(offset, 0)
    n = max(min(rows - start_row, cols - start_col), 0)
    return np.arange(n) + start_row, np.arange(n) + start_col


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the matrices on axes ``axis1`` and ``axis2``: those axes are dropped and the
    diagonal becomes the last axis."""
    x = operand(x)
    v = as_array(x)
    if v.ndim < 2:
        raise ValueError(f"ops.diagonal: x must have at least 2 axes; received x of shape {v.shape}.")
    a1 = normalize_axis(axis1, v.ndim, "diagonal", "axis1")[0]
    a2 = normalize_axis(axis2, v.ndim, "diagonal", "axis2")[0]
    if a1 == a2:
        raise ValueError(f"ops.diagonal: `axis1` and `axis2` must differ; received axis1={axis1}, axis2={axis2}.")
    moved = np.moveaxis(v, (a1, a2), (-2, -1))  # (..., rows, cols)
    rows, cols = _diagonal_index(moved.shape[-2], moved.shape[-1], int(offset))
    y = moved[..., rows, cols]  # (..., n)

    def vjp(g):
        dm = np.zeros(moved.shape, dtype=g.dtype)
        dm[..., rows, cols] = g
        return (np.moveaxis(dm, (-2, -1), (a1, a2)),)

    return record(y, (x,), vjp)


def diag(x, k=0):
    """For a 1-D ``x``, a square matrix with ``x`` on its ``k``-th diagonal; for a 2-D ``x``, its ``k``-th
    diagonal."""
    x = operand(x)
    v = as_array(x)
    if v.ndim == 2:
        return diagonal(x, offset=k)
    if v.ndim != 1:
        raise ValueError(f"ops.diag: x must be 1-D or 2-D; received x of shape {v.shape}.")
    n = v.shape[0] + abs(int(k))
    rows, cols = _diagonal_index(n, n, int(k))
    y = np.zeros((n, n), dtype=v.dtype)
    y[rows, cols] = v
    return record(y, (x,), lambda g: (g[rows, cols],))


def diagflat(x, k=0):
    """A square matrix with the flattened ``x`` on its ``k``-th diagonal."""
    return diag(ravel(x), k)


def trace(x, offset=0, axis1=0, axis2=1):
    """The sum of the ``offset`` diagonal over axes ``axis1`` and ``axis2`` (small integers and booleans sum
    to int32, as ``sum``)."""
    return reductions.sum(diagonal(x, offset, axis1, axis2), axis=-1)


__all__ = ["diagonal", "diag", "diagflat", "trace"]
