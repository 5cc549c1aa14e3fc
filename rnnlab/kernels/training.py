"""Fused training call of a recurrent layer: forward, then backpropagation through time, on saved arrays.

The general training path (:func:`rnnlab.layers.rnn.reference_forward_backward`) runs the reference loop with a
per-step trace of tuples and backpropagates step by step, adding a recurrent-kernel gradient per step.  This
kernel computes the same thing for the common case -- one ``LSTMCell`` or ``GRUCell`` (``reset_after=True``)
with Keras's default activations (tanh, sigmoid) and no recurrent dropout.  Two implementations:

* **float32 with the native library** (:func:`_sequence_call`): whole-sequence C kernels in
  :file:`native/rnn_kernels.c`.  The forward pass is the inference loop, which also saves each step's gate
  activations and states; the backward pass runs every step (product with a packed ``U^T``, then the
  elementwise gradient) in one call; the weight gradients are one product over all ``B*T`` rows.  All of it runs
  on rnnlab's own threads, never on NumPy's BLAS.
* **otherwise** (float64, or no C compiler): a NumPy loop (:class:`_Loop`), with one BLAS product per step in
  the transposed form that BLAS computes faster for small batches (forward ``U^T @ h_{t-1}^T``, backward
  ``U @ dz_t^T``), and the recurrent kernel's gradient as ONE product after the loop.

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

from rnnlab import activations, backend, fastpath, nest
from rnnlab.kernels import native
from rnnlab.cells import GRUCell, LSTMCell, spec_of

#: The maths this kernel computes: the plain cells' (a variant's or a subclass's spec differs).
_PLAIN = (LSTMCell.spec, GRUCell.spec)


def _default_activations(cell):
    return cell.activation is activations.tanh and cell.recurrent_activation is activations.sigmoid


def supports(cell=None, dtype=None, training=False, **_):
    """Whether the fused kernel computes this training call: a single LSTM cell or GRU cell with
    ``reset_after=True``, Keras's default activations, float32/float64, and no recurrent dropout."""
    if spec_of(cell) not in _PLAIN or not _default_activations(cell):
        return False
    if type(cell) is GRUCell and not cell.reset_after:
        return False
    if training and cell.recurrent_dropout > 0:
        return False
    return np.dtype(dtype) in (np.float32, np.float64)


def _ptr(array):
    return None if array is None else array.ctypes.data


