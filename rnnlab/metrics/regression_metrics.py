"""Keras 3's correlation and goodness-of-fit metrics: ``R2Score``, ``PearsonCorrelation`` and
``ConcordanceCorrelation`` (with their per-sample functions ``pearson_correlation`` and
``concordance_correlation``)."""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab.losses import same_rank
from rnnlab.metrics.mean_metrics import Metric, MeanMetricWrapper, _array

__all__ = ["R2Score", "PearsonCorrelation", "ConcordanceCorrelation", "pearson_correlation",
           "concordance_correlation"]

_EPSILON = 1e-7


def _pair(y_true, y_pred):
    y_pred = _array(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    return same_rank(_array(y_true).astype(y_pred.dtype, copy=False), y_pred)


def pearson_correlation(y_true, y_pred, axis=-1):
    """The Pearson correlation of ``y_true`` and ``y_pred`` along ``axis`` (means and population standard
    deviations along it), per sample."""
    y_true, y_pred = _pair(y_true, y_pred)
    t = y_true - np.mean(y_true, axis=axis, keepdims=True)
    p = y_pred - np.mean(y_pred, axis=axis, keepdims=True)
    t = t / np.std(t, axis=axis, keepdims=True)
    p = p / np.std(p, axis=axis, keepdims=True)
    return np.mean(t * p, axis=axis)


def concordance_correlation(y_true, y_pred, axis=-1):
    """Keras 3.15's concordance correlation along ``axis``, per sample: ``mean(2 (y_true - mean_p)(y_pred -
    mean_p) / (var_t + var_p + (mean_t - mean_p)**2 + 1e-7))``.  (The first factor centres ``y_true`` on the
    mean of ``y_pred``, as Keras's code does.)"""
    y_true, y_pred = _pair(y_true, y_pred)
    mean_t = np.mean(y_true, axis=axis, keepdims=True)
    mean_p = np.mean(y_pred, axis=axis, keepdims=True)
    var_t = np.var(y_true - mean_t, axis=axis, keepdims=True)
    var_p = np.var(y_pred - mean_p, axis=axis, keepdims=True)
    covariance = (y_true - mean_p) * (y_pred - mean_p)
    norm = var_t + var_p + np.square(mean_t - mean_p)
    return np.mean(2 * covariance / (norm + y_pred.dtype.type(_EPSILON)), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """The running mean of :func:`pearson_correlation` along ``axis``."""

    _direction = "up"

    def __init__(self, name="pearson_correlation", dtype=None, axis=-1):
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    """The running mean of :func:`concordance_correlation` along ``axis``."""

    _direction = "up"

    def __init__(self, name="concordance_correlation", dtype=None, axis=-1):
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output column of ``(batch, outputs)`` data,
    from weighted running sums; ``class_aggregation``: ``"uniform_average"`` (the mean over the columns),
    ``"variance_weighted_average"`` (weighted by each column's ``SS_tot``) or None (one score per column, an
    array).  ``num_regressors`` p > 0 gives the adjusted score ``1 - (1 - R2)(n - 1) / (n - p - 1)``, n the
    number of entries seen (Keras falls back to plain R2, with a warning, when ``p >= n - 1``)."""

    _direction = "up"

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(f"Invalid value for argument `class_aggregation`. Expected one of {_AGGREGATIONS}. "
                             f"Received: class_aggregation={class_aggregation!r}")
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, (int, np.integer)) \
                or num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected an integer >= 0. "
                             f"Received: num_regressors={num_regressors!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = int(num_regressors)
        self._sums = None
        self.num_samples = 0

    def reset_state(self):
        """Zero the sums (kept at their size once built, as Keras's variables: the result is then NaN)."""
        for array in (self._sums or {}).values():
            array[...] = 0
        self.num_samples = 0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _pair(y_true, y_pred)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). Received input shapes: "
                             f"y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        weights = np.ones(()) if sample_weight is None else _array(sample_weight).astype(np.float64)
        if weights.ndim == 1:
            weights = weights[:, None]
        try:
            weights = np.broadcast_to(weights, y_true.shape)
        except ValueError:
            raise ValueError(f"R2Score: `sample_weight` of shape {tuple(np.shape(sample_weight))} does not broadcast "
                             f"to y_true's shape {y_true.shape}.") from None
        y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
        if self._sums is None:
            self._sums = {k: np.zeros(y_pred.shape[-1]) for k in ("sum", "squared_sum", "residual", "count")}
        weighted = y_true * weights
        self._sums["sum"] += weighted.sum(axis=0)
        self._sums["squared_sum"] += (y_true * weighted).sum(axis=0)
        self._sums["residual"] += (np.square(y_true - y_pred) * weights).sum(axis=0)
        self._sums["count"] += weights.sum(axis=0)
        self.num_samples += y_true.size

    def result(self):
        if self._sums is None:
            return 0.0
        s = self._sums
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = s["sum"] / s["count"]
            total = s["squared_sum"] - s["sum"] * mean
            raw = 1 - s["residual"] / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = np.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = np.sum(total * raw) / np.sum(total)
        else:
            score = raw
        p, n = self.num_regressors, self.num_samples
        if p:
            if p >= n - 1:
                warnings.warn("More independent predictors than datapoints in adjusted R2 score. Falling back to "
                              "standard R2 score." if p > n - 1 else "Division by zero in Adjusted R2 score. "
                              "Falling back to standard R2 score.", stacklevel=2)
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return float(score) if np.ndim(score) == 0 else np.asarray(score, dtype=self.dtype)

    def get_config(self):
        return {**super().get_config(), "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}
