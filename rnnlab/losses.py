"""Keras 3 losses on NumPy, each with the analytic gradient of the value it reports.

Every loss object is called like its Keras counterpart::

    loss = rnnlab.losses.MeanSquaredError()
    value = loss(y_true, y_pred, sample_weight=None)              # Python float
    value, grad = loss.value_and_grad(y_true, y_pred)             # grad = d value / d y_pred

The value follows Keras 3.15 step by step, so that the numbers agree with ``keras.losses``:

* the per-sample function reduces the last axis (``(B, D) -> (B,)``, ``(B, T, D) -> (B, T)``);
* ``y_true``/``y_pred`` whose ranks differ by one with a trailing dimension of 1 are squeezed/expanded to
  the same rank first, as Keras's ``squeeze_or_expand_to_same_rank`` does;
* a Keras mask carried by ``y_pred`` (``y_pred._keras_mask``, e.g. rnnlab's ``MaskedArray``) or given
  as ``mask=`` is folded into the sample weights the way Keras does (valid entries weigh
  ``total / valid`` under ``"sum_over_batch_size"``);
* ``sample_weight`` is squeezed/expanded to the rank of the per-sample values and then broadcast with
  NumPy (trailing-axis) rules -- exactly Keras's ``values * sample_weight``; shapes that do not broadcast
  raise ``ValueError`` (Keras raises too: a ``(B,)`` weight does not fit ``(B, T)`` sequence losses);
* the default reduction ``"sum_over_batch_size"`` is ``sum(values * sample_weight) / values.size``: the
  divisor is the number of loss entries, *not* the sum of the weights (that is
  ``reduction="mean_with_sample_weight"``);
* probabilities are clipped to ``[1e-7, 1 - 1e-7]`` (computed in the working dtype, as Keras does), and
  categorical cross-entropy first renormalises the probabilities along the last axis.  The gradient is
  the derivative of that clipped value: zero for entries clipped away.

Computation happens in float64 when ``y_pred`` is float64 and in float32 otherwise (Keras computes losses in
``floatx()``, float32); the gradient comes back in ``y_pred``'s dtype and shape.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.tensor import Tensor, backward as _backpropagate

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "Huber",
    "LogCosh",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "KLDivergence",
    "Poisson",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "get",
    "serialize",
    "as_logits_loss",
    "EPSILON",
]

EPSILON = 1e-7

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------

def _work_dtype(y_pred):
    return np.float64 if y_pred.dtype == np.float64 else np.float32


def _as_array(x, dtype=None):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # tensors from other frameworks
        x = x.numpy()
    arr = np.asarray(x)
    if isinstance(arr, np.ndarray) and type(arr) is not np.ndarray:
        arr = arr.view(np.ndarray)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _check_no_nan(y_true):
    if np.issubdtype(y_true.dtype, np.floating) and np.isnan(y_true).any():
        raise ValueError("Invalid `y_true`: the targets contain NaN. Remove or replace the NaN targets.")


def same_rank(x1, x2):
    """Keras's ``squeeze_or_expand_to_same_rank`` (ranks differing by one with a trailing 1); metrics use it too."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _log_sum_exp(z):
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    return (m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True)))[..., 0]


