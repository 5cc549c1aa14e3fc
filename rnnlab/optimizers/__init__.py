"""Optimizers, as ``keras.optimizers``: ``SGD``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adagrad``, ``Nadam``,
``Adamax``, ``Adadelta``, ``Lion``.

>>> opt = rnnlab.optimizers.get("adam")                     # or Adam(learning_rate=1e-3), or a config dict
>>> opt.apply_gradients(zip(grads, model.trainable_weights))  # NumPy gradients; variables updated in place

See :mod:`rnnlab.optimizers.base` for what one update does, and :mod:`rnnlab.optimizers.schedules` for
learning-rate schedules.
"""
from __future__ import annotations

from rnnlab.optimizers import schedules
from rnnlab.optimizers.adadelta import Adadelta
from rnnlab.optimizers.adagrad import Adagrad
from rnnlab.optimizers.adam import Adam
from rnnlab.optimizers.adamax import Adamax
from rnnlab.optimizers.adamw import AdamW
from rnnlab.optimizers.base import Optimizer
from rnnlab.optimizers.lion import Lion
from rnnlab.optimizers.nadam import Nadam
from rnnlab.optimizers.rmsprop import RMSprop
from rnnlab.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Nadam", "Adamax", "Adadelta", "Lion",
           "get", "serialize", "deserialize", "schedules"]

ALL_OBJECTS = (SGD, RMSprop, Adam, AdamW, Adagrad, Nadam, Adamax, Adadelta, Lion)
# Keras looks optimizer names up case-insensitively by class name.
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in ALL_OBJECTS}


def serialize(optimizer: Optimizer) -> dict:
    """The Keras-style ``{"module", "class_name", "config", "registered_name"}`` dict of ``optimizer``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"Argument `optimizer` must be an rnnlab Optimizer; received {optimizer!r} of type "
            f"{type(optimizer).__name__}."
        )
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def _lookup(name, argument: str):
    cls = ALL_OBJECTS_DICT.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Argument `{argument}` must be one of {sorted(ALL_OBJECTS_DICT)} (case-insensitive), an Optimizer "
            f"instance or an optimizer config dict; received {argument}={name!r}."
        )
    return cls


def deserialize(config: dict, custom_objects=None) -> Optimizer:
    """Rebuild an optimizer from :func:`serialize`'s (or Keras's) dict."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "An optimizer config must be a dict with 'class_name' and 'config' keys; received "
            f"optimizer={config!r}."
        )
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        cls = _lookup(name, "optimizer")
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier):
    """An optimizer from a name (``"adam"``, ``"SGD"``...), a config dict, or an instance (returned as is)."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return _lookup(identifier, "optimizer")()
    raise ValueError(
        f"Argument `optimizer` must be one of {sorted(ALL_OBJECTS_DICT)} (case-insensitive), an Optimizer "
        f"instance or an optimizer config dict; received optimizer={identifier!r} of type "
        f"{type(identifier).__name__}."
    )
