"""Layers that merge a list of tensors: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum and Dot,
with Keras's functional forms (``concatenate``, ``add``, ...).

Inputs of the elementwise merges broadcast as in Keras: a lower-rank input gets size-1 axes inserted after the
batch axis, then NumPy broadcasting applies.  Their backward sums each gradient back over the axes its input
was broadcast along.

Masks, as Keras 3.15 treats them: the output mask is the OR of the input masks when every input has one (none
otherwise); ``Concatenate`` counts an input without a mask as unmasked; ``Dot`` gives no mask.  Only
``Multiply``, ``Maximum`` and ``Minimum`` let masks change the values: a masked entry of one input is left out
of the product (or comparison), and ``Multiply`` zeroes entries masked in every input.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend, nest
from rnnlab.layers.base import FunctionLayer


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


class Merge(FunctionLayer):
    """Base of the merge layers: ``inputs`` is a list of tensors with the same batch size.

    Subclasses write ``_merge(xs, masks) -> (y, backward)`` with ``backward(dy) -> [dx_i]``; ``masks`` holds
    each input's Keras mask (or None).
    """

    supports_masking = True
    min_inputs = 1
    exact_inputs = None

    def _convert_inputs(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer ({type(self).__name__} {self.name!r}) must be called on a list of "
                             f"inputs; received {type(inputs).__name__}.")
        return [backend.to_float_array(x, self.dtype, f"inputs[{i}]") for i, x in enumerate(inputs)]

    def _check_input_shape(self, input_shape):
        where = f"Layer {self.name!r} ({type(self).__name__})"
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(f"{where} must be called on a list of inputs; received input_shape={input_shape}.")
        if self.exact_inputs is not None and len(input_shape) != self.exact_inputs:
            raise ValueError(f"{where} must be called on exactly {self.exact_inputs} inputs; received "
                             f"{len(input_shape)}.")
        if len(input_shape) < self.min_inputs:
            raise ValueError(f"{where} must be called on a list of at least {self.min_inputs} inputs; received "
                             f"{len(input_shape)}.")
        if any(len(s) == 0 for s in input_shape):
            raise ValueError(f"{where}: every input needs a batch axis; received shapes {list(input_shape)}.")
        batch = {s[0] for s in input_shape} - {None}
        if len(batch) > 1:
            raise ValueError(f"{where} cannot merge tensors with different batch sizes; received shapes "
                             f"{list(input_shape)}.")
        self._check_shapes([tuple(s) for s in input_shape], where)

    def _check_shapes(self, shapes, where):
        """Subclasses check that the shapes can be merged (the elementwise rule by default)."""
        _elementwise_shape(shapes, where)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shapes = [tuple(s) for s in input_shape]
        batch = [s[0] for s in shapes if s[0] is not None]
        return (batch[0] if batch else None,) + _elementwise_shape(shapes, f"Layer {self.name!r}")

    def compute_mask(self, inputs, mask=None):
        if mask is None or not nest.is_nested(mask) or any(m is None for m in mask):
            return None
        out = np.asarray(mask[0], bool)
        for m in mask[1:]:
            out = out | np.asarray(m, bool)
        return out

    def _merge(self, xs, masks):  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, inputs, mask=None):
        return self._merge(inputs, _masks(mask, len(inputs)))[0]

    def forward_backward(self, inputs, training=True, grads=None, mask=None):
        xs = self._prepare_inputs(inputs)
        y, backward = self._merge(xs, _masks(mask, len(xs)))
        return y, lambda dy: (backward(dy), {})


def _masks(mask, n):
    if mask is None:
        return [None] * n
    masks = list(mask) if nest.is_nested(mask) else [mask] + [None] * (n - 1)
    return [None if m is None else np.asarray(m, bool) for m in masks]


def _elementwise_shape(shapes, where):
    """The broadcast of the non-batch parts of ``shapes`` (aligned from the right), as Keras's Merge."""
    rank = max(len(s) - 1 for s in shapes)
    out = [1] * rank
    for s in shapes:
        dims = (1,) * (rank - len(s) + 1) + tuple(s[1:])
        for i, (a, b) in enumerate(zip(out, dims)):
            if a is None or b is None:
                out[i] = None if a != 1 and b != 1 else (b if a == 1 else a)
            elif a == 1:
                out[i] = b
            elif b != 1 and a != b:
                raise ValueError(f"{where}: inputs have incompatible shapes {list(shapes)} (each non-batch axis "
                                 "must match or be 1).")
    return tuple(out)


