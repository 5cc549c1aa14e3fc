"""Saving and loading. Every write goes to a temporary file that is renamed into place (:mod:`.atomic`)."""
from rnnlab.saving.atomic import atomic_write
from rnnlab.saving.weights_npz import load_weights_npz, save_weights_npz

__all__ = ["atomic_write", "save_weights_npz", "load_weights_npz"]
