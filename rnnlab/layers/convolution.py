"""Conv1D: a 1-D convolution (cross-correlation) over time, as Keras computes it.

For ``channels_last`` inputs ``x`` of shape ``(B, T, C)``, with ``k = kernel_size``, ``s = strides``,
``d = dilation_rate`` and ``G = groups`` (``C = G * Cg`` input channels, ``filters = G * Fg``)::

    y[b, t, g*Fg + f] = bias[g*Fg + f] + sum_{j < k, c < Cg} xp[b, t*s + j*d, g*Cg + c] * kernel[j, c, g*Fg + f]

where ``xp`` is ``x`` padded: nothing (``"valid"``), TensorFlow's "same" split (the odd step on the right),
or ``d * (k - 1)`` zeros on the left (``"causal"``: step ``t`` sees only steps ``<= t``).  ``kernel`` has
Keras's shape ``(k, Cg, filters)``.  ``channels_first`` inputs ``(B, C, T)`` are transposed around the same
computation.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, constraints, initializers, regularizers
from rnnlab.engine.layer import add_grad, check_units
from rnnlab.layers.base import FunctionLayer, check_rank, data_format_of, int_tuple, padding_mode, same_padding


def conv_output_length(length, window, stride, padding, dilation=1):
    """Output steps of a convolution or pooling along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (window - 1) - 1) // stride + 1
    return (length - 1) // stride + 1


class Conv1D(FunctionLayer):
    """``(B, T, C) -> (B, T_out, filters)`` (or ``(B, C, T) -> (B, filters, T_out)`` with
    ``data_format="channels_first"``); see the module docstring for the formula."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_units(filters, "filters")
        self.kernel_size = int_tuple(kernel_size, 1, "kernel_size")
        self.strides = int_tuple(strides, 1, "strides")
        self.dilation_rate = int_tuple(dilation_rate, 1, "dilation_rate")
        self.padding = padding_mode(padding, ("valid", "same", "causal"), "Conv1D")
        self.data_format = data_format_of(data_format, "Conv1D")
        self.groups = check_units(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(f"Argument `filters` of Conv1D must be divisible by `groups`; received "
                             f"filters={self.filters}, groups={self.groups}.")
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(f"Conv1D does not support `strides` > 1 together with `dilation_rate` > 1; received "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}.")
        self.activation = activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self.kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, "kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, "bias_constraint")
        self.kernel = self.bias = None

    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    @property
    def _steps_axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)
        channels = input_shape[self._channel_axis]
        if channels is not None and channels % self.groups:
            raise ValueError(f"Layer {self.name!r} (Conv1D): the input's {channels} channels are not divisible by "
                             f"groups={self.groups}; received input shape {tuple(input_shape)}.")
        if self.built and channels is not None and channels != self.kernel.shape[1] * self.groups:
            raise ValueError(f"Input 0 of layer {self.name!r} (Conv1D) must have {self.kernel.shape[1] * self.groups} "
                             f"channels (axis {self._channel_axis}); received input shape {tuple(input_shape)}.")
        steps = input_shape[self._steps_axis]
        out = conv_output_length(steps, self.kernel_size[0], self.strides[0], self.padding, self.dilation_rate[0])
        if out is not None and out <= 0:
            raise ValueError(f"Argument `kernel_size` of layer {self.name!r} (Conv1D): the window "
                             f"(kernel_size={self.kernel_size[0]}, dilation_rate={self.dilation_rate[0]}) is longer "
                             f"than the {steps} steps of the input (shape {tuple(input_shape)}) with "
                             f"padding='valid'.")

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"Layer {self.name!r} (Conv1D) needs a known number of channels; received shape "
                             f"{tuple(input_shape)}.")
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels // self.groups, self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        steps = conv_output_length(input_shape[self._steps_axis], self.kernel_size[0], self.strides[0], self.padding,
                                   self.dilation_rate[0])
        if self.data_format == "channels_first":
            return (input_shape[0], self.filters, steps)
        return (input_shape[0], steps, self.filters)

    def _pads(self, steps):
        k, d = self.kernel_size[0], self.dilation_rate[0]
        if self.padding == "causal":
            return d * (k - 1), 0
        if self.padding == "same":
            return same_padding(steps, d * (k - 1) + 1, self.strides[0])
        return 0, 0

    def _forward(self, x, training, grads):
        first = self.data_format == "channels_first"
        xl = x.transpose(0, 2, 1) if first else x  # (B, T, C)
        k, s, d, groups = self.kernel_size[0], self.strides[0], self.dilation_rate[0], self.groups
        left, right = self._pads(xl.shape[1])
        xp = np.pad(xl, ((0, 0), (left, right), (0, 0)))  # (B, Tp, C)
        out_steps = (xp.shape[1] - d * (k - 1) - 1) // s + 1
        batch, channels = xl.shape[0], xl.shape[2]
        per_group, f_group = channels // groups, self.filters // groups
        stop = (out_steps - 1) * s + 1
        taps = np.stack([xp[:, j * d:j * d + stop:s, :] for j in range(k)], axis=2)  # (B, L, k, C)
        cols = taps.reshape(batch, out_steps, k, groups, per_group)  # (B, L, k, G, Cg)
        w = self.kernel.value.reshape(k, per_group, groups, f_group)  # (k, Cg, G, Fg)
        pre = np.einsum("blkgc,kcgf->blgf", cols, w, optimize=True).reshape(batch, out_steps, self.filters)
        if self.use_bias:
            pre = pre + self.bias.value
        y = self.activation(pre)  # (B, L, filters)

        def backward(dy):
            dl = dy.transpose(0, 2, 1) if first else dy
            dpre = activations.backward(self.activation, pre, y, dl)  # (B, L, filters)
            dg = dpre.reshape(batch, out_steps, groups, f_group)  # (B, L, G, Fg)
            add_grad(grads, self.kernel, np.einsum("blkgc,blgf->kcgf", cols, dg, optimize=True)
                     .reshape(self.kernel.shape))
            if self.use_bias:
                add_grad(grads, self.bias, dpre.sum(axis=(0, 1)))
            dtaps = np.einsum("blgf,kcgf->blkgc", dg, w, optimize=True).reshape(batch, out_steps, k, channels)
            dxp = np.zeros_like(xp)
            for j in range(k):  # each tap read every s-th padded step from j*d on
                dxp[:, j * d:j * d + stop:s, :] += dtaps[:, :, j, :]
            dx = dxp[:, left:left + xl.shape[1], :]  # padding gets no gradient
            return dx.transpose(0, 2, 1) if first else dx

        return (y.transpose(0, 2, 1) if first else y), backward

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint)}
