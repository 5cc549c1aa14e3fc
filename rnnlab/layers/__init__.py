"""Layers with Keras 3's class names, arguments, defaults and return structures."""
from rnnlab.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from rnnlab.engine.layer import KerasTensor, Layer, Variable
from rnnlab.engine.serialization import register_classes
from rnnlab.layers.attention import AdditiveAttention, Attention
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from rnnlab.layers.core import Dense, Dropout, Embedding, Masking, TimeDistributed
from rnnlab.layers.input_layer import Input, InputLayer
from rnnlab.layers.multi_head_attention import MultiHeadAttention
from rnnlab.layers.preprocessing import IntegerLookup, StringLookup, TextVectorization
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnlab.layers.rnn import RNN
from rnnlab.layers.spatial import Conv2D, Conv3D, GlobalAveragePooling2D, MaxPooling2D

__all__ = [
    "Layer", "Variable", "KerasTensor", "Input", "InputLayer",
    "LSTM", "GRU", "SimpleRNN", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells",
    "Bidirectional", "Dense", "Dropout", "Embedding", "Masking", "TimeDistributed",
    "StringLookup", "IntegerLookup", "TextVectorization",
    "Attention", "AdditiveAttention", "MultiHeadAttention",
    "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Conv2D", "Conv3D", "MaxPooling2D", "GlobalAveragePooling2D",
]

# A layer config may name any of these classes, and only these (rnnlab.engine.serialization).
register_classes(obj for obj in map(globals().get, __all__) if isinstance(obj, type))
