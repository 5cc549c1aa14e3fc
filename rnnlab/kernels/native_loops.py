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


_FLOAT32 = np.dtype(np.float32)
_SMALL_FLOATS = backend.ALIGNED_MIN_BYTES // 4


def _state_buffer(states, batch, units, steps, return_sequences, n_states=None):
    """One fresh buffer for the states, the last output and the outputs: ``[h | (c) | last | outputs]``.
    ``states=None``: ``n_states`` zero states.  Returns ``(buf, [h, (c,) last], outputs or None)``."""
    n_states = len(states) if states is not None else n_states
    per = batch * units
    head = (n_states + 1) * per
    size = head + (batch * steps * units if return_sequences else 0)
    if size < _SMALL_FLOATS:  # one calloc: cheaper than zeroing a slice, and small arrays need no alignment
        buf = np.zeros(size, _FLOAT32)
    else:
        # on a cache line: the kernel's vector stores never straddle two, nor do threads owning neighbouring units
        # share one
        buf = backend.empty_aligned(size, _FLOAT32)
        buf[:head] = 0.0  # not the outputs: the kernel writes every one
    heads = buf[:head].reshape(n_states + 1, batch, units)
    views = [heads[k] for k in range(n_states + 1)]  # (indexing is cheaper than iterating an array)
    if states is not None:
        for view, s in zip(views, states):
            view[...] = s
    out = buf[head:].reshape(batch, steps, units) if return_sequences else None
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
        ok = ext.forward(0 if is_lstm else 1, batch, steps, depth, cell.units, x, kernel, recurrent, bias, views[0],
                         views[1] if is_lstm else None, views[-1], out, mask_u8, reverse, zero_output, threads, packed)
        if ok is None:  # every array was made float32 and C-contiguous above, with the sizes given
            raise AssertionError("rnnlab's native LSTM/GRU loop refused arrays of the expected layout")
        if not ok:
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
    Keras's structure, or None when ``x`` is not a float32 C-contiguous ``(B, T, D)`` array with ``T > 0`` and
    the layer's ``D`` (the caller then takes the general path, which checks and converts).  A plain call of a
    small layer is mostly this function's own time, so it does only what the call needs."""
    shape = x.shape
    if len(shape) != 3 or not shape[1]:
        return None
    ext = native.extension()
    if ext is None:
        return None
    cell = layer.loop_cell
    batch, steps, depth = shape
    units = cell.units
    lstm = type(cell) is LSTMCell
    heads = np.zeros((3 if lstm else 2, batch, units), _FLOAT32)  # the zero states h, (c,) and the last output
    out = backend.empty_aligned((batch, steps, units), _FLOAT32) if layer.return_sequences else None
    h, last = heads[0], heads[-1]
    c = heads[1] if lstm else None
    options = fastpath.options
    # the kernel checks every array's dtype, layout and size (x's against depth, the weights' against the cell)
    ok = ext.forward(0 if lstm else 1, batch, steps, depth, units, x, cell.kernel.value, cell.recurrent_kernel.value,
                     cell.bias.value if cell.use_bias else None, h, c, last, out, None, layer.go_backwards,
                     layer.zero_output_for_mask, options.threads, options.packed)
    if ok is None:  # x is not such an array, or a weight is not float32 C-contiguous: the general path
        return None
    if not ok:
        backend.to_float_array(x, "float32", "inputs")  # NaN or infinity: raises the standard error
    return layer.shape_outputs(last, out, (h, c) if lstm else (h,))


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
