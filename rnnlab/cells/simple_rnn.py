"""SimpleRNN (Elman) cell, one time step.

Symbols (``B`` batch, ``U`` units)::

    xw_t             (B, U)  x_t @ kernel + bias, precomputed for all steps by the layer
    recurrent_kernel (U, U)
    a = xw_t + h_prev @ recurrent_kernel     pre-activation
    h = activation(a)                        new hidden state (= the step's output)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SimpleRNNGates(NamedTuple):
    """The pre-activation of one SimpleRNN step, ``(B, U)``."""

    a: np.ndarray


def simple_rnn_step(xw_t, h_prev, recurrent_kernel, activation):
    """One SimpleRNN step. Returns ``(h, gates)``."""
    a = xw_t + h_prev @ recurrent_kernel  # (B, U)
    return activation(a), SimpleRNNGates(a)