def _softmax(z):
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(z - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _mask_scale(m, dtype):
    """Keras's weight for the valid entries of a boolean mask under a mean reduction: ``total / valid``."""
    valid = dtype(m.sum())
    return dtype(m.size) / valid if valid else dtype(0)


def _clip_bounds(dtype):
    # Keras clips to (epsilon, 1.0 - epsilon) with both bounds converted to the working dtype.
    return dtype(EPSILON), dtype(1.0 - EPSILON)


def _clip_with_mask(p, dtype, lo=None, hi=None):
    """``clip(p, lo, hi)`` (default ``[eps, 1 - eps]``) and where its derivative is 1 (TF: zero only strictly
    outside)."""
    if lo is None:
        lo, hi = _clip_bounds(dtype)
    passes = ~((p < lo) | (p > hi))
    return np.clip(p, lo, hi), passes


def _class_axis(axis, ndim, owner):
    """``axis`` (negative counts from the end) as an index into ``ndim`` axes, or a ValueError naming it."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"Argument `axis` of {owner} must name an axis of y_pred (rank {ndim}), in "
                         f"[{-ndim}, {ndim - 1}]; received axis={axis}.")
    return axis % ndim


def _check_axis_argument(axis, owner):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"Argument `axis` of {owner} must be an int; received axis={axis!r} of type "
                         f"{type(axis).__name__}.")
    return int(axis)


def _reduce_axis(per, d_per, how="mean", axis=-1, owner="loss"):
    """``(values, backward)`` of ``mean(per, axis)`` (or ``sum``) for element-wise losses ``per`` whose
    derivative with respect to ``y_pred`` is ``d_per()`` (called only in the backward pass)."""
    if per.ndim == 0:
        return per, lambda g: np.asarray(g) * d_per()
    axis = _class_axis(axis, per.ndim, owner)
    n = per.shape[axis] if how == "mean" else 1
    values = np.mean(per, axis=axis) if how == "mean" else np.sum(per, axis=axis)

    def backward(g):
        return np.expand_dims(np.asarray(g), axis) * d_per() / per.dtype.type(n)

    return values, backward


def _and_masks(first, second):
    """Keras's ``in_mask & out_mask`` of two optional boolean masks."""
    if first is None or second is None:
        return second if first is None else first
    return np.logical_and(_as_array(first).astype(bool), _as_array(second).astype(bool))


# ---------------------------------------------------------------------------------------------------------
# base class
# ---------------------------------------------------------------------------------------------------------

class Loss:
    """Base class: subclasses implement :meth:`_values` (per-sample values and their backward function)."""

    #: default name, as Keras's
    default_name = "loss"

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                "Invalid value for argument `reduction`. Expected one of "
                f"{[r for r in _REDUCTIONS]}. Received: reduction={reduction!r}"
            )
        self.name = name or self.default_name
        self.reduction = reduction

    # -- public API ---------------------------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        """The reduced loss as a Python float (``reduction=None``/``"none"``: the weighted per-sample array)."""
        value, _ = self._compute(y_true, y_pred, sample_weight, mask, need_grad=False)
        return value

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        """``(value, dvalue/dy_pred)``: the float :meth:`__call__` returns, and its gradient with respect to
        ``y_pred`` (an ndarray of ``y_pred``'s shape and floating dtype)."""
        if self.reduction in (None, "none"):
            raise ValueError(
                "value_and_grad needs a scalar loss; this loss has reduction="
                f"{self.reduction!r}. Use reduction='sum_over_batch_size' (the default)."
            )
        return self._compute(y_true, y_pred, sample_weight, mask, need_grad=True)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- to be implemented --------------------------------------------------------------------------------
    def _values(self, y_true, y_pred, need_grad):
        """Return ``(values, backward)``: per-sample losses and a function mapping d/d values to d/d y_pred.

        ``y_true``/``y_pred`` arrive as NumPy arrays in the working dtype (``y_true`` unconverted for the
        sparse loss), NaN-free targets; shapes are the subclass's business.  A subclass written the Keras way,
        with ``call(y_true, y_pred)`` in ``rnnlab.ops`` (keras.ops), gets its backward from the record.
        """
        if type(self).call is Loss.call:
            raise NotImplementedError(f"{type(self).__name__} must override `call(self, y_true, y_pred)`, as a "
                                      "Keras loss does.")
        y_true = _as_array(y_true).astype(y_pred.dtype, copy=False)  # Keras casts both to the loss's dtype
        return _recorded_values(self.call, y_true, y_pred, need_grad, f"The loss {type(self).__name__}.call")

    def call(self, y_true, y_pred):
        """The per-sample values, for a subclass written the Keras way (see :meth:`_values`)."""
        raise NotImplementedError(f"{type(self).__name__} must override `call(self, y_true, y_pred)`.")

    def _values_and_mask(self, y_true, y_pred, need_grad):
        """``(values, backward, mask)``: :meth:`_values`, and the boolean mask of the per-sample values that the
        loss itself sets (None: all count), which joins a mask carried by ``y_pred`` as Keras's ``in_mask &
        out_mask`` (SparseCategoricalCrossentropy's ``ignore_class`` sets one)."""
        return (*self._values(y_true, y_pred, need_grad), None)

    # -- machinery ----------------------------------------------------------------------------------------
    def _prepare_pair(self, y_true, y_pred):
        """Convert, check NaN, align ranks like Keras, and check that the shapes agree."""
        dtype = y_pred.dtype
        y_true = _as_array(y_true)
        _check_no_nan(y_true)
        y_true = y_true.astype(dtype, copy=False)
        yt, yp = same_rank(y_true, y_pred)
        if yt.shape != yp.shape:
            raise ValueError(
                f"{type(self).__name__}: `y_true` and `y_pred` have incompatible shapes: "
                f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}. "
                "They must be equal (up to a trailing dimension of size 1)."
            )
        return yt, yp

    def _compute(self, y_true, y_pred, sample_weight, mask, need_grad):
        if mask is None:
            mask = getattr(y_pred, "_keras_mask", None)
        y_pred_arr = _as_array(y_pred)
        orig_shape, orig_dtype = y_pred_arr.shape, y_pred_arr.dtype
        dtype = _work_dtype(y_pred_arr)
        yp = y_pred_arr.astype(dtype, copy=False)

        values, backward, own_mask = self._values_and_mask(y_true, yp, need_grad)
        values = np.asarray(values, dtype=dtype)

        weights = self._merge_weights(values, sample_weight, _and_masks(mask, own_mask), dtype)
        value, d_values = self._reduce(values, weights, dtype, need_grad)
        if not need_grad:
            return value, None
        grad = backward(d_values)
        grad = np.asarray(grad).reshape(orig_shape)
        out_dtype = orig_dtype if np.issubdtype(orig_dtype, np.floating) else dtype
        return value, grad.astype(out_dtype, copy=False)

    def _merge_weights(self, values, sample_weight, mask, dtype):
        """Keras's ``apply_mask``: fold a mask into the sample weights."""
        sw = None if sample_weight is None else _as_array(sample_weight, dtype)
        if mask is not None:
            m = _as_array(mask).astype(bool)
            if self.reduction in ("mean", "sum_over_batch_size"):
                float_mask = np.where(m, _mask_scale(m, dtype), dtype(0)).astype(dtype)
            else:
                float_mask = m.astype(dtype)
            if sw is not None:
                float_mask, sw = same_rank(float_mask, sw)
                try:
                    sw = sw * float_mask
                except ValueError:
                    raise ValueError(
                        f"`sample_weight` of shape {tuple(sw.shape)} does not broadcast with the mask of shape "
                        f"{tuple(float_mask.shape)}."
                    ) from None
            else:
                sw = float_mask
        return sw

    def _divisor(self, size, w, dtype):
        """What the reduction divides the sum of ``size`` weighted values by (weights ``w``, or None)."""
        if self.reduction == "sum":
            return dtype(1)
        if self.reduction == "mean_with_sample_weight" and w is not None:
            return np.sum(w, dtype=dtype)
        return dtype(size)

    def normalizer(self, y_true, y_pred, sample_weight=None, mask=None):
        """The number ``n`` with ``loss == sum(values * sample_weight * mask) / n`` (a 0/1 mask, before Keras's
        ``total / valid`` scale), as a float.

        A batch cut into parts has ``n`` equal to the sum of its parts' ``n`` (``reduction="sum"``: 1 for every
        part), so a data-parallel trainer weighs each part's loss ``L_k`` as ``L_k * n_k / sum(n_k)``.
        """
        if self.reduction == "sum":
            return 1.0
        if mask is None:
            mask = getattr(y_pred, "_keras_mask", None)
        yp = _as_array(y_pred)
        dtype = _work_dtype(yp)
        values, _, own_mask = self._values_and_mask(y_true, yp.astype(dtype, copy=False), False)
        values = np.asarray(values, dtype=dtype)
        mask = _and_masks(mask, own_mask)
        w = self._merge_weights(values, sample_weight, mask, dtype)
        if w is None:
            size = values.size
        else:
            v, w_same = same_rank(values, w)
            size = int(np.prod(np.broadcast_shapes(v.shape, w_same.shape)))
        if self.reduction == "mean_with_sample_weight" or mask is None:
            return float(self._divisor(size, w, dtype))
        m = _as_array(mask).astype(bool)  # the mask's scale total/valid came in through w: take it out again
        scale = _mask_scale(m, dtype)
        return float(self._divisor(size, w, dtype) / scale) if scale else 0.0

    def _reduce(self, values, sw, dtype, need_grad):
        """Weight and reduce; return ``(value, d value / d values)``."""
        v, w = values, sw
        if w is not None:
            v, w = same_rank(values, w)
            try:
                shape = np.broadcast_shapes(v.shape, w.shape)
            except ValueError:
                raise ValueError(
                    f"`sample_weight` of shape {tuple(sw.shape)} cannot be applied to per-sample losses of shape "
                    f"{tuple(values.shape)} (y_pred without its last axis). Keras multiplies them with "
                    "broadcasting; pass weights of shape "
                    f"{tuple(values.shape[:1])} for 2-D outputs or {tuple(values.shape)} for sequence outputs."
                ) from None
            weighted = v * w
        else:
            shape = v.shape
            weighted = v
        reduction = self.reduction
        if reduction in (None, "none") or weighted.shape in ((), (0,)):
            out = weighted.reshape(shape) if weighted.shape != shape else weighted
            if reduction in (None, "none"):
                return out, None
            value = float(out) if out.shape == () else 0.0
            d_weighted = np.ones(shape, dtype) if out.shape == () else np.zeros(shape, dtype)
        else:
            total = np.sum(weighted, dtype=dtype)
            divisor = self._divisor(weighted.size, w, dtype)
            value = float(total / divisor) if divisor != 0 else 0.0
            d_weighted = None
            if need_grad:
                scale = dtype(1) / divisor if divisor != 0 else dtype(0)
                d_weighted = np.full(shape, scale, dtype=dtype)
        if not need_grad:
            return value, None
        d_v = d_weighted if w is None else d_weighted * w
        d_v = _unbroadcast(np.asarray(d_v, dtype=dtype), v.shape)
        return value, d_v.reshape(values.shape)


