"""NumPy's stacking and splitting shorthands (``hstack``, ``vstack``, ``dstack``, ``append``, ``array_split``,
``hsplit``, ``vsplit``, ``dsplit``), written with :func:`~rnnlab.ops.shapes.concatenate` and
:func:`~rnnlab.ops.shapes.split`, so their gradients are those ops' (pieces back to where they came from)."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.dtypes import as_array
from rnnlab.ops.shapes import concatenate, ravel, reshape, split
from rnnlab.ops.tensor import operand, unwrap


def _ndims(xs, op):
    xs = [operand(x) for x in xs]
    if not xs:
        raise ValueError(f"ops.{op}: needs at least one array; received an empty sequence.")
    return xs, [np.ndim(as_array(x)) for x in xs]


def hstack(xs):
    """The arrays joined along their second axis (their first when they are 1-D)."""
    xs, ndims = _ndims(xs, "hstack")
    return concatenate(xs, axis=0 if ndims[0] == 1 else 1)


def vstack(xs):
    """The arrays joined along their first axis (1-D arrays become rows first, as NumPy)."""
    xs, ndims = _ndims(xs, "vstack")
    xs = [reshape(x, (1, -1)) if n == 1 else x for x, n in zip(xs, ndims)]
    return concatenate(xs, axis=0)


def dstack(xs):
    """The arrays joined along a third axis: scalars become ``(1, 1, 1)``, vectors ``(1, n, 1)``, matrices
    ``(m, n, 1)``."""
    xs, ndims = _ndims(xs, "dstack")
    shaped = []
    for x, n in zip(xs, ndims):
        shape = np.shape(as_array(x))
        if n < 3:
            shape = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[n]
        shaped.append(reshape(x, shape))
    return concatenate(shaped, axis=2)


def append(x1, x2, axis=None):
    """``x2`` joined after ``x1`` along ``axis`` (both flattened for None)."""
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)], axis=0)
    return concatenate([x1, x2], axis=axis)


def array_split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` parts that may differ by one in size (the first
    ones are the larger), as Keras does: an int only."""
    sections = unwrap(indices_or_sections)
    if not isinstance(sections, (int, np.integer)) or isinstance(sections, bool) or sections < 1:
        raise ValueError(f"ops.array_split: argument `indices_or_sections` must be a positive int (the number of "
                         f"parts), as in Keras; received indices_or_sections={indices_or_sections!r}.")
    x = operand(x)
    shape = np.shape(as_array(x))
    if not shape:
        raise ValueError("ops.array_split: x must have at least one axis; received a scalar.")
    size = shape[axis] if -len(shape) <= axis < len(shape) else None
    if size is None:
        raise ValueError(f"ops.array_split: argument `axis` must lie in [-{len(shape)}, {len(shape)}) for x of "
                         f"shape {shape}; received axis={axis}.")
    base, extra = divmod(size, int(sections))
    sizes = [base + 1] * extra + [base] * (int(sections) - extra)
    return split(x, list(np.cumsum(sizes)[:-1]), axis=axis)


def hsplit(x, indices_or_sections):
    """:func:`~rnnlab.ops.shapes.split` along the second axis (the first for a 1-D ``x``)."""
    return split(x, indices_or_sections, axis=0 if np.ndim(as_array(operand(x))) == 1 else 1)


def vsplit(x, indices_or_sections):
    """:func:`~rnnlab.ops.shapes.split` along the first axis."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """:func:`~rnnlab.ops.shapes.split` along the third axis."""
    return split(x, indices_or_sections, axis=2)


__all__ = ["hstack", "vstack", "dstack", "append", "array_split", "hsplit", "vsplit", "dsplit"]
