"""Keras 3 metrics on NumPy, as ``keras.metrics``: ``update_state`` / ``result`` / ``reset_state``.

One family per module:

- ``mean_metrics``: the ``Metric`` base class and the running means -- ``Mean``, ``MeanMetricWrapper``, the
  errors (``MeanSquaredError``, ``MeanAbsoluteError``, ``RootMeanSquaredError``) and the accuracies (top-k ones
  included), with Keras's choice behind ``"accuracy"``;
- ``confusion_metrics``: counts at thresholds -- ``Precision``, ``Recall``, ``AUC``;
- ``f_score_metrics``: ``FBetaScore`` and ``F1Score``;
- ``loss_metrics``: ``Sum`` and the running means of Keras's loss functions (hinge losses, cross-entropies,
  ``KLDivergence``, ``Poisson``, ``LogCoshError``, ``CosineSimilarity``...);
- ``regression_metrics``: ``R2Score``, ``PearsonCorrelation``, ``ConcordanceCorrelation``;
- ``iou_metrics``: ``IoU``, ``MeanIoU``, ``BinaryIoU``, ``OneHotIoU``, ``OneHotMeanIoU`` (confusion matrices);
- ``threshold_metrics``: ``TruePositives`` and the other counts, ``PrecisionAtRecall`` and its kin.

:func:`get` resolves the strings ``model.compile(metrics=[...])`` accepts, as Keras 3 does.
"""
from __future__ import annotations

from rnnlab.metrics.confusion_metrics import AUC, Precision, Recall
from rnnlab import losses as _losses
from rnnlab.engine.serialization import get_registered_object as _get_registered_object
from rnnlab.metrics.f_score_metrics import F1Score, FBetaScore
from rnnlab.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from rnnlab.metrics.mean_metrics import _to_snake_case
from rnnlab.metrics.loss_metrics import (BinaryCrossentropy, CategoricalCrossentropy, CategoricalHinge,
                                         CosineSimilarity, Hinge, KLDivergence, LogCoshError,
                                         MeanAbsolutePercentageError, MeanSquaredLogarithmicError, Poisson,
                                         SparseCategoricalCrossentropy, SquaredHinge, Sum)
from rnnlab.metrics.regression_metrics import (ConcordanceCorrelation, PearsonCorrelation, R2Score,
                                               concordance_correlation, pearson_correlation)
from rnnlab.metrics.threshold_metrics import (FalseNegatives, FalsePositives, PrecisionAtRecall, RecallAtPrecision,
                                              SensitivityAtSpecificity, SpecificityAtSensitivity, TrueNegatives,
                                              TruePositives)
from rnnlab.metrics.mean_metrics import (Accuracy, AutoAccuracy, BinaryAccuracy, CategoricalAccuracy, Mean,
                                         MeanAbsoluteError, MeanMetricWrapper, MeanSquaredError, Metric,
                                         RootMeanSquaredError, SparseCategoricalAccuracy,
                                         SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy, accuracy,
                                         binary_accuracy, categorical_accuracy, is_binary_or_sparse_categorical,
                                         mean_absolute_error, mean_squared_error, resolve_accuracy,
                                         sparse_categorical_accuracy, sparse_top_k_categorical_accuracy,
                                         top_k_categorical_accuracy)

__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "RootMeanSquaredError",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "AutoAccuracy",
    "Precision",
    "Recall",
    "AUC",
    "FBetaScore",
    "F1Score",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "mean_squared_error",
    "mean_absolute_error",
    "is_binary_or_sparse_categorical",
    "resolve_accuracy",
    "get",
]

#: the classes added with Keras's wider metric surface, and Keras's metric functions that are loss functions
_MORE_CLASSES = (Sum, Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, LogCoshError,
                 MeanAbsolutePercentageError, MeanSquaredLogarithmicError, CosineSimilarity, BinaryCrossentropy,
                 CategoricalCrossentropy, SparseCategoricalCrossentropy, R2Score, PearsonCorrelation,
                 ConcordanceCorrelation, TruePositives, TrueNegatives, FalsePositives, FalseNegatives,
                 PrecisionAtRecall, RecallAtPrecision, SensitivityAtSpecificity, SpecificityAtSensitivity,
                 IoU, BinaryIoU, MeanIoU, OneHotIoU, OneHotMeanIoU)
