"""The generic ``RNN`` layer: it owns time.

It runs a cell over the time axis and handles direction (``go_backwards``), masks, initial and ``stateful``
state, and what comes out (``return_sequences``, ``return_state``).  The time loop itself is the
``"rnn_sequence"`` operation of :mod:`rnnlab.fastpath`; its reference kernel is :func:`reference_sequence`.

Mask semantics are Keras 3's (TensorFlow backend): at a masked step every state keeps its previous value and
the output repeats the previous step's output (zeros before the first step), or is zero when
``zero_output_for_mask`` is set (Bidirectional sets it for ``return_sequences``).  With ``go_backwards`` the
sequence *and* its mask are reversed and the outputs are returned in processing (reversed) order.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np

from rnnlab import backend, fastpath, nest
from rnnlab.cells import RecurrentCell, StackedRNNCells, as_loop_cell
from rnnlab.cells.base import state_structure
from rnnlab.engine.allocation import charge_states
from rnnlab.engine.layer import Layer, refuse_inner_activity_regularizer
from rnnlab.engine.serialization import deserialize_layer, serialize_layer
from rnnlab.ops.tensor import Tape, collector_paused


def reference_loop(cell, xw, states, mask, zero_output_for_mask, return_sequences, collect_gates=False,
                   dropout=None):
    """Run ``cell`` over projected inputs ``xw`` ``(B, T, G*U)``, already in processing order: the definition of
    a recurrent layer's forward pass, which every fast kernel is tested against.

    ``states`` is the flat list of initial states and ``mask`` a ``(B, T)`` boolean array or ``None``.
    Returns ``(last_output, outputs or None, final_states, trace)``. With ``collect_gates`` the trace lists,
    per processed step, ``(states before the step, the cell's gates)`` -- what inspection shows and what
    backpropagation reads; otherwise it is ``None``.
    """
    batch, steps = xw.shape[0], xw.shape[1]
    outputs = np.empty((batch, steps, cell.output_size), xw.dtype) if return_sequences else None
    prev_output = np.zeros((batch, cell.output_size), xw.dtype)
    trace = [] if collect_gates else None
    states = list(states)
    for t in range(steps):
        output, new_states, step_gates = cell.step(xw[:, t], states, dropout)
        if collect_gates:
            trace.append((states, step_gates))
        if mask is not None:
            keep = mask[:, t, None]  # (B, 1): True where step t is real
            states = [np.where(keep, new, old) for new, old in zip(new_states, states)]
            output = np.where(keep, output, 0.0 if zero_output_for_mask else prev_output).astype(xw.dtype)
        else:
            states = new_states
        prev_output = output
        if return_sequences:
            outputs[:, t] = output
    return prev_output, outputs, states, trace


def reference_loop_backward(cell, trace, mask, zero_output_for_mask, d_outputs, d_last, d_states, dropout,
                                grads):
    """Backpropagation through time for :func:`reference_loop`, from its trace.

    ``d_outputs`` ``(B, T, U)`` (or None) and ``d_last`` ``(B, U)`` (or None) are the loss gradients w.r.t. the
    outputs in processing order and the last output; ``d_states`` w.r.t. the final states. Accumulates the
    recurrent weights' gradients in ``grads``; returns ``(dxw (B, T, G*U), d_initial_states)``.
    A masked step passes its state gradient (and, without ``zero_output_for_mask``, its output gradient)
    straight to the previous step, since it copied them forward.
    """
    first_states, _ = trace[0]
    batch, steps = first_states[0].shape[0], len(trace)
    dtype = first_states[0].dtype
    d_states = [np.zeros_like(s) if d is None else d for s, d in zip(first_states, d_states)]
    d_carry = np.zeros((batch, cell.output_size), dtype)  # gradient reaching the previous output
    dxw = None
    for t in reversed(range(steps)):
        prev_states, gates = trace[t]
        d_out = d_carry
        if d_outputs is not None:
            d_out = d_out + d_outputs[:, t]
        if d_last is not None and t == steps - 1:
            d_out = d_out + d_last
        if mask is not None:
            keep = mask[:, t, None].astype(dtype)  # (B, 1)
            d_carry = np.zeros_like(d_out) if zero_output_for_mask else d_out * (1 - keep)
            d_new = [d * keep for d in d_states]
            d_pass = [d * (1 - keep) for d in d_states]
            d_out = d_out * keep
        else:
            d_carry = np.zeros_like(d_out)
            d_new, d_pass = d_states, None
        dxw_t, d_prev = cell.step_backward(d_out, d_new, gates, prev_states, dropout, grads)
        d_states = d_prev if d_pass is None else [a + b for a, b in zip(d_prev, d_pass)]
        if dxw is None:
            dxw = np.empty((batch, steps, dxw_t.shape[-1]), dtype)
        dxw[:, t] = dxw_t
    return dxw, d_states


def reference_sequence(call):
    """The reference kernel of ``"rnn_sequence"``: :func:`reference_loop` on the call's projected inputs."""
    xw, mask = call.projected()
    last_output, outputs, states, trace = reference_loop(
        call.cell, xw, call.states, mask, call.zero_output_for_mask, call.return_sequences or call.collect_gates,
        call.collect_gates, call.dropout)
    return fastpath.RecurrentResult(last_output, outputs, states, trace)


fastpath.register("rnn_sequence", "reference", reference_sequence, priority=-1)


def reference_train(call):
    """The reference kernel of ``"rnn_train"``: :func:`reference_loop` with its per-step trace, backpropagated
    step by step (:func:`reference_loop_backward`), then through the input projection."""
    layer, cell = call.layer, call.cell
    xw, mask = call.projected()
    # a user's cell records its steps for step_backward (its weight gradients deferred to the end of the
    # backward, one product over all steps); built-in cells keep gates
    with Tape(call.grads, defer_weight_grads=True) as tape, collector_paused():
        last_output, outputs, states, trace = reference_loop(
            cell, xw, call.states, mask, call.zero_output_for_mask, True, True, call.dropout)
    grads, dropout, x = call.grads, call.dropout, call.x

    def backward(d_outputs, need_input_grad=True):
        flat = nest.flatten(d_outputs) if layer.return_state else [d_outputs]
        d_main, d_states = flat[0], (flat[1:] if layer.return_state else [None] * len(states))
        with collector_paused():
            dxw, d_initial = reference_loop_backward(
                cell, trace, mask, call.zero_output_for_mask,
                d_main if layer.return_sequences else None, None if layer.return_sequences else d_main,
                d_states, dropout, grads)
        tape.apply_deferred()
        if call.reverse:
            dxw = dxw[:, ::-1]
        dx = cell.project_inputs_backward(x, dxw, dropout, grads, need_dx=need_input_grad)
        return dx, ({"initial_state": d_initial} if call.initial_state_given else {})

    backward.optional_input_grad = True  # backward(d, need_input_grad=False) skips the input gradient
    return fastpath.RecurrentResult(last_output, outputs if call.return_sequences else None, states, trace,
                                    backward)


fastpath.register("rnn_train", "reference", reference_train, priority=-1)


class RNN(Layer):
    """Base class for recurrent layers (Keras ``keras.layers.RNN``).

    ``cell`` is an RNN cell -- a built-in one or any object of Keras's cell protocol (``state_size`` and
    ``call(inputs, states)``, see :mod:`rnnlab.cells.base`) -- or a list of cells (stacked with
    :class:`StackedRNNCells`).  ``layer.cell`` is that cell; the loop drives ``layer.loop_cell``, which is the
    same object for a built-in cell (:func:`rnnlab.cells.as_loop_cell`).
    """

    #: ``hook(layer, run, sequences, **kwargs)`` called instead of :meth:`run` while set (see :func:`run_hook`).
    _run_hook = None

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        for inner in [cell] + list(getattr(cell, "cells", [])):
            refuse_inner_activity_regularizer(inner, "RNN", "cell")
        loop_cell = as_loop_cell(cell)
        super().__init__(**kwargs)
        for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            value = locals()[flag]
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"Argument `{flag}` must be a bool; received {flag}={value!r}.")
        self.cell = self._track(cell) if isinstance(cell, Layer) else cell
        self.loop_cell = loop_cell
        if isinstance(cell, (RecurrentCell, StackedRNNCells)):  # a user's cell keeps its own dtype
            cell.dtype = self.dtype
            for c in getattr(cell, "cells", []):
                if isinstance(c, (RecurrentCell, StackedRNNCells)):
                    c.dtype = self.dtype
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for compatibility: the loop is the same either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states = None
        self._expected_batch_size = None

    def _sublayers(self):
        return [self.cell] if isinstance(self.cell, Layer) else []

    # -------------------------------------------------------------- shapes
    @property
    def state_size(self):
        return self.loop_cell.state_size

    def _state_structure(self):
        size = self.loop_cell.state_size
        return state_structure(size if isinstance(size, (list, tuple)) else [size])

    def _check_input_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise ValueError(
                f"Input 0 of layer {self.name!r} must have rank 3 (batch, timesteps, features); "
                f"received input with shape {input_shape}."
            )
        if self.built and input_shape[-1] is not None and input_shape[-1] != self.loop_cell.input_dim:
            raise ValueError(
                f"Input 0 of layer {self.name!r} must have {self.loop_cell.input_dim} features (last axis), as when "
                f"it was built; received input with shape {input_shape}."
            )

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_input_shape(tuple(sequences_shape))
        if sequences_shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} needs a known feature size; received shape {sequences_shape}.")
        self.loop_cell._maybe_build((sequences_shape[0], sequences_shape[-1]))
        if self.stateful:
            if sequences_shape[0] is None:
                raise ValueError(
                    f"Layer {self.name!r} is stateful, so it needs a fixed batch size: pass batch_size to "
                    "rnnlab.Input (or batch_input_shape to the first layer); received input shape "
                    f"{tuple(sequences_shape)} with batch size None."
                )
            self._expected_batch_size = int(sequences_shape[0])
            for size in self.loop_cell.flat_state_sizes:
                charge_states((self._expected_batch_size, size), f"the states of stateful layer {self.name!r}")
            self.states = self.loop_cell.get_initial_state(self._expected_batch_size)
        self.built = True

    def compute_output_shape(self, sequences_shape, initial_state_shape=None, **kwargs):
        batch, steps = sequences_shape[0], sequences_shape[1]
        out = self.loop_cell.output_size
        output_shape = (batch, steps, out) if self.return_sequences else (batch, out)
        if not self.return_state:
            return output_shape
        flat_states = [(batch, s) for s in self.loop_cell.flat_state_sizes]
        return (output_shape, *nest.pack_like(self._state_structure(), flat_states))

    def compute_mask(self, inputs, mask=None):
        if nest.is_nested(mask):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self._state_structure())
        return output_mask

    # -------------------------------------------------------------- state
    def get_initial_state(self, batch_size):
        return self.loop_cell.get_initial_state(batch_size)

    def reset_states(self, states=None):
        """Reset a stateful layer's state to zeros, or to ``states`` (a list in Keras's state order)."""
        if not self.stateful:
            raise AttributeError(f"Layer {self.name!r} is not stateful; reset_states() needs stateful=True.")
        if not self.built:
            return
        if states is None:
            self.states = self.loop_cell.get_initial_state(self._expected_batch_size)
        else:
            self.states = self._standardize_initial_state(states, self._expected_batch_size)

    reset_state = reset_states

    def _standardize_initial_state(self, initial_state, batch):
        sizes = self.loop_cell.flat_state_sizes
        flat = nest.flatten(initial_state) if nest.is_nested(initial_state) else [initial_state]
        if len(flat) != len(sizes):
            raise ValueError(
                f"Layer {self.name!r} expects {len(sizes)} initial state tensor(s) "
                f"(shapes {[(batch, s) for s in sizes]}); received {len(flat)}."
            )
        out = []
        for i, (s, size) in enumerate(zip(flat, sizes)):
            arr = backend.to_float_array(s, self.dtype, f"initial_state[{i}]")
            if arr.shape != (batch, size):
                raise ValueError(
                    f"Argument `initial_state[{i}]` of layer {self.name!r} must have shape ({batch}, {size}); "
                    f"received shape {arr.shape}."
                )
            out.append(arr)
        return out

    # -------------------------------------------------------------- call
    def _eager_call(self, inputs, *args, **kwargs):
        return self.call(self._prepare_inputs(inputs), *args, **kwargs)

    _fast_call_checks_finite = True
    _plain_call = (None, None)  # (fastpath generation, the selected kernel's plain_call or None)

    def _fast_call(self, x):
        """``layer(x)`` for a ready float array of the layer's dtype: the same computation with less checking
        of what cannot be wrong (stateful layers, masks and other arguments take the general path)."""
        generation, plain = self._plain_call
        if generation != fastpath.generation():  # select the kernel for calls like this one (x must be valid)
            if not self._plain_input(x):
                return None
            probe = fastpath.RecurrentCall(self, self.loop_cell, x, [], reverse=self.go_backwards,
                                           zero_output_for_mask=self.zero_output_for_mask,
                                           return_sequences=self.return_sequences)
            plain = fastpath.select("rnn_sequence", probe).plain
            self._plain_call = (fastpath.generation(), plain)
        if plain is not None and not self.stateful and self._run_hook is None:
            # the kernel runs the whole call, NaN check included (unless a hook, e.g. rnnlab.inspect.trace's,
            # observes this layer's runs); it checks x itself and returns None when x is not for it
            result = plain(self, x)
            if result is not None:
                return result
        if not self._plain_input(x):
            return None
        if not np.isfinite(x).all():
            backend.to_float_array(x, self.dtype, "inputs")  # raises the standard error
        return self._structure_outputs(self.run(x))

    def _plain_input(self, x):
        """Whether ``layer(x)`` may take the fast call: not stateful, ``x`` a ``(B, T, D)`` array of the layer's
        dtype with ``T > 0`` and the cell's ``D``."""
        return not self.stateful and x.dtype == self.dtype and x.ndim == 3 and x.shape[1] != 0 and \
            x.shape[2] == self.loop_cell.input_dim

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return self._structure_outputs(self.run(sequences, initial_state=initial_state, mask=mask,
                                                training=training))

    def step(self, x_t, states=None):
        """Run one time step: ``x_t`` ``(B, D)`` and the flat ``states`` in Keras's order (``[h, c]`` for an
        LSTM, the cells' states one after another for a stack; None: zeros, or a stateful layer's stored
        states) -> ``(output (B, U), new_states)``.  A stateful layer stores the new states, as a call on a
        sequence does.  Stepping through a sequence gives the outputs of the full call (``go_backwards``: feed
        the steps in processing order, ``x[:, ::-1]``). A whole model steps with ``model.stream()``."""
        x_t = backend.to_float_array(x_t, self.dtype, "x_t")
        features = self.loop_cell.input_dim if self.built else "features"
        if x_t.ndim != 2 or (self.built and x_t.shape[1] != self.loop_cell.input_dim):
            hint = " To run a whole sequence (batch, timesteps, features), call the layer on it." \
                if x_t.ndim == 3 else ""
            raise ValueError(
                f"Argument `x_t` of {self.name!r}.step() must be one time step of shape (batch, {features}); "
                f"received shape {x_t.shape}.{hint}"
            )
        self._maybe_build((x_t.shape[0], None, x_t.shape[1]))
        states = self.resolve_states(states, x_t.shape[0])
        cell = self.loop_cell
        output, new_states, _ = cell.step(cell.project_inputs(x_t), list(states))
        if self.stateful:
            self.states = [s.copy() for s in new_states]
        return output, new_states

    def refuse_streaming(self, where=""):
        """Raise a ValueError when this layer cannot be streamed step by step inside a model (it reads the
        sequence backwards); do nothing otherwise."""
        if self.go_backwards:
            raise ValueError(
                f"Layer {self.name!r} has go_backwards=True, so it cannot stream{where}: it reads the sequence "
                "from the last step to the first. Call it on the whole sequence instead."
            )

    def resolve_states(self, initial_state, batch):
        """The flat states a call on a batch of ``batch`` starts from: ``initial_state`` when given (checked),
        else a stateful layer's stored states, else the cell's initial (zero) states.  Every path -- the
        sequence call, one step, the training kernels -- asks this one function."""
        if initial_state is not None:
            return self._standardize_initial_state(initial_state, batch)
        if self.stateful:
            if batch != self._expected_batch_size:
                raise ValueError(
                    f"Layer {self.name!r} is stateful and was built for batch size {self._expected_batch_size}; "
                    f"received a batch of {batch}."
                )
            return self.states
        return self.loop_cell.get_initial_state(batch)

    def run(self, sequences, initial_state=None, mask=None, collect_gates=False, training=False):
        """Run the layer and return everything it computed, as a dict.

        Keys: ``last_output`` ``(B, U)``; ``outputs`` ``(B, T, U)`` in processing order (or ``None`` when
        ``return_sequences`` is off and gates are not collected); ``states``, the flat final states; ``trace``
        (per processed step: states before it and the cell's gates, when ``collect_gates``); ``mask`` in
        processing order; ``dropout``, the call's dropout masks (training only).

        While a hook is set (:func:`run_hook`), the hook is called instead, with :meth:`_run` to call on.
        """
        hook = self._run_hook
        if hook is not None:
            return hook(self, self._run, sequences, initial_state=initial_state, mask=mask,
                        collect_gates=collect_gates, training=training)
        return self._run(sequences, initial_state, mask, collect_gates, training)

    def _run(self, sequences, initial_state=None, mask=None, collect_gates=False, training=False):
        call = self.make_call(sequences, initial_state, mask, training, collect_gates)
        result = fastpath.select("rnn_sequence", call).fn(call)
        if self.stateful:
            self.states = [s.copy() for s in result.states]
        return {"last_output": result.last_output, "outputs": result.outputs, "states": result.states,
                "trace": result.trace, "mask": call.processing_mask(), "dropout": call.dropout}

    def make_call(self, x, initial_state=None, mask=None, training=False, collect_gates=False, grads=None):
        """The :class:`rnnlab.fastpath.RecurrentCall` of a call on prepared inputs ``x`` ``(B, T, D)``: the mask
        checked, the initial states resolved (:meth:`resolve_states`), the call's dropout masks drawn."""
        batch, steps = x.shape[0], x.shape[1]
        if steps == 0:
            raise ValueError(f"Layer {self.name!r} received a sequence with 0 timesteps; expected at least 1.")
        mask = backend.to_mask(mask, (batch, steps))
        states = self.resolve_states(initial_state, batch)
        return fastpath.RecurrentCall(
            self, self.loop_cell, x, list(states), mask, self.go_backwards, self.zero_output_for_mask,
            self.return_sequences or collect_gates, collect_gates, bool(training),
            self.loop_cell.make_dropout(batch, training), initial_state is not None, grads)

    def explain_kernels(self, x=None, training=False, mask=None):
        """Which kernel runs this layer (``"rnn_train"`` with ``training``, else ``"rnn_sequence"``) on ``x``
        (default: one zero sequence of the built input size), and why the faster ones declined: a
        :class:`rnnlab.fastpath.Explanation`."""
        if x is None:
            if not self.built:
                raise ValueError(f"Layer {self.name!r} is not built: pass `x`, or call the layer first.")
            x = np.zeros((1, 1, self.loop_cell.input_dim), self.dtype)
        x = self._prepare_inputs(x)
        cells = getattr(self.loop_cell, "_loop_cells", [self.loop_cell])
        saved = [copy.deepcopy(getattr(c, "_rng", None)) for c in cells]
        try:  # the call draws dropout masks (to see which kinds it has): the cells' generators are put back
            call = self.make_call(x, None, mask, training)
        finally:
            for c, rng in zip(cells, saved):
                if hasattr(c, "_rng"):
                    c._rng = rng
        return fastpath.explain("rnn_train" if training else "rnn_sequence", call)

    def forward_backward(self, sequences, initial_state=None, mask=None, training=False, grads=None):
        """The training call: the layer's outputs and a function that backpropagates through them.

        ``backward(d_outputs, need_input_grad=True)`` takes gradients shaped like the outputs (``None`` for an
        output that does not reach the loss), adds the weight gradients to ``grads`` and returns
        ``(d_sequences, {"initial_state": d_initial_states})`` (an empty dict without ``initial_state``;
        ``d_sequences`` is ``None`` when ``need_input_grad`` is false).  The work is the ``"rnn_train"``
        operation of :mod:`rnnlab.fastpath`: :func:`reference_train`, or a fused kernel
        (:mod:`rnnlab.kernels.fused_training`) where it supports the call.
        """
        x = self._prepare_inputs(sequences)
        call = self.make_call(x, initial_state, mask, training, grads=grads)
        call.return_sequences = self.return_sequences
        result = fastpath.select("rnn_train", call).fn(call)
        if self.stateful:
            self.states = [s.copy() for s in result.states]
        return self.shape_outputs(result.last_output, result.outputs, result.states), result.backward

    def _structure_outputs(self, result):
        return self.shape_outputs(result["last_output"], result["outputs"], result["states"])

    def shape_outputs(self, last_output, outputs, states):
        """What the layer returns, in Keras's structure: the sequence of outputs (``return_sequences``) or the
        last one, followed by the final states when ``return_state`` is set.  Every path ends here."""
        output = outputs if self.return_sequences else last_output
        if not self.return_state:
            return output
        flat = self.__dict__.get("_flat_states")
        if flat is None:  # one tensor per state: no nesting to rebuild (known once per layer)
            flat = self._flat_states = all(s == 0 for s in self._state_structure())
        if flat:
            return (output, *states)
        return (output, *nest.pack_like(self._state_structure(), states))

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        })
        if type(self) is RNN:
            config["cell"] = serialize_layer(self.cell)
        return config

    def copy_with(self, **overrides):
        """A new, unbuilt layer with this layer's config (and a copy of its cell), changed by ``overrides``: how
        ``Bidirectional`` makes its two directions.  A user's cell is copied through its own class
        (``type(cell).from_config(cell.get_config())``), so it needs no registration."""
        config = self.get_config()
        config.update(overrides)
        if "cell" in config:
            config["cell"] = _copy_cell(self.cell)
        return type(self).from_config(config)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, dict):
            cell = deserialize_layer(cell)
        elif isinstance(cell, list):
            cell = [deserialize_layer(c) for c in cell]
        return cls(cell, **config)


