"""Utilities: the data helpers of ``keras.utils``, ``set_random_seed`` for repeatable runs, and ``Progbar``, the
progress bar of ``fit`` and ``predict``."""
from rnnlab.backend import clear_session
from rnnlab.engine.serialization import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                         get_registered_name, get_registered_object, register_keras_serializable)
from rnnlab.random import set_random_seed
from rnnlab.utils.data_tuples import pack_x_y_sample_weight, unpack_x_y_sample_weight
from rnnlab.utils import np_utils
from rnnlab.utils.graph_inputs import get_source_inputs, is_keras_tensor
from rnnlab.utils.numerical import normalize, to_categorical
from rnnlab.utils.progbar import Progbar
from rnnlab.utils.py_dataset import PyDataset, Sequence
from rnnlab.utils.sequences import pad_sequences
from rnnlab.utils.split import split_dataset
from rnnlab.utils.timeseries import timeseries_dataset_from_array

__all__ = ["set_random_seed", "Progbar", "pad_sequences", "to_categorical", "normalize",
           "timeseries_dataset_from_array", "PyDataset", "Sequence", "np_utils", "clear_session",
           "CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "register_keras_serializable", "pack_x_y_sample_weight",
           "unpack_x_y_sample_weight", "split_dataset", "get_source_inputs", "is_keras_tensor",
           "serialize_keras_object", "deserialize_keras_object"]


# serialize_keras_object and deserialize_keras_object are set here by rnnlab.saving, which sits above the models
# that use these utilities (importing them here would be a cycle); ``import rnnlab`` always imports rnnlab.saving.
