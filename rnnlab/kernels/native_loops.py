"""Native LSTM/GRU forward loops (see :mod:`rnnlab.kernels.native`), registered on the fast-path seam.

``"native"`` runs a whole LSTM or GRU (``reset_after=True``, Keras's default) layer in C from the raw inputs:
each step's gate pre-activations ``bias + x_t @ W + h_{t-1} @ U`` are one register-blocked product, finished
in registers by the gate arithmetic.  Threads of rnnlab's own pool share the rows or the units (see
``native/forward.c``).  No BLAS call is made, so nothing competes with NumPy's BLAS threads for the cores.
A plain ``layer(x)`` goes from Python straight to C through the library's CPython entry point.

``"native_gru_v1"`` runs GRU with ``reset_after=False`` in C (one thread) from the projected inputs.

Float32 only, Keras's default activations, no dropout; everything else stays on the NumPy kernels.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, backend, fastpath
from rnnlab.kernels import native
from rnnlab.cells import GRUCell, LSTMCell, spec_of

#: The maths these loops compute: the plain cells'. A variant (an LSTM with a projection or peepholes) or a
#: subclass declares other maths in its spec and runs on the reference path.
_PLAIN = (LSTMCell.spec, GRUCell.spec)


def _default_float32(cell):
    return cell.dtype == "float32" and cell.activation is activations.tanh and \
        cell.recurrent_activation is activations.sigmoid


def _runs_plain_lstm_or_gru(call):
    """The condition of ``"native"``: Keras's default activations, GRU only with reset_after, and the library."""
    cell = call.cell
    return _default_float32(cell) and getattr(cell, "reset_after", True) and native.library() is not None


def _runs_gru_v1(call):
    """The condition of ``"native_gru_v1"``: a GRU with reset_after=False, default activations, the library."""
    cell = call.cell
    return _default_float32(cell) and not cell.reset_after and native.library() is not None


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _state_buffer(states, batch, units, steps, return_sequences, n_states=None):
    """One fresh buffer for the states, the last output and the outputs: ``[h | (c) | last | outputs]``.
    ``states=None``: ``n_states`` zero states."""
    n_states = len(states) if states is not None else n_states
    per = batch * units
    size = (n_states + 1) * per + (batch * steps * units if return_sequences else 0)
    # on a cache line: the kernel's vector stores never straddle two, nor do threads owning neighbouring units share one
    buf = backend.empty_aligned(size, np.float32)
    if states is None:
        buf[:(n_states + 1) * per] = 0.0  # not the outputs: the kernel writes every one
    else:
        for k, s in enumerate(states):
            buf[k * per:(k + 1) * per] = s.reshape(-1)
        buf[n_states * per:(n_states + 1) * per] = 0.0
    views = [buf[k * per:(k + 1) * per].reshape(batch, units) for k in range(n_states + 1)]
    out = buf[(n_states + 1) * per:].reshape(batch, steps, units) if return_sequences else None
    return buf, views, out


def native_layer(cell, x, states, mask, zero_output_for_mask, return_sequences, reverse=False, threads=None,
                 packed=None):
    """Run ``cell`` (LSTM, or GRU with reset_after) over raw inputs ``x`` ``(B, T, D)``.

    ``mask`` ``(B, T)`` and ``x`` are in time order; with ``reverse`` the steps run from the last one and the
    outputs come back in processing order.  Returns ``(last_output, outputs or None, final_states, None)``.
    ``threads`` and ``packed`` override :data:`rnnlab.fastpath.options`.
    """
    x = _f32(x)
    batch, steps, depth = x.shape
    _, views, out = _state_buffer(states, batch, cell.units, steps, return_sequences)
    mask_u8 = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
    _run(cell, x, views, out, mask_u8, reverse, zero_output_for_mask, threads, packed)
    return views[-1], out, views[:-1], None


