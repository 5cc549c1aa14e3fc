"""Any Keras-protocol cell, run by rnnlab's sequence loop.

:func:`as_loop_cell` returns what the loop (:mod:`rnnlab.layers.rnn`) drives for a cell: a built-in cell
itself (it implements the loop's interface, see :mod:`rnnlab.cells.base`), or a :class:`ProtocolCell` around a
user's cell, which calls its ``call(inputs, states, training=...)`` once per step.  The user's cell stays what
``layer.cell`` returns, and its weights stay its own.
"""
from __future__ import annotations

import copy
import inspect
import threading
from typing import NamedTuple

import numpy as np

from rnnlab import backend, nest
from rnnlab.cells.base import RecurrentCell, flat_sizes, state_structure
from rnnlab.engine.layer import Layer, check_weights_recorded
from rnnlab.ops.tensor import Tape, Tensor, active_tape, backward as backpropagate, unwrap


class ProtocolCallContext(NamedTuple):
    """What one call passes to every step of a protocol cell (in the loop's ``dropout`` slot)."""

    training: bool


def uses_builtin_step(cell) -> bool:
    """Whether the loop may run ``cell`` through its own ``step``: a built-in cell, or a subclass that keeps the
    built-in ``call`` (a subclass that overrides ``call`` has changed the step, and is run through ``call``)."""
    return isinstance(cell, RecurrentCell) and getattr(type(cell).call, "__qualname__", "").startswith(
        "RecurrentCell.")


def as_loop_cell(cell, argument="cell"):
    """The object the sequence loop drives for ``cell`` (see the module docstring)."""
    if uses_builtin_step(cell) or getattr(cell, "is_stacked_cells", False):
        return cell
    if isinstance(cell, ProtocolCell):
        return cell
    if callable(getattr(cell, "make_loop_cell", None)):  # a cell that brings its own adapter (ConvLSTMCell)
        return cell.make_loop_cell()
    missing = [a for a in ("state_size", "call") if not hasattr(cell, a)]
    if missing or isinstance(cell, type):
        raise TypeError(
            f"Argument `{argument}` must be an RNN cell: an object with `state_size` and "
            f"`call(inputs, states)` (such as LSTMCell, GRUCell, SimpleRNNCell or a user's cell); received "
            f"{cell!r}" + (f", which has no {' or '.join(missing)}." if missing and not isinstance(cell, type)
                           else " (a class: pass an instance).")
        )
    return ProtocolCell(cell)


class _GateLog(threading.local):
    def __init__(self):
        self.stack = []


_GATE_LOG = _GateLog()


def record_gate(name: str, value):
    """Declare a gate from inside a cell's ``call``: ``rnnlab.inspect.trace`` then shows it step by step
    (``(B, T, ...)`` under ``name``). Outside a traced step it does nothing; it returns ``value``, so
    ``z = record_gate("z", ops.sigmoid(...))`` reads naturally."""
    if _GATE_LOG.stack:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Argument `name` of record_gate() must be an identifier; received name={name!r}.")
        _GATE_LOG.stack[-1][name] = np.array(unwrap(value))
    return value


class StepRecord(NamedTuple):
    """One training step of a user's cell, on the record: its leaves and what it returned."""

    tape: Tape
    x: Tensor
    states: list
    output: object
    new_states: list


