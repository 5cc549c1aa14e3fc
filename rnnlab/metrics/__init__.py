"""Keras 3 metrics on NumPy, as ``keras.metrics``: ``update_state`` / ``result`` / ``reset_state``.

One family per module:

- ``mean_metrics``: the ``Metric`` base class and the running means -- ``Mean``, ``MeanMetricWrapper``, the
  errors (``MeanSquaredError``, ``MeanAbsoluteError``, ``RootMeanSquaredError``) and the accuracies (top-k ones
  included), with Keras's choice behind ``"accuracy"``;
- ``confusion_metrics``: counts at thresholds -- ``Precision``, ``Recall``, ``AUC``;
- ``f_score_metrics``: ``FBetaScore`` and ``F1Score``.

:func:`get` resolves the strings ``model.compile(metrics=[...])`` accepts, as Keras 3 does.
"""
from __future__ import annotations

from rnnlab.metrics.confusion_metrics import AUC, Precision, Recall
from rnnlab.metrics.f_score_metrics import F1Score, FBetaScore
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

#: the names :func:`get` accepts
ACCEPTED_NAMES = ("accuracy", "acc", "mse", "mean_squared_error", "mae", "mean_absolute_error",
                  "root_mean_squared_error", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                  "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "precision", "recall", "auc",
                  "f1_score", "f_beta_score")


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
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(
        f"Invalid value for argument `metrics`: could not interpret metric identifier {identifier!r}. Pass one of "
        f"{', '.join(repr(n) for n in ACCEPTED_NAMES)}, or a rnnlab.metrics.Metric instance."
    )
