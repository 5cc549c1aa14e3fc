"""What a model's own methods do with files: ``save_weights`` and ``load_weights`` choose the format from the
file name, ``get_config`` and ``from_config`` go through the Keras configs.

:mod:`rnnlab.saving` registers these, with :func:`.keras_format.save_model` and :func:`.keras_format.load_model`,
in :mod:`rnnlab.models.saving_hook`, through which ``Model`` reaches them (see there why).
"""
from __future__ import annotations

from rnnlab.file_errors import reading
from rnnlab.saving.config_reader import KerasLoadOptions, deserialize_model
from rnnlab.saving.config_writer import serialize_model
from rnnlab.saving.keras_format import load_any_weights
from rnnlab.saving.keras_weights_h5 import save_weights_h5
from rnnlab.saving.weights_npz import load_weights_npz, save_weights_npz

__all__ = ["save_weights", "load_weights", "model_config", "model_from_config"]


def save_weights(model, filepath, overwrite=True):
    """``Model.save_weights``: ``*.weights.npz`` (rnnlab's own, keyed by path) or ``*.weights.h5`` (Keras 3's
    layout), written atomically."""
    path = str(filepath) if hasattr(filepath, "__fspath__") else filepath
    if isinstance(path, str) and path.endswith(".weights.h5"):
        return save_weights_h5(model, filepath, overwrite=overwrite)
    if isinstance(path, str) and not path.endswith(".weights.npz"):
        raise ValueError("Argument `filepath` must end in '.weights.npz' (rnnlab's format) or '.weights.h5' "
                         f"(Keras 3's); received filepath={path!r}.")
    save_weights_npz(model, filepath, overwrite=overwrite)


def load_weights(model, filepath):
    """``Model.load_weights``: ``*.weights.npz`` (every path and shape must match), ``*.weights.h5``/``*.h5``
    (Keras 3 or TF-Keras 2 layout) or a ``.keras`` archive."""
    path = str(filepath) if hasattr(filepath, "__fspath__") else filepath
    if isinstance(path, str) and path.endswith(".weights.json"):
        raise ValueError(f"{path!r} is a sharded Keras weights index; rnnlab reads single-file weights "
                         "('.weights.h5', '.weights.npz') only.")
    with reading(filepath):
        if isinstance(path, str) and path.lower().endswith((".h5", ".hdf5", ".keras")):
            return load_any_weights(model, filepath)
        load_weights_npz(model, filepath)


def model_config(model) -> dict:
    """``Model.get_config``: Keras's config of a ``Functional`` or ``Sequential``."""
    return serialize_model(model, with_build_config=False)["config"]


def model_from_config(class_name, config, custom_objects=None):
    """``Model.from_config``: a model of Keras class ``class_name`` (``"Functional"`` or ``"Sequential"``) with
    fresh weights; ``custom_objects`` are trusted (the config comes from the caller, not from a file)."""
    return deserialize_model({"class_name": class_name, "config": config},
                             KerasLoadOptions(custom_objects, safe_mode=custom_objects is None))
