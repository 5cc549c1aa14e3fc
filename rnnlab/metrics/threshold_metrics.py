"""Keras 3 metrics read from confusion counts at thresholds: the counts themselves (``TruePositives``,
``TrueNegatives``, ``FalsePositives``, ``FalseNegatives``) and the best value of one rate under a constraint on
another (``PrecisionAtRecall``, ``RecallAtPrecision``, ``SensitivityAtSpecificity``,
``SpecificityAtSensitivity``).  The counting is :func:`rnnlab.metrics.confusion_metrics.update_confusion_counts`,
Keras's ``update_confusion_matrix_variables``."""
from __future__ import annotations

import numbers

import numpy as np

from rnnlab.metrics.confusion_metrics import (_divide_no_nan, _optional_index, is_evenly_distributed,
                                              parse_thresholds, update_confusion_counts)
from rnnlab.metrics.mean_metrics import Metric

__all__ = ["TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives", "PrecisionAtRecall",
           "RecallAtPrecision", "SensitivityAtSpecificity", "SpecificityAtSensitivity"]


class _ConditionCount(Metric):
    """The weighted count of one condition (``_condition``: ``"tp"``, ``"tn"``, ``"fp"`` or ``"fn"``) at each
    threshold (default 0.5): a float for one threshold, an array for several."""

    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, default=0.5)
        self._evenly = is_evenly_distributed(self.thresholds)
        self.reset_state()

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds), dtype=self.dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_counts({self._condition: self.accumulator}, y_true, y_pred, self.thresholds,
                                sample_weight=sample_weight, evenly=self._evenly)

    def result(self):
        return float(self.accumulator[0]) if len(self.thresholds) == 1 else self.accumulator.copy()

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConditionCount):
    """The weighted number of positive targets predicted above the threshold."""

    _condition = "tp"


class TrueNegatives(_ConditionCount):
    """The weighted number of negative targets predicted at or below the threshold."""

    _condition = "tn"


class FalsePositives(_ConditionCount):
    """The weighted number of negative targets predicted above the threshold."""

    _condition = "fp"


class FalseNegatives(_ConditionCount):
    """The weighted number of positive targets predicted at or below the threshold."""

    _condition = "fn"


def _rates(counts):
    """``{"recall"/"sensitivity", "precision", "specificity"}`` per threshold from the four counts."""
    tp, fp, tn, fn = (counts[k] for k in ("tp", "fp", "tn", "fn"))
    recall = _divide_no_nan(tp, tp + fn)
    return {"recall": recall, "sensitivity": recall, "precision": _divide_no_nan(tp, tp + fp),
            "specificity": _divide_no_nan(tn, tn + fp)}


class _RateAtRate(Metric):
    """The largest ``_reported`` rate over the thresholds where the ``_constrained`` rate is at least the value
    given (0 where none is).  ``num_thresholds`` thresholds evenly spaced over ``[0, 1]`` (one: 0.5)."""

    _direction = "up"
    _constrained = None  # the argument's name too (recall, precision, specificity, sensitivity)
    _reported = None

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        argument = self._constrained
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"Argument `{argument}` must be in the range [0, 1]. Received: {argument}={value!r}")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) \
                or num_thresholds <= 0:
            raise ValueError(f"Argument `num_thresholds` must be an integer > 0. Received: "
                             f"num_thresholds={num_thresholds!r}")
        super().__init__(name=name, dtype=dtype)
        self.value = value
        setattr(self, argument, value)
        self.num_thresholds = int(num_thresholds)
        self.class_id = _optional_index(class_id, "class_id")
        if self.num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0] + inner + [1.0], True
        self.reset_state()

    def reset_state(self):
        self._counts = {k: np.zeros(len(self.thresholds), dtype=self.dtype) for k in ("tp", "fp", "tn", "fn")}

    def update_state(self, y_true, y_pred, sample_weight=None):
        update_confusion_counts(self._counts, y_true, y_pred, self.thresholds, class_id=self.class_id,
                                sample_weight=sample_weight, evenly=self._evenly)

    def result(self):
        rates = _rates(self._counts)
        feasible = rates[self._constrained] >= self.value
        return float(np.max(np.where(feasible, rates[self._reported], 0), initial=0))

    def get_config(self):
        return {**super().get_config(), "class_id": self.class_id, "num_thresholds": self.num_thresholds,
                self._constrained: self.value}


class PrecisionAtRecall(_RateAtRate):
    """The best precision at a recall of at least ``recall``."""

    _constrained, _reported = "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_RateAtRate):
    """The best recall at a precision of at least ``precision``."""

    _constrained, _reported = "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


class SensitivityAtSpecificity(_RateAtRate):
    """The best sensitivity (recall) at a specificity of at least ``specificity``."""

    _constrained, _reported = "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_RateAtRate):
    """The best specificity at a sensitivity (recall) of at least ``sensitivity``."""

    _constrained, _reported = "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)
