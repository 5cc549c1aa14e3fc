"""Fused training call of a recurrent layer: forward, then backpropagation through time, on saved arrays.

The general training path (:func:`rnnlab.layers.rnn.reference_train`) runs the reference loop with a
per-step trace of tuples and backpropagates step by step, adding a recurrent-kernel gradient per step.  This
kernel computes the same thing for the common case -- one ``LSTMCell`` or ``GRUCell`` (``reset_after=True``)
with Keras's default activations (tanh, sigmoid) and no recurrent dropout.  Two implementations:

* **float32 with the native library** (:func:`_sequence_call`): whole-sequence C kernels in
  :file:`native/rnn_kernels.c`.  The forward pass is the inference loop, which also saves each step's gate
  activations and states; the backward pass runs every step (product with a packed ``U^T``, then the
  elementwise gradient) in one call; the weight gradients are one product over all ``B*T`` rows.  All of it runs
  on rnnlab's own threads, never on NumPy's BLAS.
* **otherwise** (float64, or no C compiler): the fused NumPy loop that inference runs too
  (:mod:`rnnlab.kernels.numpy_loop`), saving what backward reads, then its backward loop; the recurrent kernel's
  gradient is ONE product after the loop.

Both keep their buffers in the layer's workspace between calls (:class:`_Workspace`), batch-major: the gate
activations ``(B, T, G*U)``, the states before each step ``hs`` (and ``cs``) ``(B, T, U)``, and ``aux``
``(B, T, U)`` (LSTM ``tanh(c_t)``, GRU the candidate's recurrent term).  With ``H`` the states before each step
and ``dZ`` the gradients at the pre-activations, both ``(B*T, .)``, ``dU = H^T @ dZ`` (for GRU, ``dZ`` is the
gradient at ``h_{t-1} @ U + b_rec``, and its column sums are the recurrent bias's gradient).

Masks, ``go_backwards``, initial states (and their gradients), ``stateful``, input dropout and every output
structure behave exactly as on the general path; tests compare the two on random configurations.
"""
from __future__ import annotations

import weakref

import numpy as np

from rnnlab import backend, fastpath, nest
from rnnlab.cells import GRUCell, LSTMCell
from rnnlab.kernels import native, numpy_loop


def _runs(call):
    """The condition of ``"fused_training"`` beyond its declared cells and dtypes: Keras's default activations,
    and a GRU only with ``reset_after=True``."""
    cell = call.cell
    return numpy_loop.supports_cell(cell) and getattr(cell, "reset_after", True)


def _ptr(array):
    return None if array is None else array.ctypes.data


class _Workspace:
    """The internal buffers of a layer's fused training calls, kept between calls: writing to fresh memory
    costs a page fault per 4 KiB page (thousands per step of a mid-sized layer), reusing it does not.

    A call takes the layer's workspace when it is free and gives it back when its backward pass ends; a call
    that finds it taken (a shared layer, or a training call whose backward never ran) gets a new one.
    """

    def __init__(self):
        self.arrays = {}
        self.owner = None  # the call whose forward pass the buffers hold
        self.busy = False  # that call's backward pass has not finished

    def get(self, name, shape, dtype, fill=None):
        """Buffer ``name`` with this shape and dtype (reused when it fits), optionally filled with ``fill``."""
        a = self.arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self.arrays[name] = backend.empty_aligned(shape, dtype)
        if fill is not None:
            np.copyto(a, fill)
        return a


_WORKSPACES = weakref.WeakKeyDictionary()  # layer -> _Workspace


def _checkout_workspace(layer):
    ws = _WORKSPACES.get(layer)
    if ws is None or ws.busy:
        ws = _WORKSPACES[layer] = _Workspace()
    ws.busy, ws.owner = True, object()
    return ws, ws.owner


