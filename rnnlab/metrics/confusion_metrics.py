"""Metrics counted from thresholded predictions, as Keras 3: ``Precision``, ``Recall`` and ``AUC``.

Each keeps weighted counts of true/false positives/negatives per threshold (float32 arrays, as Keras's metric
variables): a prediction is positive at threshold ``t`` when ``y_pred > t``, a target is positive when it is
non-zero, and each entry counts with its sample weight (``(batch,)`` weights are spread over the last axis).

:func:`update_confusion_counts` is Keras's ``update_confusion_matrix_variables``.  When the thresholds are evenly
spaced over ``[0, 1]`` (AUC's default 200 are) Keras counts by buckets instead of comparing with every
threshold: a prediction ``p``, clipped to ``[0, 1]``, falls in bucket ``ceil(p * (n - 1)) - 1``, and the counts
are cumulative sums from the top bucket down.  Float32 rounding can put a prediction that sits exactly on a
threshold on either side, so rnnlab buckets in float32 the same way, to count exactly as Keras does.
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab.losses import same_rank
from rnnlab.metrics.mean_metrics import Metric, _array

__all__ = ["Precision", "Recall", "AUC", "update_confusion_counts", "NEG_INF"]

#: What ``top_k`` filtering gives the predictions it drops (so they fall below every threshold).
NEG_INF = -1e10
_EPSILON = 1e-7
_CONDITIONS = ("tp", "fp", "tn", "fn")


# ---------------------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------------------

def _is_number(value):
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def parse_thresholds(thresholds, default):
    """``thresholds`` (a float or a list of floats in ``[0, 1]``) as a list, ``[default]`` when None."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds]
    bad = [t for t in values if not _is_number(t) or not 0 <= t <= 1]
    if not values or bad:
        raise ValueError(
            "Argument `thresholds` must be a float or a non-empty list of floats in [0, 1]; received "
            f"thresholds={thresholds!r}" + (f" (invalid: {bad})." if bad else ".")
        )
    return [float(t) for t in values]


def is_evenly_distributed(thresholds) -> bool:
    """Keras's test for the bucketed count: at least 3 thresholds, equal to ``i / (n - 1)`` within 1e-7."""
    n = len(thresholds)
    if n < 3:
        return False
    return bool(np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=_EPSILON))


def _optional_index(value, argument, low=0):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Argument `{argument}` must be None or an integer >= {low}; received {argument}={value!r}.")
    return int(value)


# ---------------------------------------------------------------------------------------------------------
# counting
# ---------------------------------------------------------------------------------------------------------

