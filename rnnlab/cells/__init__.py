"""Recurrent cells: one time step each, the maths and the metadata in one module per cell.

* :mod:`rnnlab.cells.base`: the cell protocol (Keras's), :class:`CellSpec` and the registry of built-in cells,
  and :class:`RecurrentCell`, what the built-in cells share (kernel, recurrent kernel, bias, input projection);
* :mod:`rnnlab.cells.lstm`, :mod:`rnnlab.cells.gru`, :mod:`rnnlab.cells.simple_rnn`: each cell's pure step
  function with its backward beside it, and its Keras cell class;
* :mod:`rnnlab.cells.stacked`: ``StackedRNNCells``; :mod:`rnnlab.cells.protocol`: a user's cell in the loop.

A step takes the input projection for the step, ``xw_t = x_t @ kernel + input_bias`` (computed for all steps at
once by the layer), the previous state and the recurrent weights, and returns the new state plus the gate
activations of the step (the cache that inspection and backpropagation read). The loop over time is the layer's
(:mod:`rnnlab.layers.rnn`).
"""
from rnnlab.cells.base import CellSpec, RecurrentCell, builtin_spec, register, registered_cells, spec_of
from rnnlab.cells.gru import GRUCell, gru_step, gru_step_backward
from rnnlab.cells.lstm import LSTMCell, lstm_step, lstm_step_backward
from rnnlab.cells.protocol import ProtocolCell, as_loop_cell
from rnnlab.cells.simple_rnn import SimpleRNNCell, simple_rnn_step, simple_rnn_step_backward
from rnnlab.cells.stacked import StackedRNNCells

__all__ = ["CellSpec", "RecurrentCell", "register", "spec_of", "builtin_spec", "registered_cells",
           "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells", "ProtocolCell", "as_loop_cell",
           "lstm_step", "gru_step", "simple_rnn_step", "lstm_step_backward", "gru_step_backward",
           "simple_rnn_step_backward"]
