"""``h @ U`` for a gate-blocked recurrent kernel, optionally with one recurrent-dropout mask per gate block.

With masks ``m`` ``(G, B, U)``, gate block ``k`` reads the dropped-out state: ``(h * m[k]) @ U[:, k-block]``
(Keras's per-gate recurrent dropout). Without masks it is the plain product.
"""
from __future__ import annotations

import numpy as np


def recurrent_product(h, kernel, masks=None):
    """``(B, U) x (U, G*V) -> (B, G*V)``."""
    if masks is None:
        return h @ kernel
    gates = masks.shape[0]
    width = kernel.shape[1] // gates
    return np.concatenate([(h * masks[k]) @ kernel[:, k * width:(k + 1) * width] for k in range(gates)], axis=1)


def recurrent_product_backward(d_out, h, kernel, masks=None):
    """Gradients of :func:`recurrent_product`: returns ``(dh, dkernel)``."""
    if masks is None:
        return d_out @ kernel.T, h.T @ d_out
    gates = masks.shape[0]
    width = kernel.shape[1] // gates
    dh = np.zeros_like(h)
    dkernel = np.empty_like(kernel)
    for k in range(gates):
        block = slice(k * width, (k + 1) * width)
        dh += (d_out[:, block] @ kernel[:, block].T) * masks[k]
        dkernel[:, block] = (h * masks[k]).T @ d_out[:, block]
    return dh, dkernel