def _copy_cell(cell):
    if isinstance(cell, StackedRNNCells):
        return StackedRNNCells([_copy_cell(c) for c in cell.cells])
    if hasattr(cell, "get_config") and hasattr(type(cell), "from_config"):
        return type(cell).from_config(cell.get_config())
    return copy.deepcopy(cell)  # a plain object of the cell protocol


@contextlib.contextmanager
def run_hook(layers, hook):
    """Within the block, each given RNN layer's :meth:`RNN.run` calls ``hook(layer, run, sequences, **kwargs)``
    instead, where ``run`` computes what ``run`` would have; the layer's own ``call`` (and a ``Bidirectional`` or
    model around it) goes through it unchanged.  This is how inspection observes every step of a layer
    (``rnnlab.inspect``).  Stateful layers get back the state they had before the block."""
    hooked, saved = [], []
    try:
        for layer in dict.fromkeys(layers):
            if layer._run_hook is not None:
                raise RuntimeError(f"Layer {layer.name!r} is already being traced or streamed.")
            layer._run_hook = hook
            hooked.append(layer)
            if layer.stateful and layer.states is not None:
                saved.append((layer, [s.copy() for s in layer.states]))
        yield
    finally:
        for layer in hooked:
            layer._run_hook = None
        for layer, states in saved:
            layer.states = states
