"""Keras's cell classes (``LSTMCell``, ``GRUCell``, ``SimpleRNNCell``, ``StackedRNNCells``).

A cell object owns its weights and configuration; the arithmetic of a step lives in :mod:`rnnlab.cells`.
Every cell offers the interface the sequence loop uses:

* ``project_inputs(x)``   ``x @ kernel + input_bias`` for all time steps at once, ``(..., D) -> (..., G*U)``;
* ``step(xw_t, states)``  one step from a projected input, returning ``(output, new_states, gates)``;
* ``flat_state_sizes``    the sizes of the flattened state tensors;

and Keras's own ``cell(x_t, states) -> (output, new_states)``.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, backend, initializers, nest
from rnnlab.cells import gru_step, lstm_step, simple_rnn_step
from rnnlab.layers.base import Layer
from rnnlab.weight_layouts import NUM_GATES


def _check_units(units, argument="units"):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"Argument `{argument}` must be a positive integer; received {argument}={units!r}.")
    return int(units)


def _check_rate(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"Argument `{name}` must be a float in [0, 1]; received {name}={value!r}.")
    return min(1.0, max(0.0, float(value)))


def _serialize_optional(obj):
    if obj is None:
        return None
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj


class RecurrentCell(Layer):
    """Shared configuration and weights of the built-in cells (kernel, recurrent_kernel, bias)."""

    kind = None  # key into rnnlab.weight_layouts
    has_recurrent_activation = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units)
        self.activation = activations.get(activation, "activation")
        self.recurrent_activation = activations.get(recurrent_activation, "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self.recurrent_initializer = initializers.get(recurrent_initializer, "recurrent_initializer")
        self.bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        # Regularizers and constraints only act during training; they are kept for the config.
        self.kernel_regularizer, self.recurrent_regularizer = kernel_regularizer, recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint, self.recurrent_constraint = kernel_constraint, recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = _check_rate(dropout, "dropout")
        self.recurrent_dropout = _check_rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self.kernel = self.recurrent_kernel = self.bias = None

    # -------------------------------------------------------------- shapes
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    @property
    def flat_state_sizes(self):
        return list(nest.flatten(self.state_size))

    @property
    def gates(self):
        return NUM_GATES[self.kind]

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initial_value(self, shape, dtype):
        return self.bias_initializer(shape, dtype)

    def build(self, input_shape):
        input_dim = input_shape[-1] if isinstance(input_shape, (tuple, list)) else input_shape
        if input_dim is None:
            raise ValueError(f"Layer {self.name!r} needs a known feature size; received input_shape={input_shape}.")
        g = self.gates
        self.kernel = self.add_weight("kernel", (input_dim, g * self.units), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, g * self.units),
                                                self.recurrent_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_initial_value)
        self.built = True

    @property
    def input_dim(self):
        return self.kernel.shape[0]

    # -------------------------------------------------------------- math
    def _input_bias(self):
        return self.bias.value if self.use_bias else None

    def project_inputs(self, x):
        """``x @ kernel + input_bias`` for every time step in one matrix product: ``(..., D) -> (..., G*U)``."""
        xw = x @ self.kernel.value
        bias = self._input_bias()
        if bias is not None:
            xw += bias
        return xw

    def step(self, xw_t, states):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size, s), self.dtype) for s in self.flat_state_sizes]

    def call(self, inputs, states, training=False):
        """Keras's cell call: one step from the raw input ``x_t`` ``(B, D)``."""
        flat = [backend.to_float_array(s, self.dtype, "states") for s in nest.flatten(states)]
        if inputs.ndim != 2 or inputs.shape[-1] != self.input_dim:
            raise ValueError(
                f"Cell {self.name!r} expects inputs of shape (batch, {self.input_dim}); received {inputs.shape}."
            )
        output, new_states, _ = self.step(self.project_inputs(inputs), flat)
        return output, (new_states if len(new_states) > 1 or nest.is_nested(states) else new_states[0])

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0], self.output_size)

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_optional(self.kernel_regularizer),
            "recurrent_regularizer": _serialize_optional(self.recurrent_regularizer),
            "bias_regularizer": _serialize_optional(self.bias_regularizer),
            "kernel_constraint": _serialize_optional(self.kernel_constraint),
            "recurrent_constraint": _serialize_optional(self.recurrent_constraint),
            "bias_constraint": _serialize_optional(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        })
        if self.has_recurrent_activation:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config


