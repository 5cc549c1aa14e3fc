"""``keras.ops.nn``: activations, ``softmax``/``log_softmax``, ``one_hot``, ``moments``, ``normalize``,
``conv``/``depthwise_conv`` and the crossentropies, each backward beside its forward.

Forward formulas are those of :mod:`rnnlab.activations` (the layers' table); derivatives use the saved
result where that is exact (the sigmoid's is ``s (1 - s)``). At a kink the gradient is TensorFlow's:
``relu'(0) = 0``, ``relu6'`` is 1 only strictly inside ``(0, 6)``, ``leaky_relu'(0) = negative_slope``.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import activations as act
from rnnlab.ops import reductions
from rnnlab.ops.arithmetic import add, divide, multiply, subtract
from rnnlab.ops.dtypes import as_array, result_type, standardize_dtype
from rnnlab.ops.comparison import greater
from rnnlab.ops.elementwise import _float_operand, log, log10, rsqrt, square
from rnnlab.ops.linalg import norm
from rnnlab.ops.selection import clip, maximum, minimum, where
from rnnlab.ops.shapes import split, squeeze, take_along_axis
from rnnlab.ops.softmax import log_softmax, softmax  # noqa: F401 - part of this family in Keras
from rnnlab.ops.tensor import operand, record, unwrap

EPSILON = 1e-7  # Keras's backend.epsilon(): where probabilities are clipped
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_erf = np.frompyfunc(math.erf, 1, 1)


def _unary(name, forward, derivative, doc):
    """An activation op from its forward and ``derivative(x, y) -> dy/dx``."""
    def op(x):
        x, v = _float_operand(x)
        y = forward(v)
        return record(y, (x,), lambda g: (g * derivative(v, y),))

    op.__name__ = name
    op.__doc__ = doc
    return op


relu = _unary("relu", act.relu, lambda x, y: x > 0, "``max(x, 0)``.")
relu6 = _unary("relu6", act.relu6, lambda x, y: (x > 0) & (x < 6), "``min(max(x, 0), 6)``.")
sigmoid = _unary("sigmoid", act.sigmoid, lambda x, y: y * (1 - y), "``1 / (1 + exp(-x))``, computed stably.")
softplus = _unary("softplus", act.softplus, lambda x, y: act.sigmoid(x), "``log(1 + exp(x))``, computed stably.")
softsign = _unary("softsign", act.softsign, lambda x, y: 1 / np.square(1 + np.abs(x)), "``x / (1 + |x|)``.")
log_sigmoid = _unary("log_sigmoid", act.log_sigmoid, lambda x, y: act.sigmoid(-x), "``-softplus(-x)``.")
selu = _unary("selu", act.selu,
              lambda x, y: act._SELU_SCALE * np.where(x > 0, 1, act._SELU_ALPHA * np.exp(np.minimum(x, 0))),
              "``scale * elu(x, alpha)`` with Klambauer et al.'s constants.")
hard_sigmoid = _unary("hard_sigmoid", act.hard_sigmoid, lambda x, y: ((x > -3) & (x < 3)) / 6,
                      "``relu6(x + 3) / 6``.")


hard_tanh = _unary("hard_tanh", act.hard_tanh, lambda x, y: (x > -1) & (x < 1), "``clip(x, -1, 1)``.")
tanh_shrink = _unary("tanh_shrink", act.tanh_shrink, lambda x, y: np.square(np.tanh(x)), "``x - tanh(x)``.")
sparse_plus = _unary("sparse_plus", act.sparse_plus, lambda x, y: np.clip((x + 1) / 2, 0, 1) * (x > -1),
                     "0 below -1, ``x`` above 1, ``(x + 1)^2 / 4`` between.")
sparse_sigmoid = _unary("sparse_sigmoid", act.sparse_sigmoid, lambda x, y: ((x > -1) & (x < 1)) / 2,
                        "0 below -1, 1 above 1, ``(x + 1) / 2`` between.")


def celu(x, alpha=1.0):
    """``max(x, 0) + min(0, alpha * (exp(x / alpha) - 1))``."""
    x, v = _float_operand(x)
    return record(act.celu(v, alpha), (x,), lambda g: (g * np.where(v > 0, 1, np.exp(np.minimum(v, 0) / alpha)),))


def squareplus(x, b=4):
    """``(x + sqrt(x^2 + b)) / 2``."""
    x, v = _float_operand(x)
    return record(act.squareplus(v, b), (x,), lambda g: (g * (1 + v / np.sqrt(v * v + b)) / 2,))


def soft_shrink(x, threshold=0.5):
    """``x`` moved ``threshold`` towards 0, and 0 within ``threshold`` of it."""
    x, v = _float_operand(x)
    return record(act.soft_shrink(v, threshold), (x,), lambda g: (g * (np.abs(v) > threshold),))


def hard_shrink(x, threshold=0.5):
    """``x`` where ``|x| > threshold``, else 0."""
    x, v = _float_operand(x)
    return record(act.hard_shrink(v, threshold), (x,), lambda g: (g * (np.abs(v) > threshold),))


def _silu_derivative(x, y):
    s = act.sigmoid(x)
    return s * (1 + x * (1 - s))


def _hard_silu_derivative(x, y):
    return act.hard_sigmoid(x) + x * ((x > -3) & (x < 3)) / 6


silu = _unary("silu", act.silu, _silu_derivative, "``x * sigmoid(x)``.")
swish = silu
hard_silu = _unary("hard_silu", act.hard_silu, _hard_silu_derivative, "``x * hard_sigmoid(x)``.")
hard_swish = hard_silu


def leaky_relu(x, negative_slope=0.2):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""
    x, v = _float_operand(x)
    return record(act.leaky_relu(v, negative_slope), (x,), lambda g: (g * np.where(v > 0, 1, negative_slope),))


def elu(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere."""
    x, v = _float_operand(x)
    y = act.elu(v, alpha)
    return record(y, (x,), lambda g: (g * np.where(v > 0, 1, y + alpha),))  # alpha*exp(x) = y + alpha there


