"""Weight and activity penalties, as ``keras.regularizers`` (Keras 3.15): ``L1``, ``L2``, ``L1L2``,
``OrthogonalRegularizer``, and the ``Regularizer`` base class for your own.

A regularizer is called on an array and returns a scalar penalty, computed in the array's dtype::

    L1(l1)(x)   = l1 * sum(|x|)
    L2(l2)(x)   = l2 * sum(x**2)
    L1L2(l1, l2)(x) = L1(l1)(x) + L2(l2)(x)
    OrthogonalRegularizer(factor, mode)(x) = factor * 0.5 * sum(|P * (1 - I)|) / (n * (n - 1) / 2)

where, for ``mode="rows"``, ``P = N @ N.T`` with ``N`` the rows of ``x`` (shape ``(n, d)``) scaled to unit L2
norm (``mode="columns"``: ``P = N.T @ N`` with unit columns, ``n`` the number of columns).

Training adds the penalties to the loss and their gradients to the weights' gradients, so each built-in
regularizer also has ``gradient(x)``: ``d penalty / d x``, an array of ``x``'s shape and dtype.  rnnlab has no
automatic differentiation yet, so a regularizer of your own (a ``Regularizer`` subclass with ``__call__``, or a
plain function) can be called, serialized and reported in ``layer.losses``, but training with it raises a
``TypeError`` unless it defines ``gradient(x)`` too.

As in Keras, ``L1`` and ``OrthogonalRegularizer`` keep their factor as a float32 number (so
``L1(0.01).get_config()`` is ``{"l1": 0.009999999776482582}``), while ``L2`` and ``L1L2`` keep Python floats.
"""
from __future__ import annotations

import inspect
import math

import numpy as np

from rnnlab.object_configs import deserialize_object, serialize_object
from rnnlab.ops.tensor import Tensor, backward

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]

_EPSILON = 1e-7  # Keras's backend.epsilon(): the smallest norm that normalize() divides by


def _check_factor(value, name):
    """Keras's ``validate_float_arg``: a finite, non-negative number, returned as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. Received: "
                         f"{name}={value!r}")
    return float(value)


def _float32(value):
    """``value`` rounded to float32, as Keras stores a factor it converts to a tensor."""
    return float(np.float32(value))


class Regularizer:
    """Base class of regularizers: subclass it with ``__call__(x) -> scalar`` and ``get_config()``.

    The base penalty is 0.  Training differentiates ``__call__`` from its record when it is written with
    ``rnnlab.ops`` (or NumPy ufuncs and ``np.sum``, which map to ops); a subclass may instead give
    ``gradient(x)`` (``d penalty / d x``) itself.
    """

    def __call__(self, x):
        return 0.0

    def gradient(self, x):
        """``d self(x) / d x``, with ``x``'s shape and dtype: from the record of ``self(x)``."""
        if type(self).__call__ is Regularizer.__call__:  # the zero penalty
            return np.zeros_like(np.asarray(x))
        return recorded_gradient(self, x)

    def get_config(self):
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _no_gradient_message(regularizer):
    name = getattr(regularizer, "__name__", type(regularizer).__name__)
    return (
        f"The regularizer {name!r} computed its penalty outside rnnlab.ops (NumPy functions on plain arrays), so "
        "rnnlab cannot differentiate it to train. Write it with rnnlab.ops (keras.ops) functions, or define "
        "`gradient(self, x)` returning d penalty / d x."
    )


def gradient_of(regularizer, x):
    """``d regularizer(x) / d x`` for any regularizer a layer accepts; a TypeError for one without a gradient."""
    method = getattr(regularizer, "gradient", None)
    if method is not None:
        return np.asarray(method(x))
    return recorded_gradient(regularizer, x)