# --------------------------------------------------------------------------------------------- the call
def _output_grads(layer, ws, token, d_outputs, n_states):
    """The gradients w.r.t. the main output and each final state (None: none) of the training call whose
    workspace token is ``token``; refused when a later call has reused its buffers."""
    if ws.owner is not token:
        raise RuntimeError(
            f"This backward function of layer {layer.name!r} belongs to an earlier training call whose "
            "buffers a later call has reused: backpropagate each training call before the layer's next one."
        )
    if not layer.return_state:
        return d_outputs, [None] * n_states
    flat = nest.flatten(d_outputs)
    return flat[0], flat[1:]


def _grad_array(d, dtype):
    return None if d is None else np.ascontiguousarray(d, dtype)


def _add_owned_grad(grads, variable, value):
    """Add a freshly computed ``value`` (owned by the caller, never reused) to ``grads[variable]``."""
    if grads is None:
        return
    if variable in grads:
        grads[variable] += value
    else:
        grads[variable] = value if value.dtype == variable.value.dtype else value.astype(variable.value.dtype)


def _project(cell, ws, x, dropout, reverse):
    """The projected inputs ``x @ kernel + input_bias`` ``(B, T, G*U)`` in processing order, in the workspace (with
    input dropout, the cell projects into a new array)."""
    if dropout is not None:
        xw = cell.project_inputs(x, dropout)
        return np.ascontiguousarray(xw[:, ::-1] if reverse else xw)
    batch, steps, features = x.shape
    kernel = cell.kernel.value
    xw = ws.get("xa", (batch, steps, kernel.shape[1]), kernel.dtype)
    source = np.ascontiguousarray(x[:, ::-1] if reverse else x).reshape(batch * steps, features)
    np.matmul(source, kernel, out=xw.reshape(batch * steps, -1))  # one GEMM for every step
    bias = cell._input_bias()
    if bias is not None:
        xw += bias
    return xw


def fused_forward_backward(call):
    """Kernel ``"fused_training"`` of ``"rnn_train"``: the forward pass keeping what backward needs, and its
    backward (see the module docstring); a :class:`rnnlab.fastpath.RecurrentResult` with ``backward``."""
    layer, cell, x, grads = call.layer, call.cell, call.x, call.grads
    batch, steps = x.shape[0], x.shape[1]
    mask, states, dropout = call.mask, call.states, call.dropout  # input dropout only (see the declaration)
    zero_states = not call.initial_state_given and not layer.stateful
    lib = _sequence_library(x, dropout)
    if lib is not None:
        return _sequence_call(lib, layer, x, states, mask, dropout, call.initial_state_given, grads)
    ws, token = _checkout_workspace(layer)
    xw = _project(cell, ws, x, dropout, layer.go_backwards)
    if layer.go_backwards and mask is not None:
        mask = mask[:, ::-1]
    last_output, sequences, final_states, saved = numpy_loop.forward(
        cell, xw, states, mask, layer.zero_output_for_mask, layer.return_sequences, workspace=ws,
        zero_start=zero_states)

    def backward(d_outputs, need_input_grad=True):
        d_main, d_states = _output_grads(layer, ws, token, d_outputs, len(final_states))
        dtype = xw.dtype
        d_main = _grad_array(d_main, dtype)
        d_h, d_c = (_grad_array(d, dtype) for d in (d_states + [None])[:2])
        want_initial = call.initial_state_given
        dxw, drh, d_initial = numpy_loop.backward(saved, d_main if layer.return_sequences else None,
                                                  None if layer.return_sequences else d_main, d_h, d_c,
                                                  want_initial)
        rows = batch * steps
        source = (dxw if drh is None else drh).reshape(rows, -1)  # (B*T, G*U): gradient at h_{t-1} @ U (+ b_rec)
        _add_owned_grad(grads, cell.recurrent_kernel, saved.hs.reshape(rows, -1).T @ source)
        if drh is not None and cell.use_bias:
            d_bias = np.zeros(cell.bias.value.shape, dtype)
            d_bias[1] = _column_sums(source)
            _add_owned_grad(grads, cell.bias, d_bias)
        dx = cell.project_inputs_backward(x, dxw[:, ::-1] if layer.go_backwards else dxw, dropout, grads,
                                          need_dx=need_input_grad)
        ws.busy = False
        return dx, ({"initial_state": d_initial} if want_initial else {})

    backward.optional_input_grad = True  # backward(d, need_input_grad=False) skips the input gradient
    return fastpath.RecurrentResult(last_output, sequences, final_states, None, backward)