class ProtocolCell:
    """The loop's interface around a user's cell: no input projection, ``step`` is the cell's ``call``.

    While a training call records (a :class:`~rnnlab.ops.tensor.Tape` is active), each step runs the cell on
    the record and returns a :class:`StepRecord` where a built-in cell returns its gates; ``step_backward``
    backpropagates through it, so a cell written with ``rnnlab.ops`` trains like a built-in one.
    """

    def __init__(self, cell):
        self.user_cell = cell
        self._input_dim = None
        self._takes_training = _takes_training(cell)
        self._checked_record = False  # whether a training step has checked that the cell's weights are recorded
        self._layout = None  # (state_size as read, a copy of it, its flat sizes, whether it nests lists)
        self._sizes()  # checked now, so a bad state_size fails where the RNN is made

    # -------------------------------------------------------------- shapes
    @property
    def name(self):
        return getattr(self.user_cell, "name", type(self.user_cell).__name__)

    @property
    def state_size(self):
        return self.user_cell.state_size

    @property
    def flat_state_sizes(self):
        return list(self._sizes()[0])

    def _sizes(self):
        """``(flat state sizes, whether state_size nests lists)``, worked out again only when the cell's
        ``state_size`` changes (it is read at every step)."""
        size, layout = self.user_cell.state_size, self._layout
        if layout is None or layout[0] is not size or layout[1] != size:
            deep = isinstance(size, (list, tuple)) and any(isinstance(s, (list, tuple)) for s in size)
            layout = self._layout = (size, copy.deepcopy(size), tuple(flat_sizes(size)), deep)
        return layout[2], layout[3]

    @property
    def output_size(self):
        size = getattr(self.user_cell, "output_size", None)
        return int(size) if size is not None else self._sizes()[0][0]

    @property
    def input_dim(self):
        return self._input_dim

    @property
    def built(self):
        return self._input_dim is not None

    @property
    def dtype(self):
        return getattr(self.user_cell, "dtype", "float32")

    @dtype.setter
    def dtype(self, value):
        pass  # the user's cell keeps its own dtype

    def _maybe_build(self, input_shape):
        if self._input_dim is None:
            if isinstance(self.user_cell, Layer):
                self.user_cell._maybe_build(tuple(input_shape))
            elif hasattr(self.user_cell, "build") and not getattr(self.user_cell, "built", False):
                self.user_cell.build(tuple(input_shape))
            self._input_dim = input_shape[-1]

    # -------------------------------------------------------------- the loop's interface
    def project_inputs(self, x, dropout=None):
        return x  # the user's call sees the raw step input

    def make_dropout(self, batch, training):
        return ProtocolCallContext(bool(training)) if training else None

    def get_initial_state(self, batch_size=None):
        fn = getattr(self.user_cell, "get_initial_state", None)
        sizes = self.flat_state_sizes
        if fn is None:
            return [np.zeros((batch_size, s), self.dtype) for s in sizes]
        states = fn(batch_size=batch_size)
        flat = nest.flatten(states) if nest.is_nested(states) else [states]
        return self._check_states(flat, batch_size, "get_initial_state()")

    def step(self, x_t, states, context=None):
        tape = active_tape()
        if tape is None:
            _GATE_LOG.stack.append({})
            try:
                output, new_states = self._call(x_t, list(states), context)
            finally:
                gates = _GATE_LOG.stack.pop()
            flat = nest.flatten(new_states) if nest.is_nested(new_states) else [new_states]
            output, new_states = self._check_step(output, flat, x_t.shape[0])
            return output, new_states, gates
        step_tape = tape.part(context is not None and context.training)  # one weight leaf per call, for all steps
        x_leaf, state_leaves = Tensor(x_t), [Tensor(s) for s in states]
        with step_tape:
            output, new_states = self._call(x_leaf, state_leaves, context)
        flat = new_states if type(new_states) is list and not any(nest.is_nested(s) for s in new_states) else \
            nest.flatten(new_states) if nest.is_nested(new_states) else [new_states]
        values, new_values = self._check_step(unwrap(output), [unwrap(s) for s in flat], x_t.shape[0])
        if not self._checked_record:
            check_weights_recorded(f"Cell {self.name!r} ({type(self.user_cell).__name__})",
                                   getattr(self.user_cell, "trainable_weights", []), step_tape)
            self._checked_record = True
        return values, new_values, StepRecord(step_tape, x_leaf, state_leaves, output, flat)

    def _call(self, x_t, states, context):
        training = context is not None and context.training
        deep = self._sizes()[1]
        packed = nest.pack_like(state_structure(self.state_size), list(states)) if deep else list(states)
        if self._takes_training:
            return self.user_cell.call(x_t, packed, training=training)
        return self.user_cell.call(x_t, packed)

    def _check_step(self, output, flat_states, batch):
        new_states = self._check_states(flat_states, batch, "call()")
        output = np.asarray(output, dtype=new_states[0].dtype)
        if output.shape != (batch, self.output_size):
            raise ValueError(
                f"Cell {self.name!r} returned an output of shape {output.shape} from call(); expected "
                f"(batch, output_size) = {(batch, self.output_size)}."
            )
        return output, new_states

    def step_backward(self, d_output, d_states, record, prev_states, dropout, grads):
        """Backpropagate one step through its :class:`StepRecord`: ``(d_x_t, d_previous_states)``. The cell's
        weight gradients go to ``grads``, or, when the call's tape defers them, wait there as factors until the
        loop's backward ends (:meth:`rnnlab.ops.tensor.Tape.apply_deferred`)."""
        tape = record.tape
        grad_of = backpropagate([record.output] + list(record.new_states), [d_output] + list(d_states),
                                tape.ops, tape.deferred)
        if tape.deferred is None:
            tape.collect_weight_grads(grad_of)
        dx = grad_of(record.x)
        d_prev = [grad_of(leaf) for leaf in record.states]
        return (np.zeros_like(record.x.value) if dx is None else dx,
                [np.zeros_like(leaf.value) if g is None else g for leaf, g in zip(record.states, d_prev)])

    def project_inputs_backward(self, x, dxw, dropout, grads, need_dx=True):
        return dxw if need_dx else None  # the step saw the raw input

    def _check_states(self, flat, batch, where):
        sizes = self.flat_state_sizes
        if len(flat) != len(sizes):
            raise ValueError(
                f"Cell {self.name!r} returned {len(flat)} state tensor(s) from {where}; its state_size "
                f"{self.state_size!r} declares {len(sizes)}."
            )
        out = []
        for i, (s, size) in enumerate(zip(flat, sizes)):
            if type(s) is np.ndarray and s.shape == (batch, size) and s.dtype.kind == "f":
                out.append(s)  # what a cell written with ops returns: nothing to convert
                continue
            given = np.asarray(s)  # a float state keeps its dtype; anything else becomes the cell's
            arr = backend.to_float_array(given, given.dtype.name if given.dtype.kind == "f" else self.dtype,
                                         f"states[{i}]")
            if arr.shape != (batch, size):
                raise ValueError(
                    f"Cell {self.name!r} returned state {i} of shape {arr.shape} from {where}; expected "
                    f"(batch, state_size[{i}]) = {(batch, size)}."
                )
            out.append(arr)
        return out


def _takes_training(cell) -> bool:
    try:
        params = inspect.signature(cell.call).parameters
    except (TypeError, ValueError):
        return False
    return "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
