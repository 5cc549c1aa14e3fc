"""What the layers around the recurrent ones share: one forward-with-backward function per layer (their argument
checks live in :mod:`rnnlab.engine.conv_args`).

A :class:`FunctionLayer` writes its computation once, as ``_forward(x, training, grads) -> (y, backward)``
with ``backward(dy) -> dx`` beside it; the plain call and the training call (``forward_backward``) both run it.
"""
from __future__ import annotations

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