def gelu(x, approximate=True):
    """``x * Phi(x)`` (``approximate=False``, with ``erf``) or its tanh approximation (the default, as Keras)."""
    x, v = _float_operand(x)
    if approximate:
        t = np.tanh(_SQRT_2_OVER_PI * (v + 0.044715 * v ** 3))
        y = 0.5 * v * (1 + t)
        slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v)
    else:
        cdf = 0.5 * (1 + _erf(v / math.sqrt(2)).astype(v.dtype))
        y = v * cdf
        slope = cdf + v * np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)
    return record(y.astype(v.dtype, copy=False), (x,), lambda g: (g * slope,))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels as one-hot vectors along a new ``axis`` (float32 unless ``dtype``); labels outside
    ``[0, num_classes)`` give all zeros, as in Keras."""
    if sparse:
        raise ValueError("ops.one_hot: sparse=True is not supported by rnnlab (dense arrays only); received "
                         "sparse=True.")
    labels = as_array(operand(x)).astype("int64")
    dtype = "float32" if dtype is None else standardize_dtype(dtype)
    hot = labels[..., None] == np.arange(int(num_classes))  # (..., num_classes)
    return np.moveaxis(hot, -1, axis).astype(dtype)


def multi_hot(inputs, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot vectors of the labels on the last axis of ``inputs``, summed into 0/1 flags per class."""
    hot = one_hot(inputs, num_classes, axis=-1, dtype="bool", sparse=sparse)
    flags = np.any(hot, axis=-2)
    dtype = "float32" if dtype is None else standardize_dtype(dtype)
    return np.moveaxis(flags, -1, axis).astype(dtype)