def _filter_top_k(y_pred, k):
    """Keep the ``k`` largest entries of the last axis (the first ones on ties, as ``top_k``), set the others
    to ``NEG_INF``."""
    if k > y_pred.shape[-1]:
        raise ValueError(f"Argument `top_k` ({k}) is larger than the number of classes ({y_pred.shape[-1]}).")
    order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(y_pred.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.where(keep, y_pred, y_pred.dtype.type(NEG_INF))


def _align(y_true, y_pred, sample_weight, dtype, top_k, class_id):
    """Cast, align ranks, slice ``class_id`` and filter ``top_k`` as Keras; weights broadcast to ``y_pred``."""
    y_pred = _array(y_pred).astype(dtype, copy=False)
    y_true = _array(y_true).astype(dtype, copy=False)
    y_pred, y_true = same_rank(y_pred, y_true)
    weights = None
    if sample_weight is not None:
        weights = _array(sample_weight).astype(dtype, copy=False)[..., None]
        if weights.ndim == y_true.ndim + 1 and weights.shape[-1] == 1:
            weights = weights[..., 0]
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(
                "When `class_id` is given, y_pred must have shape (num_samples, num_classes); received "
                f"shape {y_pred.shape}."
            )
        if class_id >= y_pred.shape[-1]:
            raise ValueError(f"Argument `class_id` ({class_id}) is out of range for {y_pred.shape[-1]} classes.")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"`y_true` and `y_pred` must have the same shape (up to a trailing 1); received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )
    if weights is not None:
        try:
            weights = np.broadcast_to(weights, y_pred.shape)
        except ValueError:
            raise ValueError(
                f"`sample_weight` of shape {tuple(_array(sample_weight).shape)} does not broadcast to the "
                f"predictions of shape {tuple(y_pred.shape)}: pass one weight per sample or per entry."
            ) from None
    return y_true, y_pred, weights


def _bucketed_counts(labels, y_pred, weights, num_thresholds, with_epsilon, multi_label):
    """Keras's bucketed count: ``{"tp", "fp", "tn", "fn"}`` arrays ``(T,)`` (or ``(T, labels)``)."""
    dtype = y_pred.dtype.type
    y_pred = np.clip(y_pred, dtype(0), dtype(1))
    true_w = labels * weights
    false_w = (dtype(1) - labels) * weights
    buckets = np.ceil(y_pred * dtype(num_thresholds - 1)) - dtype(1)  # in the metric's dtype, as Keras
    if with_epsilon:
        buckets = np.maximum(buckets, dtype(0))
    buckets = buckets.astype(np.int64)
    if not multi_label:
        true_w, false_w, buckets = true_w.reshape(-1, 1), false_w.reshape(-1, 1), buckets.reshape(-1, 1)
    # segment sums per (bucket, label); a bucket of -1 (a prediction of exactly 0) counts nowhere
    counted = buckets >= 0
    label_ids = np.broadcast_to(np.arange(buckets.shape[1]), buckets.shape)
    tp_bucket = np.zeros((num_thresholds, buckets.shape[1]), dtype=np.float64)
    fp_bucket = np.zeros_like(tp_bucket)
    np.add.at(tp_bucket, (buckets[counted], label_ids[counted]), true_w[counted])
    np.add.at(fp_bucket, (buckets[counted], label_ids[counted]), false_w[counted])
    # the count at threshold i is everything in bucket i and above
    tp = np.cumsum(tp_bucket[::-1], axis=0)[::-1]
    fp = np.cumsum(fp_bucket[::-1], axis=0)[::-1]
    fn = true_w.sum(axis=0, dtype=np.float64) - tp
    tn = false_w.sum(axis=0, dtype=np.float64) - fp
    counts = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    return {k: v if multi_label else v[:, 0] for k, v in counts.items()}


def _compared_counts(labels, y_pred, weights, thresholds, multi_label):
    """The direct count: every prediction against every threshold."""
    if multi_label:
        predicted = y_pred[None] > thresholds[:, None, None]                   # (T, batch, labels)
        label_pos = np.broadcast_to(labels[None] > 0, predicted.shape)
        w = np.broadcast_to(weights[None], predicted.shape)
        axis = 1
    else:
        predicted = y_pred.reshape(1, -1) > thresholds[:, None]                 # (T, entries)
        label_pos = np.broadcast_to(labels.reshape(1, -1) > 0, predicted.shape)
        w = np.broadcast_to(weights.reshape(1, -1), predicted.shape)
        axis = 1
    w = w.astype(np.float64)
    return {"tp": np.sum(w * (label_pos & predicted), axis=axis),
            "fp": np.sum(w * (~label_pos & predicted), axis=axis),
            "tn": np.sum(w * (~label_pos & ~predicted), axis=axis),
            "fn": np.sum(w * (label_pos & ~predicted), axis=axis)}


def update_confusion_counts(counts, y_true, y_pred, thresholds, *, top_k=None, class_id=None, sample_weight=None,
                            multi_label=False, label_weights=None, evenly=False):
    """Add one batch to ``counts`` (``{"tp"|"fp"|"tn"|"fn": float array (T,) or (T, labels)}``, updated in
    place; the dtype of the arrays is the computation's).  ``thresholds`` is the list of ``T`` thresholds;
    ``evenly`` selects Keras's bucketed count; ``label_weights`` ``(labels,)`` weigh each label (not with
    ``multi_label``)."""
    dtype = next(iter(counts.values())).dtype
    y_true, y_pred, weights = _align(y_true, y_pred, sample_weight, dtype, top_k, class_id)
    if multi_label and y_pred.ndim != 2:
        raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`; received shape {y_pred.shape}.")
    if weights is None:
        weights = np.ones(y_pred.shape, dtype=dtype)
    if label_weights is not None:
        weights = weights * np.broadcast_to(label_weights, y_pred.shape).astype(dtype)
    labels = (y_true != 0).astype(dtype)
    thresholds_arr = np.asarray(thresholds, dtype=dtype)
    if evenly:
        with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
        batch = _bucketed_counts(labels, y_pred, weights, len(thresholds), with_epsilon, multi_label)
    else:
        batch = _compared_counts(labels, y_pred, weights, thresholds_arr, multi_label)
    for key, array in counts.items():
        array += batch[key].astype(dtype)


def _divide_no_nan(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, a.dtype.type(0), a / np.where(b == 0, a.dtype.type(1), b))


# ---------------------------------------------------------------------------------------------------------
# Precision and Recall
# ---------------------------------------------------------------------------------------------------------

class _ThresholdRate(Metric):
    """Precision and Recall: ``tp / (tp + other)`` per threshold (``other`` is ``fp`` or ``fn``); a float for
    one threshold, an array ``(len(thresholds),)`` for several (0 where nothing was counted)."""

    _direction = "up"
    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = _optional_index(top_k, "top_k", low=1)
        self.class_id = _optional_index(class_id, "class_id")
        self.thresholds = parse_thresholds(thresholds, default=0.5 if self.top_k is None else NEG_INF)
        self._evenly = is_evenly_distributed(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self._counts = {k: np.zeros(len(self.thresholds), dtype=self.dtype) for k in ("tp", self._other)}

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_counts(self._counts, y_true, y_pred, self.thresholds, top_k=self.top_k,
                                class_id=self.class_id, sample_weight=sample_weight, evenly=self._evenly)

    def result(self):
        tp = self._counts["tp"]
        rates = _divide_no_nan(tp, tp + self._counts[self._other])
        return float(rates[0]) if len(self.thresholds) == 1 else rates

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdRate):
    """``tp / (tp + fp)``: of the predictions above the threshold, the fraction whose target is positive.

    ``thresholds``: a float or list of floats in ``[0, 1]`` (default 0.5; with ``top_k``, every prediction in
    the top ``k`` counts as positive); ``top_k``: only the ``k`` largest predictions of each row can be positive;
    ``class_id``: count one class (the last axis's column) only.
    """

    _other = "fp"


class Recall(_ThresholdRate):
    """``tp / (tp + fn)``: of the positive targets, the fraction predicted above the threshold (arguments as
    :class:`Precision`)."""

    _other = "fn"


# ---------------------------------------------------------------------------------------------------------
# AUC
# ---------------------------------------------------------------------------------------------------------

#: the spellings Keras accepts, and what each means
_CURVES = {"ROC": "ROC", "roc": "ROC", "PR": "PR", "pr": "PR", "PRGAIN": "PRGAIN", "prgain": "PRGAIN"}
_SUMMATIONS = {s: s.lower() for s in ("interpolation", "Interpolation", "majoring", "Majoring", "minoring",
                                      "Minoring")}


def _parse_choice(value, argument, table):
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"Argument `{argument}` must be one of {sorted(set(table.values()))} (or lower/capitalised "
                         f"spellings as Keras accepts); received {argument}={value!r}.")
    return table[value]


class AUC(Metric):
    """Area under the ROC or precision-recall curve, by a Riemann sum over ``num_thresholds`` thresholds.

    Thresholds: ``num_thresholds - 2`` evenly spaced in ``(0, 1)`` plus ``-1e-7`` and ``1 + 1e-7`` (or the
    sorted ``thresholds`` given, plus the same two ends).  ``curve="ROC"`` integrates recall over the false
    positive rate, ``"PR"`` precision over recall (with ``summation_method="interpolation"`` by Davis &
    Goadrich's interpolation, as Keras), ``"PRGAIN"`` precision gain over recall gain.  Heights are the mean
    (``"interpolation"``), minimum (``"minoring"``) or maximum (``"majoring"``) of each interval's ends.

    ``multi_label=True`` keeps one curve per label (``y_pred`` of shape ``(batch, labels)``) and averages their
    areas, weighted by ``label_weights`` if given; otherwise every entry counts as one prediction and
    ``label_weights`` weigh the entries of each label.  ``from_logits=True`` applies a sigmoid first.
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        self.curve = _parse_choice(curve, "curve", _CURVES)
        self.summation_method = _parse_choice(summation_method, "summation_method", _SUMMATIONS)
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else None
            if not values or not all(_is_number(t) for t in values):
                raise ValueError(f"Argument `thresholds` must be a non-empty list of floats; received "
                                 f"thresholds={thresholds!r}.")
            inner = sorted(float(t) for t in values)
            self.num_thresholds = len(inner) + 2
            self._evenly = is_evenly_distributed(np.array([0.0] + inner + [1.0]))
        else:
            if isinstance(num_thresholds, (bool, np.bool_)) or not isinstance(num_thresholds, (int, np.integer)) \
                    or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1; received "
                                 f"num_thresholds={num_thresholds!r}.")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        self._thresholds = np.array([0.0 - _EPSILON] + inner + [1.0 + _EPSILON])
        super().__init__(name=name, dtype=dtype)
        if not isinstance(multi_label, (bool, np.bool_)):
            raise TypeError(f"Argument `multi_label` must be a bool; received multi_label={multi_label!r}.")
        self.multi_label = bool(multi_label)
        self.num_labels = _optional_index(num_labels, "num_labels", low=1)
        if self.num_labels is not None and not self.multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True; received "
                             f"num_labels={num_labels!r} with multi_label=False.")
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=self.dtype)
        if self.label_weights is not None and self.label_weights.ndim != 1:
            raise ValueError(f"Argument `label_weights` must be a 1-D list of weights, one per label; received "
                             f"shape {self.label_weights.shape}.")
        if not isinstance(from_logits, (bool, np.bool_)):
            raise TypeError(f"Argument `from_logits` must be a bool; received from_logits={from_logits!r}.")
        self._from_logits = bool(from_logits)
        self._counts = None
        if self.num_labels is not None:
            self._build(self.num_labels)

    @property
    def thresholds(self):
        """The thresholds, the two ends ``-1e-7`` and ``1 + 1e-7`` included."""
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds, num_labels) if self.multi_label else (self.num_thresholds,)
        self._counts = {k: np.zeros(shape, dtype=self.dtype) for k in _CONDITIONS}

    def reset_state(self):
        if self._counts is not None:
            for array in self._counts.values():
                array[...] = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _array(y_pred).astype(self.dtype, copy=False)
        if self._counts is None:
            if self.multi_label and y_pred.ndim != 2:
                raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`; received shape {y_pred.shape}.")
            self._build(y_pred.shape[-1] if self.multi_label else None)
        if self._from_logits:
            y_pred = (1 / (1 + np.exp(-y_pred.astype(np.float64)))).astype(self.dtype)
        update_confusion_counts(self._counts, y_true, y_pred, list(self._thresholds), sample_weight=sample_weight,
                                multi_label=self.multi_label,
                                label_weights=None if self.multi_label else self.label_weights,
                                evenly=self._evenly)

    def _average_labels(self, by_label):
        if self.label_weights is None:
            return np.mean(by_label)
        return _divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights))

    def _interpolate_pr_auc(self):
        """Davis & Goadrich's interpolated area under the precision-recall curve, as Keras computes it."""
        c = self._counts
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        n = self.num_thresholds
        dtp = tp[:n - 1] - tp[1:]
        p = tp + fp
        dp = p[:n - 1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:n - 1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:n - 1], np.maximum(p[1:], 0)), np.ones_like(p[1:]))
        with np.errstate(divide="ignore"):
            log_ratio = np.log(safe_p_ratio)
        increments = _divide_no_nan(prec_slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        if self.multi_label:
            return self._average_labels(np.sum(increments, axis=0))
        return np.sum(increments)

    def result(self):
        if self._counts is None:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(self._interpolate_pr_auc())
        c = self._counts
        tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN; where nothing is a true positive, recall gain 0 and precision gain 1 (as Keras)
            one = tp.dtype.type(1)
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = one - scale * _divide_no_nan(fn, tp)
            precision_gain = one - scale * _divide_no_nan(fp, tp)
            x = np.maximum(np.where(tp == 0, 0, recall_gain), 0).astype(tp.dtype)
            y = np.where(tp == 0, one, precision_gain).astype(tp.dtype)
        n = self.num_thresholds
        if self.summation_method == "interpolation":
            heights = (y[:n - 1] + y[1:]) / y.dtype.type(2)
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:n - 1], y[1:])
        else:
            heights = np.maximum(y[:n - 1], y[1:])
        areas = (x[:n - 1] - x[1:]) * heights
        if self.multi_label:
            return float(self._average_labels(np.sum(areas, axis=0)))
        return float(np.sum(areas))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
