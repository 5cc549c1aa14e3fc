"""Regularizing noise, active only in training (``training=True``, as ``fit`` runs): SpatialDropout1D,
GaussianNoise, GaussianDropout.  Each passes its input's mask on.

With ``seed`` a layer draws from its own generator, so a model built with the same seeds repeats its noise; the
draws are rnnlab's (NumPy's), not TensorFlow's, so the noise itself differs from Keras's.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.engine.conv_args import check_rank
from rnnlab.layers.base import FunctionLayer
from rnnlab.layers.core import Dropout
from rnnlab import random
from rnnlab.random import make_rng


class SpatialDropout1D(Dropout):
    """Dropout of whole feature channels: one keep/drop draw per ``(sample, channel)``, shared by every time
    step (``(B, T, C)`` inputs)."""

    def __init__(self, rate, seed=None, name=None, dtype=None):
        super().__init__(rate, seed=seed, name=name, dtype=dtype)

    def _check_input_shape(self, input_shape):
        check_rank(self, input_shape, ndim=3)

    def _noise_shape(self, inputs):
        return (inputs.shape[0], 1, inputs.shape[2])

    def _eager_call(self, inputs, *args, **kwargs):
        self._check_input_shape(np.shape(inputs))
        return super()._eager_call(inputs, *args, **kwargs)

    def get_config(self):
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class _Noise(FunctionLayer):
    supports_masking = True

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = make_rng(seed) if seed is not None else None

    def _draws(self):
        """Whether training draws noise (the rate or stddev is above 0)."""
        raise NotImplementedError

    def _training_rng(self):
        return (self._rng or make_rng(None)) if self._draws() else None

    def _normal(self, shape, dtype):
        return random.layer_normal(self, shape).astype(dtype)


class GaussianNoise(_Noise):
    """In training, adds zero-mean Gaussian noise of standard deviation ``stddev``: ``y = x + stddev * n``."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float, np.number)) or not 0 <= stddev <= 1:
            raise ValueError(f"Argument `stddev` of GaussianNoise must be a float in [0, 1]; received "
                             f"stddev={stddev!r}.")
        self.stddev = stddev

    def _draws(self):
        return self.stddev > 0

    def _forward(self, x, training, grads):
        if not training or self.stddev == 0:
            return x, lambda dy: dy
        return x + x.dtype.type(self.stddev) * self._normal(x.shape, x.dtype), lambda dy: dy

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """In training, multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))``."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0 <= rate < 1:
            raise ValueError(f"Argument `rate` of GaussianDropout must be in [0, 1) (rate 1 has infinite noise); "
                             f"received rate={rate!r}.")
        self.rate = rate

    def _draws(self):
        return self.rate > 0

    def _forward(self, x, training, grads):
        if not training or self.rate == 0:
            return x, lambda dy: dy
        noise = 1 + x.dtype.type(math.sqrt(self.rate / (1.0 - self.rate))) * self._normal(x.shape, x.dtype)
        return x * noise, lambda dy: dy * noise

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
