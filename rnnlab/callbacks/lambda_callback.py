"""``LambdaCallback``: a callback made of plain functions."""
from __future__ import annotations

from rnnlab.callbacks.callback import Callback


class LambdaCallback(Callback):
    """A callback made of plain functions.

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, ``on_train_begin``/``on_train_end`` take
    ``(logs)``, ``on_train_batch_begin``/``on_train_batch_end`` take ``(batch, logs)``; any other hook can be
    given as a keyword too (``on_test_end=...``, ``on_predict_batch_end=...``).
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for hook, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end)):
            if fn is not None:
                setattr(self, hook, fn)
