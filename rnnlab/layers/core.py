"""Non-recurrent layers used around RNNs: Dense, Dropout, Masking, Embedding, TimeDistributed, Identity."""
from __future__ import annotations

import numpy as np

from rnnlab import activations, backend, constraints, initializers, random, regularizers
from rnnlab.engine.layer import (Layer, add_grad, check_units, refuse_inner_activity_regularizer,
                                  store_weight_arguments)
from rnnlab.engine.serialization import deserialize_layer, serialize_layer
from rnnlab.random import make_rng


class Dense(Layer):
    """``output = activation(inputs @ kernel + bias)`` on the last axis, for inputs of any rank >= 2."""

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, lora_rank=None,
                 **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = check_units(units)
        self.activation = activations.get(activation, "activation")
        self.use_bias = bool(use_bias)
        store_weight_arguments(self, kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                               bias=(bias_initializer, bias_regularizer, bias_constraint))
        if lora_rank is not None:
            raise ValueError(f"Argument `lora_rank` is not supported by rnnlab; received lora_rank={lora_rank!r}.")
        self.kernel = self.bias = None

    def _check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"Input 0 of layer {self.name!r} must have rank >= 2; received input with shape {input_shape}."
            )
        if self.built and input_shape[-1] is not None and input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer {self.name!r} must have {self.kernel.shape[0]} features (last axis); "
                f"received input with shape {input_shape}."
            )

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        if input_shape[-1] is None:
            raise ValueError(f"Layer {self.name!r} needs a known last axis; received shape {input_shape}.")
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape[:-1]) + (self.units,)

    def _eager_call(self, inputs, *args, **kwargs):
        inputs = backend.to_float_array(inputs, self.dtype, "inputs")
        self._check_input_shape(inputs.shape)
        return super()._eager_call(inputs, *args, **kwargs)

    _fast_call_checks_finite = True

    def _fast_call(self, x):
        """``layer(x)`` for a float array of the layer's dtype with the built number of features; anything
        else (other dtypes, wrong shapes) takes the general path, which converts or raises."""
        kernel = self.kernel.value
        if x.dtype != kernel.dtype or x.ndim < 2 or x.shape[-1] != kernel.shape[0]:
            return None
        if not np.isfinite(x).all():
            backend.to_float_array(x, self.dtype, "inputs")  # raises the standard error
        return self.call(x)

    def call(self, inputs):
        y = inputs @ self.kernel.value
        if self.use_bias:
            y = y + self.bias.value
        return self.activation(y)

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        pre = x @ self.kernel.value
        if self.use_bias:
            pre = pre + self.bias.value
        y = self.activation(pre)

        def backward(dy):
            dpre = activations.backward(self.activation, pre, y, dy)  # through the activation
            d2 = dpre.reshape(-1, self.units)  # (N, units)
            add_grad(grads, self.kernel, x.reshape(-1, x.shape[-1]).T @ d2)
            if self.use_bias:
                add_grad(grads, self.bias, d2.sum(axis=0))
            return dpre @ self.kernel.value.T, {}

        return y, backward

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        })
        return config


class Dropout(Layer):
    """Inverted dropout: identity at inference; with ``training=True`` zeroes a ``rate`` share and rescales."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0 <= rate <= 1:
            raise ValueError(f"Argument `rate` must be a float in [0, 1]; received rate={rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = make_rng(seed) if seed is not None else None

    def _training_rng(self):
        if self.rate in (0, 1):
            return None
        return self._rng or make_rng(None)

    def _scale(self, inputs):
        """The call's mask scaled by ``1 / (1 - rate)``, broadcastable to ``inputs``."""
        if self.rate == 1:
            return np.zeros((1,) * inputs.ndim, inputs.dtype)
        shape = self._noise_shape(inputs)
        per_sample = self.noise_shape is None or self.noise_shape[0] is None  # else one draw for all samples
        keep = random.layer_uniform(self, shape, batch_axis=0 if per_sample else None) >= self.rate
        return (keep / (1.0 - self.rate)).astype(inputs.dtype)

    def _noise_shape(self, inputs):
        """The shape of the random keep/drop draw, broadcast over ``inputs``."""
        if self.noise_shape is None:
            return inputs.shape
        return tuple(inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return inputs * self._scale(inputs)

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        if not training or self.rate == 0:
            return x, lambda dy: (dy, {})
        scale = self._scale(x)
        return x * scale, lambda dy: (dy * scale, {})

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed})
        return config


