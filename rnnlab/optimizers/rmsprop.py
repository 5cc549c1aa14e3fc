"""RMSprop, as ``keras.optimizers.RMSprop``."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_bool, check_float


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients.

    ``v = rho * v + (1 - rho) * g**2``; ``step = learning_rate * g / sqrt(v + epsilon)`` (Keras puts ``epsilon``
    *inside* the square root; with ``centered=True`` the denominator is ``sqrt(v - mean_g**2 + epsilon)``).
    With ``momentum > 0``: ``buffer = momentum * buffer + step`` and ``w -= buffer``, else ``w -= step``.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = check_float(rho, "rho", low=0.0, high=1.0)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")
        self.centered = check_bool(centered, "centered")

    def _slot_initializers(self, variable):
        slots = {"velocity": 0.0}
        if self.momentum > 0:
            slots["momentum"] = 0.0
        if self.centered:
            slots["average_gradient"] = 0.0
        return slots

    def _update_step(self, grad, value, lr, state):
        rho = self.rho
        v = state["velocity"]
        v[...] = rho * v + (1 - rho) * np.square(grad)
        if self.centered:
            a = state["average_gradient"]
            a[...] = rho * a + (1 - rho) * grad
            denominator = v - np.square(a) + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = (lr * grad) / np.sqrt(denominator)
        if self.momentum > 0:
            buf = state["momentum"]
            buf[...] = self.momentum * buf + increment
            value -= buf
        else:
            value -= increment

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config
