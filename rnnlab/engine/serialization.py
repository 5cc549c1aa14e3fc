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
    cls = _CLASSES.get(config["class_name"]) or get_registered_object(config.get("registered_name")) or \
        get_registered_object(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer class {config['class_name']!r}: rnnlab does not support this layer; a "
                         "class of your own must be registered (rnnlab.saving.register_keras_serializable) or "
                         "passed in custom_objects.")
    return cls.from_config(dict(config.get("config", {})))


# ------------------------------------------------------------------ the user's classes, named by the user
_REGISTERED: dict[str, object] = {}  # "package>name" -> class or function
_NAMES: dict[int, str] = {}  # id(object) -> "package>name"
_SCOPES: list[dict] = []


def register_keras_serializable(package="Custom", name=None):
    """Decorator, as Keras's: registers a class or function under ``"package>name"`` (default: its
    ``__name__``) so that configs and files naming it rebuild it. Only what the program registers is found:
    a file can name a registered object, never import one."""
    if not isinstance(package, str) or not package:
        raise TypeError(f"Argument `package` must be a non-empty string; received package={package!r}.")

    def decorate(obj):
        key = f"{package}>{name or getattr(obj, '__name__', None)}"
        if key.endswith(">None"):
            raise TypeError(f"register_keras_serializable needs a named class or function; received {obj!r}.")
        if hasattr(obj, "__mro__") and "get_config" not in vars(obj) and not any(
                "get_config" in vars(base) for base in obj.__mro__[1:-1]):
            raise ValueError(f"Cannot register {obj.__name__!r}: a class must have a get_config() method.")
        _REGISTERED[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorate


def get_registered_name(obj) -> str:
    """``"package>name"`` for a registered object, else its ``__name__``, as Keras."""
    return _NAMES.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


class CustomObjectScope:
    """``with CustomObjectScope({"Name": cls}):`` makes those objects known to configs read meanwhile."""

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError("Argument `custom_objects` must be a dict mapping names to classes or functions; "
                            f"received {type(custom_objects).__name__}.")
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _SCOPES.pop()


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """Keras's ``get_custom_objects``: the global dict of registered objects (``"package>name"`` -> object).
    Adding to it (``get_custom_objects()["my_fn"] = my_fn``) makes configs naming that key rebuild it."""
    return _REGISTERED


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object a config names: from ``custom_objects``, then the active scopes, then the registry (by
    ``"package>name"``; a name without a package also matches the one registered object of that name, if only
    one has it); else None.  A name with a package never resolves to another package's object."""
    if not isinstance(name, str):
        return None
    for table in [custom_objects or {}] + _SCOPES[::-1] + [module_objects or {}]:
        if name in table:
            return table[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    bare = name.rsplit(">", 1)[-1]
    for table in [custom_objects or {}] + _SCOPES[::-1]:
        if bare in table:
            return table[bare]
    if bare != name:
        return None
    matches = [obj for key, obj in _REGISTERED.items() if key.rsplit(">", 1)[-1] == bare]
    return matches[0] if len(matches) == 1 else None