class _Elementwise(Merge):
    """An elementwise merge: inputs are aligned to one rank, then ``_combine(aligned, masks)`` runs."""

    def _merge(self, xs, masks):
        rank = max(x.ndim for x in xs)
        aligned = [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]  # (B, 1.., ...)
        keep = [None if m is None else np.broadcast_to(m.reshape(m.shape + (1,) * (a.ndim - m.ndim)), a.shape)
                for m, a in zip(masks, aligned)]
        y, backward = self._combine(aligned, keep)

        def merged_backward(dy):
            return [_unbroadcast(g, a.shape).reshape(x.shape) for g, a, x in zip(backward(dy), aligned, xs)]

        return y, merged_backward

    def _combine(self, xs, keep):  # pragma: no cover - abstract
        raise NotImplementedError


class Add(_Elementwise):
    """The sum of the inputs."""

    def _combine(self, xs, keep):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y, lambda dy: [dy] * len(xs)


class Subtract(_Elementwise):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    exact_inputs = 2

    def _combine(self, xs, keep):
        return xs[0] - xs[1], lambda dy: [dy, -dy]


class Average(_Elementwise):
    """The mean of the inputs."""

    def _combine(self, xs, keep):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        n = len(xs)
        return y / n, lambda dy: [dy / n] * n


class Multiply(_Elementwise):
    """The product of the inputs.  Masked entries count as 1; where every input has a mask, entries masked in
    all of them are 0."""

    def _combine(self, xs, keep):
        factors = [x if k is None else np.where(k, x, x.dtype.type(1)) for x, k in zip(xs, keep)]
        y = factors[0]
        for f in factors[1:]:
            y = y * f
        out_keep = None
        if all(k is not None for k in keep):
            out_keep = keep[0]
            for k in keep[1:]:
                out_keep = out_keep | k
            y = np.where(out_keep, y, y.dtype.type(0))

        def backward(dy):
            d = dy if out_keep is None else np.where(out_keep, dy, 0)
            grads = []
            for i, k in enumerate(keep):
                g = d
                for j, f in enumerate(factors):
                    if j != i:
                        g = g * f  # the product of the other factors
                grads.append(g if k is None else np.where(k, g, 0))  # a masked entry was the constant 1
            return grads

        return y, backward


class _Extremum(_Elementwise):
    """Maximum or Minimum, with Keras's mask rule: a masked entry of an input takes the running result's value
    (or gives its own value to it), so masked entries never win over unmasked ones."""

    pick = None  # np.greater for Maximum: does the new value replace the running one?

    def _combine(self, xs, keep):
        shape = np.broadcast_shapes(*(x.shape for x in xs))
        out = np.broadcast_to(xs[0], shape)
        src = np.zeros(shape, np.int64)  # which input each output entry comes from
        out_keep = keep[0]
        for i in range(1, len(xs)):
            x, k = np.broadcast_to(xs[i], shape), keep[i]
            x_src = np.full(shape, i)
            if k is not None:
                x, x_src = np.where(k, x, out), np.where(k, x_src, src)
            if out_keep is not None:
                out, src = np.where(out_keep, out, x), np.where(out_keep, src, x_src)
            out_keep = out_keep | k if (k is not None and out_keep is not None) else None
            take = type(self).pick(x, out)  # ties keep the earlier input
            out, src = np.where(take, x, out), np.where(take, x_src, src)
        return out.copy(), lambda dy: [np.where(src == i, dy, 0) for i in range(len(xs))]


class Maximum(_Extremum):
    """The elementwise maximum of the inputs."""

    pick = np.greater


class Minimum(_Extremum):
    """The elementwise minimum of the inputs."""

    pick = np.less


