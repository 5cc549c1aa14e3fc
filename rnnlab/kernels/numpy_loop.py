"""The fused NumPy time loop of LSTM and GRU with Keras's default activations (tanh, sigmoid): inference (kernel
``"numpy_fused"`` of ``"rnn_sequence"``) and training (the NumPy path of ``"fused_training"``) run this one loop.

It computes the equations of :mod:`rnnlab.cells` with few NumPy calls per step.  Step ``t`` is one BLAS product
of the previous state with the recurrent kernel ``U``, then the cell's own elementwise function
(:func:`~rnnlab.cells.lstm.lstm_pointwise`, :func:`~rnnlab.cells.gru.gru_pointwise`), writing into preallocated
buffers.  The product is ``U^T @ h_{t-1}^T`` for float32 with 2-16 rows, the form BLAS computes faster
there, else ``h_{t-1} @ U``.

:func:`forward` given a ``workspace`` (training) saves what :func:`backward` reads, batch-major:

    gates (B, T, G*U)  each step's gate activations, written over the projected inputs (in place)
    hs    (B, T, U)    the hidden state before each step; cs, the same for the LSTM's cell state
    aux   (B, T, U)    LSTM: tanh(c_t); GRU: the candidate's recurrent term rh_h

Without one (inference), two state buffers take turns and contiguous buffers, reused every step, hold the gates.
:func:`backward` is backpropagation through time, ``for t in reversed(range(T))``: the cell's elementwise backward
(:func:`~rnnlab.cells.lstm.lstm_pointwise_backward`, :func:`~rnnlab.cells.gru.gru_pointwise_backward`), then one
product with ``U`` carrying the gradient to ``h_{t-1}``.  The weight gradients are one product over all ``B*T``
rows, which the caller computes from ``hs`` and the returned gradients.

Masks follow :func:`rnnlab.layers.rnn.reference_loop`, which stays the definition: the tests check that this
loop agrees with it.  Training supports GRU with ``reset_after=True`` only.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rnnlab import activations, fastpath
from rnnlab.cells import GRUCell, LSTMCell, spec_of
from rnnlab.cells.gru import gru_pointwise, gru_pointwise_backward
from rnnlab.cells.lstm import lstm_gate_scales, lstm_pointwise, lstm_pointwise_backward

#: The maths this loop computes: the plain cells' (a variant's or a subclass's spec differs).
_PLAIN = (LSTMCell.spec, GRUCell.spec)


def supports_cell(cell):
    """Whether the loop computes ``cell``: a plain ``LSTMCell`` or ``GRUCell`` (not a variant, not a subclass),
    with tanh and sigmoid."""
    return spec_of(cell) in _PLAIN and cell.activation is activations.tanh and \
        cell.recurrent_activation is activations.sigmoid


class Saved(NamedTuple):
    """What :func:`forward` kept for :func:`backward` (arrays in the workspace, batch-major)."""

    lstm: bool
    recurrent_kernel: np.ndarray  # (U, G*U)
    gates: np.ndarray  # (B, T, G*U)
    hs: np.ndarray  # (B, T, U)
    cs: np.ndarray | None  # (B, T, U), LSTM only
    aux: np.ndarray  # (B, T, U)
    mask: np.ndarray | None  # (B, T) bool, processing order
    zero_output: bool
    workspace: object


def _steps(array):
    """``[array[:, t] for t in range(T)]`` for a ``(B, T, ...)`` array (iterating is faster than slicing)."""
    return list(array.swapaxes(0, 1))


def _state_slots(saved, batch, steps, units, dtype, initial):
    """Per step, the state buffer read (``prev[t]``) and the one written (``next[t]``), and the final state.

    ``saved`` ``(B, T, U)``: ``prev[t] = saved[:, t]``; otherwise two buffers take turns.  The last step writes a
    new array, the final state."""
    final = np.empty((batch, units), dtype)
    if saved is not None:
        prev = _steps(saved)
    else:
        ring = [np.empty((batch, units), dtype), np.empty((batch, units), dtype)]
        prev = [ring[t % 2] for t in range(steps)]
    prev[0][...] = initial
    return prev, prev[1:] + [final], final


def forward(cell, xw, states, mask, zero_output, return_sequences, workspace=None, zero_start=False,
            transposed=None):
    """Run ``cell`` (:func:`supports_cell`) over the projected inputs ``xw`` ``(B, T, G*U)`` (input bias
    included), in processing order, from the flat ``states``.

    ``mask`` is ``(B, T)`` bool or None.  With a ``workspace`` (an object whose ``get(name, shape, dtype)`` returns
    a buffer), the gates are written over ``xw`` and the step's saved arrays kept for :func:`backward`;
    ``zero_start`` says the initial states are known zeros (the first product is skipped).  ``transposed`` chooses
    the product's form (default: transposed for float32 with 2-16 rows).  Returns
    ``(last_output, outputs or None, final_states, saved or None)``.
    """
    lstm = type(cell) is LSTMCell
    batch, steps, width = xw.shape
    units, dtype = cell.units, xw.dtype
    save = workspace is not None
    kernel = cell.recurrent_kernel.value  # (U, G*U)
    kernel_h = None  # GRU reset_after=False: the candidate's block, applied after the reset gate
    rec_bias = None
    if not lstm and not cell.reset_after:
        if save:
            raise ValueError("The fused training loop supports GRU with reset_after=True only.")
        kernel, kernel_h = kernel[:, :2 * units], kernel[:, 2 * units:]  # (U, 2U), (U, U)
    elif not lstm and cell.use_bias:
        rec_bias = cell.bias.value[1]  # (3U,)

    # the recurrent product, into rec (B, G*U) (or the transposed product into rec_t (G*U, B), and rec = rec_t.T)
    if transposed is None:
        transposed = dtype == np.float32 and 1 < batch <= 16  # measured: faster there, else slower or even
    if transposed:
        kernel_t = workspace.get("kernel_t", kernel.T.shape, dtype) if save else np.empty(kernel.T.shape, dtype)
        kernel_t[...] = kernel.T  # contiguous U^T
        rec_t = np.zeros((kernel.shape[1], batch), dtype)
        rec = rec_t.T
    else:
        rec = np.zeros((batch, kernel.shape[1]), dtype)
    rec_h = rec[:, 2 * units:]  # GRU: the candidate's recurrent term, (B, U)

    # per step t: where the gates go (written over xw when saving, else into contiguous buffers reused every step)
    none = [None] * steps
    hs = cs = aux = None
    if save:
        hs = workspace.get("hs", (batch, steps, units), dtype)
        cs = workspace.get("cs", (batch, steps, units), dtype) if lstm else None
        aux = workspace.get("aux", (batch, steps, units), dtype)
        auxes = _steps(aux)
        pres, h_hats = (_steps(xw), none) if lstm else (_steps(xw[:, :, :2 * units]), _steps(xw[:, :, 2 * units:]))
    else:
        auxes = [np.empty((batch, units), dtype)] * steps if lstm else none
        pres = [np.empty((batch, (4 if lstm else 2) * units), dtype)] * steps  # LSTM: all gates; GRU: z, r
        h_hats = none if lstm else [np.empty((batch, units), dtype)] * steps
    h_prev, h_next, h_final = _state_slots(hs, batch, steps, units, dtype, states[0])
    c_prev, c_next, c_final = none, none, None
    if lstm:
        c_prev, c_next, c_final = _state_slots(cs, batch, steps, units, dtype, states[1])
        scales = lstm_gate_scales(units, dtype)

    outputs = np.empty((batch, steps, units), dtype) if return_sequences else None
    outs = _steps(outputs) if return_sequences else None
    last = np.zeros((batch, units), dtype)  # with a mask: the output of the latest step, masked steps included
    if mask is not None:
        keeps, drops = mask.T[:, :, None], (~mask).T[:, :, None]  # (T, B, 1): keeps[t] is mask[:, t, None]
        prev_out = np.zeros((batch, units), dtype) if return_sequences else last

    matmul, add = np.matmul, np.add
    for t, (x_t, pre, h_hat, hp, h, cp, c, aux_t) in enumerate(zip(_steps(xw), pres, h_hats, h_prev, h_next, c_prev,
                                                                  c_next, auxes)):
        if t or not zero_start:  # rec stays zero otherwise
            if transposed:
                matmul(kernel_t, hp.T, rec_t)  # (G*U, B)
            else:
                matmul(hp, kernel, rec)  # (B, G*U)
        if lstm:
            add(x_t, rec, pre)  # (B, 4U) pre-activations
            lstm_pointwise(pre, cp, c, aux_t, h, scales)
        else:
            if rec_bias is not None:
                rec += rec_bias
            if save:
                aux_t[...] = rec_h
            gru_pointwise(x_t, rec, hp, pre, h_hat, h, kernel_h)
        if mask is None:
            if outs is not None:
                outs[t][...] = h
            continue
        # a masked row keeps its states and repeats the previous output (or outputs zeros)
        keep, drop, out = keeps[t], drops[t], last if outs is None else outs[t]
        if out is not prev_out:
            out[...] = prev_out
        np.copyto(out, h, where=keep)
        if zero_output:
            np.copyto(out, 0, where=drop)
        prev_out = out
        np.copyto(h, hp, where=drop)
        if lstm:
            np.copyto(c, cp, where=drop)

    if return_sequences:
        last = outputs[:, -1]
    elif mask is None:
        last = h_final
    final_states = [h_final, c_final] if lstm else [h_final]
    saved = None
    if save:
        saved = Saved(lstm, cell.recurrent_kernel.value, xw, hs, cs, aux, mask, bool(zero_output), workspace)
    return last, outputs, final_states, saved


def backward(saved, d_outputs, d_last, d_h, d_c, want_initial):
    """Backpropagation through time for a :func:`forward` call that saved ``saved``.

    ``d_outputs`` ``(B, T, U)`` (or None) and ``d_last`` ``(B, U)`` (or None) are the loss gradients w.r.t. the
    outputs in processing order and the last output; ``d_h``, ``d_c`` w.r.t. the final states (or None).
    Returns ``(dxw, drh, d_initial)``: the gradients w.r.t. ``xw`` ``(B, T, G*U)`` and, for GRU, w.r.t. each
    step's recurrent product ``h_{t-1} @ U + b_rec`` (else None), both in the workspace; and the gradients w.r.t.
    the initial states (None unless ``want_initial``).  ``dU = hs^T @ (dxw, LSTM, or drh, GRU)`` over all rows.
    """
    lstm, kernel, gates, hs, cs, aux, mask = saved[:7]
    ws, zero_output = saved.workspace, saved.zero_output
    batch, steps, units = hs.shape
    dtype, shape, small = hs.dtype, gates.shape, (batch, units)
    dxw = ws.get("dz", shape, dtype)
    drh = None if lstm else ws.get("drh", shape, dtype)
    source_t = (dxw if lstm else drh).transpose(1, 2, 0)  # (T, G*U, B): what the product with U reads
    dh_t = ws.get("dh_t", small[::-1], dtype)  # (U, B): U @ (gradient at step t+1's recurrent product)^T
    dh_t[...] = 0 if d_h is None else d_h.T
    dc = None
    if lstm:
        dc = ws.get("dc", small, dtype)  # w.r.t. the cell state after step t
        dc[...] = 0 if d_c is None else d_c
    dh_pass = None  # the part of dL/dh_{t} that skips the product: GRU's z * dh, a masked step's copy
    if not lstm or mask is not None:
        dh_pass = ws.get("dh_pass", small, dtype)
        dh_pass[...] = 0
    carry = None  # gradient reaching the previous output through masked steps that repeat it
    if mask is not None and not zero_output:
        carry = ws.get("carry", small, dtype)
        carry[...] = 0
    s = ws.get("scratch", small, dtype)
    keeps = None if mask is None else mask[:, :, None]  # (B, T, 1)

    matmul = np.matmul
    for t in reversed(range(steps)):
        if d_outputs is not None:  # s: dL/d(output t)
            s[...] = d_outputs[:, t]
        else:
            s.fill(0)
        if d_last is not None and t == steps - 1:
            s += d_last
        if carry is not None:
            s += carry
        dhs = dh_t.T if dh_pass is None else dh_t.T + dh_pass  # dL/dh_t through the later steps
        dh = s + dhs
        keep = None
        if keeps is not None:
            keep = keeps[:, t]
            dh *= keep  # a masked step's h is its predecessor's: its gradient passes on through dh_pass
        if lstm:
            dc_prev = lstm_pointwise_backward(dh, dc if keep is None else dc * keep, gates[:, t], aux[:, t],
                                              cs[:, t], dxw[:, t])
            if keep is None:
                dc[...] = dc_prev
            else:
                np.copyto(dc, np.where(keep, dc_prev, dc))
                np.copyto(dh_pass, np.where(keep, 0, dhs))
        else:
            direct = gru_pointwise_backward(dh, gates[:, t], aux[:, t], hs[:, t], dxw[:, t], drh[:, t])
            np.copyto(dh_pass, direct if keep is None else np.where(keep, direct, dhs))
        if carry is not None:
            np.copyto(carry, np.where(keep, 0, s))
        if t or want_initial:
            matmul(kernel, source_t[t], out=dh_t)  # U @ dpre_t^T: faster than dpre_t @ U^T in BLAS
    d_initial = None
    if want_initial:
        d_h0 = dh_t.T if dh_pass is None else dh_t.T + dh_pass
        d_initial = [np.array(d_h0), np.array(dc)] if lstm else [np.array(d_h0)]
    return dxw, drh, d_initial


def fused_sequence(call):
    """Kernel ``"numpy_fused"`` of ``"rnn_sequence"``: :func:`forward` without saving."""
    xw, mask = call.projected()
    last, outputs, final_states, _ = forward(call.cell, xw, call.states, mask, call.zero_output_for_mask,
                                             call.return_sequences)
    return fastpath.RecurrentResult(last, outputs, final_states)


#: The cells the loop runs: the plain LSTM and GRU (a variant or a subclass declares other maths in its spec).
PLAIN_CELLS = _PLAIN

# Keras's default activations (the condition), float32/float64, masks; no dropout, no gate collection.
fastpath.register("rnn_sequence", "numpy_fused", fused_sequence, priority=10, cells=PLAIN_CELLS,
                  condition=lambda call: supports_cell(call.cell))
