"""The image and volume layers ConvLSTM models use around them: Conv2D, Conv3D, MaxPooling2D and
GlobalAveragePooling2D, as Keras 3 computes them, written with :mod:`rnnlab.ops` (their training backward comes
from the record of those ops).

A convolution with ``groups = G`` splits the ``C`` input channels and the ``filters`` into ``G`` groups; group
``g`` of the output is the convolution of input group ``g`` with kernel columns ``g``::

    y[..., g*Fg:(g+1)*Fg] = conv(x[..., g*Cg:(g+1)*Cg], kernel[..., g*Fg:(g+1)*Fg]) + bias      kernel: (*k, Cg, F)
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, ops, regularizers
from rnnlab.cells.conv_lstm import activation_op
from rnnlab.engine.conv_args import (check_rank, check_strides_dilation, conv_output_spatial, data_format_of,
                                     int_tuple, padding_mode, same_padding, spatial_sizes)
from rnnlab.engine.layer import Layer, check_units, store_weight_arguments, weight_arguments_config


class _ConvGeometry:
    """What both convolution families (:class:`BaseConv`, :class:`BaseDepthwiseConv`) share once their arguments
    are set: the channel axis, the output's spatial sizes, the input-rank check, and adding the bias."""

    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _output_spatial(self, input_shape):
        """The output's spatial sizes (a ValueError when the window is larger than the input)."""
        return conv_output_spatial(spatial_sizes(input_shape, self.data_format), self.kernel_size, self.strides,
                                   self.padding, self.dilation_rate, f"layer {self.name!r} ({type(self).__name__})")

    def _check_rank_and_window(self, input_shape):
        check_rank(self, input_shape, ndim=self.rank + 2)
        self._output_spatial(input_shape)

    def _add_bias(self, y):
        return y + ops.reshape(self.bias, (1, -1) + (1,) * self.rank if self.data_format == "channels_first"
                               else (-1,))


class BaseConv(_ConvGeometry, Layer):
    """What every N-D convolution layer (``rank`` spatial axes, Conv1D included) shares: Keras's arguments and
    their checks, the input-shape checks, the weights ``kernel`` ``(*kernel_size, C/groups, filters)`` and
    ``bias`` ``(filters,)``, the output shape and the config. A subclass supplies the call."""

    rank = None
    paddings = ("valid", "same")  # Conv1D adds "causal"

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = type(self).__name__
        self.filters = check_units(filters, "filters")
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = int_tuple(strides, self.rank, "strides", owner)
        self.padding = padding_mode(padding, owner, self.paddings)
        self.data_format = data_format_of(data_format, owner)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        check_strides_dilation(self.strides, self.dilation_rate, owner)
        self.groups = check_units(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"Argument `filters` of {owner} must be divisible by `groups`; received "
                             f"filters={self.filters}, groups={self.groups}.")
        if lora_rank is not None:
            raise ValueError(f"Argument `lora_rank` is not supported by rnnlab; received lora_rank={lora_rank!r}.")
        self.activation = activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        store_weight_arguments(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.kernel = self.bias = None

    def _check_input_shape(self, input_shape):
        self._check_rank_and_window(input_shape)
        channels = input_shape[self._channel_axis]
        if channels is not None and channels % self.groups:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}): the input's {channels} channels are not "
                             f"divisible by groups={self.groups}; received input shape {tuple(input_shape)}.")
        if self.built and channels is not None and channels != self.kernel.shape[-2] * self.groups:
            raise ValueError(f"Input 0 of layer {self.name!r} ({type(self).__name__}) must have "
                             f"{self.kernel.shape[-2] * self.groups} channels; received input shape "
                             f"{tuple(input_shape)}.")

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"Layer {self.name!r} needs a known number of input channels; received shape "
                             f"{tuple(input_shape)}.")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        spatial = self._output_spatial(input_shape)
        if self.data_format == "channels_first":
            return (input_shape[0], self.filters) + spatial
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "groups": self.groups, "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            **weight_arguments_config(self, "kernel", "bias"),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
        })
        return config


