"""``Sequential``: a linear stack of layers, built into a functional graph once its input shape is known."""
from __future__ import annotations

import numpy as np

from rnnlab.engine.layer import KerasTensor, Layer, unique_name
from rnnlab.layers.input_layer import Input, InputLayer
from rnnlab.models.functional import Model


class Sequential(Model):
    """As ``keras.Sequential([...])``: layers applied one after another; the first may be ``rnnlab.Input``."""

    def __init__(self, layers=None, trainable=True, name=None):
        Layer.__init__(self, name=name or unique_name("sequential"), trainable=trainable)
        self._layers_list: list[Layer] = []
        self._input_layer = None
        self.built = False
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Append a layer (or an ``rnnlab.Input`` tensor as the first item)."""
        if isinstance(layer, KerasTensor):
            source = layer._history[0]
            if not isinstance(source, InputLayer):
                raise TypeError("Only an rnnlab.Input tensor can be added to a Sequential model, not a layer output.")
            layer = source
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add() expects an rnnlab layer; received {type(layer).__name__}.")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers_list:
                raise ValueError("An Input can only be the first item of a Sequential model.")
            self._input_layer = layer
        else:
            self._layers_list.append(layer)
        if rebuild:
            self._maybe_rebuild()

    def pop(self):
        if not self._layers_list:
            raise ValueError("There are no layers in the model to pop.")
        layer = self._layers_list.pop()
        self.built = False
        self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._input_layer is not None:
            batch_shape = self._input_layer.batch_shape
        elif self._layers_list and self._layers_list[0]._batch_input_shape is not None:
            batch_shape = self._layers_list[0]._batch_input_shape
        else:
            return
        if self._layers_list:
            self.build(batch_shape)

    def build(self, input_shape=None):
        if input_shape is None:
            raise ValueError(f"Sequential model {self.name!r} needs an input shape to build.")
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(input_shape):
            inputs = Input(batch_shape=tuple(input_shape)) if self._input_layer is None else \
                self._input_layer.output
        else:
            inputs = self._input_layer.output
        x = inputs
        for layer in self._layers_list:
            x = layer(x)
        self._init_graph(inputs, x)

    @property
    def layers(self):
        return list(self._layers_list)

    def _sublayers(self):
        return self._layers_list

    def _ensure_built(self, values):
        if self.built:
            return
        if not self._layers_list:
            raise ValueError(f"Sequential model {self.name!r} has no layers.")
        first = values[0] if isinstance(values, (list, tuple)) else values
        shape = np.shape(first)
        stateful = any(getattr(layer, "stateful", False) for layer in self._layers_list)
        self.build(((shape[0] if stateful else None),) + tuple(shape[1:]))

    def _output_names(self):
        if not self.built:  # compile() before the first batch: the output is the last layer's
            if not self._layers_list:
                raise ValueError(f"Sequential model {self.name!r} has no layers.")
            return [self._layers_list[-1].name]
        return super()._output_names()

    @property
    def outputs(self):
        return self.__dict__["outputs"] if "outputs" in self.__dict__ else [None]

    @outputs.setter
    def outputs(self, value):
        self.__dict__["outputs"] = value

    def _standardize_inputs(self, x):
        self._ensure_built(x)  # fit/evaluate/train_on_batch on the first batch build the model, as in Keras
        return super()._standardize_inputs(x)

    def call(self, inputs, training=False, mask=None):
        self._ensure_built(inputs)
        return super().call(inputs, training=training, mask=mask)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        self._ensure_built(x)
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    def summary(self, *args, **kwargs):
        if not self.built:
            raise ValueError(
                f"Sequential model {self.name!r} is not built yet: give it an rnnlab.Input first, or call it on data."
            )
        super().summary(*args, **kwargs)
