"""Pure cell mathematics: one time step of each recurrent cell, no loops over time and no state on objects.

Each step takes the input projection for the step, ``xw_t = x_t @ kernel + input_bias`` (computed for all
steps at once by the layer), the previous state and the recurrent weights, and returns the new state plus the
gate activations of the step (the cache that inspection and backpropagation read).
"""
from rnnlab.cells.gru import gru_step, gru_step_backward
from rnnlab.cells.lstm import lstm_step, lstm_step_backward
from rnnlab.cells.simple_rnn import simple_rnn_step, simple_rnn_step_backward

__all__ = ["lstm_step", "gru_step", "simple_rnn_step", "lstm_step_backward", "gru_step_backward",
           "simple_rnn_step_backward"]