class LSTMCell(RecurrentCell):
    """Cell of the LSTM layer; equations in :mod:`rnnlab.cells.lstm`. State: ``[h, c]``."""

    kind = "lstm"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        kwargs.pop("implementation", None)  # Keras's internal kernel choice; no effect on results
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    @property
    def state_size(self):
        return [self.units, self.units]

    def _bias_initial_value(self, shape, dtype):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype)
        u = self.units  # Keras: [bias_init(U), ones(U), bias_init(2U)] -- the forget gate starts open
        return np.concatenate([self.bias_initializer((u,), dtype), np.ones((u,), dtype),
                               self.bias_initializer((2 * u,), dtype)])

    def step(self, xw_t, states):
        h, c, gates = lstm_step(xw_t, states[0], states[1], self.recurrent_kernel.value, self.activation,
                                self.recurrent_activation)
        return h, [h, c], gates

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config


class GRUCell(RecurrentCell):
    """Cell of the GRU layer; equations, and how ``reset_after`` changes them, in :mod:`rnnlab.cells.gru`."""

    kind = "gru"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, seed=None, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if not self.use_bias:
            return None
        return self.bias.value[0] if self.reset_after else self.bias.value

    def step(self, xw_t, states):
        rec_bias = self.bias.value[1] if (self.use_bias and self.reset_after) else None
        h, gates = gru_step(xw_t, states[0], self.recurrent_kernel.value, rec_bias, self.activation,
                            self.recurrent_activation, self.reset_after)
        return h, [h], gates

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


class SimpleRNNCell(RecurrentCell):
    """Cell of the SimpleRNN layer; equations in :mod:`rnnlab.cells.simple_rnn`."""

    kind = "simple_rnn"
    has_recurrent_activation = False

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(units, activation, "linear", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)

    def step(self, xw_t, states):
        h, gates = simple_rnn_step(xw_t, states[0], self.recurrent_kernel.value, self.activation)
        return h, [h], gates


class StackedRNNCells(Layer):
    """Several cells applied one after another within each time step (``RNN([cell1, cell2])``).

    Its state is the list of the cells' states; the output of cell ``k`` is the input of cell ``k+1``.
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells:
            raise ValueError("Argument `cells` must be a non-empty list of RNN cells; received an empty list.")
        for i, cell in enumerate(cells):
            if not isinstance(cell, (RecurrentCell, StackedRNNCells)):
                raise TypeError(
                    f"Argument `cells[{i}]` must be an rnnlab cell (LSTMCell, GRUCell, SimpleRNNCell); "
                    f"received {type(cell).__name__}."
                )
        self.cells = [self._track(c) for c in cells]

    def _sublayers(self):
        return self.cells

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return self.cells[-1].output_size

    @property
    def flat_state_sizes(self):
        return [s for c in self.cells for s in c.flat_state_sizes]

    def build(self, input_shape):
        dim = input_shape[-1] if isinstance(input_shape, (tuple, list)) else input_shape
        for cell in self.cells:
            cell._maybe_build((None, dim))
            dim = cell.output_size
        self.built = True

    @property
    def input_dim(self):
        return self.cells[0].input_dim

    def project_inputs(self, x):
        return self.cells[0].project_inputs(x)

    def step(self, xw_t, states):
        new_states, gates, pos = [], [], 0
        out = None
        for k, cell in enumerate(self.cells):
            n = len(cell.flat_state_sizes)
            xw = xw_t if k == 0 else cell.project_inputs(out)
            out, cell_states, cell_gates = cell.step(xw, states[pos:pos + n])
            new_states.extend(cell_states)
            gates.append(cell_gates)
            pos += n
        return out, new_states, gates

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size, s), self.dtype) for s in self.flat_state_sizes]

    def call(self, inputs, states, training=False):
        flat = [backend.to_float_array(s, self.dtype, "states") for s in nest.flatten(states)]
        output, new_states, _ = self.step(self.project_inputs(inputs), flat)
        return output, nest.pack_like(_state_structure(self.state_size), new_states)

    def get_config(self):
        from rnnlab.layers.serialization import serialize_layer

        config = super().get_config()
        config["cells"] = [serialize_layer(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config):
        from rnnlab.layers.serialization import deserialize_layer

        config = dict(config)
        cells = [deserialize_layer(c) for c in config.pop("cells")]
        return cls(cells, **config)


def _state_structure(state_size):
    """Keras's nesting of states: an int is one tensor, a list is a list of tensors."""
    if isinstance(state_size, (list, tuple)):
        return [_state_structure(s) for s in state_size]
    return 0
