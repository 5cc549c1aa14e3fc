"""Keras's cell classes (``LSTMCell``, ``GRUCell``, ``SimpleRNNCell``, ``StackedRNNCells``).

A cell object owns its weights and configuration; the arithmetic of a step lives in :mod:`rnnlab.cells`.
Every cell offers the interface the sequence loop uses:

* ``project_inputs(x)``   ``x @ kernel + input_bias`` for all time steps at once, ``(..., D) -> (..., G*U)``;
* ``step(xw_t, states)``  one step from a projected input, returning ``(output, new_states, gates)``;
* ``flat_state_sizes``    the sizes of the flattened state tensors;

and Keras's own ``cell(x_t, states) -> (output, new_states)``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab import activations, backend, initializers, nest
from rnnlab.cells import (gru_step, gru_step_backward, lstm_step, lstm_step_backward, simple_rnn_step,
                          simple_rnn_step_backward)
from rnnlab.layers.base import Layer
from rnnlab.random import make_rng
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
        self._rng = None

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

    def project_inputs(self, x, dropout=None):
        """``x @ kernel + input_bias`` for every time step in one matrix product: ``(..., D) -> (..., G*U)``.

        With input dropout, ``x`` is multiplied by the call's mask first (one mask per gate block when
        recurrent dropout is on too, as Keras does); the same mask serves every time step.
        """
        kernel = self.kernel.value
        masks = None if dropout is None else dropout.inputs
        if masks is None:
            xw = x @ kernel
        elif masks.shape[0] == 1:
            xw = (x * _over_time(masks[0], x)) @ kernel
        else:
            width = kernel.shape[1] // masks.shape[0]
            xw = np.concatenate([(x * _over_time(masks[k], x)) @ kernel[:, k * width:(k + 1) * width]
                                 for k in range(masks.shape[0])], axis=-1)
        bias = self._input_bias()
        if bias is not None:
            xw += bias
        return xw

    def project_inputs_backward(self, x, dxw, dropout, grads, need_dx=True):
        """Backward of :meth:`project_inputs`: adds kernel/bias gradients to ``grads``, returns ``dx``
        (``dxw @ kernel^T``, times the dropout mask), or ``None`` when ``need_dx`` is false."""
        kernel = self.kernel.value
        masks = None if dropout is None else dropout.inputs
        x2, d2 = x.reshape(-1, x.shape[-1]), dxw.reshape(-1, dxw.shape[-1])  # (N, D), (N, G*U)
        dx = None
        if masks is None:
            add_grad(grads, self.kernel, x2.T @ d2)
            if need_dx:
                dx = dxw @ kernel.T
        else:
            width = kernel.shape[1] // masks.shape[0]
            dkernel = np.empty_like(kernel)
            dx = np.zeros_like(x) if need_dx else None
            for k in range(masks.shape[0]):
                block = slice(k * width, (k + 1) * width) if masks.shape[0] > 1 else slice(None)
                m = _over_time(masks[k], x)
                dkernel[:, block] = (x * m).reshape(-1, x.shape[-1]).T @ d2[:, block]
                if need_dx:
                    dx += (dxw[..., block] @ kernel[:, block].T) * m
            add_grad(grads, self.kernel, dkernel)
        if self.use_bias:
            self._add_input_bias_grad(grads, np.ones(d2.shape[0], d2.dtype) @ d2)  # column sums, one GEMV
        return dx

    def _add_input_bias_grad(self, grads, dbias):
        add_grad(grads, self.bias, dbias)

    def make_dropout(self, batch, training):
        """The dropout masks of one call (``None`` when not training or no dropout): inverted-dropout masks
        scaled by ``1 / (1 - rate)``, drawn once per call and reused at every step."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None
        if self._rng is None:
            self._rng = make_rng(self.seed)
        per_gate = self.recurrent_dropout > 0 and self.kind != "simple_rnn"
        count = self.gates if per_gate else 1
        inputs = _dropout_mask(self._rng, self.dropout, (count, batch, self.input_dim), self.dtype)
        recurrent = _dropout_mask(self._rng, self.recurrent_dropout, (count, batch, self.units), self.dtype)
        return DropoutMasks(inputs, recurrent)

    def step(self, xw_t, states, dropout=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):  # pragma: no cover
        raise NotImplementedError

    def _recurrent_masks(self, dropout):
        return None if dropout is None else dropout.recurrent

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

    def step(self, xw_t, states, dropout=None):
        h, c, gates = lstm_step(xw_t, states[0], states[1], self.recurrent_kernel.value, self.activation,
                                self.recurrent_activation, self._recurrent_masks(dropout))
        return h, [h, c], gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        dh = d_output + d_states[0]  # the output is h itself
        dxw, dh_prev, dc_prev, drec = lstm_step_backward(
            dh, d_states[1], gates, prev_states[0], prev_states[1], self.recurrent_kernel.value, self.activation,
            self.recurrent_activation, self._recurrent_masks(dropout))
        add_grad(grads, self.recurrent_kernel, drec)
        return dxw, [dh_prev, dc_prev]

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

    def step(self, xw_t, states, dropout=None):
        rec_bias = self.bias.value[1] if (self.use_bias and self.reset_after) else None
        h, gates = gru_step(xw_t, states[0], self.recurrent_kernel.value, rec_bias, self.activation,
                            self.recurrent_activation, self.reset_after, self._recurrent_masks(dropout))
        return h, [h], gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        dxw, dh_prev, drec, drec_bias = gru_step_backward(
            d_output + d_states[0], gates, prev_states[0], self.recurrent_kernel.value, self.activation,
            self.recurrent_activation, self.reset_after, self._recurrent_masks(dropout))
        add_grad(grads, self.recurrent_kernel, drec)
        if self.use_bias and self.reset_after:
            add_grad(grads, self.bias, np.stack([np.zeros_like(drec_bias), drec_bias]))
        return dxw, [dh_prev]

    def _add_input_bias_grad(self, grads, dbias):
        if self.reset_after:
            dbias = np.stack([dbias, np.zeros_like(dbias)])  # row 0 is the input bias
        add_grad(grads, self.bias, dbias)

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

    def step(self, xw_t, states, dropout=None):
        h, gates = simple_rnn_step(xw_t, states[0], self.recurrent_kernel.value, self.activation,
                                   self._recurrent_masks(dropout))
        return h, [h], gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        dxw, dh_prev, drec = simple_rnn_step_backward(d_output + d_states[0], gates, prev_states[0],
                                                      self.recurrent_kernel.value, self.activation,
                                                      self._recurrent_masks(dropout))
        add_grad(grads, self.recurrent_kernel, drec)
        return dxw, [dh_prev]


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

    def project_inputs(self, x, dropout=None):
        return self.cells[0].project_inputs(x, None if dropout is None else dropout[0])

    def project_inputs_backward(self, x, dxw, dropout, grads, need_dx=True):
        return self.cells[0].project_inputs_backward(x, dxw, None if dropout is None else dropout[0], grads,
                                                     need_dx)

    def make_dropout(self, batch, training):
        masks = [cell.make_dropout(batch, training) for cell in self.cells]
        return None if all(m is None for m in masks) else masks

    def _slices(self):
        pos = 0
        for cell in self.cells:
            n = len(cell.flat_state_sizes)
            yield cell, slice(pos, pos + n)
            pos += n

    def step(self, xw_t, states, dropout=None):
        """Cell ``k`` reads cell ``k-1``'s output; ``gates`` holds ``(cell_input, cell_gates)`` per cell."""
        new_states, gates = [], []
        out = None
        for k, (cell, part) in enumerate(self._slices()):
            cell_dropout = None if dropout is None else dropout[k]
            xw = xw_t if k == 0 else cell.project_inputs(out, cell_dropout)
            cell_input = out
            out, cell_states, cell_gates = cell.step(xw, states[part], cell_dropout)
            new_states.extend(cell_states)
            gates.append((cell_input, cell_gates))
        return out, new_states, gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        d_prev = [None] * len(d_states)
        d_out = d_output
        dxw = None
        for k, (cell, part) in reversed(list(enumerate(self._slices()))):
            cell_dropout = None if dropout is None else dropout[k]
            cell_input, cell_gates = gates[k]
            dxw, d_prev[part] = cell.step_backward(d_out, d_states[part], cell_gates, prev_states[part],
                                                   cell_dropout, grads)
            if k > 0:  # back through cell k's input projection into cell k-1's output
                d_out = cell.project_inputs_backward(cell_input, dxw, cell_dropout, grads)
        return dxw, d_prev

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


