"""Errors an op raises on arguments that do not fit together: they name the op, its arguments and their shapes.

NumPy's own message ("operands could not be broadcast together with shapes (3,4) (5,)") names neither the op
nor the arguments; :func:`names_shapes` wraps an op so that such a ValueError becomes
``ops.add: cannot broadcast x1 of shape (3, 4) with x2 of shape (5,)``. The wrapper costs nothing until NumPy
raises.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from rnnlab.ops.tensor import Tensor, active_tape, is_variable, unwrap

_NUMPY_SHAPE_ERRORS = ("could not be broadcast", "shape-mismatch", "mismatch in its core dimension", "shapes", "not aligned",
                       "must have the same", "dimensions except for the concatenation axis")


def shape_of(x):
    return tuple(np.shape(unwrap(x)))


def names_shapes(*arg_names, verb="broadcast"):
    """Decorator: a shape ValueError from NumPy inside the op becomes one that names the op (``ops.<name>``),
    ``verb`` (what failed: "broadcast", "multiply", "concatenate"...) and each named argument's shape."""

    def wrap(fn):
        def rename(exc, args, kwargs):
            text = str(exc)
            if text.startswith("ops.") or not any(s in text for s in _NUMPY_SHAPE_ERRORS):
                return exc
            values = dict(zip(arg_names, args))
            values.update((k, v) for k, v in kwargs.items() if k in arg_names)
            parts = [_describe(name, values[name]) for name in arg_names if name in values]
            described = " with ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]
            return ValueError(f"ops.{fn.__name__}: cannot {verb} {described} ({text}).")

        if list(inspect.signature(fn).parameters) == ["x1", "x2"]:  # a binary op, called once per operator
            @functools.wraps(fn)
            def op(x1, x2):
                try:
                    return fn(x1, x2)
                except ValueError as exc:
                    error = rename(exc, (x1, x2), {})
                    if error is exc:
                        raise
                    raise error from None
        else:
            @functools.wraps(fn)
            def op(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except ValueError as exc:
                    error = rename(exc, args, kwargs)
                    if error is exc:
                        raise
                    raise error from None

        return op

    return wrap


def _describe(name, value):
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        return f"{name} of shapes {[shape_of(v) for v in value]}"
    return f"{name} of shape {shape_of(value)}"


def normalize_axis(axis, ndim, op, argument="axis"):
    """``axis`` (an int or a sequence of them, negative counting from the end) as a sorted tuple of
    non-negative ints, or a ValueError naming the op."""
    if type(axis) is int and -ndim <= axis < ndim:
        return (axis % ndim,)  # the common case: one axis, in range
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < max(ndim, 1):
            raise ValueError(f"ops.{op}: argument `{argument}` must be an int in [-{ndim}, {ndim}) or a tuple of "
                             f"them for an input of rank {ndim}; received {argument}={axis!r}.")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"ops.{op}: argument `{argument}` repeats an axis; received {argument}={axis!r}.")
    return tuple(sorted(out))


def refuse_gradient(op, **arrays):
    """A TypeError naming ``ops.<op>`` when a float argument is on the training record (a layer's input or
    weight while it trains): the op has no gradient, and silently dropping one would train the wrong model."""
    for name, value in arrays.items():
        on_record = isinstance(value, Tensor) or (is_variable(value) and active_tape() is not None)
        if on_record and np.asarray(unwrap(value)).dtype.kind == "f":
            raise TypeError(
                f"ops.{op} has no gradient in rnnlab, and argument `{name}` is on the training record (a float "
                f"array that gradients flow through). Pass ops.stop_gradient({name}) to use the op's value "
                "without a gradient.")
