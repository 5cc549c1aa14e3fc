"""``History``: the epoch logs of a ``fit``, which ``fit`` returns."""
from __future__ import annotations

from rnnlab.callbacks.callback import Callback


class History(Callback):
    """Records the epoch logs: ``history`` (key -> list of values) and ``epoch`` (epoch indices).

    Every ``fit`` gets one (``CallbackList(add_history=True)``); it becomes ``model.history`` when the list gets
    the model, and again at each epoch end, as in Keras.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self