binary_crossentropy = _losses.binary_crossentropy
binary_focal_crossentropy = _losses.binary_focal_crossentropy
categorical_crossentropy = _losses.categorical_crossentropy
categorical_focal_crossentropy = _losses.categorical_focal_crossentropy
sparse_categorical_crossentropy = _losses.sparse_categorical_crossentropy
hinge = _losses.hinge
squared_hinge = _losses.squared_hinge
categorical_hinge = _losses.categorical_hinge
huber = _losses.huber
kl_divergence = _losses.kl_divergence
log_cosh = _losses.log_cosh
poisson = _losses.poisson
mean_absolute_percentage_error = _losses.mean_absolute_percentage_error
mean_squared_logarithmic_error = _losses.mean_squared_logarithmic_error
_FUNCTIONS = {fn.__name__: fn for fn in (
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy, categorical_focal_crossentropy,
    sparse_categorical_crossentropy, hinge, squared_hinge, categorical_hinge, huber, kl_divergence, log_cosh, poisson,
    mean_absolute_percentage_error, mean_squared_logarithmic_error, pearson_correlation, concordance_correlation,
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy, mean_squared_error, mean_absolute_error)}
__all__ += [cls.__name__ for cls in _MORE_CLASSES] + [
    name for name in _FUNCTIONS if name not in __all__] + ["serialize", "deserialize"]

#: Keras 3's names: each class by its name and its snake_case name, plus the upper-case aliases
_BY_NAME = {
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "MeanAbsoluteError": MeanAbsoluteError,
    "Accuracy": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "BinaryAccuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "CategoricalAccuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "SparseCategoricalAccuracy": SparseCategoricalAccuracy,
    "root_mean_squared_error": RootMeanSquaredError,
    "RootMeanSquaredError": RootMeanSquaredError,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "TopKCategoricalAccuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "SparseTopKCategoricalAccuracy": SparseTopKCategoricalAccuracy,
    "precision": Precision,
    "Precision": Precision,
    "recall": Recall,
    "Recall": Recall,
    "auc": AUC,
    "AUC": AUC,
    "f1_score": F1Score,
    "F1Score": F1Score,
    "f_beta_score": FBetaScore,
    "FBetaScore": FBetaScore,
}

_BY_NAME.update({name: cls for cls in _MORE_CLASSES for name in (cls.__name__, _to_snake_case(cls.__name__))})
_BY_NAME.update({"bce": BinaryCrossentropy, "BCE": BinaryCrossentropy, "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError,
                 "msle": MeanSquaredLogarithmicError, "MSLE": MeanSquaredLogarithmicError})
#: every metric class by its name
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values()) | {Mean, MeanMetricWrapper}}

#: the names :func:`get` accepts
ACCEPTED_NAMES = ("accuracy", "acc", "mse", "mean_squared_error", "mae", "mean_absolute_error",
                  "root_mean_squared_error", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                  "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall", "auc",
                  "f1_score", "f_beta_score") + tuple(
    sorted({n for n in _BY_NAME if n[0].islower()} - {"precision", "recall", "auc", "f1_score", "f_beta_score"}))


