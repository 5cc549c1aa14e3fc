"""``SaveFrequency``: Keras's ``save_freq`` of the callbacks that write files during ``fit`` (``ModelCheckpoint``,
``BackupAndRestore``): ``"epoch"``, or every that many training batches, counted across epoch boundaries."""
from __future__ import annotations


class SaveFrequency:
    """``batch_due(batch)`` after each training batch says whether an integer ``save_freq`` has come round."""

    def __init__(self, save_freq, message):
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)):
            raise ValueError(message)
        self.save_freq = save_freq
        self.since_last_save = 0
        self.last_batch = None  # the last batch seen in this epoch

    def batch_due(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        if self.last_batch is None or batch <= self.last_batch:  # a new epoch: its batches count from 0
            added = batch + 1
        else:
            added = batch - self.last_batch
        self.since_last_save += added
        self.last_batch = batch
        if self.since_last_save >= self.save_freq:
            self.since_last_save = 0
            return True
        return False
