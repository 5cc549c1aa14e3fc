"""Sums of products over shared axes: ``einsum``, ``tensordot``, ``dot``, ``outer``, ``inner``, ``vdot``.

They share one backward: each is written as an ``einsum`` over explicit subscripts, and the gradient of an
operand is the einsum of the output's gradient with the other operands, into that operand's subscripts
(:func:`_einsum_vjp`). Letters found only in that operand (axes it sums alone) are broadcast back; a letter
repeated in it (a diagonal, as in ``"ii->i"``) is written back on the diagonal.
"""
from __future__ import annotations

import string

import numpy as np

from rnnlab.ops.checks import names_shapes
from rnnlab.ops.dtypes import as_array, result_type
from rnnlab.ops.shapes import ravel
from rnnlab.ops.tensor import Tensor, operand, record


def _explicit(subscripts, shapes):
    """``"ij,j->i"`` style subscripts with every ellipsis replaced by letters and the output spelled out.

    Ellipsis axes broadcast as in NumPy: an operand's axis of size 1 facing a larger one gets a letter of its
    own (summed alone, so the forward is unchanged and its gradient is summed back)."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"ops.einsum: subscripts {subscripts!r} name {len(terms)} operands; received "
                         f"{len(shapes)}.")
    spare = iter(c for c in string.ascii_letters if c not in subscripts)
    ell_shapes = [shape[:len(shape) - (len(t) - 3)] if "..." in t else () for t, shape in zip(terms, shapes)]
    ell = np.broadcast_shapes(*ell_shapes) if any("..." in t for t in terms) else ()
    ell_letters = "".join(next(spare) for _ in ell)
    new_terms = []
    for t, es in zip(terms, ell_shapes):
        if "..." in t:
            own = ell_letters[len(ell) - len(es):]
            own = "".join(next(spare) if d == 1 and ell[len(ell) - len(es) + i] != 1 else c
                          for i, (c, d) in enumerate(zip(own, es)))
            t = t.replace("...", own)
        new_terms.append(t)
    if arrow:
        output = output.replace("...", ell_letters)
    else:  # implicit mode: ellipsis axes, then the letters used once, alphabetically
        counts = "".join(terms).replace("...", "")
        output = ell_letters + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return ",".join(new_terms) + "->" + output


def _einsum_vjp(spec, values, g, k):
    """The gradient of operand ``k`` of ``einsum(spec, *values)`` given the output's gradient ``g``."""
    inputs, output = spec.split("->")
    terms = inputs.split(",")
    target = terms[k]
    sizes = {c: d for t, v in zip(terms, values) for c, d in zip(t, v.shape)}
    known = set(output).union(*(set(t) for i, t in enumerate(terms) if i != k))
    unique = "".join(dict.fromkeys(target))
    present = "".join(c for c in unique if c in known)
    others = [v for i, v in enumerate(values) if i != k]
    other_terms = [t for i, t in enumerate(terms) if i != k]
    part = np.einsum(",".join([output] + other_terms) + "->" + present, g, *others, optimize=len(others) > 1)
    # letters only this operand has: the gradient is the same along them
    part = np.broadcast_to(np.expand_dims(part, tuple(i for i, c in enumerate(unique) if c not in known)),
                           tuple(sizes[c] for c in unique))
    if len(unique) == len(target):
        return part
    grad = np.zeros(values[k].shape, dtype=part.dtype)  # a repeated letter: back onto the diagonal
    ranges = {c: np.arange(sizes[c]).reshape([-1 if u == c else 1 for u in unique]) for c in unique}
    grad[tuple(ranges[c] for c in target)] = part
    return grad


def _record_einsum(y, spec, operands, values):
    def vjp(g):
        return tuple(_einsum_vjp(spec, values, g, k) if isinstance(p, Tensor) else None
                     for k, p in enumerate(operands))

    return record(y, operands, vjp)


def _promoted(operands):
    operands = [operand(x) for x in operands]
    dtype = result_type(*operands)
    if dtype == "bool":
        dtype = "int32"
    return operands, [as_array(x, dtype) for x in operands]


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation as NumPy's ``einsum`` (ellipsis and implicit output included)."""
    if kwargs:
        raise TypeError(f"ops.einsum: unexpected keyword arguments {sorted(kwargs)}.")
    operands, values = _promoted(operands)
    try:
        spec = _explicit(subscripts, [v.shape for v in values])
        y = np.einsum(spec, *values, optimize=len(values) > 2)
    except ValueError as exc:
        raise ValueError(f"ops.einsum: subscripts {subscripts!r} do not fit operands of shapes "
                         f"{[v.shape for v in values]} ({exc}).") from None
    return _record_einsum(np.asarray(y), spec, operands, values)


def _tensordot_spec(a_ndim, b_ndim, a_axes, b_axes):
    letters = string.ascii_letters
    a = list(letters[:a_ndim])
    b = list(letters[a_ndim:a_ndim + b_ndim])
    for i, j in zip(a_axes, b_axes):
        b[j] = a[i]
    out = [c for i, c in enumerate(a) if i not in a_axes] + [c for j, c in enumerate(b) if j not in b_axes]
    return "".join(a) + "," + "".join(b) + "->" + "".join(out)


@names_shapes("x1", "x2", verb="contract")
def tensordot(x1, x2, axes=2):
    """Sum of products over the last ``axes`` axes of ``x1`` and the first of ``x2`` (an int), or over the
    axes named by a pair of lists."""
    (x1, x2), (a, b) = _promoted((x1, x2))
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        a_axes, b_axes = ([axes[0]] if np.isscalar(axes[0]) else list(axes[0]),
                          [axes[1]] if np.isscalar(axes[1]) else list(axes[1]))
    a_axes, b_axes = [i % a.ndim for i in a_axes], [j % b.ndim for j in b_axes]
    y = np.tensordot(a, b, axes=(a_axes, b_axes))
    return _record_einsum(y, _tensordot_spec(a.ndim, b.ndim, a_axes, b_axes), (x1, x2), (a, b))


@names_shapes("x1", "x2", verb="multiply")
def dot(x1, x2):
    """NumPy's ``dot``: a product for scalars, the inner product of vectors, the matrix product, and for N-D
    arrays the sum over ``x1``'s last axis and ``x2``'s second-to-last."""
    (x1, x2), (a, b) = _promoted((x1, x2))
    y = np.asarray(np.dot(a, b))
    if a.ndim == 0 or b.ndim == 0:
        spec = _tensordot_spec(a.ndim, b.ndim, [], [])
    else:
        spec = _tensordot_spec(a.ndim, b.ndim, [a.ndim - 1], [max(b.ndim - 2, 0)])
    return _record_einsum(y, spec, (x1, x2), (a, b))


def outer(x1, x2):
    """Every product of an entry of flattened ``x1`` with one of flattened ``x2``: shape ``(x1.size, x2.size)``."""
    return einsum("i,j->ij", ravel(x1), ravel(x2))


def inner(x1, x2):
    """The sum of products over the last axes of ``x1`` and ``x2`` (a product when either is a scalar)."""
    (x1, x2), (a, b) = _promoted((x1, x2))
    if a.ndim == 0 or b.ndim == 0:
        return dot(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-1]))


def vdot(x1, x2):
    """The inner product of flattened ``x1`` and ``x2``."""
    return einsum("i,i->", ravel(x1), ravel(x2))


__all__ = ["einsum", "tensordot", "dot", "outer", "inner", "vdot"]