def get(identifier, loss=None, output_shape=None, y_true_shape=None):
    """Resolve one entry of ``compile(metrics=[...])`` the way Keras 3's ``get_metric`` does.

    * ``"accuracy"`` / ``"acc"`` (any case): Keras 3 chooses from the shapes of the targets and outputs (see
      :func:`resolve_accuracy`).  With both ``output_shape`` and ``y_true_shape`` given (or an output whose
      last dimension is 1) the concrete metric is returned now; otherwise an :class:`AutoAccuracy` that decides
      on its first ``update_state``.  Either way it is named by the string given, so logs show ``"accuracy"``
      (or ``"acc"``) whichever class computes it.  ``loss`` is accepted for convenience but, as in Keras 3,
      does not influence the choice (a ``binary_crossentropy`` model with a 3-unit output gets
      ``CategoricalAccuracy``).
    * other strings (``"mse"``, ``"mae"``, ``"binary_accuracy"``, ``"auc"``, ``"precision"``, ``"AUC"``...: Keras's
      class names and their snake_case forms) give a fresh default-configured metric named by the string.
    * a :class:`Metric` instance is returned as is (its own name); a :class:`Metric` subclass is instantiated;
      a callable ``fn(y_true, y_pred) -> per-sample values`` is wrapped in :class:`MeanMetricWrapper`.

    Unknown names raise ``ValueError`` naming the ``metrics`` argument.
    """
    del loss  # Keras 3 decides "accuracy" from shapes alone
    if identifier is None:
        raise ValueError("Invalid value for argument `metrics`: expected a metric, received None.")
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if output_shape is not None and tuple(output_shape) and tuple(output_shape)[-1] == 1:
                return BinaryAccuracy(name=identifier)
            if output_shape is not None and y_true_shape is not None:
                return resolve_accuracy(y_true_shape, output_shape, name=identifier)
            return AutoAccuracy(name=identifier)
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(
                f"Invalid value for argument `metrics`: unknown metric {identifier!r}. Accepted names: "
                f"{', '.join(repr(n) for n in ACCEPTED_NAMES)}, or a rnnlab.metrics.Metric instance."
            )
        return cls(name=identifier)
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str):
        return deserialize(identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(
        f"Invalid value for argument `metrics`: could not interpret metric identifier {identifier!r}. Pass one of "
        f"{', '.join(repr(n) for n in ACCEPTED_NAMES)}, or a rnnlab.metrics.Metric instance."
    )


def serialize(metric):
    """Keras's ``keras.metrics.serialize``: ``{"module", "class_name", "config", "registered_name"}`` for a metric
    object; a built-in metric function is written by name (``"class_name": "function"``)."""
    from rnnlab.object_configs import serialize_object

    if not isinstance(metric, Metric) and callable(metric):
        name = getattr(metric, "__name__", None)
        if _FUNCTIONS.get(name) is not metric:
            raise TypeError(f"Cannot serialize the metric function {metric!r}: only rnnlab's built-in metric "
                            "functions are written by name. Subclass rnnlab.metrics.Metric to save your own.")
        return {"module": "builtins", "class_name": "function", "config": name, "registered_name": "function"}
    return serialize_object(metric, _CLASSES, "keras.metrics", "metric")


def deserialize(config, custom_objects=None):
    """Keras's ``keras.metrics.deserialize``: a metric config dict gives a metric object, a name the built-in
    class or function it names.  Nothing is imported: only rnnlab's metrics and the objects in
    ``custom_objects`` (or a custom object scope, or registered) are found."""
    from rnnlab.object_configs import deserialize_object

    if isinstance(config, str):
        found = _get_registered_object(config, custom_objects) or _CLASSES.get(config) or _FUNCTIONS.get(config)
        if found is None:
            raise ValueError(f"Unknown metric {config!r}: expected a metric class or function name of "
                             "rnnlab.metrics, or an object passed in custom_objects.")
        return found
    if isinstance(config, dict) and config.get("class_name") == "function":
        return deserialize(config.get("config"), custom_objects)
    if isinstance(config, dict):
        scoped = _get_registered_object(config.get("registered_name") or config.get("class_name"), custom_objects)
        custom = {config["class_name"]: scoped} if scoped is not None and isinstance(config.get("class_name"), str) \
            else None
        return deserialize_object(config, _CLASSES, "metric", custom)
    raise TypeError(f"Argument `config` must be a metric config dict or a name; received {config!r}.")
