"""Activations as layers: Activation, ReLU, LeakyReLU, PReLU, ELU and Softmax (with a mask).

Every one of them passes its input's mask on unchanged, as in Keras.  Each forward keeps what its backward
needs (the input, or the output where the slope follows from it).
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab import activations, constraints, initializers, regularizers
from rnnlab.engine.conv_args import check_rank
from rnnlab.engine.layer import add_grad
from rnnlab.layers.base import FunctionLayer


def _number(value, name, layer, allow_none=False, minimum=0.0):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < minimum:
        raise ValueError(f"Argument `{name}` of {layer} must be a number >= {minimum}"
                         f"{' or None' if allow_none else ''}; received {name}={value!r}.")
    return float(value) if isinstance(value, (float, np.floating)) else int(value)


class Activation(FunctionLayer):
    """``activation(inputs)`` for any activation name (or callable) Keras knows."""

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation, "activation")

    def _forward(self, x, training, grads):
        y = self.activation(x)
        return y, lambda dy: activations.backward(self.activation, x, y, dy)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(FunctionLayer):
    """Keras's general rectifier::

        y = min(x, max_value)             for x > threshold (x >= 0 when threshold is 0)
        y = negative_slope * (x - threshold)   otherwise
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number(max_value, "max_value", "ReLU", allow_none=True)
        self.negative_slope = _number(negative_slope, "negative_slope", "ReLU")
        self.threshold = _number(threshold, "threshold", "ReLU")

    def _forward(self, x, training, grads):
        slope, cut, top = self.negative_slope, self.threshold, self.max_value
        on = x > cut  # the rising part
        y = np.where(on, x, 0).astype(x.dtype)
        if top is not None:
            below_top = y < top
            y = np.minimum(y, x.dtype.type(top))
        below = x < cut
        if slope:
            y = y - x.dtype.type(slope) * np.where(below, cut - x, 0).astype(x.dtype)

        def backward(dy):
            rising = on & below_top if top is not None else on
            return (dy * (rising + slope * below)).astype(x.dtype)

        return y, backward

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class LeakyReLU(FunctionLayer):
    """``y = x`` for ``x >= 0``, ``negative_slope * x`` otherwise (``alpha`` is Keras's deprecated name)."""

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` of LeakyReLU is deprecated. Use `negative_slope` instead.", stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = _number(negative_slope, "negative_slope", "LeakyReLU")

    def _forward(self, x, training, grads):
        slope = x.dtype.type(self.negative_slope)
        negative = x < 0
        y = np.where(negative, slope * x, x)
        return y, lambda dy: dy * np.where(negative, slope, x.dtype.type(1))

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class PReLU(FunctionLayer):
    """``y = x`` for ``x >= 0``, ``alpha * x`` otherwise, with a learned ``alpha`` per input entry (shape
    ``input_shape[1:]``, size 1 along ``shared_axes``)."""

    supports_masking = True

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer, "alpha_initializer")
        self.alpha_regularizer = regularizers.get(alpha_regularizer, "alpha_regularizer")
        self.alpha_constraint = constraints.get(alpha_constraint, "alpha_constraint")
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(f"Argument `shared_axes` of PReLU must hold axes >= 1 (not the batch axis); "
                                 f"received shared_axes={shared_axes!r}.")
            self.shared_axes = [int(a) for a in axes]
        self.alpha = None

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, min_ndim=2)
        if self.shared_axes and max(self.shared_axes) >= len(input_shape):
            raise ValueError(f"Argument `shared_axes` of layer {self.name!r} (PReLU) names axis "
                             f"{max(self.shared_axes)}, but the input has shape {tuple(input_shape)}.")
        if self.built:
            expected = (None,) + self.alpha.shape
            if len(input_shape) != len(expected) or any(
                    a != 1 and d is not None and d != a for d, a in zip(input_shape[1:], self.alpha.shape)):
                raise ValueError(f"Input 0 of layer {self.name!r} (PReLU) must have shape compatible with "
                                 f"{expected}; received shape {tuple(input_shape)}.")

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(f"Layer {self.name!r} (PReLU) needs known sizes on its non-shared axes; received "
                             f"input shape {tuple(input_shape)}.")
        self.alpha = self.add_weight(shape=tuple(shape), name="alpha", initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        self.built = True

    def _forward(self, x, training, grads):
        alpha = self.alpha.value
        negative_part = np.minimum(x, 0)  # -relu(-x)
        y = np.maximum(x, 0) + alpha * negative_part

        def backward(dy):
            # alpha is broadcast over the batch and the shared axes: its gradient sums over them
            d_alpha = (dy * negative_part).sum(axis=0)
            axes = tuple(i for i, n in enumerate(alpha.shape) if n == 1 and d_alpha.shape[i] != 1)
            add_grad(grads, self.alpha, d_alpha.sum(axis=axes, keepdims=True) if axes else d_alpha)
            return dy * np.where(x < 0, alpha, x.dtype.type(1))

        return y, backward

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": constraints.serialize(self.alpha_constraint), "shared_axes": self.shared_axes}


class ELU(FunctionLayer):
    """``y = x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Its config holds ``alpha``, as Keras 3.15's does (Keras's ELU defines no ``get_config``; the base layer
    writes the constructor's arguments).
    """

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(alpha, "alpha", "ELU", minimum=-np.inf)

    def _forward(self, x, training, grads):
        y = activations.elu(x, alpha=self.alpha)
        return y, lambda dy: dy * np.where(x > 0, x.dtype.type(1), y + x.dtype.type(self.alpha))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(FunctionLayer):
    """Softmax over ``axis`` (an int or a list of axes); with ``mask`` (broadcastable to the input, False =
    left out) the masked entries get probability 0 and the rest sum to 1."""

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if not axis or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
                raise TypeError(f"Argument `axis` of Softmax must be an int or a list of ints; received axis={axis!r}.")
            self.axis = list(int(a) for a in axis)
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(f"Argument `axis` of Softmax must be an int or a list of ints; received axis={axis!r}.")

    def _axes(self, ndim):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(f"Argument `axis` of layer {self.name!r} (Softmax) is out of range for an input of "
                             f"rank {ndim}; received axis={self.axis}.")
        return tuple(a % ndim for a in axes)

    def _check_mask(self, x, mask):
        mask = np.asarray(mask)
        if mask.ndim > x.ndim or any(m not in (1, d) for m, d in zip(mask.shape[::-1], x.shape[::-1])):
            raise ValueError(f"Argument `mask` of layer {self.name!r} (Softmax) must be broadcastable to the inputs "
                             f"(each axis 1 or equal, aligned from the right); received mask.shape={mask.shape} "
                             f"for inputs.shape={x.shape}.")
        keep = mask if mask.dtype == bool else mask > 0.5
        return np.broadcast_to(keep, x.shape)

    def _forward_masked(self, x, mask):
        axes = self._axes(x.ndim)
        keep = None if mask is None else self._check_mask(x, mask)
        z = x if keep is None else np.where(keep, x, x.dtype.type(-1e9))
        e = np.exp(z - z.max(axis=axes, keepdims=True))
        s = e / e.sum(axis=axes, keepdims=True)
        y = s if keep is None else np.where(keep, s, x.dtype.type(0))

        def backward(dy):
            ds = dy if keep is None else np.where(keep, dy, 0)  # masked outputs are constant zeros
            dz = s * (ds - (ds * s).sum(axis=axes, keepdims=True))
            return dz if keep is None else np.where(keep, dz, 0)  # masked inputs were replaced by a constant

        return y, backward

    def _forward(self, x, training, grads):
        return self._forward_masked(x, None)

    def call(self, inputs, mask=None):
        return self._forward_masked(inputs, mask)[0]

    def forward_backward(self, inputs, training=True, grads=None, mask=None):
        x = self._prepare_inputs(inputs)
        y, backward = self._forward_masked(x, mask)
        return y, lambda dy: (backward(dy), {})

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
