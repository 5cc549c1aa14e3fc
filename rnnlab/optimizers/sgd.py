"""Stochastic gradient descent with optional (Nesterov) momentum, as ``keras.optimizers.SGD``."""
from __future__ import annotations

from rnnlab.optimizers.base import Optimizer, check_bool, check_float, keras_cast


class SGD(Optimizer):
    """Gradient descent with momentum.

    Without momentum: ``w -= learning_rate * g``.  With ``momentum > 0`` (Keras 3 formulation, the velocity
    holds the learning rate): ``velocity = momentum * velocity - learning_rate * g`` then ``w += velocity``, or
    with ``nesterov=True``: ``w += momentum * velocity - learning_rate * g``.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, use_ema=use_ema,
                         ema_momentum=ema_momentum, ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.momentum = check_float(momentum, "momentum", low=0.0, high=1.0)
        self.nesterov = check_bool(nesterov, "nesterov")

    def _slot_initializers(self, variable):
        return {"momentum": 0.0} if self.momentum != 0 else {}

    def _update_step(self, grad, value, lr, state):
        if self.momentum == 0:
            value -= grad * lr
            return
        m = state["momentum"]
        mom = keras_cast(self.momentum, value.dtype)
        m[...] = m * mom - grad * lr
        if self.nesterov:
            value += m * mom - grad * lr
        else:
            value += m

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
