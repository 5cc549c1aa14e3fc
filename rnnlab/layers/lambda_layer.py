"""``Lambda``: a function of the input as a layer, as Keras 3's ``keras.layers.Lambda``.

The function is written with ``rnnlab.ops`` (``keras.ops`` after the import swap), Python operators or NumPy
ufuncs; while a model trains, those record themselves, so gradients flow through the layer without a
hand-written backward (:meth:`rnnlab.engine.layer.Layer.forward_backward`).

Files: a Lambda's config names its function.  A named function is written as Keras writes it
(``{"module", "class_name": "function", "config": name, "registered_name"}``) and read back only from what
the program supplies (``custom_objects``, ``custom_object_scope``, ``register_keras_serializable``) or, for
Keras's ops and activations (which Keras writes under the module ``"builtins"``), from rnnlab's of that name; a Python ``lambda`` is written as Keras writes it (its bytecode, which Keras
reads with ``safe_mode=False``), but rnnlab never runs code from a file, so reading one is refused.
"""
from __future__ import annotations

import base64
import inspect
import marshal
import types

import numpy as np

from rnnlab import activations, ops
from rnnlab.engine.layer import KerasTensor, Layer
from rnnlab.engine.serialization import get_registered_name, get_registered_object

class Lambda(Layer):
    """``outputs = function(inputs, **arguments)``.

    Args (Keras's): ``function`` (a callable; it also receives ``mask=`` and ``training=`` when its parameters
    are named so), ``output_shape`` (None: found by running the function on zeros of the input shape; a tuple
    without the batch axis, or a nested structure of them; or a callable ``input_shape -> output_shape``),
    ``mask`` (None: the layer drops its input's mask; a callable ``(inputs, mask) -> mask``; or a fixed mask
    array), ``arguments`` (a dict of keyword arguments for the function).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Argument `function` of Lambda must be a callable; received function={function!r} "
                            f"of type {type(function).__name__}.")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Argument `arguments` of Lambda must be a dict of keyword arguments for the function; "
                            f"received arguments={arguments!r}.")
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = _check_output_shape(output_shape)
        self.mask = mask
        self.supports_masking = mask is not None
        params = _parameter_names(function)
        self._fn_expects_mask_arg = "mask" in params
        self._fn_expects_training_arg = "training" in params

    # ------------------------------------------------------------------ running
    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    # ------------------------------------------------------------------ shapes
    def _infers_output_by_running(self):
        return self._output_shape is None

    def compute_output_shape(self, input_shape, *args, **kwargs):
        if self._output_shape is None:
            inputs = _map_shapes(lambda s: KerasTensor(s, self.dtype), input_shape)
            shapes, _ = self._probe_output_shape([inputs], {})
            return shapes
        if callable(self._output_shape):
            return _as_shape_structure(self._output_shape(input_shape))
        batch = _first_shape(input_shape)[0] if _first_shape(input_shape) else None
        return _map_shapes(lambda s: (batch,) + tuple(s), self._output_shape)

    def _probe_output_shape(self, args, kwargs):
        try:
            return super()._probe_output_shape(args, kwargs)
        except ValueError as exc:
            raise ValueError(
                f"Lambda layer {self.name!r}: could not infer the output shape of its function by running it on "
                f"zeros of the input shape ({exc.__cause__ or exc}). Pass `output_shape` to the Lambda layer."
            ) from exc

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {"function": _serialize_function(self.function, self.name)}
        if self._output_shape is not None:
            config["output_shape"] = _serialize_function(self._output_shape, self.name) \
                if callable(self._output_shape) else self._output_shape
        if self.mask is not None:
            config["mask"] = _serialize_function(self.mask, self.name) if callable(self.mask) else \
                {"class_name": "__numpy__", "config": {"value": np.asarray(self.mask).tolist(),
                                                       "dtype": np.asarray(self.mask).dtype.name}}
        config["arguments"] = {k: _serialize_value(v) for k, v in self.arguments.items()}
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild from a config; functions are looked up, never loaded from code (see the module docstring)."""
        config = dict(config)
        where = f"Lambda layer {config.get('name')!r}"
        if "function" not in config:
            raise ValueError(f"{where}: the config has no `function`.")
        config["function"] = _deserialize_function(config["function"], "function", where, custom_objects)
        if config.get("output_shape") is not None:
            value = config["output_shape"]
            config["output_shape"] = _deserialize_function(value, "output_shape", where, custom_objects) \
                if isinstance(value, dict) else _as_shape_structure(value)
        if config.get("mask") is not None:
            value = config["mask"]
            if isinstance(value, dict) and value.get("class_name") in ("__numpy__", "__tensor__"):
                config["mask"] = _deserialize_value(value, "mask", where)
            else:
                config["mask"] = _deserialize_function(value, "mask", where, custom_objects)
        if config.get("arguments") is not None:
            if not isinstance(config["arguments"], dict):
                raise TypeError(f"{where}: `arguments` must be a dict; found {config['arguments']!r}.")
            config["arguments"] = {k: _deserialize_value(v, f"arguments[{k!r}]", where)
                                   for k, v in config["arguments"].items()}
        return cls(**config)


