"""A Keras-style progress line for ``predict`` (``verbose=1`` bar, ``verbose=2`` one line, ``0`` silent)."""
from __future__ import annotations

import sys
import time


def _format_time(seconds):
    return f"{seconds:.0f}s" if seconds >= 1 or seconds == 0 else "0s"


def _per_step(seconds, steps):
    per = seconds / max(steps, 1)
    if per >= 1:
        return f"{per:.0f}s/step"
    if per >= 1e-3:
        return f"{per * 1e3:.0f}ms/step"
    return f"{per * 1e6:.0f}us/step"


class Progbar:
    def __init__(self, target, verbose=1, width=20, stream=None):
        self.target, self.verbose, self.width = target, verbose, width
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()

    def update(self, current):
        if self.verbose != 1:
            if self.verbose == 2 and current >= self.target:
                elapsed = time.perf_counter() - self.start
                self.stream.write(f"{current}/{self.target} - {_format_time(elapsed)} - "
                                  f"{_per_step(elapsed, current)}\n")
            return
        elapsed = time.perf_counter() - self.start
        filled = int(self.width * current / max(self.target, 1))
        bar = "\u2501" * filled + ("\u2501" if filled < self.width else "")
        bar = bar[:self.width].ljust(self.width, " ") if filled < self.width else bar[:self.width]
        end = "\n" if current >= self.target else ""
        self.stream.write(f"\r{current}/{self.target} {bar} {_format_time(elapsed)} "
                          f"{_per_step(elapsed, current)}{end}")
        self.stream.flush()