class _OpsConv(BaseConv):
    """A convolution whose call is written with :mod:`rnnlab.ops` (its training backward comes from the record of
    those ops); see the module docstring for ``groups``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._activation_op = activation_op(self.activation, "activation", type(self).__name__)

    def _conv(self, x, kernel):
        return ops.conv(x, kernel, strides=self.strides, padding=self.padding, data_format=self.data_format,
                        dilation_rate=self.dilation_rate)

    def call(self, inputs):
        self._check_input_shape(tuple(np.shape(inputs)))
        if self.groups == 1:
            y = self._conv(inputs, self.kernel)
        else:
            xs = ops.split(inputs, self.groups, axis=self._channel_axis)
            ks = ops.split(self.kernel, self.groups, axis=-1)
            y = ops.concatenate([self._conv(x, k) for x, k in zip(xs, ks)], axis=self._channel_axis)
        if self.use_bias:
            y = self._add_bias(y)
        return self._activation_op(y)


class Conv2D(_OpsConv):
    """2-D convolution: ``(B, rows, cols, C) -> (B, rows_out, cols_out, filters)``; kernel ``(kh, kw, C/groups,
    filters)``."""

    rank = 2


class Conv3D(_OpsConv):
    """3-D convolution: ``(B, d1, d2, d3, C) -> (B, d1_out, d2_out, d3_out, filters)``; kernel
    ``(k1, k2, k3, C/groups, filters)``."""

    rank = 3


class MaxPooling2D(Layer):
    """The maximum of each ``pool_size`` window, moved by ``strides`` (default ``pool_size``); "same" padding
    lets windows run past the edge, where nothing is counted (as TensorFlow)."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int_tuple(pool_size, 2, "pool_size", "MaxPooling2D")
        self.strides = self.pool_size if strides is None else int_tuple(strides, 2, "strides", "MaxPooling2D")
        self.padding = padding_mode(padding, "MaxPooling2D")
        self.data_format = data_format_of(data_format, "MaxPooling2D")

    def _output_spatial(self, input_shape):
        return conv_output_spatial(spatial_sizes(input_shape, self.data_format), self.pool_size, self.strides,
                                   self.padding, (1, 1), f"layer {self.name!r} (MaxPooling2D)", "pool_size")

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=4)
        self._output_spatial(input_shape)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        out = self._output_spatial(input_shape)
        if self.data_format == "channels_first":
            return tuple(input_shape[:2]) + out
        return (input_shape[0],) + out + (input_shape[-1],)

    def call(self, inputs):
        self._check_input_shape(tuple(np.shape(inputs)))
        x = ops.moveaxis(inputs, 1, -1) if self.data_format == "channels_first" else inputs  # (B, H, W, C)
        out = self._output_spatial(np.shape(inputs))
        if self.padding == "same":
            pads = [(0, 0)] + [same_padding(n, p, s) for n, p, s in zip(np.shape(x)[1:3], self.pool_size,
                                                                        self.strides)] + [(0, 0)]
            x = ops.pad(x, pads, constant_values=-np.inf)  # never the maximum of a window
        windows = [x[:, i:i + self.strides[0] * (out[0] - 1) + 1:self.strides[0],
                     j:j + self.strides[1] * (out[1] - 1) + 1:self.strides[1], :]
                   for i in range(self.pool_size[0]) for j in range(self.pool_size[1])]
        y = ops.max(ops.stack(windows, axis=0), axis=0)  # (B, H_out, W_out, C)
        return ops.moveaxis(y, -1, 1) if self.data_format == "channels_first" else y

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                       "data_format": self.data_format})
        return config


