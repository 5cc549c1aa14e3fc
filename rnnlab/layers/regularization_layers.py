"""ActivityRegularization and AlphaDropout, as Keras 3's layers of those names.

``ActivityRegularization(l1, l2)`` passes its input through and adds ``(l1 * sum|y| + l2 * sum y**2) / batch``
to the losses, as any layer's ``activity_regularizer`` does.  ``AlphaDropout`` keeps a SELU network's mean and
variance while dropping: in training, dropped values become ``alpha' = -alpha * scale`` of SELU, then
``y = a * x' + b`` with ``a = ((1 - rate) * (1 + rate * alpha'**2)) ** -0.5`` and ``b = -a * alpha' * rate``.
Its draws come from rnnlab's generator (NumPy's; keyed by step and sample inside ``fit``, see
:mod:`rnnlab.random`), so the noise itself differs from Keras's.
"""
from __future__ import annotations

import numpy as np

from rnnlab import random, regularizers
from rnnlab.engine.layer import Layer
from rnnlab.layers.base import FunctionLayer
from rnnlab.random import make_rng

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class ActivityRegularization(FunctionLayer):
    """Identity whose output is penalized by ``L1L2(l1, l2)`` (see the module docstring)."""

    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization() takes `l1` and `l2`, not `activity_regularizer`.")
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1, self.l2 = l1, l2

    def _forward(self, x, training, grads):
        return x, lambda dy: dy

    def get_config(self):
        config = Layer.get_config(self)
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}


class AlphaDropout(FunctionLayer):
    """SELU-preserving dropout, active only in training (see the module docstring)."""

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0 <= rate <= 1:
            raise ValueError(f"Invalid value received for argument `rate`. Expected a float value between 0 and 1. "
                             f"Received: rate={rate!r}")
        if rate == 1:
            raise ValueError("Argument `rate` of AlphaDropout must be below 1: with rate=1 its scale "
                             "((1 - rate) * ...) ** -0.5 is infinite. Received: rate=1.")
        if noise_shape is not None and not isinstance(noise_shape, (list, tuple)):
            raise TypeError(f"Argument `noise_shape` of AlphaDropout must be None or a tuple of ints/None; received "
                            f"noise_shape={noise_shape!r}.")
        self.rate, self.seed = rate, seed
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self._rng = make_rng(seed) if seed is not None else None

    def _training_rng(self):
        return (self._rng or make_rng(None)) if self.rate else None

    def _forward(self, x, training, grads):
        if not training or self.rate == 0:
            return x, lambda dy: dy
        shape = x.shape if self.noise_shape is None else \
            tuple(x.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        per_sample = self.noise_shape is None or self.noise_shape[0] is None  # else one draw for all samples
        kept = (random.layer_uniform(self, shape, batch_axis=0 if per_sample else None) >= self.rate).astype(x.dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * self.rate
        y = x.dtype.type(a) * (x * kept + x.dtype.type(alpha_p) * (1 - kept)) + x.dtype.type(b)
        return y, lambda dy: dy * (x.dtype.type(a) * kept)  # dropped values are constants: no gradient

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape}
