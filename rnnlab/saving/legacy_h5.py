"""Reading TF-Keras 2's full-model HDF5 files (``model.save("m.h5")``); :mod:`.legacy_h5_writer` writes them.

Such a file holds the model's JSON config in the root attribute ``model_config`` and its weights in the
group ``model_weights``: one subgroup per layer (the attribute ``layer_names`` lists them in order), each with
the attribute ``weight_names`` listing its arrays in the layer's weight order.  A weights-only file
(``save_weights("w.h5")``) has the same per-layer groups at its root.  Keras 3 writes the same layout when
asked for ``.h5``; the root attribute ``keras_version`` tells which Keras's meanings the config uses
(TF-Keras 2's ``hard_sigmoid`` is ``clip(0.2 x + 0.5, 0, 1)``, Keras 3's is ``relu6(x + 3) / 6``).

Weights are matched to layers by name when loading a whole model (the names come from the same file), and
in order of the layers that have weights when loading weights into an existing model, as Keras does.
A stored ``training_config`` compiles the loaded model (when rnnlab has its optimizer and loss), and the
``optimizer_weights`` group then restores the optimizer's iterations and state, as Keras does.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from rnnlab.engine.allocation import allocation_budget, weights_budget
from rnnlab.saving.compile_config import compile_from_config
from rnnlab.saving.config_json import parse_config_json
from rnnlab.saving.config_reader import KerasLoadOptions, deserialize_model
from rnnlab.saving.keras_optimizer_vars import keras_optimizer_shapes, restore_optimizer_variables
from rnnlab.saving.safe_h5 import (READ_ERRORS, child, group_at, h5py_module, open_h5, read_attr, read_dataset,
                                  stored_elements)

__all__ = ["load_legacy_model", "read_legacy_weights", "is_legacy_keras_version"]


def _text(value, what):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} is not UTF-8 text.") from None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _text(value.item(), what)
    if not isinstance(value, str):
        raise ValueError(f"{what} is not text (found {type(value).__name__}).")
    return value


def _names(attr, what):
    """A list of strings from an HDF5 attribute (arrays of bytes or str)."""
    if attr is None:
        return []
    arr = np.asarray(attr)
    if arr.size == 0:
        return []
    if arr.ndim != 1:
        raise ValueError(f"{what} is not a list of names.")
    return [_text(v, what) for v in arr.tolist()]


def _names_attr(group, name, source):
    """The list attribute ``name`` of ``group``, joined from ``name0``, ``name1``... when Keras split it."""
    what = f"{source}: {name} of {group.name!r}"
    if name in group.attrs or f"{name}0" not in group.attrs:
        return _names(read_attr(group, name, source), what)
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(_names(read_attr(group, f"{name}{i}", source), what))
        i += 1
    return out


def is_legacy_keras_version(version) -> bool:
    """True for files whose configs follow TF-Keras 2 / Keras 2 (any version before 3)."""
    if not isinstance(version, str) or not version[:1].isdigit():
        return True  # very old files carry no version; Keras 3 always writes one
    return int(version.split(".")[0]) < 3


def _weights_root(f):
    group = child(f, "model_weights")
    return f if group is None else group


def _layer_arrays(root, layer_name, variables, source):
    """The stored arrays of one layer group, checked against ``variables``."""
    h5py = h5py_module()
    group = child(root, layer_name, source)
    if group is None:
        raise ValueError(f"{source} has no weights group for layer {layer_name!r}.")
    if not isinstance(group, h5py.Group):
        raise ValueError(f"{source}: {layer_name!r} is not a group.")
    names = _names_attr(group, "weight_names", source)
    if len(names) != len(variables):
        raise ValueError(
            f"{source}: layer {layer_name!r} stores {len(names)} weight(s) but the model's layer has "
            f"{len(variables)} ({[tuple(v.shape) for v in variables]})."
        )
    values = []
    for name, var in zip(names, variables):
        parent, _, key = name.rpartition("/")
        where = f"{source}, {layer_name}/{name} (weight {var.path!r})"
        holder = group
        for part in parent.split("/") if parent else []:
            holder = child(holder, part, where)
            if not isinstance(holder, h5py.Group):
                raise ValueError(f"{where}: missing from the file.")
        values.append(read_dataset(holder, key, var.shape, where, integer=var.value.dtype.kind in "iu"))
    return values


def _layers_with_weights(model):
    return [layer for layer in model.layers if layer.weights]


def _stored_layers(root, source):
    names = _names_attr(root, "layer_names", source)
    h5py = h5py_module()
    out = []
    for name in names:
        group = child(root, name, source)
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{source} lists layer {name!r} but has no group for it.")
        if _names_attr(group, "weight_names", source):
            out.append(name)
    return out


def read_legacy_weights(model, f, source="the weights file", by_name=False):
    """Load ``model``'s weights from an open legacy file (full model or weights only); nothing changes on error.

    ``by_name=False`` pairs the model's layers that have weights with the stored layers that have weights, in
    order (Keras's rule); ``by_name=True`` pairs them by layer name.
    """
    try:
        return _read_legacy_weights(model, f, source, by_name)
    except READ_ERRORS as exc:
        raise ValueError(f"{source} could not be read ({type(exc).__name__}: {exc}).") from None


def _read_legacy_weights(model, f, source, by_name):
    root = _weights_root(f)
    if "layer_names" not in root.attrs and "layer_names0" not in root.attrs:
        raise ValueError(f"{source} is not a Keras weights file (it has no `layer_names`).")
    stored = _stored_layers(root, source)
    layers = _layers_with_weights(model)
    if by_name:
        missing = [layer.name for layer in layers if layer.name not in stored]
        extra = [n for n in stored if n not in {layer.name for layer in layers}]
        if missing or extra:
            raise ValueError(f"{source} does not match model {model.name!r}: no weights for layers {missing}; "
                             f"weights for unknown layers {extra}.")
        pairs = [(layer, layer.name) for layer in layers]
    else:
        if len(stored) != len(layers):
            raise ValueError(
                f"{source} stores weights for {len(stored)} layer(s) {stored} but model {model.name!r} has "
                f"{len(layers)} layer(s) with weights {[layer.name for layer in layers]}."
            )
        pairs = list(zip(layers, stored))
    assignments = []
    for layer, name in pairs:
        variables = layer.weights
        assignments.extend(zip(variables, _layer_arrays(root, name, variables, source)))
    for var, value in assignments:
        var.value[...] = value.astype(var.value.dtype, copy=False)


def load_legacy_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild the model stored in a legacy ``.h5`` file and load its weights."""
    filepath = os.fspath(filepath)
    source = f"File {filepath!r}"
    with open_h5(filepath, source) as f:
        try:
            return _load(f, filepath, source, custom_objects, compile, safe_mode)
        except READ_ERRORS as exc:
            raise ValueError(f"{source} could not be read ({type(exc).__name__}: {exc}).") from None
        except RecursionError:
            raise ValueError(f"{source}: the model config is nested too deeply.") from None
        except (OverflowError, MemoryError) as exc:
            raise ValueError(f"{source}: malformed model config ({type(exc).__name__}: {exc}).") from None


def _load(f, filepath, source, custom_objects, compile, safe_mode):
    if "model_config" not in f.attrs:
        if "layer_names" in f.attrs or child(f, "layers") is not None or child(f, "vars") is not None:
            raise ValueError(f"{source} holds only weights (no model config): build the model and call "
                             "model.load_weights(...) instead of load_model.")
        raise ValueError(f"{source} is not a Keras model file: it has no `model_config` attribute.")
    text = _text(read_attr(f, "model_config", source), f"{source}: model_config")
    config = parse_config_json(text, f"{source}: model_config")
    version = read_attr(f, "keras_version", source)
    version = _text(version, f"{source}: keras_version") if version is not None else None
    weights = child(f, "model_weights")
    if weights is None:
        raise ValueError(f"{source} has a model config but no `model_weights` group.")
    stored = stored_elements(weights, source)  # from the dataset headers: what the model may allocate
    opts = KerasLoadOptions(custom_objects, safe_mode, legacy=is_legacy_keras_version(version),
                            max_elements=max(stored, 1024))
    with allocation_budget(weights_budget(stored), source):
        model = deserialize_model(config, opts)
    read_legacy_weights(model, f, source, by_name=True)
    if compile and "training_config" in f.attrs:
        _compile_legacy(model, f, source)
    return model


def _compile_legacy(model, f, source):
    """Compile with the stored optimizer, loss and metrics when rnnlab has them (otherwise leave the model
    uncompiled, with a warning), then restore the optimizer's state from ``optimizer_weights`` as Keras does."""
    try:
        training = parse_config_json(_text(read_attr(f, "training_config", source), f"{source}: training_config"),
                                     f"{source}: training_config")
    except ValueError:
        warnings.warn(f"{source}: unreadable training_config; the model is not compiled.", stacklevel=3)
        return
    if not isinstance(training, dict):
        return
    compile_from_config(model, {"optimizer": training.get("optimizer_config"), "loss": training.get("loss"),
                                "loss_weights": training.get("loss_weights"), "metrics": training.get("metrics"),
                                "weighted_metrics": training.get("weighted_metrics")}, source)
    if getattr(model, "_compiled", False) and child(f, "optimizer_weights") is not None:
        try:
            _restore_optimizer(model, child(f, "optimizer_weights"), source)
        except ValueError as exc:
            warnings.warn(f"{source}: the saved optimizer state was not restored ({exc}); the optimizer starts "
                          "fresh.", stacklevel=3)


def _restore_optimizer(model, group, source):
    """The optimizer's iterations, learning rate and state, listed as Keras lists them (see
    :mod:`.keras_optimizer_vars`)."""
    h5py = h5py_module()
    if not isinstance(group, h5py.Group):
        raise ValueError("optimizer_weights is not a group")
    trainable = model.trainable_weights
    shapes = keras_optimizer_shapes(model.optimizer, trainable)
    names = _names_attr(group, "weight_names", source)
    if len(names) > len(shapes):
        raise ValueError(f"{len(names)} stored variables, the optimizer has {len(shapes)}")
    values = []
    for i, (name, shape) in enumerate(zip(names, shapes)):
        parent, _, key = name.rpartition("/")
        holder = group_at(group, parent)
        where = f"{source}, optimizer_weights/{name}"
        if holder is None:
            raise ValueError(f"{where}: missing from the file")
        values.append(_read_count(holder, key, where) if i == 0 else read_dataset(holder, key, shape, where))
    restore_optimizer_variables(model.optimizer, trainable, values, source)


def _read_count(group, key, where):
    """The optimizer's iteration count: an integer scalar dataset."""
    h5py = h5py_module()
    ds = child(group, key, where)
    if not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual or ds.shape != () or \
            ds.dtype.kind not in "iu":
        raise ValueError(f"{where}: expected an integer scalar")
    return np.asarray(ds[()])
