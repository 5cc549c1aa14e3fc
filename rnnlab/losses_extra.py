"""The math of the Keras 3 losses beyond the classic ones: hinge losses, cosine similarity, focal cross-entropies,
Dice and Tversky.  Each function takes ``y_true`` and ``y_pred`` already aligned by :mod:`rnnlab.losses` (same
shape, ``y_pred``'s floating dtype) and returns ``(values, backward)``: the per-sample losses, and a function
mapping ``d loss / d values`` to ``d loss / d y_pred``.  The loss classes that wrap them (``Hinge``, ``Dice``...)
live in :mod:`rnnlab.losses`; this module imports nothing from rnnlab, so it sits below it.

The formulas follow Keras 3.15's ``keras.losses`` functions step by step (clipping, epsilons, the order of
operations), and where TensorFlow's gradient picks a side at a tie (``maximum``, ``minimum``, ``reduce_max``)
the backward picks the same side.
"""
from __future__ import annotations

import numpy as np

#: Keras's ``backend.epsilon()``
EPSILON = 1e-7


def _mean_last(per, d_per):
    """``(values, backward)`` of ``mean(per, axis=-1)``, where ``d_per()`` is ``d per / d y_pred``."""
    n = per.dtype.type(per.shape[-1])
    return np.mean(per, axis=-1), lambda g: np.asarray(g)[..., None] * d_per() / n


def _axis_tuple(axis, ndim, owner):
    """``axis`` (None: every axis; an int or a tuple of ints) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) else axis
    if not isinstance(axes, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise ValueError(f"Argument `axis` of {owner} must be None, an int or a tuple of ints; received "
                         f"axis={axis!r}.")
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"Argument `axis` of {owner} must name axes of y_pred (rank {ndim}); received "
                             f"axis={axis!r}.")
    return tuple(sorted({int(a) % ndim for a in axes}))


def hinge_targets(y_true):
    """Keras's ``convert_binary_labels_to_hinge``: targets all in {0, 1} become -1/+1, others stay as they are."""
    if np.all((y_true == 0) | (y_true == 1)):
        return y_true.dtype.type(2) * y_true - y_true.dtype.type(1)
    return y_true


def hinge(y_true, y_pred):
    """``mean(maximum(1 - t * y_pred, 0), axis=-1)`` with ``t`` the -1/+1 targets."""
    t = hinge_targets(y_true)
    margin = y_pred.dtype.type(1) - t * y_pred
    active = margin >= 0  # TensorFlow's maximum passes its gradient to the first argument at a tie
    return _mean_last(np.maximum(margin, 0), lambda: np.where(active, -t, 0).astype(y_pred.dtype))


def squared_hinge(y_true, y_pred):
    """``mean(square(maximum(1 - t * y_pred, 0)), axis=-1)`` with ``t`` the -1/+1 targets."""
    t = hinge_targets(y_true)
    clipped = np.maximum(y_pred.dtype.type(1) - t * y_pred, 0)
    return _mean_last(np.square(clipped), lambda: -2 * t * clipped)


def categorical_hinge(y_true, y_pred):
    """``maximum(neg - pos + 1, 0)`` with ``pos = sum(t * y_pred, -1)`` and ``neg = max((1 - t) * y_pred, -1)``."""
    one = y_pred.dtype.type(1)
    pos = np.sum(y_true * y_pred, axis=-1)
    others = (one - y_true) * y_pred
    neg = np.max(others, axis=-1)
    margin = neg - pos + one
    values = np.maximum(margin, 0)

    def backward(g):
        g = np.where(margin >= 0, np.asarray(g), 0)[..., None]  # (..., 1)
        at_max = others == neg[..., None]
        share = at_max / np.sum(at_max, axis=-1, keepdims=True)  # TF's reduce_max splits a tie evenly
        return g * (share * (one - y_true) - y_true)

    return values, backward


def _l2_normalize(x, axis):
    """Keras's ``normalize(x, axis)``: ``x * minimum(rsqrt(sum(x**2)), 1 / eps)``; returns the scale and where
    the rsqrt (not the cap) is in force."""
    inv_norm = 1 / np.sqrt(np.sum(np.square(x), axis=axis, keepdims=True))
    cap = x.dtype.type(1 / EPSILON)
    return np.minimum(inv_norm, cap), inv_norm <= cap


