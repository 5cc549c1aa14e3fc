"""Saving and loading. Every write goes to a temporary file that is renamed into place
(:mod:`rnnlab.utils.atomic`, which the callbacks that write files share).

The modules, each above the ones it imports: :mod:`.safe_h5` (files); :mod:`.keras_ops`,
:mod:`.config_writer` and :mod:`.config_reader` (Keras's JSON configs), :mod:`.compile_config` and
:mod:`.keras_optimizer_vars` (an optimizer's state as Keras lists it); the file layouts :mod:`.weights_npz`,
:mod:`.legacy_h5` and :mod:`.legacy_h5_writer` (the legacy ``.h5`` model, read and written) and
:mod:`.keras_weights_h5` (Keras 3's weights); :mod:`.keras_format` (the ``.keras`` archive, ``save_model`` and
``load_model`` for every model file); and :mod:`.model_files`, what the model methods do with files.  Importing
this package registers the models' entry points in :mod:`rnnlab.models.saving_hook`.  h5py is imported only when
a Keras file is read or written.
"""
from rnnlab.engine.serialization import (CustomObjectScope, custom_object_scope, get_custom_objects,
                                         get_registered_name, get_registered_object, register_keras_serializable)
from rnnlab import utils
from rnnlab.models import saving_hook
from rnnlab.saving import model_files
from rnnlab.utils.atomic import atomic_write
from rnnlab.saving.config_writer import serialize_model
from rnnlab.saving.keras_format import load_model, save_model
from rnnlab.saving.keras_objects import deserialize_keras_object, serialize_keras_object
from rnnlab.saving.keras_weights_h5 import load_weights_h5, save_weights_h5
from rnnlab.saving.legacy_h5_writer import keras_variable_paths
from rnnlab.saving.weights_npz import load_weights_npz, save_weights_npz

__all__ = ["atomic_write", "save_weights_npz", "load_weights_npz", "save_model", "load_model",
           "save_weights_h5", "load_weights_h5", "register_keras_serializable", "get_registered_name",
           "get_registered_object", "custom_object_scope", "CustomObjectScope", "get_custom_objects",
           "save_weights", "load_weights", "serialize_keras_object", "deserialize_keras_object"]

# Keras also has them as keras.utils.serialize_keras_object / deserialize_keras_object
utils.serialize_keras_object, utils.deserialize_keras_object = serialize_keras_object, deserialize_keras_object

saving_hook.register(saving_hook.FileFormats(
    save_model=save_model, load_model=load_model, save_weights=model_files.save_weights,
    load_weights=model_files.load_weights, model_config=model_files.model_config,
    model_from_config=model_files.model_from_config, model_object=serialize_model,
    variable_paths=keras_variable_paths))


def save_weights(model, filepath, overwrite=True, max_shard_size=None, **kwargs):
    """Keras's ``keras.saving.save_weights``: ``model.save_weights(filepath, overwrite=overwrite)``.  Sharding
    (``max_shard_size``) and other keyword arguments are refused by name."""
    if max_shard_size is not None or kwargs:
        raise ValueError(f"save_weights in rnnlab writes one file; it does not support "
                         f"{['max_shard_size'] if max_shard_size is not None else []}{sorted(kwargs)}.")
    return model.save_weights(filepath, overwrite=overwrite)


def load_weights(model, filepath, skip_mismatch=False, **kwargs):
    """Keras's ``keras.saving.load_weights``: ``model.load_weights(filepath)``; every weight must match
    (``skip_mismatch=True`` and other keyword arguments are refused by name)."""
    if skip_mismatch or kwargs:
        raise ValueError("load_weights in rnnlab loads every weight and checks its shape; it does not support "
                         f"skip_mismatch=True or {sorted(kwargs)}.")
    return model.load_weights(filepath)