# ---------------------------------------------------------------------------------------------------------
# element-wise losses
# ---------------------------------------------------------------------------------------------------------

class _ElementwiseLoss(Loss):
    """A loss whose per-sample value is the mean (``last_axis = "mean"``) or the sum (``"sum"``) over ``axis``
    (the last) of an element-wise term of ``(y_true, y_pred)``, times an optional constant ``scale``: what
    Keras's ``LossFunctionWrapper`` losses compute.  A subclass names itself (``default_name``) and gives the
    term and its derivative in :meth:`_elementwise`; the rank alignment, the shape check, the reduction and its
    backward are done here once."""

    last_axis = "mean"
    axis = -1  # the axis reduced (BinaryCrossentropy's ``axis`` argument)
    scale = None  # a constant applied after the reduction (MAPE's 100), in the working dtype

    def __init__(self, reduction="sum_over_batch_size", name=None):
        super().__init__(name=name, reduction=reduction)

    def _elementwise(self, y_true, y_pred, dtype):
        """``(term, d_term)``: the element-wise loss, of ``y_pred``'s shape, and a function (called only in the
        backward pass) giving ``d term / d y_pred``; ``dtype`` is the working dtype's scalar type."""
        raise NotImplementedError

    def _values(self, y_true, y_pred, need_grad):
        yt, yp = self._prepare_pair(y_true, y_pred)
        term, d_term = self._elementwise(yt, yp, yp.dtype.type)
        values, backward = _reduce_axis(term, d_term, self.last_axis, self.axis, type(self).__name__)
        if self.scale is None:
            return values, backward
        scale = yp.dtype.type(self.scale)
        return scale * values, lambda g: backward(scale * np.asarray(g))


class MeanSquaredError(_ElementwiseLoss):
    """``mean(square(y_pred - y_true), axis=-1)``, reduced."""

    default_name = "mean_squared_error"

    def _elementwise(self, y_true, y_pred, dtype):
        diff = y_pred - y_true
        return np.square(diff), lambda: 2 * diff


class MeanAbsoluteError(_ElementwiseLoss):
    """``mean(abs(y_true - y_pred), axis=-1)``, reduced (gradient ``sign(diff)``, 0 at a tie)."""

    default_name = "mean_absolute_error"

    def _elementwise(self, y_true, y_pred, dtype):
        diff = y_pred - y_true
        return np.abs(diff), lambda: np.sign(diff)


class Huber(_ElementwiseLoss):
    """Huber loss: ``0.5 x^2`` for ``|x| <= delta``, ``delta |x| - 0.5 delta^2`` beyond; mean over the last axis.

    Its config is Keras 3.15's: ``name`` and ``reduction`` only.  Keras's ``Huber.get_config`` leaves ``delta``
    out, so a Huber loss rebuilt from a config (or from a saved model's compile config) has ``delta=1.0``, in
    Keras and in rnnlab alike."""

    default_name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(reduction=reduction, name=name)
        self.delta = float(delta)

    def _elementwise(self, y_true, y_pred, dtype):
        delta, half = dtype(self.delta), dtype(0.5)
        err = y_pred - y_true
        abs_err = np.abs(err)
        quadratic = abs_err <= delta
        term = np.where(quadratic, half * np.square(err), delta * abs_err - half * np.square(delta))
        return term, lambda: np.where(quadratic, err, delta * np.sign(err))


