"""Keras 3 stateful metrics on NumPy: ``update_state`` / ``result`` / ``reset_state``; the base class and the
metrics that are running means (errors and accuracies, top-k ones included).

Every metric here is a weighted running mean, as in Keras (``RootMeanSquaredError`` reports its square root): ``total`` accumulates per-sample values times
their weights, ``count`` the weights, and ``result()`` is ``total / count`` (0.0 before any update).  The
per-batch reduction follows Keras's ``reduce_to_samplewise_values``:

* with no ``sample_weight`` the values are averaged over every axis but the first and each sample counts 1;
* with a ``sample_weight`` of rank ``r`` the values are first averaged over the axes beyond ``r``, multiplied
  by the (broadcast) weights, then averaged per sample; the weights are averaged per sample the same way and
  summed into ``count``.  So a ``(B,)`` weight works for sequence metrics of shape ``(B, T)``.
* a Keras mask carried by ``y_pred`` (``y_pred._keras_mask``) multiplies the sample weights (masked
  entries get weight 0), as Keras's ``MeanMetricWrapper`` does.

``"accuracy"`` and ``"acc"`` in ``compile(metrics=[...])`` become Binary/Sparse-categorical/Categorical accuracy
exactly as Keras 3 decides it (from the shapes of ``y_true`` and ``y_pred``, see :func:`resolve_accuracy`), named
by the string given.
"""
from __future__ import annotations

import re

import numpy as np

from rnnlab.losses import same_rank

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
]


def _array(x):
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    arr = np.asarray(x)
    return arr.view(np.ndarray) if type(arr) is not np.ndarray else arr


def _to_snake_case(name):
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


# ---------------------------------------------------------------------------------------------------------
# stateless per-sample functions (Keras's metric functions)
# ---------------------------------------------------------------------------------------------------------

def _float_pair(y_true, y_pred):
    y_pred = _array(y_pred)
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float32)
    y_true = _array(y_true).astype(y_pred.dtype, copy=False)
    return same_rank(y_true, y_pred)


def _check_shapes(fn_name, y_true, y_pred, yt, yp):
    if yt.shape != yp.shape:
        try:
            np.broadcast_shapes(yt.shape, yp.shape)
        except ValueError:
            raise ValueError(
                f"{fn_name}: `y_true` and `y_pred` have incompatible shapes: y_true.shape={tuple(y_true.shape)}, "
                f"y_pred.shape={tuple(y_pred.shape)}."
            ) from None


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``."""
    yt, yp = _float_pair(y_true, y_pred)
    _check_shapes("mean_squared_error", _array(y_true), _array(y_pred), yt, yp)
    return np.mean(np.square(yt - yp), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``."""
    yt, yp = _float_pair(y_true, y_pred)
    _check_shapes("mean_absolute_error", _array(y_true), _array(y_pred), yt, yp)
    return np.mean(np.abs(yt - yp), axis=-1)


