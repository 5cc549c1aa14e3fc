"""Ops that move, copy or pick elements without arithmetic: reshapes, transposes, joins, splits, gathers,
tiles and pads. Each backward routes the gradient back to where the element came from (adding where one
element was used more than once)."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import names_shapes, normalize_axis, shape_of
from rnnlab.ops.dtypes import as_array, result_type
from rnnlab.ops.tensor import operand, record, record_many, unwrap

_span = slice  # the builtin: this module defines Keras's ``slice`` op


def _ints(value, argument, op):
    """A shape-like argument (an int, a sequence of ints, an int array or Tensor) as a tuple of ints."""
    value = unwrap(value)
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    try:
        out = tuple(int(unwrap(v)) for v in np.asarray(value).reshape(-1))
    except (TypeError, ValueError):
        raise TypeError(f"ops.{op}: argument `{argument}` must be an int or a sequence of ints; received "
                        f"{argument}={value!r}.") from None
    return out


@names_shapes("x", "newshape", verb="reshape")
def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1: whatever the size leaves)."""
    x = operand(x)
    v = as_array(x)
    try:
        y = np.reshape(v, _ints(newshape, "newshape", "reshape"))
    except ValueError as exc:
        raise ValueError(f"ops.reshape: cannot reshape x of shape {v.shape} (size {v.size}) into "
                         f"newshape={newshape!r} ({exc}).") from None
    return record(y, (x,), lambda g: (g.reshape(v.shape),))


def ravel(x):
    """``x`` flattened to one axis."""
    return reshape(x, -1)


def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed when ``axes`` is None); the gradient takes the inverse permutation."""
    x = operand(x)
    v = as_array(x)
    if axes is None:
        perm = tuple(range(v.ndim))[::-1]
    else:
        perm = tuple(int(a) % v.ndim if -v.ndim <= int(a) < v.ndim else -1 for a in _ints(axes, "axes", "transpose"))
        if sorted(perm) != list(range(v.ndim)):
            raise ValueError(f"ops.transpose: argument `axes` must be a permutation of the {v.ndim} axes of x "
                             f"(shape {v.shape}); received axes={axes!r}.")
    return record(np.transpose(v, perm), (x,), lambda g: (np.transpose(g, np.argsort(perm)),))


def swapaxes(x, axis1, axis2):
    v = as_array(operand(x))
    perm = list(range(v.ndim))
    a, b = normalize_axis(axis1, v.ndim, "swapaxes", "axis1")[0], normalize_axis(axis2, v.ndim, "swapaxes", "axis2")[0]
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    """``x`` with the axes ``source`` moved to the positions ``destination`` (ints or sequences of them)."""
    ndim = np.ndim(as_array(operand(x)))
    src = [a % ndim for a in _ints(source, "source", "moveaxis")]
    dst = [a % ndim for a in _ints(destination, "destination", "moveaxis")]
    if len(src) != len(dst):
        raise ValueError(f"ops.moveaxis: `source` and `destination` must name as many axes; received "
                         f"source={source!r}, destination={destination!r}.")
    perm = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return transpose(x, perm)


def expand_dims(x, axis):
    """``x`` with new axes of size 1 at ``axis`` (an int or a tuple, positions in the result)."""
    v = as_array(operand(x))
    axes = normalize_axis(axis, v.ndim + len(_ints(axis, "axis", "expand_dims")), "expand_dims")
    shape = list(v.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    """``x`` without the axes of size 1 (only those in ``axis`` when given; each must have size 1)."""
    v = as_array(operand(x))
    axes = tuple(a for a in range(v.ndim) if v.shape[a] == 1) if axis is None else \
        normalize_axis(axis, v.ndim, "squeeze")
    for a in axes:
        if v.shape[a] != 1:
            raise ValueError(f"ops.squeeze: cannot squeeze axis={a} of x with shape {v.shape}: its size is "
                             f"{v.shape[a]}, not 1.")
    return reshape(x, [d for a, d in enumerate(v.shape) if a not in axes])


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``; the gradient is summed back over the broadcast axes."""
    x = operand(x)
    v = as_array(x)
    shape = _ints(shape, "shape", "broadcast_to")
    try:
        y = np.broadcast_to(v, shape)
    except ValueError:
        raise ValueError(f"ops.broadcast_to: cannot broadcast x of shape {v.shape} to shape {shape}.") from None
    return record(y, (x,), lambda g: (g,))  # the record sums g down to x's shape


