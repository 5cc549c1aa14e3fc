"""``Wrapper``: the base class of layers that hold one other layer, as Keras 3's ``keras.layers.Wrapper``.

A subclass (a user's wrapper) receives the inner layer as ``layer``, builds it with the input shape unless it is
built already, lists it as its sublayer (its weights follow the wrapper's own), and writes it into its config
under ``"layer"``; ``from_config`` rebuilds it from there.
"""
from __future__ import annotations

from rnnlab.engine.layer import Layer
from rnnlab.engine.serialization import deserialize_layer, serialize_layer


class Wrapper(Layer):
    """Abstract base of a layer wrapping ``layer``; subclasses write ``call`` (usually calling ``self.layer``)."""

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer!r} supplied to Wrapper isn't a supported layer type. Please ensure the "
                             "wrapped layer is an rnnlab (keras) layer.")
        super().__init__(**kwargs)
        self.layer = self._track(layer)

    def _sublayers(self):
        return [self.layer] + [s for s in super()._sublayers() if s is not self.layer]

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer._maybe_build(input_shape)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer")), **config)
