"""``StackedRNNCells``: several cells applied one after another within each time step (``RNN([c1, c2])``)."""
from __future__ import annotations

from rnnlab import backend, nest
from rnnlab.cells.base import state_structure
from rnnlab.cells.protocol import as_loop_cell
from rnnlab.engine.layer import Layer
from rnnlab.engine.serialization import deserialize_layer, serialize_layer


class StackedRNNCells(Layer):
    """Several cells applied one after another within each time step, as ``keras.layers.StackedRNNCells``.

    Its state is the list of the cells' states; the output of cell ``k`` is the input of cell ``k+1``. Each cell
    may be a built-in cell or any cell of the protocol (:mod:`rnnlab.cells.base`).
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)):
            raise TypeError(f"Argument `cells` must be a list of RNN cells; received {type(cells).__name__}.")
        cells = list(cells)
        if not cells:
            raise ValueError("Argument `cells` must be a non-empty list of RNN cells; received an empty list.")
        self._loop_cells = [as_loop_cell(c, f"cells[{i}]") for i, c in enumerate(cells)]
        self.cells = [self._track(c) if isinstance(c, Layer) else c for c in cells]

    is_stacked_cells = True  # the loop drives it through its own step (rnnlab.cells.protocol)

    def _sublayers(self):
        return [c for c in self.cells if isinstance(c, Layer)]

    @property
    def state_size(self):
        return [c.state_size for c in self._loop_cells]

    @property
    def output_size(self):
        return self._loop_cells[-1].output_size

    @property
    def flat_state_sizes(self):
        return [s for c in self._loop_cells for s in c.flat_state_sizes]

    def build(self, input_shape):
        dim = input_shape[-1] if isinstance(input_shape, (tuple, list)) else input_shape
        for cell in self._loop_cells:
            cell._maybe_build((None, dim))
            dim = cell.output_size
        self.built = True

    @property
    def input_dim(self):
        return self._loop_cells[0].input_dim

    def project_inputs(self, x, dropout=None):
        return self._loop_cells[0].project_inputs(x, None if dropout is None else dropout[0])

    def project_inputs_backward(self, x, dxw, dropout, grads, need_dx=True):
        return self._loop_cells[0].project_inputs_backward(x, dxw, None if dropout is None else dropout[0], grads,
                                                     need_dx)

    def make_dropout(self, batch, training):
        masks = [cell.make_dropout(batch, training) for cell in self._loop_cells]
        return None if all(m is None for m in masks) else masks

    def _slices(self):
        pos = 0
        for cell in self._loop_cells:
            n = len(cell.flat_state_sizes)
            yield cell, slice(pos, pos + n)
            pos += n

    def step(self, xw_t, states, dropout=None):
        """Cell ``k`` reads cell ``k-1``'s output; ``gates`` holds ``(cell_input, cell_gates)`` per cell."""
        new_states, gates = [], []
        out = None
        for k, (cell, part) in enumerate(self._slices()):
            cell_dropout = None if dropout is None else dropout[k]
            xw = xw_t if k == 0 else cell.project_inputs(out, cell_dropout)
            cell_input = out
            out, cell_states, cell_gates = cell.step(xw, states[part], cell_dropout)
            new_states.extend(cell_states)
            gates.append((cell_input, cell_gates))
        return out, new_states, gates

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):
        d_prev = [None] * len(d_states)
        d_out = d_output
        dxw = None
        for k, (cell, part) in reversed(list(enumerate(self._slices()))):
            cell_dropout = None if dropout is None else dropout[k]
            cell_input, cell_gates = gates[k]
            dxw, d_prev[part] = cell.step_backward(d_out, d_states[part], cell_gates, prev_states[part],
                                                   cell_dropout, grads)
            if k > 0:  # back through cell k's input projection into cell k-1's output
                d_out = cell.project_inputs_backward(cell_input, dxw, cell_dropout, grads)
        return dxw, d_prev

    def get_initial_state(self, batch_size=None):
        return [s for c in self._loop_cells for s in c.get_initial_state(batch_size)]

    def call(self, inputs, states, training=False):
        flat = [backend.to_float_array(s, self.dtype, "states") for s in nest.flatten(states)]
        output, new_states, _ = self.step(self.project_inputs(inputs), flat)
        return output, nest.pack_like(state_structure(self.state_size), new_states)

    def get_config(self):
        config = super().get_config()
        config["cells"] = [serialize_layer(c) for c in self.cells]
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cells = [deserialize_layer(c) for c in config.pop("cells")]
        return cls(cells, **config)
