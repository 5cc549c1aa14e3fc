"""ConvLSTM1D, ConvLSTM2D and ConvLSTM3D: an LSTM whose input and recurrent transformations are convolutions.

Inputs are ``(B, T, *spatial, C)`` (``channels_first``: ``(B, T, C, *spatial)``); outputs and states are
``(B, *spatial_out, filters)`` per step. The cell is :class:`rnnlab.cells.conv_lstm.ConvLSTMCell`; the time loop,
masks, ``go_backwards``, ``initial_state``, ``stateful``, ``return_sequences`` and ``return_state`` are the
generic :class:`rnnlab.layers.RNN`'s, which runs the cell on flattened steps: this layer flattens the spatial
axes on the way in and restores them on the way out (and does the reverse for gradients).
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend, nest, regularizers
from rnnlab.cells.conv_lstm import ConvLSTMCell
from rnnlab.layers.rnn import RNN


class ConvLSTM(RNN):
    """The N-D convolutional LSTM layer (``rank`` spatial axes); use ConvLSTM1D, ConvLSTM2D or ConvLSTM3D."""

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, **kwargs):
        cell = ConvLSTMCell(
            rank=rank, filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
            data_format=data_format, dilation_rate=dilation_rate, activation=activation,
            recurrent_activation=recurrent_activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
            name="conv_lstm_cell", dtype=kwargs.get("dtype"))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, **kwargs)
        self.rank = rank

    # -------------------------------------------------------------- shapes
    def _check_input_shape(self, input_shape):
        ndim = self.rank + 3
        if not isinstance(input_shape, tuple) or len(input_shape) != ndim:
            raise ValueError(f"Input 0 of layer {self.name!r} ({type(self).__name__}) must have rank {ndim} "
                             f"(batch, timesteps, {self._step_axes()}); "
                             f"received input with shape {input_shape}.")
        if self.cell.built and tuple(input_shape[2:]) != self.cell.input_shape:
            raise ValueError(f"Input 0 of layer {self.name!r} ({type(self).__name__}) must have per-step shape "
                             f"{self.cell.input_shape}, as when it was built; received input with shape "
                             f"{input_shape}.")

    def _step_axes(self):
        return "spatial..., channels" if self.cell.data_format == "channels_last" else "channels, spatial..."

    def build(self, sequences_shape, initial_state_shape=None):
        sequences_shape = tuple(sequences_shape)
        self._check_input_shape(sequences_shape)
        self.cell._maybe_build((sequences_shape[0],) + sequences_shape[2:])
        if self.stateful:
            if sequences_shape[0] is None:
                raise ValueError(f"Layer {self.name!r} is stateful, so it needs a fixed batch size: pass batch_size "
                                 f"to rnnlab.Input; received input shape {sequences_shape} with batch size None.")
            self._expected_batch_size = int(sequences_shape[0])
            self.states = self.loop_cell.get_initial_state(self._expected_batch_size)
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None, **kwargs):
        batch, steps = sequences_shape[0], sequences_shape[1]
        state = self.cell.step_shapes((batch,) + tuple(sequences_shape[2:]))[1]
        output = (batch, steps) + state if self.return_sequences else (batch,) + state
        if self.return_state:
            return output, (batch,) + state, (batch,) + state
        return output

    # -------------------------------------------------------------- flat <-> spatial
    def _flat(self, x):
        return x.reshape(x.shape[:2] + (-1,))  # (B, T, *step) -> (B, T, prod(step))

    def _spatial_state(self, s):
        return s.reshape((s.shape[0],) + self.cell.state_shape)

    def _prepare_inputs(self, inputs):
        return self._flat(super()._prepare_inputs(inputs))

    def _standardize_initial_state(self, initial_state, batch):
        flat = nest.flatten(initial_state) if nest.is_nested(initial_state) else [initial_state]
        shape = (batch,) + self.cell.state_shape
        if len(flat) != 2:
            raise ValueError(f"Layer {self.name!r} expects 2 initial state tensors (h and c, each of shape "
                             f"{shape}); received {len(flat)}.")
        out = []
        for i, s in enumerate(flat):
            arr = backend.to_float_array(s, self.dtype, f"initial_state[{i}]")
            if arr.shape != shape:
                raise ValueError(f"Argument `initial_state[{i}]` of layer {self.name!r} must have shape {shape}; "
                                 f"received shape {arr.shape}.")
            out.append(arr.reshape(batch, -1))
        return out

    def get_initial_state(self, batch_size):
        return self.cell.get_initial_state(batch_size)

    def shape_outputs(self, last_output, outputs, states):
        steps = None if outputs is None else outputs.reshape(outputs.shape[:2] + self.cell.state_shape)
        return super().shape_outputs(self._spatial_state(last_output), steps,
                                     [self._spatial_state(s) for s in states])

    def forward_backward(self, sequences, initial_state=None, mask=None, training=False, grads=None):
        outputs, flat_backward = super().forward_backward(sequences, initial_state=initial_state, mask=mask,
                                                          training=training, grads=grads)
        input_shape = np.shape(sequences)

        def backward(d_outputs, need_input_grad=True):
            flat_d = [None if d is None else np.reshape(d, np.shape(d)[:np.ndim(d) - self.rank - 1] + (-1,))
                      for d in (nest.flatten(d_outputs) if self.return_state else [d_outputs])]
            dx, d_other = flat_backward(flat_d if self.return_state else flat_d[0], need_input_grad=need_input_grad)
            if "initial_state" in d_other:
                d_other = {"initial_state": [self._spatial_state(d) for d in d_other["initial_state"]]}
            return (None if dx is None else dx.reshape(input_shape)), d_other

        backward.optional_input_grad = True
        return outputs, backward

    def step(self, x_t, states=None):
        """One time step on a ``(B, *step)`` input: ``(output, [h, c])`` with their spatial shapes."""
        x_t = backend.to_float_array(x_t, self.dtype, "x_t")
        if self.cell.built and tuple(x_t.shape[1:]) != self.cell.input_shape:
            raise ValueError(f"Argument `x_t` of {self.name!r}.step() must have shape (batch, "
                             f"{', '.join(map(str, self.cell.input_shape))}); received shape {x_t.shape}.")
        self._maybe_build((x_t.shape[0], None) + x_t.shape[1:])
        output, new_states = super().step(x_t.reshape(x_t.shape[0], -1), states)
        return self._spatial_state(output), [self._spatial_state(s) for s in new_states]

    def refuse_streaming(self, where=""):
        raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) cannot stream step by step{where}; call it "
                         "on the whole sequence.")

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(self.cell.cell_config())
        config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# The cell's arguments, read through the layer as in Keras (``layer.filters``, ``layer.padding``...).
for _name in ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
              "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout"):
    setattr(ConvLSTM, _name, property(lambda self, _n=_name: getattr(self.cell, _n)))


class ConvLSTM1D(ConvLSTM):
    """1-D convolutional LSTM: inputs ``(B, T, steps, C)``, states ``(B, steps_out, filters)``."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2D(ConvLSTM):
    """2-D convolutional LSTM: inputs ``(B, T, rows, cols, C)``, states ``(B, rows_out, cols_out, filters)``."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(2, filters, kernel_size, **kwargs)


class ConvLSTM3D(ConvLSTM):
    """3-D convolutional LSTM: inputs ``(B, T, d1, d2, d3, C)``, states ``(B, d1_out, d2_out, d3_out, filters)``."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(3, filters, kernel_size, **kwargs)