class LogCosh(_ElementwiseLoss):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, reduced; computed as Keras does, stably, as
    ``x + softplus(-2 x) - log(2)`` (gradient ``tanh(x)``)."""

    default_name = "log_cosh"

    def _elementwise(self, y_true, y_pred, dtype):
        x = y_pred - y_true
        log2 = dtype(np.float32(np.log(2.0)))  # Keras takes log(2) in float32, then casts it
        return x + np.logaddexp(dtype(0), dtype(-2) * x) - log2, lambda: np.tanh(x)


class MeanAbsolutePercentageError(_ElementwiseLoss):
    """``100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1)``, reduced (gradient 0 at a tie)."""

    default_name = "mean_absolute_percentage_error"
    scale = 100

    def _elementwise(self, y_true, y_pred, dtype):
        denominator = np.maximum(np.abs(y_true), dtype(EPSILON))
        return np.abs((y_true - y_pred) / denominator), lambda: np.sign(y_pred - y_true) / denominator


class MeanSquaredLogarithmicError(_ElementwiseLoss):
    """``mean(square(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)), axis=-1)``, reduced.  Predictions
    below 1e-7 are raised to it, and get no gradient (as TensorFlow's ``maximum``)."""

    default_name = "mean_squared_logarithmic_error"

    def _elementwise(self, y_true, y_pred, dtype):
        eps, one = dtype(np.float32(EPSILON)), dtype(1)  # Keras's epsilon is a float32 constant here
        shifted = np.maximum(y_pred, eps) + one
        diff = np.log(shifted) - np.log(np.maximum(y_true, eps) + one)
        # d/dy_pred: 2 diff / (max(y_pred, eps) + 1) where y_pred >= eps (the maximum passes its first argument)
        return np.square(diff), lambda: np.where(y_pred >= eps, 2 * diff / shifted, dtype(0))


class KLDivergence(_ElementwiseLoss):
    """Kullback-Leibler divergence ``sum(t * log(t / p), axis=-1)``, reduced, with ``t`` and ``p`` the targets
    and predictions clipped to ``[1e-7, 1]`` (clipped predictions get no gradient)."""

    default_name = "kl_divergence"
    last_axis = "sum"

    def _elementwise(self, y_true, y_pred, dtype):
        t, _ = _clip_with_mask(y_true, dtype, dtype(EPSILON), dtype(1))
        p, passes = _clip_with_mask(y_pred, dtype, dtype(EPSILON), dtype(1))
        return t * np.log(t / p), lambda: np.where(passes, -t / p, dtype(0))


class Poisson(_ElementwiseLoss):
    """Poisson negative log-likelihood ``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)``, reduced."""

    default_name = "poisson"

    def _elementwise(self, y_true, y_pred, dtype):
        shifted = y_pred + dtype(EPSILON)
        return y_pred - y_true * np.log(shifted), lambda: dtype(1) - y_true / shifted


# ---------------------------------------------------------------------------------------------------------
# cross-entropies
# ---------------------------------------------------------------------------------------------------------

class _SmoothedCrossentropy:
    """The arguments the binary and categorical cross-entropies share, ``from_logits``, ``label_smoothing`` and
    ``axis`` (stored and written in the config, as Keras's); mixed in before the loss base class."""

    def __init__(self, from_logits, label_smoothing, axis, reduction, name):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = _check_axis_argument(axis, type(self).__name__)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class BinaryCrossentropy(_SmoothedCrossentropy, _ElementwiseLoss):
    """Element-wise binary cross-entropy averaged over ``axis`` (the last, by default).

    ``from_logits=True``: ``max(x, 0) - x z + log1p(exp(-|x|))`` (TF's stable form).  Otherwise probabilities
    are clipped to ``[1e-7, 1 - 1e-7]``.  ``label_smoothing`` moves targets towards 0.5:
    ``z * (1 - s) + 0.5 s``.
    """

    default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _elementwise(self, y_true, y_pred, dtype):
        if self.label_smoothing:
            s = self.label_smoothing
            y_true = y_true * dtype(1.0 - s) + dtype(0.5 * s)
        if self.from_logits:
            x = y_pred
            term = np.maximum(x, 0) - x * y_true + np.log1p(np.exp(-np.abs(x)))
            return term, lambda: _sigmoid(x) - y_true
        o, passes = _clip_with_mask(y_pred, dtype)
        one = dtype(1)
        term = -(y_true * np.log(o) + (one - y_true) * np.log(one - o))
        return term, lambda: np.where(passes, -(y_true / o) + (one - y_true) / (one - o), dtype(0))


class CategoricalCrossentropy(_SmoothedCrossentropy, Loss):
    """Cross-entropy with one-hot (or soft) targets over the class axis ``axis`` (the last, by default).

    ``from_logits=True``: ``sum(z * (logsumexp(x) - x))``.  Otherwise Keras's recipe: probabilities are divided
    by their sum along the class axis, clipped to ``[1e-7, 1 - 1e-7]``, and ``-sum(z * log p)`` is taken.
    ``label_smoothing`` s: ``z * (1 - s) + s / num_classes``, where, as in Keras, ``num_classes`` is the size of
    the *last* axis whatever ``axis`` is.
    """

    default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _values(self, y_true, y_pred, need_grad):
        yt, yp = self._prepare_pair(y_true, y_pred)
        if yp.ndim < 1:
            raise ValueError(f"{type(self).__name__} needs y_pred of rank >= 1; received shape {yp.shape}.")
        dtype = yp.dtype.type
        if self.label_smoothing:
            s = self.label_smoothing
            yt = yt * dtype(1.0 - s) + dtype(s) / dtype(yt.shape[-1])
        axis = _class_axis(self.axis, yp.ndim, type(self).__name__)
        yt, yp = np.moveaxis(yt, axis, -1), np.moveaxis(yp, axis, -1)  # the classes last
        values, backward = self._last_axis_values(yt, yp, dtype)
        return values, lambda g: np.moveaxis(backward(g), -1, axis)

    def _last_axis_values(self, yt, yp, dtype):
        """``(values, backward)`` with the classes on the last axis of ``yt`` and ``yp``."""
        if self.from_logits:
            lse = _log_sum_exp(yp)
            values = np.sum(yt * (lse[..., None] - yp), axis=-1)

            def backward(g):
                g = np.asarray(g)[..., None]
                return g * (_softmax(yp) * np.sum(yt, axis=-1, keepdims=True) - yt)
        else:
            total = np.sum(yp, axis=-1, keepdims=True)
            p = yp / total
            q, passes = _clip_with_mask(p, dtype)
            values = -np.sum(yt * np.log(q), axis=-1)

            def backward(g):
                g = np.asarray(g)[..., None]
                d_p = np.where(passes, -yt / q, dtype(0)) * g
                # through p = y_pred / sum(y_pred): d/dy_j = (d_p_j - sum_i d_p_i p_i) / sum
                return (d_p - np.sum(d_p * p, axis=-1, keepdims=True)) / total
        return values, backward


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with integer class ids: ``y_true`` of shape ``y_pred.shape[:-1]`` (or with a trailing 1).

    ``from_logits=True``: ``logsumexp(x) - x[c]``.  Otherwise Keras's recipe: probabilities are clipped to
    ``[1e-7, 1 - 1e-7]``, their log is treated as logits, so the value is ``log(sum q) - log q[c]``.

    ``ignore_class``: entries whose target is this id count for nothing, as in Keras: their value is 0, they
    get no gradient, and they are masked out of the reduction (``"sum_over_batch_size"`` divides by the number
    of the other entries).  ``axis``: the class axis; as with Keras's TensorFlow backend, only the last axis is
    supported (another one is refused when the loss is called).  Keras writes ``ignore_class`` in the config,
    not ``axis``.
    """

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool) or
                                         not isinstance(ignore_class, (int, np.integer))):
            raise ValueError(f"Argument `ignore_class` of SparseCategoricalCrossentropy must be an int or None; "
                             f"received ignore_class={ignore_class!r} of type {type(ignore_class).__name__}.")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self._axis = _check_axis_argument(axis, "SparseCategoricalCrossentropy")

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": self.ignore_class}

    def _class_ids(self, y_true, y_pred):
        """``(ids, valid)``: the class ids, of shape ``y_pred.shape[:-1]`` (0 where ignored), and the boolean
        mask of the entries that count (None without ``ignore_class``)."""
        y_true = _as_array(y_true)
        _check_no_nan(y_true)
        if y_pred.ndim < 1:
            raise ValueError(
                f"SparseCategoricalCrossentropy needs y_pred with a class axis; received y_pred.shape={y_pred.shape}."
            )
        if _class_axis(self._axis, y_pred.ndim, "SparseCategoricalCrossentropy") != y_pred.ndim - 1:
            raise ValueError(f"SparseCategoricalCrossentropy supports only the last axis of y_pred as the class "
                             f"axis (as Keras's TensorFlow backend); received axis={self._axis} for y_pred of "
                             f"shape {y_pred.shape}.")
        lead = y_pred.shape[:-1]
        if y_true.shape == lead + (1,) and y_true.shape != lead:
            y_true = y_true[..., 0]
        if y_true.shape != lead:
            raise ValueError(
                "SparseCategoricalCrossentropy: `y_true` must hold integer class ids of shape y_pred.shape[:-1] "
                f"(or with a trailing 1); received y_true.shape={tuple(y_true.shape)}, "
                f"y_pred.shape={tuple(y_pred.shape)}."
            )
        if y_true.dtype == bool:
            y_true = y_true.astype(np.int64)
        if not np.issubdtype(y_true.dtype, np.integer):
            if not np.issubdtype(y_true.dtype, np.number):
                raise ValueError(f"`y_true` must hold integer class ids; received dtype {y_true.dtype}.")
            if not np.all(np.isfinite(y_true)) or np.any(y_true != np.round(y_true)):
                raise ValueError("`y_true` must hold integer class ids; received non-integer values.")
        ids = y_true.astype(np.int64)
        valid = None if self.ignore_class is None else ids != self.ignore_class
        if valid is not None:
            ids = np.where(valid, ids, 0)
        num_classes = y_pred.shape[-1]
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            bad = ids[(ids < 0) | (ids >= num_classes)]
            ignored = "" if self.ignore_class is None else f", and not ignore_class={self.ignore_class}"
            raise ValueError(
                f"`y_true` holds class ids out of range [0, {num_classes}){ignored}: e.g. {int(bad.flat[0])} "
                f"(y_pred has {num_classes} classes on its last axis)."
            )
        return ids, valid

    def _values(self, y_true, y_pred, need_grad):
        return self._values_and_mask(y_true, y_pred, need_grad)[:2]

    def _values_and_mask(self, y_true, y_pred, need_grad):
        ids, valid = self._class_ids(y_true, y_pred)
        if valid is not None:  # Keras zeroes the ignored rows of y_pred before the cross-entropy
            y_pred = np.where(valid[..., None], y_pred, y_pred.dtype.type(0))
        values, backward = self._class_values(ids, y_pred)
        if valid is None:
            return values, backward, None
        zero = y_pred.dtype.type(0)
        return (np.where(valid, values, zero),
                lambda g: np.where(valid[..., None], backward(np.where(valid, g, zero)), zero), valid)

    def _class_values(self, ids, y_pred):
        """``(values, backward)`` of the cross-entropy of ``y_pred`` (classes last) at the class ``ids``."""
        dtype = y_pred.dtype.type
        onehot = np.zeros(y_pred.shape, dtype=dtype)
        np.put_along_axis(onehot, ids[..., None], dtype(1), axis=-1)
        if self.from_logits:
            z = y_pred
            lse = _log_sum_exp(z)
            picked = np.take_along_axis(z, ids[..., None], axis=-1)[..., 0]
            values = lse - picked

            def backward(g):
                return np.asarray(g)[..., None] * (_softmax(z) - onehot)
        else:
            q, passes = _clip_with_mask(y_pred, dtype)
            log_q = np.log(q)
            values = _log_sum_exp(log_q) - np.take_along_axis(log_q, ids[..., None], axis=-1)[..., 0]

            def backward(g):
                d_q = 1.0 / np.sum(q, axis=-1, keepdims=True) - onehot / q
                return np.asarray(g)[..., None] * np.where(passes, d_q, dtype(0))
        return values, backward


# ---------------------------------------------------------------------------------------------------------
# lookup
# ---------------------------------------------------------------------------------------------------------

_ALIASES = {
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "log_cosh": LogCosh,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
    "kld": KLDivergence,
    "KLD": KLDivergence,
    "kl_divergence": KLDivergence,
    "poisson": Poisson,
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}

#: the names :func:`get` accepts (as listed in its error message)
ACCEPTED_NAMES = (
    "mse", "mean_squared_error", "mae", "mean_absolute_error", "huber", "log_cosh", "mape",
    "mean_absolute_percentage_error", "msle", "mean_squared_logarithmic_error", "kld", "kl_divergence", "poisson",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
)

_CLASS_NAMES = {cls.__name__: cls for cls in set(_ALIASES.values())}


def _recorded_values(fn, y_true, y_pred, need_grad, what):
    """``(values, backward)`` of a loss ``fn(y_true, y_pred) -> per-sample values`` written with rnnlab.ops
    (keras.ops), operators or NumPy ufuncs: ``y_pred`` enters as a leaf of the ops' record, and backward is
    derived from it."""
    if not need_grad:
        return _as_array(fn(y_true, y_pred)), None
    leaf = Tensor(y_pred)
    out = fn(y_true, leaf)
    if not isinstance(out, Tensor):
        values = _as_array(out)

        def backward(g):
            raise TypeError(f"{what} returned values that do not follow y_pred through rnnlab.ops (keras.ops): "
                            "rnnlab cannot differentiate it. Write it with keras.ops functions, operators or NumPy "
                            "ufuncs on y_pred.")

        return values, backward

    def backward(g):
        grad = _backpropagate([out], [np.asarray(g, out.value.dtype).reshape(out.value.shape)])(leaf)
        return np.zeros_like(y_pred) if grad is None else grad

    return out.value, backward


class _FunctionLoss(Loss):
    """A user callable ``fn(y_true, y_pred) -> per-sample values`` treated as a Keras loss (value only)."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size"):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn = fn

    def _values(self, y_true, y_pred, need_grad):
        # as Keras's wrapper of a loss function: y_true in y_pred's dtype, ranks aligned
        y_true, y_pred = same_rank(_as_array(y_true).astype(y_pred.dtype, copy=False), y_pred)
        return _recorded_values(self.fn, y_true, y_pred, need_grad, f"The loss function {self.name!r}")

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        return self._compute(y_true, y_pred, sample_weight, mask, need_grad=True)

    def get_config(self):
        return {**super().get_config(), "fn": self.fn}


