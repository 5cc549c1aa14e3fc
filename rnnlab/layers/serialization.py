"""Layer configs: ``{"class_name", "config"}`` dicts that rebuild a layer without executing any code."""
from __future__ import annotations


def _registry():
    from rnnlab import layers

    return {name: getattr(layers, name) for name in layers.__all__
            if isinstance(getattr(layers, name), type)}


def serialize_layer(layer) -> dict:
    return {"module": "keras.layers", "class_name": type(layer).__name__, "config": layer.get_config(),
            "registered_name": None}


def deserialize_layer(config: dict):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name' and 'config'; received {config!r}.")
    cls = _registry().get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer class {config['class_name']!r}: rnnlab does not support this layer.")
    return cls.from_config(dict(config.get("config", {})))
