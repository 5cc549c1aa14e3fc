"""The convolutional LSTM cell (Shi et al. 2015), as Keras 3's ``ConvLSTMCell``, written with :mod:`rnnlab.ops`.

One step, for an input ``x`` ``(B, *spatial, C)`` and states ``h``, ``c`` ``(B, *spatial_out, F)``
(``channels_first``: channels before the spatial axes), with ``*`` an N-D convolution (N = ``rank``)::

    z = (x * kernel + bias) + h * recurrent_kernel         (B, *spatial_out, 4F), gate blocks i, f, c~, o
    i = recurrent_activation(z_i)      f = recurrent_activation(z_f)      o = recurrent_activation(z_o)
    c' = f c + i activation(z_c~)      h' = o activation(c')

``kernel`` is ``(*kernel_size, C, 4F)`` and convolves with the layer's ``strides``, ``padding`` and
``dilation_rate``; ``recurrent_kernel`` is ``(*kernel_size, F, 4F)`` and always convolves with stride 1 and
"same" padding; ``bias`` is ``(4F,)``. With dropout in training, each gate block sees the input (and ``h``)
times its own mask, drawn once per sequence. The backward of a training step comes from the record of the ops.

:class:`SpatialLoopCell` lets rnnlab's sequence loop, which works on ``(B, features)`` steps, run this cell:
it flattens the spatial axes around every call.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from rnnlab import activations, initializers, ops
from rnnlab.cells.base import dropout_mask, dropout_rng, penalty_and_dropout_config, store_cell_arguments
from rnnlab.cells.protocol import ProtocolCell
from rnnlab.engine.conv_args import (check_strides_dilation, conv_output_spatial, data_format_of, int_tuple,
                                     padding_mode, spatial_sizes)
from rnnlab.engine.layer import Layer, check_units

GATES = 4  # i, f, c~, o


def activation_op(fn, argument, owner):
    """The :mod:`rnnlab.ops` form of an activation (so that its use is recorded for gradients); a user's
    callable is used as it is."""
    name = activations.serialize(fn)
    if activations.ACTIVATIONS.get(name) is not fn:
        return fn  # a user's function: it is expected to be written with ops
    if name == "linear":
        return lambda x: x
    op = getattr(ops, name, None)
    if op is None:
        raise ValueError(f"Argument `{argument}` of {owner}: the activation {name!r} has no rnnlab.ops form, so "
                         "this layer cannot use it.")
    return op


class ConvDropout(NamedTuple):
    """One call's dropout masks, scaled by ``1 / (1 - rate)``: ``inputs`` ``(4, B, *input)`` and ``recurrent``
    ``(4, B, *state)`` (None when that dropout is off)."""

    training: bool
    inputs: np.ndarray | None
    recurrent: np.ndarray | None


class ConvLSTMCell(Layer):
    """One step of a convolutional LSTM; see the module docstring. ``rank`` is the number of spatial axes
    (1, 2 or 3). The other arguments are the ConvLSTM layers' own (see :class:`rnnlab.layers.ConvLSTM2D`)."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ValueError(f"Argument `rank` of ConvLSTMCell must be 1, 2 or 3; received rank={rank!r}.")
        owner = f"ConvLSTM{rank}D"
        self.rank = rank
        self.filters = check_units(filters, "filters")
        self.kernel_size = int_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = int_tuple(strides, rank, "strides", owner)
        self.padding = padding_mode(padding, owner)
        self.data_format = data_format_of(data_format, owner)
        self.dilation_rate = int_tuple(dilation_rate, rank, "dilation_rate", owner)
        check_strides_dilation(self.strides, self.dilation_rate, owner)
        self.activation = activations.get(activation, "activation")
        self.recurrent_activation = activations.get(recurrent_activation, "recurrent_activation")
        self._activation_op = activation_op(self.activation, "activation", owner)
        self._recurrent_activation_op = activation_op(self.recurrent_activation, "recurrent_activation", owner)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        store_cell_arguments(self, dropout, recurrent_dropout, seed,
                             kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                             recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
                             bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.kernel = self.recurrent_kernel = self.bias = None
        self.input_shape = self.state_shape = None  # per-sample shapes, known once built

    # -------------------------------------------------------------- shapes
    @property
    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def step_shapes(self, input_shape):
        """``(input, state)`` per-sample shapes for a step input of shape ``(B, *spatial, C)``."""
        input_shape = tuple(input_shape)
        out = conv_output_spatial(spatial_sizes(input_shape, self.data_format), self.kernel_size, self.strides,
                                  self.padding, self.dilation_rate, f"layer {self.name!r}")
        state = (self.filters,) + out if self.data_format == "channels_first" else out + (self.filters,)
        return input_shape[1:], state

    def compute_output_shape(self, input_shape, *args, **kwargs):
        state = (input_shape[0],) + self.step_shapes(input_shape)[1]
        return state, [state, state]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Layer {self.name!r} expects step inputs of rank {self.rank + 2}; received shape "
                             f"{input_shape}.")
        spatial = spatial_sizes(input_shape, self.data_format)
        channels = input_shape[self._channel_axis]
        if None in spatial:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the spatial dimensions; "
                             f"received input shape {input_shape}.")
        if channels is None:
            raise ValueError(f"The channel dimension of the inputs of {self.name!r} must be defined; received "
                             f"input shape {input_shape}.")
        self.input_shape, self.state_shape = self.step_shapes(input_shape)
        self.kernel = self.add_weight(name="kernel", shape=self.kernel_size + (channels, GATES * self.filters),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=self.kernel_size + (self.filters, GATES * self.filters),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(GATES * self.filters,), initializer=self._bias_values,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def _bias_values(self, shape, dtype):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype)
        f = self.filters
        return np.concatenate([self.bias_initializer((f,), dtype), np.ones((f,), dtype),
                               self.bias_initializer((2 * f,), dtype)])

    # -------------------------------------------------------------- maths
    def _conv(self, x, kernel, recurrent):
        if recurrent:  # stride 1, "same", no dilation, as Keras's recurrent_conv
            return ops.conv(x, kernel, strides=1, padding="same", data_format=self.data_format)
        return ops.conv(x, kernel, strides=self.strides, padding=self.padding, data_format=self.data_format,
                        dilation_rate=self.dilation_rate)

    def _gate_sums(self, x, kernel, masks, recurrent):
        """The convolution of ``x`` with every gate block of ``kernel`` (each block on ``x`` times its own
        mask when ``masks`` is given): ``(B, *spatial_out, 4F)``."""
        if masks is None:
            return self._conv(x, kernel, recurrent)
        blocks = ops.split(kernel, GATES, axis=-1)
        return ops.concatenate([self._conv(x * m, k, recurrent) for m, k in zip(masks, blocks)],
                               axis=self._channel_axis)

    def forward(self, inputs, states, dropout=None):
        """One step with the call's dropout masks (a :class:`ConvDropout` or None): ``(h', [h', c'])``."""
        h, c = states
        z = self._gate_sums(inputs, self.kernel, None if dropout is None else dropout.inputs, False)
        if self.use_bias:
            shape = (1, -1) + (1,) * self.rank if self.data_format == "channels_first" else (-1,)
            z = z + ops.reshape(self.bias, shape)
        z = z + self._gate_sums(h, self.recurrent_kernel, None if dropout is None else dropout.recurrent, True)
        z_i, z_f, z_c, z_o = ops.split(z, GATES, axis=self._channel_axis)
        sigma, act = self._recurrent_activation_op, self._activation_op
        c_new = sigma(z_f) * c + sigma(z_i) * act(z_c)
        h_new = sigma(z_o) * act(c_new)
        return h_new, [h_new, c_new]

    def _training_rng(self):
        return dropout_rng(self)

    def make_dropout(self, batch, training):
        """This call's masks (drawn once, used at every step), or None without dropout or outside training."""
        if not training or dropout_rng(self) is None:
            return None
        return ConvDropout(True, dropout_mask(self, self.dropout, (GATES, batch) + self.input_shape, self.dtype),
                           dropout_mask(self, self.recurrent_dropout, (GATES, batch) + self.state_shape, self.dtype))

    def call(self, inputs, states, training=False):
        """Keras's cell call: one step on spatial tensors (dropout masks drawn for this step alone)."""
        self._maybe_build(np.shape(inputs))
        return self.forward(inputs, list(states), self.make_dropout(np.shape(inputs)[0], training))

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size,) + self.state_shape, self.dtype) for _ in range(2)]

    def make_loop_cell(self):
        return SpatialLoopCell(self)

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(self.cell_config())
        return config

    def cell_config(self):
        """The arguments the ConvLSTM layers share with their cell, as Keras writes them."""
        return {
            "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            **penalty_and_dropout_config(self),
        }


