"""Searching and counting: ``searchsorted``, ``digitize``, ``isin``, ``unravel_index``, ``argpartition``,
``unique``, ``bincount`` and ``histogram``.

Their results are integer positions, flags or counts, which carry no gradient (as in Keras). ``bincount`` with
float ``weights`` passes each bin's gradient back to the weights it summed. ``unique`` and ``histogram`` are forward
only: given a float array that is on the training record they refuse, naming ``ops.stop_gradient``.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import refuse_gradient
from rnnlab.ops.dtypes import as_array, result_type
from rnnlab.ops.tensor import operand, record, unwrap


def _int32_positions(values, length):
    return values.astype("int32" if length <= np.iinfo(np.int32).max else "int64")


def searchsorted(sorted_sequence, values, side="left"):
    """Where each of ``values`` would go in the 1-D ``sorted_sequence`` to keep it sorted (before equal
    entries for ``side="left"``, after them for "right"): int32 positions."""
    seq = as_array(operand(sorted_sequence))
    if seq.ndim != 1:
        raise ValueError(f"ops.searchsorted: `sorted_sequence` must be 1-D, as in Keras; received shape {seq.shape}.")
    if side not in ("left", "right"):
        raise ValueError(f"ops.searchsorted: argument `side` must be 'left' or 'right'; received side={side!r}.")
    v = as_array(operand(values))
    dtype = result_type(seq, v)
    return _int32_positions(np.searchsorted(seq.astype(dtype), v.astype(dtype), side=side), len(seq))


def digitize(x, bins):
    """The index of the bin of each entry of ``x``: ``i`` with ``bins[i-1] <= x < bins[i]`` for increasing
    ``bins`` (0 below the first edge, ``len(bins)`` from the last): int32."""
    edges = np.asarray(unwrap(bins), dtype="float64")
    if edges.ndim != 1:
        raise ValueError(f"ops.digitize: `bins` must be 1-D; received bins of shape {edges.shape}.")
    if edges.size > 1 and np.any(np.diff(edges) < 0):
        raise ValueError(f"ops.digitize: `bins` must be increasing, as Keras's TensorFlow backend needs; received "
                         f"bins={edges.tolist()}.")
    return np.digitize(as_array(operand(x)), edges, right=False).astype("int32")


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each entry of ``x1`` occurs in ``x2`` (the opposite with ``invert``): a boolean array of
    ``x1``'s shape."""
    a, b = as_array(operand(x1)), as_array(operand(x2))
    dtype = result_type(a, b)
    return np.isin(a.astype(dtype), b.astype(dtype), assume_unique=assume_unique, invert=invert)


def unravel_index(indices, shape):
    """The coordinates of flat ``indices`` in an array of ``shape``: a tuple of arrays (one per axis) in the
    dtype of ``indices``."""
    idx = as_array(operand(indices))
    dims = tuple(int(unwrap(d)) if d is not None else None for d in shape)
    if None in dims:
        raise ValueError(f"ops.unravel_index: `shape` cannot contain None; received shape={tuple(shape)}.")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"ops.unravel_index: `indices` must be integers; received dtype {idx.dtype}.")
    total = int(np.prod(dims))
    if idx.size and (idx.min() < 0 or idx.max() >= total):
        raise ValueError(f"ops.unravel_index: indices must lie in [0, {total}) for shape {dims}; received indices "
                         f"from {idx.min()} to {idx.max()}.")
    return tuple(c.astype(idx.dtype) for c in np.unravel_index(idx, dims))


def argpartition(x, kth, axis=-1):
    """Int32 indices that partition ``x`` along ``axis`` (flattened for None): the ``kth`` entry is in its
    sorted place, no larger entries before it and no smaller after. The order within each side is not
    specified (it differs between backends)."""
    v = as_array(operand(x))
    if axis is None:
        v, axis = v.reshape(-1), 0
    if v.ndim == 0:
        raise ValueError("ops.argpartition: x must have at least one axis; received a scalar.")
    n = v.shape[axis]
    if not -n <= int(kth) < n:
        raise ValueError(f"ops.argpartition: argument `kth` must lie in [-{n}, {n}) for axis {axis} of x (shape "
                         f"{v.shape}); received kth={kth}.")
    return np.argpartition(v, int(kth), axis=axis).astype("int32")


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False,  # noqa: A002
           axis=None, size=None, fill_value=None):
    """The distinct entries of ``x`` (flattened for ``axis=None``; distinct slices along ``axis`` otherwise),
    sorted, or in order of first appearance with ``sorted=False``. Optionally also the int32 index of each one's
    first appearance, the inverse (each entry's place among them) and the counts. ``size`` pads (with
    ``fill_value``, default 0) or cuts the result to a fixed length, as Keras does. Forward only."""
    refuse_gradient("unique", x=x)
    v = as_array(operand(x))
    flat = axis is None
    work = v.reshape(-1) if flat else v
    axis_ = 0 if flat else int(axis) % max(v.ndim, 1)
    values, first, inverse, counts = np.unique(work, return_index=True, return_inverse=True, return_counts=True,
                                               axis=None if flat else axis_)
    inverse = inverse.reshape(-1)
    if not sorted:  # order of first appearance
        order = np.argsort(first, kind="stable")
        values = np.take(values, order, axis=0 if flat else axis_)
        first, counts = first[order], counts[order]
        inverse = np.argsort(order)[inverse]
    if size is not None:
        size = int(size)
        kept = min(size, len(first))
        values = np.take(values, np.arange(kept), axis=0 if flat else axis_)
        first, counts = first[:kept], counts[:kept]
        missing = size - kept
        if missing:
            widths = [(0, 0)] * values.ndim
            widths[0 if flat else axis_] = (0, missing)
            values = np.pad(values, widths, constant_values=0 if fill_value is None else fill_value)
            first = np.pad(first, (0, missing), constant_values=1)  # as Keras's TensorFlow backend pads
            counts = np.pad(counts, (0, missing))
    results = [values]
    if return_index:
        results.append(first.astype("int32"))
    if return_inverse:
        results.append(inverse.reshape(v.shape if flat else (-1,)).astype("int32"))
    if return_counts:
        results.append(counts.astype("int32"))
    return tuple(results) if len(results) > 1 else results[0]


