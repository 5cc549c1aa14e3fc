"""Models: ``Model`` (functional), ``Sequential``, and ``Input``."""
from rnnlab.layers.input_layer import Input
from rnnlab.models import saving_hook
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Input", "load_model"]


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a ``.keras`` archive (Keras 3 or rnnlab) or a legacy ``.h5`` model file (TF-Keras 2 / Keras 3).

    See :func:`rnnlab.saving.keras_format.load_model`.
    """
    return saving_hook.file_formats().load_model(filepath, custom_objects=custom_objects, compile=compile,
                                                 safe_mode=safe_mode)
