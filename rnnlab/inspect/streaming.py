"""Streaming inference: one time step at a time, with the state held between steps.

* ``layer.step(x_t, states)`` (:meth:`rnnlab.layers.RNN.step`) runs one step of a recurrent layer's cell;
* ``model.stream()`` (:class:`Stream`) runs a whole model one step at a time and keeps every recurrent layer's
  state; it can reset all samples or some, and export and import its state as arrays.

Feeding a sequence step by step gives the outputs of the full-sequence call: a stream step replays the model's own
graph on a one-step sequence, with each recurrent layer starting from the state the previous step left (and, at a
masked step, repeating the previous output, as Keras does over a whole sequence).  Every other layer rnnlab has
(Dense, TimeDistributed, Masking, Embedding, Dropout) acts on each time step separately, so the rest of the model
streams as it is.

A layer that reads the sequence backwards -- ``Bidirectional`` or ``go_backwards=True`` -- needs the last step
before the first, so it cannot stream: a stream over a model holding one refuses with a ``ValueError``.  The
forward-only part of such a model can stream as a model of its own, built from the same tensors, e.g.
``rnnlab.Model(inputs, lstm_sequence).stream()``.

A model input used only as another layer's ``initial_state`` (never as a layer's main input) has no time axis:
each step takes it whole, and it applies at a sample's first step, as in the full-sequence call.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend, nest
from rnnlab.inspect.trace import walk_layers
from rnnlab.engine.layer import KerasTensor
from rnnlab.layers.input_layer import InputLayer
from rnnlab.layers.rnn import RNN, run_hook
from rnnlab.cells import StackedRNNCells


def refuse_backwards(layer, where=""):
    """Raise the layer's own ValueError if it reads the sequence backwards (``Bidirectional``, or
    ``go_backwards=True``), since such a layer cannot stream."""
    refuse = getattr(layer, "refuse_streaming", None)
    if refuse is not None:
        refuse(where)


def _output_index(layer):
    """Index, in the flat states, of the state that is the layer's output (the top cell's ``h``)."""
    cell = layer.cell
    if isinstance(cell, StackedRNNCells):
        return sum(len(c.flat_state_sizes) for c in cell._loop_cells[:-1])
    return 0


def _static_inputs(model):
    """For each model input, whether it has no time axis: it is never a layer's main (first) argument, only
    something like an ``initial_state``."""
    main = {id(t) for node in model._nodes if not node.is_input for t in nest.flatten(node.call_args[0])
            if isinstance(t, KerasTensor)}
    return [id(t) not in main for t in model.inputs]


def _time_flags(model):
    """For each model output, whether it keeps the time axis (a sequence) or not (e.g. a last output)."""
    timed = {id(t): not static for t, static in zip(model.inputs, _static_inputs(model))}
    for node in model._nodes:
        if node.is_input:
            timed.setdefault(id(node.outputs), True)
            continue
        layer = node.layer
        first = [t for t in nest.flatten(node.call_args[0]) if isinstance(t, KerasTensor)]
        in_time = any(timed.get(id(t), False) for t in first)
        flat_out = nest.flatten(node.outputs)
        if isinstance(layer, RNN):
            flags = [in_time and layer.return_sequences] + [False] * (len(flat_out) - 1)
        elif hasattr(layer, "_run_graph"):  # a nested model
            flags = [in_time and f for f in _time_flags(layer)]
        else:
            flags = [in_time] * len(flat_out)
        for t, f in zip(flat_out, flags):
            timed[id(t)] = f
    return [timed[id(t)] for t in model.outputs]


class _Slot:
    """What one recurrent layer call carries between steps."""

    def __init__(self, states, output, fresh):
        self.states = states  # flat list of (B, S) arrays, Keras order
        self.output = output  # (B, U): the previous output (repeated at a masked step)
        self.fresh = fresh  # (B,) bool: no step taken since reset (a graph-given initial_state applies)


class Stream:
    """A model run one time step at a time; made by ``model.stream()``.

    ``step(x_t)`` takes one time step of every model input -- ``(B, D)`` for an input of shape ``(None, T, D)``,
    ``(B,)`` token ids for an ``Embedding`` input -- and returns the model outputs for that step: a sequence output
    ``(B, T, U)`` gives its row ``(B, U)``; an output without a time axis (a recurrent layer with
    ``return_sequences=False``, its states) gives what the model would return if the sequence ended here.

    The stream holds each recurrent layer's state between steps (zeros at the start).  ``reset()`` starts over
    (any batch size); ``reset(sample=i)`` restarts sample ``i`` of the batch only.  ``get_state()`` exports and
    ``set_state()`` imports the state as arrays.  A model input that feeds a layer's ``initial_state`` applies at a
    sample's first step after a reset, as in the full-sequence call.
    """

    def __init__(self, model):
        if not hasattr(model, "_run_graph"):
            raise TypeError(f"Stream needs an rnnlab Model or Sequential; received {type(model).__name__}. "
                            "For one recurrent layer use layer.step(x_t, states).")
        if not model.built:
            raise ValueError(f"Model {model.name!r} is not built yet: give it an rnnlab.Input, or call it on a "
                             "sequence once, before streaming.")
        for layer in walk_layers(model):
            refuse_backwards(layer, f", so model {model.name!r} cannot stream")
        for t in model.inputs:
            if len(t.shape) < 2:
                raise ValueError(f"Model {model.name!r} input {t.name!r} has shape {t.shape}: it has no time axis "
                                 "(axis 1) to stream over.")
        self.model = model
        self._rnns = [layer for layer in walk_layers(model) if isinstance(layer, RNN)]
        self._time_flags = _time_flags(model)
        self._static = _static_inputs(model)
        self._slots: dict[str, _Slot] = {}
        self._calls: dict = {}
        self._batch = None
        self.steps_taken = 0

    # -------------------------------------------------------------- stepping
    def step(self, x_t):
        """Run one time step; returns the model's outputs for it (same structure as ``model(x)``)."""
        values = self._standardize_step(x_t)
        batch = values[0].shape[0]
        if self._batch is not None and batch != self._batch:
            raise ValueError(f"This stream holds state for a batch of {self._batch}; received a step for a batch "
                             f"of {batch}. Call reset() to start over with another batch size.")
        self._calls = {}
        with run_hook(self._rnns, self._run_one_step):
            outputs = self.model._run_graph([v if static else v[:, None] for v, static in zip(values, self._static)],
                                            [None] * len(values))
        self._batch = batch
        self.steps_taken += 1
        flat = nest.flatten(outputs) if nest.is_nested(self.model._outputs_struct) else [outputs]
        flat = [np.asarray(o)[:, 0] if timed else np.asarray(o) for o, timed in zip(flat, self._time_flags)]
        return nest.pack_like(self.model._outputs_struct, flat) if nest.is_nested(self.model._outputs_struct) \
            else flat[0]

    def feed(self, x):
        """Step through a whole sequence ``x`` (as for ``model(x)``); returns each output stacked over time,
        ``(B, T, ...)`` (row ``t`` is what :meth:`step` returned for step ``t``)."""
        inputs = self.model.inputs
        if isinstance(x, dict):
            given = [x[t.name] if t.name in x else None for t in inputs]
        elif len(inputs) == 1:
            given = [x]
        else:
            given = list(x) if isinstance(x, (list, tuple)) and len(x) == len(inputs) else None
        if given is None or any(v is None for v in given):
            raise ValueError(f"Model {self.model.name!r} has {len(inputs)} inputs; feed() needs one array per input "
                             "(a list, or a dict by input name).")
        given = [np.asarray(v) for v in given]
        sequences = [v for v, static in zip(given, self._static) if not static]
        if not sequences or any(v.ndim < 2 for v in sequences):
            raise ValueError(f"Argument `x` of feed() must hold sequences (batch, timesteps, ...); received shape(s) "
                             f"{[v.shape for v in given]}.")
        results = []
        for t in range(sequences[0].shape[1]):
            values = [v if static else v[:, t] for v, static in zip(given, self._static)]
            out = self.step(values if len(values) > 1 else values[0])
            results.append(nest.flatten(out) if nest.is_nested(self.model._outputs_struct) else [out])
        stacked = [np.stack([r[i] for r in results], axis=1) for i in range(len(results[0]))]
        return nest.pack_like(self.model._outputs_struct, stacked) if nest.is_nested(self.model._outputs_struct) \
            else stacked[0]

    def _standardize_step(self, x_t):
        model, inputs = self.model, self.model.inputs
        if isinstance(x_t, dict):
            missing = [t.name for t in inputs if t.name not in x_t]
            if missing:
                raise ValueError(f"Argument `x_t` is missing model inputs {missing}; received keys {sorted(x_t)}.")
            given = [x_t[t.name] for t in inputs]
        elif len(inputs) == 1:
            given = [x_t]
        else:
            if not isinstance(x_t, (list, tuple)) or len(x_t) != len(inputs):
                raise ValueError(f"Model {model.name!r} has {len(inputs)} inputs; step() needs one array per input "
                                 f"(a list or a dict by input name); received {type(x_t).__name__}.")
            given = list(x_t)
        values = []
        for t, v, static in zip(inputs, given, self._static):
            layer = t._history[0]
            if isinstance(layer, InputLayer) and layer.input_dtype is not None and \
                    np.dtype(layer.input_dtype).kind in "iu":
                arr = np.asarray(v)
                if arr.dtype.kind not in "iubf":
                    raise TypeError(f"Argument `x_t` for input {t.name!r} must be numeric; received dtype "
                                    f"{arr.dtype}.")
            else:
                arr = backend.to_float_array(v, backend.standardize_dtype(
                    t.dtype if t.dtype in ("float32", "float64") else None), "x_t")
            step_shape = tuple(t.shape) if static else (t.shape[0],) + tuple(t.shape[2:])
            if arr.ndim != len(step_shape) or any(d is not None and d != a for d, a in zip(step_shape[1:],
                                                                                         arr.shape[1:])):
                hint = (" It looks like a whole sequence: use feed(x), or model(x)."
                        if arr.ndim == len(t.shape) and not static else "")
                what = f"an array of shape {_shape_text(step_shape)} (it has no time axis)" if static else (
                    f"one time step of shape {_shape_text(step_shape)} (the input's shape {_shape_text(t.shape)} "
                    "without its time axis)")
                raise ValueError(f"Argument `x_t` for input {t.name!r} of model {model.name!r} must be {what}; "
                                 f"received shape {arr.shape}.{hint}")
            values.append(arr)
        if any(v.shape[0] != values[0].shape[0] for v in values):
            raise ValueError(f"Every input of a step must have the same batch size; received "
                             f"{[v.shape[0] for v in values]}.")
        return values

    def _run_one_step(self, layer, original_run, sequences, initial_state=None, mask=None, collect_gates=False,
                      training=False):
        """Stands in for ``layer.run`` during a step: start from the carried state, keep what comes out."""
        count = self._calls.get(layer, 0)
        self._calls[layer] = count + 1
        key = layer.name if count == 0 else f"{layer.name}:{count}"
        batch = sequences.shape[0]
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(layer.loop_cell.get_initial_state(batch),
                                            np.zeros((batch, layer.loop_cell.output_size), layer.dtype),
                                            np.ones(batch, bool))
        states = slot.states
        if initial_state is not None and slot.fresh.any():
            given = layer._standardize_initial_state(initial_state, batch)
            states = [np.where(slot.fresh[:, None], g, s) for g, s in zip(given, states)]
        result = original_run(sequences, initial_state=states, mask=mask, collect_gates=collect_gates,
                              training=training)
        output = result["last_output"]
        if result["mask"] is not None and not layer.zero_output_for_mask:
            keep = result["mask"][:, :1]  # (B, 1): a masked step repeats the previous output
            output = np.where(keep, output, slot.output).astype(output.dtype)
            result["last_output"] = output
            if result["outputs"] is not None:
                result["outputs"] = output[:, None]
        slot.states = [np.array(s, copy=True) for s in result["states"]]
        slot.output = np.array(output, copy=True)
        slot.fresh = np.zeros(batch, bool)
        return result

    # -------------------------------------------------------------- state
    def reset(self, sample=None):
        """Start over: every state back to zeros (``sample=None``), or only the rows ``sample`` (an index, a list
        of indices or a boolean array over the batch), e.g. when one sequence of the batch ends."""
        if sample is None:
            self._slots, self._batch, self.steps_taken = {}, None, 0
            return
        if self._batch is None:
            return  # nothing held yet: every sample starts from zeros anyway
        rows = np.zeros(self._batch, bool)
        try:
            rows[np.asarray(sample)] = True
        except (IndexError, ValueError, TypeError):
            raise ValueError(f"Argument `sample` of reset() must index the batch of {self._batch} (an int, a list "
                             f"of ints or a boolean array); received sample={sample!r}.") from None
        for slot in self._slots.values():
            slot.states = [np.where(rows[:, None], 0, s).astype(s.dtype) for s in slot.states]
            slot.output = np.where(rows[:, None], 0, slot.output).astype(slot.output.dtype)
            slot.fresh = slot.fresh | rows

    def get_state(self) -> dict:
        """The state as arrays (copies): ``{layer name: {"states": [...], "output": (B, U)}}``.

        ``states`` are the layer's states in Keras's order (what ``initial_state=`` takes); ``output`` is its
        previous output, which a masked step repeats.  A layer called twice appears as ``name`` and ``name:1``.
        Empty before the first step.
        """
        return {key: {"states": [s.copy() for s in slot.states], "output": slot.output.copy()}
                for key, slot in self._slots.items()}

    def set_state(self, state):
        """Import a state: ``{layer name: {"states": [...], "output": ...}}`` as :meth:`get_state` gives, or
        ``{layer name: [states...]}`` (the previous output is then the top cell's ``h``).  Layers not named keep
        their state."""
        if not isinstance(state, dict):
            raise TypeError(f"Argument `state` of set_state() must be a dict by layer name, as get_state() "
                            f"returns; received {type(state).__name__}.")
        by_name = {layer.name: layer for layer in self._rnns}
        new, batch = {}, self._batch
        for key, value in state.items():
            layer = by_name.get(str(key).split(":")[0])
            if layer is None:
                raise ValueError(f"Argument `state` names {key!r}, which is not a recurrent layer of model "
                                 f"{self.model.name!r}; its recurrent layers are {list(by_name)}.")
            states = value.get("states") if isinstance(value, dict) else value
            if states is None:
                raise ValueError(f"Argument `state[{key!r}]` must be a list of state arrays or a dict with "
                                 "'states'.")
            flat = nest.flatten(states) if nest.is_nested(states) else [states]
            b = np.shape(flat[0])[0] if np.ndim(flat[0]) else None
            if batch is not None and b != batch:
                raise ValueError(f"Argument `state[{key!r}]` is for a batch of {b}, but the stream holds a batch "
                                 f"of {batch}; call reset() first to change the batch size.")
            batch = b
            arrays = layer._standardize_initial_state(flat, batch)
            output = value.get("output") if isinstance(value, dict) else None
            if output is None:
                output = arrays[_output_index(layer)]
            output = backend.to_float_array(output, layer.dtype, f"state[{key!r}]['output']")
            if output.shape != (batch, layer.loop_cell.output_size):
                raise ValueError(f"Argument `state[{key!r}]['output']` must have shape "
                                 f"({batch}, {layer.loop_cell.output_size}); received shape {output.shape}.")
            new[key] = _Slot([a.copy() for a in arrays], output.copy(), np.zeros(batch, bool))
        self._slots.update(new)
        self._batch = batch


def _shape_text(shape):
    return "(" + ", ".join("batch" if i == 0 and d is None else str(d) for i, d in enumerate(shape)) + \
        ("," if len(shape) == 1 else "") + ")"


def stream(model) -> Stream:
    """A :class:`Stream` over ``model`` (the same as ``model.stream()``)."""
    return Stream(model)
