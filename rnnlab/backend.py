"""Arrays in, arrays out: the float dtype (``floatx``), input validation that every layer shares (so error messages
read the same everywhere), and aligned buffers for the native kernels.

rnnlab's arrays are NumPy arrays.  There is deliberately no array-namespace switch (``xp``) here, and the reason
is what a GPU path would need.  The reference path is a Python loop that launches a few small operations per
time step; on a GPU each launch costs more than the arithmetic of a small recurrent layer, so swapping NumPy for
a GPU array library under that loop would be slower than the CPU, not faster.  A GPU path worth having runs the
whole sequence (forward, and backward for training) in one fused kernel, as cuDNN does, and that is exactly
what the fast-path seam (:mod:`rnnlab.fastpath`) is for: a ``"rnn_sequence"``/``"rnn_train"`` kernel that
declares which calls it supports, with the NumPy reference path kept as the definition it is tested against.
An unused namespace hook would only suggest a capability that does not exist.
"""
from __future__ import annotations

import numpy as np

_FLOATX = "float32"
_FLOAT_DTYPES = ("float32", "float64")


_EPSILON = 1e-7
#: default layer names handed out so far (``lstm``, ``lstm_1``...), by base name; :func:`clear_session` empties it
_NAME_COUNTS: dict[str, int] = {}


def clear_session(free_memory=True) -> None:
    """Keras's ``clear_session``: forget the default names handed out, so the next ``LSTM()`` is ``"lstm"`` again.
    rnnlab holds no graph or device memory, so ``free_memory`` changes nothing (it is checked as Keras's bool)."""
    if not isinstance(free_memory, (bool, np.bool_)):
        raise TypeError(f"Argument `free_memory` must be a bool; received free_memory={free_memory!r}.")
    _NAME_COUNTS.clear()


def epsilon() -> float:
    """The fuzz factor of losses, metrics and constraints: Keras's default ``1e-7``."""
    return _EPSILON


