"""Nadam, as ``keras.optimizers.Nadam``: Adam with Nesterov momentum and a momentum schedule."""
from __future__ import annotations

import numpy as np

from rnnlab.optimizers.base import Optimizer, check_float, keras_cast

#: Keras's momentum-schedule decay: ``u_t = beta_1 * (1 - 0.5 * 0.96**t)``.
_SCHEDULE_DECAY = 0.96


def _power(base, exponent, dt):
    """``base**exponent`` computed in float64 and rounded to ``dt``: the correctly rounded value, as TensorFlow's
    float32 ``pow`` gives."""
    return dt(np.power(np.float64(base), np.float64(exponent)))


class Nadam(Optimizer):
    """Nadam with Keras 3's formulation (Dozat's momentum schedule).

    At step ``t = iterations + 1``, with the momentum factors ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and
    ``u_{t+1}``, and ``u_product`` the running product ``u_1 * ... * u_t`` (one scalar for the whole optimizer,
    Keras's optimizer variable ``variable``):

    ``m += (g - m) * (1 - beta_1)``, ``v += (g**2 - v) * (1 - beta_2)``,
    ``m_hat = u_{t+1} * m / (1 - u_product * u_{t+1}) + (1 - u_t) * g / (1 - u_product)``,
    ``v_hat = v / (1 - beta_2**t)`` and ``w -= m_hat * learning_rate / (sqrt(v_hat) + epsilon)``.
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
        self.beta_2 = check_float(beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        self.epsilon = check_float(epsilon, "epsilon", low=0.0, expected="a non-negative float")

    def _slot_initializers(self, variable):
        return {"momentum": 0.0, "velocity": 0.0}

    def _global_initializers(self):
        return {"u_product": 1.0}

    def _before_update_steps(self):
        u_product = self._global_state["u_product"]
        dt = u_product.dtype.type
        # Keras: u_product * beta_1 * (1 - 0.5 * 0.96**t), the Python constants taken in u_product's dtype
        decay_power = _power(dt(_SCHEDULE_DECAY), self._iterations + 1, dt)
        u_product[...] = u_product * dt(self.beta_1) * (dt(1.0) - dt(0.5) * decay_power)

    def _update_step(self, grad, value, lr, state):
        dt = value.dtype.type
        one, half = dt(1.0), dt(0.5)
        decay = keras_cast(_SCHEDULE_DECAY, value.dtype)
        beta_1 = keras_cast(self.beta_1, value.dtype)
        beta_2 = keras_cast(self.beta_2, value.dtype)
        u_t = beta_1 * (one - half * _power(decay, self._iterations + 1, dt))
        u_t_1 = beta_1 * (one - half * _power(decay, self._iterations + 2, dt))
        u_product_t = dt(self._global_state["u_product"])
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = _power(beta_2, self._iterations + 1, dt)
        m, v = state["momentum"], state["velocity"]
        m += (grad - m) * (one - beta_1)
        v += (np.square(grad) - v) * (one - beta_2)
        m_hat = (u_t_1 * m) / (one - u_product_t_1) + ((one - u_t) * grad) / (one - u_product_t)
        v_hat = v / (one - beta_2_power)
        value -= (m_hat * lr) / (np.sqrt(v_hat) + dt(self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
