"""Keras's core ops: conversions (from :mod:`rnnlab.ops.dtypes`), ``stop_gradient``, and control flow as plain
Python loops, so that every step of a ``scan``, ``fori_loop`` or ``while_loop`` is on the record and its
gradient flows (backpropagation through time for a ``scan`` over a sequence)."""
from __future__ import annotations

import numpy as np

from rnnlab import nest
from rnnlab.ops.dtypes import (cast, convert_to_numpy, convert_to_tensor, dtype, is_tensor,  # noqa: F401
                               shape)
from rnnlab.ops.shapes import slice, slice_update, stack, unstack  # noqa: F401,A004 - Keras's core ops
from rnnlab.ops.tensor import unwrap


def stop_gradient(variable):
    """``variable``'s value, off the record: no gradient flows back through it."""
    return unwrap(variable)


def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` holds, else ``false_fn()``."""
    return true_fn() if bool(unwrap(pred)) else false_fn()


def switch(index, branches, *operands):
    """``branches[index](*operands)``, ``index`` clipped into range as Keras does."""
    i = int(np.clip(int(unwrap(index)), 0, len(branches) - 1))
    return branches[i](*operands)


def fori_loop(lower, upper, body_fun, init_val):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``."""
    val = init_val
    for i in range(int(unwrap(lower)), int(unwrap(upper))):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):  # noqa: A002 - Keras's name
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` holds (at most ``maximum_iterations``
    times). A tuple or list of loop variables comes back as a tuple; a single one as itself."""
    is_sequence = isinstance(loop_vars, (tuple, list))
    loop_vars = tuple(loop_vars) if is_sequence else (loop_vars,)
    count = 0
    while bool(unwrap(cond(*loop_vars))) and (maximum_iterations is None or count < maximum_iterations):
        loop_vars = body(*loop_vars)
        loop_vars = tuple(loop_vars) if isinstance(loop_vars, (tuple, list)) else (loop_vars,)
        count += 1
    return loop_vars if is_sequence else loop_vars[0]


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """``carry, y = f(carry, x)`` for each ``x`` along the first axis of ``xs`` (a nested list/tuple of arrays
    allowed); returns the last carry and the ``y``'s stacked along a new first axis. ``reverse`` walks ``xs``
    from the end (the ``y``'s keep ``xs``' order), as ``jax.lax.scan``."""
    if not callable(f):
        raise TypeError(f"ops.scan: argument `f` must be callable; received f={f!r}.")
    if not isinstance(unroll, bool) and (not isinstance(unroll, int) or unroll < 1):
        raise ValueError(f"ops.scan: argument `unroll` must be a positive int or a bool; received unroll={unroll!r}.")
    if xs is None and length is None:
        raise ValueError("ops.scan: give `xs` to scan over or `length`; received neither.")
    flat_xs = [] if xs is None else nest.flatten(xs)
    n = int(length) if length is not None else len(flat_xs[0])
    if any(len(x) != n for x in flat_xs):
        raise ValueError(f"ops.scan: every array in `xs` must have {n} entries on its first axis; received "
                         f"lengths {[len(x) for x in flat_xs]}.")
    carry, ys = init, []
    steps = range(n - 1, -1, -1) if reverse else range(n)
    for i in steps:
        x = None if xs is None else nest.pack_like(xs, [a[i] for a in flat_xs])
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys or ys[0] is None:
        return carry, None
    stacked = [stack(list(leaves)) for leaves in zip(*(nest.flatten(y) for y in ys))]
    return carry, nest.pack_like(ys[0], stacked)


def map(f, xs):  # noqa: A001 - Keras's name
    """``f`` applied to each entry along the first axis of ``xs``, the results stacked."""
    return scan(lambda carry, x: (carry, f(x)), (), xs)[1]


vectorized_map = map


__all__ = ["cast", "convert_to_tensor", "convert_to_numpy", "shape", "dtype", "is_tensor", "stop_gradient", "cond",
           "switch", "fori_loop", "while_loop", "scan", "map", "vectorized_map", "slice", "slice_update", "unstack"]