class Masking(Layer):
    """Marks time steps whose features all equal ``mask_value`` as padding, and zeroes them."""

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def _mask_of(self, inputs):
        return np.any(inputs != self.mask_value, axis=-1)  # (B, T)

    def compute_mask(self, inputs, mask=None):
        return self._mask_of(inputs)

    def call(self, inputs):
        return inputs * self._mask_of(inputs)[..., None].astype(inputs.dtype)

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        keep = self._mask_of(x)[..., None].astype(x.dtype)  # (B, T, 1)
        return x * keep, lambda dy: (dy * keep, {})

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


class Embedding(Layer):
    """Integer ids ``(B, T)`` -> vectors ``(B, T, output_dim)``; with ``mask_zero`` id 0 is padding."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, weights=None, lora_rank=None, input_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check_units(input_dim, "input_dim")
        self.output_dim = check_units(output_dim, "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer, "embeddings_initializer")
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, "embeddings_regularizer")
        self.embeddings_constraint = constraints.get(embeddings_constraint, "embeddings_constraint")
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if lora_rank is not None:
            raise ValueError(f"Argument `lora_rank` is not supported by rnnlab; received lora_rank={lora_rank!r}.")
        if weights is not None:
            self._initial_weights = list(weights)
        self.embeddings = None

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)
        self.built = True

    def _convert_inputs(self, inputs):
        arr = np.asarray(inputs)
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
                raise TypeError(
                    f"Layer {self.name!r} expects integer token ids; received float values that are not integers."
                )
        elif arr.dtype.kind not in "iub":
            raise TypeError(f"Layer {self.name!r} expects integer token ids; received dtype {arr.dtype}.")
        ids = arr.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.input_dim):
            raise ValueError(
                f"Layer {self.name!r} expects token ids in [0, {self.input_dim}); received ids in "
                f"[{ids.min()}, {ids.max()}]."
            )
        return ids

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask=None):
        return (np.asarray(inputs) != 0) if self.mask_zero else None

    def call(self, inputs):
        return self.embeddings.value[inputs]

    def forward_backward(self, inputs, training=True, grads=None):
        ids = self._prepare_inputs(inputs)

        def backward(dy):
            d_embeddings = np.zeros_like(self.embeddings.value)
            np.add.at(d_embeddings, ids.reshape(-1), dy.reshape(-1, self.output_dim))  # repeated ids add up
            add_grad(grads, self.embeddings, d_embeddings)
            return None, {}  # integer ids have no gradient

        return self.embeddings.value[ids], backward

    def get_config(self):
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim,
                       "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                       "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                       "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                       "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
                       "mask_zero": self.mask_zero})
        return config


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: ``(B, T, ...) -> (B, T, ...)``, by folding time into the batch."""

    supports_masking = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise TypeError(f"Argument `layer` must be an rnnlab layer; received {type(layer).__name__}.")
        refuse_inner_activity_regularizer(layer, "TimeDistributed", "layer")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.layer = self._track(layer)

    def _sublayers(self):
        return [self.layer]

    def _check_input_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"Input 0 of layer {self.name!r} must have rank >= 3 (batch, timesteps, ...); "
                f"received input with shape {input_shape}."
            )

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        self.layer._maybe_build((input_shape[0],) + tuple(input_shape[2:]))
        self.built = True

    def compute_output_shape(self, input_shape, *args, **kwargs):
        inner = self.layer.compute_output_shape((input_shape[0],) + tuple(input_shape[2:]))
        return (inner[0], input_shape[1]) + tuple(inner[1:])

    def _eager_call(self, inputs, *args, **kwargs):
        inputs = backend.to_float_array(inputs, self.dtype, "inputs")
        self._check_input_shape(inputs.shape)
        return super()._eager_call(inputs, *args, **kwargs)

    def call(self, inputs, training=False):
        batch, steps = inputs.shape[0], inputs.shape[1]
        folded = inputs.reshape((batch * steps,) + inputs.shape[2:])  # (B*T, ...)
        y = self.layer(folded, training=training)
        return y.reshape((batch, steps) + y.shape[1:])  # (B, T, ...)

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        batch, steps = x.shape[0], x.shape[1]
        y, inner_backward = self.layer.forward_backward(x.reshape((batch * steps,) + x.shape[2:]),
                                                        training=training, grads=grads)

        def backward(dy):
            dx, _ = inner_backward(dy.reshape((batch * steps,) + dy.shape[2:]))  # (B*T, ...)
            return dx.reshape(x.shape), {}

        return y.reshape((batch, steps) + y.shape[1:]), backward

    def get_config(self):
        config = super().get_config()
        config["layer"] = serialize_layer(self.layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(deserialize_layer(config.pop("layer")), **config)


class Identity(Layer):
    """Returns its input unchanged (and passes its mask on): a placeholder layer."""

    supports_masking = True

    def call(self, inputs):
        return inputs

    def forward_backward(self, inputs, training=True, grads=None):
        x = self._prepare_inputs(inputs)
        return x, lambda dy: (dy, {})