def bincount(x, weights=None, minlength=0, sparse=False):
    """How many times each non-negative integer occurs in ``x`` (per row for a 2-D ``x``), at least
    ``minlength`` bins: int32, or the sums of ``weights`` per bin (in the dtype of ``x`` and ``weights``
    together). The weights' gradient is each entry's bin gradient."""
    if sparse:
        raise ValueError("ops.bincount: sparse=True is not supported by rnnlab (dense arrays only); received "
                         "sparse=True.")
    labels = as_array(operand(x))
    if labels.ndim not in (1, 2) or labels.dtype.kind not in "iub":
        raise ValueError(f"ops.bincount: x must be a 1-D or 2-D array of non-negative integers; received shape "
                         f"{labels.shape} and dtype {labels.dtype}.")
    labels = labels.astype("int64")
    if labels.size and labels.min() < 0:
        raise ValueError(f"ops.bincount: x must hold non-negative integers; received a minimum of {labels.min()}.")
    length = max(int(labels.max()) + 1 if labels.size else 0, int(minlength))
    rows = labels.reshape(-1, labels.shape[-1])  # (rows, n)
    lead = np.broadcast_to(np.arange(len(rows))[:, None], rows.shape)
    if weights is None:
        counts = np.zeros((len(rows), length), dtype="int32")
        np.add.at(counts, (lead, rows), 1)
        return counts.reshape(labels.shape[:-1] + (length,))
    w = operand(weights)
    dtype = result_type(as_array(operand(x)), w)
    wv = as_array(w, dtype)
    if wv.shape != labels.shape:
        raise ValueError(f"ops.bincount: `weights` must have the shape of x; received weights of shape {wv.shape} "
                         f"and x of shape {labels.shape}.")
    sums = np.zeros((len(rows), length), dtype=dtype)
    np.add.at(sums, (lead, rows), wv.reshape(rows.shape))
    y = sums.reshape(labels.shape[:-1] + (length,))
    return record(y, (w,), lambda g: (g.reshape(len(rows), length)[lead, rows].reshape(labels.shape),))


def histogram(x, bins=10, range=None):  # noqa: A002 - Keras's name
    """The counts of the 1-D ``x`` in ``bins`` equal bins over ``range`` (``(min(x), max(x))`` by default;
    the last bin includes its right edge), and the ``bins + 1`` edges, both in ``x``'s dtype. Forward only."""
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool):
        raise TypeError(f"ops.histogram: argument `bins` must be an int; received bins={bins!r}.")
    if bins < 0:
        raise ValueError(f"ops.histogram: argument `bins` must be a non-negative int; received bins={bins}.")
    if range is not None and (not isinstance(range, tuple) or len(range) != 2 or range[1] < range[0]):
        raise ValueError(f"ops.histogram: argument `range` must be a tuple (low, high) with low <= high; received "
                         f"range={range!r}.")
    refuse_gradient("histogram", x=x)
    v = as_array(operand(x))
    if v.ndim != 1:
        raise ValueError(f"ops.histogram: x must be 1-D, as in Keras; received x of shape {v.shape}.")
    low, high = (v.min(), v.max()) if range is None else range
    v = v[(v >= low) & (v <= high)]
    edges = np.linspace(low, high, int(bins) + 1).astype(v.dtype)
    which = np.searchsorted(edges[1:-1], v, side="right")
    counts = np.bincount(which, minlength=int(bins)).astype(v.dtype)
    return counts, edges


__all__ = ["searchsorted", "digitize", "isin", "unravel_index", "argpartition", "unique", "bincount", "histogram"]
