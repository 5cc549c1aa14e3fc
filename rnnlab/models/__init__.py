"""Models: ``Model`` (functional), ``Sequential``, and ``Input``."""
from rnnlab.layers.input_layer import Input
from rnnlab.models.functional import Model
from rnnlab.models.sequential import Sequential

__all__ = ["Model", "Sequential", "Input"]