# ---------------------------------------------------------------------------------------------------- helpers
def _parameter_names(function):
    """The function's parameter names, as Keras reads them (none for a callable without a signature)."""
    try:
        return tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return ()


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(d is None or (isinstance(d, (int, np.integer)) and not
                                                                   isinstance(d, bool)) for d in value)


def _map_shapes(fn, structure):
    """``fn`` applied to every shape (a tuple of ints/None) in a nested list/tuple/dict of shapes."""
    if _is_shape(structure):
        return fn(tuple(structure))
    if isinstance(structure, dict):
        return {k: _map_shapes(fn, v) for k, v in structure.items()}
    return [_map_shapes(fn, s) for s in structure]


def _first_shape(structure):
    if _is_shape(structure):
        return tuple(structure)
    items = list(structure.values()) if isinstance(structure, dict) else list(structure)
    return _first_shape(items[0]) if items else ()


def _as_shape_structure(value):
    """A shape, or a structure of shapes, with every shape a tuple (files store lists)."""
    if isinstance(value, (tuple, list, dict)):
        try:
            return _map_shapes(tuple, value)
        except TypeError:
            pass
    raise ValueError(f"Argument `output_shape` of Lambda must be a tuple of ints (or None), a structure of such "
                     f"tuples, or a callable; received output_shape={value!r}.")


def _check_output_shape(value):
    if value is None or callable(value):
        return value
    return _as_shape_structure(value)


def _serialize_function(fn, layer_name):
    """A callable as Keras's config writes it: a lambda as its bytecode, a named function by its name."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        code = base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__,
                                                       "closure": closure}}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"Lambda layer {layer_name!r}: cannot write the callable {fn!r} to a config: it has no "
                         "name. Use a function defined with `def`.")
    if getattr(ops, name, None) is fn:  # an op: Keras writes its own ops so, and reads them back by name
        return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}
    registered = get_registered_name(fn)
    return {"module": getattr(fn, "__module__", None), "class_name": "function", "config": registered,
            "registered_name": registered}


def _deserialize_function(value, key, where, custom_objects):
    """The callable a config names; a lambda's bytecode is refused (rnnlab never runs code from a file)."""
    if callable(value):
        return value
    if isinstance(value, dict) and value.get("class_name") == "__lambda__":
        raise ValueError(
            f"{where}: its `{key}` is a Python lambda stored as bytecode in the file; rnnlab never runs code from "
            "a file. Define the function with `def`, register it with rnnlab.saving.register_keras_serializable "
            "(or pass it in custom_objects) and save the model again from Keras, or rebuild this Lambda layer in "
            "code.")
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        raise ValueError(f"{where}: its `{key}` is Python bytecode (a legacy Lambda config); rnnlab never runs code "
                         "from a file. Rebuild this Lambda layer in code.")
    if isinstance(value, str):
        value = {"class_name": "function", "config": value, "module": None}
    if not isinstance(value, dict) or value.get("class_name") != "function" or \
            not isinstance(value.get("config"), str):
        raise ValueError(f"{where}: `{key}` must name a function; found {str(value)[:200]}.")
    name, registered, module = value["config"], value.get("registered_name"), value.get("module")
    for key_name in (registered, name):
        found = get_registered_object(key_name, custom_objects)
        if found is not None:
            return found
    # Keras writes its ops (keras.ops.square...) and activations as module "builtins": rnnlab's of that name
    if module == "builtins" or isinstance(module, str) and module.startswith(("keras.src.ops", "keras.ops")):
        found = getattr(ops, name, None)
        if callable(found) and not name.startswith("_"):
            return found
    if (module == "builtins" or isinstance(module, str) and module.startswith(("keras.src.activations",
                                                                                "keras.activations"))) and \
            name in activations.ACTIVATIONS:
        return activations.get(name)
    raise ValueError(
        f"{where}: its `{key}` is the function {name!r} (module {module!r}), which rnnlab does not have. rnnlab "
        "never imports code named in a file: pass the function in custom_objects={" + repr(name) + ": fn} or "
        "register it with rnnlab.saving.register_keras_serializable.")


def _serialize_value(value):
    """An ``arguments`` value in Keras's config form (tuples and arrays tagged, as Keras writes them)."""
    if isinstance(value, tuple):
        return {"class_name": "__tuple__", "config": {"value": [_serialize_value(v) for v in value]}}
    if isinstance(value, list):
        return [_serialize_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _serialize_value(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _deserialize_value(value, key, where):
    """An ``arguments`` value (or a fixed mask) from its config form; only plain data, never objects."""
    if isinstance(value, list):
        return [_deserialize_value(v, key, where) for v in value]
    if isinstance(value, dict):
        cls = value.get("class_name")
        inner = value.get("config")
        if cls == "__tuple__" and isinstance(inner, dict):
            return tuple(_deserialize_value(v, key, where) for v in inner.get("value", []))
        if cls in ("__numpy__", "__tensor__") and isinstance(inner, dict):
            return np.asarray(inner.get("value"), dtype=inner.get("dtype"))
        if cls is not None:
            raise ValueError(f"{where}: `{key}` holds an object of class {cls!r}; rnnlab reads plain values, "
                             "tuples and arrays there.")
        return {k: _deserialize_value(v, key, where) for k, v in value.items()}
    return value

