"""``trace``: every gate, state and mask value of every recurrent layer, step by step.

:func:`trace` runs a model (or one recurrent layer) once with each recurrent layer's ``run(...,
collect_gates=True)``.  That is the reference time loop (:func:`rnnlab.layers.rnn.reference_loop`), and the
model's outputs returned with the trace come from that same run: the traced gates are the ones that produced the
outputs, not a second implementation of the equations.

The result is a :class:`ModelTrace`, a read-only mapping from layer name to :class:`LayerTrace`.  A layer holds one
:class:`CellTrace` per direction (``"forward"``; a ``Bidirectional`` also ``"backward"``) and, for a stack of cells
(``RNN([cell, cell])``), per cell (``"forward/0"``, ``"forward/1"``...)::

    tr = trace(model, x)
    tr["lstm"].f                    # (B, T, U) forget gate of the (only) direction of layer "lstm"
    tr["bidirectional"].backward.h  # (B, T, U) hidden state of the backward direction
    tr["bidirectional", "forward"]  # the same as tr["bidirectional"]["forward"]
    tr["rnn"][1].c                  # cell 1 of a stacked RNN
    tr.to_dict()                    # {layer: {part: {name: array}}}: plain dicts of NumPy arrays

Every per-step array is ``(batch, T, ...)`` in **time order**: index ``t`` is input time step ``t``, for the
backward direction too (``processing_order`` says in which order the steps were computed).

Masks.  At a masked step (``mask[b, t]`` False) Keras keeps the previous state and repeats the previous output.
The traced gates at such a step are what the cell computed and then discarded; ``h`` and ``c`` are the states the
layer actually carried (so they repeat the previous step's), and ``mask`` says which steps counted.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from rnnlab import activations
from rnnlab.cells import StackedRNNCells, spec_of
from rnnlab.engine.layer import Layer
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.rnn import RNN, run_hook

# The gates each cell shows, by the names its equations use, are declared by the cell (its CellSpec, in
# rnnlab/cells/*.py): LSTM i, f, c_hat, o (input, forget, candidate cell, output); GRU z, r, h_hat (update, reset,
# candidate state); SimpleRNN a (the pre-activation: h = activation(a)).
GATE_DESCRIPTIONS = {
    "i": "input gate: how much of the candidate is written into c",
    "f": "forget gate: how much of the previous c is kept",
    "c_hat": "candidate cell value",
    "o": "output gate: how much of tanh(c) is exposed as h",
    "z": "update gate: how much of the previous h is kept",
    "r": "reset gate: how much of the previous h feeds the candidate",
    "h_hat": "candidate hidden state",
    "a": "pre-activation: h = activation(a)",
}


@dataclass(frozen=True, eq=False)
class CellTrace:
    """One cell of one direction of one recurrent layer, over every time step.

    Arrays are ``(B, T, ...)`` in time order (index ``t`` = input step ``t``, for the backward direction too).

    Attributes:
        layer: the layer's name (a ``Bidirectional``'s name for both of its directions).
        direction: ``"forward"`` or ``"backward"`` (a plain layer with ``go_backwards=True`` is ``"backward"``).
        cell_index: position in a stack of cells (0 for a single cell).
        cell_type: ``"LSTM"``, ``"GRU"`` or ``"SimpleRNN"``; a user's cell gives its class name, its first state
            as ``h``, its second (if any) as ``c``, and as ``gates`` what its call declared with
            :func:`rnnlab.inspect.record_gate` (``pre_activations`` and the activations are None).
        units: ``U``.
        activation, recurrent_activation: the cell's activation names (``recurrent_activation`` is None for
            SimpleRNN).
        gates: gate name -> ``(B, T, U)``: LSTM ``i, f, c_hat, o``; GRU ``z, r, h_hat``; SimpleRNN ``a`` (its
            pre-activation). Also readable as attributes (``trace.f``).
        pre_activations: ``(B, T, G*U)``: every gate's input before its activation (LSTM ``z``, GRU ``pre``,
            SimpleRNN ``a``), in Keras's gate order.
        h: ``(B, T, U)`` hidden state carried after each step.
        c: ``(B, T, U)`` LSTM cell state carried after each step; None for GRU and SimpleRNN.
        outputs: ``(B, T, U)``: what the cell passed on at each step -- the layer's output sequence for the top
            cell (zeros at masked steps where the layer zeroes them), the next cell's input for a lower cell of a
            stack.
        mask: ``(B, T)`` bool: True where the step counted (all True without a mask).
        initial_state: the states before the first processed step, flat in Keras's order (``[h0, c0]`` for LSTM).
        go_backwards: whether the steps were processed from the last to the first.
    """

    layer: str
    direction: str
    cell_index: int
    cell_type: str
    units: int
    activation: str
    recurrent_activation: str | None
    gates: dict
    pre_activations: np.ndarray
    h: np.ndarray
    c: np.ndarray | None
    outputs: np.ndarray
    mask: np.ndarray
    initial_state: list = field(default_factory=list)
    go_backwards: bool = False
    variant: tuple = ()
    projection_kernel: np.ndarray | None = None

    @property
    def batch_size(self) -> int:
        return self.h.shape[0]

    @property
    def steps(self) -> int:
        return self.h.shape[1]

    @property
    def gate_names(self) -> tuple:
        return tuple(self.gates)

    @property
    def processing_order(self) -> np.ndarray:
        """The time indices in the order the cell computed them (``T-1 ... 0`` when going backwards)."""
        order = np.arange(self.steps)
        return order[::-1] if self.go_backwards else order

    @property
    def h0(self) -> np.ndarray:
        return self.initial_state[0]

    @property
    def c0(self) -> np.ndarray | None:
        return self.initial_state[1] if self.c is not None else None

    def __getattr__(self, name):
        gates = self.__dict__.get("gates")
        if gates is not None and name in gates:
            return gates[name]
        raise AttributeError(
            f"{type(self).__name__} of a {self.__dict__.get('cell_type')} cell has no attribute {name!r}; "
            f"its gates are {list(gates or ())}."
        )

    def to_dict(self) -> dict:
        """A plain dict of NumPy arrays: the gates by name, ``pre_activations``, ``h``, ``c`` (LSTM), ``outputs``,
        ``mask``, ``h0``, ``c0`` (LSTM) and ``processing_order``."""
        out = dict(self.gates)
        out.update(pre_activations=self.pre_activations, h=self.h)
        if self.c is not None:
            out["c"] = self.c
        out.update(outputs=self.outputs, mask=self.mask, h0=self.h0)
        if self.c0 is not None:
            out["c0"] = self.c0
        out["processing_order"] = self.processing_order
        return out

    def __repr__(self):
        return (f"<CellTrace {self.layer}/{self.direction}" + (f"/{self.cell_index}" if self.cell_index else "")
                + f": {self.cell_type}({self.units}), batch {self.batch_size}, {self.steps} steps, "
                f"gates {list(self.gates)}>")


class LayerTrace:
    """The trace of one recurrent layer: one :class:`CellTrace` per direction and cell.

    ``parts`` maps ``"forward"``/``"backward"`` (or ``"forward/0"``, ``"forward/1"``... for a stack of cells) to
    cell traces.  Index with a direction, a cell index (forward or only direction), or ``(direction, cell)``.
    When the layer has a single part, its attributes read through: ``layer_trace.f``, ``layer_trace.h``.
    """

    def __init__(self, name, class_name, parts):
        self.name = name
        self.class_name = class_name
        self.parts = dict(parts)

    @property
    def directions(self) -> list:
        return list(dict.fromkeys(p.direction for p in self.parts.values()))

    def cells(self, direction=None) -> list:
        """The cell traces of ``direction`` (default: the first direction), bottom cell first."""
        direction = direction or self.directions[0]
        return [p for p in self.parts.values() if p.direction == direction]

    @property
    def forward(self) -> CellTrace:
        return self._single("forward")

    @property
    def backward(self) -> CellTrace:
        return self._single("backward")

    def _single(self, direction):
        cells = self.cells(direction) if direction in self.directions else []
        if len(cells) == 1:
            return cells[0]
        if not cells:
            raise KeyError(f"Layer {self.name!r} has no {direction!r} direction; its parts are {list(self.parts)}.")
        raise KeyError(
            f"Layer {self.name!r} stacks {len(cells)} cells in its {direction!r} direction; pick one with "
            f"[{direction!r}, k] (k = 0..{len(cells) - 1})."
        )

    def __getitem__(self, key):
        if isinstance(key, str):
            if key in self.parts:
                return self.parts[key]
            if key in ("forward", "backward"):
                return self._single(key)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self._cell(self.directions[0], int(key))
        elif isinstance(key, tuple) and len(key) == 2:
            return self._cell(*key)
        raise KeyError(f"Layer {self.name!r} has no part {key!r}; its parts are {list(self.parts)}.")

    def _cell(self, direction, k):
        cells = self.cells(direction) if direction in self.directions else []
        if not 0 <= k < len(cells):
            raise KeyError(f"Layer {self.name!r} has no cell {k!r} in direction {direction!r}; "
                           f"its parts are {list(self.parts)}.")
        return cells[k]

    def __iter__(self):
        return iter(self.parts.values())

    def __len__(self):
        return len(self.parts)

    def __getattr__(self, name):
        parts = self.__dict__.get("parts", {})
        if len(parts) == 1:
            return getattr(next(iter(parts.values())), name)
        raise AttributeError(
            f"LayerTrace {self.__dict__.get('name')!r} has {len(parts)} parts {list(parts)}; "
            f"select one first (for example trace[{self.__dict__.get('name')!r}]['forward'].{name})."
        )

    def to_dict(self) -> dict:
        return {key: part.to_dict() for key, part in self.parts.items()}

    def __repr__(self):
        return f"<LayerTrace {self.name} ({self.class_name}): parts {list(self.parts)}>"


class ModelTrace(Mapping):
    """The trace of a model: layer name -> :class:`LayerTrace`, in execution order.

    ``outputs`` holds the model's (or layer's) outputs from the traced run itself.  Keys may also be
    ``"layer/part"`` paths or ``(layer, part...)`` tuples.  A layer called more than once appears once per call:
    ``name``, ``name:1``, ...
    """

    def __init__(self, layers, outputs, inputs):
        self._layers = dict(layers)
        self.outputs = outputs
        self.inputs = inputs

    def __getitem__(self, key):
        if isinstance(key, tuple):
            item = self[key[0]]
            rest = key[1:]
            return item[rest if len(rest) > 1 else rest[0]] if rest else item
        if isinstance(key, str) and key not in self._layers and "/" in key:
            name, part = key.split("/", 1)
            if name in self._layers:
                return self._layers[name][part]
        if key not in self._layers:
            raise KeyError(f"No recurrent layer {key!r} in this trace; traced layers: {list(self._layers)}.")
        return self._layers[key]

    def __iter__(self):
        return iter(self._layers)

    def __len__(self):
        return len(self._layers)

    @property
    def layers(self) -> list:
        return list(self._layers)

    def parts(self):
        """Every ``(layer name, part key, CellTrace)``, in execution order."""
        return [(name, key, part) for name, layer in self._layers.items() for key, part in layer.parts.items()]

    def to_dict(self) -> dict:
        """``{layer: {part: {name: array}}}``: plain dicts of NumPy arrays (see :meth:`CellTrace.to_dict`)."""
        return {name: layer.to_dict() for name, layer in self._layers.items()}

    def to_arrays(self) -> dict:
        """One flat dict ``"layer/part/name" -> array``, ready for ``np.savez(path, **trace.to_arrays())``."""
        return {f"{name}/{key}/{field_name}": value for name, key, part in self.parts()
                for field_name, value in part.to_dict().items()}

    def __repr__(self):
        lines = [f"<ModelTrace of {len(self)} recurrent layer(s)>"]
        lines += [f"  {name}/{key}: {part.cell_type}({part.units}), gates {list(part.gates)}"
                  for name, key, part in self.parts()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# Running with collected gates
# ---------------------------------------------------------------------------------------------------------------------


def walk_layers(layer):
    """``layer`` and every layer inside it (models, wrappers, cells), depth first."""
    yield layer
    for sub in layer._sublayers():
        yield from walk_layers(sub)


def _owners(target, rnns):
    """RNN layer -> (name shown in the trace, direction)."""
    owners = {}
    for layer in walk_layers(target):
        if isinstance(layer, Bidirectional):
            owners[layer.forward_layer] = (layer.name, "forward", "Bidirectional")
            owners[layer.backward_layer] = (layer.name, "backward", "Bidirectional")
    for layer in rnns:
        owners.setdefault(layer, (layer.name, "backward" if layer.go_backwards else "forward", type(layer).__name__))
    return owners


def trace(model_or_layer, x, mask=None, *, initial_state=None) -> ModelTrace:
    """Run ``model_or_layer`` on ``x`` and record every recurrent layer's gates, states and mask at every step.

    Args:
        model_or_layer: an ``rnnlab.Model``/``Sequential``, or a recurrent layer (``LSTM``, ``GRU``,
            ``SimpleRNN``, ``RNN``, ``Bidirectional``).
        x: the input, as for ``model(x)`` (a layer takes ``(B, T, D)``).
        mask: optional ``(B, T)`` boolean mask, as for ``model(x, mask=mask)``.  Masks from ``Masking`` or
            ``Embedding(mask_zero=True)`` layers apply as usual.
        initial_state: for a single layer, its ``initial_state`` (as ``layer(x, initial_state=...)``).

    Returns:
        a :class:`ModelTrace`; ``.outputs`` holds the outputs of this same run.

    Raises:
        TypeError: ``model_or_layer`` is not an rnnlab layer or model.
        ValueError: it holds no recurrent layer, or ``x``/``mask`` do not fit it.
    """
    target = model_or_layer
    if not isinstance(target, Layer):
        raise TypeError(
            "Argument `model_or_layer` must be an rnnlab model or recurrent layer; "
            f"received {type(target).__name__}."
        )
    is_model = hasattr(target, "_run_graph")
    if initial_state is not None and is_model:
        raise ValueError("Argument `initial_state` is for a single layer; a model takes its initial states as "
                         "model inputs.")
    if not is_model and not isinstance(target, (RNN, Bidirectional)):
        raise ValueError(
            f"Layer {target.name!r} ({type(target).__name__}) is not a recurrent layer; trace() takes a model or "
            "an LSTM, GRU, SimpleRNN, RNN or Bidirectional layer."
        )
    if is_model and not target.built and hasattr(target, "_ensure_built"):
        target._ensure_built(x)
    rnns = [layer for layer in walk_layers(target) if isinstance(layer, RNN)]
    if not rnns:
        names = [f"{layer.name} ({type(layer).__name__})" for layer in getattr(target, "layers", [])]
        raise ValueError(
            f"Model {target.name!r} has no recurrent layer to trace (LSTM, GRU, SimpleRNN, RNN or Bidirectional); "
            f"its layers are: {', '.join(names) or 'none'}."
        )
    records = []

    def collect(layer, original_run, sequences, initial_state=None, mask=None, collect_gates=False,
                training=False):
        result = original_run(sequences, initial_state=initial_state, mask=mask, collect_gates=True,
                              training=training)
        records.append((layer, result))
        return result

    kwargs = {} if mask is None else {"mask": mask}
    if initial_state is not None:
        kwargs["initial_state"] = initial_state
    with run_hook(rnns, collect):
        outputs = target(x, **kwargs)
    return _assemble(target, rnns, records, outputs, x)


def _assemble(target, rnns, records, outputs, x):
    owners = _owners(target, rnns)
    calls, layers = {}, {}
    for layer, result in records:
        name, direction, class_name = owners[layer]
        count = calls.get(layer, 0)
        calls[layer] = count + 1
        key = name if count == 0 else f"{name}:{count}"
        entry = layers.setdefault(key, LayerTrace(key, class_name, {}))
        cell_traces = cell_traces_of(layer, result, name, direction)
        for k, cell_trace in enumerate(cell_traces):
            entry.parts[direction if len(cell_traces) == 1 else f"{direction}/{k}"] = cell_trace
    return ModelTrace(layers, _plain(outputs), x)


def _plain(outputs):
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(_plain(o) for o in outputs)
    return np.asarray(outputs) if isinstance(outputs, np.ndarray) else outputs


def cell_traces_of(layer, result, name, direction):
    """The :class:`CellTrace` of each cell of ``layer`` from one ``run(..., collect_gates=True)`` result."""
    steps = result["trace"]
    if not steps:
        raise ValueError(f"Layer {layer.name!r} ran without collecting its gates.")
    stacked = isinstance(layer.cell, StackedRNNCells)
    cells = layer.cell.cells if stacked else [layer.cell]
    if any(isinstance(c, StackedRNNCells) for c in cells):
        raise ValueError(f"Layer {layer.name!r} nests a StackedRNNCells inside another; trace() needs a flat "
                         "list of cells.")
    num_steps = len(steps)
    order = slice(None, None, -1) if layer.go_backwards else slice(None)  # processing order -> time order
    after = [steps[t + 1][0] for t in range(num_steps - 1)] + [result["states"]]  # states after each step
    batch = after[-1][0].shape[0]
    mask = result["mask"]
    mask = np.ones((batch, num_steps), bool) if mask is None else np.asarray(mask, bool)[:, order]

    def series(values):  # list over processed steps of (B, ...) -> (B, T, ...) in time order
        return np.stack(values, axis=1)[:, order]

    out, pos = [], 0
    for k, cell in enumerate(cells):
        gates = [steps[t][1][k][1] if stacked else steps[t][1] for t in range(num_steps)]
        spec = spec_of(cell)
        if spec is None:  # a user's cell: its states, and the gates it declared with record_gate()
            loop_cell = layer.loop_cell._loop_cells[k] if stacked else layer.loop_cell
            n = len(loop_cell.flat_state_sizes)
            part = slice(pos, pos + n)
            pos += n
            out.append(_user_cell_trace(layer, name, direction, k, cell, loop_cell, gates, part, after, steps,
                                        result, series, mask, order, stacked, len(cells)))
            continue
        n = len(cell.flat_state_sizes)
        part = slice(pos, pos + n)
        pos += n
        cell_type = spec.name
        if k == len(cells) - 1:
            outputs = np.asarray(result["outputs"])[:, order]
        else:  # what cell k+1 read at each step: cell k's raw output
            outputs = series([steps[t][1][k + 1][0] for t in range(num_steps)])
        out.append(CellTrace(
            layer=name,
            direction=direction,
            cell_index=k,
            cell_type=cell_type,
            units=cell.units,
            activation=activations.serialize(cell.activation),
            recurrent_activation=(activations.serialize(cell.recurrent_activation)
                                  if cell.has_recurrent_activation else None),
            gates={g: series([getattr(s, g) for s in gates]) for g in spec.gates},
            pre_activations=series([getattr(s, spec.pre) for s in gates]),
            h=series([a[part][0] for a in after]),
            c=series([a[part][spec.states.index("c")] for a in after]) if "c" in spec.states else None,
            outputs=outputs,
            mask=mask,
            initial_state=[np.asarray(s) for s in steps[0][0][part]],
            go_backwards=layer.go_backwards,
            variant=spec.variant,
            projection_kernel=(np.array(cell.projection_kernel.value) if "projection" in spec.variant else None),
        ))
    return out


def _user_cell_trace(layer, name, direction, k, cell, loop_cell, gates, part, after, steps, result, series, mask,
                     order, stacked, num_cells):
    """The :class:`CellTrace` of a user's cell: every state after each step (``h`` is the first, ``c`` the
    second), and the gates its call declared with :func:`rnnlab.inspect.record_gate` (none if it declared none)."""
    num_steps = len(steps)
    declared = gates[0] or {}
    if any(set(g or {}) != set(declared) for g in gates):
        raise ValueError(f"Cell {type(cell).__name__!r} of layer {layer.name!r} declared different gates at "
                         "different steps; trace() needs the same record_gate() names at every step.")
    if k == num_cells - 1:
        outputs = np.asarray(result["outputs"])[:, order]
    else:
        outputs = series([steps[t][1][k + 1][0] for t in range(num_steps)])
    states = [series([a[part][i] for a in after]) for i in range(part.stop - part.start)]
    return CellTrace(
        layer=name, direction=direction, cell_index=k, cell_type=type(cell).__name__,
        units=loop_cell.output_size, activation=None, recurrent_activation=None,
        gates={g: series([step[g] for step in gates]) for g in declared},
        pre_activations=None, h=states[0], c=states[1] if len(states) > 1 else None, outputs=outputs, mask=mask,
        initial_state=[np.asarray(s) for s in steps[0][0][part]], go_backwards=layer.go_backwards,
    )