def accuracy(y_true, y_pred):
    """1.0 where ``y_true == y_pred`` element-wise."""
    yt, yp = _float_pair(y_true, y_pred)
    _check_shapes("accuracy", _array(y_true), _array(y_pred), yt, yp)
    return np.equal(yt, yp).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_true == (y_pred > threshold)`` element-wise."""
    yt, yp = same_rank(_array(y_true), _array(y_pred))
    _check_shapes("binary_accuracy", _array(y_true), _array(y_pred), yt, yp)
    predicted = (yp > threshold).astype(yt.dtype)
    return np.equal(yt, predicted).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where ``argmax(y_true, -1) == argmax(y_pred, -1)`` (first maximum wins ties)."""
    y_pred = _array(y_pred)
    true_ids = np.argmax(_array(y_true), axis=-1)
    org_shape = true_ids.shape
    reshape = False
    if true_ids.ndim == y_pred.ndim:
        true_ids = true_ids[..., 0] if true_ids.shape[-1] == 1 else true_ids
        reshape = True
    pred_ids = np.argmax(y_pred, axis=-1)
    matches = np.equal(true_ids, pred_ids).astype(np.float32)
    return matches.reshape(org_shape) if reshape else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the integer id ``y_true`` equals ``argmax(y_pred, -1)``; ``y_true`` may have a trailing 1."""
    y_pred = _array(y_pred)
    y_true = _array(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    pred_ids = np.argmax(y_pred, axis=-1)
    try:
        matches = np.equal(y_true.astype(np.float64), pred_ids.astype(np.float64)).astype(np.float32)
    except ValueError:
        raise ValueError(
            "sparse_categorical_accuracy: `y_true` (class ids) must have shape y_pred.shape[:-1]; received "
            f"y_true.shape={tuple(_array(y_true).shape)}, y_pred.shape={tuple(y_pred.shape)}."
        ) from None
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def _check_k(k, argument="k"):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Argument `{argument}` must be an integer >= 1; received {argument}={k!r}.")
    return int(k)


def _in_top_k(ids, scores, k):
    """TensorFlow's ``in_top_k``: is ``scores[i, ids[i]]`` among the ``k`` largest of row ``i``?  Ties at the
    boundary count as in (fewer than ``k`` scores are strictly larger); a row with a non-finite score, or an id
    out of range, is not.  ``ids (N,)``, ``scores (N, C)`` -> ``(N,)`` bool."""
    num_classes = scores.shape[-1]
    valid = (ids >= 0) & (ids < num_classes)
    picked = np.take_along_axis(scores, np.where(valid, ids, 0)[:, None], axis=-1)
    larger = np.sum(scores > picked, axis=-1)
    return valid & (larger < k) & np.all(np.isfinite(scores), axis=-1)


def _top_k_matches(ids, scores, k):
    """``in_top_k`` over any leading shape: ``ids (...)``, ``scores (..., C)`` -> float32 ``(...)``, as Keras
    flattens and reshapes."""
    if ids.shape != scores.shape[:-1]:
        raise ValueError(
            f"Top-k accuracy: `y_true` must hold one class per row of `y_pred` (shape {tuple(scores.shape[:-1])}); "
            f"received y_true.shape={tuple(ids.shape)}, y_pred.shape={tuple(scores.shape)}."
        )
    flat = _in_top_k(ids.reshape(-1), scores.reshape(-1, scores.shape[-1]), k)
    return flat.reshape(ids.shape).astype(np.float32)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the class of the one-hot ``y_true`` (its argmax) is among the ``k`` highest scores."""
    y_pred = _array(y_pred)
    if y_pred.ndim < 2:
        raise ValueError(f"top_k_categorical_accuracy needs y_pred of rank >= 2; received shape {y_pred.shape}.")
    return _top_k_matches(np.argmax(_array(y_true), axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer class ``y_true`` is among the ``k`` highest scores of ``y_pred``; with
    ``from_sorted_ids=True`` ``y_pred`` holds class ids sorted by score, and its first ``k`` are searched.
    ``y_true`` may carry a trailing 1 (the matches keep it, as in Keras)."""
    y_pred, y_true = _array(y_pred), _array(y_true)
    if y_pred.ndim < 2:
        raise ValueError(
            f"sparse_top_k_categorical_accuracy needs y_pred of rank >= 2; received shape {y_pred.shape}.")
    ids = y_true.astype(np.int64)
    flat_ids = ids.reshape(-1)
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    if flat_ids.shape[0] != rows.shape[0]:
        raise ValueError(
            "sparse_top_k_categorical_accuracy: `y_true` must hold one class id per row of `y_pred`; received "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}."
        )
    if from_sorted_ids:
        flat = np.any(flat_ids[:, None] == rows[:, :k], axis=1)
    else:
        flat = _in_top_k(flat_ids, rows, k)
    return flat.reshape(ids.shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# stateful metrics
# ---------------------------------------------------------------------------------------------------------

def samplewise_values(values, sample_weight, reduce, metric):
    """Keras's ``reduce_to_samplewise_values``: ``(per-sample weighted values (B,), total weight)``.

    Without ``sample_weight`` each sample counts 1; with one of rank ``r`` the values are first reduced with
    ``reduce`` (``np.mean`` or ``np.sum``) over the axes beyond ``r``, multiplied by the broadcast weights, then
    reduced per sample; the weights are reduced per sample the same way.  ``metric`` names the caller in errors.
    """
    values = _array(values).astype(np.float64)
    if sample_weight is not None:
        weights = _array(sample_weight).astype(np.float64)
        values, weights = same_rank(values, weights)
        w_ndim, v_ndim = weights.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce(values, axis=tuple(range(w_ndim, v_ndim)))
        try:
            weights = np.broadcast_to(weights, values.shape)
        except ValueError:
            raise ValueError(
                f"{type(metric).__name__} ({metric.name!r}): `sample_weight` of shape "
                f"{tuple(_array(sample_weight).shape)} does not broadcast to the per-sample values of shape "
                f"{tuple(values.shape)}."
            ) from None
        values = values * weights
        if w_ndim > 1:
            weights = reduce(weights, axis=tuple(range(1, w_ndim)))
        num = float(np.sum(weights))
    else:
        num = float(values.shape[0]) if values.ndim >= 1 else 1.0
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, num


class Metric:
    """Base class: ``update_state(...)``, ``result() -> float``, ``reset_state()``, ``name``.

    ``_direction`` is ``"up"`` for metrics to maximise, ``"down"`` for ones to minimise, None when unknown; the
    callbacks' ``mode="auto"`` uses it, as Keras does.
    """

    _direction = None

    def __init__(self, name=None, dtype=None):
        if name is None:  # as Keras: the class name in snake_case, numbered from the second one on (auc, auc_1...)
            from rnnlab.engine.layer import unique_name

            name = unique_name(_to_snake_case(type(self).__name__))
        self.name = name
        self.dtype = dtype or "float32"

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        """Every variable made by :meth:`add_variable` back to zeros (Keras's default)."""
        for v in self.variables:
            v.assign(np.zeros(v.shape, dtype=v.dtype))

    # -- state variables, as a Keras 3 metric written by a user keeps them -----------------------------------
    @property
    def variables(self):
        return list(self.__dict__.get("_variables", ()))

    @property
    def path(self):
        return self.name

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable (not trainable) of ``shape``, set by ``initializer``; ``assign``, ``assign_add``,
        ``assign_sub`` and arithmetic work on it. ``aggregation`` is how replicas would combine it: one of
        Keras's names, kept for the config (rnnlab runs one replica)."""
        from rnnlab import initializers
        from rnnlab.engine.layer import Variable

        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError("Argument `aggregation` of add_variable must be one of 'none', 'mean', 'sum', "
                             f"'only_first_replica'; received aggregation={aggregation!r}.")
        if initializer is None:
            raise ValueError(f"Metric {self.name!r}: add_variable needs an `initializer` (e.g. 'zeros').")
        try:
            shape = tuple(int(d) for d in (shape if isinstance(shape, (tuple, list)) else (shape,)))
        except (TypeError, ValueError):
            raise TypeError(f"Argument `shape` of add_variable must be a tuple of ints; received shape={shape!r}.") \
                from None
        value = np.asarray(initializers.get(initializer, "initializer")(shape, dtype=dtype or self.dtype))
        variable = Variable(value, name or f"variable_{len(self.variables)}", self, trainable=False)
        self.__dict__.setdefault("_variables", []).append(variable)
        return variable

    def add_weight(self, shape=(), initializer=None, dtype=None, name=None):
        """Keras's older name for :meth:`add_variable`."""
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def __call__(self, *args, **kwargs):
        """Update the state with one batch and return the running result (Keras's ``Metric.__call__``)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The weighted running mean of the values passed to ``update_state(values, sample_weight=None)``.

    ``update_state(batch_loss, sample_weight=batch_size)`` is how Keras tracks the ``loss`` it logs.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        values, num = samplewise_values(values, sample_weight, np.mean, self)
        self.total += float(np.sum(values))
        self.count += num

    def result(self):
        return float(self.total / self.count) if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values), optionally weighted."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or _to_snake_case(getattr(fn, "__name__", "mean_metric_wrapper")), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            float_mask = _array(mask).astype(np.float64)
            if sample_weight is None:
                sample_weight = float_mask
            else:
                float_mask, sw = same_rank(float_mask, _array(sample_weight).astype(np.float64))
                try:
                    sample_weight = sw * float_mask
                except ValueError:
                    raise ValueError(
                        f"{type(self).__name__} ({self.name!r}): `sample_weight` of shape {tuple(sw.shape)} does not "
                        f"broadcast with the mask of shape {tuple(float_mask.shape)}."
                    ) from None
        return super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of ``mean(square(y_true - y_pred), axis=-1)``."""

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of ``mean(abs(y_true - y_pred), axis=-1)``."""

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class RootMeanSquaredError(Mean):
    """``sqrt`` of the running (weighted) mean of ``square(y_pred - y_true)``, averaged per sample as ``Mean``
    does (no mask handling, as Keras's)."""

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        yt, yp = _float_pair(y_true, y_pred)
        _check_shapes("root_mean_squared_error", _array(y_true), _array(y_pred), yt, yp)
        return super().update_state(np.square(yp - yt), sample_weight=sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly."""

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the binary ``y_true``."""

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches ``argmax(y_true)`` (one-hot targets)."""

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often ``argmax(y_pred)`` matches the integer class id ``y_true``."""

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest predictions (ties at the boundary count
    as in, as TensorFlow's ``in_top_k``)."""

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        self.k = _check_k(k)
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer target class is among the ``k`` highest predictions (``from_sorted_ids=True``:
    ``y_pred`` already holds class ids sorted by score)."""

    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False):
        self.k = _check_k(k)
        if not isinstance(from_sorted_ids, (bool, np.bool_)):
            raise TypeError(f"Argument `from_sorted_ids` must be a bool; received from_sorted_ids={from_sorted_ids!r}.")
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=self.k,
                         from_sorted_ids=self.from_sorted_ids)

    def get_config(self):
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config


# ---------------------------------------------------------------------------------------------------------
# "accuracy" resolution
# ---------------------------------------------------------------------------------------------------------

def is_binary_or_sparse_categorical(y_true_shape, y_pred_shape):
    """Keras 3's test, on shapes: ``(is_binary, is_sparse_categorical)``.

    binary: ``y_pred`` has a last dimension of 1; sparse: ``y_true`` has a lower rank than ``y_pred``, or a last
    dimension of 1 while ``y_pred``'s is larger.
    """
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    t_last = y_true_shape[-1] if y_true_shape else None
    p_last = y_pred_shape[-1] if y_pred_shape else None
    is_binary = p_last == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (
        t_last == 1 and p_last is not None and p_last > 1)
    return is_binary, is_sparse


def resolve_accuracy(y_true_shape, y_pred_shape, name="accuracy"):
    """The concrete metric Keras 3 uses for ``metrics=["accuracy"]`` given the target/output shapes.

    ``BinaryAccuracy`` when the output's last dimension is 1, else ``SparseCategoricalAccuracy`` when the targets
    are class ids (lower rank, or trailing 1), else ``CategoricalAccuracy``; named ``name`` (the string given).
    The compile ``loss`` plays no part in Keras 3's choice.
    """
    is_binary, is_sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
    if is_binary:
        return BinaryAccuracy(name=name)
    if is_sparse:
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


class AutoAccuracy(Metric):
    """``"accuracy"`` before the shapes are known: picks the concrete metric on the first ``update_state``
    (as Keras 3 builds its compile metrics on the first batch) and delegates to it from then on.

    ``resolved`` is the concrete metric (None until the first update).
    """

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.resolved = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.resolved is None:
            self.resolved = resolve_accuracy(np.shape(y_true), np.shape(y_pred), name=self.name)
        self.resolved.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        return self.resolved.result() if self.resolved is not None else 0.0

    def reset_state(self):
        if self.resolved is not None:
            self.resolved.reset_state()
