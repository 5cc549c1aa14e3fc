"""F-scores, as Keras 3: ``FBetaScore`` and ``F1Score`` (its ``beta=1`` case), for ``(batch, classes)`` data."""
from __future__ import annotations

import numpy as np

from rnnlab.metrics.mean_metrics import Metric, _array

__all__ = ["FBetaScore", "F1Score"]

_EPSILON = 1e-7
_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """``(1 + beta**2) * precision * recall / (beta**2 * precision + recall)``, from weighted counts per class.

    A prediction is positive where ``y_pred > threshold``, or, with ``threshold=None``, where it is its row's
    maximum (and not 0).  ``average``: ``None`` gives one score per class (an array), ``"micro"`` one score from
    the counts of all classes together, ``"macro"`` the mean of the class scores, ``"weighted"`` their mean
    weighted by each class's number of (weighted) positive targets.  Each ratio's denominator gets ``+ 1e-7``,
    as in Keras.  ``sample_weight``: one weight per sample, ``(batch,)``.
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not (average is None or (isinstance(average, str) and average in _AVERAGES)):
            raise ValueError("Argument `average` must be one of None, 'micro', 'macro', 'weighted'; received "
                             f"average={average!r}.")
        if not isinstance(beta, float):  # Keras insists on a Python float
            raise ValueError(f"Argument `beta` must be a Python float > 0; received beta={beta!r} of type "
                             f"{type(beta).__name__}.")
        if not beta > 0:
            raise ValueError(f"Argument `beta` must be a Python float > 0; received beta={beta!r}.")
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(f"Argument `threshold` must be None or a Python float in (0, 1]; received "
                                 f"threshold={threshold!r} of type {type(threshold).__name__}.")
            if not 0.0 < threshold <= 1.0:
                raise ValueError(f"Argument `threshold` must be None or a Python float in (0, 1]; received "
                                 f"threshold={threshold!r}.")
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self._axis = None if average == "micro" else 0
        self._counts = None

    def _check_shapes(self, y_true, y_pred):
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError("FBetaScore expects 2D inputs with shape (batch_size, output_dim); received "
                             f"y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}.")
        if self._counts is not None:
            expected = next(iter(self._counts.values())).shape
            if self._axis == 0 and y_pred.shape[-1] != expected[0]:
                raise ValueError(f"FBetaScore was built for {expected[0]} classes; received y_pred.shape="
                                 f"{y_pred.shape}.")

    def update_state(self, y_true, y_pred, sample_weight=None):
        dt = np.dtype(self.dtype).type
        y_true = _array(y_true).astype(self.dtype, copy=False)
        y_pred = _array(y_pred).astype(self.dtype, copy=False)
        self._check_shapes(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"`y_true` and `y_pred` must have the same shape; received y_true.shape={y_true.shape}, "
                             f"y_pred.shape={y_pred.shape}.")
        if self.threshold is None:
            predicted = (y_pred >= np.max(y_pred, axis=-1, keepdims=True)) & (np.abs(y_pred) > dt(1e-9))
        else:
            predicted = y_pred > dt(self.threshold)
        predicted = predicted.astype(self.dtype)
        weights = None
        if sample_weight is not None:
            weights = _array(sample_weight).astype(self.dtype, copy=False)
            if weights.shape not in ((), (y_pred.shape[0],)):
                raise ValueError(f"`sample_weight` must hold one weight per sample, shape ({y_pred.shape[0]},); "
                                 f"received shape {weights.shape}.")
            weights = weights[..., None] if weights.ndim else weights

        def weighted_sum(values):
            if weights is not None:
                values = values * weights
            return np.sum(values, axis=self._axis, dtype=np.float64)

        one = dt(1)
        batch = {"tp": weighted_sum(predicted * y_true), "fp": weighted_sum(predicted * (one - y_true)),
                 "fn": weighted_sum((one - predicted) * y_true), "positives": weighted_sum(y_true)}
        if self._counts is None:
            self._counts = {k: np.zeros(np.shape(v), dtype=self.dtype) for k, v in batch.items()}
        for key, value in batch.items():
            self._counts[key] += np.asarray(value).astype(self.dtype)

    def result(self):
        """One score per class (an array) with ``average=None``, else a float; 0.0 before any update."""
        if self._counts is None:
            return 0.0
        c = self._counts
        dt = np.dtype(self.dtype).type
        eps, beta_sq = dt(_EPSILON), dt(self.beta ** 2)
        precision = c["tp"] / (c["tp"] + c["fp"] + eps)
        recall = c["tp"] / (c["tp"] + c["fn"] + eps)
        score = precision * recall / (beta_sq * precision + recall + eps) * (dt(1) + beta_sq)
        if self.average == "weighted":
            weights = c["positives"] / (np.sum(c["positives"]) + eps)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return score

    def reset_state(self):
        if self._counts is not None:
            for array in self._counts.values():
                array[...] = 0

    def get_config(self):
        return {**super().get_config(), "average": self.average, "beta": self.beta, "threshold": self.threshold}


class F1Score(FBetaScore):
    """The harmonic mean of precision and recall: :class:`FBetaScore` with ``beta=1``."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
