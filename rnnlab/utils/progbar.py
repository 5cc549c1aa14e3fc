"""``Progbar``: the one Keras 3 progress bar, behind ``fit``, ``evaluate`` and ``predict``.

``fit`` and ``evaluate`` drive it through the ``ProgbarLogger`` callback; ``predict`` updates it after each batch.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from rnnlab.utils.printing import print_msg

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


def dynamic_display(stream=None):
    """Whether the bar's output is shown as it is written, so a coloured bar rewritten in place advances.

    That is Keras's ``_dynamic_display``: a terminal (``isatty()``), a Jupyter kernel (ipykernel's output stream,
    which the notebook renders with its colours and ``\\r``), or PyCharm's console (``PYCHARM_HOSTED``).
    ``stream`` is where the bar writes, ``sys.stdout`` when None.  Keras also counts any POSIX system and any
    process that has imported ipykernel; rnnlab looks at the stream itself, so a log file gets plain text.
    """
    to_stdout = stream is None
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed stream
        return False
    if type(stream).__module__.split(".")[0] == "ipykernel":  # a notebook's cell output
        return True
    return to_stdout and "PYCHARM_HOSTED" in os.environ


class Progbar:
    """A Keras 3 style progress bar.

    ``verbose=1``: one line rewritten in place (``\\r``) with the step count, a 20-character bar, the ETA (the
    elapsed time once finished), the time per step and the metrics; ``verbose=2``: a single line when finished;
    ``verbose=0``: nothing.  ``update(current, values, finalize=None)`` takes ``values`` as ``(name, value)``
    pairs; names in ``stateful_metrics`` (all names when ``stateless_metrics`` is an empty set, as
    ``ProgbarLogger`` uses it) are shown as given, the others are averaged over the steps.

    Where the output is shown as it is written (a terminal, a Jupyter notebook, PyCharm's console: see
    :func:`dynamic_display`) the bar is coloured like Keras's, green for the steps done and white for those to go,
    so it advances.  Elsewhere (a file, a pipe) the text is Keras's with the colour codes left out, so the bar is
    always ``width`` characters of U+2501.  ``color=True``/``False`` overrides the choice.
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
            print_msg(message, line_break=False)
        else:
            self._stream.write(message)
            self._stream.flush()

    def _use_color(self):
        if self._color is not None:
            return self._color
        return dynamic_display(self._stream)

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
