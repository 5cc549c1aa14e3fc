"""Keras 3's weights layout in HDF5 (``*.weights.h5``, and ``model.weights.h5`` inside a ``.keras`` archive).

Keras addresses weights by where an object sits, not by its name: the model's layers are the container
``layers``, each entry named after its class in snake case and numbered in layer order (``lstm``, ``lstm_1``,
``input_layer``...); inside a layer, wrapped objects are named by the attribute that holds them (``cell``,
``forward_layer``, ``backward_layer``, ``layer``, ``cells/<class>``).  Every object's own variables are the
datasets ``0``, ``1``... of its group ``<path>/vars`` (the group's ``name`` attribute records the object's
name).  For example ``layers/bidirectional/forward_layer/cell/vars/0`` is the forward LSTM's kernel.

Reading checks everything before assigning anything: every expected dataset must exist with the variable's
exact shape, a real float dtype and finite values, and the file must hold no layer weights the model does not
use (the checks on the file itself are :mod:`.safe_h5`'s).  A ``.h5`` weights file in TF-Keras 2's layout is
handed to :mod:`.legacy_h5`.  h5py is imported only when one of these functions runs.
"""
from __future__ import annotations

import io
import logging
import os
import re
import warnings

import numpy as np

from rnnlab import layers as L
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential
from rnnlab.utils.atomic import atomic_write
from rnnlab.saving.keras_ops import is_keras_op
from rnnlab.saving.keras_optimizer_vars import (keras_optimizer_shapes, keras_optimizer_variables,
                                                restore_optimizer_variables)
from rnnlab.saving.legacy_h5 import read_legacy_weights
from rnnlab.saving.legacy_h5_writer import keras_variable_paths
from rnnlab.saving.safe_h5 import (READ_ERRORS, child, dataset_paths, group_at, h5py_module, open_h5, read_attr,
                                   read_dataset, stored_elements)

SUFFIX = ".weights.h5"
_logger = logging.getLogger(__name__)

__all__ = ["save_weights_h5", "load_weights_h5", "write_weights", "read_weights", "keras_weight_entries",
           "weights_bytes", "keras_class_key", "stored_layer_elements", "optimizer_state", "read_optimizer_state"]


# ----------------------------------------------------------------------------------------------- the tree

def keras_class_key(name: str) -> str:
    """Keras's snake_case of a class name (``GRUCell`` -> ``gru_cell``), used for weight-file paths."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _class_name(obj):
    if isinstance(obj, Sequential):
        return "Sequential"
    if isinstance(obj, Model):
        return "Functional"
    return type(obj).__name__


def _children(obj):
    """``[(attribute, child or list of children)]`` as Keras visits them."""
    if isinstance(obj, Model):  # Keras operations in the graph are not layers: no weights path
        return [("layers", [layer for layer in obj.layers if not is_keras_op(layer)])]
    if isinstance(obj, L.RNN):
        return [("cell", obj.cell)]
    if isinstance(obj, L.StackedRNNCells):
        return [("cells", list(obj.cells))]
    if isinstance(obj, L.Bidirectional):
        return [("backward_layer", obj.backward_layer), ("forward_layer", obj.forward_layer)]
    if isinstance(obj, L.TimeDistributed):
        return [("layer", obj.layer)]
    # a custom layer: the sublayers it holds in its attributes, in Keras's attribute order
    subs = {id(s) for s in obj._sublayers()}
    found = []
    for attr, value in vars(obj).items():
        if attr.startswith("__") or attr == "_parent":
            continue
        if isinstance(value, L.Layer) and id(value) in subs:
            found.append((attr, value))
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, L.Layer) and id(v) in subs
                                                                for v in value):
            found.append((attr, list(value)))
    return sorted(found, key=lambda item: "~" + item[0] if item[0].startswith("_") else item[0])


def _own_variables(obj):
    own = list(getattr(obj, "_own_weights", []))
    return [w for w in own if w.trainable] + [w for w in own if not w.trainable]


def _named_state(obj):
    """Arrays that Keras stores under a name, not a number, in an object's ``vars`` group."""
    method = getattr(obj, "keras_named_state", None)
    return method() if callable(method) else {}


