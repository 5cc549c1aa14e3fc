"""rnnlab: the Keras recurrent-network API (LSTM, GRU, SimpleRNN, Bidirectional) on NumPy.

Swap ``from tensorflow import keras`` for ``import rnnlab as keras`` and Keras code that builds and runs
recurrent models works, with the same numbers.
"""
# rnnlab.saving registers the file formats that Model.save/load_weights and models.load_model use (see
# rnnlab.models.saving_hook); importing it here puts them in place with the rest of the API.
import sys

from rnnlab import (callbacks, config, constraints, kernels, layers, losses, metrics, models, ops, optimizers,
                    random, regularizers, saving, tree, utils)
from rnnlab.engine.layer import KerasTensor, Layer
from rnnlab.initializers import Initializer
from rnnlab.losses import Loss
from rnnlab.metrics import Metric
from rnnlab.optimizers import Optimizer
from rnnlab.regularizers import Regularizer
from rnnlab.layers import Input, InputSpec
from rnnlab.kernels.native import runtime_info
from rnnlab.models import Model, Sequential
from rnnlab.version import __version__

# ``import tensorflow as tf`` code reaches Keras as ``tf.keras`` (``tf.keras.layers.LSTM``); after the import swap
# ``import rnnlab as tf`` that is rnnlab itself.
keras = sys.modules[__name__]

__all__ = ["Input", "Model", "Sequential", "Layer", "KerasTensor", "Initializer", "Loss", "Metric", "Optimizer",
           "Regularizer", "layers", "ops", "models", "optimizers", "losses", "metrics",
           "callbacks", "regularizers", "constraints",
           "convert", "inspect", "preprocessing", "saving", "utils", "config", "runtime_info", "random", "tree",
           "__version__"]


_LAZY = {"convert", "inspect", "preprocessing"}  # loaded on first use: the core does not need them


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"rnnlab.{name}")
    from rnnlab.tensorflow_names import missing_attribute  # tf.data, tf.GradientTape, ...: named in the error

    raise missing_attribute(__name__, name)
