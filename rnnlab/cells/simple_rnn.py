"""SimpleRNN (Elman) cell, one time step forward and backward.

Symbols (``B`` batch, ``U`` units)::

    xw_t             (B, U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel (U, U)
    a = xw_t + h_prev @ recurrent_kernel     pre-activation
    h = activation(a)                        new hidden state (= the step's output)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.activations import derivative
from rnnlab.cells.recurrent_product import recurrent_product, recurrent_product_backward


class SimpleRNNGates(NamedTuple):
    """The pre-activation ``a`` and output ``h`` of one SimpleRNN step, ``(B, U)``."""

    a: np.ndarray
    h: np.ndarray


def simple_rnn_step(xw_t, h_prev, recurrent_kernel, activation, recurrent_masks=None):
    """One SimpleRNN step. Returns ``(h, gates)``."""
    a = xw_t + recurrent_product(h_prev, recurrent_kernel, recurrent_masks)  # (B, U)
    h = activation(a)
    return h, SimpleRNNGates(a, h)


def simple_rnn_step_backward(dh, gates, h_prev, recurrent_kernel, activation, recurrent_masks=None):
    """Backward of :func:`simple_rnn_step`. Returns ``(dxw_t, dh_prev, drecurrent_kernel)``."""
    da = dh * derivative(activation)(gates.a, gates.h)  # through the activation
    dh_prev, drecurrent_kernel = recurrent_product_backward(da, h_prev, recurrent_kernel, recurrent_masks)
    return da, dh_prev, drecurrent_kernel