# ------------------------------------------------------------------ whole-sequence native call
def _sequence_library(x, dropout):
    """The kernel library when the whole-sequence native kernels compute this call (float32, input dropout with
    one mask at most), else None."""
    if x.dtype != np.float32:
        return None
    if dropout is not None and dropout.inputs is not None and dropout.inputs.shape[0] != 1:
        return None
    return native.library()


def _f32(a, copy=False):
    return np.array(a, np.float32, order="C", copy=True) if copy else np.ascontiguousarray(a, np.float32)


def _sequence_call(lib, layer, x, states, mask, dropout, want_initial, grads):
    """The training call on the native whole-sequence kernels (``rnn_kernels.c``): the forward pass saves its
    gates in the layer's workspace, the backward pass runs backpropagation through time and the weight gradients
    as one product over all ``B*T`` rows, all on rnnlab's own threads (NumPy's BLAS is not called, so its
    threads, which busy-wait after each product, never compete with them)."""
    cell = layer.loop_cell
    lstm = type(cell) is LSTMCell
    batch, steps, features = x.shape
    units, gates = cell.units, cell.spec.blocks
    width = gates * units
    reverse = layer.go_backwards
    in_mask = None if dropout is None or dropout.inputs is None else dropout.inputs[0][:, None, :]
    source = x if in_mask is None else x * in_mask
    xp = _f32(source[:, ::-1] if reverse else source)  # processing order
    mask_u8 = None if mask is None else _f32(mask[:, ::-1] if reverse else mask).astype(np.uint8)
    kernel, rec_kernel = _f32(cell.kernel.value), _f32(cell.recurrent_kernel.value)
    bias = _f32(cell.bias.value) if cell.use_bias else None
    ws, token = _checkout_workspace(layer)
    shape, small = (batch, steps, width), (batch, steps, units)
    g_buf, hs, aux = ws.get("gates", shape, np.float32), ws.get("hs", small, np.float32), \
        ws.get("aux", small, np.float32)
    cs = ws.get("cs", small, np.float32) if lstm else None
    # the kernel's states and outputs start on cache lines, so threads that own neighbouring units never share one
    h, c = _aligned_copy(states[0]), (_aligned_copy(states[1]) if lstm else None)
    prev = _aligned_copy(0.0, (batch, units))
    out = backend.empty_aligned(small, np.float32) if layer.return_sequences else None
    threads = fastpath.options.threads
    kind = 0 if lstm else 1
    _check(lib.rnn_train_forward_f32(kind, batch, steps, features, units, _ptr(xp), _ptr(kernel), _ptr(rec_kernel),
                                     _ptr(bias), _ptr(h), _ptr(c), _ptr(prev), _ptr(out), _ptr(mask_u8), 0,
                                     int(layer.zero_output_for_mask), threads, _ptr(g_buf), _ptr(hs), _ptr(cs),
                                     _ptr(aux)))
    final_states = [h, c] if lstm else [h]

    def backward(d_outputs, need_input_grad=True):
        d_main, d_states = _output_grads(layer, ws, token, d_outputs, len(final_states))
        d_main = _f32(d_main)
        d_out, d_last = (d_main, None) if layer.return_sequences else (None, d_main)
        d_h = np.zeros((batch, units), np.float32) if d_states[0] is None else _f32(d_states[0], copy=True)
        d_c = None
        if lstm:
            d_c = np.zeros((batch, units), np.float32) if d_states[1] is None else _f32(d_states[1], copy=True)
        dz = ws.get("dz", shape, np.float32)
        drh = None if lstm else ws.get("drh", shape, np.float32)
        _check(lib.rnn_train_backward_f32(kind, batch, steps, units, _ptr(rec_kernel), _ptr(g_buf), _ptr(hs),
                                          _ptr(cs), _ptr(aux), _ptr(mask_u8), int(layer.zero_output_for_mask),
                                          _ptr(d_out), _ptr(d_last), _ptr(dz), _ptr(drh), _ptr(d_h), _ptr(d_c),
                                          int(want_initial), threads))
        d_bias = None
        if lstm:  # [dW; dU] = [x, h_prev]^T @ dz in one product
            both = np.empty((features + units, width), np.float32)
            d_bias = np.empty(width, np.float32) if cell.use_bias else None
            _gemm(lib, both, xp, hs, dz, d_bias, threads)
            d_kernel, d_rec = both[:features], both[features:]
        else:  # dW = x^T @ dz, dU = h_prev^T @ drh
            d_kernel, d_rec = np.empty((features, width), np.float32), np.empty((units, width), np.float32)
            d_bias = np.empty((2, width), np.float32) if cell.use_bias else None
            _gemm(lib, d_kernel, xp, None, dz, None if d_bias is None else d_bias[0], threads)
            _gemm(lib, d_rec, hs, None, drh, None if d_bias is None else d_bias[1], threads)
        _add_owned_grad(grads, cell.kernel, d_kernel)
        _add_owned_grad(grads, cell.recurrent_kernel, d_rec)
        if d_bias is not None:
            _add_owned_grad(grads, cell.bias, d_bias)
        dx = None
        if need_input_grad:
            dx = _input_grad(lib, dz, kernel, threads)
            if reverse:
                dx = dx[:, ::-1]
            if in_mask is not None:
                dx = dx * in_mask
        ws.busy = False
        return dx, ({"initial_state": [d_h, d_c] if lstm else [d_h]} if want_initial else {})

    backward.optional_input_grad = True
    return fastpath.RecurrentResult(prev, out, final_states, None, backward)


