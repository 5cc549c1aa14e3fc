"""Writing the legacy full-model HDF5 file (``model.save("m.h5")``) the way Keras 3.15's legacy writer does.

The file, read back by :mod:`.legacy_h5` (and by ``keras.models.load_model``):

- root attributes ``keras_version`` and ``backend`` (text), ``model_config`` (JSON: ``{"class_name",
  "config"}`` of the model, whose top-level layer entries carry only ``class_name`` and ``config``, plus
  ``name`` and ``inbound_nodes`` in a functional model) and, for a compiled model saved with
  ``include_optimizer=True``, ``training_config`` (JSON: the compile arguments and ``optimizer_config``);
- the group ``model_weights``: attributes ``layer_names`` (every layer of ``model.layers``, in order; Keras
  operations such as ``NotEqual`` are not layers), ``backend`` and ``keras_version``; one subgroup per layer,
  created in name order, whose attribute ``weight_names`` lists the layer's trainable then non-trainable
  variables by their Keras path (``sequential/lstm/lstm_cell/kernel``: a Sequential's layers are built under
  its name) and whose datasets sit at those paths; and an empty ``top_level_model_weights`` subgroup;
- with ``include_optimizer=True`` on a compiled model, the group ``optimizer_weights``: the optimizer's
  variables as Keras lists them (:mod:`.keras_optimizer_vars`), named in ``weight_names``.

Keras writes ``backend`` as the backend that computed the weights; rnnlab writes ``"numpy"``, a Keras 3
backend name that no loader acts on (all Keras 3 backends share one weight layout).
"""
from __future__ import annotations

import io
import json
import logging
import os

import numpy as np

from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential
from rnnlab.utils.atomic import atomic_write
from rnnlab.saving.config_writer import KERAS_VERSION, check_keras3_writable, serialize_model
from rnnlab.saving.keras_ops import is_keras_op
from rnnlab.saving.keras_optimizer_vars import keras_optimizer_variables
from rnnlab.saving.safe_h5 import h5py_module

__all__ = ["save_legacy_model", "legacy_model_config", "keras_variable_paths", "LEGACY_SUFFIXES"]

LEGACY_SUFFIXES = (".h5", ".hdf5")
BACKEND = "numpy"
#: Keras splits a list attribute into ``name0``, ``name1``... above this many bytes (an HDF5 object header's room)
HDF5_OBJECT_HEADER_LIMIT = 64512

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------- configs

def _legacy_entries(config):
    """A model config whose top-level layer entries keep only what Keras's legacy serializer writes."""
    layers = []
    for entry in config["layers"]:
        out = {"class_name": entry["class_name"], "config": entry["config"]}
        if entry["class_name"] in ("Functional", "Sequential") and isinstance(entry["config"].get("layers"), list):
            out["config"] = _legacy_entries(entry["config"])  # a nested model
        for key in ("name", "inbound_nodes"):  # functional models only
            if key in entry:
                out[key] = entry[key]
        layers.append(out)
    return {**config, "layers": layers}


def legacy_model_config(model) -> dict:
    """``{"class_name", "config"}`` as Keras's legacy writer stores it in ``model_config``."""
    entry = serialize_model(model, with_build_config=False)
    return {"class_name": entry["class_name"], "config": _legacy_entries(entry["config"])}


def _legacy_value(value, where):
    """A compile argument in Keras's legacy form: objects as ``{"class_name", "config"}``, functions by name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_legacy_value(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _legacy_value(v, where) for k, v in value.items()}
    if not isinstance(value, type) and callable(getattr(value, "get_config", None)):
        return {"class_name": type(value).__name__,
                "config": {k: _legacy_value(v, where) for k, v in value.get_config().items()}}
    name = getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str) and name.isidentifier():
        return name
    raise ValueError(f"Cannot write {where} to a legacy .h5 file: {value!r} has no Keras config or name. Pass "
                     "include_optimizer=False to save the model without its compile settings.")


#: Keras's loss aliases, which Keras 3.15's legacy loader cannot read back (``losses.deserialize("mse")``
#: fails, so Keras's own ``.h5`` of a model compiled with ``loss="mse"`` does not load compiled): rnnlab
#: writes the loss function's full name instead, which means the same loss and loads.
KERAS_LOSS_FULL_NAMES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error", "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "MSLE": "mean_squared_logarithmic_error", "kld": "kl_divergence",
    "KLD": "kl_divergence", "bce": "binary_crossentropy", "BCE": "binary_crossentropy",
}


def _full_loss_names(loss):
    if isinstance(loss, str):
        return KERAS_LOSS_FULL_NAMES.get(loss, loss)
    if isinstance(loss, (list, tuple)):
        return [_full_loss_names(v) for v in loss]
    if isinstance(loss, dict):
        return {k: _full_loss_names(v) for k, v in loss.items()}
    return loss


def legacy_training_config(model) -> dict:
    """``training_config``: the compile arguments, then ``optimizer_config``."""
    args = dict(model._compile_config)
    args["loss"] = _full_loss_names(args["loss"])
    config = {key: _legacy_value(args[key], f"compile argument `{key}`")
              for key in ("loss", "loss_weights", "metrics", "weighted_metrics", "run_eagerly",
                          "steps_per_execution", "jit_compile")}
    optimizer = args["optimizer"]
    opt_config = optimizer.get_config()
    if callable(opt_config.get("learning_rate")):
        raise ValueError(f"The learning rate of optimizer {optimizer.name!r} is a Python callable, which a file "
                         "cannot hold; pass include_optimizer=False to save the model without its optimizer.")
    config["optimizer_config"] = {"class_name": type(optimizer).__name__,
                                  "config": _legacy_value(opt_config, "the optimizer's config")}
    return config


# ----------------------------------------------------------------------------------------------- weights

def keras_variable_paths(model) -> dict:
    """``{id(variable): Keras path}``: rnnlab's path, under the Sequential's name for a Sequential's layers
    (Keras builds them in its name scope); a nested model's variables keep the paths of its own layers."""
    prefix = f"{model.name}/" if isinstance(model, Sequential) else ""
    paths = {}
    for layer in model.layers:
        if isinstance(layer, Model):
            paths.update(keras_variable_paths(layer))
        else:
            paths.update((id(v), prefix + v.path) for v in layer.weights)
    return paths


