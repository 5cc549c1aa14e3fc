"""rnnlab: the Keras recurrent-network API (LSTM, GRU, SimpleRNN, Bidirectional) on NumPy.

Swap ``from tensorflow import keras`` for ``import rnnlab as keras`` and Keras code that builds and runs
recurrent models works, with the same numbers.
"""
__version__ = "0.1.0"

from rnnlab import config, kernels, layers, losses, metrics, models, optimizers, utils
from rnnlab.layers import Input
from rnnlab.models import Model, Sequential

__all__ = ["Input", "Model", "Sequential", "layers", "models", "optimizers", "losses", "metrics", "callbacks",
           "utils", "config", "__version__"]


def __getattr__(name):
    if name == "callbacks":  # loaded on first use: only training needs it
        import importlib

        return importlib.import_module("rnnlab.callbacks")
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
