"""The one way from a model to its files: ``Model.save``, ``save_weights``, ``load_weights``, ``get_config``,
``from_config`` and :func:`rnnlab.models.load_model` call the file formats through the entry points held here
(and so do ``Model._keras_object`` and ``Model._keras_variable_paths``, which the TensorBoard callback reads).

Why a hook and not an import: :mod:`rnnlab.saving` sits *above* :mod:`rnnlab.models`.  It has to, because
reading a Keras config rebuilds a ``Model`` or a ``Sequential``, and the weights layout walks their layers.
If a model's methods imported :mod:`rnnlab.saving` in return, the two packages would import each other, a
cycle that works only while every such import stays hidden inside a function.  So the dependency runs one
way: :mod:`rnnlab.saving` hands its entry points to :func:`register` when it is imported, and
``rnnlab/__init__.py`` imports it, so they are in place before any model can be saved or loaded.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

__all__ = ["FileFormats", "register", "file_formats"]


class FileFormats(NamedTuple):
    """What :mod:`rnnlab.saving` provides to the models (each entry receives the model first, if any)."""

    save_model: Callable  # (model, filepath, overwrite, zipped, **kwargs): .keras, or legacy .h5/.hdf5
    load_model: Callable  # (filepath, custom_objects, compile, safe_mode) -> model, from .keras or legacy .h5
    save_weights: Callable  # (model, filepath, overwrite): .weights.npz or .weights.h5, by the file name
    load_weights: Callable  # (model, filepath): .weights.npz, .weights.h5, .h5 or .keras, by the file name
    model_config: Callable  # (model) -> Keras's config dict of a Functional or Sequential
    model_from_config: Callable  # (class_name, config, custom_objects) -> a new model with fresh weights
    model_object: Callable  # (model) -> Keras's object dict of a Functional or Sequential (config.json's content)
    variable_paths: Callable  # (model) -> {id(variable): the variable's path in Keras}


_registered: FileFormats | None = None


def register(formats: FileFormats) -> None:
    """Install the entry points that models use to save and load (called by :mod:`rnnlab.saving`)."""
    global _registered
    if not isinstance(formats, FileFormats):
        raise TypeError(f"Argument `formats` must be a FileFormats; received {type(formats).__name__}.")
    _registered = formats


def file_formats() -> FileFormats:
    """The registered entry points; rnnlab registers them when ``import rnnlab`` runs."""
    if _registered is None:
        raise RuntimeError("No file formats are registered for rnnlab models: `import rnnlab.saving` registers "
                           "them (`import rnnlab` does so).")
    return _registered
