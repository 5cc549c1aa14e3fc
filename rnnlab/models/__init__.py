"""Models: ``Model`` (functional), ``Sequential``, and ``Input``; ``save_model`` and ``load_model``."""
from rnnlab.layers.input_layer import Input
from rnnlab.models import saving_hook
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Input", "load_model", "save_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a ``.keras`` archive (Keras 3 or rnnlab) or a legacy ``.h5`` model file (TF-Keras 2 / Keras 3).

    See :func:`rnnlab.saving.keras_format.load_model`.
    """
    return saving_hook.file_formats().load_model(filepath, custom_objects=custom_objects, compile=compile,
                                                 safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """``model.save(filepath, ...)``: a ``.keras`` archive, or Keras's legacy HDF5 model for ``.h5``/``.hdf5``.

    See :func:`rnnlab.saving.keras_format.save_model`.
    """
    return saving_hook.file_formats().save_model(model, filepath, overwrite=overwrite, zipped=zipped, **kwargs)
