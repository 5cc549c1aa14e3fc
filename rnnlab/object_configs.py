"""Keras's ``{"module", "class_name", "config", "registered_name"}`` dicts for small configurable objects
(regularizers, constraints), written and read through a fixed table of classes: reading never imports or runs
anything named in a config, except classes the caller passes in ``custom_objects``."""
from __future__ import annotations


def serialize_object(obj, classes: dict, module: str, kind: str):
    """``obj``'s config dict as Keras writes it (``None`` stays ``None``); built-in classes get ``module``."""
    if obj is None:
        return None
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize the {kind} {obj!r}: it is a plain function. Subclass the {kind} base "
                        "class and define get_config() to save it.")
    cls = type(obj)
    builtin = classes.get(cls.__name__) is cls
    return {"module": module if builtin else cls.__module__, "class_name": cls.__name__,
            "config": obj.get_config(), "registered_name": None if builtin else cls.__name__}


def deserialize_object(config, classes: dict, kind: str, custom_objects=None):
    """The object a config dict describes: its ``class_name`` looked up in ``custom_objects``, then in
    ``classes``; built with ``cls.from_config(config["config"])``."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"A {kind} config must be a dict with a 'class_name'; received {config!r}.")
    name = config["class_name"]
    custom = custom_objects or {}
    cls = custom.get(name) or custom.get(config.get("registered_name")) or classes.get(name)
    if cls is None:
        raise ValueError(f"Unknown {kind} class {name!r}; rnnlab knows {sorted(classes)} (pass your own class "
                         "in custom_objects).")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise TypeError(f"The config of {kind} {name!r} must be a dict; received {inner!r}.")
    return cls.from_config(dict(inner))
