"""Adadelta, as ``keras.optimizers.Adadelta``."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_float


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running root-mean-squares of past steps and of gradients.

    With ``rms(a) = sqrt(a + epsilon)`` (Keras puts ``epsilon`` inside the square root):
    ``acc_g = rho * acc_g + (1 - rho) * g**2``; ``delta = -rms(acc_delta) * g / rms(acc_g)``;
    ``acc_delta = rho * acc_delta + (1 - rho) * delta**2``; ``w += learning_rate * delta``.
    Keras's slots are ``accumulated_grad`` (``acc_g``) and ``accumulated_delta_var`` (``acc_delta``).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.rho = check_float(rho, "rho", low=0.0, high=1.0)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")

    def _slot_initializers(self, variable):
        return {"accumulated_grad": 0.0, "accumulated_delta_var": 0.0}

    def _update_step(self, grad, value, lr, state):
        rho, eps = self.rho, self.epsilon
        acc_g, acc_delta = state["accumulated_grad"], state["accumulated_delta_var"]
        acc_g[...] = rho * acc_g + (1 - rho) * np.square(grad)
        delta = -((np.sqrt(acc_delta + eps) * grad) / np.sqrt(acc_g + eps))
        acc_delta[...] = rho * acc_delta + (1 - rho) * np.square(delta)
        value += lr * delta

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