class SpatialLoopCell(ProtocolCell):
    """The loop's interface around a :class:`ConvLSTMCell`: steps, states and outputs travel flattened,
    ``(B, prod(shape))``, and are given their spatial shapes around each call of the cell."""

    def __init__(self, cell):  # noqa: D107 - the cell's sizes are known once it is built
        self.user_cell = cell
        self._takes_training = True
        self._checked_record = False

    @property
    def state_size(self):
        return list(self.flat_state_sizes)

    @property
    def flat_state_sizes(self):
        return [math.prod(self.user_cell.state_shape)] * 2

    @property
    def output_size(self):
        return math.prod(self.user_cell.state_shape)

    @property
    def input_dim(self):
        return math.prod(self.user_cell.input_shape) if self.user_cell.built else None

    @property
    def built(self):
        return self.user_cell.built

    def _maybe_build(self, input_shape):
        self.user_cell._maybe_build(input_shape)

    def make_dropout(self, batch, training):
        return self.user_cell.make_dropout(batch, training) if training else None

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size, s), self.dtype) for s in self.flat_state_sizes]

    def _call(self, x_t, states, context):
        cell, batch = self.user_cell, x_t.shape[0]
        x = ops.reshape(x_t, (batch,) + cell.input_shape)
        spatial = [ops.reshape(s, (batch,) + cell.state_shape) for s in states]
        output, new_states = cell.forward(x, spatial, context)
        return ops.reshape(output, (batch, -1)), [ops.reshape(s, (batch, -1)) for s in new_states]
