"""LSTM cell, one time step, in Keras's gate order ``i, f, c, o``.

Symbols (``B`` batch, ``U`` units; ``@`` is the matrix product, every other product is elementwise)::

    xw_t             (B, 4U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel (U, 4U)  blocks [U_i | U_f | U_c | U_o]
    z     = xw_t + h_prev @ recurrent_kernel            (B, 4U)
    i     = recurrent_activation(z[:, 0U:1U])           input gate
    f     = recurrent_activation(z[:, 1U:2U])           forget gate
    c_hat = activation(z[:, 2U:3U])                     candidate cell
    o     = recurrent_activation(z[:, 3U:4U])           output gate
    c     = f * c_prev + i * c_hat                      new cell state
    h     = o * activation(c)                           new hidden state (= the step's output)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LSTMGates(NamedTuple):
    """Gate activations of one LSTM step, each ``(B, U)``."""

    i: np.ndarray
    f: np.ndarray
    c_hat: np.ndarray
    o: np.ndarray


def lstm_step(xw_t, h_prev, c_prev, recurrent_kernel, activation, recurrent_activation):
    """One LSTM step. Returns ``(h, c, gates)``."""
    units = h_prev.shape[-1]
    z = xw_t + h_prev @ recurrent_kernel  # (B, 4U)
    i = recurrent_activation(z[:, :units])  # (B, U)
    f = recurrent_activation(z[:, units:2 * units])  # (B, U)
    c_hat = activation(z[:, 2 * units:3 * units])  # (B, U)
    o = recurrent_activation(z[:, 3 * units:])  # (B, U)
    c = f * c_prev + i * c_hat
    h = o * activation(c)
    return h, c, LSTMGates(i, f, c_hat, o)