def moments(x, axes, keepdims=False, synchronized=False):
    """``(mean, variance)`` of ``x`` over ``axes`` (float16 computed in float32, as Keras)."""
    if synchronized:
        raise ValueError("ops.moments: synchronized=True (a distributed mean) is not supported by rnnlab; "
                         "received synchronized=True.")
    return reductions.mean(x, axis=axes, keepdims=keepdims), reductions.var(x, axis=axes, keepdims=keepdims)


def normalize(x, axis=-1, order=2, epsilon=None):
    """``x`` divided by its ``order`` norm over ``axis`` (at least ``epsilon``)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"ops.normalize: argument `order` must be an int >= 1; received order={order!r}.")
    epsilon = EPSILON if epsilon is None else epsilon
    if order == 2:  # x * rsqrt(sum(x^2)), as Keras
        return multiply(x, minimum(rsqrt(reductions.sum(square(x), axis=axis, keepdims=True)), 1.0 / epsilon))
    return divide(x, maximum(norm(x, ord=order, axis=axis, keepdims=True), epsilon))


def glu(x, axis=-1):
    """The gated linear unit: ``x`` split in two halves ``a, b`` along ``axis``, then ``a * sigmoid(b)``."""
    x = operand(x)
    shape = np.shape(as_array(x))
    if not shape or shape[axis] % 2:
        raise ValueError(f"ops.glu: the size of `axis` must be even; received x of shape {shape} and "
                         f"axis={axis}.")
    a, b = split(x, 2, axis=axis)
    return multiply(a, sigmoid(b))


def threshold(x, threshold, default_value):
    """``x`` where ``x > threshold``, ``default_value`` elsewhere (the gradient goes to ``x`` where it is kept)."""
    return where(greater(x, threshold), x, default_value)


def sparsemax(x, axis=-1):
    """Keras's sparsemax along ``axis``: ``max(x - tau, 0)``, where, with ``z`` sorted in decreasing order,
    ``c_j = z_1 + ... + z_j`` and the support ``k = #{j : z_j > (c_j - 1) / j}``, Keras 3.15 (every backend)
    takes ``tau = (c_1 + ... + c_k - 1) / k``. That is the paper's threshold (Martins and Astudillo, 2016:
    ``(c_k - 1) / k``) only when ``k == 1``, so for wider supports the result need not sum to 1; rnnlab gives
    Keras's numbers. The gradient is that of this formula: ``tau`` moves with the ``i``-th largest entry by
    ``(k - i + 1) / k`` for ``i <= k``."""
    x, v = _float_operand(x)
    axis_ = axis % v.ndim
    order = np.argsort(-v, axis=axis_, kind="stable")  # ranks in decreasing order
    ordered = np.take_along_axis(v, order, axis=axis_)
    shape = [-1 if a == axis_ else 1 for a in range(v.ndim)]
    ranks = np.arange(1, v.shape[axis_] + 1, dtype=v.dtype).reshape(shape)
    running = np.cumsum(ordered, axis=axis_)
    support = ordered - (running - 1) / ranks > 0
    k = np.sum(support, axis=axis_, keepdims=True).astype(v.dtype)
    tau = (np.sum(np.where(support, running, 0), axis=axis_, keepdims=True) - 1) / k
    y = np.maximum(v - tau, 0).astype(v.dtype)
    on = y > 0
    weight_sorted = np.where(support, (k - ranks + 1) / k, 0)  # d tau / d (i-th largest entry)
    weight = np.empty_like(weight_sorted)
    np.put_along_axis(weight, order, weight_sorted, axis=axis_)  # back to x's order

    def vjp(g):  # d y_m / d x_n = on_m (delta_mn - d tau / d x_n)
        return (on * g - np.sum(on * g, axis=axis_, keepdims=True) * weight,)

    return record(y, (x,), vjp)


def psnr(x1, x2, max_val):
    """The peak signal-to-noise ratio ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))`` (a scalar)."""
    s1, s2 = np.shape(as_array(operand(x1))), np.shape(as_array(operand(x2)))
    if s1 != s2:
        raise ValueError(f"ops.psnr: `x1` and `x2` must have the same shape; received {s1} and {s2}.")
    x2 = operand(x2)
    peak = np.asarray(unwrap(max_val), dtype=as_array(x2).dtype)
    mse = reductions.mean(square(subtract(x1, x2)))
    return subtract(20 * np.log10(peak), multiply(10, log10(mse)))


# ----------------------------------------------------------------------------------------------- losses
def _same_shape(target, output, op):
    t, o = np.shape(as_array(target)), np.shape(as_array(output))
    if t != o:
        raise ValueError(f"ops.{op}: arguments `target` and `output` must have the same shape; received "
                         f"target.shape={t}, output.shape={o}.")


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise ``-(t log p + (1 - t) log(1 - p))``; probabilities are clipped to ``[1e-7, 1 - 1e-7]``,
    logits (``from_logits=True``) go through a stable ``log(sigmoid)``."""
    _same_shape(target, output, "binary_crossentropy")
    target, output = operand(target), operand(output)
    if not from_logits:
        p = clip(output, EPSILON, 1.0 - EPSILON)
        return -add(multiply(target, log(p)), multiply(subtract(1, target), log(subtract(1, p))))
    dtype = result_type(target, output)
    t, z = as_array(target, dtype), as_array(output, dtype)
    y = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return record(y, (target, output), lambda g: (-g * z, g * (act.sigmoid(z) - t)))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(t log p)`` over ``axis``: probabilities are first rescaled to sum to 1 and clipped, logits go
    through ``log_softmax``."""
    _same_shape(target, output, "categorical_crossentropy")
    target, output = operand(target), operand(output)
    if np.ndim(as_array(target)) < 1:
        raise ValueError("ops.categorical_crossentropy: `target` and `output` must be at least rank 1; received "
                         "scalars.")
    if from_logits:
        logp = log_softmax(output, axis=axis)
    else:
        p = divide(output, reductions.sum(output, axis=axis, keepdims=True))
        logp = log(clip(p, EPSILON, 1.0 - EPSILON))
    return -reductions.sum(multiply(target, logp), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-log p[target]`` for integer class labels ``target`` (shape ``output.shape[:-1]``, or with a last
    axis of size 1); probabilities are clipped and renormalised through a ``log_softmax`` of their log."""
    output = operand(output)
    o_shape = np.shape(as_array(output))
    if axis not in (-1, len(o_shape) - 1):
        raise ValueError(f"ops.sparse_categorical_crossentropy: only axis=-1 is supported, as in Keras; received "
                         f"axis={axis}.")
    labels = as_array(operand(target)).astype("int64")
    if labels.ndim == len(o_shape) and labels.shape[-1:] == (1,):
        labels = labels[..., 0]
    if labels.shape != o_shape[:-1]:
        raise ValueError(f"ops.sparse_categorical_crossentropy: `target` must have the shape of `output` without "
                         f"its last axis; received target.shape={labels.shape}, output.shape={o_shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= o_shape[-1]):
        raise ValueError(f"ops.sparse_categorical_crossentropy: labels must lie in [0, {o_shape[-1]}); received "
                         f"labels from {labels.min()} to {labels.max()}.")
    logits = output if from_logits else log(clip(output, EPSILON, 1.0 - EPSILON))
    logp = log_softmax(logits, axis=-1)
    return -squeeze(take_along_axis(logp, labels[..., None], axis=-1), axis=-1)


# --------------------------------------------------------------------------------------------- convolution
def _per_axis(value, n, argument):
    values = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != n or any(int(v) < 1 for v in values):
        raise ValueError(f"ops.conv: argument `{argument}` must be a positive int or {n} of them; received "
                         f"{argument}={value!r}.")
    return tuple(int(v) for v in values)


def _conv_setup(inputs, kernel, strides, padding, data_format, dilation_rate, op):
    """Both operands channels-last and padded, and the geometry: ``(x, k, xp, pads, strides, dilation,
    out_sizes, channels_first)``."""
    data_format = "channels_last" if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"ops.{op}: argument `data_format` must be 'channels_last' or 'channels_first'; received "
                         f"data_format={data_format!r}.")
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"ops.{op}: argument `padding` must be 'valid' or 'same'; received padding={padding!r}.")
    x, k = operand(inputs), operand(kernel)
    dtype = result_type(x, k)
    xv, kv = as_array(x, dtype), as_array(k, dtype)
    n = xv.ndim - 2
    if n not in (1, 2, 3) or kv.ndim != n + 2:
        raise ValueError(f"ops.{op}: expected inputs (batch, spatial..., channels) with 1 to 3 spatial axes and "
                         f"a kernel (spatial..., in, out) with as many; "
                         f"received inputs of shape {xv.shape} and kernel of shape {kv.shape}.")
    first = data_format == "channels_first"
    if first:
        xv = np.moveaxis(xv, 1, -1)
    strides, dilation = _per_axis(strides, n, "strides"), _per_axis(dilation_rate, n, "dilation_rate")
    if max(strides) > 1 and max(dilation) > 1:
        raise ValueError(f"ops.{op}: `strides` > 1 together with `dilation_rate` > 1 is not supported, as in "
                         f"TensorFlow; received strides={strides}, dilation_rate={dilation}.")
    spatial = xv.shape[1:-1]
    reach = [(kd - 1) * d + 1 for kd, d in zip(kv.shape[:n], dilation)]  # the span a dilated kernel covers
    if padding == "same":
        out = [-(-s // st) for s, st in zip(spatial, strides)]
        total = [max((o - 1) * st + r - s, 0) for o, st, r, s in zip(out, strides, reach, spatial)]
        pads = [(t // 2, t - t // 2) for t in total]
    else:
        out = [(s - r) // st + 1 for s, r, st in zip(spatial, reach, strides)]
        pads = [(0, 0)] * n
    if any(o <= 0 for o in out):
        raise ValueError(f"ops.{op}: the convolution of inputs of shape {as_array(inputs).shape} with a kernel of "
                         f"shape {kv.shape} (strides={strides}, dilation_rate={dilation}, padding={padding!r}) "
                         f"has an empty output.")
    xp = np.pad(xv, [(0, 0)] + pads + [(0, 0)])
    return x, k, xv, kv, xp, pads, strides, dilation, out, first


def _windows(kernel_shape, strides, dilation, out):
    """For each kernel offset: the offset and the index of the input entries it meets, ``(N, *out, C)``."""
    for offset in np.ndindex(*kernel_shape):
        yield offset, (np.s_[:],) + tuple(np.s_[o * d: o * d + st * (m - 1) + 1: st] for o, d, st, m in
                                          zip(offset, dilation, strides, out)) + (np.s_[:],)


def _crop(dxp, pads, xv_shape, first):
    dx = dxp[(np.s_[:],) + tuple(np.s_[b: b + s] for (b, _), s in zip(pads, xv_shape[1:-1])) + (np.s_[:],)]
    return np.moveaxis(dx, -1, 1) if first else dx


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1 to 3 spatial axes) as Keras's ``ops.conv``: inputs ``(batch, spatial..., in)``
    (``channels_first``: ``(batch, in, spatial...)``), kernel ``(spatial..., in, out)``; "same" padding puts
    the odd entry after, as TensorFlow. Computed as one matrix product per kernel offset; the backward
    scatters the output's gradient back through the same windows."""
    x, k, xv, kv, xp, pads, strides, dilation, out, first = _conv_setup(
        inputs, kernel, strides, padding, data_format, dilation_rate, "conv")
    n = len(out)
    if kv.shape[-2] != xv.shape[-1]:
        raise ValueError(f"ops.conv: the kernel's input channels ({kv.shape[-2]}) must equal the inputs' channels "
                         f"({xv.shape[-1]}); grouped convolutions are not supported. Received inputs of shape "
                         f"{as_array(inputs).shape}, kernel of shape {kv.shape}.")
    windows = list(_windows(kv.shape[:n], strides, dilation, out))
    y = np.zeros((xv.shape[0], *out, kv.shape[-1]), dtype=xv.dtype)
    for offset, where in windows:
        y += xp[where] @ kv[offset]  # (N, *out, in) @ (in, out)

    def vjp(g):
        g = np.moveaxis(g, 1, -1) if first else g
        dxp, dk = np.zeros_like(xp), np.zeros_like(kv)
        for offset, where in windows:
            dxp[where] += g @ kv[offset].T  # back to the entries this offset read
            dk[offset] = np.tensordot(xp[where], g, axes=(range(n + 1), range(n + 1)))  # (in, out)
        return _crop(dxp, pads, xv.shape, first), dk

    return record(np.moveaxis(y, -1, 1) if first else y, (x, k), vjp)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Each input channel convolved with its own filters: kernel ``(spatial..., in, multiplier)``, output
    channels ``in * multiplier`` (channel ``c`` gives outputs ``c * multiplier ... (c + 1) * multiplier - 1``)."""
    x, k, xv, kv, xp, pads, strides, dilation, out, first = _conv_setup(
        inputs, kernel, strides, padding, data_format, dilation_rate, "depthwise_conv")
    n = len(out)
    if kv.shape[-2] != xv.shape[-1]:
        raise ValueError(f"ops.depthwise_conv: the kernel's input channels ({kv.shape[-2]}) must equal the "
                         f"inputs' channels ({xv.shape[-1]}); received inputs of shape {as_array(inputs).shape}, "
                         f"kernel of shape {kv.shape}.")
    windows = list(_windows(kv.shape[:n], strides, dilation, out))
    channels, mult = kv.shape[-2:]
    y = np.zeros((xv.shape[0], *out, channels, mult), dtype=xv.dtype)
    for offset, where in windows:
        y += xp[where][..., None] * kv[offset]  # (N, *out, in, 1) * (in, mult)

    def vjp(g):
        g = np.moveaxis(g, 1, -1) if first else g
        g = g.reshape(g.shape[:-1] + (channels, mult))
        dxp, dk = np.zeros_like(xp), np.zeros_like(kv)
        for offset, where in windows:
            dxp[where] += np.sum(g * kv[offset], axis=-1)
            dk[offset] = np.sum(xp[where][..., None] * g, axis=tuple(range(n + 1)))
        return _crop(dxp, pads, xv.shape, first), dk

    y = y.reshape(y.shape[:-2] + (channels * mult,))
    return record(np.moveaxis(y, -1, 1) if first else y, (x, k), vjp)


__all__ = ["hard_tanh", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "celu", "squareplus", "soft_shrink",
           "hard_shrink", "relu", "relu6", "sigmoid", "softplus", "softsign", "log_sigmoid", "selu", "hard_sigmoid", "silu",
           "swish", "hard_silu", "hard_swish", "leaky_relu", "elu", "gelu", "softmax", "log_softmax", "one_hot",
           "multi_hot", "moments", "normalize", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "conv", "depthwise_conv"]

__all__ += ["glu", "threshold", "sparsemax", "psnr"]

# Keras's ``ops.nn`` namespace also holds these families, written in their own modules
from rnnlab.ops.attention import *  # noqa: F401,F403,E402
from rnnlab.ops.attention import __all__ as _attention  # noqa: E402
from rnnlab.ops.normalization import *  # noqa: F401,F403,E402
from rnnlab.ops.normalization import __all__ as _normalization  # noqa: E402
from rnnlab.ops.pooling import *  # noqa: F401,F403,E402
from rnnlab.ops.pooling import __all__ as _pooling  # noqa: E402

__all__ += _attention + _normalization + _pooling
