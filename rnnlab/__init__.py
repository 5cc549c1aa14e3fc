"""rnnlab: the Keras recurrent-network API (LSTM, GRU, SimpleRNN, Bidirectional) on NumPy.

Swap ``from tensorflow import keras`` for ``import rnnlab as keras`` and Keras code that builds and runs
recurrent models works, with the same numbers.
"""
__version__ = "0.1.0"

from rnnlab import config, kernels, layers, models, utils
from rnnlab.layers import Input
from rnnlab.models import Model, Sequential

__all__ = ["Input", "Model", "Sequential", "layers", "models", "utils", "config", "__version__"]
