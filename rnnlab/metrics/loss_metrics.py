"""Keras 3 metrics that are running means of a loss function, and ``Sum``: the hinge losses, the cross-entropies,
``KLDivergence``, ``Poisson``, ``LogCoshError``, ``MeanAbsolutePercentageError``, ``MeanSquaredLogarithmicError``
and ``CosineSimilarity``.  Each averages the per-sample values of the function of :mod:`rnnlab.losses` that
Keras uses (``keras.metrics.hinge is keras.losses.hinge``), weighted as :class:`Mean` weighs them."""
from __future__ import annotations

import numpy as np

from rnnlab import losses
from rnnlab.metrics.mean_metrics import Metric, MeanMetricWrapper, samplewise_values

__all__ = ["Sum", "Hinge", "SquaredHinge", "CategoricalHinge", "KLDivergence", "Poisson", "LogCoshError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "CosineSimilarity", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "cosine_similarity"]


class Sum(Metric):
    """The running (weighted) sum of the values passed to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        values, _ = samplewise_values(values, sample_weight, np.sum, self)
        self.total += float(np.sum(values))

    def result(self):
        return float(self.total)


class _LossMean(MeanMetricWrapper):
    """The running mean of one of Keras's loss functions (``_fn``), with ``name`` and ``dtype`` as its config."""

    _fn = None
    _direction = "down"

    def __init__(self, name=None, dtype=None, **kwargs):
        super().__init__(type(self)._fn, name=name, dtype=dtype, **kwargs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _simple(class_name, fn, default_name, direction="down"):
    """A :class:`_LossMean` subclass whose only arguments are ``name`` and ``dtype``."""

    def __init__(self, name=default_name, dtype=None):
        _LossMean.__init__(self, name=name, dtype=dtype)

    doc = f"The running mean of :func:`rnnlab.losses.{fn.__name__}` per sample (Keras's ``{class_name}``)."
    return type(class_name, (_LossMean,), {"_fn": staticmethod(fn), "_direction": direction, "__init__": __init__,
                                           "__doc__": doc, "__module__": __name__})


Hinge = _simple("Hinge", losses.hinge, "hinge")
SquaredHinge = _simple("SquaredHinge", losses.squared_hinge, "squared_hinge")
CategoricalHinge = _simple("CategoricalHinge", losses.categorical_hinge, "categorical_hinge")
KLDivergence = _simple("KLDivergence", losses.kl_divergence, "kl_divergence", direction=None)
Poisson = _simple("Poisson", losses.poisson, "poisson", direction=None)
LogCoshError = _simple("LogCoshError", losses.log_cosh, "logcosh")
MeanAbsolutePercentageError = _simple("MeanAbsolutePercentageError", losses.mean_absolute_percentage_error,
                                      "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _simple("MeanSquaredLogarithmicError", losses.mean_squared_logarithmic_error,
                                      "mean_squared_logarithmic_error")


def cosine_similarity(y_true, y_pred, axis=-1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)``: the metric's sign (the loss is its negative)."""
    return -losses.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """The running mean of the cosine similarity along ``axis`` (1 for aligned vectors).  As in Keras 3.15, its
    config holds ``name`` and ``dtype`` only."""

    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryCrossentropy(MeanMetricWrapper):
    """The running mean of :func:`rnnlab.losses.binary_crossentropy`."""

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(losses.binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing = from_logits, label_smoothing

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of :func:`rnnlab.losses.categorical_crossentropy` (classes on the last axis)."""

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        losses._no_extra_axis(axis, type(self).__name__)
        super().__init__(losses.categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The running mean of :func:`rnnlab.losses.sparse_categorical_crossentropy` (classes on the last axis)."""

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        losses._no_extra_axis(axis, type(self).__name__)
        if ignore_class is not None:
            raise ValueError("Argument `ignore_class` of the SparseCategoricalCrossentropy metric is not supported "
                             f"by rnnlab; received ignore_class={ignore_class!r}.")
        super().__init__(losses.sparse_categorical_crossentropy, name=name, dtype=dtype, from_logits=from_logits)
        self.from_logits, self.ignore_class, self.axis = from_logits, ignore_class, axis

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "from_logits": self.from_logits,
                "ignore_class": self.ignore_class, "axis": self.axis}
