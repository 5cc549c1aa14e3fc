"""BatchNormalization and LayerNormalization, with Keras 3.15's arithmetic.

Both compute ``y = gamma * (x - mean) / sqrt(variance + epsilon) + beta``.  LayerNormalization takes the mean
and the (population) variance of each sample over ``axis``.  BatchNormalization takes them over every axis but
``axis`` (the features): from the batch in training, from ``moving_mean``/``moving_variance`` in inference and
whenever the layer is frozen (``trainable=False``), as Keras 3 does.  Each training call moves the statistics::

    moving_mean     <- moving_mean * momentum + mean * (1 - momentum)
    moving_variance <- moving_variance * momentum + variance * (1 - momentum)

(in ``fit`` after the optimizer step, see :func:`rnnlab.engine.layer.add_state_update`).  With a mask
``(B, T)`` the batch statistics count only unmasked steps, dividing by ``count + 1e-7`` as Keras does.
"""
from __future__ import annotations

import numpy as np

from rnnlab import constraints, initializers, regularizers
from rnnlab.engine.layer import add_grad, add_state_update, store_weight_arguments
from rnnlab.layers.base import FunctionLayer

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(), in the masked batch statistics


def _float(value, name, layer):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"Argument `{name}` of {layer} must be a number; received {name}={value!r}.")
    return float(value)


def _normalize_backward(dy, x_centered, inv, gamma, stat_axes, weights, denominator):
    """``dL/dx`` of ``y = gamma * (x - mu) * inv + beta`` where ``mu`` and ``var`` (``inv = (var + eps)^-1/2``)
    are weighted batch statistics: ``mu = sum(w x) / D``, ``var = sum(w (x - mu)^2) / D`` over ``stat_axes``."""
    g = dy if gamma is None else dy * gamma  # dL/d(normalized x) times nothing else yet
    d_var = -0.5 * inv ** 3 * np.sum(g * x_centered, axis=stat_axes, keepdims=True)
    d_mu = -inv * np.sum(g, axis=stat_axes, keepdims=True) \
        - 2.0 * d_var * np.sum(weights * x_centered, axis=stat_axes, keepdims=True) / denominator
    return g * inv + (2.0 * d_var * x_centered + d_mu) * weights / denominator


