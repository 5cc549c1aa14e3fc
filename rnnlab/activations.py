"""Activation functions by Keras name.

One table, :data:`ACTIVATIONS`, maps every name accepted by the recurrent layers to a NumPy function.  The
formulas follow Keras 3; note ``hard_sigmoid`` is Keras 3's ``relu6(x + 3) / 6``, not TF-Keras 2's
``clip(0.2 * x + 0.5, 0, 1)`` (that one is available as ``"hard_sigmoid_tf2"`` for reading old files).
"""
from __future__ import annotations

import functools
import math

import numpy as np

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.frompyfunc(math.erf, 1, 1)


def _records(**fixed):
    """An activation that, given an :mod:`rnnlab.ops` Tensor (a layer's input or weight while it trains, as in a
    user layer's ``call``), runs as the ops function of the same name (with ``fixed`` arguments), which records its
    gradient; given an array, it is the NumPy formula it decorates."""
    def wrap(fn):
        name = fn.__name__

        @functools.wraps(fn)
        def activation(x, *args, **kwargs):
            if type(x) is not np.ndarray and _is_tensor(x):
                return getattr(_OPS, name)(x, *args, **{**fixed, **kwargs})
            return fn(x, *args, **kwargs)

        return activation

    return wrap


#: the rnnlab.ops namespace, set when it loads (it imports this module); an ops Tensor exists only after that
_OPS = None


def _is_tensor(x):
    return _OPS is not None and isinstance(x, _OPS.Tensor)


@_records()
def sigmoid(x):
    """Numerically stable logistic function: never evaluates ``exp`` of a large positive number."""
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


@_records()
def tanh(x):
    return np.tanh(x)


def linear(x):
    return x


@_records()
def relu(x):
    return np.maximum(x, 0).astype(x.dtype, copy=False)


@_records()
def relu6(x):
    return np.clip(x, 0, 6).astype(x.dtype, copy=False)


@_records()
def leaky_relu(x, negative_slope=0.2):
    return np.where(x >= 0, x, negative_slope * x).astype(x.dtype, copy=False)


@_records()
def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


@_records()
def celu(x, alpha=1.0):
    return (np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(np.minimum(x, 0) / alpha))).astype(x.dtype, copy=False)


@_records()
def selu(x):
    return (_SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))).astype(x.dtype, copy=False)


@_records()
def softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


@_records()
def softsign(x):
    return x / (1 + np.abs(x))


@_records()
def squareplus(x, b=4):
    return ((x + np.sqrt(x * x + b)) / 2).astype(x.dtype, copy=False)


@_records()
def silu(x):
    return x * sigmoid(x)


@_records(approximate=False)
def gelu(x):
    """Exact GELU (Keras's default ``approximate=False``): ``x * (1 + erf(x / sqrt(2))) / 2``."""
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))).astype(x.dtype, copy=False)


def exponential(x):
    return np.exp(x)


@_records()
def hard_sigmoid(x):
    """Keras 3: ``relu6(x + 3) / 6``."""
    return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)


def hard_sigmoid_tf2(x):
    """TF-Keras 2 (legacy files): ``clip(0.2 * x + 0.5, 0, 1)``."""
    if type(x) is not np.ndarray and _is_tensor(x):  # while a layer trains: ops' clip records the gradient
        return _OPS.clip(0.2 * x + 0.5, 0.0, 1.0)
    return np.clip(0.2 * x + 0.5, 0, 1).astype(x.dtype, copy=False)


@_records()
def hard_silu(x):
    return x * hard_sigmoid(x)


@_records()
def hard_tanh(x):
    return np.clip(x, -1, 1)


@_records()
def hard_shrink(x, threshold=0.5):
    return np.where(np.abs(x) > threshold, x, 0).astype(x.dtype, copy=False)


@_records()
def soft_shrink(x, threshold=0.5):
    return np.where(x > threshold, x - threshold, np.where(x < -threshold, x + threshold, 0)).astype(x.dtype, copy=False)


@_records()
def sparse_plus(x):
    return np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)).astype(x.dtype, copy=False)


@_records()
def sparse_sigmoid(x):
    return np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)).astype(x.dtype, copy=False)


@_records()
def tanh_shrink(x):
    return x - np.tanh(x)


def mish(x):
    return x * np.tanh(softplus(x))


@_records()
def log_sigmoid(x):
    return -softplus(-x)


@_records()
def softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