def get(identifier):
    """Resolve ``identifier`` to a loss object.

    * a :class:`Loss` instance is returned as is;
    * a string: ``"mse"``/``"mean_squared_error"``, ``"mae"``/``"mean_absolute_error"``, ``"huber"``,
      ``"log_cosh"``, ``"mape"``/``"mean_absolute_percentage_error"``, ``"msle"``/
      ``"mean_squared_logarithmic_error"``, ``"kld"``/``"kl_divergence"``, ``"poisson"``,
      ``"binary_crossentropy"``, ``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``
      (the upper-case ``"MSE"``, ``"MAE"``, ``"MAPE"``, ``"MSLE"``, ``"KLD"``, ``"BCE"`` and the class names
      too, as Keras) give a fresh default-configured instance named as Keras names it;
    * a :class:`Loss` subclass is instantiated; any other callable ``fn(y_true, y_pred)`` returning per-sample
      values is wrapped (value only, no gradient).
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASS_NAMES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"Unknown loss class {identifier['class_name']!r} in config {identifier!r}.")
        return cls.from_config(dict(identifier.get("config", {})))
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASS_NAMES.get(identifier)
        if cls is None:
            raise ValueError(
                f"Invalid value for argument `loss`: unknown loss {identifier!r}. Accepted names: "
                f"{', '.join(repr(n) for n in ACCEPTED_NAMES)}, or a rnnlab.losses.Loss instance."
            )
        return cls()
    own = [cls for fn, cls in FUNCTION_CLASSES.items() if fn is identifier]
    if own:  # Keras's own loss functions train as their class
        return own[0](name=identifier.__name__)
    if callable(identifier):
        return _FunctionLoss(identifier)
    raise ValueError(
        f"Invalid value for argument `loss`: could not interpret loss identifier {identifier!r}. Pass one of "
        f"{', '.join(repr(n) for n in ACCEPTED_NAMES)}, or a rnnlab.losses.Loss instance."
    )


def serialize(loss):
    """``{"class_name": ..., "config": ...}`` for a built-in loss (inverse of :func:`get`)."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def as_logits_loss(loss):
    """The ``from_logits=True`` twin of a probability cross-entropy, or None.

    Keras's TensorFlow backend computes a probability cross-entropy from the *logits* when ``y_pred`` was made
    by a softmax (categorical/sparse) or sigmoid (binary) activation, so no clipping happens in ``fit``.  A
    trainer that wants those numbers can evaluate this twin on the pre-activation values instead.
    """
    if isinstance(loss, (BinaryCrossentropy, CategoricalCrossentropy)) and not loss.from_logits:
        return type(loss)(from_logits=True, label_smoothing=loss.label_smoothing, axis=loss.axis,
                          reduction=loss.reduction, name=loss.name)
    if isinstance(loss, SparseCategoricalCrossentropy) and not loss.from_logits:
        return SparseCategoricalCrossentropy(from_logits=True, ignore_class=loss.ignore_class,
                                             reduction=loss.reduction, axis=loss._axis, name=loss.name)
    return None


