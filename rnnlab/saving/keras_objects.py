"""Keras's ``serialize_keras_object`` / ``deserialize_keras_object`` for rnnlab's objects.

A serialized object is plain JSON-able data: ``{"module", "class_name", "config", "registered_name"}`` for a layer,
model, initializer, loss, metric, optimizer, learning-rate schedule, regularizer or constraint, each written by its
own module's ``serialize``; ``{"class_name": "function", "config": name, ...}`` for a named function; a NumPy array
as ``{"class_name": "__numpy__", "config": {"value", "dtype"}}``; lists, tuples and dicts item by item.

Reading never runs code from the data and never imports a module the data names: a class or function is found
in rnnlab's own tables, in ``custom_objects``, in a custom object scope or among the registered ones; anything
else (a lambda stored as code, an unknown class) is refused with an error naming it.
"""
from __future__ import annotations

import types

import numpy as np

from rnnlab import (activations, constraints, initializers, losses, metrics, optimizers, regularizers)
from rnnlab.engine.layer import Layer
from rnnlab.engine.serialization import get_registered_name, get_registered_object
from rnnlab.optimizers import schedules
from rnnlab.saving.config_reader import KerasLoadOptions, deserialize_layer_config
from rnnlab.saving.config_writer import serialize_layer_entry

# Keras's module name, base class and (serialize, deserialize) for each kind of object
_KINDS = (("keras.initializers", initializers.Initializer, initializers.serialize, initializers.deserialize),
          ("keras.losses", losses.Loss, losses.serialize, losses.deserialize),
          ("keras.metrics", metrics.Metric, metrics.serialize, metrics.deserialize),
          ("keras.optimizers", optimizers.Optimizer, optimizers.serialize, optimizers.deserialize),
          ("keras.optimizers.schedules", schedules.LearningRateSchedule, schedules.serialize, schedules.deserialize),
          ("keras.regularizers", regularizers.Regularizer, regularizers.serialize, regularizers.deserialize),
          ("keras.constraints", constraints.Constraint, constraints.serialize, constraints.deserialize))
_READERS = {module: deserialize for module, _, _, deserialize in _KINDS}


def _is_lambda(obj) -> bool:
    return isinstance(obj, types.LambdaType) and obj.__name__ == "<lambda>"


def serialize_keras_object(obj):
    """``obj`` as Keras's JSON-able config (see the module docstring); a lambda is refused (rnnlab stores no
    code)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}
    if isinstance(obj, (list, tuple)):
        return type(obj)(serialize_keras_object(item) for item in obj)
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, Layer):
        return serialize_layer_entry(obj)
    for module, base, serialize, _ in _KINDS:
        if isinstance(obj, base):
            written = serialize(obj)
            return {"module": written.get("module", module), "class_name": written["class_name"],
                    "config": written["config"], "registered_name": written.get("registered_name")}
    if _is_lambda(obj):
        raise ValueError("Cannot serialize a lambda: rnnlab never stores code; use a named function registered "
                         "with rnnlab.saving.register_keras_serializable.")
    if isinstance(obj, types.FunctionType):
        registered = get_registered_name(obj)
        if registered != obj.__name__:  # a registered function of the user's
            return {"module": obj.__module__, "class_name": "function", "config": registered,
                    "registered_name": registered}
        return {"module": "builtins", "class_name": "function", "config": obj.__name__, "registered_name": "function"}
    if hasattr(obj, "get_config"):  # a registered class of the user's
        return {"module": type(obj).__module__, "class_name": type(obj).__name__,
                "config": serialize_keras_object(obj.get_config()), "registered_name": get_registered_name(type(obj))}
    raise TypeError(f"Cannot serialize {obj!r} of type {type(obj).__name__}: rnnlab serializes layers, models, "
                    "initializers, losses, metrics, optimizers, schedules, regularizers, constraints, functions, "
                    "arrays and plain data.")


def _function(name, config, custom_objects):
    """A function named in a config: the user's (registered or in ``custom_objects``) or one of rnnlab's
    activations, losses or metric functions."""
    found = get_registered_object(name, custom_objects)
    if found is not None:
        return found
    for module in (activations, losses, metrics):
        fn = getattr(module, name, None) if isinstance(name, str) and not name.startswith("_") else None
        if isinstance(fn, types.FunctionType):
            return fn
    raise ValueError(f"Unknown function {name!r} in {config!r}: rnnlab has no activation, loss or metric of that "
                     "name; a function of your own must be registered or passed in custom_objects.")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object ``config`` describes (the inverse of :func:`serialize_keras_object`).

    ``safe_mode`` is accepted as in Keras; rnnlab refuses code stored in data (lambdas) in either mode.  Keras's
    other keyword arguments (``module_objects``...) are refused by name.
    """
    if kwargs:
        raise TypeError(f"deserialize_keras_object got unexpected keyword arguments {sorted(kwargs)}; rnnlab "
                        "accepts config, custom_objects and safe_mode.")
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"Argument `custom_objects` must be a dict; received {type(custom_objects).__name__}.")
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, (list, tuple)):
        return type(config)(deserialize_keras_object(item, custom_objects, safe_mode) for item in config)
    if not isinstance(config, dict):
        raise TypeError(f"Argument `config` must be a dict, list or plain value; received {type(config).__name__}.")
    class_name = config.get("class_name")
    if not isinstance(class_name, str):
        return {key: deserialize_keras_object(value, custom_objects, safe_mode) for key, value in config.items()}
    inner, module = config.get("config"), config.get("module")
    if class_name == "__lambda__":
        raise ValueError("The config holds a Python lambda stored as code; rnnlab never runs code from data.")
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__tuple__":
        return tuple(deserialize_keras_object(item, custom_objects, safe_mode) for item in inner["value"])
    if class_name == "function":
        return _function(config.get("registered_name") if config.get("registered_name") not in (None, "function")
                         else inner, config, custom_objects)
    custom = get_registered_object(config.get("registered_name") or class_name, custom_objects) or \
        get_registered_object(class_name, custom_objects)
    if custom is not None and not (isinstance(module, str) and module.startswith("keras.layers")):
        return custom.from_config(dict(inner or {}))
    if module in _READERS:
        return _READERS[module](config, custom_objects=custom_objects)
    if module in ("keras.layers", "keras", "keras.models", "keras.src.models.functional") or \
            class_name in ("Functional", "Sequential", "Model") or custom is not None:
        return deserialize_layer_config(config, KerasLoadOptions(custom_objects, safe_mode=safe_mode))
    raise TypeError(f"Could not locate class {class_name!r} (module {module!r}): rnnlab rebuilds its own layers, "
                    "models, initializers, losses, metrics, optimizers, schedules, regularizers and constraints, "
                    "and classes registered with rnnlab.saving.register_keras_serializable or passed in "
                    "custom_objects; it never imports a module a config names.")
