"""Intersection-over-union metrics, as Keras's ``keras.metrics.IoU`` family.

Each accumulates a weighted confusion matrix ``total_cm`` of shape ``(num_classes, num_classes)`` (rows: true
class, columns: predicted class) over the batches.  The IoU of class ``c`` is
``tp_c / (row_c + col_c - tp_c)`` with ``tp_c = total_cm[c, c]``, ``row_c`` the sum of row ``c`` and ``col_c`` the sum
of column ``c``; the result is the mean IoU over ``target_class_ids``, counting only classes seen at all.

As in Keras, the matrix holds the metric's ``dtype``, ``"int64"`` by default: labels, predicted classes and
``sample_weight`` are cast to it, so float weights are truncated (with a warning) unless ``dtype`` is a float type.
Entries whose label or prediction falls outside ``[0, num_classes)``, or whose label is ``ignore_class``, are left out.
"""
from __future__ import annotations

import warnings

import numpy as np

from rnnlab.backend import epsilon, is_float_dtype
from rnnlab.metrics.mean_metrics import Metric


def _int_list(values, argument):
    try:
        values = [int(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"Argument `{argument}` must be a list of class ids; received {argument}={values!r}.") \
            from None
    return values


class _IoUBase(Metric):
    """The confusion matrix that every IoU metric accumulates."""

    _direction = "up"

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"Argument `num_classes` must be a positive integer; received num_classes={num_classes!r}.")
        dtype = "int64" if dtype in (None, "int") else np.dtype(getattr(dtype, "name", dtype)).name
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = sparse_y_true, sparse_y_pred, axis
        self.total_cm = np.zeros((self.num_classes, self.num_classes), dtype=self.dtype)

    def reset_state(self):
        self.total_cm = np.zeros_like(self.total_cm)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add the batch's (weighted) counts: ``y_true``/``y_pred`` class ids of any shape (one-hot or scores along
        ``axis`` when not sparse); ``sample_weight`` broadcast to the flattened labels."""
        if not self.sparse_y_true:
            y_true = np.argmax(np.asarray(y_true), axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = np.argmax(np.asarray(y_pred), axis=self.axis)
        y_true = np.asarray(y_true).astype(self.dtype).reshape(-1)
        y_pred = np.asarray(y_pred).astype(self.dtype).reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__}: y_true and y_pred must hold the same number of entries; "
                             f"received {y_true.size} and {y_pred.size}.")
        if sample_weight is None:
            weights = np.ones(y_true.shape, dtype=self.dtype)
        else:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.dtype.kind == "f" and not is_float_dtype(self.dtype):
                warnings.warn("You are passing weight as `float`, but dtype is `int`. This may result in an "
                              "incorrect weight due to type casting Consider using integer weights.", stacklevel=2)
            weights = sample_weight.astype(self.dtype)
            weights = weights.reshape(-1) if weights.ndim > 1 else weights
            try:
                weights = np.broadcast_to(weights, y_true.shape)
            except ValueError:
                raise ValueError(f"{type(self).__name__}: `sample_weight` of shape {sample_weight.shape} does not "
                                 f"broadcast to the {y_true.size} labels.") from None
        keep = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0) & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            keep &= y_true != self.ignore_class
        rows = np.where(keep, y_true, 0).astype(np.int64)  # (entries,) true class
        cols = np.where(keep, y_pred, 0).astype(np.int64)  # (entries,) predicted class
        np.add.at(self.total_cm, (rows, cols), np.where(keep, weights, 0).astype(self.dtype))

    def result(self):
        row_sums = self.total_cm.sum(axis=0)  # (num_classes,) how often each class was predicted
        col_sums = self.total_cm.sum(axis=1)  # (num_classes,) how often each class was the label
        true_positives = np.diag(self.total_cm)
        ids = self.target_class_ids
        denominator = (row_sums + col_sums - true_positives)[ids].astype(np.float32)
        true_positives = true_positives[ids].astype(np.float32)
        valid = denominator > 1e-9
        iou = np.where(valid, true_positives / (denominator + np.float32(epsilon())), np.float32(0))
        return float(np.float32(iou.sum() / (np.float32(valid.sum()) + np.float32(epsilon()))))


class IoU(_IoUBase):
    """The mean IoU over the classes ``target_class_ids``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)
        ids = _int_list(target_class_ids, "target_class_ids")
        if not ids or max(ids) >= num_classes or min(ids) < 0:
            raise ValueError(f"Argument `target_class_ids` must hold class ids in [0, {num_classes}); received "
                             f"target_class_ids={target_class_ids!r}.")
        self.target_class_ids = list(target_class_ids)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of two classes, the prediction being class 1 where ``y_pred >= threshold``."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float32) >= self.threshold
        super().update_state(np.asarray(y_true).astype(self.dtype), y_pred.astype(self.dtype), sample_weight)

    def get_config(self):
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold, "name": self.name,
                "dtype": self.dtype}


class MeanIoU(IoU):
    """The mean IoU over all ``num_classes`` classes."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True, sparse_y_pred=True,
                 axis=-1):
        super().__init__(num_classes, list(range(num_classes)) if isinstance(num_classes, (int, np.integer)) else [0],
                         name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """:class:`IoU` for one-hot labels (and, unless ``sparse_y_pred``, class scores) along ``axis``."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None, ignore_class=None, sparse_y_pred=False,
                 axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids, "name": self.name,
                "dtype": self.dtype, "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` for one-hot labels (and, unless ``sparse_y_pred``, class scores) along ``axis``."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