# --------------------------------------------------------------------------------------------- NumPy loop
class _Loop:
    """The arrays of one fused call and its per-step elementwise work, in NumPy (float64, or float32 without the
    native kernels).

    Forward step ``t`` reads ``rec_t = U^T @ h_{t-1}^T`` ``(G*U, B)`` and writes the gates, ``aux``, the next
    states and the output; backward step ``t`` reads ``dh_t = U @ (gradient at step t+1's recurrent
    product)^T`` ``(U, B)`` and writes
    ``dz[:, t]`` (and, for GRU, ``drh[:, t]``) and the carried state gradients.
    """

    def __init__(self, cell, workspace, xa, in_bias, h0, c0, mask, zero_output, return_sequences):
        batch, steps, width = xa.shape
        units, dtype = cell.units, xa.dtype
        self.lstm = type(cell) is LSTMCell
        self.B, self.T, self.U = batch, steps, units
        self.ws = workspace
        self.xa, self.in_bias, self.mask, self.zero_output = xa, in_bias, mask, bool(zero_output)
        self.hs = workspace.get("hs", (batch, steps, units), dtype)
        self.hs[:, 0] = h0
        self.cs = None
        if self.lstm:
            self.cs = workspace.get("cs", (batch, steps, units), dtype)
            self.cs[:, 0] = c0
        self.aux = workspace.get("aux", (batch, steps, units), dtype)
        # what the caller receives is new memory; everything else is the workspace's
        self.out = np.empty((batch, steps, units), dtype) if return_sequences else None
        self.last = None if return_sequences else np.zeros((batch, units), dtype)
        self.h_final = np.empty((batch, units), dtype)
        self.c_final = np.empty((batch, units), dtype) if self.lstm else None
        self.rec_t = workspace.get("rec_t", (width, batch), dtype)  # U^T @ h_{t-1}^T, from the caller
        self.rec_bias = None
        if not self.lstm and cell.use_bias:
            self.rec_bias = np.ascontiguousarray(cell.bias.value[1], dtype)
        self.keep = None if mask is None else mask[:, :, None]  # (B, T, 1) bool

    # ------------------------------------------------------------------ views
    def _next(self, buffers, final, t):
        return buffers[:, t + 1] if t + 1 < self.T else final

    def _output(self, t):
        """The output slot of step t and the previous output (None: zeros)."""
        if self.out is not None:
            return self.out[:, t], (self.out[:, t - 1] if t else None)
        return self.last, self.last

    def _store(self, t, h, c):
        """Write step t's new state (masked rows keep theirs) and output."""
        hp, hn = self.hs[:, t], self._next(self.hs, self.h_final, t)
        o, prev = self._output(t)
        if self.keep is None:
            hn[...] = h
            o[...] = h
            if c is not None:
                self._next(self.cs, self.c_final, t)[...] = c
            return
        keep = self.keep[:, t]
        np.copyto(hn, np.where(keep, h, hp))
        if c is not None:
            np.copyto(self._next(self.cs, self.c_final, t), np.where(keep, c, self.cs[:, t]))
        np.copyto(o, np.where(keep, h, 0 if (self.zero_output or prev is None) else prev))

    # ------------------------------------------------------------------ forward
    def forward_step(self, t):
        U, a, rec = self.U, self.xa[:, t], self.rec_t.T
        if self.in_bias is not None:
            a += self.in_bias
        if self.lstm:
            a += rec
            _sigmoid_(a[:, :2 * U])
            np.tanh(a[:, 2 * U:3 * U], out=a[:, 2 * U:3 * U])
            _sigmoid_(a[:, 3 * U:])
            i, f, g, o = a[:, :U], a[:, U:2 * U], a[:, 2 * U:3 * U], a[:, 3 * U:]
            c = f * self.cs[:, t]
            c += i * g
            th = np.tanh(c, out=self.aux[:, t])
            self._store(t, o * th, c)
            return
        if self.rec_bias is not None:
            rec += self.rec_bias
        a[:, :2 * U] += rec[:, :2 * U]
        _sigmoid_(a[:, :2 * U])
        rhh = self.aux[:, t]
        rhh[...] = rec[:, 2 * U:]
        z, r, hh = a[:, :U], a[:, U:2 * U], a[:, 2 * U:]
        hh += r * rhh
        np.tanh(hh, out=hh)
        hp = self.hs[:, t]
        self._store(t, hh + z * (hp - hh), None)

    # ------------------------------------------------------------------ backward
    def start_backward(self, d_out, d_last, d_h, d_c):
        """Buffers of the backward pass; ``d_h``/``d_c`` are the gradients w.r.t. the final states (or None)."""
        batch, units, dtype = self.B, self.U, self.xa.dtype
        self.d_out, self.d_last = d_out, d_last
        ws, shape, small = self.ws, self.xa.shape, (batch, units)
        self.dz = ws.get("dz", shape, dtype)
        self.drh = None if self.lstm else ws.get("drh", shape, dtype)
        self.dh_t = ws.get("dh_t", small[::-1], dtype, fill=0 if d_h is None else d_h.T)  # from the caller
        self.dc = ws.get("dc", small, dtype, fill=0 if d_c is None else d_c) if self.lstm else None
        self.dh_pass = ws.get("dh_pass", small, dtype, fill=0) if (not self.lstm or self.mask is not None) \
            else None
        self.carry = ws.get("carry", small, dtype, fill=0) if (self.mask is not None and not self.zero_output) \
            else None
        self.scratch = ws.get("scratch", small, dtype)

    def _output_grad(self, t):
        s = self.scratch
        if self.d_out is not None:
            s[...] = self.d_out[:, t]
        else:
            s.fill(0)
        if self.d_last is not None and t == self.T - 1:
            s += self.d_last
        if self.carry is not None:
            s += self.carry
        return s

    def backward_step(self, t):
        U = self.U
        s = self._output_grad(t)
        dh_mm = self.dh_t.T
        dhs = dh_mm if self.dh_pass is None else dh_mm + self.dh_pass  # dL/dh_t via the state
        dh = s + dhs
        keep = None
        if self.keep is not None:
            keep = self.keep[:, t]
            dh *= keep
        a = self.xa[:, t]
        dz = self.dz[:, t]
        if self.lstm:
            i, f, g, o = a[:, :U], a[:, U:2 * U], a[:, 2 * U:3 * U], a[:, 3 * U:]
            th = self.aux[:, t]
            dc = self.dc if keep is None else self.dc * keep
            dc = dc + dh * o * (1 - th * th)
            dz[:, :U] = dc * g * i * (1 - i)
            dz[:, U:2 * U] = dc * self.cs[:, t] * f * (1 - f)
            dz[:, 2 * U:3 * U] = dc * i * (1 - g * g)
            dz[:, 3 * U:] = dh * th * o * (1 - o)
            dc *= f
            if keep is None:
                self.dc[...] = dc
            else:
                np.copyto(self.dc, np.where(keep, dc, self.dc))
                np.copyto(self.dh_pass, np.where(keep, 0, dhs))
        else:
            z, r, hh = a[:, :U], a[:, U:2 * U], a[:, 2 * U:]
            da = dh * (1 - z) * (1 - hh * hh)
            dz[:, :U] = dh * (self.hs[:, t] - hh) * z * (1 - z)
            dz[:, U:2 * U] = da * self.aux[:, t] * r * (1 - r)
            dz[:, 2 * U:] = da
            drh = self.drh[:, t]
            drh[:, :2 * U] = dz[:, :2 * U]
            np.multiply(da, r, out=drh[:, 2 * U:])
            np.copyto(self.dh_pass, dh * z if keep is None else np.where(keep, dh * z, dhs))
        if self.carry is not None:
            np.copyto(self.carry, np.where(keep, 0, s))

    def recurrent_grad_source(self):
        """``(B, T, G*U)``: the gradient at each step's recurrent product (what ``dU = H^T @ .`` reads)."""
        return self.dz if self.lstm else self.drh

    def initial_state_grads(self):
        d_h = self.dh_t.T if self.dh_pass is None else self.dh_t.T + self.dh_pass
        return [d_h, self.dc] if self.lstm else [d_h]


