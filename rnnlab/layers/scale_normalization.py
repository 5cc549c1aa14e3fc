"""UnitNormalization, RMSNormalization and GroupNormalization, as Keras 3's layers of those names.

Written with :mod:`rnnlab.ops`, so that their training gradients come from the record of the ops
(:meth:`rnnlab.engine.layer.Layer.forward_backward`) rather than a hand-written backward.

- ``UnitNormalization(axis)``: ``y = x * min(rsqrt(sum(x**2, axis)), 1e12)`` (unit L2 norm; no weights).
- ``RMSNormalization(axis, epsilon)``: ``y = x * rsqrt(mean(x**2, axis) + epsilon) * scale``; weight ``scale``
  shaped as the normalized axes.
- ``GroupNormalization(groups, axis, ...)``: the ``C`` channels of ``axis`` are split into ``groups`` groups of
  ``C / groups``; each sample's group is standardized over its channels and every other non-batch axis,
  ``y = (x - mean) * rsqrt(var + epsilon) * gamma + beta``; weights ``gamma`` then ``beta``, each ``(C,)``.
"""
from __future__ import annotations

import numpy as np

from rnnlab import constraints, initializers, ops, regularizers
from rnnlab.engine.layer import Layer, store_weight_arguments


def _check_axes(axis, input_shape, received):
    for a in (axis if isinstance(axis, (list, tuple)) else [axis]):
        if a >= len(input_shape) or a < -len(input_shape):
            raise ValueError(f"Axis {a} is out of bounds for input shape {tuple(input_shape)}. Received: "
                             f"axis={received}")


def _int_or_ints(axis, layer):
    if isinstance(axis, (list, tuple)) and all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        return list(axis)
    if isinstance(axis, int) and not isinstance(axis, bool):
        return axis
    raise TypeError(f"Invalid value for `axis` argument of {layer}: expected an int or a list/tuple of ints. "
                    f"Received: axis={axis!r}")


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis`` (see the module docstring)."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _int_or_ints(axis, "UnitNormalization")

    def _check_input_shape(self, input_shape):
        _check_axes(self.axis, input_shape, self.axis)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return ops.normalize(inputs, axis=self.axis, order=2, epsilon=1e-12)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        _check_axes(self.axis, input_shape, self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class RMSNormalization(Layer):
    """Root-mean-square normalization over ``axis`` with a learned ``scale`` (see the module docstring)."""

    def __init__(self, axis=-1, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.axis = _int_or_ints(axis, "RMSNormalization")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) or epsilon < 0:
            raise ValueError(f"Argument `epsilon` of RMSNormalization must be a float >= 0; received "
                             f"epsilon={epsilon!r}.")
        self.epsilon = epsilon
        self.scale = None

    def build(self, input_shape):
        _check_axes(self.axis, input_shape, self.axis)
        if isinstance(self.axis, list):
            self.axis = sorted(self.axis)
            shape = tuple(input_shape[a] for a in self.axis)
        else:
            shape = (input_shape[self.axis],)
            self.axis = [self.axis]
        if None in shape:
            raise ValueError(f"RMSNormalization {self.name!r} needs known sizes on axis {self.axis}; received input "
                             f"shape {tuple(input_shape)}.")
        self.scale = self.add_weight(name="scale", shape=shape, initializer="ones")
        self.built = True

    def call(self, x):
        rrms = ops.rsqrt(ops.mean(ops.square(x), axis=self.axis, keepdims=True) + self.epsilon)
        return x * rrms * self.scale

    def compute_output_shape(self, input_shape, *args, **kwargs):
        _check_axes(self.axis, input_shape, self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon}


class GroupNormalization(Layer):
    """Normalization over groups of channels (``groups=-1``: one channel a group, instance normalization)."""

    supports_masking = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if isinstance(groups, bool) or not isinstance(groups, int) or (groups <= 0 and groups != -1):
            raise ValueError("Received an invalid value for argument `groups`, expected a positive integer (or `-1` "
                             f"for instance normalization). Received: groups={groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"Argument `axis` of GroupNormalization must be an int; received axis={axis!r}.")
        super().__init__(**kwargs)
        self.groups, self.axis, self.epsilon = groups, axis, epsilon
        self.center, self.scale = bool(center), bool(scale)
        store_weight_arguments(self, beta=(beta_initializer, beta_regularizer, beta_constraint),
                               gamma=(gamma_initializer, gamma_regularizer, gamma_constraint))
        self.gamma = self.beta = None

    def _check_input_shape(self, input_shape):
        _check_axes(self.axis, input_shape, self.axis)
        if self.built and input_shape[self.axis] not in (None, self._channels):
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected axis "
                             f"{self.axis} of input shape to have value {self._channels}, but received input with "
                             f"shape {tuple(input_shape)}")

    def build(self, input_shape):
        _check_axes(self.axis, input_shape, self.axis)
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {tuple(input_shape)}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number of channels ({dim}).")
        if dim % self.groups:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the number of channels "
                             f"({dim}).")
        self._channels = dim
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(dim,), initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs):
        shape = tuple(inputs.shape)
        ndim = len(shape)
        axis = self.axis % ndim
        # (B, ..., C, ...) -> (B, ..., groups, C / groups, ...)
        group_shape = list(shape[:axis]) + [self.groups, shape[axis] // self.groups] + list(shape[axis + 1:])
        group_shape[0] = -1
        grouped = ops.reshape(inputs, group_shape)
        reduce = [a for a in range(1, ndim + 1) if a != axis]  # every axis but batch and the group's
        mean, variance = ops.moments(grouped, axes=reduce, keepdims=True)
        inv = ops.rsqrt(variance + self.epsilon)
        broadcast = [1] * (ndim + 1)
        broadcast[axis], broadcast[axis + 1] = self.groups, shape[axis] // self.groups
        if self.scale:
            inv = inv * ops.reshape(self.gamma, broadcast)
        offset = -mean * inv
        if self.center:
            offset = offset + ops.reshape(self.beta, broadcast)
        return ops.reshape(grouped * inv + offset, shape)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        _check_axes(self.axis, input_shape, self.axis)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint)}
