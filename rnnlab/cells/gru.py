"""GRU cell, one time step, in Keras's gate order ``z, r, h``.

Symbols (``B`` batch, ``U`` units; ``@`` matrix product, other products elementwise)::

    xw_t             (B, 3U)  x_t @ kernel + input_bias, precomputed for all steps by the layer
    recurrent_kernel (U, 3U)  blocks [U_z | U_r | U_h]
    recurrent_bias   (3U,)    only with reset_after=True (row 1 of Keras's (2, 3U) bias), else None

reset_after=True (Keras 3 default, cuDNN- and PyTorch-compatible)::

    rh    = h_prev @ recurrent_kernel + recurrent_bias           (B, 3U)
    z     = recurrent_activation(xw_t[:, 0U:1U] + rh[:, 0U:1U])  update gate
    r     = recurrent_activation(xw_t[:, 1U:2U] + rh[:, 1U:2U])  reset gate
    h_hat = activation(xw_t[:, 2U:3U] + r * rh[:, 2U:3U])        candidate: reset applied AFTER the product

reset_after=False (the original paper, Keras's old default)::

    z, r as above with rh = h_prev @ recurrent_kernel[:, :2U] (no recurrent bias)
    h_hat = activation(xw_t[:, 2U:3U] + (r * h_prev) @ recurrent_kernel[:, 2U:])   reset applied BEFORE

Both then mix::

    h = z * h_prev + (1 - z) * h_hat      (Keras's convention: z keeps the old state; PyTorch's GRU is the same)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class GRUGates(NamedTuple):
    """Gate activations of one GRU step, each ``(B, U)``."""

    z: np.ndarray
    r: np.ndarray
    h_hat: np.ndarray


def gru_step(xw_t, h_prev, recurrent_kernel, recurrent_bias, activation, recurrent_activation, reset_after):
    """One GRU step. Returns ``(h, gates)``."""
    units = h_prev.shape[-1]
    if reset_after:
        rh = h_prev @ recurrent_kernel  # (B, 3U)
        if recurrent_bias is not None:
            rh = rh + recurrent_bias
        z = recurrent_activation(xw_t[:, :units] + rh[:, :units])
        r = recurrent_activation(xw_t[:, units:2 * units] + rh[:, units:2 * units])
        h_hat = activation(xw_t[:, 2 * units:] + r * rh[:, 2 * units:])
    else:
        rh = h_prev @ recurrent_kernel[:, :2 * units]  # (B, 2U)
        z = recurrent_activation(xw_t[:, :units] + rh[:, :units])
        r = recurrent_activation(xw_t[:, units:2 * units] + rh[:, units:])
        h_hat = activation(xw_t[:, 2 * units:] + (r * h_prev) @ recurrent_kernel[:, 2 * units:])
    h = z * h_prev + (1 - z) * h_hat
    return h, GRUGates(z, r, h_hat)
