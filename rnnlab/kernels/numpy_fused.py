"""Fused NumPy time loops for LSTM and GRU with Keras's default activations (tanh, sigmoid).

They compute exactly the equations of :mod:`rnnlab.cells` with fewer NumPy calls per step:

* all four LSTM gates go through one ``tanh``, using ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``: with per-column
  vectors ``a`` (0.5 on sigmoid gates, 1 on the candidate) and ``b`` (0.5 / 0), ``act = tanh(z * a) * a + b``;
* products are written into preallocated buffers (``out=``) instead of new arrays.

The reference loop (:func:`rnnlab.layers.rnn.reference_sequence`) stays the definition; tests check that these
kernels agree with it.  They do not collect gates (inspection uses the reference loop).
"""
from __future__ import annotations

import functools

import numpy as np

from rnnlab import activations, fastpath
from rnnlab.cells import GRUCell, LSTMCell, spec_of

#: The maths these loops compute: the plain cells' (a variant's or a subclass's spec differs).
_PLAIN = (LSTMCell.spec, GRUCell.spec)


def _default_activations(cell):
    return cell.activation is activations.tanh and cell.recurrent_activation is activations.sigmoid


def _supports(cell=None, collect_gates=False, dropout=None, **_):
    if collect_gates or dropout is not None or spec_of(cell) not in _PLAIN or \
            not _default_activations(cell):
        return False
    return True


@functools.lru_cache(maxsize=64)
def _gate_scales(units, blocks, dtype):
    """``a`` and ``b`` of ``act = tanh(z * a) * a + b``; ``blocks`` is a string of 's' (sigmoid) / 't' (tanh)."""
    a = np.concatenate([np.full(units, 0.5 if k == "s" else 1.0) for k in blocks]).astype(dtype)
    b = np.concatenate([np.full(units, 0.5 if k == "s" else 0.0) for k in blocks]).astype(dtype)
    a.flags.writeable = b.flags.writeable = False
    return a, b


def _lstm_sequence(cell, xw, states, mask, zero_output_for_mask, return_sequences, collect_gates=False,
                   dropout=None):
    batch, steps, _ = xw.shape
    units, dtype = cell.units, xw.dtype
    recurrent_kernel = cell.recurrent_kernel.value
    a, b = _gate_scales(units, "ssts", np.dtype(dtype).name)
    h, c = states[0].copy(), states[1].copy()
    z = np.empty((batch, 4 * units), dtype)  # pre-activations, then activations, in place
    tc = np.empty((batch, units), dtype)
    outputs = np.empty((batch, steps, units), dtype) if return_sequences else None
    prev_output = np.zeros((batch, units), dtype)
    for t in range(steps):
        np.matmul(h, recurrent_kernel, out=z)  # (B, 4U)
        z += xw[:, t]
        z *= a
        np.tanh(z, out=z)
        z *= a
        z += b  # z = [i | f | c_hat | o]
        i, f, c_hat, o = z[:, :units], z[:, units:2 * units], z[:, 2 * units:3 * units], z[:, 3 * units:]
        new_c = f * c
        new_c += i * c_hat
        np.tanh(new_c, out=tc)
        new_h = o * tc
        if mask is None:
            h, c, output = new_h, new_c, new_h
        else:
            keep = mask[:, t, None]
            h = np.where(keep, new_h, h)
            c = np.where(keep, new_c, c)
            output = np.where(keep, new_h, 0.0 if zero_output_for_mask else prev_output).astype(dtype, copy=False)
        prev_output = output
        if return_sequences:
            outputs[:, t] = output
    return prev_output, outputs, [h, c], None


def _gru_sequence(cell, xw, states, mask, zero_output_for_mask, return_sequences, collect_gates=False,
                  dropout=None):
    batch, steps, _ = xw.shape
    units, dtype = cell.units, xw.dtype
    recurrent_kernel = cell.recurrent_kernel.value
    reset_after = cell.reset_after
    rec_bias = cell.bias.value[1] if (cell.use_bias and reset_after) else None
    u_zr, u_h = recurrent_kernel[:, :2 * units], recurrent_kernel[:, 2 * units:]
    h = states[0].copy()
    rh = np.empty((batch, (3 if reset_after else 2) * units), dtype)
    zr = np.empty((batch, 2 * units), dtype)
    outputs = np.empty((batch, steps, units), dtype) if return_sequences else None
    prev_output = np.zeros((batch, units), dtype)
    for t in range(steps):
        xw_t = xw[:, t]
        if reset_after:
            np.matmul(h, recurrent_kernel, out=rh)  # (B, 3U)
            if rec_bias is not None:
                rh += rec_bias
        else:
            np.matmul(h, u_zr, out=rh)  # (B, 2U)
        np.add(xw_t[:, :2 * units], rh[:, :2 * units], out=zr)
        zr *= 0.5
        np.tanh(zr, out=zr)
        zr *= 0.5
        zr += 0.5  # zr = [z | r]
        z, r = zr[:, :units], zr[:, units:]
        if reset_after:
            h_hat = np.tanh(xw_t[:, 2 * units:] + r * rh[:, 2 * units:])
        else:
            h_hat = np.tanh(xw_t[:, 2 * units:] + (r * h) @ u_h)
        new_h = h_hat + z * (h - h_hat)  # = z * h + (1 - z) * h_hat
        if mask is None:
            h, output = new_h, new_h
        else:
            keep = mask[:, t, None]
            h = np.where(keep, new_h, h)
            output = np.where(keep, new_h, 0.0 if zero_output_for_mask else prev_output).astype(dtype, copy=False)
        prev_output = output
        if return_sequences:
            outputs[:, t] = output
    return prev_output, outputs, [h], None


def _fused_sequence(cell, *args):
    if type(cell) is LSTMCell:
        return _lstm_sequence(cell, *args)
    return _gru_sequence(cell, *args)


fastpath.register("rnn_sequence", "numpy_fused", _fused_sequence, supports=_supports, priority=10)
