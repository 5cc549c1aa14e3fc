"""Layer configs: ``{"class_name", "config"}`` dicts that rebuild a layer without executing any code.

A config names its class; only classes registered here can be rebuilt (:mod:`rnnlab.layers` registers every
layer and cell class it exports), so a file can never make rnnlab run code of its choosing.  The registry lives
down here, below the layers, so that a layer holding other layers (``RNN`` holding its cell, ``Bidirectional``,
``TimeDistributed``) serializes them without importing the package that defines them.
"""
from __future__ import annotations

_CLASSES: dict[str, type] = {}


def register_classes(classes) -> None:
    """Make each class rebuildable from a config that names it (by its ``__name__``)."""
    for cls in classes:
        _CLASSES[cls.__name__] = cls


def serialize_layer(layer) -> dict:
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def deserialize_layer(config: dict):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name' and 'config'; received {config!r}.")
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer class {config['class_name']!r}: rnnlab does not support this layer.")
    return cls.from_config(dict(config.get("config", {})))