def _join_inputs(xs, op):
    xs = [operand(x) for x in xs]
    if not xs:
        raise ValueError(f"ops.{op}: needs at least one array; received an empty sequence.")
    dtype = result_type(*xs)
    return xs, [as_array(x, dtype) for x in xs]


@names_shapes("xs", verb="concatenate")
def concatenate(xs, axis=0):
    """The arrays joined along an existing ``axis`` (dtypes promoted as Keras does)."""
    xs, values = _join_inputs(xs, "concatenate")
    y = np.concatenate(values, axis=axis)
    ends = np.cumsum([v.shape[axis] for v in values])[:-1]
    return record(y, xs, lambda g: tuple(np.split(g, ends, axis=axis)))


@names_shapes("x", verb="stack")
def stack(x, axis=0):
    """The arrays joined along a new ``axis``."""
    xs, values = _join_inputs(x, "stack")
    y = np.stack(values, axis=axis)
    axis_ = axis % y.ndim
    return record(y, xs, lambda g: tuple(np.moveaxis(g, axis_, 0)))


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` equal parts (an int) or at the given indices."""
    x = operand(x)
    v = as_array(x)
    axis_ = normalize_axis(axis, v.ndim, "split")[0]
    sections = unwrap(indices_or_sections)
    if isinstance(sections, (int, np.integer)):
        if sections < 1 or v.shape[axis_] % int(sections):
            raise ValueError(f"ops.split: x of shape {v.shape} cannot be split into {sections} equal parts along "
                             f"axis {axis} (size {v.shape[axis_]}).")
        width, lead = v.shape[axis_] // int(sections), (_span(None),) * axis_
        parts = [v[lead + (_span(k * width, (k + 1) * width),)] for k in range(int(sections))]  # views, as np.split
    else:
        parts = np.split(v, list(np.asarray(sections)), axis=axis_)
    return record_many(parts, (x,), lambda gs: (np.concatenate(gs, axis=axis_),))


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list (``num``, when given, must equal that axis's size)."""
    x = operand(x)
    v = as_array(x)
    axis_ = normalize_axis(axis, v.ndim, "unstack")[0]
    if num is not None and num != v.shape[axis_]:
        raise ValueError(f"ops.unstack: num={num} does not match the size {v.shape[axis_]} of axis {axis} of x "
                         f"(shape {v.shape}).")
    parts = list(np.moveaxis(v, axis_, 0))
    return record_many(parts, (x,), lambda gs: (np.stack(gs, axis=axis_),))


def _index_array(indices):
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and np.all(np.mod(idx, 1) == 0):
            return idx.astype("int64")
        raise TypeError(f"indices must be integers; received an array of dtype {idx.dtype}.")
    return idx


def take(x, indices, axis=None):
    """The entries of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` for None); negative indices
    count from the end. Entries taken twice add their gradients."""
    x = operand(x)
    v = as_array(x)
    idx = _index_array(indices)
    flat = v.reshape(-1) if axis is None else v
    axis_ = 0 if axis is None else normalize_axis(axis, v.ndim, "take")[0]
    n = flat.shape[axis_]
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise ValueError(f"ops.take: indices must lie in [-{n}, {n}) for axis {axis} of x with shape {v.shape}; "
                         f"received indices from {idx.min()} to {idx.max()}.")
    y = np.take(flat, idx, axis=axis_)

    def vjp(g):
        dx = np.zeros_like(flat)
        lead = (_span(None),) * axis_
        np.add.at(dx, lead + (idx % n,), g)
        return (dx.reshape(v.shape),)

    return record(y, (x,), vjp)


def take_along_axis(x, indices, axis=None):
    """``x``'s entries picked along ``axis`` by ``indices`` (which broadcast with ``x`` on the other axes)."""
    x = operand(x)
    v = as_array(x)
    idx = _index_array(indices)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"ops.take_along_axis: with axis=None, indices must be 1-D; received indices of "
                             f"shape {idx.shape}.")
        v, axis_ = v.reshape(-1), 0
    else:
        axis_ = normalize_axis(axis, v.ndim, "take_along_axis")[0]
        if idx.ndim != v.ndim:
            raise ValueError(f"ops.take_along_axis: indices (shape {idx.shape}) must have the rank of x "
                             f"(shape {v.shape}).")
    try:
        shape = np.broadcast_shapes(v.shape[:axis_] + (1,) + v.shape[axis_ + 1:],
                                    idx.shape[:axis_] + (1,) + idx.shape[axis_ + 1:])
    except ValueError:
        raise ValueError(f"ops.take_along_axis: cannot broadcast x of shape {v.shape} with indices of shape "
                         f"{idx.shape} outside axis {axis}.") from None
    xb = np.broadcast_to(v, shape[:axis_] + (v.shape[axis_],) + shape[axis_ + 1:])
    ib = np.broadcast_to(idx, shape[:axis_] + (idx.shape[axis_],) + shape[axis_ + 1:]) % v.shape[axis_]
    y = np.take_along_axis(xb, ib, axis=axis_)
    full_shape = np.shape(as_array(x))

    def vjp(g):
        dx = np.zeros(xb.shape, dtype=g.dtype)
        grid = list(np.indices(ib.shape, sparse=True))
        grid[axis_] = ib
        np.add.at(dx, tuple(grid), g)
        dx = dx.reshape(-1) if axis is None else dx
        return (dx if axis is not None else dx.reshape(full_shape),)

    return record(y, (x,), vjp)


