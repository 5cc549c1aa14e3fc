"""``CallbackList``: calls every hook on every callback in order.

A trainer drives the list exactly as Keras 3's ``fit`` does::

    callbacks = CallbackList(user_callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                             verbose=verbose, epochs=epochs, steps=steps_per_epoch)
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        for step in range(steps_per_epoch):
            callbacks.on_train_batch_begin(step)
            ...                                            # one optimisation step
            callbacks.on_train_batch_end(step, running_logs)   # {"loss": ..., "accuracy": ...} so far
            if model.stop_training: break
        epoch_logs = dict(running_logs)
        # validation: on_test_begin / on_test_batch_begin / on_test_batch_end / on_test_end with the same list,
        # then epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        callbacks.on_epoch_end(epoch, epoch_logs)
        if model.stop_training: break
    callbacks.on_train_end(logs=epoch_logs)
    return model.history

Like Keras, :class:`CallbackList` hands every callback the *same* logs dict, with keys sorted and values
turned into Python floats where possible (so ``accuracy`` precedes ``loss`` in the progress bar and in
``History``), and a callback may add keys that the later ones see (``ReduceLROnPlateau`` adds
``learning_rate``; the ``History`` that ``add_history`` appends comes last and records it).
"""
from __future__ import annotations

from rnnlab.callbacks.callback import Callback
from rnnlab.callbacks.history import History
from rnnlab.callbacks.progbar_logger import ProgbarLogger


def _pythonify_logs(logs):
    """Sorted copy of ``logs`` with nested dicts flattened and values made Python floats where possible."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


class CallbackList(Callback):
    """Calls every hook on every callback in order; adds ``History``/``ProgbarLogger`` when asked.

    ``CallbackList(callbacks=None, add_history=False, add_progbar=False, model=None, **params)``: ``params``
    (Keras's ``fit`` passes ``verbose``, ``epochs`` and ``steps``) go to every callback's ``set_params``; the
    model goes to ``set_model`` and, when a ``History`` is present, ``model.history`` is set to it.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        super().__init__()
        self.callbacks = list(_flatten(callbacks)) if callbacks else []
        self._in_begin_end_block_count = 0
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    @property
    def history(self):
        """The ``History`` callback in the list (None when there is none)."""
        return self._history

    def append(self, callback):
        self.callbacks.append(callback)
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def _dispatch(self, hook, *args):
        logs = _pythonify_logs(args[-1])
        for cb in self.callbacks:
            getattr(cb, hook)(*args[:-1], logs)

    def _begin(self):
        self._in_begin_end_block_count += 1

    def _end(self):
        self._in_begin_end_block_count -= 1
        if self._in_begin_end_block_count < 0:
            self._in_begin_end_block_count = 0
            raise ValueError("`on_xxx_end` called without the corresponding `on_xxx_begin`.")

    def on_batch_begin(self, batch, logs=None):
        self._dispatch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._dispatch("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._dispatch("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._dispatch("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._dispatch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._dispatch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._dispatch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._dispatch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._dispatch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._dispatch("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self._begin()
        self._dispatch("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._dispatch("on_train_end", logs)
        self._end()

    def on_test_begin(self, logs=None):
        self._begin()
        self._dispatch("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._dispatch("on_test_end", logs)
        self._end()

    def on_predict_begin(self, logs=None):
        self._begin()
        self._dispatch("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._dispatch("on_predict_end", logs)
        self._end()


def _flatten(callbacks):
    if isinstance(callbacks, (list, tuple)):
        for cb in callbacks:
            yield from _flatten(cb)
    elif callbacks is not None:
        yield callbacks
