"""What the layers around the recurrent ones share: one forward-with-backward function per layer, and the
argument checks Keras applies to shapes, tuples, paddings and data formats.

A :class:`FunctionLayer` writes its computation once, as ``_forward(x, training, grads) -> (y, backward)``
with ``backward(dy) -> dx`` beside it; the plain call and the training call (``forward_backward``) both run it.
"""
from __future__ import annotations

import numpy as np

from rnnlab.engine.layer import Layer


class FunctionLayer(Layer):
    """A layer whose call is ``_forward(x, training, grads)``, which returns ``(y, backward)``.

    ``backward(dy)`` gives ``dL/dx`` and adds the gradients of the layer's weights to ``grads`` (a dict, or
    None outside training, where :func:`rnnlab.engine.layer.add_grad` does nothing).
    """

    def _forward(self, x, training, grads):  # pragma: no cover - abstract
        raise NotImplementedError

    def _eager_call(self, inputs, *args, **kwargs):
        inputs = self._convert_inputs(inputs)
        self._check_input_shape(self._shape_of(inputs))
        self._maybe_build(self._shape_of(inputs))
        return self.call(inputs, *args, **kwargs)

    def _prepare_inputs(self, inputs):
        inputs = self._convert_inputs(inputs)
        self._check_input_shape(self._shape_of(inputs))
        self._maybe_build(self._shape_of(inputs))
        return inputs

    def call(self, inputs, training=False):
        return self._forward(inputs, training, None)[0]

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        y, backward = self._forward(x, training, grads)
        return y, lambda dy: (backward(dy), {})


def check_rank(layer, shape, ndim=None, min_ndim=None, what="input"):
    """Keras's InputSpec check of a rank: ``ValueError`` naming the layer, the expected and the received rank."""
    rank = len(shape)
    if ndim is not None and rank != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with the "
                         f"layer: expected ndim={ndim}, found ndim={rank}. Full shape received: {tuple(shape)}.")
    if min_ndim is not None and rank < min_ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with the "
                         f"layer: expected min_ndim={min_ndim}, found ndim={rank}. Full shape received: "
                         f"{tuple(shape)}.")


def int_tuple(value, n, name, allow_zero=False):
    """An int or ``n`` ints as a tuple of ``n`` ints (Keras's ``standardize_tuple``), each > 0 (>= 0 with
    ``allow_zero``)."""
    message = f"Argument `{name}` must be an int or a tuple of {n} integers; received {name}={value!r}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message + ".") from None
        if len(values) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                       for v in values):
            raise ValueError(message + ".")
        values = tuple(int(v) for v in values)
    bad = [v for v in values if (v < 0 if allow_zero else v <= 0)]
    if bad:
        raise ValueError(f"{message}, with values {bad} that are not {'>= 0' if allow_zero else '> 0'}.")
    return values


def positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Argument `{name}` must be a positive integer; received {name}={value!r} of type "
                        f"{type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be a positive integer; received {name}={value!r}.")
    return int(value)


def padding_mode(value, allowed, layer_name):
    """``"valid"``/``"same"`` (``"causal"`` where allowed), case-insensitive, as Keras accepts them."""
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"Argument `padding` of {layer_name} must be one of {list(allowed)}; received "
                         f"padding={value!r}.")
    return value.lower()


def data_format_of(value, layer_name):
    """``"channels_last"`` (the default, as Keras's ``image_data_format()``) or ``"channels_first"``."""
    if value is None:
        return "channels_last"
    if not isinstance(value, str) or value.lower() not in ("channels_last", "channels_first"):
        raise ValueError(f"Argument `data_format` of {layer_name} must be 'channels_last' or 'channels_first'; "
                         f"received data_format={value!r}.")
    return value.lower()


def same_padding(length, window, stride):
    """TensorFlow's "same" padding of one axis: ``(left, right)``, the odd one extra on the right."""
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return total // 2, total - total // 2