class DropoutMasks(NamedTuple):
    """One call's dropout masks: ``inputs`` ``(G or 1, B, D)`` and ``recurrent`` ``(G or 1, B, U)``, or None."""

    inputs: np.ndarray | None
    recurrent: np.ndarray | None


def _dropout_mask(rng, rate, shape, dtype):
    if rate == 0:
        return None
    if rate >= 1:
        return np.zeros(shape, dtype)
    return ((rng.random(shape) >= rate) / (1.0 - rate)).astype(dtype)


def _over_time(mask, x):
    """A ``(B, D)`` mask shaped to multiply ``x`` of shape ``(B, D)`` or ``(B, T, D)``."""
    return mask[:, None, :] if x.ndim == 3 else mask


def add_grad(grads, variable, value):
    """Accumulate ``value`` into ``grads[variable]`` (gradients of a variable used several times add up)."""
    if grads is None:
        return
    if variable in grads:
        np.add(grads[variable], value, out=grads[variable])  # in place: the first value stored is owned below
    else:
        grads[variable] = np.array(value, dtype=variable.value.dtype)  # a private, writable copy


def _state_structure(state_size):
    """Keras's nesting of states: an int is one tensor, a list is a list of tensors."""
    if isinstance(state_size, (list, tuple)):
        return [_state_structure(s) for s in state_size]
    return 0
