"""Dtypes as Keras 3 gives them: its promotion rules, ``cast``, ``convert_to_tensor`` and friends.

Keras promotes on a lattice adapted from JAX, not as NumPy does. The differences that matter in layer code:
an integer array with a float32 array gives float32 (NumPy: float64); a Python scalar is *weak*, so it never
widens an array (``float16_array * 2.0`` stays float16), and a Python float with an integer array gives
``floatx()`` (float32).
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops.tensor import Tensor, is_variable, operand, record, unwrap

_FLOAT_ORDER = {"float16": 0, "float32": 1, "float64": 2}
_ALLOWED = ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
            "float16", "float32", "float64")
_NAME_OF = {np.dtype(name): name for name in _ALLOWED}  # ``dtype.name`` costs microseconds; a lookup does not


def standardize_dtype(dtype, argument="dtype") -> str:
    """A dtype's Keras name (``"float32"``, ``"int32"``, ``"bool"``...); ``None`` means ``floatx()``."""
    if dtype is None:
        return backend.floatx()
    if dtype is int:
        return "int32"
    if dtype is float:
        return "float32"
    if dtype is bool:
        return "bool"
    name = getattr(dtype, "name", dtype)
    try:
        name = np.dtype(name).name
    except TypeError:
        raise TypeError(f"Argument `{argument}` must be a dtype such as 'float32' or 'int32'; received "
                        f"{argument}={dtype!r}.") from None
    if name not in _ALLOWED:
        raise TypeError(f"Argument `{argument}` must be one of {list(_ALLOWED)}; received {argument}={dtype!r}.")
    return name


def _kind_of(x):
    """``(kind, dtype name or None)``: kind 0 bool, 1 integer, 2 float; dtype None for a weak Python scalar."""
    if isinstance(x, bool):
        return 0, None
    if isinstance(x, int):
        return 1, None
    if isinstance(x, float) and not isinstance(x, np.floating):  # np.float64 subclasses float, but is strong
        return 2, None
    if isinstance(x, (str, np.dtype)):  # a dtype itself, as Keras's result_type accepts
        x = np.empty(0, dtype=standardize_dtype(x))
    dtype = np.asarray(unwrap(x)).dtype if not hasattr(unwrap(x), "dtype") else unwrap(x).dtype
    if dtype.kind == "b":
        return 0, "bool"
    if dtype.kind in "iu":
        return 1, _NAME_OF.get(dtype) or dtype.name
    if dtype.kind == "f":
        return 2, _NAME_OF.get(dtype) or dtype.name
    raise TypeError(f"rnnlab.ops works on bool, integer and float arrays; received dtype {dtype}.")


def result_type(*values) -> str:
    """The dtype Keras gives an op on ``values`` (arrays, Tensors, Variables or Python scalars)."""
    first = getattr(values[0], "dtype", None) if values else None
    if first in _NAME_OF and all(getattr(v, "dtype", None) == first for v in values[1:]):
        return _NAME_OF[first]  # the common case, arrays of one dtype: no promotion to work out
    strong = [_kind_of(v) for v in values]
    floats = [d for k, d in strong if k == 2 and d is not None]
    if floats:
        return max(floats, key=_FLOAT_ORDER.__getitem__)
    if any(k == 2 for k, _ in strong):
        return backend.floatx()  # a Python float meets integers or booleans
    ints = [d for k, d in strong if k == 1 and d is not None]
    if ints:
        dtype = np.result_type(*ints).name
        return dtype if dtype != "float64" else backend.floatx()  # uint64 with a signed integer
    if any(k == 1 for k, _ in strong):
        return "int32"
    return "bool"


def promoted_arrays(x1, x2):
    """The arrays of an op's two arguments (on the record, see :func:`~rnnlab.ops.tensor.operand`) in the
    dtype Keras gives the op (:func:`result_type`)."""
    a = x1.value if type(x1) is Tensor else x1
    b = x2.value if type(x2) is Tensor else x2
    if type(a) is np.ndarray:
        if type(b) is np.ndarray and a.dtype is b.dtype and a.dtype in _NAME_OF:
            return a, b  # arrays of one dtype (the common case): nothing to promote
        if type(b) is float and a.dtype.kind == "f" and a.dtype in _NAME_OF:
            return a, np.asarray(b, a.dtype)  # a weak Python float takes the array's float dtype
    elif type(a) is float and type(b) is np.ndarray and b.dtype.kind == "f" and b.dtype in _NAME_OF:
        return np.asarray(a, b.dtype), b
    dtype = result_type(x1, x2)
    return as_array(x1, dtype), as_array(x2, dtype)


def as_array(x, dtype=None):
    """``x``'s plain array, cast to ``dtype`` when given (for Python scalars and array-likes)."""
    x = unwrap(x)
    if dtype is None:
        return np.asarray(x)
    return np.asarray(x, dtype=dtype) if not isinstance(x, np.ndarray) or x.dtype != dtype else x


def cast(x, dtype):
    """``x`` as ``dtype``; the gradient flows back through float-to-float casts."""
    dtype = standardize_dtype(dtype)
    x = operand(x)
    value = as_array(x)
    y = value.astype(dtype, copy=False)
    if np.dtype(dtype).kind != "f" or value.dtype.kind != "f":
        return y  # integers and booleans carry no gradient
    return record(y, (x,), lambda g: (g.astype(value.dtype, copy=False),))


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` as an array (a Tensor stays one, a Variable gives its value), as Keras's ``convert_to_tensor``.

    Python floats and lists of them become ``floatx()``, Python ints ``int32``, as Keras's TensorFlow backend
    gives ``ops.convert_to_tensor``.
    """
    for arg, value in (("sparse", sparse), ("ragged", ragged)):
        if value:
            raise ValueError(f"Argument `{arg}` of convert_to_tensor() is not supported by rnnlab (dense arrays "
                             f"only); received {arg}={value!r}.")
    if dtype is not None:
        return cast(x, dtype)
    if isinstance(x, Tensor):
        return x
    if is_variable(x):
        return operand(x)
    arr = np.asarray(x)
    if not isinstance(x, np.ndarray) and not np.isscalar(x) or isinstance(x, (float, int, bool)):
        if arr.dtype == np.float64:
            return arr.astype(backend.floatx())
        if arr.dtype == np.int64:
            return arr.astype("int32")
    return arr


def convert_to_numpy(x):
    """``x`` as a NumPy array, off the record."""
    return np.array(unwrap(x))


def shape(x):
    """``x``'s shape as a tuple of ints."""
    return tuple(np.shape(unwrap(x)))


def dtype(x) -> str:
    return standardize_dtype(np.asarray(unwrap(x)).dtype if not hasattr(unwrap(x), "dtype") else unwrap(x).dtype)


def is_tensor(x) -> bool:
    return isinstance(x, (Tensor, np.ndarray))


def is_float_dtype(dtype) -> bool:
    return np.dtype(standardize_dtype(dtype)).kind == "f"


def is_int_dtype(dtype) -> bool:
    return np.dtype(standardize_dtype(dtype)).kind in "iu"


__all__ = ["cast", "convert_to_tensor", "convert_to_numpy", "shape", "dtype", "result_type", "is_tensor",
           "standardize_dtype", "is_float_dtype", "is_int_dtype"]