def _block(inputs, start_indices, shape, op):
    """The index of the block ``start_indices`` + ``shape`` (-1: to the end) in ``inputs``."""
    dims = np.shape(inputs)
    starts, sizes = _ints(start_indices, "start_indices", op), _ints(shape, "shape", op)
    if len(starts) != len(dims) or len(sizes) != len(dims):
        raise ValueError(f"ops.{op}: start_indices and shape need one entry per axis of inputs (shape {dims}); "
                         f"received start_indices={start_indices!r}, shape={shape!r}.")
    for s, z, d in zip(starts, sizes, dims):
        if not 0 <= s <= d or (z != -1 and not 0 <= s + z <= d):
            raise ValueError(f"ops.{op}: the block at start_indices={list(starts)} with shape {list(sizes)} "
                             f"does not fit in inputs of shape {dims}.")
    return tuple(_span(s, d if z == -1 else s + z) for s, z, d in zip(starts, sizes, dims))


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras's name
    """The block of ``inputs`` that starts at ``start_indices`` and has ``shape`` (-1: to the end)."""
    x = operand(inputs)
    v = as_array(x)
    key = _block(v, start_indices, shape, "slice")

    def vjp(g):
        dx = np.zeros_like(v)
        dx[key] = g
        return (dx,)

    return record(v[key], (x,), vjp)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates`` (cast to ``inputs``' dtype).
    The gradient goes to ``updates`` inside the block and to ``inputs`` outside it."""
    x, u = operand(inputs), operand(updates)
    v = as_array(x)
    uv = as_array(u, v.dtype)
    key = _block(v, start_indices, uv.shape, "slice_update")
    y = v.copy()
    y[key] = uv

    def vjp(g):
        dx = g.copy()
        dx[key] = 0
        return dx, g[key]

    return record(y, (x, u), vjp)


def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (``repeats`` is aligned with the last axes)."""
    x = operand(x)
    v = as_array(x)
    reps = _ints(repeats, "repeats", "tile")
    y = np.tile(v, reps)
    n = max(len(reps), v.ndim)
    base = (1,) * (n - v.ndim) + v.shape
    reps = (1,) * (n - len(reps)) + reps

    def vjp(g):
        # (r0, d0, r1, d1, ...): every copy on its own axis, then summed
        g = g.reshape([k for r, d in zip(reps, base) for k in (r, d)])
        return (g.sum(axis=tuple(range(0, 2 * n, 2))).reshape(v.shape),)

    return record(y, (x,), vjp)


def repeat(x, repeats, axis=None):
    """Each entry of ``x`` repeated ``repeats`` times (an int, or one count per entry) along ``axis`` (of the
    flattened ``x`` for None)."""
    x = operand(x)
    v = as_array(x)
    flat = v.reshape(-1) if axis is None else v
    axis_ = 0 if axis is None else normalize_axis(axis, v.ndim, "repeat")[0]
    counts = np.asarray(unwrap(repeats))
    try:
        y = np.repeat(flat, counts, axis=axis_)
    except ValueError as exc:
        raise ValueError(f"ops.repeat: repeats={repeats!r} does not fit axis {axis} of x with shape {v.shape} "
                         f"({exc}).") from None
    source = np.repeat(np.arange(flat.shape[axis_]), counts)  # which entry each output entry copies

    def vjp(g):
        dx = np.zeros_like(flat)
        np.add.at(dx, (_span(None),) * axis_ + (source,), g)
        return (dx.reshape(v.shape),)

    return record(y, (x,), vjp)


_PAD_MODES = ("constant", "reflect", "symmetric")


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (an int, a ``(before, after)`` pair, or one pair per axis).

    ``mode`` is "constant" (with ``constant_values``, default 0), "reflect" or "symmetric", the modes Keras's
    TensorFlow backend has. The gradient of a padded entry goes back to the entry it copies.
    """
    x = operand(x)
    v = as_array(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"ops.pad: argument `mode` must be one of {list(_PAD_MODES)}; received mode={mode!r}.")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"ops.pad: `constant_values` can only be given with mode='constant'; received "
                         f"mode={mode!r}.")
    try:
        width = np.broadcast_to(np.asarray(unwrap(pad_width), dtype="int64"), (v.ndim, 2))
    except ValueError:
        raise ValueError(f"ops.pad: argument `pad_width` must be an int, a (before, after) pair or one pair per "
                         f"axis of x (shape {v.shape}); received pad_width={pad_width!r}.") from None
    if mode == "constant":
        fill = 0 if constant_values is None else unwrap(constant_values)
        y = np.pad(v, width, mode="constant", constant_values=fill)
        inner = tuple(_span(b, b + d) for (b, _), d in zip(width, v.shape))
        return record(y, (x,), lambda g: (g[inner],))
    y = np.pad(v, width, mode=mode)
    source = np.pad(np.arange(v.size).reshape(v.shape), width, mode=mode)  # which entry each one copies

    def vjp(g):
        dx = np.zeros(v.size, dtype=g.dtype)
        np.add.at(dx, source.reshape(-1), g.reshape(-1))
        return (dx.reshape(v.shape),)

    return record(y, (x,), vjp)


def flip(x, axis=None):
    """``x`` reversed along ``axis`` (every axis for None); the gradient is reversed the same way."""
    x = operand(x)
    v = as_array(x)
    axes = None if axis is None else normalize_axis(axis, v.ndim, "flip")
    return record(np.flip(v, axes), (x,), lambda g: (np.flip(g, axes),))


__all__ = ["reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze", "broadcast_to",
           "concatenate", "stack", "split", "unstack", "take", "take_along_axis", "slice", "slice_update", "tile",
           "repeat", "pad", "flip"]


def ndim(x):
    """``x``'s number of axes."""
    return np.ndim(unwrap(x))


def size(x):
    """``x``'s number of entries."""
    return np.size(unwrap(x))


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D arrays: one array per input, each of shape ``(len(x0), len(x1), ...)``
    (``indexing="ij"``) or with the first two axes swapped (``"xy"``, the default). The gradient of each grid is
    summed back onto its input."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"ops.meshgrid: argument `indexing` must be 'xy' or 'ij'; received indexing={indexing!r}.")
    xs = [reshape(v, -1) for v in x]
    sizes = [np.shape(as_array(v))[0] for v in xs]
    if indexing == "xy" and len(xs) > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for i, v in enumerate(xs):
        position = (1 - i if i < 2 else i) if indexing == "xy" and len(xs) > 1 else i
        shape = [1] * len(xs)
        shape[position] = -1
        grids.append(broadcast_to(reshape(v, shape), sizes))
    return grids


__all__ += ["ndim", "size", "meshgrid"]
