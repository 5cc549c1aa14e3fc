"""``Input`` and ``InputLayer``: the symbolic entry points of a model graph."""
from __future__ import annotations

from rnnlab import backend
from rnnlab.engine.layer import KerasTensor, Layer, Node


class InputLayer(Layer):
    """Holds a model input's shape; calling ``Input(...)`` creates one and returns its symbolic tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, sparse=None,
                 **kwargs):
        kwargs.pop("input_shape", None)
        if sparse:
            raise ValueError("Argument `sparse=True` is not supported by rnnlab; received sparse=True.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs `shape` (without the batch axis) or `batch_shape`; received neither.")
            if isinstance(shape, int):
                shape = (shape,)
            if not isinstance(shape, (tuple, list)):
                raise TypeError(f"Argument `shape` must be a tuple of ints or None; received shape={shape!r}.")
            batch_shape = (batch_size,) + tuple(shape)
        batch_shape = tuple(batch_shape)
        for d in batch_shape:
            if d is not None and (isinstance(d, bool) or not isinstance(d, int) or d <= 0):
                raise ValueError(f"Input shape dimensions must be positive ints or None; received {batch_shape}.")
        self.input_dtype = dtype
        super().__init__(name=name, dtype=_float_or_default(dtype), **kwargs)
        self.batch_shape = batch_shape
        self.built = True
        tensor = KerasTensor(batch_shape, dtype or backend.floatx(), name=self.name, history=(self, 0, 0))
        self._inbound_nodes.append(Node(self, (), {}, tensor))

    @property
    def input(self):
        return self.output  # an input layer's tensor is both (Keras gives the same)

    def compute_output_shape(self, input_shape=None, *args, **kwargs):
        return self.batch_shape

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"batch_shape": self.batch_shape, "dtype": self.input_dtype or self.dtype, "sparse": False,
                "name": self.name}


def _float_or_default(dtype):
    try:
        return backend.standardize_dtype(dtype)
    except (TypeError, ValueError):
        return backend.floatx()  # integer inputs (token ids) keep their dtype on the tensor only


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None,
          optional=False):
    """A symbolic model input of shape ``(batch_size, *shape)`` (batch ``None`` unless given)."""
    if tensor is not None:
        raise ValueError("Argument `tensor` is not supported by rnnlab Input; received a tensor.")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name,
                       sparse=sparse)
    return layer.output