def _sigmoid_(a):
    """In place: ``sigmoid(a) = 0.5 * tanh(a / 2) + 0.5`` (one NumPy transcendental, no overflow)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


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
def _initial_states(layer, initial_state, batch):
    """The flat initial states, as :meth:`RNN.resolve_states` chooses them, and whether they are known zeros."""
    return layer.resolve_states(initial_state, batch), initial_state is None and not layer.stateful


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
    """The projected inputs ``x @ kernel`` ``(B, T, G*U)`` in processing order, in the workspace, and the input
    bias for the steps to add (None when it is already in: with input dropout the cell projects, bias and all,
    into a new array)."""
    if dropout is not None:
        xw = cell.project_inputs(x, dropout)
        return np.ascontiguousarray(xw[:, ::-1] if reverse else xw), None
    batch, steps, features = x.shape
    kernel = cell.kernel.value
    xa = ws.get("xa", (batch, steps, kernel.shape[1]), kernel.dtype)
    source = np.ascontiguousarray(x[:, ::-1] if reverse else x).reshape(batch * steps, features)
    np.matmul(source, kernel, out=xa.reshape(batch * steps, -1))  # one GEMM for every step
    return xa, cell._input_bias()


def fused_forward_backward(layer, x, initial_state=None, mask=None, training=False, grads=None):
    """The training call of ``layer`` (an :class:`~rnnlab.layers.rnn.RNN` whose cell :func:`supports`):
    returns ``(outputs, backward)`` as :meth:`RNN.forward_backward` does."""
    cell = layer.loop_cell
    batch, steps = x.shape[0], x.shape[1]
    if steps == 0:
        raise ValueError(f"Layer {layer.name!r} received a sequence with 0 timesteps; expected at least 1.")
    mask = backend.to_mask(mask, (batch, steps))
    states, zero_states = _initial_states(layer, initial_state, batch)
    dropout = cell.make_dropout(batch, training)  # input dropout only (recurrent dropout is not supported)
    lib = _sequence_library(x, dropout)
    if lib is not None:
        return _sequence_call(lib, layer, x, states, mask, dropout, initial_state is not None, grads)
    lstm = type(cell) is LSTMCell
    ws, token = _checkout_workspace(layer)
    kernel = cell.recurrent_kernel.value  # (U, G*U)
    kernel_t = ws.get("kernel_t", kernel.T.shape, kernel.dtype, fill=kernel.T)  # contiguous U^T
    xa, in_bias = _project(cell, ws, x, dropout, layer.go_backwards)
    if layer.go_backwards and mask is not None:
        mask = mask[:, ::-1]
    loop = _Loop(cell, ws, xa, in_bias, states[0], states[1] if lstm else None, mask,
                      layer.zero_output_for_mask, layer.return_sequences)
    states_t, rec_t, step, matmul = loop.hs.transpose(1, 2, 0), loop.rec_t, loop.forward_step, np.matmul
    for t in range(steps):
        if t or not zero_states:
            matmul(kernel_t, states_t[t], out=rec_t)  # U^T @ h_{t-1}^T: faster than h_{t-1} @ U in BLAS
        else:
            rec_t.fill(0)  # h_0 = 0
        step(t)
    final_states = [loop.h_final, loop.c_final] if lstm else [loop.h_final]
    if layer.stateful:
        layer.states = [s.copy() for s in final_states]
    last_output = loop.out[:, -1] if layer.return_sequences else loop.last
    outputs = layer.shape_outputs(last_output, loop.out, final_states)

    def backward(d_outputs, need_input_grad=True):
        d_main, d_states = _output_grads(layer, ws, token, d_outputs, len(final_states))
        dtype = xa.dtype
        d_main = _grad_array(d_main, dtype)
        loop.start_backward(d_main if layer.return_sequences else None,
                            None if layer.return_sequences else d_main, _grad_array(d_states[0], dtype),
                            _grad_array(d_states[1], dtype) if lstm else None)
        source = loop.recurrent_grad_source()
        want_initial = initial_state is not None
        source_t, dh_t, step, matmul = source.transpose(1, 2, 0), loop.dh_t, loop.backward_step, np.matmul
        for t in range(steps - 1, -1, -1):
            step(t)
            if t or want_initial:
                matmul(kernel, source_t[t], out=dh_t)  # U @ dz_t^T: faster than dz_t @ U^T in BLAS
        rows = batch * steps
        flat_source = source.reshape(rows, -1)
        _add_owned_grad(grads, cell.recurrent_kernel, loop.hs.reshape(rows, -1).T @ flat_source)
        if not lstm and cell.use_bias:
            d_bias = np.zeros(cell.bias.value.shape, dtype)
            d_bias[1] = _column_sums(flat_source)
            _add_owned_grad(grads, cell.bias, d_bias)
        dxw = loop.dz[:, ::-1] if layer.go_backwards else loop.dz
        dx = cell.project_inputs_backward(x, dxw, dropout, grads, need_dx=need_input_grad)
        d_initial = [np.array(d) for d in loop.initial_state_grads()] if want_initial else None
        ws.busy = False
        return dx, ({"initial_state": d_initial} if want_initial else {})

    backward.optional_input_grad = True  # backward(d, need_input_grad=False) skips the input gradient
    return outputs, backward


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
    from rnnlab.kernels import native_loops

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
    threads = native_loops.THREADS
    kind = 0 if lstm else 1
    _check(lib.rnn_train_forward_f32(kind, batch, steps, features, units, _ptr(xp), _ptr(kernel), _ptr(rec_kernel),
                                     _ptr(bias), _ptr(h), _ptr(c), _ptr(prev), _ptr(out), _ptr(mask_u8), 0,
                                     int(layer.zero_output_for_mask), threads, _ptr(g_buf), _ptr(hs), _ptr(cs),
                                     _ptr(aux)))
    final_states = [h, c] if lstm else [h]
    if layer.stateful:
        layer.states = [s.copy() for s in final_states]
    outputs = layer.shape_outputs(prev, out, final_states)

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
    return outputs, backward


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


fastpath.register("rnn_train", "fused_training", fused_forward_backward, supports=supports, priority=10)
