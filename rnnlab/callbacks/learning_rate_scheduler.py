"""``LearningRateScheduler``: set the optimizer's learning rate from a function of the epoch."""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab.callbacks.callback import Callback
from rnnlab.utils.printing import print_msg


class LearningRateScheduler(Callback):
    """At the start of every epoch, ``optimizer.learning_rate = schedule(epoch, learning_rate)`` (Keras 3).

    ``schedule(epoch, lr)`` takes the epoch index (from 0) and the current learning rate and returns the new one,
    a float; a ``schedule(epoch)`` of one argument works too (Keras calls it that way when the two-argument call
    raises ``TypeError``).  ``verbose > 0`` prints each change.  At the end of every epoch ``learning_rate`` is
    added to the logs, so ``History`` records it.  An optimizer built with a ``LearningRateSchedule`` cannot take
    a float learning rate: that raises ``TypeError``, as in Keras.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"Argument `schedule` must be a callable `schedule(epoch, lr) -> float`; received "
                            f"schedule={schedule!r} of type {type(schedule).__name__}.")
        if isinstance(verbose, (bool, np.bool_)) or not isinstance(verbose, numbers.Integral):
            raise TypeError(f"Argument `verbose` must be an integer; received verbose={verbose!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        return optimizer

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self._optimizer()
        try:  # Keras's order: the two-argument form first, the one-argument form on TypeError
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {learning_rate!r}")
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs:  # as Keras, an epoch without logs (no data) gets none
            logs["learning_rate"] = float(self._optimizer().learning_rate)
