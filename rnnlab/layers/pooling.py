"""Pooling over time: MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D and GlobalAveragePooling1D.

Windows follow TensorFlow: output step ``t`` covers steps ``t*strides .. t*strides + pool_size - 1``; with
``padding="same"`` the input is padded as TensorFlow pads (the odd step on the right) and padded steps take no
part (a max ignores them, an average divides by the real steps only).

Masks: only GlobalAveragePooling1D reads one (masked steps are left out of the mean) and it gives no mask;
the other layers drop a mask, as in Keras.
"""
from __future__ import annotations

import numpy as np

from rnnlab.engine.conv_args import (check_rank, conv_output_length, conv_output_spatial, data_format_of, int_tuple,
                                     padding_mode, same_padding)
from rnnlab.layers.base import FunctionLayer


class _Pooling1D(FunctionLayer):
    mode = None  # "max" or "average"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        kind = type(self).__name__
        self.pool_size = int_tuple(pool_size, 1, "pool_size", kind)
        self.strides = int_tuple(pool_size if strides is None else strides, 1, "strides", kind)
        self.padding = padding_mode(padding, kind)
        self.data_format = data_format_of(data_format, kind)

    @property
    def _steps_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)
        conv_output_spatial((input_shape[self._steps_axis],), self.pool_size, self.strides, self.padding, (1,),
                            f"layer {self.name!r} ({type(self).__name__})", "pool_size")

    def compute_output_shape(self, input_shape, *args, **kwargs):
        shape = list(input_shape)
        shape[self._steps_axis] = conv_output_length(shape[self._steps_axis], self.pool_size[0], self.strides[0],
                                                     self.padding)
        return tuple(shape)

    def _forward(self, x, training, grads):
        first = self.data_format == "channels_first"
        xl = x.transpose(0, 2, 1) if first else x  # (B, T, C)
        steps, p, s = xl.shape[1], self.pool_size[0], self.strides[0]
        left, right = same_padding(steps, p, s) if self.padding == "same" else (0, 0)
        out_steps = conv_output_length(steps, p, s, self.padding)
        index = np.arange(out_steps)[:, None] * s + np.arange(p)[None, :] - left  # (L, p) input steps
        real = (index >= 0) & (index < steps)  # padded positions take no part
        safe = np.clip(index, 0, steps - 1)
        windows = xl[:, safe, :]  # (B, L, p, C)
        if self.mode == "max":
            scores = np.where(real[None, :, :, None], windows, -np.inf)
            pick = scores.argmax(axis=2)  # (B, L, C), the first maximum
            y = np.take_along_axis(windows, pick[:, :, None, :], axis=2)[:, :, 0, :]
            chosen = np.take_along_axis(np.broadcast_to(safe[None, :, :, None], windows.shape), pick[:, :, None, :],
                                        axis=2)[:, :, 0, :]  # (B, L, C) the input step each output came from

            def spread(dy):
                dx = np.zeros_like(xl)
                b, c = np.meshgrid(np.arange(xl.shape[0]), np.arange(xl.shape[2]), indexing="ij")
                for t in range(out_steps):
                    np.add.at(dx, (b, chosen[:, t, :], c), dy[:, t, :])  # windows may overlap
                return dx
        else:
            count = real.sum(axis=1).astype(x.dtype)[None, :, None]  # (1, L, 1) real steps per window
            y = (windows * real[None, :, :, None]).sum(axis=2) / count

            def spread(dy):
                share = dy / count  # (B, L, C): each real step of a window gets an equal share
                dx = np.zeros_like(xl)
                for j in range(p):
                    ok = real[:, j]
                    np.add.at(dx, (slice(None), safe[ok, j], slice(None)), share[:, ok, :])
                return dx

        def backward(dy):
            dx = spread(dy.transpose(0, 2, 1) if first else dy)
            return dx.transpose(0, 2, 1) if first else dx

        return (y.transpose(0, 2, 1) if first else y), backward

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """The maximum over each window of ``pool_size`` steps, every ``strides`` steps."""

    mode = "max"


class AveragePooling1D(_Pooling1D):
    """The mean over each window of ``pool_size`` steps, every ``strides`` steps."""

    mode = "average"


class _GlobalPooling1D(FunctionLayer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    @property
    def _steps_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        channels = input_shape[1] if self.data_format == "channels_first" else input_shape[-1]
        if not self.keepdims:
            return (input_shape[0], channels)
        return (input_shape[0], channels, 1) if self.data_format == "channels_first" else \
            (input_shape[0], 1, channels)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over all steps: ``(B, T, C) -> (B, C)`` (``(B, 1, C)`` with ``keepdims``)."""

    def _forward(self, x, training, grads):
        axis = self._steps_axis
        pick = np.expand_dims(x.argmax(axis=axis), axis)  # the first maximum gets the gradient
        y = np.take_along_axis(x, pick, axis=axis)

        def backward(dy):
            dx = np.zeros_like(x)
            np.put_along_axis(dx, pick, dy if self.keepdims else np.expand_dims(dy, axis), axis=axis)
            return dx

        return (y if self.keepdims else y.squeeze(axis)), backward


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over all steps, or over the unmasked ones when a mask ``(B, T)`` comes with the input (a row with
    every step masked gives NaN, as in Keras).  The output has no mask."""

    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def _forward_masked(self, x, mask):
        axis = self._steps_axis
        if mask is None:
            weights = np.full((1, 1, 1), 1.0 / x.shape[axis], x.dtype)
        else:
            keep = np.expand_dims(np.asarray(mask, bool), 1 if self.data_format == "channels_first" else 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                weights = keep / keep.sum(axis=axis, keepdims=True).astype(x.dtype)  # 1/count at real steps
            weights = weights.astype(x.dtype)
        y = (np.where(weights != 0, x, 0) * weights).sum(axis=axis, keepdims=True) if mask is not None else \
            x.mean(axis=axis, keepdims=True)

        def backward(dy):
            d = dy if self.keepdims else np.expand_dims(dy, axis)
            return np.broadcast_to(d * weights, x.shape).copy()

        return (y if self.keepdims else y.squeeze(axis)), backward

    def _forward(self, x, training, grads):
        return self._forward_masked(x, None)

    def call(self, inputs, mask=None):
        return self._forward_masked(inputs, mask)[0]

    def forward_backward(self, inputs, training=True, grads=None, mask=None):
        x = self._prepare_inputs(inputs)
        y, backward = self._forward_masked(x, mask)
        return y, lambda dy: (backward(dy), {})
