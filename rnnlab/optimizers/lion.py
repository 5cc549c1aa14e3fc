"""Lion, as ``keras.optimizers.Lion``: sign updates from an interpolated momentum."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_float, keras_cast


class Lion(Optimizer):
    """Lion (evolved sign momentum), Keras 3's formulation.

    ``w -= learning_rate * sign(beta_1 * m + (1 - beta_1) * g)``, then ``m = beta_2 * m + (1 - beta_2) * g``.
    ``beta_1`` must lie in ``(0, 1]`` (with 0 it would be SignSGD), as Keras requires.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.beta_1 = check_float(beta_1, "beta_1", low=0.0, high=1.0, low_open=True,
                                  expected="a float in (0, 1] (0 degenerates Lion to SignSGD)")
        self.beta_2 = check_float(beta_2, "beta_2", low=0.0, high=1.0)

    def _slot_initializers(self, variable):
        return {"momentum": 0.0}

    def _update_step(self, grad, value, lr, state):
        one = value.dtype.type(1.0)
        beta_1 = keras_cast(self.beta_1, value.dtype)
        beta_2 = keras_cast(self.beta_2, value.dtype)
        m = state["momentum"]
        value -= lr * np.sign(m * beta_1 + grad * (one - beta_1))
        m[...] = m * beta_2 + grad * (one - beta_2)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
