"""The argument and input-shape checks of the layers around the recurrent ones (convolutions, ConvLSTM cells,
pooling, padding, cropping...), written once and checked as Keras checks them, and the output size of a
window (convolution or pooling) moved along an axis.

Every error is a ``ValueError`` (``TypeError`` for a wrong type) naming the argument, what was expected and what
was received; ``owner`` is the name of the layer (or layer class) the argument belongs to.
"""
from __future__ import annotations

import numpy as np


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_rank(layer, shape, ndim=None, min_ndim=None) -> None:
    """Keras's InputSpec check of a rank: ``ValueError`` naming the layer, the expected and the received rank."""
    rank = len(shape)
    if ndim is not None and rank != ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with the "
                         f"layer: expected ndim={ndim}, found ndim={rank}. Full shape received: {tuple(shape)}.")
    if min_ndim is not None and rank < min_ndim:
        raise ValueError(f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with the "
                         f"layer: expected min_ndim={min_ndim}, found ndim={rank}. Full shape received: "
                         f"{tuple(shape)}.")


def positive_int(value, argument: str) -> int:
    """``value`` as an int > 0: ``TypeError`` for a non-integer, ``ValueError`` for one <= 0."""
    if not _is_int(value):
        raise TypeError(f"Argument `{argument}` must be a positive integer; received {argument}={value!r} of type "
                        f"{type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"Argument `{argument}` must be a positive integer; received {argument}={value!r}.")
    return int(value)


def int_tuple(value, n: int, argument: str, owner: str, allow_zero: bool = False) -> tuple:
    """An int, or ``n`` ints, as a tuple of ``n`` ints, each > 0 (>= 0 with ``allow_zero``): Keras's
    ``standardize_tuple``."""
    bound = ">= 0" if allow_zero else "> 0"
    values = (value,) * n if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if (values is None or len(values) != n or not all(_is_int(v) for v in values)
            or any(v < 0 if allow_zero else v <= 0 for v in values)):
        raise ValueError(f"Argument `{argument}` of {owner} must be an int or a tuple of {n} ints, each {bound}; "
                         f"received {argument}={value!r}.")
    return tuple(int(v) for v in values)


def padding_mode(value, owner: str, allowed=("valid", "same")) -> str:
    """``"valid"``/``"same"`` (``"causal"`` where ``allowed``), case-insensitive, as Keras accepts them."""
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"Argument `padding` of {owner} must be one of {list(allowed)}; received "
                         f"padding={value!r}.")
    return value.lower()


def data_format_of(value, owner: str) -> str:
    """``"channels_last"`` (the default, as Keras's ``image_data_format()``) or ``"channels_first"``,
    case-insensitive as Keras's ``standardize_data_format``."""
    if value is None:
        return "channels_last"
    if not isinstance(value, str) or value.lower() not in ("channels_last", "channels_first"):
        raise ValueError(f"Argument `data_format` of {owner} must be 'channels_last' or 'channels_first'; "
                         f"received data_format={value!r}.")
    return value.lower()


def check_strides_dilation(strides, dilation_rate, owner: str) -> None:
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(f"{owner}: `strides` > 1 is not compatible with `dilation_rate` > 1; received "
                         f"strides={strides} and dilation_rate={dilation_rate}.")


def same_padding(length: int, window: int, stride: int) -> tuple:
    """TensorFlow's "same" padding of one axis: ``(left, right)``, the odd one extra on the right."""
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def spatial_sizes(shape, data_format: str) -> tuple:
    """The spatial axes' sizes of a ``(B, *spatial, C)`` shape (``(B, C, *spatial)`` when channels_first)."""
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:-1])


def conv_output_length(length, window: int, stride: int, padding: str, dilation: int = 1):
    """Output size of a window moved along one axis (None stays None): ``"valid"`` keeps only whole windows;
    ``"same"`` and ``"causal"`` pad so that there are ``ceil(length / stride)``."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (window - 1) - 1) // stride + 1
    return (length - 1) // stride + 1


def conv_output_spatial(spatial, window, strides, padding, dilation_rate, owner: str,
                        window_argument: str = "kernel_size") -> tuple:
    """The output's spatial sizes; a ValueError naming ``owner`` and ``window_argument`` when the window is larger
    than the input (the output would be empty)."""
    out = tuple(conv_output_length(s, k, st, padding, d)
                for s, k, st, d in zip(spatial, window, strides, dilation_rate))
    if any(o is not None and o <= 0 for o in out):
        dilated = f", dilation_rate={tuple(dilation_rate)}" if max(dilation_rate) > 1 else ""
        raise ValueError(f"Argument `{window_argument}` of {owner}: the window ({window_argument}={tuple(window)}"
                         f"{dilated}) is larger than the input's spatial size {tuple(spatial)} with "
                         f"padding={padding!r}; the output would be empty.")
    return out
