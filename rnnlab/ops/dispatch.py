"""Operators for :class:`~rnnlab.ops.tensor.Tensor` and for weights (``Variable``), and NumPy ufuncs on
Tensors: each maps to its op, so ``x @ self.kernel + self.bias`` and ``np.tanh(x)`` record their gradients."""
from __future__ import annotations

import numpy as np

from rnnlab.ops import arithmetic, binary, comparison, elementwise, reductions, selection, shapes
from rnnlab.ops.tensor import Tensor


def _swap(fn):
    return lambda self, other: fn(other, self)


#: ``name -> function`` for the Python operators a Tensor or a Variable supports.
OPERATORS = {
    "__add__": arithmetic.add, "__radd__": _swap(arithmetic.add),
    "__sub__": arithmetic.subtract, "__rsub__": _swap(arithmetic.subtract),
    "__mul__": arithmetic.multiply, "__rmul__": _swap(arithmetic.multiply),
    "__truediv__": arithmetic.divide, "__rtruediv__": _swap(arithmetic.divide),
    "__floordiv__": arithmetic.floor_divide, "__rfloordiv__": _swap(arithmetic.floor_divide),
    "__mod__": arithmetic.mod, "__rmod__": _swap(arithmetic.mod),
    "__pow__": arithmetic.power, "__rpow__": _swap(arithmetic.power),
    "__matmul__": arithmetic.matmul, "__rmatmul__": _swap(arithmetic.matmul),
    "__neg__": arithmetic.negative, "__pos__": lambda self: self, "__abs__": elementwise.absolute,
    "__getitem__": arithmetic.getitem,
    "__lt__": comparison.less, "__le__": comparison.less_equal,
    "__gt__": comparison.greater, "__ge__": comparison.greater_equal,
    "__eq__": comparison.equal, "__ne__": comparison.not_equal,
    "__and__": comparison.logical_and, "__or__": comparison.logical_or, "__xor__": comparison.logical_xor,
    "__invert__": comparison.logical_not,
    "T": property(shapes.transpose),  # ``x.T``: the axes reversed
}


def install_operators(cls):
    """Give ``cls`` (Tensor, Variable) the operators of :data:`OPERATORS`."""
    for name, fn in OPERATORS.items():
        setattr(cls, name, fn)


install_operators(Tensor)

#: NumPy ufunc -> op, for ``np.<ufunc>(tensor, ...)``. Ops added in other families register here too.
UFUNCS = {
    np.add: arithmetic.add, np.subtract: arithmetic.subtract, np.multiply: arithmetic.multiply,
    np.true_divide: arithmetic.divide, np.floor_divide: arithmetic.floor_divide, np.mod: arithmetic.mod,
    np.power: arithmetic.power, np.negative: arithmetic.negative, np.matmul: arithmetic.matmul,
    np.exp: elementwise.exp, np.log: elementwise.log, np.log1p: elementwise.log1p, np.expm1: elementwise.expm1,
    np.sqrt: elementwise.sqrt, np.square: elementwise.square, np.reciprocal: elementwise.reciprocal,
    np.absolute: elementwise.absolute, np.sign: elementwise.sign, np.sin: elementwise.sin,
    np.cos: elementwise.cos, np.tanh: elementwise.tanh,
    np.equal: comparison.equal, np.not_equal: comparison.not_equal, np.less: comparison.less,
    np.less_equal: comparison.less_equal, np.greater: comparison.greater,
    np.greater_equal: comparison.greater_equal, np.logical_and: comparison.logical_and,
    np.logical_or: comparison.logical_or, np.logical_not: comparison.logical_not,
    np.logical_xor: comparison.logical_xor, np.maximum: selection.maximum, np.minimum: selection.minimum,
    np.floor: elementwise.floor, np.ceil: elementwise.ceil, np.trunc: elementwise.trunc,
    np.log2: elementwise.log2, np.log10: elementwise.log10, np.exp2: elementwise.exp2, np.tan: elementwise.tan,
    np.sinh: elementwise.sinh, np.cosh: elementwise.cosh, np.arcsin: elementwise.arcsin,
    np.arccos: elementwise.arccos, np.arctan: elementwise.arctan, np.arcsinh: elementwise.arcsinh,
    np.arctanh: elementwise.arctanh,
    np.isnan: comparison.isnan, np.isinf: comparison.isinf, np.isfinite: comparison.isfinite,
    np.arccosh: elementwise.arccosh, np.cbrt: elementwise.cbrt, np.fabs: elementwise.fabs,
    np.deg2rad: elementwise.deg2rad, np.radians: elementwise.deg2rad, np.rad2deg: elementwise.rad2deg,
    np.degrees: elementwise.rad2deg, np.signbit: elementwise.signbit, np.arctan2: binary.arctan2,
    np.hypot: binary.hypot, np.logaddexp: binary.logaddexp, np.logaddexp2: binary.logaddexp2, np.fmod: binary.fmod,
    np.heaviside: binary.heaviside, np.ldexp: binary.ldexp, np.nextafter: binary.nextafter,
    np.fmax: selection.fmax, np.fmin: selection.fmin,
}


