"""The arguments convolutions share (``kernel_size``, ``strides``, ``padding``, ``data_format``...), checked as
Keras checks them, and the output size of a convolution along one axis."""
from __future__ import annotations

import numpy as np


def int_tuple(value, n: int, argument: str, owner: str) -> tuple:
    """``value`` (an int, or ``n`` ints) as a tuple of ``n`` positive ints; otherwise a ValueError naming
    ``owner`` (the layer) and ``argument``."""
    values = (value,) * n if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or len(values) != n or any(
            isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ValueError(f"Argument `{argument}` of {owner} must be a positive integer or a tuple of {n} positive "
                         f"integers; received {argument}={value!r}.")
    return tuple(int(v) for v in values)


def padding_mode(value, owner: str, allowed=("valid", "same")) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"Argument `padding` of {owner} must be one of {list(allowed)}; received "
                         f"padding={value!r}.")
    return value.lower()


def data_format_of(value, owner: str) -> str:
    """``"channels_last"`` (the default, as Keras's ``image_data_format()``) or ``"channels_first"``."""
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"Argument `data_format` of {owner} must be 'channels_last' or 'channels_first'; "
                         f"received data_format={value!r}.")
    return value


def check_strides_dilation(strides, dilation_rate, owner: str) -> None:
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"{owner}: `strides` > 1 is not compatible with `dilation_rate` > 1; received "
                         f"strides={strides} and dilation_rate={dilation_rate}.")


def conv_output_length(length, window: int, stride: int, padding: str, dilation: int = 1):
    """Output size of a convolution along one axis (None stays None)."""
    if length is None:
        return None
    if padding == "same":
        return (length - 1) // stride + 1
    return (length - dilation * (window - 1) - 1) // stride + 1


def conv_output_spatial(spatial, kernel_size, strides, padding, dilation_rate, owner: str) -> tuple:
    """The output's spatial sizes; a ValueError naming ``owner`` when the window is larger than the input."""
    out = tuple(conv_output_length(s, k, st, padding, d)
                for s, k, st, d in zip(spatial, kernel_size, strides, dilation_rate))
    if any(o is not None and o <= 0 for o in out):
        raise ValueError(f"{owner}: the convolution window (kernel_size={tuple(kernel_size)}, dilation_rate="
                         f"{tuple(dilation_rate)}) is larger than the input's spatial size {tuple(spatial)} with "
                         f"padding={padding!r}; the output would be empty.")
    return out
