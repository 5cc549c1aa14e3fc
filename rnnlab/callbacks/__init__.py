"""Keras 3 training callbacks: ``Callback``, ``CallbackList`` and the standard callbacks.

A trainer drives them exactly as Keras 3's ``fit`` does::

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

import collections
import collections.abc
import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "Progbar",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
]


def _print_msg(message, line_break=True):
    """Write to the *current* ``sys.stdout`` (as Keras's ``io_utils.print_msg``) and flush."""
    message = f"{message}\n" if line_break else str(message)
    stream = sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        message = message.replace("\u2501", "=")
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(message.encode(encoding, errors="ignore").decode(encoding))
    stream.flush()


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


# ---------------------------------------------------------------------------------------------------------
# base classes
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------
# progress output
# ---------------------------------------------------------------------------------------------------------

_BAR_CHAR = "\u2501"


def _format_metric(value, signed_test=True):
    """Keras's display: 4 decimals, or scientific notation for small values (``|v| <= 1e-3``).

    The one-line (``verbose=2``) display tests ``v > 1e-3`` without ``abs``, as Keras does
    (``signed_test=False``), so negative values print in scientific notation there.
    """
    if isinstance(value, str):
        return value
    try:
        value = float(np.mean(value))
    except (TypeError, ValueError):
        return str(value)
    big = abs(value) > 1e-3 if signed_test else value > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


def _format_step_time(seconds, unit_name="step"):
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit_name}"
    if seconds >= 1e-3:
        return f" {seconds * 1000.0:.0f}ms/{unit_name}"
    return f" {seconds * 1e6:.0f}us/{unit_name}"