class BatchNormalization(FunctionLayer):
    """Normalizes each feature (``axis``) with batch statistics in training, moving statistics otherwise.

    Weights, in Keras's order: ``gamma`` (with ``scale``), ``beta`` (with ``center``), then the non-trainable
    ``moving_mean`` and ``moving_variance``, each of shape ``(features,)``.
    """

    supports_masking = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm=False, renorm_clipping=None, renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Argument `axis` of BatchNormalization must be an integer; received axis={axis!r}.")
        if renorm:
            raise ValueError("Argument `renorm=True` of BatchNormalization (batch renormalization) is not supported "
                             "by rnnlab; received renorm=True.")
        if renorm_clipping is not None:
            raise ValueError("Argument `renorm_clipping` of BatchNormalization is only used with renorm=True, which "
                             f"rnnlab does not support; received renorm_clipping={renorm_clipping!r}.")
        self.axis = int(axis)
        self.momentum = _float(momentum, "momentum", "BatchNormalization")
        self.epsilon = _float(epsilon, "epsilon", "BatchNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = initializers.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = initializers.get(moving_mean_initializer, "moving_mean_initializer")
        self.moving_variance_initializer = initializers.get(moving_variance_initializer,
                                                            "moving_variance_initializer")
        self.beta_regularizer = regularizers.get(beta_regularizer, "beta_regularizer")
        self.gamma_regularizer = regularizers.get(gamma_regularizer, "gamma_regularizer")
        self.beta_constraint = constraints.get(beta_constraint, "beta_constraint")
        self.gamma_constraint = constraints.get(gamma_constraint, "gamma_constraint")
        self.renorm, self.renorm_momentum = False, _float(renorm_momentum, "renorm_momentum", "BatchNormalization")
        # one process holds the whole batch, so synchronized statistics are the plain ones
        self.synchronized = bool(synchronized)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _check_input_shape(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"Argument `axis` of layer {self.name!r} (BatchNormalization) must name a non-batch axis "
                             f"of the input; received axis={self.axis} for input shape {tuple(input_shape)}.")
        if self.built and input_shape[self.axis] not in (None, self.moving_mean.shape[0]):
            raise ValueError(f"Input 0 of layer {self.name!r} (BatchNormalization) must have "
                             f"{self.moving_mean.shape[0]} features on axis {self.axis}; received input shape "
                             f"{tuple(input_shape)}.")

    def build(self, input_shape):
        self._check_input_shape(tuple(input_shape))
        shape = (input_shape[self.axis],)
        if shape[0] is None:
            raise ValueError(f"Layer {self.name!r} (BatchNormalization) needs a known size on axis {self.axis}; "
                             f"received input shape {tuple(input_shape)}.")
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer, trainable=False)
        self.built = True

    def _forward_masked(self, x, training, grads, mask):
        axis = self.axis % x.ndim
        stat_axes = tuple(i for i in range(x.ndim) if i != axis)
        bshape = [1] * x.ndim
        bshape[axis] = x.shape[axis]
        gamma = None if self.gamma is None else self.gamma.value.reshape(bshape)
        beta = None if self.beta is None else self.beta.value.reshape(bshape)
        batch_stats = bool(training) and self.trainable  # a frozen layer runs in inference mode (Keras 3)
        if mask is not None:
            mask = np.asarray(mask, bool)
            if mask.ndim != x.ndim - 1:
                raise ValueError(f"Argument `mask` of layer {self.name!r} (BatchNormalization) must have one axis "
                                 f"fewer than the inputs; received mask.shape={mask.shape}, inputs.shape={x.shape}.")
        if batch_stats:
            if mask is None:
                weights = np.ones((1,) * x.ndim, x.dtype)
                denominator = x.dtype.type(np.prod([x.shape[i] for i in stat_axes]))
                mean = x.mean(axis=stat_axes, keepdims=True)
            else:
                weights = np.broadcast_to(mask[..., None], x.shape).astype(x.dtype)
                denominator = weights.sum(axis=stat_axes, keepdims=True) + x.dtype.type(_KERAS_EPSILON)
                mean = (weights * x).sum(axis=stat_axes, keepdims=True) / denominator
            centered = x - mean
            variance = (weights * centered * centered).sum(axis=stat_axes, keepdims=True) / denominator
            m = x.dtype.type(self.momentum)
            new_mean, new_var = mean.reshape(-1), variance.reshape(-1)
            add_state_update(grads, self.moving_mean, lambda old: old * m + new_mean * (1 - m))
            add_state_update(grads, self.moving_variance, lambda old: old * m + new_var * (1 - m))
        else:
            centered = x - self.moving_mean.value.reshape(bshape)
            variance = self.moving_variance.value.reshape(bshape)
        inv = (1.0 / np.sqrt(variance + x.dtype.type(self.epsilon))).astype(x.dtype)
        normalized = centered * inv
        y = normalized if gamma is None else normalized * gamma
        if beta is not None:
            y = y + beta

        def backward(dy):
            if self.gamma is not None:
                add_grad(grads, self.gamma, (dy * normalized).sum(axis=stat_axes))
            if self.beta is not None:
                add_grad(grads, self.beta, dy.sum(axis=stat_axes))
            if not batch_stats:  # fixed statistics: an affine map of x (the statistics' own gradients are
                g = dy if gamma is None else dy * gamma  # given too; training leaves them alone, as they are
                add_grad(grads, self.moving_mean, -(g * inv).sum(axis=stat_axes))  # not trainable)
                add_grad(grads, self.moving_variance, (-0.5 * g * centered * inv ** 3).sum(axis=stat_axes))
                return g * inv
            return _normalize_backward(dy, centered, inv, gamma, stat_axes, weights, denominator)

        return y, backward

    def _forward(self, x, training, grads):
        return self._forward_masked(x, training, grads, None)

    def call(self, inputs, training=False, mask=None):
        return self._forward_masked(inputs, training, None, mask)[0]

    def forward_backward(self, inputs, training=True, grads=None, mask=None):
        x = self._prepare_inputs(inputs)
        y, backward = self._forward_masked(x, training, grads, mask)
        return y, lambda dy: (backward(dy), {})

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": self.synchronized, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(FunctionLayer):
    """Normalizes each sample over ``axis`` (an int or a list of axes); ``gamma``/``beta`` have the shape of those
    axes.  The mask passes through unchanged."""

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        if rms_scaling:
            raise ValueError("Argument `rms_scaling=True` of LayerNormalization (deprecated in Keras) is not "
                             "supported by rnnlab; received rms_scaling=True.")
        if isinstance(axis, (list, tuple)) and axis and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Argument `axis` of LayerNormalization must be an int or a list of ints; received "
                            f"axis={axis!r}.")
        self.epsilon = _float(epsilon, "epsilon", "LayerNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.rms_scaling = False
        store_weight_arguments(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                               gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.gamma = self.beta = None

    def _axes(self, rank):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank or a % rank == 0 for a in axes):
            raise ValueError(f"Argument `axis` of layer {self.name!r} (LayerNormalization) must name non-batch axes "
                             f"of the input (rank {rank}); received axis={self.axis}.")
        return axes

    def _check_input_shape(self, input_shape):
        self._axes(len(input_shape))

    def build(self, input_shape):
        axes = sorted(self._axes(len(input_shape)))
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"Layer {self.name!r} (LayerNormalization) needs known sizes on axis {self.axis}; "
                             f"received input shape {tuple(input_shape)}.")
        self.axis = axes  # Keras keeps the sorted list once built (get_config shows it)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.built = True

    def _forward(self, x, training, grads):
        axes = tuple(sorted(a % x.ndim for a in self._axes(x.ndim)))
        bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
        other = tuple(i for i in range(x.ndim) if i not in axes)
        gamma = None if self.gamma is None else self.gamma.value.reshape(bshape)
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        variance = (centered * centered).mean(axis=axes, keepdims=True)
        inv = (1.0 / np.sqrt(variance + x.dtype.type(self.epsilon))).astype(x.dtype)
        normalized = centered * inv
        y = normalized if gamma is None else normalized * gamma
        if self.beta is not None:
            y = y + self.beta.value.reshape(bshape)
        count = x.dtype.type(np.prod([x.shape[i] for i in axes]))

        def backward(dy):
            if self.gamma is not None:
                add_grad(grads, self.gamma, (dy * normalized).sum(axis=other).reshape(self.gamma.shape))
            if self.beta is not None:
                add_grad(grads, self.beta, dy.sum(axis=other).reshape(self.beta.shape))
            return _normalize_backward(dy, centered, inv, gamma, axes, np.ones((1,) * x.ndim, x.dtype), count)

        return y, backward

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": False,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}
