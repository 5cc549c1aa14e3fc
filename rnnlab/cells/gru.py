"""GRU cell, one time step forward and backward, in Keras's gate order ``z, r, h``.

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

With recurrent dropout, gate block ``k`` reads ``h_prev * mask[k]`` in its recurrent product; the final mix
uses the undropped ``h_prev``, as in Keras.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab.activations import derivative
from rnnlab.cells.base import CellSpec, RecurrentCell, add_grad, register
from rnnlab.cells.recurrent_product import recurrent_product, recurrent_product_backward


class GRUGates(NamedTuple):
    """What one GRU step computed: gates ``z``, ``r``, candidate ``h_hat`` ``(B, U)``, the pre-activations
    ``pre`` ``(B, 3U)`` and the recurrent term ``rh`` (``(B, 3U)`` with reset_after, else ``r * h_prev``)."""

    z: np.ndarray
    r: np.ndarray
    h_hat: np.ndarray
    pre: np.ndarray
    rh: np.ndarray



# ------------------------------------------------------------------ the elementwise part, Keras's default activations
def gru_pointwise(xw_t, rh, h_prev, zr, h_hat, h, kernel_h=None):
    """The elementwise part of :func:`gru_step` for ``activation=tanh``, ``recurrent_activation=sigmoid``.

    ``xw_t`` ``(B, 3U)`` is the input part of the pre-activations and ``rh`` the recurrent part (``h_prev @
    recurrent_kernel + recurrent_bias`` ``(B, 3U)``; with reset_after=False ``h_prev @ recurrent_kernel[:, :2U]``
    ``(B, 2U)``).  Writes the gates ``[z | r]`` into ``zr`` ``(B, 2U)``, the candidate into ``h_hat`` ``(B, U)``
    (the two parts of the step's gates; ``xw_t``'s own, in place, is allowed) and the new state into ``h``::

        z, r  = sigmoid(xw_z + rh_z), sigmoid(xw_r + rh_r)     as 0.5 * tanh(pre / 2) + 0.5
        h_hat = tanh(xw_h + r * rh_h)                          reset_after=True
        h_hat = tanh(xw_h + (r * h_prev) @ kernel_h)           reset_after=False: pass kernel_h = U[:, 2U:]
        h     = z * h_prev + (1 - z) * h_hat                   as h_hat + z * (h_prev - h_hat)

    With reset_after=False the reset gate applies before the candidate's product, so that product runs here.
    The sigmoid through ``tanh`` is accurate to a few ulps of 1 (not of the result, for very negative inputs),
    which is why the reference :func:`gru_step`, whose activations may be any, keeps the stable one.
    """
    u = h.shape[1]
    np.add(xw_t[:, :2 * u], rh[:, :2 * u], zr)
    zr *= 0.5  # sigmoid, in place
    np.tanh(zr, zr)
    zr *= 0.5
    zr += 0.5
    z, r = zr[:, :u], zr[:, u:]  # (B, U) each
    if kernel_h is None:
        np.multiply(r, rh[:, 2 * u:], h)  # h serves as scratch until the new state is written into it
        np.add(xw_t[:, 2 * u:], h, h_hat)
    else:
        np.multiply(r, h_prev, h)
        np.add(xw_t[:, 2 * u:], h @ kernel_h, h_hat)
    np.tanh(h_hat, h_hat)
    np.subtract(h_prev, h_hat, h)
    h *= z
    h += h_hat


def gru_pointwise_backward(dh, gates, rh_h, h_prev, dpre, drh):
    """Backward of :func:`gru_pointwise` (reset_after=True) from its saved results: ``gates`` ``[z | r | h_hat]``
    ``(B, 3U)``, the candidate's recurrent term ``rh_h`` ``(B, U)`` and ``h_prev``.

    ``dh`` ``(B, U)`` is the loss gradient w.r.t. the step's ``h``.  Writes the gradients w.r.t. the input part
    ``xw_t`` into ``dpre`` and w.r.t. the recurrent part ``rh`` into ``drh`` (both ``(B, 3U)``), and returns the
    part of ``dh_prev`` that does not pass through ``rh`` (the rest is ``drh @ recurrent_kernel^T``)::

        da     = dh * (1 - z) * (1 - h_hat^2)          gradient at xw_h + r * rh_h
        dpre_z = dh * (h_prev - h_hat) * z * (1 - z)   h = z * h_prev + (1 - z) * h_hat
        dpre_r = da * rh_h * r * (1 - r)
        dpre_h = da
        drh    = [dpre_z | dpre_r | da * r]            rh_z, rh_r enter directly, rh_h through r
        dh_prev (direct) = dh * z
    """
    u = dh.shape[1]
    z, r, h_hat = gates[:, :u], gates[:, u:2 * u], gates[:, 2 * u:]  # (B, U) each
    da = dh * (1 - z) * (1 - h_hat * h_hat)
    dpre[:, :u] = dh * (h_prev - h_hat) * z * (1 - z)
    dpre[:, u:2 * u] = da * rh_h * r * (1 - r)
    dpre[:, 2 * u:] = da
    drh[:, :2 * u] = dpre[:, :2 * u]
    np.multiply(da, r, out=drh[:, 2 * u:])
    return dh * z


def gru_step(xw_t, h_prev, recurrent_kernel, recurrent_bias, activation, recurrent_activation, reset_after,
             recurrent_masks=None):
    """One GRU step. Returns ``(h, gates)``."""
    units = h_prev.shape[-1]
    pre = np.empty_like(xw_t)  # (B, 3U)
    if reset_after:
        rh = recurrent_product(h_prev, recurrent_kernel, recurrent_masks)  # (B, 3U)
        if recurrent_bias is not None:
            rh = rh + recurrent_bias
        pre[:, :2 * units] = xw_t[:, :2 * units] + rh[:, :2 * units]
    else:
        zr_masks = None if recurrent_masks is None else recurrent_masks[:2]
        pre[:, :2 * units] = xw_t[:, :2 * units] + recurrent_product(h_prev, recurrent_kernel[:, :2 * units],
                                                                     zr_masks)
    z = recurrent_activation(pre[:, :units])
    r = recurrent_activation(pre[:, units:2 * units])
    if reset_after:
        pre[:, 2 * units:] = xw_t[:, 2 * units:] + r * rh[:, 2 * units:]
    else:
        h_in = h_prev if recurrent_masks is None else h_prev * recurrent_masks[2]
        rh = r * h_in  # (B, U): the reset state
        pre[:, 2 * units:] = xw_t[:, 2 * units:] + rh @ recurrent_kernel[:, 2 * units:]
    h_hat = activation(pre[:, 2 * units:])
    h = z * h_prev + (1 - z) * h_hat
    return h, GRUGates(z, r, h_hat, pre, rh)


def gru_step_backward(dh, gates, h_prev, recurrent_kernel, activation, recurrent_activation, reset_after,
                      recurrent_masks=None):
    """Backward of :func:`gru_step`. Returns ``(dxw_t, dh_prev, drecurrent_kernel, drecurrent_bias)``
    (``drecurrent_bias`` is ``(3U,)`` with reset_after, else ``None``)."""
    units = h_prev.shape[-1]
    g = gates
    d_act, d_rec = derivative(activation), derivative(recurrent_activation)
    dpre = np.empty_like(g.pre)  # (B, 3U): gradient at the pre-activations = gradient at xw_t
    dz = dh * (h_prev - g.h_hat)  # h = z*h_prev + (1-z)*h_hat
    dh_prev = dh * g.z
    da_h = dh * (1 - g.z) * d_act(g.pre[:, 2 * units:], g.h_hat)
    dpre[:, 2 * units:] = da_h
    if reset_after:
        dr = da_h * g.rh[:, 2 * units:]  # pre_h = xh + r * rh_h
        dpre[:, :units] = dz * d_rec(g.pre[:, :units], g.z)
        dpre[:, units:2 * units] = dr * d_rec(g.pre[:, units:2 * units], g.r)
        drh = dpre.copy()  # (B, 3U): rh_z, rh_r enter directly; rh_h through r
        drh[:, 2 * units:] *= g.r
        dh_rec, drecurrent_kernel = recurrent_product_backward(drh, h_prev, recurrent_kernel, recurrent_masks)
        return dpre, dh_prev + dh_rec, drecurrent_kernel, drh.sum(axis=0)
    u_h = recurrent_kernel[:, 2 * units:]
    drhp = da_h @ u_h.T  # pre_h = xh + (r * h_in) @ U_h
    h_in = h_prev if recurrent_masks is None else h_prev * recurrent_masks[2]
    dr = drhp * h_in
    dh_in = drhp * g.r
    dh_prev += dh_in if recurrent_masks is None else dh_in * recurrent_masks[2]
    dpre[:, :units] = dz * d_rec(g.pre[:, :units], g.z)
    dpre[:, units:2 * units] = dr * d_rec(g.pre[:, units:2 * units], g.r)
    zr_masks = None if recurrent_masks is None else recurrent_masks[:2]
    dh_zr, dkernel_zr = recurrent_product_backward(dpre[:, :2 * units], h_prev, recurrent_kernel[:, :2 * units],
                                                   zr_masks)
    drecurrent_kernel = np.concatenate([dkernel_zr, g.rh.T @ da_h], axis=1)
    return dpre, dh_prev + dh_zr, drecurrent_kernel, None


@register
class GRUCell(RecurrentCell):
    """Cell of the GRU layer (``keras.layers.GRUCell``); equations, and how ``reset_after`` changes them, above."""

    spec = CellSpec(name="GRU", layout="gru", states=("h",), gates=("z", "r", "h_hat"), blocks=3)

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