class Concatenate(Merge):
    """Joins the inputs along ``axis``; every other axis must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Argument `axis` of Concatenate must be an integer; received axis={axis!r}.")
        self.axis = int(axis)

    def _check_shapes(self, shapes, where):
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1 or not -len(shapes[0]) <= self.axis < len(shapes[0]) or self.axis % len(shapes[0]) == 0:
            raise ValueError(f"{where} requires inputs of one rank with the concatenation axis inside it (not the "
                             f"batch axis); received input shapes {list(shapes)} with axis={self.axis}.")
        axis = self.axis % len(shapes[0])
        for i in range(1, len(shapes[0])):
            sizes = {s[i] for s in shapes} - {None}
            if i != axis and len(sizes) > 1:
                raise ValueError(f"{where} requires inputs with matching shapes except for the concatenation axis "
                                 f"(axis={self.axis}); received input shapes {list(shapes)}.")

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shapes = [list(s) for s in input_shape]
        out = list(shapes[0])
        for i in range(len(out)):
            known = [s[i] for s in shapes if s[i] is not None]
            out[i] = known[0] if known else None
        sizes = [s[self.axis] for s in shapes]
        out[self.axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def compute_mask(self, inputs, mask=None):
        masks = _masks(mask, len(inputs))
        if all(m is None for m in masks):
            return None
        full = []
        for x, m in zip(inputs, masks):
            shape = np.shape(x)
            if m is None:
                full.append(np.ones(shape, bool))
            else:
                full.append(np.broadcast_to(m.reshape(m.shape + (1,) * (len(shape) - m.ndim)), shape))
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def _merge(self, xs, masks):
        y = np.concatenate(xs, axis=self.axis)
        cuts = np.cumsum([x.shape[self.axis] for x in xs])[:-1]
        return y, lambda dy: np.split(dy, cuts, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _l2_normalize(x, axis):
    """Keras's ``normalize``: ``x * min(1 / ||x||, 1 / 1e-7)`` along ``axis``, and its backward."""
    square_sum = np.sum(x * x, axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.minimum(1.0 / np.sqrt(square_sum), 1e7).astype(x.dtype)
    n = x * inv
    clamped = inv >= 1e7

    def backward(dn):
        free = inv * (dn - n * np.sum(dn * n, axis=axis, keepdims=True))
        return np.where(clamped, dn * inv, free)

    return n, backward


class Dot(Merge):
    """The dot product of two tensors along ``axes`` (one axis each, never the batch axis), per sample.

    For ``x`` of shape ``(B, *I, K)`` and ``y`` of shape ``(B, K, *J)`` (after moving the contracted axes) the
    result is ``(B, *I, *J)``, or ``(B, 1)`` when that leaves one axis.  ``normalize=True`` divides both
    inputs by their L2 norm along the axis first (cosine similarity).
    """

    exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
                raise ValueError(f"Argument `axes` of Dot must be an int or two ints; received axes={axes!r}.")
            axes = [int(a) for a in axes]
        elif isinstance(axes, bool) or not isinstance(axes, (int, np.integer)):
            raise TypeError(f"Argument `axes` of Dot must be an int or a list of two ints; received axes={axes!r}.")
        else:
            axes = int(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _pair(self, rank0, rank1):
        axes = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        return [a % r if a < 0 else a for a, r in zip(axes, (rank0, rank1))]

    def _check_shapes(self, shapes, where):
        s0, s1 = shapes
        if len(s0) < 2 or len(s1) < 2:
            raise ValueError(f"{where} needs inputs of rank >= 2; received shapes {list(shapes)}.")
        a0, a1 = self._pair(len(s0), len(s1))
        if not (0 < a0 < len(s0) and 0 < a1 < len(s1)):
            raise ValueError(f"{where}: argument `axes` must name a non-batch axis of each input; received "
                             f"axes={self.axes} for shapes {list(shapes)}.")
        if s0[a0] is not None and s1[a1] is not None and s0[a0] != s1[a1]:
            raise ValueError(f"{where}: incompatible input shapes, axis {a0} of the first ({s0[a0]}) != axis {a1} "
                             f"of the second ({s1[a1]}); received shapes {list(shapes)}.")

    def compute_output_shape(self, input_shape, *args, **kwargs):
        s0, s1 = (list(s) for s in input_shape)
        a0, a1 = self._pair(len(s0), len(s1))
        s0.pop(a0)
        s1.pop(a1)
        out = s0 + s1[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs, mask=None):
        return None

    def _merge(self, xs, masks):
        x, z = xs
        a0, a1 = self._pair(x.ndim, z.ndim)
        nx, back_x = _l2_normalize(x, a0) if self.normalize else (x, None)
        nz, back_z = _l2_normalize(z, a1) if self.normalize else (z, None)
        xm = np.moveaxis(nx, a0, -1)  # (B, *I, K)
        zm = np.moveaxis(nz, a1, 1)  # (B, K, *J)
        batch, k = x.shape[0], xm.shape[-1]
        x3 = xm.reshape(batch, -1, k)  # (B, I, K)
        z3 = zm.reshape(batch, k, -1)  # (B, K, J)
        out_shape = (batch,) + xm.shape[1:-1] + zm.shape[2:]
        y = np.matmul(x3, z3).reshape(out_shape if len(out_shape) > 1 else (batch, 1))

        def backward(dy):
            d3 = dy.reshape(batch, x3.shape[1], z3.shape[2])  # (B, I, J)
            dx = np.moveaxis((d3 @ z3.transpose(0, 2, 1)).reshape(xm.shape), -1, a0)
            dz = np.moveaxis((x3.transpose(0, 2, 1) @ d3).reshape(zm.shape), 1, a1)
            if self.normalize:
                dx, dz = back_x(dx), back_z(dz)
            return [dx, dz]

        return y, backward

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# ------------------------------------------------------------------------------ functional forms
def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``."""
    return Minimum(**kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes=axes, **kwargs)(inputs)``."""
    return Dot(axes=axes, **kwargs)(inputs)