# ---------------------------------------------------------------------------------------------------------
# more Keras losses: the math (values and backward) is in rnnlab.losses_extra; the classes, Keras's lower-case
# functions and their names are here
# ---------------------------------------------------------------------------------------------------------

from rnnlab import losses_extra as _extra  # noqa: E402  (below the base class it does not need)


def _number(value, argument, owner):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Argument `{argument}` of {owner} must be a number; received {argument}={value!r}.")
    return value


def _flag(value, argument, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Argument `{argument}` of {owner} must be a bool; received {argument}={value!r}.")
    return bool(value)


class _TermLoss(Loss):
    """A loss whose per-sample values come from one function of :mod:`rnnlab.losses_extra` (``_term``), called
    with ``y_true`` and ``y_pred`` aligned as Keras's ``LossFunctionWrapper`` aligns them and the keyword
    arguments :meth:`_term_arguments` gives."""

    _term = None

    def _term_arguments(self):
        return {}

    def _values(self, y_true, y_pred, need_grad):
        yt, yp = self._prepare_pair(y_true, y_pred)
        return type(self)._term(yt, yp, **self._term_arguments())


class Hinge(_TermLoss):
    """``mean(maximum(1 - t * y_pred, 0), axis=-1)``; targets in {0, 1} are first mapped to -1/+1."""

    default_name = "hinge"
    _term = _extra.hinge

    def __init__(self, reduction="sum_over_batch_size", name="hinge"):
        super().__init__(name=name, reduction=reduction)


class SquaredHinge(_TermLoss):
    """``mean(square(maximum(1 - t * y_pred, 0)), axis=-1)``; targets in {0, 1} are first mapped to -1/+1."""

    default_name = "squared_hinge"
    _term = _extra.squared_hinge

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge"):
        super().__init__(name=name, reduction=reduction)


class CategoricalHinge(_TermLoss):
    """``maximum(max((1 - t) * y_pred, -1) - sum(t * y_pred, -1) + 1, 0)`` for one-hot targets ``t``."""

    default_name = "categorical_hinge"
    _term = _extra.categorical_hinge

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge"):
        super().__init__(name=name, reduction=reduction)


class CosineSimilarity(_TermLoss):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: -1 for aligned vectors, 0 for orthogonal
    ones.  As in Keras 3.15 its config holds ``name`` and ``reduction`` only (``axis`` is not written)."""

    default_name = "cosine_similarity"
    _term = _extra.cosine_similarity

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"):
        super().__init__(name=name, reduction=reduction)
        self.axis = axis

    def _term_arguments(self):
        return {"axis": self.axis}


class BinaryFocalCrossentropy(_TermLoss):
    """Binary cross-entropy scaled by ``(1 - p_t) ** gamma`` (and, with ``apply_class_balancing``, by ``alpha``
    for positives and ``1 - alpha`` for negatives), averaged over ``axis``; see
    :func:`rnnlab.losses_extra.binary_focal_crossentropy`."""

    default_name = "binary_focal_crossentropy"
    _term = _extra.binary_focal_crossentropy

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        owner = type(self).__name__
        self.apply_class_balancing = _flag(apply_class_balancing, "apply_class_balancing", owner)
        self.alpha = _number(alpha, "alpha", owner)
        self.gamma = _number(gamma, "gamma", owner)
        self.from_logits = _flag(from_logits, "from_logits", owner)
        self.label_smoothing = _number(label_smoothing, "label_smoothing", owner)
        self.axis = axis

    def _term_arguments(self):
        return {"apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha, "gamma": self.gamma,
                "from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "apply_class_balancing": self.apply_class_balancing, "alpha": self.alpha,
                "gamma": self.gamma}


class CategoricalFocalCrossentropy(_TermLoss):
    """Categorical cross-entropy of each class scaled by ``alpha * (1 - p) ** gamma``, summed over ``axis``; see
    :func:`rnnlab.losses_extra.categorical_focal_crossentropy`."""

    default_name = "categorical_focal_crossentropy"
    _term = _extra.categorical_focal_crossentropy

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy"):
        super().__init__(name=name, reduction=reduction)
        owner = type(self).__name__
        self.alpha = _number(alpha, "alpha", owner)
        self.gamma = _number(gamma, "gamma", owner)
        self.from_logits = _flag(from_logits, "from_logits", owner)
        self.label_smoothing = _number(label_smoothing, "label_smoothing", owner)
        self.axis = axis

    def _term_arguments(self):
        return {"alpha": self.alpha, "gamma": self.gamma, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis, "alpha": self.alpha, "gamma": self.gamma}


class Dice(_TermLoss):
    """``1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + 1e-7)`` over ``axis`` (None, the default:
    over everything, one value for the batch)."""

    default_name = "dice"
    _term = _extra.dice

    def __init__(self, reduction="sum_over_batch_size", name="dice", axis=None):
        super().__init__(name=name, reduction=reduction)
        self.axis = axis

    def _term_arguments(self):
        return {"axis": self.axis}

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Tversky(_TermLoss):
    """``1 - tp / (tp + alpha fp + beta fn + 1e-7)`` over ``axis`` (None: over everything); ``alpha = beta =
    0.5`` is the Dice loss."""

    default_name = "tversky"
    _term = _extra.tversky

    def __init__(self, alpha=0.5, beta=0.5, reduction="sum_over_batch_size", name="tversky", axis=None):
        super().__init__(name=name, reduction=reduction)
        self.alpha = _number(alpha, "alpha", type(self).__name__)
        self.beta = _number(beta, "beta", type(self).__name__)
        self.axis = axis

    def _term_arguments(self):
        return {"alpha": self.alpha, "beta": self.beta, "axis": self.axis}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "axis": self.axis}


def _per_sample(loss, y_true, y_pred):
    """The unreduced values of ``loss`` (no weights, no mask), in the working dtype: Keras's loss functions."""
    yp = _as_array(y_pred)
    dtype = _work_dtype(yp)
    return np.asarray(loss._values(y_true, yp.astype(dtype, copy=False), False)[0], dtype=dtype)


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)`` per sample (Keras's ``keras.losses.mean_squared_error``)."""
    return _per_sample(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)`` per sample."""
    return _per_sample(MeanAbsoluteError(), y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), 1e-7)), axis=-1)`` per sample."""
    return _per_sample(MeanAbsolutePercentageError(), y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(y_pred + 1) - log(y_true + 1)), axis=-1)`` per sample (arguments raised to 1e-7)."""
    return _per_sample(MeanSquaredLogarithmicError(), y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """The Huber loss per sample, as :class:`Huber`."""
    return _per_sample(Huber(delta=delta), y_true, y_pred)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)`` per sample."""
    return _per_sample(LogCosh(), y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` per sample, both clipped to ``[1e-7, 1]``."""
    return _per_sample(KLDivergence(), y_true, y_pred)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`` per sample."""
    return _per_sample(Poisson(), y_true, y_pred)


def hinge(y_true, y_pred):
    """The hinge loss per sample, as :class:`Hinge`."""
    return _per_sample(Hinge(), y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """The squared hinge loss per sample, as :class:`SquaredHinge`."""
    return _per_sample(SquaredHinge(), y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """The categorical hinge loss per sample, as :class:`CategoricalHinge`."""
    return _per_sample(CategoricalHinge(), y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` per sample."""
    return _per_sample(CosineSimilarity(axis=axis), y_true, y_pred)


def _no_extra_axis(axis, owner):
    """The built-in cross-entropies take the class axis last; another ``axis`` is refused by name."""
    if axis != -1:
        raise ValueError(f"Argument `axis` of {owner} must be -1 (the classes on the last axis); received "
                         f"axis={axis!r}.")


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy per sample (the mean over the last axis), as :class:`BinaryCrossentropy`."""
    _no_extra_axis(axis, "binary_crossentropy")
    return _per_sample(BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing), y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Categorical cross-entropy per sample, as :class:`CategoricalCrossentropy`."""
    _no_extra_axis(axis, "categorical_crossentropy")
    return _per_sample(CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing),
                       y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy per sample for integer class ids, as :class:`SparseCategoricalCrossentropy`."""
    _no_extra_axis(axis, "sparse_categorical_crossentropy")
    if ignore_class is not None:
        raise ValueError("Argument `ignore_class` of sparse_categorical_crossentropy is not supported by this "
                         f"function; use SparseCategoricalCrossentropy; received ignore_class={ignore_class!r}.")
    return _per_sample(SparseCategoricalCrossentropy(from_logits=from_logits), y_true, y_pred)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary focal cross-entropy per sample, as :class:`BinaryFocalCrossentropy`."""
    return _per_sample(BinaryFocalCrossentropy(apply_class_balancing, alpha, gamma, from_logits, label_smoothing,
                                               axis), y_true, y_pred)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """Categorical focal cross-entropy per sample, as :class:`CategoricalFocalCrossentropy`."""
    return _per_sample(CategoricalFocalCrossentropy(alpha, gamma, from_logits, label_smoothing, axis),
                       y_true, y_pred)


def dice(y_true, y_pred, axis=None):
    """The Dice loss over ``axis`` (None: one value), as :class:`Dice`."""
    return _per_sample(Dice(axis=axis), y_true, y_pred)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """The Tversky loss over ``axis`` (None: one value), as :class:`Tversky`."""
    return _per_sample(Tversky(alpha=alpha, beta=beta, axis=axis), y_true, y_pred)


#: Keras's loss functions, each with the class that trains with it: ``compile(loss=rnnlab.losses.hinge)`` gets
#: the class (named by the function), so it has a gradient
FUNCTION_CLASSES = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError, huber: Huber, log_cosh: LogCosh,
    kl_divergence: KLDivergence, poisson: Poisson, hinge: Hinge, squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge, cosine_similarity: CosineSimilarity,
    binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    binary_focal_crossentropy: BinaryFocalCrossentropy, categorical_focal_crossentropy: CategoricalFocalCrossentropy,
    dice: Dice, tversky: Tversky,
}
_FUNCTIONS_BY_NAME = {fn.__name__: fn for fn in FUNCTION_CLASSES}
_NEW_CLASSES = (Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity, BinaryFocalCrossentropy,
                CategoricalFocalCrossentropy, Dice, Tversky)
_ALIASES.update({cls.default_name: cls for cls in _NEW_CLASSES})
_CLASS_NAMES.update({cls.__name__: cls for cls in _NEW_CLASSES})
ACCEPTED_NAMES += tuple(cls.default_name for cls in _NEW_CLASSES)
__all__ += [cls.__name__ for cls in _NEW_CLASSES] + [fn.__name__ for fn in FUNCTION_CLASSES] + ["deserialize"]


def deserialize(config, custom_objects=None):
    """Keras's ``keras.losses.deserialize``: a ``{"class_name", "config"}`` dict gives a loss object; a name
    gives the built-in function (``"hinge"``) or class (``"Hinge"``) it names.  Only built-in losses and the
    objects in ``custom_objects`` (or a custom object scope, or registered) are found: nothing is imported."""
    from rnnlab.engine.serialization import get_registered_object

    if isinstance(config, str):
        found = get_registered_object(config, custom_objects) or _FUNCTIONS_BY_NAME.get(config) or \
            _CLASS_NAMES.get(config)
        if found is None:
            raise ValueError(f"Unknown loss {config!r}: expected one of {sorted(_FUNCTIONS_BY_NAME)}, a loss "
                             "class name, or an object passed in custom_objects.")
        return found
    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        if config["class_name"] == "function" and isinstance(config.get("config"), str):
            return deserialize(config["config"], custom_objects)
        cls = get_registered_object(config.get("registered_name") or config["class_name"], custom_objects) or \
            _CLASS_NAMES.get(config["class_name"])
        if cls is None:
            raise ValueError(f"Unknown loss class {config['class_name']!r}; rnnlab knows {sorted(_CLASS_NAMES)} "
                             "(pass your own class in custom_objects).")
        return cls.from_config(dict(config.get("config") or {}))
    raise TypeError(f"Argument `config` must be a loss config dict or a name; received {config!r}.")
