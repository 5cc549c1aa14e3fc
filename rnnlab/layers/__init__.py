"""Layers with Keras 3's class names, arguments, defaults and return structures."""
from rnnlab.cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from rnnlab.engine.layer import KerasTensor, Layer, Variable
from rnnlab.engine.serialization import register_classes
from rnnlab.layers.attention import AdditiveAttention, Attention
from rnnlab.layers.bidirectional import Bidirectional
from rnnlab.layers.activation_layers import ELU, Activation, LeakyReLU, PReLU, ReLU, Softmax
from rnnlab.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from rnnlab.layers.convolution import Conv1D
from rnnlab.layers.core import Dense, Dropout, Embedding, Identity, Masking, TimeDistributed
from rnnlab.layers.einsum_dense import EinsumDense
from rnnlab.layers.input_layer import Input, InputLayer
from rnnlab.layers.lambda_layer import Lambda
from rnnlab.layers.multi_head_attention import MultiHeadAttention
from rnnlab.layers.preprocessing import IntegerLookup, StringLookup, TextVectorization
from rnnlab.layers.preprocessing.normalization import Normalization
from rnnlab.layers.preprocessing.hashing import Hashing
from rnnlab.layers.preprocessing.numeric import CategoryEncoding, Discretization, Rescaling
from rnnlab.layers.regularization_layers import ActivityRegularization, AlphaDropout
from rnnlab.layers.scale_normalization import GroupNormalization, RMSNormalization, UnitNormalization
from rnnlab.layers.wrapper import Wrapper
from rnnlab.engine.input_spec import InputSpec
from rnnlab.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract, add, average,
                                   concatenate, dot, maximum, minimum, multiply, subtract)
from rnnlab.layers.noise import GaussianDropout, GaussianNoise, SpatialDropout1D
from rnnlab.layers.normalization import BatchNormalization, LayerNormalization
from rnnlab.layers.pooling import AveragePooling1D, GlobalAveragePooling1D, GlobalMaxPooling1D, MaxPooling1D
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnlab.layers.reshaping import Cropping1D, Flatten, Permute, RepeatVector, Reshape, UpSampling1D, ZeroPadding1D
from rnnlab.layers.rnn import RNN
from rnnlab.layers.spatial import (Conv2D, Conv3D, DepthwiseConv1D, DepthwiseConv2D, GlobalAveragePooling2D,
                                   MaxPooling2D, SeparableConv1D, SeparableConv2D)

__all__ = [
    "Layer", "Variable", "KerasTensor", "Input", "InputLayer",
    "LSTM", "GRU", "SimpleRNN", "RNN", "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells",
    "Bidirectional", "Dense", "EinsumDense", "Dropout", "Embedding", "Masking", "TimeDistributed", "Identity",
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "RepeatVector", "Flatten", "Reshape", "Permute", "Cropping1D", "ZeroPadding1D", "UpSampling1D",
    "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot",
    "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum", "dot",
    "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D",
    "BatchNormalization", "LayerNormalization", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
    "StringLookup", "IntegerLookup", "TextVectorization",
    "Attention", "AdditiveAttention", "MultiHeadAttention",
    "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Conv2D", "Conv3D", "MaxPooling2D", "GlobalAveragePooling2D", "DepthwiseConv1D", "DepthwiseConv2D",
    "SeparableConv1D", "SeparableConv2D",
    "Lambda", "Normalization", "UnitNormalization", "RMSNormalization", "GroupNormalization",
    "ActivityRegularization", "AlphaDropout", "Wrapper", "InputSpec",
    "Rescaling", "CategoryEncoding", "Discretization", "Hashing",
]

# Keras's other spellings of the same classes
Convolution1D, MaxPool1D, AvgPool1D = Conv1D, MaxPooling1D, AveragePooling1D
GlobalMaxPool1D, GlobalAvgPool1D = GlobalMaxPooling1D, GlobalAveragePooling1D
MaxPool2D = MaxPooling2D
__all__ += ["Convolution1D", "MaxPool1D", "AvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool1D", "MaxPool2D"]

# A layer config may name any of these classes, and only these (rnnlab.engine.serialization).
register_classes(obj for obj in map(globals().get, __all__) if isinstance(obj, type) and obj is not InputSpec)
