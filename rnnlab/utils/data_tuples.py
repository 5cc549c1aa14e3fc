"""Keras's ``(x, y, sample_weight)`` tuple helpers, as ``keras.utils.pack_x_y_sample_weight`` and
``keras.utils.unpack_x_y_sample_weight``."""
from __future__ import annotations


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """``x`` alone is returned as is (a tuple or list ``x`` as ``(x,)``, so it stays one input); with ``y``,
    ``(x, y)``; with a weight, ``(x, y, sample_weight)``."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a tuple of 1 to 3 items (missing ones None); a list is one ``x``."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, found: "
                     f"{data}")