@_records()
def log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


swish = silu  # Keras's names for the same functions
hard_swish = hard_silu


@_records()
def glu(x, axis=-1):
    """Gated linear unit: ``x`` split in two halves ``a, b`` along ``axis`` (of even size), ``a * sigmoid(b)``."""
    x = np.asarray(x)
    if x.shape[axis] % 2:
        raise ValueError(f"glu expects the size of axis {axis} to be even; received shape {x.shape}.")
    a, b = np.split(x, 2, axis=axis)
    return a * sigmoid(b)


@_records()
def sparsemax(x, axis=-1):
    """Sparsemax as Keras 3.15 computes it: ``maximum(x - tau, 0)`` along ``axis``, with the support ``S`` the
    sorted entries ``z_j`` (descending) where ``z_j > (cumsum_j - 1) / j``, and ``tau = (sum_{j in S} cumsum_j - 1)
    / |S|``.  Note: this ``tau`` sums the cumulative sums over the support, where Martins & Astudillo (2016) take
    the one at its end, so Keras's outputs (and these) need not sum to 1; rnnlab follows Keras's numbers."""
    x = np.asarray(x)
    ordered = -np.sort(-x, axis=axis)  # descending
    cumulative = np.cumsum(ordered, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    rank = np.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    in_support = ordered - (cumulative - 1) / rank > 0
    support = np.sum(in_support, axis=axis, keepdims=True)
    tau = (np.sum(np.where(in_support, cumulative, 0), axis=axis, keepdims=True) - 1) / support
    return np.maximum(x - tau, 0).astype(x.dtype, copy=False)


@_records()
def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, else ``default_value``."""
    x = np.asarray(x)
    return np.where(x > threshold, x, default_value).astype(x.dtype, copy=False)


ACTIVATIONS = {
    "linear": linear, "tanh": tanh, "sigmoid": sigmoid, "relu": relu, "relu6": relu6,
    "leaky_relu": leaky_relu, "elu": elu, "celu": celu, "selu": selu, "softplus": softplus,
    "softsign": softsign, "squareplus": squareplus, "silu": silu, "swish": silu, "gelu": gelu,
    "exponential": exponential, "hard_sigmoid": hard_sigmoid, "hard_sigmoid_tf2": hard_sigmoid_tf2,
    "hard_silu": hard_silu, "hard_swish": hard_silu, "hard_tanh": hard_tanh, "hard_shrink": hard_shrink,
    "soft_shrink": soft_shrink, "sparse_plus": sparse_plus, "sparse_sigmoid": sparse_sigmoid,
    "tanh_shrink": tanh_shrink, "mish": mish, "log_sigmoid": log_sigmoid, "softmax": softmax,
    "log_softmax": log_softmax, "glu": glu, "sparsemax": sparsemax,
}
_NAME_OF = {fn: name for name, fn in ACTIVATIONS.items() if name not in ("swish", "hard_swish")}


def get(identifier, argument: str = "activation"):
    """Return the activation function for a Keras name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict) and "config" in identifier:  # Keras serialised form
        identifier = identifier["config"]
    if isinstance(identifier, str):
        fn = ACTIVATIONS.get(identifier.lower())
        if fn is not None:
            return fn
        raise ValueError(
            f"Argument `{argument}` must be one of {sorted(ACTIVATIONS)} or a callable; "
            f"received {argument}={identifier!r}."
        )
    raise TypeError(
        f"Argument `{argument}` must be an activation name (str) or a callable; "
        f"received {argument}={identifier!r} of type {type(identifier).__name__}."
    )


def serialize(fn) -> str:
    """Return the Keras name of an activation function (the function's ``__name__`` for callables)."""
    return _NAME_OF.get(fn, getattr(fn, "__name__", repr(fn)))


# ---------------------------------------------------------------------------------------------------------
# Derivatives, for backpropagation: ``derivative(fn)(x, y)`` is dy/dx at pre-activation ``x`` with ``y = fn(x)``.
# Where the output alone determines the slope (tanh, sigmoid...), it is used, so nothing is recomputed.

def _d_softplus(x, y):
    return sigmoid(x)


def _d_selu(x, y):
    return np.where(x > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA).astype(x.dtype, copy=False)


def _d_gelu(x, y):
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    return (cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)).astype(x.dtype, copy=False)


def _d_mish(x, y):
    sp = softplus(x)
    t = np.tanh(sp)
    return t + x * (1 - t * t) * sigmoid(x)


