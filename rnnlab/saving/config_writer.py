"""Writing model configs in Keras 3's JSON form (what a ``.keras`` file's ``config.json`` holds).

:func:`serialize_model` turns an rnnlab ``Model``/``Sequential`` into Keras 3's object dict: every layer's
``get_config()`` plus, for functional models, each layer call ("inbound node") with its arguments, symbolic
tensors written as ``__keras_tensor__`` references ``[layer name, node index, tensor index]``.
:func:`check_keras3_writable` refuses, before anything is written, a model that such a file cannot describe
as the same computation.  Reading the configs back is :mod:`.config_reader`'s job.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations, backend, nest
from rnnlab import layers as layers_module
from rnnlab.engine.layer import KerasTensor, Layer
from rnnlab.engine.serialization import get_registered_name
from rnnlab.layers.input_layer import InputLayer
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential
from rnnlab.saving.keras_ops import is_keras_op

__all__ = ["serialize_model", "serialize_layer_entry", "check_keras3_writable", "functional_config",
           "sequential_config", "KERAS_VERSION"]

KERAS_FUNCTIONAL_MODULE = "keras.src.models.functional"
KERAS_VERSION = "3.15.1"  # the Keras whose file formats rnnlab writes (and tests against)


def _keras_activation_name(fn, where):
    name = activations.serialize(fn)
    if name == "hard_sigmoid_tf2":
        raise ValueError(
            f"{where} uses TF-Keras 2's hard_sigmoid (0.2 * x + 0.5), which Keras 3 does not have: a Keras 3 "
            "file cannot express it. Keep such models in rnnlab's .weights.npz, or rebuild the layer with "
            "Keras 3's 'hard_sigmoid'."
        )
    if name not in activations.ACTIVATIONS:
        raise ValueError(
            f"{where} uses the custom activation {name!r}; a Keras file can only name built-in activations "
            f"({sorted(activations.ACTIVATIONS)})."
        )
    return name


def check_keras3_writable(model):
    """Refuse a model that a Keras 3 file cannot describe as the same computation (before writing anything)."""
    seen, stack = set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen or not isinstance(layer, Layer):
            continue
        seen.add(id(layer))
        where = f"Layer {layer.name!r} ({type(layer).__name__})"
        for key in ("activation", "recurrent_activation"):
            fn = layer.__dict__.get(key)
            if fn is not None and callable(fn) and not (key == "recurrent_activation" and
                                                        not getattr(layer, "has_recurrent_activation", True)):
                _keras_activation_name(fn, where)
        for key in ("_standardize", "_split"):  # TextVectorization
            fn = layer.__dict__.get(key)
            if callable(fn):
                raise ValueError(
                    f"{where} has a Python callable as `{key[1:]}` ({getattr(fn, '__name__', fn)!r}); a Keras file "
                    "can only name the built-in modes. Save with a built-in mode, or keep the layer in code."
                )
        stack.extend(layer.layers if isinstance(layer, Model) else layer._sublayers())


def serialize_layer_entry(layer) -> dict:
    """``{"module", "class_name", "config", "registered_name"}`` for one layer (models included)."""
    if isinstance(layer, Model):
        return serialize_model(layer, with_build_config=False)
    if is_keras_op(layer):
        return {"module": layer.module, "class_name": layer.op, "config": layer.get_config(),
                "registered_name": layer.op}
    cls_name = type(layer).__name__
    if getattr(layers_module, cls_name, None) is not type(layer):
        # a custom layer: written under its class name; reading it back needs custom_objects (and
        # a registered class: rnnlab.saving.register_keras_serializable, as in Keras)
        return {"module": type(layer).__module__, "class_name": cls_name,
                "config": _jsonable(layer.get_config(), layer.name),
                "registered_name": get_registered_name(type(layer))}
    config = layer.get_config()
    # wrapped layers go through the same checks
    if isinstance(layer, layers_module.Bidirectional):
        config["layer"] = serialize_layer_entry(layer.forward_layer)
        config["backward_layer"] = serialize_layer_entry(layer.backward_layer)
    elif isinstance(layer, layers_module.TimeDistributed):
        config["layer"] = serialize_layer_entry(layer.layer)
    elif isinstance(layer, layers_module.StackedRNNCells):
        config["cells"] = [serialize_layer_entry(c) for c in layer.cells]
    elif type(layer) is layers_module.RNN:
        config["cell"] = serialize_layer_entry(layer.cell)
    return {"module": "keras.layers", "class_name": cls_name, "config": _jsonable(config, layer.name),
            "registered_name": None}


def _jsonable(value, where):
    """Plain JSON types only (tuples become lists); anything else is refused with a clear message."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    raise ValueError(
        f"Cannot write the config of {where!r} to a Keras file: it holds a {type(value).__name__} "
        f"({value!r}), which has no JSON form."
    )


