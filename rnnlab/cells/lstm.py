"""LSTM cell, one time step forward and backward, in Keras's gate order ``i, f, c, o``.

Symbols (``B`` batch, ``U`` units; ``@`` is the matrix product, every other product is elementwise)::

    xw_t             (B, 4U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel (U, 4U)  blocks [U_i | U_f | U_c | U_o]
    z     = xw_t + h_prev @ recurrent_kernel            (B, 4U) pre-activations
    i     = recurrent_activation(z[:, 0U:1U])           input gate
    f     = recurrent_activation(z[:, 1U:2U])           forget gate
    c_hat = activation(z[:, 2U:3U])                     candidate cell
    o     = recurrent_activation(z[:, 3U:4U])           output gate
    c     = f * c_prev + i * c_hat                      new cell state
    h     = o * activation(c)                           new hidden state (= the step's output)

With recurrent dropout, ``h_prev @ recurrent_kernel`` reads ``h_prev * mask[k]`` in gate block ``k``
(:mod:`rnnlab.cells.recurrent_product`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.activations import derivative
from rnnlab.cells.recurrent_product import recurrent_product, recurrent_product_backward


class LSTMGates(NamedTuple):
    """What one LSTM step computed: the gates ``(B, U)``, the pre-activations ``z`` ``(B, 4U)``, ``c`` and
    ``activation(c)`` -- everything the backward step needs."""

    i: np.ndarray
    f: np.ndarray
    c_hat: np.ndarray
    o: np.ndarray
    z: np.ndarray
    c: np.ndarray
    act_c: np.ndarray


def lstm_step(xw_t, h_prev, c_prev, recurrent_kernel, activation, recurrent_activation, recurrent_masks=None):
    """One LSTM step. Returns ``(h, c, gates)``."""
    units = h_prev.shape[-1]
    z = xw_t + recurrent_product(h_prev, recurrent_kernel, recurrent_masks)  # (B, 4U)
    i = recurrent_activation(z[:, :units])  # (B, U)
    f = recurrent_activation(z[:, units:2 * units])  # (B, U)
    c_hat = activation(z[:, 2 * units:3 * units])  # (B, U)
    o = recurrent_activation(z[:, 3 * units:])  # (B, U)
    c = f * c_prev + i * c_hat
    act_c = activation(c)
    h = o * act_c
    return h, c, LSTMGates(i, f, c_hat, o, z, c, act_c)


def lstm_step_backward(dh, dc, gates, h_prev, c_prev, recurrent_kernel, activation, recurrent_activation,
                       recurrent_masks=None):
    """Backward of :func:`lstm_step` from its saved gates.

    ``dh``/``dc`` are the loss gradients w.r.t. the step's ``h`` and ``c``. Returns
    ``(dxw_t, dh_prev, dc_prev, drecurrent_kernel)``.
    """
    units = h_prev.shape[-1]
    g = gates
    d_act, d_rec = derivative(activation), derivative(recurrent_activation)
    do = dh * g.act_c  # h = o * act(c)
    dc = dc + dh * g.o * d_act(g.c, g.act_c)  # c feeds h through act(c)
    dz = np.empty_like(g.z)  # (B, 4U): gradient at the pre-activations
    dz[:, :units] = dc * g.c_hat * d_rec(g.z[:, :units], g.i)  # c = f*c_prev + i*c_hat
    dz[:, units:2 * units] = dc * c_prev * d_rec(g.z[:, units:2 * units], g.f)
    dz[:, 2 * units:3 * units] = dc * g.i * d_act(g.z[:, 2 * units:3 * units], g.c_hat)
    dz[:, 3 * units:] = do * d_rec(g.z[:, 3 * units:], g.o)
    dc_prev = dc * g.f  # the forget gate carries the cell state
    dh_prev, drecurrent_kernel = recurrent_product_backward(dz, h_prev, recurrent_kernel, recurrent_masks)
    return dz, dh_prev, dc_prev, drecurrent_kernel