def cosine_similarity(y_true, y_pred, axis=-1):
    """``-sum(l2_normalize(t) * l2_normalize(y_pred), axis)``."""
    with np.errstate(divide="ignore"):
        scale_t, _ = _l2_normalize(y_true, axis)
        scale_p, free = _l2_normalize(y_pred, axis)
    t_unit = y_true * scale_t
    values = -np.sum(t_unit * (y_pred * scale_p), axis=axis)

    def backward(g):
        d_unit = -np.expand_dims(np.asarray(g), axis) * t_unit  # d loss / d (y_pred * scale)
        # the scale s = (sum p^2)^(-1/2) has ds/dp = -s^3 p where it is not capped
        d_scale = np.where(free, -scale_p ** 3, 0) * np.sum(d_unit * y_pred, axis=axis, keepdims=True)
        return d_unit * scale_p + d_scale * y_pred

    return values, backward


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(w * (1 - p_t)**gamma * bce, axis)`` with ``p = y_pred`` (or ``sigmoid(y_pred)``), ``p_t = t p +
    (1 - t)(1 - p)``, ``bce`` Keras's binary cross-entropy (from the logits when ``from_logits``, else from ``p``
    clipped to ``[1e-7, 1 - 1e-7]``) and ``w = t alpha + (1 - t)(1 - alpha)`` with class balancing, else 1."""
    dtype = y_pred.dtype.type
    one = dtype(1)
    t = y_true
    if label_smoothing:
        t = t * dtype(1 - label_smoothing) + dtype(0.5 * label_smoothing)
    if from_logits:
        x = y_pred
        p = _sigmoid(x)
        bce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))  # TF's sigmoid_cross_entropy_with_logits
    else:
        p = y_pred
        lo, hi = dtype(EPSILON), dtype(1 - EPSILON)
        o = np.clip(p, lo, hi)
        passes = ~((p < lo) | (p > hi))
        bce = -(t * np.log(o) + (one - t) * np.log(one - o))
    p_t = t * p + (one - t) * (one - p)
    focal = np.power(one - p_t, dtype(gamma))
    weight = t * dtype(alpha) + (one - t) * dtype(1 - alpha) if apply_class_balancing else one
    term = weight * focal * bce

    def d_term():
        # d focal / d p, with d p_t / d p = 2 t - 1 (0 when gamma is 0: the factor is the constant 1)
        d_focal = (-dtype(gamma) * np.power(one - p_t, dtype(gamma - 1)) * (2 * t - one)) if gamma else 0
        if from_logits:
            d_p = p * (one - p)  # d sigmoid / d x
            d_bce = p - t
        else:
            d_p = one
            d_bce = np.where(passes, -t / o + (one - t) / (one - o), 0)
        return weight * (d_focal * d_p * bce + focal * d_bce)

    axis = _axis_tuple(axis, term.ndim, "BinaryFocalCrossentropy")
    n = dtype(np.prod([term.shape[a] for a in axis]))
    return np.mean(term, axis=axis), lambda g: np.expand_dims(np.asarray(g), axis) * d_term() / n


def _softmax(x):
    z = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """``sum(alpha * (1 - o)**gamma * -t log(o), axis)`` with ``o`` the probabilities (``softmax(y_pred)`` when
    ``from_logits``) divided by their sum along ``axis`` and clipped to ``[1e-7, 1 - 1e-7]``; ``label_smoothing``
    s: ``t (1 - s) + s / num_classes`` (classes counted on the last axis, as Keras)."""
    dtype = y_pred.dtype.type
    one = dtype(1)
    t = y_true
    if label_smoothing:
        t = t * dtype(1 - label_smoothing) + dtype(label_smoothing) / dtype(t.shape[-1])
    axis = _axis_tuple(axis, y_pred.ndim, "CategoricalFocalCrossentropy")
    if len(axis) != 1:
        raise ValueError(f"Argument `axis` of CategoricalFocalCrossentropy must be one axis; received {axis}.")
    t, x = np.moveaxis(t, axis[0], -1), np.moveaxis(y_pred, axis[0], -1)  # classes last from here on
    p = _softmax(x) if from_logits else x
    total = np.sum(p, axis=-1, keepdims=True)
    out = p / total
    lo, hi = dtype(EPSILON), dtype(1 - EPSILON)
    o = np.clip(out, lo, hi)
    passes = ~((out < lo) | (out > hi))
    cce = -t * np.log(o)
    focal = np.power(one - o, dtype(gamma))
    values = np.sum(dtype(alpha) * focal * cce, axis=-1)

    def backward(g):
        g = np.asarray(g)[..., None]
        d_focal = -dtype(gamma) * np.power(one - o, dtype(gamma - 1)) if gamma else 0
        d_o = g * dtype(alpha) * (d_focal * cce + focal * (-t / o))
        d_out = np.where(passes, d_o, 0)
        d_p = (d_out - np.sum(d_out * out, axis=-1, keepdims=True)) / total  # through p / sum(p)
        if from_logits:
            d_p = p * (d_p - np.sum(d_p * p, axis=-1, keepdims=True))  # through the softmax
        return np.moveaxis(d_p, -1, axis[0])

    return values, backward


def _keep_dims(g, axes):
    return np.expand_dims(np.asarray(g), axes)


def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(t y_pred) / (sum(t) + sum(y_pred) + 1e-7)``, summed over ``axis`` (None: every axis, a scalar)."""
    axes = _axis_tuple(axis, y_pred.ndim, "Dice")
    intersection = np.sum(y_true * y_pred, axis=axes)
    denominator = np.sum(y_true, axis=axes) + np.sum(y_pred, axis=axes) + y_pred.dtype.type(EPSILON)
    values = 1 - 2 * intersection / denominator

    def backward(g):
        inter, den = _keep_dims(intersection, axes), _keep_dims(denominator, axes)
        return _keep_dims(g, axes) * -2 * (y_true * den - inter) / np.square(den)

    return values, backward


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - tp / (tp + alpha fp + beta fn + 1e-7)`` with Keras's ``tp = sum(t y_pred)``, ``fp = sum((1 - y_pred)
    t)``, ``fn = sum(y_pred (1 - t))`` over ``axis`` (None: every axis, a scalar)."""
    dtype = y_pred.dtype.type
    one = dtype(1)
    axes = _axis_tuple(axis, y_pred.ndim, "Tversky")
    tp = np.sum(y_true * y_pred, axis=axes)
    fp = np.sum((one - y_pred) * y_true, axis=axes)
    fn = np.sum(y_pred * (one - y_true), axis=axes)
    denominator = tp + fp * dtype(alpha) + fn * dtype(beta) + dtype(EPSILON)
    values = one - tp / denominator

    def backward(g):
        inter, den = _keep_dims(tp, axes), _keep_dims(denominator, axes)
        d_den = y_true - dtype(alpha) * y_true + dtype(beta) * (one - y_true)
        return _keep_dims(g, axes) * -(y_true * den - inter * d_den) / np.square(den)

    return values, backward