#: ``np.sum(t)`` and friends reach a Tensor as a ufunc's ``reduce``: the matching reduction op.
REDUCTIONS = {np.add: reductions.sum, np.multiply: reductions.prod, np.maximum: reductions.max,
              np.minimum: reductions.min}


def numpy_ufunc(ufunc, method, inputs, kwargs):
    """``Tensor.__array_ufunc__``: run the op that matches ``ufunc``, or refuse clearly."""
    if method == "reduce":
        kwargs = {k: v for k, v in kwargs.items() if not (k in ("dtype", "out") and v is None)}
    if method == "reduce" and ufunc in REDUCTIONS and len(inputs) == 1 and \
            set(kwargs) <= {"axis", "keepdims"} and kwargs.get("keepdims", False) in (True, False):
        return REDUCTIONS[ufunc](inputs[0], axis=kwargs.get("axis", 0), keepdims=kwargs.get("keepdims", False))
    op = UFUNCS.get(ufunc)
    if op is None or method != "__call__" or kwargs:
        raise TypeError(
            f"numpy.{ufunc.__name__}{'.' + method if method != '__call__' else ''} cannot follow gradients through "
            "an rnnlab Tensor (a layer's input or weight while it trains). Use the matching function of "
            "rnnlab.ops (keras.ops), or np.asarray(x) to leave the record on purpose."
        )
    return op(*inputs)


Tensor.ufunc_handler = staticmethod(numpy_ufunc)


#: the rnnlab.ops namespace, set when it has loaded (it imports this module)
OPS = None

#: NumPy functions that only look at a Tensor's value (its shape, dtype, or a yes/no answer about it): they run on
#: the value, since no gradient could follow them anyway.
VALUE_QUERIES = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.array_equal,
                 np.array_equiv, np.may_share_memory, np.shares_memory, np.min_scalar_type}


def _values(obj):
    if isinstance(obj, Tensor):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return type(obj)(_values(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _values(v) for k, v in obj.items()}
    return obj


def numpy_function(func, types, args, kwargs):
    """``Tensor.__array_function__``: ``np.where(t, ...)``, ``np.clip(t, ...)``, ``np.sum(t)``, ``np.concatenate``
    ...: the rnnlab.ops function of the same name (Keras's ops follow NumPy's names and arguments), so the gradient
    still flows; a NumPy function without one is refused rather than silently leaving the record."""
    if func in VALUE_QUERIES:
        return func(*_values(args), **_values(kwargs))
    name = func.__name__
    op = getattr(OPS, name, None) if getattr(func, "__module__", None) == "numpy" else None
    if op is None:
        raise TypeError(
            f"{func.__module__}.{name} cannot follow gradients through an rnnlab Tensor (a layer's input or weight while it "
            "trains): rnnlab.ops (keras.ops) has no function of that name. Use rnnlab.ops, or np.asarray(x) to "
            "leave the record on purpose.")
    try:
        return op(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"numpy.{name} on an rnnlab Tensor runs as rnnlab.ops.{name}, which does not take these "
                        f"arguments ({exc}). Call rnnlab.ops.{name} with Keras's arguments, or np.asarray(x) to "
                        "leave the record on purpose.") from None


Tensor.function_handler = staticmethod(numpy_function)
