"""Weight constraints, as ``keras.constraints`` (Keras 3.15): projections that the optimizer applies to a
weight after each update (``MaxNorm``, ``MinMaxNorm``, ``NonNeg``, ``UnitNorm``, and ``Constraint`` to
subclass).

A constraint maps a weight array ``w`` to its projection, in ``w``'s dtype.  With ``norms`` the L2 norms of
``w`` along ``axis`` (kept as size-1 axes) and ``epsilon = 1e-7``:

* ``MaxNorm(max_value, axis)``: ``w * clip(norms, 0, max_value) / (epsilon + norms)``;
* ``MinMaxNorm(min_value, max_value, rate, axis)``:
  ``w * (rate * clip(norms, min_value, max_value) + (1 - rate) * norms) / (epsilon + norms)``;
* ``UnitNorm(axis)``: ``w / (epsilon + norms)``;
* ``NonNeg()``: ``max(w, 0)``.

For a ``Dense`` kernel ``(input_dim, units)`` the default ``axis=0`` constrains each unit's incoming weights.
"""
from __future__ import annotations

import inspect

import numpy as np

from rnnlab.object_configs import deserialize_object, serialize_object

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm", "non_neg",
           "unit_norm", "get", "serialize", "deserialize"]

_EPSILON = 1e-7  # Keras's backend.epsilon()


def _norms(w, axis):
    """L2 norms of ``w`` along ``axis`` (an int or a list of ints), with the reduced axes kept."""
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


def _as_weight(w):
    w = np.asarray(w)
    return w if w.dtype.kind == "f" else w.astype(np.float32)


class Constraint:
    """Base class: subclass it with ``__call__(w) -> projected w`` (and ``get_config`` for saving).
    The base constraint leaves ``w`` unchanged."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescales each slice along ``axis`` whose L2 norm exceeds ``max_value`` down to ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _as_weight(w)
        dtype = w.dtype.type
        norms = _norms(w, self.axis)
        desired = np.clip(norms, dtype(0), dtype(self.max_value))
        return w * (desired / (dtype(_EPSILON) + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        w = _as_weight(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Rescales each slice along ``axis`` to unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _as_weight(w)
        return w / (w.dtype.type(_EPSILON) + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each slice's L2 norm towards ``[min_value, max_value]``: fully with ``rate=1``, part-way below."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _as_weight(w)
        dtype = w.dtype.type
        norms = _norms(w, self.axis)
        desired = dtype(self.rate) * np.clip(norms, dtype(self.min_value), dtype(self.max_value)) + \
            dtype(1 - self.rate) * norms
        return w * (desired / (dtype(_EPSILON) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

_CLASSES = {cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)}
_BY_NAME = {"constraint": Constraint, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg,
            "unit_norm": UnitNorm}


def serialize(constraint):
    """``{"module", "class_name", "config", "registered_name"}`` as Keras writes it; None stays None."""
    return serialize_object(constraint, _CLASSES, "keras.constraints", "constraint")


def deserialize(config, custom_objects=None):
    """A constraint from :func:`serialize`'s dict (or a name). Only the built-in classes, and those in
    ``custom_objects`` (a dict name -> class), can be named: nothing else is imported or run."""
    if isinstance(config, str):
        return custom_objects[config]() if custom_objects and config in custom_objects else get(config)
    return deserialize_object(config, _CLASSES, "constraint", custom_objects)


def get(identifier, argument="constraint"):
    """A constraint from a name (``"max_norm"``, ``"min_max_norm"``, ``"non_neg"``, ``"unit_norm"`` or a class
    name, with its defaults), a config dict, an instance, a class, or any callable ``f(w) -> w``."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Argument `{argument}` must be a constraint name, one of {sorted(_BY_NAME)}, a "
                             f"config dict or a Constraint; received {argument}={identifier!r}.")
        return cls()
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Argument `{argument}` must be a constraint name, a config dict, a Constraint or a "
                    f"callable; received {argument}={identifier!r}.")
