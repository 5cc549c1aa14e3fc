"""Keras's core ops: conversions (from :mod:`rnnlab.ops.dtypes`), ``stop_gradient``, and control flow as plain
Python loops, so that every step of a ``scan``, ``fori_loop`` or ``while_loop`` is on the record and its
gradient flows (backpropagation through time for a ``scan`` over a sequence)."""
from __future__ import annotations

import functools
import re

import numpy as np

from rnnlab import nest
from rnnlab.ops.dtypes import (cast, convert_to_numpy, convert_to_tensor, dtype, is_tensor,  # noqa: F401
                               shape)
from rnnlab.ops.scatter import scatter, scatter_update  # noqa: F401 - Keras's core ops
from rnnlab.ops.shapes import broadcast_to, reshape, slice, slice_update, stack, unstack  # noqa: F401,A004
from rnnlab.ops.tensor import unwrap

_GUFUNC_ARG = re.compile(r"\(\s*(\w+(?:\s*,\s*\w+)*)?\s*\)")


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


def _core_dims(signature):
    """``"(m,n),(n)->(m)"`` as ``([("m", "n"), ("n",)], [("m",)])``."""
    parts = signature.replace(" ", "").split("->")
    if len(parts) != 2 or any(_GUFUNC_ARG.sub("", p).replace(",", "") for p in parts):
        raise ValueError(f"ops.vectorize: `signature` must look like '(m,n),(n)->(m)'; received "
                         f"signature={signature!r}.")
    return [[tuple(m.group(1).split(",")) if m.group(1) else () for m in _GUFUNC_ARG.finditer(p)] for p in parts]


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` applied to every entry (or, with a gufunc ``signature`` such as ``"(m,n),(n)->(m)"``, to every
    core block) of its broadcast arguments, the results stacked back into the batch shape.

    Positional arguments whose index is in ``excluded`` (and keyword arguments named there) are passed as they
    are. Each call is an ordinary Python call on recorded ops, so gradients flow through ``pyfunc``.
    """
    if not callable(pyfunc):
        raise ValueError(f"ops.vectorize: argument `pyfunc` must be callable; received pyfunc={pyfunc!r}.")
    excluded = set() if excluded is None else set(excluded)
    in_dims, out_dims = _core_dims(signature) if signature is not None else (None, None)

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        static = {i: a for i, a in enumerate(args) if i in excluded}
        fixed_kwargs = {k: v for k, v in kwargs.items() if k in excluded}
        if set(kwargs) - set(fixed_kwargs):
            raise TypeError(f"ops.vectorize: keyword arguments must be listed in `excluded`; received "
                            f"{sorted(set(kwargs) - set(fixed_kwargs))}.")
        dynamic = [convert_to_tensor(a) for i, a in enumerate(args) if i not in excluded]
        cores = in_dims if in_dims is not None else [()] * len(dynamic)
        if len(cores) != len(dynamic):
            raise TypeError(f"ops.vectorize: the signature {signature!r} takes {len(cores)} arrays; received "
                            f"{len(dynamic)}.")
        shapes = [shape(a) for a in dynamic]
        batch = np.broadcast_shapes(*(s[:len(s) - len(c)] for s, c in zip(shapes, cores)))
        count = int(np.prod(batch))
        flat = [reshape(broadcast_to(a, batch + s[len(s) - len(c):]), (count,) + s[len(s) - len(c):])
                for a, s, c in zip(dynamic, shapes, cores)]
        results = []
        for n in range(count):
            call_args = iter(f[n] for f in flat)
            full = [static[i] if i in static else next(call_args) for i in range(len(args))]
            results.append(pyfunc(*full, **fixed_kwargs))
        if not results:
            raise ValueError("ops.vectorize: the broadcast batch of the arguments is empty; nothing to apply "
                             "pyfunc to.")
        several = isinstance(results[0], tuple)
        columns = list(zip(*results)) if several else [results]
        outs = [reshape(stack(list(col)), batch + shape(col[0])) for col in columns]
        if out_dims is not None and len(out_dims) != len(outs):
            raise ValueError(f"ops.vectorize: pyfunc returned {len(outs)} outputs; the signature {signature!r} "
                             f"names {len(out_dims)}.")
        return tuple(outs) if several else outs[0]

    return wrapped


__all__ = ["cast", "convert_to_tensor", "convert_to_numpy", "shape", "dtype", "is_tensor", "stop_gradient", "cond",
           "switch", "fori_loop", "while_loop", "scan", "map", "vectorized_map", "vectorize", "slice", "slice_update",
           "unstack", "scatter", "scatter_update"]
