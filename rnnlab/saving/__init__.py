"""Saving and loading. Every write goes to a temporary file that is renamed into place (:mod:`.atomic`)."""
from rnnlab.saving.atomic import atomic_write
from rnnlab.saving.weights_npz import load_weights_npz, save_weights_npz


def __getattr__(name):  # the Keras formats load on first use (they import h5py lazily too)
    if name in ("save_model", "load_model"):
        from rnnlab.saving import keras_format

        return getattr(keras_format, name)
    if name in ("save_weights_h5", "load_weights_h5"):
        from rnnlab.saving import keras_weights_h5

        return getattr(keras_weights_h5, name)
    raise AttributeError(f"module 'rnnlab.saving' has no attribute {name!r}")


__all__ = ["atomic_write", "save_weights_npz", "load_weights_npz", "save_model", "load_model",
           "save_weights_h5", "load_weights_h5"]