class Progbar:
    """A Keras 3 style progress bar.

    ``verbose=1``: one line rewritten in place (``\\r``) with the step count, a 20-character bar, the ETA (the
    elapsed time once finished), the time per step and the metrics; ``verbose=2``: a single line when finished;
    ``verbose=0``: nothing.  ``update(current, values, finalize=None)`` takes ``values`` as ``(name, value)``
    pairs; names in ``stateful_metrics`` (all names when ``stateless_metrics`` is an empty set, as
    ``ProgbarLogger`` uses it) are shown as given, the others are averaged over the steps.

    On a terminal the bar is coloured like Keras's (green done, white to go); elsewhere the text is Keras's with
    the colour codes left out, so the bar is always ``width`` characters of U+2501.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, stateless_metrics=None,
                 unit_name="step", stream=None, color=None):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Only one of `stateful_metrics` or `stateless_metrics` can be provided.")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self._stream = stream
        self._color = color
        if stateful_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics), None
        elif stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(), None
        self._values = {}
        self._values_order = []
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _write(self, message):
        if self._stream is None:
            _print_msg(message, line_break=False)
        else:
            self._stream.write(message)
            self._stream.flush()

    def _use_color(self):
        if self._color is not None:
            return self._color
        stream = self._stream if self._stream is not None else sys.stdout
        isatty = getattr(stream, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed stream
            return False

    def _stateless(self, key):
        if self.stateful_metrics is not None:
            return key not in self.stateful_metrics
        return key in self.stateless_metrics

    def _estimate_step_duration(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per = (now - self._time_after_first_step) / (current - 1)
        else:
            per = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per

    def _average(self, key):
        total, count = self._values[key]
        return float(np.mean(total)) / max(1, count)

    def update(self, current, values=None, finalize=None):
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        for key, value in values or []:
            if key not in self._values_order:
                self._values_order.append(key)
            if self._stateless(key) and not finalize:
                weight = max(current - self._seen_so_far, 1)
                if key in self._values:
                    self._values[key][0] += value * weight
                    self._values[key][1] += weight
                else:
                    self._values[key] = [value * weight, weight]
            else:
                self._values[key] = [value, 1]
        self._seen_so_far = current

        now = time.time()
        per_step = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            color = self._use_color()
            if self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                count = f"{current:>{digits}d}/{self.target}"
                done = min(int(self.width * float(current) / self.target), self.width)
                if color:
                    bar = f"\x1b[1m{count}\x1b[0m "
                    if done > 0:
                        bar += f"\x1b[32m{_BAR_CHAR * done}\x1b[0m"
                    bar += f"\x1b[37m{_BAR_CHAR * (self.width - done)}\x1b[0m"
                else:
                    bar = f"{count} {_BAR_CHAR * self.width}"
            else:
                bar = f"{current:7d}/Unknown"
                done = None
            if self.target is not None and self.target > 0 and not finalize:
                eta = per_step * (self.target - current)
                if eta > 3600:
                    eta_text = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
                elif eta > 60:
                    eta_text = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    eta_text = "%ds" % eta
            else:
                eta_text = f"{now - self._start:.0f}s"
            info = f" \x1b[1m{eta_text}\x1b[0m" if color else f" {eta_text}"
            info += _format_step_time(per_step, self.unit_name)
            for key in self._values_order:
                info += f" - {key}: {_format_metric(self._average(key))}"
            visible = len(_strip_ansi(bar)) + len(_strip_ansi(info))
            message = "\r" + bar + info
            if self._prev_total_width > visible:
                message += " " * (self._prev_total_width - visible)
            if finalize:
                message += "\n"
            self._write(message)
            self._prev_total_width = visible

        elif self.verbose == 2:
            if finalize and self.target is not None and self.target > 0:
                digits = int(math.log10(self.target)) + 1
                info = f"{current:>{digits}d}/{self.target} - {now - self._start:.0f}s"
                info += f" -{_format_step_time(per_step, self.unit_name)}"
                for key in self._values_order:
                    info += f" - {key}: {_format_metric(self._average(key), signed_test=False)}"
                self._write(info + "\n")

        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)


def _strip_ansi(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            j = text.find("m", i)
            i = j + 1 if j >= 0 else len(text)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class ProgbarLogger(Callback):
    """Prints progress as Keras 3's ``fit``/``evaluate``/``predict`` do.

    ``fit`` with ``verbose=1``: ``Epoch i/N`` (only when ``epochs > 1``), then a bar updated after every batch
    with the running logs, finished at the epoch end with the epoch logs (``val_`` keys included);
    ``verbose=2``: ``Epoch i/N`` and one summary line per epoch.  Validation inside ``fit`` prints nothing.
    Reads ``verbose``, ``epochs`` and ``steps`` from the params.
    """

    def __init__(self, interval=0.05):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self.interval = interval
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, interval=self.interval,
                                   unit_name="step", stateless_metrics=set())

    def _update_progbar(self, batch, logs=None):
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finalize_progbar(self, logs):
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


# ---------------------------------------------------------------------------------------------------------
# monitoring callbacks
# ---------------------------------------------------------------------------------------------------------

_UP_NAMES = ("acc", "auc", "precision", "recall", "f1", "iou", "r2")
_DOWN_NAMES = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge", "divergence", "poisson",
               "cosh")


def _model_metrics(model):
    """The metric objects a model exposes through ``model.metrics`` (lists inside it flattened)."""
    found = []
    stack = list(getattr(model, "metrics", None) or []) if model is not None else []
    while stack:
        m = stack.pop(0)
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack[:0] = list(inner)
        elif m is not None:
            found.append(m)
    return found


class _MonitorCallback(Callback):
    """Shared "is this an improvement?" logic (Keras's ``MonitorCallback``)."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        """``np.less`` (minimise) or ``np.greater`` (maximise).

        ``mode="auto"`` follows Keras 3: ``loss``/``val_loss`` is minimised; otherwise a metric of that name in
        ``model.metrics`` decides through its ``_direction`` ("up"/"down").  When the model does not expose the
        metric, well-known names decide (``acc``/``auc``... maximised, ``loss``/``error``/``mse``... minimised);
        anything else raises ``ValueError`` asking for an explicit ``mode``, as Keras does.
        """
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            if name == "loss":
                self.monitor_op = np.less
            for m in _model_metrics(self.model):
                if getattr(m, "name", None) == name and getattr(m, "_direction", None) is not None:
                    self.monitor_op = np.greater if m._direction == "up" else np.less
            if self.monitor_op is None:
                lowered = name.lower()
                if any(tag in lowered for tag in _UP_NAMES):
                    self.monitor_op = np.greater
                elif any(tag in lowered for tag in _DOWN_NAMES):
                    self.monitor_op = np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but rnnlab cannot tell "
                    "whether that metric should be maximized or minimized. Pass `mode='max'` in order to monitor "
                    "based on the highest metric value, or pass `mode='min'` in order to use the lowest value."
                )
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving (Keras 3 semantics).

    Each epoch from ``start_from_epoch`` on: an improvement (by more than ``min_delta``) becomes ``best``
    and, if it also beats ``baseline`` (when given), resets the wait; otherwise, once ``wait >= patience``
    (and not at epoch 0), ``model.stop_training`` is set and ``stopped_epoch`` recorded.  With
    ``restore_best_weights=True`` the best epoch's weights are put back at the end of training, whether or
    not training stopped early (the first monitored epoch's weights when nothing improved).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_msg(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return value


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement (Keras 3).

    Reads and writes ``model.optimizer.learning_rate`` (a float); also adds ``learning_rate`` (the rate the
    epoch ran with) to the epoch logs, so callbacks after it -- ``History`` among them -- record it.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _reduce_lr(self, epoch):
        optimizer = self.model.optimizer
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0


class ModelCheckpoint(_MonitorCallback):
    """Save the model (``model.save(path, overwrite=True)``) or its weights (``model.save_weights(...)``).

    ``filepath`` is formatted with ``epoch`` (1-based), ``batch`` (with an integer ``save_freq``) and the log
    keys: ``"ckpt-{epoch:02d}-{val_loss:.2f}.weights.h5"``.  With ``save_best_only=True`` a save happens only
    when ``monitor`` improves on the best value so far (``initial_value_threshold`` is the starting best); a
    NaN value never counts as an improvement, so a diverged epoch can never replace the best checkpoint
    (Keras would save a NaN first epoch).  ``save_freq="epoch"`` saves at epoch ends, an integer every that
    many batches.  Writing the file (atomically) is the model's job.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are 'epoch' or integer values")

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn(
                f"Can save best model only when `monitor` is a scalar value. Received: {current}. "
                "Falling back to `save_best_only=False`."
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if not np.isnan(current) and self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to {current:.5f}, "
                           f"saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _get_file_path(self, epoch, batch, logs):
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}') from None

    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IOError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing "
                f"directory: {filepath}"
            )
        dirname = os.path.dirname(filepath)
        if dirname and not os.path.exists(dirname):
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")


# ---------------------------------------------------------------------------------------------------------
# other callbacks
# ---------------------------------------------------------------------------------------------------------

class TerminateOnNaN(Callback):
    """Stop training when a batch's ``loss`` is NaN or infinite.

    Prints ``Batch {i}: Invalid loss, terminating training`` and sets ``model.stop_training``; with
    ``raise_error=True`` raises ``RuntimeError`` instead.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            _print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class CSVLogger(Callback):
    """Stream the epoch logs to a CSV file, as Keras does.

    Header ``epoch,<sorted log keys>`` (when the first epoch has no ``val_`` keys, ``val_<key>`` columns are
    added and read ``NA``); rows use the ``excel`` dialect (``\\r\\n`` line ends) with ``separator`` as
    delimiter.  ``append=True`` appends, writing the header only into an empty or new file.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(v):
            if isinstance(v, str):
                return v
            if isinstance(v, collections.abc.Iterable) and not (isinstance(v, np.ndarray) and v.ndim == 0):
                return f'"[{", ".join(map(str, v))}]"'
            return v

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=_Dialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((k, handle_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


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
