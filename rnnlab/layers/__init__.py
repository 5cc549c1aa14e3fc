"""Layers with Keras 3's class names, arguments, defaults and return structures."""
from rnnlab.layers.base import KerasTensor, Layer, Variable
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.core import Dense, Dropout, Embedding, Masking, TimeDistributed
from rnnlab.layers.input_layer import Input, InputLayer
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnlab.layers.rnn import RNN
from rnnlab.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells

__all__ = [
    "Layer", "Variable", "KerasTensor", "Input", "InputLayer",
    "LSTM", "GRU", "SimpleRNN", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells",
    "Bidirectional", "Dense", "Dropout", "Embedding", "Masking", "TimeDistributed",
]