def _d_celu(x, y, alpha=1.0):
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha)).astype(x.dtype, copy=False)


_DERIVATIVES = {
    linear: lambda x, y: np.ones_like(x),
    tanh: lambda x, y: 1 - y * y,
    sigmoid: lambda x, y: y * (1 - y),
    relu: lambda x, y: (x > 0).astype(x.dtype),
    relu6: lambda x, y: ((x > 0) & (x < 6)).astype(x.dtype),
    leaky_relu: lambda x, y: np.where(x >= 0, 1.0, 0.2).astype(x.dtype),
    elu: lambda x, y: np.where(x > 0, 1.0, y + 1.0).astype(x.dtype),
    celu: _d_celu,
    selu: _d_selu,
    softplus: _d_softplus,
    softsign: lambda x, y: 1 / (1 + np.abs(x)) ** 2,
    squareplus: lambda x, y: (0.5 * (1 + x / np.sqrt(x * x + 4))).astype(x.dtype, copy=False),
    silu: lambda x, y: (lambda s: s + x * s * (1 - s))(sigmoid(x)),
    gelu: _d_gelu,
    exponential: lambda x, y: y,
    hard_sigmoid: lambda x, y: (((x > -3) & (x < 3)) / 6).astype(x.dtype),
    hard_sigmoid_tf2: lambda x, y: (((x > -2.5) & (x < 2.5)) * 0.2).astype(x.dtype),
    hard_silu: lambda x, y: (hard_sigmoid(x) + x * ((x > -3) & (x < 3)) / 6).astype(x.dtype),
    hard_tanh: lambda x, y: ((x > -1) & (x < 1)).astype(x.dtype),
    hard_shrink: lambda x, y: (np.abs(x) > 0.5).astype(x.dtype),
    soft_shrink: lambda x, y: (np.abs(x) > 0.5).astype(x.dtype),
    sparse_plus: lambda x, y: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, (x + 1) / 2)).astype(x.dtype),
    sparse_sigmoid: lambda x, y: (((x > -1) & (x < 1)) * 0.5).astype(x.dtype),
    tanh_shrink: lambda x, y: np.tanh(x) ** 2,
    mish: _d_mish,
    log_sigmoid: lambda x, y: sigmoid(-x),
}


def derivative(fn):
    """The derivative ``(x, y) -> dy/dx`` of an elementwise activation, for training."""
    d = _DERIVATIVES.get(fn)
    if d is None and fn in (softmax, log_softmax):
        raise ValueError(f"{serialize(fn)!r} is not elementwise; use rnnlab.activations.backward for it.")
    if d is None:
        raise ValueError(
            f"Activation {serialize(fn)!r} has no derivative in rnnlab, so a layer using it cannot be trained; "
            f"trainable activations: {sorted(serialize(f) for f in _DERIVATIVES)}."
        )
    return d


def backward(fn, x, y, dy):
    """``dL/dx`` from ``dL/dy`` for ``y = fn(x)``: elementwise activations use :func:`derivative`; softmax and
    log_softmax (over the last axis) use their Jacobian-vector products."""
    if fn is softmax:
        return y * (dy - np.sum(dy * y, axis=-1, keepdims=True))
    if fn is log_softmax:
        return dy - np.exp(y) * np.sum(dy, axis=-1, keepdims=True)
    return dy * derivative(fn)(x, y)


def deserialize(config, custom_objects=None):
    """Keras's ``keras.activations.deserialize``: the activation function a name (``"relu"``) or a Keras config
    (``{"class_name": "function", "config": "relu", ...}``) names; ``custom_objects`` (and custom object scopes
    and registered functions) are searched first.  Nothing is imported or run."""
    from rnnlab.engine.serialization import get_registered_object

    name = config.get("config") if isinstance(config, dict) and config.get("class_name") == "function" else config
    if isinstance(config, dict) and name is config:
        name = config.get("registered_name") or config.get("class_name")
    if not isinstance(name, str):
        raise TypeError(f"Argument `config` must be an activation name or a Keras function config; received "
                        f"{config!r}.")
    found = get_registered_object(name, custom_objects) or ACTIVATIONS.get(name)
    if found is None:
        raise ValueError(f"Unknown activation function {name!r}: expected one of {sorted(ACTIVATIONS)}, or a "
                         "function passed in custom_objects.")
    return found