def _run(cell, x, views, out, mask_u8, reverse, zero_output, threads=None, packed=None):
    threads = fastpath.options.threads if threads is None else threads
    packed = fastpath.options.packed if packed is None else packed
    is_lstm = type(cell) is LSTMCell
    kernel = _f32(cell.kernel.value)
    recurrent = _f32(cell.recurrent_kernel.value)
    bias = _f32(cell.bias.value) if cell.use_bias else None
    batch, steps, depth = x.shape
    ext = native.extension()
    if ext is not None:
        args = (0 if is_lstm else 1, batch, steps, depth, cell.units, x, kernel, recurrent, bias, views[0],
                views[1] if is_lstm else None, views[-1], out, mask_u8, reverse, zero_output, threads, packed)
        if not ext.forward(*args):
            backend.to_float_array(x, "float32", "inputs")  # NaN or infinity: raises the standard error
        return
    if not np.isfinite(x).all():
        backend.to_float_array(x, "float32", "inputs")
    ptr = _ptr
    rc = native.library().rnn_forward_f32(
        0 if is_lstm else 1, batch, steps, depth, cell.units, ptr(x), ptr(kernel), ptr(recurrent), ptr(bias),
        ptr(views[0]), ptr(views[1]) if is_lstm else None, ptr(views[-1]), ptr(out), ptr(mask_u8),
        int(bool(reverse)), int(bool(zero_output)), int(threads), int(packed))
    if rc:
        raise MemoryError("rnnlab's native LSTM/GRU loop could not allocate its workspace.")


def _ptr(a):
    return None if a is None else a.ctypes.data


def _plain_call(layer, x):
    """``layer(x)`` with zero initial states, no mask and no training, straight to the kernel: the outputs in
    Keras's structure."""
    cell = layer.loop_cell
    if not x.flags.c_contiguous:
        return None
    batch, steps, _ = x.shape
    sequences = layer.return_sequences
    _, views, out = _state_buffer(None, batch, cell.units, steps, sequences, 2 if type(cell) is LSTMCell else 1)
    _run(cell, x, views, out, None, layer.go_backwards, layer.zero_output_for_mask)
    return layer.shape_outputs(views[-1], out, views[:-1])


def _native_sequence(call):
    """Kernel ``"native"`` of ``"rnn_sequence"``: :func:`native_layer` on the call."""
    last_output, outputs, states, _ = native_layer(call.cell, call.x, call.states, call.mask,
                                                   call.zero_output_for_mask, call.return_sequences, call.reverse)
    return fastpath.RecurrentResult(last_output, outputs, states)


def _gru_v1_sequence(call):
    """Kernel ``"native_gru_v1"``: the GRU ``reset_after=False`` loop in C, on the projected inputs."""
    lib = native.library()
    cell = call.cell
    xw, mask = call.projected()
    batch, steps, _ = xw.shape
    xw = _f32(xw)
    recurrent = _f32(cell.recurrent_kernel.value)
    mask_u8 = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
    buf, views, out = _state_buffer(call.states, batch, cell.units, steps, call.return_sequences)
    lib.gru_sequence_f32(batch, steps, cell.units, xw.ctypes.data, recurrent.ctypes.data, buf.ctypes.data,
                         None if mask_u8 is None else mask_u8.ctypes.data, int(bool(call.zero_output_for_mask)),
                         int(call.return_sequences))
    return fastpath.RecurrentResult(views[-1], out, views[:-1])


# Float32, Keras's default activations, masks, no dropout, no gate collection (inspection uses the reference).
fastpath.register("rnn_sequence", "native", _native_sequence, priority=20, cells=_PLAIN, dtypes=("float32",),
                  condition=_runs_plain_lstm_or_gru, plain=_plain_call)
fastpath.register("rnn_sequence", "native_gru_v1", _gru_v1_sequence, priority=20, cells=(GRUCell.spec,),
                  dtypes=("float32",), condition=_runs_gru_v1)