def _write_name_list(group, name, items):
    """A list attribute of UTF-8 names, split into ``name0``, ``name1``... when too big for one header."""
    too_long = [x for x in items if len(x) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise ValueError(f"Cannot write the names {too_long[:3]} to an HDF5 attribute: each must be under "
                         f"{HDF5_OBJECT_HEADER_LIMIT} bytes.")
    chunks = [np.asarray(items)]
    while any(c.nbytes > HDF5_OBJECT_HEADER_LIMIT for c in chunks):
        chunks = np.array_split(np.asarray(items), len(chunks) + 1)
    if len(chunks) > 1:
        for i, chunk in enumerate(chunks):
            group.attrs[f"{name}{i}"] = chunk
    else:
        group.attrs[name] = items


def _write_arrays(group, named_arrays, where):
    names = [name for name, _ in named_arrays]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Cannot write {where}: several weights share the Keras path(s) {duplicates}.")
    _write_name_list(group, "weight_names", [n.encode("utf8") for n in names])
    for name, value in named_arrays:
        group.create_dataset(name, data=np.asarray(value))


def _layer_weights(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def _write_model_weights(group, model, paths):
    layers = [layer for layer in model.layers if not is_keras_op(layer)]
    _write_name_list(group, "layer_names", [layer.name.encode("utf8") for layer in layers])
    group.attrs["backend"] = BACKEND.encode("utf8")
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    for layer in sorted(layers, key=lambda item: item.name):  # sorted, as Keras creates them
        _write_arrays(group.create_group(layer.name),
                      [(paths[id(v)], v.value) for v in _layer_weights(layer)], f"layer {layer.name!r}")
    _write_arrays(group.create_group("top_level_model_weights"), [], "the model's own weights")


# ----------------------------------------------------------------------------------------------- the file

def _check_model(model):
    if not isinstance(model, Model):
        raise TypeError(f"Expected an rnnlab Model or Sequential; received {type(model).__name__}.")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet, so it has no weights: build it (give it an "
                         "rnnlab.Input or call it on data) first.")


def legacy_h5_bytes(model, include_optimizer=True) -> bytes:
    """The bytes of the legacy ``.h5`` file for ``model`` (written in memory; see the module docstring)."""
    _check_model(model)
    if not isinstance(include_optimizer, (bool, np.bool_)):
        raise TypeError(f"Argument `include_optimizer` must be a bool; received "
                        f"include_optimizer={include_optimizer!r}.")
    check_keras3_writable(model)
    compiled = bool(include_optimizer) and getattr(model, "_compiled", False)
    attrs = {"keras_version": KERAS_VERSION, "backend": BACKEND, "model_config": legacy_model_config(model)}
    paths = keras_variable_paths(model)
    optimizer_vars = None
    if compiled:
        attrs["training_config"] = legacy_training_config(model)
        optimizer_vars = keras_optimizer_variables(model.optimizer, model.trainable_weights, paths)
    h5py = h5py_module()
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value).encode("utf8") if isinstance(value, dict) else value
        _write_model_weights(f.create_group("model_weights"), model, paths)
        if optimizer_vars:
            _write_arrays(f.create_group("optimizer_weights"), optimizer_vars, "the optimizer's weights")
    return buffer.getvalue()


def save_legacy_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write ``model`` to ``filepath`` (``.h5``/``.hdf5``) in Keras's legacy HDF5 format, atomically.

    Logs a warning (as Keras does) that the format is legacy.  ``include_optimizer=True`` (the default) stores
    a compiled model's compile arguments and its optimizer's state; an uncompiled model has neither.  Missing
    parent directories are created, as Keras creates them.
    """
    filepath = os.fspath(filepath)
    if not filepath.lower().endswith(LEGACY_SUFFIXES):
        raise ValueError(f"Argument `filepath` must end in '.h5' or '.hdf5'; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    logger.warning(
        "Saving %r in the legacy HDF5 model format. Keras 3 reads it, but its own format is `.keras`: "
        "model.save('my_model.keras') writes a file that Keras 3 and rnnlab both load.", filepath)
    data = legacy_h5_bytes(model, include_optimizer=include_optimizer)
    directory = os.path.dirname(filepath)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with atomic_write(filepath) as f:
        f.write(data)