def set_epsilon(value) -> None:
    """Keras's ``set_epsilon``.  rnnlab's losses, metrics and constraints use ``1e-7`` as a constant (the
    numbers Keras gives by default), so only that value is accepted; another is refused rather than ignored."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or float(value) != _EPSILON:
        raise ValueError(f"Argument `value` of set_epsilon must be {_EPSILON} in rnnlab (its losses and metrics use "
                         f"Keras's default epsilon as a constant); received value={value!r}.")


def image_data_format() -> str:
    """``"channels_last"``: the only default layout rnnlab has (layers take ``data_format=`` one by one)."""
    return "channels_last"


def set_image_data_format(data_format) -> None:
    """Keras's ``set_image_data_format``: only ``"channels_last"`` is accepted (rnnlab's default layout); pass
    ``data_format="channels_first"`` to the layers that support it instead."""
    if data_format != "channels_last":
        raise ValueError("Argument `data_format` of set_image_data_format must be 'channels_last' in rnnlab (give "
                         f"data_format='channels_first' to each layer instead); received data_format={data_format!r}.")


def _dtype_name(dtype):
    name = getattr(dtype, "name", dtype)
    try:
        return np.dtype(name).name
    except TypeError:
        raise TypeError(f"Argument `dtype` must be a dtype name or dtype; received dtype={dtype!r}.") from None


def is_float_dtype(dtype) -> bool:
    """Whether ``dtype`` is a floating dtype (Keras's ``keras.backend.is_float_dtype``)."""
    return np.dtype(_dtype_name(dtype)).kind == "f"


def is_int_dtype(dtype) -> bool:
    """Whether ``dtype`` is a signed or unsigned integer dtype (Keras's ``keras.backend.is_int_dtype``)."""
    return np.dtype(_dtype_name(dtype)).kind in "iu"


def result_type(*dtypes) -> str:
    """The dtype name that ``dtypes`` promote to, by Keras's (JAX's) rules: with a float dtype among them, the widest
    float dtype given (an int does not widen a float); otherwise NumPy's promotion of the ints and bools.  Python
    ``int``/``bool`` types do not widen anything; Python ``float`` makes ints :func:`floatx`; nothing at all gives
    :func:`floatx`."""
    python = [d for d in dtypes if d in (int, float, bool)]
    names = [_dtype_name(d) for d in dtypes if d is not None and d not in (int, float, bool)]
    floats = [n for n in names if np.dtype(n).kind == "f"]
    if floats:
        return max(floats, key=lambda n: np.dtype(n).itemsize)
    if not names:
        return _FLOATX
    if float in python:
        return _FLOATX
    return np.result_type(*names).name


def floatx() -> str:
    """The default float dtype of new layers, ``"float32"`` unless changed with :func:`set_floatx`."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype of layers created afterwards (``"float32"`` or ``"float64"``)."""
    global _FLOATX
    _FLOATX = standardize_dtype(value, "value")


def standardize_dtype(dtype, argument: str = "dtype") -> str:
    """Return ``"float32"`` or ``"float64"`` for ``dtype``; ``None`` means :func:`floatx`."""
    if dtype is None:
        return _FLOATX
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":  # Keras policy config
        dtype = dtype.get("config", {}).get("name")
    name = getattr(dtype, "name", dtype)
    try:
        name = np.dtype(name).name
    except TypeError:
        raise TypeError(
            f"Argument `{argument}` must be one of {list(_FLOAT_DTYPES)}; received {argument}={dtype!r}."
        ) from None
    if name not in _FLOAT_DTYPES:
        raise ValueError(
            f"Argument `{argument}` must be one of {list(_FLOAT_DTYPES)}; received {argument}={dtype!r}."
        )
    return name


def to_float_array(value, dtype: str, argument: str = "inputs", check_finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a float array of ``dtype``, refusing non-numeric data and, optionally, NaN/Inf."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # tf / torch tensors, Variables
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Argument `{argument}` must be a numeric array; could not convert it ({exc}).") from None
    if arr.dtype == object and arr.size and not all(_is_number(v) for v in arr.ravel()[:64]):
        raise TypeError(
            f"Argument `{argument}` must be a numeric array; received an array of dtype object."
        )
    if arr.dtype.kind not in "biuf" and not (arr.dtype == object):
        raise TypeError(
            f"Argument `{argument}` must have a real numeric dtype (bool, int or float); "
            f"received dtype {arr.dtype}."
        )
    arr = arr.astype(dtype, copy=False)
    if check_finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        n_bad = int(arr.size - np.isfinite(arr).sum())
        raise ValueError(
            f"Argument `{argument}` must contain only finite values; received {n_bad} NaN or Inf "
            f"value(s) in an array of shape {arr.shape}."
        )
    return arr


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number, bool, np.bool_))


def to_mask(mask, expected_shape, argument: str = "mask") -> np.ndarray | None:
    """Convert a mask to a boolean array of ``expected_shape`` (``(batch, time)``)."""
    if mask is None:
        return None
    arr = np.asarray(mask)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"Argument `{argument}` must be a boolean array; received dtype {arr.dtype}.")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if tuple(arr.shape) != tuple(expected_shape):
        raise ValueError(
            f"Argument `{argument}` must have shape {tuple(expected_shape)} (batch, timesteps); "
            f"received shape {tuple(arr.shape)}."
        )
    return arr.astype(bool)


ALIGNED_MIN_BYTES = 1 << 16


def empty_aligned(shape, dtype, alignment=64):
    """``np.empty(shape, dtype)`` starting on a cache line when it holds :data:`ALIGNED_MIN_BYTES` or more: NumPy's
    large arrays start 16 bytes into one, so the native kernels' 64-byte vector stores would straddle two lines, and
    threads owning neighbouring rows or units would share lines.  Smaller arrays are plain ``np.empty`` (finding an
    address costs about a microsecond, too much for the smallest calls), and cost no more than it."""
    arr = np.empty(shape, dtype)
    if arr.nbytes < ALIGNED_MIN_BYTES:
        return arr
    raw = np.empty(arr.nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + arr.nbytes].view(arr.dtype).reshape(arr.shape)


def backend() -> str:
    """The backend's name, as ``keras.config.backend()``: ``"numpy"`` (Keras's own name for a NumPy backend)."""
    return "numpy"
