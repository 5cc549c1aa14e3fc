"""Weights as a NumPy ``.npz`` archive keyed by each variable's full path (no pickle: arrays only).

This is rnnlab's native, dependency-free weights file, used by ``Model.save_weights`` for paths ending in
``.weights.npz`` (and by ``ModelCheckpoint``).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from rnnlab.saving.atomic import atomic_write

SUFFIX = ".weights.npz"


def save_weights_npz(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"Argument `filepath` must end in {SUFFIX!r}; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    arrays = {w.path: w.numpy() for w in model.weights}
    if len(arrays) != len(model.weights):
        raise ValueError("Cannot save weights: two variables share a path; give the layers unique names.")
    with atomic_write(filepath) as f:
        np.savez(f, **arrays)


def load_weights_npz(model, filepath):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise ValueError(f"Argument `filepath`: no such file {filepath!r}.")
    try:
        with np.load(filepath, allow_pickle=False) as data:
            stored = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"File {filepath!r} is not a readable {SUFFIX} weights file ({exc}).") from None
    variables = model.weights
    paths = [w.path for w in variables]
    if set(paths) == set(stored):  # same names: match by path
        model.set_weights([stored[p] for p in paths])
        return
    ordered = list(stored.values())  # same architecture under other layer names: match by order, as Keras does
    if len(ordered) == len(variables) and all(a.shape == w.shape for a, w in zip(ordered, variables)):
        model.set_weights(ordered)
        return
    missing = [p for p in paths if p not in stored]
    unexpected = sorted(set(stored) - set(paths))
    raise ValueError(
        f"Weights file {filepath!r} does not match model {model.name!r}: it holds {len(stored)} arrays "
        f"{[tuple(a.shape) for a in ordered]}, the model needs {len(variables)} "
        f"{[tuple(w.shape) for w in variables]}; missing paths {missing}, unexpected paths {unexpected}."
    )
