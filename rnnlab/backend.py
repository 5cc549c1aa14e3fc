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

import math

import numpy as np

_FLOATX = "float32"
_FLOAT_DTYPES = ("float32", "float64")


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


def _aligned_bytes(shape, dtype):
    """The bytes of an array of this shape and dtype, or None below :data:`ALIGNED_MIN_BYTES`."""
    nbytes = (math.prod(shape) if isinstance(shape, tuple) else int(shape)) * dtype.itemsize
    return nbytes if nbytes >= ALIGNED_MIN_BYTES else None


def empty_aligned(shape, dtype, alignment=64):
    """``np.empty(shape, dtype)`` starting on a cache line when it holds :data:`ALIGNED_MIN_BYTES` or more: NumPy's
    large arrays start 16 bytes into one, so the native kernels' 64-byte vector stores would straddle two lines, and
    threads owning neighbouring rows or units would share lines.  Smaller arrays are plain ``np.empty`` (finding an
    address costs about a microsecond, too much for the smallest calls)."""
    dtype = np.dtype(dtype)
    nbytes = _aligned_bytes(shape, dtype)
    if nbytes is None:
        return np.empty(shape, dtype)
    raw = np.empty(nbytes + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + nbytes].view(dtype).reshape(shape)