class GlobalAveragePooling2D(Layer):
    """The mean over the two spatial axes: ``(B, rows, cols, C) -> (B, C)`` (``keepdims``: ``(B, 1, 1, C)``)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_of(data_format, "GlobalAveragePooling2D")
        self.keepdims = bool(keepdims)

    @property
    def _axes(self):
        return (2, 3) if self.data_format == "channels_first" else (1, 2)

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=4)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        if self.keepdims:
            return tuple(1 if i in self._axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in self._axes)

    def call(self, inputs):
        self._check_input_shape(tuple(np.shape(inputs)))
        return ops.mean(inputs, axis=self._axes, keepdims=self.keepdims)

    def get_config(self):
        config = super().get_config()
        config.update({"data_format": self.data_format, "keepdims": self.keepdims})
        return config


class BaseDepthwiseConv(_ConvGeometry, Layer):
    """Keras's depthwise convolutions (``rank`` spatial axes): each input channel convolved with its own
    ``depth_multiplier`` filters, output channels ``C * depth_multiplier`` (channel ``c`` gives outputs
    ``c*m ... c*m + m - 1``); weights ``kernel`` ``(*kernel_size, C, depth_multiplier)`` and ``bias``
    ``(C * depth_multiplier,)``.  With ``filters`` (the separable convolutions), a pointwise ``1 x ... x 1``
    convolution to ``filters`` channels follows: weights ``depthwise_kernel``, ``pointwise_kernel``
    ``(1, ..., C * depth_multiplier, filters)`` and ``bias`` ``(filters,)``."""

    rank = None
    separable = False

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, filters=None,
                 pointwise_initializer="glorot_uniform", pointwise_regularizer=None, pointwise_constraint=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        owner = type(self).__name__
        self.filters = check_units(filters, "filters") if self.separable else None
        self.depth_multiplier = check_units(depth_multiplier, "depth_multiplier")
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = int_tuple(strides, self.rank, "strides", owner)
        self.padding = padding_mode(padding, owner)
        self.data_format = data_format_of(data_format, owner)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        self.activation = activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        weights = {"depthwise": (depthwise_initializer, depthwise_regularizer, depthwise_constraint)}
        if self.separable:
            weights["pointwise"] = (pointwise_initializer, pointwise_regularizer, pointwise_constraint)
        elif (pointwise_initializer, pointwise_regularizer, pointwise_constraint) != ("glorot_uniform", None, None):
            raise TypeError(f"{owner} has no pointwise kernel: the pointwise_* arguments belong to the separable "
                            "convolutions.")
        weights["bias"] = (bias_initializer, bias_regularizer, bias_constraint)
        store_weight_arguments(self, **weights)
        self._activation_op = activation_op(self.activation, "activation", owner)
        self.bias = None

    def _out_channels(self, channels):
        return self.filters if self.separable else (None if channels is None else channels * self.depth_multiplier)

    def _check_input_shape(self, input_shape):
        self._check_rank_and_window(input_shape)
        channels = input_shape[self._channel_axis]
        if self.built and channels is not None and channels != self._channels:
            raise ValueError(f"Input 0 of layer {self.name!r} ({type(self).__name__}) must have {self._channels} "
                             f"channels; received input shape {tuple(input_shape)}.")

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"Layer {self.name!r} needs a known number of input channels; received shape "
                             f"{tuple(input_shape)}.")
        self._channels = channels
        shape = self.kernel_size + (channels, self.depth_multiplier)
        name = "depthwise_kernel" if self.separable else "kernel"
        self.depthwise_kernel = self.add_weight(name=name, shape=shape, initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        if self.separable:
            self.pointwise_kernel = self.add_weight(
                name="pointwise_kernel", shape=(1,) * self.rank + (channels * self.depth_multiplier, self.filters),
                initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
                constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self._out_channels(channels),),
                                        initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)
        self.built = True

    @property
    def kernel(self):
        """The depthwise kernel (Keras's name for it in the depthwise layers)."""
        return getattr(self, "depthwise_kernel", None)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        spatial = self._output_spatial(input_shape)
        out = self._out_channels(input_shape[self._channel_axis])
        if self.data_format == "channels_first":
            return (input_shape[0], out) + spatial
        return (input_shape[0],) + spatial + (out,)

    def call(self, inputs):
        self._check_input_shape(tuple(np.shape(inputs)))
        y = ops.depthwise_conv(inputs, self.depthwise_kernel, strides=self.strides, padding=self.padding,
                               data_format=self.data_format, dilation_rate=self.dilation_rate)
        if self.separable:
            y = ops.conv(y, self.pointwise_kernel, strides=1, padding="valid", data_format=self.data_format)
        if self.use_bias:
            y = self._add_bias(y)
        return self._activation_op(y)

    def get_config(self):
        config = super().get_config()
        config.update({"depth_multiplier": self.depth_multiplier, "kernel_size": self.kernel_size,
                       "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                       "dilation_rate": self.dilation_rate, "activation": activations.serialize(self.activation),
                       "use_bias": self.use_bias,
                       **weight_arguments_config(self, *(("depthwise", "pointwise", "bias") if self.separable
                                                         else ("depthwise", "bias"))),
                       "activity_regularizer": regularizers.serialize(self.activity_regularizer)})
        if self.separable:
            config["filters"] = self.filters
        return config


class DepthwiseConv1D(BaseDepthwiseConv):
    """Depthwise 1-D convolution: ``(B, steps, C) -> (B, steps_out, C * depth_multiplier)``."""

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, **kwargs)


class DepthwiseConv2D(DepthwiseConv1D):
    """Depthwise 2-D convolution: ``(B, rows, cols, C) -> (B, rows_out, cols_out, C * depth_multiplier)``."""

    rank = 2


class SeparableConv1D(BaseDepthwiseConv):
    """A depthwise 1-D convolution then a pointwise one to ``filters`` channels:
    ``(B, steps, C) -> (B, steps_out, filters)``."""

    rank = 1
    separable = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint, filters=filters,
                         pointwise_initializer=pointwise_initializer, pointwise_regularizer=pointwise_regularizer,
                         pointwise_constraint=pointwise_constraint, **kwargs)


class SeparableConv2D(SeparableConv1D):
    """A depthwise 2-D convolution then a pointwise one: ``(B, rows, cols, C) -> (B, rows_out, cols_out, filters)``."""

    rank = 2