def _kept_nodes(model):
    """For every layer, the indices (in ``layer._inbound_nodes``) of the calls that belong to ``model``,
    renumbered from 0 in call order (an unused model input keeps its own node 0)."""
    in_model = {id(n) for n in model._nodes}
    mapping = {}
    for layer in model.layers:
        kept = 0
        for i, node in enumerate(layer._inbound_nodes):
            if id(node) in in_model or (node.is_input and i == 0):
                mapping[(id(layer), i)] = kept
                kept += 1
    return mapping


def _tensor_ref(tensor, mapping, io_ref=False):
    """``[layer name, node index, tensor index]``; Keras numbers a functional sub-model's calls from 1 in
    ``input_layers``/``output_layers`` (its call 0 being its own graph), but from 0 in call arguments."""
    layer, node_index, tensor_index = tensor._history
    key = (id(layer), node_index)
    if key not in mapping:
        raise ValueError(f"Tensor {tensor.name!r} comes from a layer call outside the model; cannot save it.")
    offset = 1 if io_ref and isinstance(layer, Model) and not isinstance(layer, Sequential) else 0
    return [layer.name, mapping[key] + offset, tensor_index]


def _serialize_call_value(value, mapping, where):
    if isinstance(value, KerasTensor):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(value.shape), "dtype": value.dtype,
                           "keras_history": _tensor_ref(value, mapping)}}
    if isinstance(value, (list, tuple)):
        return [_serialize_call_value(v, mapping, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _serialize_call_value(v, mapping, where) for k, v in value.items()}
    return _jsonable(value, where)


def functional_config(model) -> dict:
    """The ``config`` of a Keras 3 ``Functional`` for ``model``."""
    for t in model.inputs:
        if not isinstance(t._history[0], InputLayer):
            raise ValueError(
                f"Model {model.name!r}: input {t.name!r} is not an rnnlab.Input, so the model cannot be written "
                "as a Keras functional config."
            )
    mapping = _kept_nodes(model)
    in_model = {id(n) for n in model._nodes}
    layer_configs = []
    for layer in model.layers:
        entry = serialize_layer_entry(layer)
        nodes = []
        for node in layer._inbound_nodes:
            if id(node) not in in_model or node.is_input:
                continue
            where = f"a call of layer {layer.name!r}"
            nodes.append({"args": [_serialize_call_value(a, mapping, where) for a in node.call_args],
                          "kwargs": {k: _serialize_call_value(v, mapping, where)
                                     for k, v in node.call_kwargs.items()}})
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes
        layer_configs.append(entry)

    def refs(structure):
        if nest.is_nested(structure):
            return [refs(s) for s in structure]
        return _tensor_ref(structure, mapping, io_ref=True)

    return {"name": model.name, "trainable": bool(model.trainable), "layers": layer_configs,
            "input_layers": refs(model._inputs_struct), "output_layers": refs(model._outputs_struct)}


def sequential_config(model) -> dict:
    """The ``config`` of a Keras 3 ``Sequential`` for ``model`` (its input layer first, once built)."""
    if not model.built:  # no input shape yet: the layers alone, as Keras writes an unbuilt Sequential
        return {"name": model.name, "trainable": bool(model.trainable), "dtype": backend.floatx(),
                "layers": [serialize_layer_entry(layer) for layer in model.layers]}
    input_layer = model.inputs[0]._history[0]
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": _jsonable(input_layer.get_config(), input_layer.name), "registered_name": None}]
    layers += [serialize_layer_entry(layer) for layer in model.layers]
    return {"name": model.name, "trainable": bool(model.trainable), "dtype": backend.floatx(), "layers": layers,
            "build_input_shape": list(input_layer.batch_shape)}


def serialize_model(model, with_build_config=True) -> dict:
    """The full Keras 3 object dict of ``model`` (what ``config.json`` holds)."""
    if not isinstance(model, Model):
        raise TypeError(f"Expected an rnnlab Model or Sequential; received {type(model).__name__}.")
    if isinstance(model, Sequential):
        config = sequential_config(model)
        out = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
        if with_build_config and "build_input_shape" in config:
            out["build_config"] = {"input_shape": config["build_input_shape"]}
        return out
    out = {"module": KERAS_FUNCTIONAL_MODULE, "class_name": "Functional", "config": functional_config(model),
           "registered_name": "Functional"}
    if with_build_config:
        out["build_config"] = {"input_shape": None}
    return out
