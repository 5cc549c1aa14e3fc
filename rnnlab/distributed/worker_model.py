"""The model as it travels to Dask workers: its config and its weights, never pickled code.

A :class:`ModelRecipe` holds what rebuilds the model: the model's class (pickled by its import path, as any
class is), its Keras config and, for training, its losses' configs.  The weights travel beside it as a list of
NumPy arrays.  A worker rebuilds the model once per recipe (:func:`model_for`) and keeps it for the next tasks,
so that a recipe sent to each worker once serves all the chunks that worker runs.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import threading

import numpy as np

from rnnlab import losses as losses_module


@dataclasses.dataclass(frozen=True)
class ModelRecipe:
    """What a worker needs to rebuild a model: ``token`` names it in the worker's cache."""

    token: str
    model_class: type
    config: dict
    loss_configs: tuple = ()
    loss_weights: tuple = ()

    def __dask_tokenize__(self):
        return self.token


@dataclasses.dataclass(frozen=True)
class Weights:
    """A model's weight arrays (``get_weights`` order), named by ``token``: equal arrays, equal tokens."""

    token: str
    arrays: list

    def __dask_tokenize__(self):
        return self.token


def _digest(*parts) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()


def weights_of(model) -> Weights:
    """``model``'s weights, copied, with their token."""
    arrays = model.get_weights()
    return Weights(_digest(*[np.ascontiguousarray(w).tobytes() + str((w.dtype, w.shape)).encode() for w in arrays]),
                   arrays)


def recipe_of(model, with_losses=False) -> ModelRecipe:
    """The recipe of ``model``; ``with_losses`` adds its compiled losses (each must be a built-in loss, whose
    config rebuilds it)."""
    config = model.get_config()
    loss_configs, loss_weights = (), ()
    if with_losses:
        loss_configs = tuple(None if fn is None else _loss_config(fn) for fn in model._loss_fns)
        loss_weights = tuple(model._loss_weights)
    token = _digest(type(model).__module__, type(model).__qualname__,
                    json.dumps([config, loss_configs, loss_weights], sort_keys=True, default=repr))
    return ModelRecipe(token, type(model), config, loss_configs, loss_weights)


def _loss_config(fn):
    config = losses_module.serialize(fn)
    try:
        rebuilt = losses_module.get(config)
    except ValueError:
        rebuilt = None
    if type(rebuilt) is not type(fn):
        raise ValueError(f"Training on a Dask cluster rebuilds the model's losses on the workers from their configs; "
                         f"the loss {fn!r} ({type(fn).__name__}) is not a built-in rnnlab loss that its config "
                         "rebuilds. Compile with a built-in loss (a name or an rnnlab.losses class).")
    return config


# A worker's models, by recipe token (a few, the most recently used), each with a lock for its weights.
_MODELS: "collections.OrderedDict[str, tuple]" = collections.OrderedDict()
_MODELS_LOCK = threading.Lock()
_KEEP = 4
build_count = 0  # models this process has rebuilt (tests read it on each worker)


@contextlib.contextmanager
def model_for(recipe: ModelRecipe, weights: Weights):
    """The worker's model for this recipe, holding these weights, for the duration of a ``with`` block.

    The block holds the model's lock: another thread of the worker may want other weights on the same model.
    Setting the weights is skipped when the model already holds them (the same ``weights.token``).
    """
    global build_count
    with _MODELS_LOCK:
        entry = _MODELS.get(recipe.token)
        if entry is None:
            model = recipe.model_class.from_config(recipe.config)
            if recipe.loss_configs:
                model._loss_fns = [None if c is None else losses_module.get(c) for c in recipe.loss_configs]
                model._loss_weights = list(recipe.loss_weights)
            entry = _MODELS[recipe.token] = [model, threading.Lock(), None]
            build_count += 1
            while len(_MODELS) > _KEEP:
                _MODELS.popitem(last=False)
        _MODELS.move_to_end(recipe.token)
    model, lock = entry[0], entry[1]
    with lock:
        if entry[2] != weights.token:
            model.set_weights(weights.arrays)
            entry[2] = weights.token
        yield model


def active_client():
    """The ``dask.distributed`` Client in use, or None (no Client, or distributed not installed)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def ship(client, *items):
    """``items`` as the tasks' arguments: with a Client, scattered once to every worker (futures); without one,
    as ``dask.delayed`` values, one graph key each, shared by every task of the local scheduler."""
    if client is not None:
        return client.scatter(list(items), broadcast=True, hash=False)
    import dask

    return [dask.delayed(item, pure=True) for item in items]