def recorded_gradient(regularizer, x):
    """``d regularizer(x) / d x`` from the record of a penalty written with ``rnnlab.ops``."""
    leaf = Tensor(np.asarray(x))
    penalty = regularizer(leaf)
    if not isinstance(penalty, Tensor):
        raise TypeError(_no_gradient_message(regularizer))
    grad = backward([penalty], [np.ones_like(penalty.value)])(leaf)
    return np.zeros_like(leaf.value) if grad is None else grad


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; both factors default to 0 (the name ``"l1l2"`` gives that too)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _check_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = np.asarray(x)
        dtype = x.dtype.type
        penalty = dtype(0)
        if self.l1 != 0.0:
            penalty = penalty + dtype(self.l1) * np.sum(np.abs(x), dtype=x.dtype)
        if self.l2 != 0.0:
            penalty = penalty + dtype(self.l2) * np.sum(np.square(x), dtype=x.dtype)
        return dtype(penalty)

    def gradient(self, x):
        x = np.asarray(x)
        dtype = x.dtype.type
        grad = np.zeros_like(x)
        if self.l1 != 0.0:
            grad += dtype(self.l1) * np.sign(x)  # |x|' = sign(x), 0 at 0
        if self.l2 != 0.0:
            grad += dtype(2 * self.l2) * x
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``, ``l1`` defaulting to 0.01 (also the default of the name ``"l1"``)."""

    def __init__(self, l1=0.01):
        self.l1 = _float32(_check_factor(0.01 if l1 is None else l1, "l1"))

    def __call__(self, x):
        x = np.asarray(x)
        return x.dtype.type(self.l1) * np.sum(np.abs(x), dtype=x.dtype)

    def gradient(self, x):
        x = np.asarray(x)
        return x.dtype.type(self.l1) * np.sign(x)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``, ``l2`` defaulting to 0.01 (also the default of the name ``"l2"``)."""

    def __init__(self, l2=0.01):
        self.l2 = _check_factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        x = np.asarray(x)
        return x.dtype.type(self.l2) * np.sum(np.square(x), dtype=x.dtype)

    def gradient(self, x):
        x = np.asarray(x)
        return x.dtype.type(2 * self.l2) * x

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode="rows"``) or columns (``mode="columns"``) of a 2-D weight towards orthogonality:
    ``factor`` times half the mean absolute cosine between distinct pairs of them."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _float32(_check_factor(factor, "factor"))
        if mode not in ("rows", "columns"):
            raise ValueError(f'Invalid value for argument `mode`. Expected one of {{"rows", "columns"}}. '
                             f"Received: mode={mode!r}")
        self.mode = mode

    def _unit_vectors(self, x):
        """``(n, d)`` unit vectors (rows, or columns transposed) and the inverse norms used, as Keras's
        ``normalize``: ``v * min(1 / ||v||, 1 / epsilon)``."""
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape={x.shape}")
        v = x if self.mode == "rows" else x.T  # (n, d)
        squares = np.sum(np.square(v), axis=1, keepdims=True)  # (n, 1)
        with np.errstate(divide="ignore"):
            inv = np.minimum(1.0 / np.sqrt(squares), x.dtype.type(1.0 / _EPSILON)).astype(x.dtype)
        return v, inv, squares

    def _scale(self, n, dtype):
        pairs = n * (n - 1.0) / 2.0
        return dtype(self.factor) * dtype(0.5) / dtype(pairs)

    def __call__(self, x):
        v, inv, _ = self._unit_vectors(x)
        unit = v * inv  # (n, d)
        product = unit @ unit.T  # (n, n) cosines
        n = product.shape[0]
        off_diagonal = product * (1 - np.eye(n, dtype=product.dtype))
        dtype = np.asarray(x).dtype.type
        return dtype(self._scale(n, dtype) * np.sum(np.abs(off_diagonal), dtype=product.dtype))

    def gradient(self, x):
        x = np.asarray(x)
        v, inv, squares = self._unit_vectors(x)
        unit = v * inv
        n = unit.shape[0]
        product = unit @ unit.T
        d_product = self._scale(n, x.dtype.type) * np.sign(product) * (1 - np.eye(n, dtype=x.dtype))  # (n, n)
        d_unit = (d_product + d_product.T) @ unit  # (n, d): P = U U^T
        # unit = v * inv; where inv = 1/||v|| (not clipped) it depends on v: d inv / d v = -v * inv**3
        clipped = np.sqrt(squares) * x.dtype.type(1.0 / _EPSILON) <= 1  # inv took the 1/epsilon bound
        radial = np.sum(d_unit * v, axis=1, keepdims=True)  # (n, 1)
        d_v = d_unit * inv - np.where(clipped, 0, radial * inv ** 3) * v
        return (d_v if self.mode == "rows" else d_v.T).astype(x.dtype)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lower-case aliases are the classes themselves.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
# The names `get` accepts, as Keras 3.15 builds them (snake case of the class names): note "l1l2", not "l1_l2".
_BY_NAME = {"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    """``{"module", "class_name", "config", "registered_name"}`` as Keras writes it; None stays None."""
    return serialize_object(regularizer, _CLASSES, "keras.regularizers", "regularizer")


def deserialize(config, custom_objects=None):
    """A regularizer from :func:`serialize`'s dict (or a name). Only the built-in classes, and those in
    ``custom_objects`` (a dict name -> class), can be named: nothing else is imported or run."""
    if isinstance(config, str):
        return custom_objects[config]() if custom_objects and config in custom_objects else get(config)
    return deserialize_object(config, _CLASSES, "regularizer", custom_objects)


def get(identifier, argument="regularizer"):
    """A regularizer from a name (``"l1"``, ``"l2"``, ``"l1l2"``, ``"orthogonal_regularizer"`` or a class name,
    each with its defaults), a config dict, an instance, a class, or any callable ``f(x) -> scalar``."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            hint = ' (Keras 3 spells it "l1l2", which means L1L2(l1=0.0, l2=0.0); use ' \
                   "rnnlab.regularizers.L1L2(l1=0.01, l2=0.01) for the old l1_l2 defaults)" \
                if identifier == "l1_l2" else ""
            raise ValueError(f"Argument `{argument}` must be a regularizer name, one of {sorted(_BY_NAME)}, a "
                             f"config dict or a Regularizer; received {argument}={identifier!r}{hint}.")
        return cls()
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Argument `{argument}` must be a regularizer name, a config dict, a Regularizer or a "
                    f"callable; received {argument}={identifier!r}.")
