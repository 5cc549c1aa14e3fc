"""Adagrad, as ``keras.optimizers.Adagrad``."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_float, keras_cast


class Adagrad(Optimizer):
    """Per-parameter learning rates from the sum of squared gradients.

    ``acc += g**2`` (``acc`` starts at ``initial_accumulator_value``), then
    ``w -= learning_rate * g / sqrt(acc + epsilon)`` (Keras puts ``epsilon`` inside the square root).
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.initial_accumulator_value = check_float(initial_accumulator_value, "initial_accumulator_value",
                                                     low=0.0, expected="a non-negative float")
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")

    def _slot_initializers(self, variable):
        return {"accumulator": keras_cast(self.initial_accumulator_value, variable.value.dtype)}

    def _update_step(self, grad, value, lr, state):
        acc = state["accumulator"]
        acc += np.square(grad)
        value -= (lr * grad) / np.sqrt(acc + self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return config