def _aligned_copy(value, shape=None):
    out = backend.empty_aligned(np.shape(value) if shape is None else shape, np.float32)
    out[...] = value
    return out


def _gemm(lib, out, a1, a2, b, colsum, threads):
    """``out = [a1, a2]^T @ b`` over the rows of the 3-D buffers (a2 may be None) and ``colsum = b``'s column
    sums (or None), on the native kernel."""
    rows, r1 = a1.shape[0] * a1.shape[1], a1.shape[-1]
    r2 = 0 if a2 is None else a2.shape[-1]
    width = b.shape[-1]
    _check(lib.rnn_gemm_f32(r1, _ptr(a1), 1, r1, r2, _ptr(a2), 1, max(r2, 1), rows, width, _ptr(b), width, 1,
                            _ptr(out), _ptr(colsum), threads))


def _input_grad(lib, dz, kernel, threads):
    """``dz @ kernel^T`` ``(B, T, D)`` for the buffers ``dz`` ``(B, T, G*U)`` and ``kernel`` ``(D, G*U)``, on the
    native kernel."""
    batch, steps, width = dz.shape
    features = kernel.shape[0]
    dx = np.empty((batch, steps, features), np.float32)
    _check(lib.rnn_gemm_f32(batch * steps, _ptr(dz), width, 1, 0, None, 1, 1, width, features, _ptr(kernel), 1,
                            width, _ptr(dx), None, threads))
    return dx


def _check(status):
    if status:
        raise MemoryError("rnnlab's native training kernel could not allocate its work memory")


def _column_sums(a):
    """``a.sum(axis=0)`` for a 2-D array, as one matrix-vector product."""
    return np.ones(a.shape[0], a.dtype) @ a


# LSTM and GRU (reset_after) with Keras's default activations, float32 (native) or float64 (NumPy loop), masks,
# input dropout (not recurrent dropout).
fastpath.register("rnn_train", "fused_training", fused_forward_backward, priority=10, cells=numpy_loop.PLAIN_CELLS,
                  input_dropout=True, condition=_runs)
