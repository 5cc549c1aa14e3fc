"""SimpleRNN (Elman) cell, one time step forward and backward.

Symbols (``B`` batch, ``U`` units)::

    xw_t             (B, U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel (U, U)
    pre = xw_t + h_prev @ recurrent_kernel   pre-activation (``a`` in the traces)
    h   = activation(pre)                    new hidden state (= the step's output)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.activations import derivative
from rnnlab.cells.base import CellSpec, RecurrentCell, add_grad, register
from rnnlab.cells.recurrent_product import recurrent_product, recurrent_product_backward


class SimpleRNNGates(NamedTuple):
    """The pre-activation ``pre`` and output ``h`` of one SimpleRNN step, ``(B, U)``."""

    pre: np.ndarray
    h: np.ndarray

    @property
    def a(self):
        """The pre-activation under the name inspection shows it by (``h = activation(a)``)."""
        return self.pre


def simple_rnn_step(xw_t, h_prev, recurrent_kernel, activation, recurrent_masks=None):
    """One SimpleRNN step. Returns ``(h, gates)``."""
    pre = xw_t + recurrent_product(h_prev, recurrent_kernel, recurrent_masks)  # (B, U)
    h = activation(pre)
    return h, SimpleRNNGates(pre, h)


def simple_rnn_step_backward(dh, gates, h_prev, recurrent_kernel, activation, recurrent_masks=None):
    """Backward of :func:`simple_rnn_step`. Returns ``(dxw_t, dh_prev, drecurrent_kernel)``."""
    dpre = dh * derivative(activation)(gates.pre, gates.h)  # through the activation
    dh_prev, drecurrent_kernel = recurrent_product_backward(dpre, h_prev, recurrent_kernel, recurrent_masks)
    return dpre, dh_prev, drecurrent_kernel


@register
class SimpleRNNCell(RecurrentCell):
    """Cell of the SimpleRNN layer (``keras.layers.SimpleRNNCell``); equations above."""

    spec = CellSpec(name="SimpleRNN", layout="simple_rnn", states=("h",), gates=("a",), blocks=1)
    has_recurrent_activation = False
    per_gate_recurrent_dropout = False  # one block, one mask

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
