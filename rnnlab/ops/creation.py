"""Arrays made from shapes and values: ``zeros``, ``ones``, ``full``, ``eye``, ``arange``, ``linspace`` and the
``*_like`` versions. They carry no gradient (``copy`` passes it through). Dtypes are Keras's: ``floatx()`` unless ``dtype`` says otherwise,
the argument's dtype for ``*_like``, and for ``arange``/``linspace`` the promotion of the arguments (Python
ints give int32)."""
from __future__ import annotations

import numpy as np

from rnnlab.ops.dtypes import as_array, result_type, standardize_dtype
from rnnlab.ops.tensor import operand, record, unwrap


def _shape(shape):
    shape = unwrap(shape)
    return (int(shape),) if np.isscalar(shape) else tuple(int(unwrap(d)) for d in shape)


def zeros(shape, dtype=None):
    return np.zeros(_shape(shape), dtype=standardize_dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(_shape(shape), dtype=standardize_dtype(dtype))


def empty(shape, dtype=None):
    return np.empty(_shape(shape), dtype=standardize_dtype(dtype))


def full(shape, fill_value, dtype=None):
    """An array of ``shape`` filled with ``fill_value`` (an array broadcasts to ``shape``)."""
    return np.array(np.broadcast_to(as_array(fill_value, standardize_dtype(dtype)), _shape(shape)))


def _like_dtype(x, dtype):
    return as_array(x).dtype.name if dtype is None else standardize_dtype(dtype)


def zeros_like(x, dtype=None):
    return np.zeros(np.shape(unwrap(x)), dtype=_like_dtype(x, dtype))


def ones_like(x, dtype=None):
    return np.ones(np.shape(unwrap(x)), dtype=_like_dtype(x, dtype))


def empty_like(x, dtype=None):
    return np.empty(np.shape(unwrap(x)), dtype=_like_dtype(x, dtype))


def full_like(x, fill_value, dtype=None):
    return np.array(np.broadcast_to(as_array(fill_value, _like_dtype(x, dtype)), np.shape(unwrap(x))))


def eye(N, M=None, k=0, dtype=None):
    """An ``(N, M)`` array with ones on the ``k``-th diagonal."""
    return np.eye(int(N), None if M is None else int(M), k=int(k), dtype=standardize_dtype(dtype))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the ``k``-th diagonal of an ``(N, M)`` array."""
    return np.tri(int(N), None if M is None else int(M), k=int(k), dtype=standardize_dtype(dtype))


def arange(start, stop=None, step=None, dtype=None):
    """``start, start + step, ...`` up to ``stop`` excluded (``arange(n)`` counts from 0). Python ints give
    int32, a float among the arguments gives ``floatx()``."""
    given = [unwrap(v) for v in (start, stop, step) if v is not None]
    dtype = result_type(*given) if dtype is None else standardize_dtype(dtype)
    if stop is None:
        start, stop = 0, start
    return np.arange(unwrap(start), unwrap(stop), 1 if step is None else unwrap(step)).astype(dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (``stop`` excluded when ``endpoint`` is False);
    with ``retstep``, also the spacing. Integer dtypes round down, as Keras does."""
    if int(num) < 0:
        raise ValueError(f"ops.linspace: argument `num` must be a non-negative integer; received num={num}.")
    dtype = result_type(unwrap(start), unwrap(stop), 1.0) if dtype is None else standardize_dtype(dtype)
    work = dtype if np.dtype(dtype).kind == "f" else "float64"
    values, step = np.linspace(as_array(start, work), as_array(stop, work), int(num), endpoint=endpoint,
                               retstep=True, axis=axis)
    if np.dtype(dtype).kind in "iu":
        values = np.floor(values)
    values = values.astype(dtype)
    return (values, np.asarray(step, dtype=work)) if retstep else values


__all__ = ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like", "eye",
           "identity", "tri", "arange", "linspace"]


def array(x, dtype=None):
    """A new array holding ``x`` (a copy; ``dtype`` as given, else the dtype NumPy infers)."""
    return np.array(unwrap(x), dtype=None if dtype is None else standardize_dtype(dtype))


def copy(x):
    """A copy of ``x``; the gradient passes through unchanged."""
    x = operand(x)
    return record(np.array(as_array(x)), (x,), lambda g: (g,))


__all__ += ["array", "copy"]