def _named_state_shapes(obj):
    method = getattr(obj, "keras_named_state_shapes", None)
    return method() if callable(method) else {}


def keras_weight_entries(model, resolve=None):
    """``[(path, object, own variables)]`` for every object Keras would visit, in its visiting order.

    ``resolve(container path, items, keys)`` may replace the positional keys of a container's items (see
    :func:`read_weights`'s ``by_name``)."""
    out, visited = [], set()

    def walk(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        out.append((path, obj, _own_variables(obj)))
        for attr, child in _children(obj):
            child_path = f"{path}/{attr}" if path else attr
            if isinstance(child, list):
                used, keys = {}, []
                for item in child:
                    key = keras_class_key(_class_name(item))
                    if key in used:
                        used[key] += 1
                        key = f"{key}_{used[key]}"
                    else:
                        used[key] = 0
                    keys.append(key)
                if resolve is not None:
                    keys = resolve(child_path, child, keys)
                for item, key in zip(child, keys):
                    walk(item, f"{child_path}/{key}")
            else:
                walk(child, child_path)

    walk(model, "")
    return out


# ----------------------------------------------------------------------------------------------- writing

def write_weights(model, h5file):
    """Write ``model``'s variables into an open, empty h5py ``File`` in Keras 3's layout."""
    for path, obj, variables in keras_weight_entries(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = obj.name
        for i, var in enumerate(variables):
            group.create_dataset(str(i), data=np.asarray(var.value))
        for key, value in _named_state(obj).items():  # e.g. a tf_idf lookup's "idf_weights"
            group.create_dataset(key, data=value)


def weights_bytes(model, optimizer_state=None) -> bytes:
    """The bytes of a Keras 3 ``.weights.h5`` file for ``model`` (written in memory).  ``optimizer_state``:
    ``(optimizer name, [arrays])``, the optimizer's variables in Keras's order, stored as Keras stores them
    (the group ``optimizer/vars``, datasets ``0 .. n-1``)."""
    h5py = h5py_module()
    _check_model(model)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        write_weights(model, f)
        if optimizer_state is not None:
            name, arrays = optimizer_state
            group = f.create_group(OPTIMIZER_VARS)
            group.attrs["name"] = name
            for i, array in enumerate(arrays):
                group.create_dataset(str(i), data=np.asarray(array))
    return buffer.getvalue()


def _check_model(model):
    if not isinstance(model, Model):
        raise TypeError(f"Expected an rnnlab Model or Sequential; received {type(model).__name__}.")
    if not model.built:
        raise ValueError(f"Model {model.name!r} is not built yet, so it has no weights: build it (give it an "
                         "rnnlab.Input or call it on data) first.")


def save_weights_h5(model, filepath, overwrite=True):
    """Write ``model``'s weights to ``filepath`` (``*.weights.h5``) in Keras 3's layout, atomically."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"Argument `filepath` must end in {SUFFIX!r}; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    data = weights_bytes(model, optimizer_state(model, filepath))
    with atomic_write(filepath) as f:
        f.write(data)


# ----------------------------------------------------------------------------------------------- reading

def read_weights(model, h5file, source="the weights file", by_name=False):
    """Load ``model``'s variables from an open h5py file in Keras 3's layout; nothing changes on error.

    Keras finds a layer's weights by position (the n-th LSTM of the model).  With ``by_name=True`` (used by
    ``load_model``, whose layer names come from the same file) a container's entries are matched through
    the ``name`` each group records instead, whenever those names identify every entry uniquely -- so the
    weights cannot land on the wrong layer even if two graphs list their layers in different orders.
    """
    try:
        return _read_weights(model, h5file, source, by_name)
    except READ_ERRORS as exc:
        raise ValueError(f"{source} could not be read ({type(exc).__name__}: {exc}).") from None


def _file_path(path, layers_root):
    parts = path.split("/") if path else []
    if parts and parts[0] == "layers":
        parts[0] = layers_root
    return "/".join(parts)


def _recorded_name(group):
    vars_group = child(group, "vars")
    if vars_group is None:
        return None
    try:
        name = read_attr(vars_group, "name", "a weights group")
    except ValueError:
        return None
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return name if isinstance(name, str) else None


def _name_resolver(h5file, layers_root):
    h5py = h5py_module()

    def resolve(container_path, items, keys):
        group = group_at(h5file, _file_path(container_path, layers_root))
        names = [item.name for item in items]
        if group is None or len(set(names)) != len(names):
            return keys
        recorded = {}
        for key in group:
            sub = child(group, key)
            name = _recorded_name(sub) if isinstance(sub, h5py.Group) else None
            if name is not None:
                recorded.setdefault(name, []).append(key)
        if all(len(recorded.get(n, ())) == 1 for n in names):
            return [recorded[n][0] for n in names]
        return keys

    return resolve


def _layers_root(h5file):
    if child(h5file, "layers") is None and child(h5file, "_layer_checkpoint_dependencies") is not None:
        return "_layer_checkpoint_dependencies"  # .keras files from Keras 2.13
    return "layers"


def stored_layer_elements(h5file, source):
    """How many numbers the layers' weights in an open Keras 3 weights file hold, from the dataset headers
    alone (each checked to be backed by bytes in the file): the most a model loading them may allocate."""
    try:
        root = group_at(h5file, _layers_root(h5file))
    except READ_ERRORS as exc:
        raise ValueError(f"{source} could not be read ({type(exc).__name__}: {exc}).") from None
    return stored_elements(root, source)


def _read_weights(model, h5file, source, by_name):
    _check_model(model)
    layers_root = _layers_root(h5file)
    if "layer_names" in h5file.attrs or child(h5file, "model_weights") is not None:
        raise ValueError(f"{source} is in the legacy TF-Keras 2 layout, not Keras 3's.")
    assignments, consumed, named_assignments = [], set(), []
    resolve = _name_resolver(h5file, layers_root) if by_name else None
    for path, obj, variables in keras_weight_entries(model, resolve):
        file_path = "/".join(p for p in (_file_path(path, layers_root), "vars") if p)
        group = group_at(h5file, file_path)
        stored = sorted(group.keys()) if group is not None else []
        named = {key: shape for key, shape in _named_state_shapes(obj).items() if key in stored}
        if named:
            values = {key: read_dataset(group, key, shape, f"{source}, {file_path}/{key}")
                      for key, shape in named.items()}
            named_assignments.append((obj, values))
            consumed.update(f"{file_path}/{key}" for key in named)
            stored = [key for key in stored if key not in named]
        if not variables:
            if stored:
                raise ValueError(
                    f"{source} holds {len(stored)} weight(s) at {file_path!r} for {obj.name!r}, which has none in "
                    f"model {model.name!r}: the file belongs to a different architecture."
                )
            continue
        expected_keys = sorted(str(i) for i in range(len(variables)))
        if group is None:
            raise ValueError(
                f"{source} has no weights for {type(obj).__name__} {obj.name!r} (expected group {file_path!r}): "
                f"it was saved from a different architecture."
            )
        if stored != expected_keys:
            raise ValueError(
                f"{source}: {type(obj).__name__} {obj.name!r} has {len(variables)} weight(s) but the file stores "
                f"{len(stored)} at {file_path!r} ({stored})."
            )
        for i, var in enumerate(variables):
            where = f"{source}, {file_path}/{i} (weight {var.path!r})"
            value = read_dataset(group, str(i), var.shape, where, integer=var.value.dtype.kind in "iu")
            assignments.append((var, value))
            consumed.add(f"{file_path}/{i}")
    root = group_at(h5file, layers_root)
    if root is not None:
        extra = sorted(set(dataset_paths(root, layers_root)) - consumed)
        if extra:
            raise ValueError(
                f"{source} holds weights the model {model.name!r} does not use, e.g. {extra[:5]}: the file belongs "
                "to a different architecture."
            )
    for var, value in assignments:
        var.value[...] = value.astype(var.value.dtype, copy=False)
    for obj, values in named_assignments:
        obj.set_keras_named_state(values)


#: Where Keras 3 stores a compiled model's optimizer variables in its weights file (``optimizer.variables`` in order).
OPTIMIZER_VARS = "optimizer/vars"


def optimizer_state(model, filepath):
    """``(name, [arrays])`` of a compiled ``model``'s optimizer variables as Keras lists them, for a weights file;
    None for an uncompiled model, or (with a logged warning) an optimizer whose variables Keras does not know."""
    if not getattr(model, "_compiled", False) or getattr(model, "optimizer", None) is None:
        return None
    try:
        variables = keras_optimizer_variables(model.optimizer, model.trainable_weights, keras_variable_paths(model))
    except ValueError as exc:
        _logger.warning("%r is saved without its optimizer's state: %s", filepath, exc)
        return None
    return model.optimizer.name, [array for _, array in variables]


def read_optimizer_state(model, h5file, source, built=True):
    """Restore a compiled ``model``'s optimizer from the ``optimizer/vars`` group of an open Keras 3 weights file,
    as Keras does: when the file stores as many variables as the optimizer has -- built (``load_model``: Keras
    builds the optimizer when it compiles a loaded model), or as it is now (``built=None``: ``load_weights``) --
    they are its iterations, learning rate and state, in Keras's order (see :mod:`.keras_optimizer_vars`);
    otherwise Keras skips them with a warning, and so does rnnlab.  Stored values that do not fit (a shape, a
    dtype, NaN) are refused with a warning too, and nothing of them is applied.  Returns whether the state was
    restored."""
    h5py = h5py_module()
    optimizer = model.optimizer
    try:
        group = group_at(h5file, OPTIMIZER_VARS)
        if group is None:
            return False
        if not isinstance(group, h5py.Group):
            raise ValueError(f"{OPTIMIZER_VARS} is not a group")
        trainable = model.trainable_weights
        built = optimizer.built if built is None else built
        shapes = keras_optimizer_shapes(optimizer, trainable, built)
        stored = sorted(group.keys())
        if stored != sorted(str(i) for i in range(len(shapes))):
            warnings.warn(f"{source}: skipping the saved state of optimizer {optimizer.name!r}: it has "
                          f"{len(shapes)} variables{' once built' if built else ' before it is built'}, and the "
                          f"file stores {len(stored)}; the optimizer keeps its own, as in Keras.", stacklevel=3)
            return False
        values = [read_dataset(group, str(i), shape, f"{source}, {OPTIMIZER_VARS}/{i}", integer=i == 0)
                  for i, shape in enumerate(shapes)]
        restore_optimizer_variables(optimizer, trainable, values, source)
    except READ_ERRORS + (ValueError,) as exc:
        warnings.warn(f"{source}: the saved state of optimizer {optimizer.name!r} was not restored ({exc}); the "
                      "optimizer keeps its own.", stacklevel=3)
        return False
    return True


def load_weights_h5(model, filepath):
    """Load weights written by :func:`save_weights_h5` or by Keras 3's ``model.save_weights``.

    A ``.h5`` file in TF-Keras 2's layout (``layer_names`` attribute) is read by :mod:`.legacy_h5` instead.
    """
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise ValueError(f"Argument `filepath`: no such file {filepath!r}.")
    _check_model(model)
    with open_h5(filepath, f"File {filepath!r}") as f:
        try:
            legacy = "layer_names" in f.attrs or child(f, "model_weights") is not None
        except READ_ERRORS as exc:
            raise ValueError(f"File {filepath!r} could not be read ({type(exc).__name__}: {exc}).") from None
        if legacy:
            return read_legacy_weights(model, f, f"File {filepath!r}")
        read_weights(model, f, f"File {filepath!r}")
        if getattr(model, "_compiled", False):
            read_optimizer_state(model, f, f"File {filepath!r}", built=None)
