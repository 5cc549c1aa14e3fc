"""Adam, as ``keras.optimizers.Adam``."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_bool, check_float, keras_cast


class Adam(Optimizer):
    """Adam with Keras 3's formulation.

    At step ``t = iterations + 1``: ``m += (g - m) * (1 - beta_1)``, ``v += (g**2 - v) * (1 - beta_2)``,
    ``alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)`` and ``w -= m * alpha / (sqrt(v) + epsilon)``
    (``epsilon`` is added to the *uncorrected* ``sqrt(v)``).  With ``amsgrad=True`` the running maximum of ``v``
    replaces ``v`` in the denominator.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        self.beta_2 = check_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")
        self.amsgrad = check_bool(amsgrad, "amsgrad")

    def _slot_initializers(self, variable):
        slots = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            slots["velocity_hat"] = 0.0
        return slots

    def _update_step(self, grad, value, lr, state):
        dt = value.dtype.type
        t = dt(self._iterations + 1)
        # Powers in float64, then rounded: the correctly rounded value, as TensorFlow's float32 pow gives.
        beta_1_power = dt(np.power(np.float64(keras_cast(self.beta_1, value.dtype)), np.float64(t)))
        beta_2_power = dt(np.power(np.float64(keras_cast(self.beta_2, value.dtype)), np.float64(t)))
        alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m, v = state["momentum"], state["velocity"]
        m += (grad - m) * (1 - self.beta_1)
        v += (np.square(grad) - v) * (1 - self.beta_2)
        if self.amsgrad:
            v_hat = state["velocity_hat"]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        value -= (m * alpha) / (np.sqrt(v) + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config
