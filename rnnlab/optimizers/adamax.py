"""Adamax, as ``keras.optimizers.Adamax``: Adam with the infinity norm in place of the second moment."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_float, keras_cast


class Adamax(Optimizer):
    """Adamax with Keras 3's formulation.

    At step ``t = iterations + 1``: ``m += (g - m) * (1 - beta_1)``, ``u = max(beta_2 * u, |g|)`` and
    ``w -= learning_rate * m / ((1 - beta_1**t) * (u + epsilon))``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", low=0.0, high=1.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")

    def _slot_initializers(self, variable):
        return {"momentum": 0.0, "norm": 0.0}

    def _update_step(self, grad, value, lr, state):
        dt = value.dtype.type
        # beta_1**t in float64, then rounded: the correctly rounded value, as TensorFlow's float32 pow gives.
        beta_1 = np.float64(keras_cast(self.beta_1, value.dtype))
        beta_1_power = dt(np.power(beta_1, np.float64(self._iterations + 1)))
        m, u = state["momentum"], state["norm"]
        m += (grad - m) * (1 - self.beta_1)
        np.maximum(self.beta_2 * u, np.abs(grad), out=u)
        value -= (lr * m) / ((1 - beta_1_power) * (u + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
