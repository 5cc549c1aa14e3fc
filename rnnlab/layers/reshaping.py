"""Layers that only move numbers around: RepeatVector, Flatten, Reshape, Permute, Cropping1D, ZeroPadding1D,
UpSampling1D.  Each backward puts the output gradient back where its input entry came from.

As in Keras none of them supports masking: a mask arriving at one of them is dropped.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.engine.conv_args import check_rank, data_format_of, int_tuple, positive_int
from rnnlab.layers.base import FunctionLayer


class RepeatVector(FunctionLayer):
    """``(B, F) -> (B, n, F)``: the input vector repeated ``n`` times (an encoder state fed to every decoder
    step)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n")

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=2)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0], self.n, input_shape[1])

    def _forward(self, x, training, grads):
        y = np.repeat(x[:, None, :], self.n, axis=1)  # (B, n, F)
        return y, lambda dy: dy.sum(axis=1)  # every copy sends its gradient to the one vector

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Flatten(FunctionLayer):
    """``(B, d1, d2, ...) -> (B, d1 * d2 * ...)``; with ``data_format="channels_first"`` the channel axis
    (axis 1) is moved last before flattening, as Keras does."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, "Flatten")

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, min_ndim=1)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def _forward(self, x, training, grads):
        moved = self.data_format == "channels_first" and x.ndim > 2
        perm = (0, *range(2, x.ndim), 1) if moved else None
        z = x.transpose(perm) if moved else x  # channels last
        y = z.reshape(x.shape[0], -1)  # (B, prod)

        def backward(dy):
            dz = dy.reshape(z.shape)
            return dz.transpose(np.argsort(perm)) if moved else dz

        return y, backward

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _check_target_shape(target_shape):
    try:
        shape = tuple(target_shape)
    except TypeError:
        raise TypeError(f"Argument `target_shape` must be a tuple of integers; received "
                        f"target_shape={target_shape!r}.") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape) or \
            any(d == 0 or d < -1 for d in shape) or list(shape).count(-1) > 1:
        raise ValueError(f"Argument `target_shape` must hold positive integers and at most one -1; received "
                         f"target_shape={target_shape!r}.")
    return tuple(int(d) for d in shape)


class Reshape(FunctionLayer):
    """``(B, ...) -> (B, *target_shape)``; one entry of ``target_shape`` may be -1 (inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = _check_target_shape(target_shape)

    def _resolved(self, input_shape):
        """The target shape with its -1 worked out from ``input_shape[1:]`` (None when sizes are unknown)."""
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and math.prod(rest) != math.prod(self.target_shape):
                raise ValueError(f"Layer {self.name!r} (Reshape) cannot reshape an input of shape "
                                 f"{tuple(input_shape)} ({math.prod(rest)} values per sample) to target_shape="
                                 f"{self.target_shape}.")
            return self.target_shape
        known = math.prod(d for d in self.target_shape if d != -1)
        if None in rest:
            return tuple(None if d == -1 else d for d in self.target_shape)
        if math.prod(rest) % known:
            raise ValueError(f"Layer {self.name!r} (Reshape) cannot reshape an input of shape {tuple(input_shape)} "
                             f"to target_shape={self.target_shape}.")
        return tuple(math.prod(rest) // known if d == -1 else d for d in self.target_shape)

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, min_ndim=1)
        self._resolved(input_shape)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0],) + self._resolved(input_shape)

    def _forward(self, x, training, grads):
        y = x.reshape((x.shape[0],) + self._resolved(x.shape))
        return y, lambda dy: dy.reshape(x.shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(FunctionLayer):
    """Reorders the non-batch axes: ``dims`` is a permutation of ``1..rank-1`` (``(2, 1)`` swaps time and
    features)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(int(d) for d in dims)
        except (TypeError, ValueError):
            raise TypeError(f"Argument `dims` must be a tuple of integers; received dims={dims!r}.") from None
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Argument `dims` of Permute must be a permutation of 1..{len(dims)} (the batch axis "
                             f"0 stays first); received dims={dims}.")
        self.dims = dims

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=len(self.dims) + 1)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def _forward(self, x, training, grads):
        perm = (0,) + self.dims
        return x.transpose(perm), lambda dy: dy.transpose(np.argsort(perm))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class Cropping1D(FunctionLayer):
    """``(B, T, F) -> (B, T - left - right, F)``: drops ``cropping = (left, right)`` steps at the ends."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = int_tuple(cropping, 2, "cropping", "Cropping1D", allow_zero=True)

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)
        if input_shape[1] is not None and sum(self.cropping) >= input_shape[1]:
            raise ValueError(f"Argument `cropping` of layer {self.name!r} (Cropping1D) must remove fewer steps than "
                             f"the input has; received cropping={self.cropping} for an input of shape "
                             f"{tuple(input_shape)}.")

    def compute_output_shape(self, input_shape, *args, **kwargs):
        steps = None if input_shape[1] is None else input_shape[1] - sum(self.cropping)
        return (input_shape[0], steps, input_shape[2])

    def _forward(self, x, training, grads):
        left, right = self.cropping
        y = x[:, left:x.shape[1] - right, :]

        def backward(dy):
            dx = np.zeros_like(x)
            dx[:, left:x.shape[1] - right, :] = dy  # cropped steps get no gradient
            return dx

        return y, backward

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class ZeroPadding1D(FunctionLayer):
    """Adds ``padding = (left, right)`` zero steps at the ends of the time axis (axis 1, or axis 2 with
    ``data_format="channels_first"``)."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = int_tuple(padding, 2, "padding", "ZeroPadding1D", allow_zero=True)
        self.data_format = data_format_of(data_format, "ZeroPadding1D")

    @property
    def _axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shape = list(input_shape)
        if shape[self._axis] is not None:
            shape[self._axis] += sum(self.padding)
        return tuple(shape)

    def _forward(self, x, training, grads):
        widths = [(0, 0)] * 3
        widths[self._axis] = self.padding
        y = np.pad(x, widths)
        keep = [slice(None)] * 3
        keep[self._axis] = slice(self.padding[0], self.padding[0] + x.shape[self._axis])
        return y, lambda dy: dy[tuple(keep)]

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class UpSampling1D(FunctionLayer):
    """``(B, T, F) -> (B, size * T, F)``: every step repeated ``size`` times in place."""

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = positive_int(size, "size")

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        steps = None if input_shape[1] is None else self.size * input_shape[1]
        return (input_shape[0], steps, input_shape[2])

    def _forward(self, x, training, grads):
        y = np.repeat(x, self.size, axis=1)  # (B, size*T, F)
        b, t, f = x.shape
        return y, lambda dy: dy.reshape(b, t, self.size, f).sum(axis=2)  # the copies of a step add up

    def get_config(self):
        return {**super().get_config(), "size": self.size}
