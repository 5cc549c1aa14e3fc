"""Native LSTM/GRU time loops (see :mod:`rnnlab.kernels.native`), registered on the fast-path seam.

Two strategies, chosen by size:

* small recurrent matrices: the whole sequence runs in C (matrix-vector products, gates and masks), so a call
  costs a few microseconds of Python;
* large ones: each step's recurrent product is one BLAS GEMM through NumPy (``h @ U``), and the gate arithmetic
  and state update run fused in C, split across threads.

Float32 only, Keras's default activations, no dropout; everything else stays on the NumPy kernels.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, fastpath
from rnnlab.kernels import native
from rnnlab.layers.rnn_cells import GRUCell, LSTMCell

#: Above this many multiply-adds per step (batch x units x gates*units), each step's recurrent product is a BLAS
#: GEMM (multi-threaded); below it the C loop's register-blocked product wins (measured: benchmarks/run.py,
#: e.g. LSTM 8,100,64,128: 2.2 ms in C vs 3.2 ms with BLAS; LSTM 32,100,128,256: 40 ms vs 25 ms).
BLAS_THRESHOLD = 2 ** 21


def _supports(cell=None, collect_gates=False, dropout=None, **_):
    if collect_gates or dropout is not None or type(cell) not in (LSTMCell, GRUCell):
        return False
    if cell.dtype != "float32" or cell.activation is not activations.tanh or \
            cell.recurrent_activation is not activations.sigmoid:
        return False
    return native.library() is not None


def _ptr(a):
    return None if a is None else a.ctypes.data


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def _native_sequence(cell, xw, states, mask, zero_output_for_mask, return_sequences, collect_gates=False,
                     dropout=None):
    lib = native.library()
    batch, steps, width = xw.shape
    units = cell.units
    xw = _f32(xw)
    kernel = _f32(cell.recurrent_kernel.value)
    mask_u8 = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
    zero = int(bool(zero_output_for_mask))
    big = batch * units * width > BLAS_THRESHOLD
    is_lstm = type(cell) is LSTMCell
    n_states = 2 if is_lstm else 1
    # One buffer for the states, the last output and the outputs: [h | (c) | prev | outputs]
    per = batch * units
    buf = np.empty((n_states + 1) * per + (batch * steps * units if return_sequences else 0), np.float32)
    for k in range(n_states):
        buf[k * per:(k + 1) * per] = states[k].reshape(-1)
    buf[n_states * per:(n_states + 1) * per] = 0.0
    views = [buf[k * per:(k + 1) * per].reshape(batch, units) for k in range(n_states + 1)]
    out = buf[(n_states + 1) * per:].reshape(batch, steps, units) if return_sequences else None
    if is_lstm:
        if not big:
            lib.lstm_sequence_f32(batch, steps, units, xw.ctypes.data, _ptr(kernel), buf.ctypes.data,
                                  _ptr(mask_u8), zero, int(return_sequences))
        else:
            _lstm_blas_steps(lib, xw, kernel, views[0], views[1], views[2], mask_u8, zero, out)
        return views[2], out, views[:2], None
    reset_after = cell.reset_after
    rec_bias = _f32(cell.bias.value[1]) if (cell.use_bias and reset_after) else None
    if not big or not reset_after:
        lib.gru_sequence_f32(batch, steps, units, xw.ctypes.data, _ptr(kernel), _ptr(rec_bias), buf.ctypes.data,
                             _ptr(mask_u8), zero, int(return_sequences), int(reset_after))
    else:
        _gru_blas_steps(lib, xw, kernel, rec_bias, views[0], views[1], mask_u8, zero, out)
    return views[1], out, views[:1], None


def _keep_rows(mask_u8):
    return None if mask_u8 is None else np.ascontiguousarray(mask_u8.T)  # (T, B): step t's rows contiguous


def _lstm_blas_steps(lib, xw, kernel, h, c, prev, mask_u8, zero, out):
    batch, steps, width = xw.shape
    units = h.shape[1]
    z = np.empty((batch, width), np.float32)
    keep = _keep_rows(mask_u8)
    for t in range(steps):
        np.matmul(h, kernel, out=z)  # (B, 4U): BLAS
        z += xw[:, t]
        lib.lstm_step_f32(batch, units, _ptr(z), _ptr(h), _ptr(c), _ptr(prev),
                          None if keep is None else keep.ctypes.data + t * batch, zero,
                          None if out is None else out.ctypes.data + 4 * t * units, steps * units)


def _gru_blas_steps(lib, xw, kernel, rec_bias, h, prev, mask_u8, zero, out):
    batch, steps, width = xw.shape
    units = h.shape[1]
    rh = np.empty((batch, width), np.float32)
    keep = _keep_rows(mask_u8)
    for t in range(steps):
        np.matmul(h, kernel, out=rh)  # (B, 3U): BLAS
        if rec_bias is not None:
            rh += rec_bias
        lib.gru_step_f32(batch, units, xw.ctypes.data + 4 * t * width, steps * width, _ptr(rh),
                         _ptr(kernel), _ptr(h), _ptr(prev), None if keep is None else keep.ctypes.data + t * batch,
                         zero, None if out is None else out.ctypes.data + 4 * t * units, steps * units, 1)


fastpath.register("rnn_sequence", "native", _native_sequence, supports=_supports, priority=20)
