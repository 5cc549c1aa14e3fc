"""``Callback``: the base class, with every hook a trainer calls (all of them do nothing here)."""
from __future__ import annotations


class Callback:
    """Base class.  Override the ``on_*`` hooks; ``self.model`` and ``self.params`` are set by the trainer."""

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    # backwards-compatible aliases the train-batch hooks fall back to, as in Keras
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` (called by its default implementation)."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` (called by its default implementation)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Start of an epoch."""

    def on_epoch_end(self, epoch, logs=None):
        """End of an epoch; ``logs`` holds the epoch's metrics and the ``val_`` ones."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Start of an ``evaluate`` (or validation) batch."""

    def on_test_batch_end(self, batch, logs=None):
        """End of an ``evaluate`` (or validation) batch; ``logs`` are the running results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Start of a ``predict`` batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """End of a ``predict`` batch."""

    def on_train_begin(self, logs=None):
        """Start of ``fit``."""

    def on_train_end(self, logs=None):
        """End of ``fit``; ``logs`` are the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Start of ``evaluate`` (or of validation inside ``fit``)."""

    def on_test_end(self, logs=None):
        """End of ``evaluate`` (or validation)."""

    def on_predict_begin(self, logs=None):
        """Start of ``predict``."""

    def on_predict_end(self, logs=None):
        """End of ``predict``."""
