"""Any Keras-protocol cell, run by rnnlab's sequence loop.

:func:`as_loop_cell` returns what the loop (:mod:`rnnlab.layers.rnn`) drives for a cell: a built-in cell
itself (it implements the loop's interface, see :mod:`rnnlab.cells.base`), or a :class:`ProtocolCell` around a
user's cell, which calls its ``call(inputs, states, training=...)`` once per step.  The user's cell stays what
``layer.cell`` returns, and its weights stay its own.
"""
from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from rnnlab import backend, nest
from rnnlab.cells.base import RecurrentCell, flat_sizes, state_structure
from rnnlab.engine.layer import Layer


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
    missing = [a for a in ("state_size", "call") if not hasattr(cell, a)]
    if missing or isinstance(cell, type):
        raise TypeError(
            f"Argument `{argument}` must be an RNN cell: an object with `state_size` and "
            f"`call(inputs, states)` (such as LSTMCell, GRUCell, SimpleRNNCell or a user's cell); received "
            f"{cell!r}" + (f", which has no {' or '.join(missing)}." if missing and not isinstance(cell, type)
                           else " (a class: pass an instance).")
        )
    return ProtocolCell(cell)


class ProtocolCell:
    """The loop's interface around a user's cell: no input projection, ``step`` is the cell's ``call``."""

    supports_backward = False

    def __init__(self, cell):
        self.user_cell = cell
        self._input_dim = None
        self._takes_training = _takes_training(cell)
        flat_sizes(cell.state_size)  # checked now, so a bad state_size fails where the RNN is made

    # -------------------------------------------------------------- shapes
    @property
    def name(self):
        return getattr(self.user_cell, "name", type(self.user_cell).__name__)

    @property
    def state_size(self):
        return self.user_cell.state_size

    @property
    def flat_state_sizes(self):
        return flat_sizes(self.user_cell.state_size)

    @property
    def output_size(self):
        size = getattr(self.user_cell, "output_size", None)
        return int(size) if size is not None else self.flat_state_sizes[0]

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
        training = context is not None and context.training
        packed = nest.pack_like(state_structure(self.state_size), list(states)) \
            if isinstance(self.state_size, (list, tuple)) else list(states)
        if self._takes_training:
            output, new_states = self.user_cell.call(x_t, packed, training=training)
        else:
            output, new_states = self.user_cell.call(x_t, packed)
        flat = nest.flatten(new_states) if nest.is_nested(new_states) else [new_states]
        batch = x_t.shape[0]
        new_states = self._check_states(flat, batch, "call()")
        output = np.asarray(output, dtype=new_states[0].dtype)
        if output.shape != (batch, self.output_size):
            raise ValueError(
                f"Cell {self.name!r} returned an output of shape {output.shape} from call(); expected "
                f"(batch, output_size) = {(batch, self.output_size)}."
            )
        return output, new_states, None

    def step_backward(self, *args, **kwargs):
        raise TypeError(
            f"Cell {self.name!r} ({type(self.user_cell).__name__}) can run but not train in rnnlab yet: training "
            "needs a backward pass, which rnnlab has for its built-in cells (LSTMCell, GRUCell, SimpleRNNCell)."
        )

    project_inputs_backward = step_backward

    def _check_states(self, flat, batch, where):
        sizes = self.flat_state_sizes
        if len(flat) != len(sizes):
            raise ValueError(
                f"Cell {self.name!r} returned {len(flat)} state tensor(s) from {where}; its state_size "
                f"{self.state_size!r} declares {len(sizes)}."
            )
        out = []
        for i, (s, size) in enumerate(zip(flat, sizes)):
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
