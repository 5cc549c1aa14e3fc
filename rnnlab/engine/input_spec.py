"""``InputSpec``: what a layer expects of its inputs (rank, dtype, sizes), as Keras 3's ``keras.layers.InputSpec``.

A layer (typically a user's) sets ``self.input_spec`` to one spec, or to a list of them (one per input tensor);
every call then checks its inputs with :func:`assert_input_compatibility` before building and running, and a
mismatch raises a ``ValueError`` naming the layer, the input, what was expected and what was received.
"""
from __future__ import annotations

import numpy as np

from rnnlab import nest


class InputSpec:
    """Expected ``dtype``, ``shape`` (batch axis included; None for any size), ``ndim``, ``max_ndim``,
    ``min_ndim`` and ``axes`` (``{axis: size}``) of one input; ``allow_last_axis_squeeze`` lets a trailing axis
    of size 1 be present or absent; ``name`` is the input's key in a dict of inputs; ``optional`` allows None."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None,
                 allow_last_axis_squeeze=False, name=None, optional=False):
        self.dtype = None if dtype is None else np.dtype(getattr(dtype, "name", dtype)).name
        if shape is not None:
            self.shape = tuple(None if d is None else int(d) for d in shape)
            self.ndim = len(self.shape)
        else:
            self.ndim, self.shape = ndim, None
        self.max_ndim, self.min_ndim = max_ndim, min_ndim
        self.name, self.optional = name, optional
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        try:
            axes = axes or {}
            self.axes = {int(k): axes[k] for k in axes}
        except (ValueError, TypeError):
            raise TypeError(f"Argument `axes` must be a dict with integer keys. Received: axes={axes}") from None
        if self.axes and (self.ndim is not None or self.max_ndim is not None):
            max_dim = (self.ndim if self.ndim else self.max_ndim) - 1
            if max(self.axes) > max_dim:
                raise ValueError(f"Axis {max(self.axes)} is greater than the maximum allowed value: {max_dim}")

    def __repr__(self):
        parts = [f"dtype={self.dtype}" if self.dtype else "", f"shape={self.shape}" if self.shape else "",
                 f"ndim={self.ndim}" if self.ndim else "", f"max_ndim={self.max_ndim}" if self.max_ndim else "",
                 f"min_ndim={self.min_ndim}" if self.min_ndim else "", f"axes={self.axes}" if self.axes else ""]
        return f"InputSpec({', '.join(p for p in parts if p)})"

    def get_config(self):
        return {"dtype": self.dtype, "shape": self.shape, "ndim": self.ndim, "max_ndim": self.max_ndim,
                "min_ndim": self.min_ndim, "axes": self.axes}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def assert_input_compatibility(input_spec, inputs, layer_name):
    """Raise ``ValueError`` when ``inputs`` (arrays or symbolic tensors) do not meet ``input_spec`` (one spec, a
    structure of specs, or None), as Keras checks them before a layer's call."""
    if not input_spec:
        return
    specs = nest.flatten(input_spec)
    if isinstance(inputs, dict):
        names = [spec.name for spec in specs]
        if all(names):
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(f'Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                                 f"{list(inputs)}. Expected the following keys: {names}")
            inputs = [inputs[n] for n in names]
    flat = nest.flatten(inputs)
    if len(flat) != len(specs):
        raise ValueError(f'Layer "{layer_name}" expects {len(specs)} input(s), but it received {len(flat)} input '
                         "tensors.")
    for index, (x, spec) in enumerate(zip(flat, specs)):
        if spec is None or (x is None and spec.optional):
            continue
        if not hasattr(x, "shape"):
            raise ValueError(f"Inputs to a layer should be tensors. Got '{x}' (of type {type(x)}) as input for "
                             f"layer '{layer_name}'.")
        _check_one(spec, tuple(x.shape), getattr(x, "dtype", None), index, layer_name)


def _check_one(spec, shape, dtype, index, layer_name):
    where = f"Input {index} with name '{spec.name}' of layer '{layer_name}' is incompatible with the layer:"
    ndim = len(shape)
    if spec.ndim is not None and not spec.allow_last_axis_squeeze and ndim != spec.ndim:
        raise ValueError(f"{where} expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}")
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(f"{where} expected max_ndim={spec.max_ndim}, found ndim={ndim}")
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(f"{where} expected min_ndim={spec.min_ndim}, found ndim={ndim}. Full shape received: "
                         f"{shape}")
    if spec.dtype is not None and dtype is not None:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
        if name != spec.dtype:
            raise ValueError(f"{where} expected dtype={spec.dtype}, found dtype={name}")
    for axis, value in spec.axes.items():
        if value is not None and shape[axis] not in (value, None):
            raise ValueError(f"{where} expected axis {axis} of input shape to have value {value}, but received "
                             f"input with shape {shape}")
    if spec.shape is not None:
        spec_shape = spec.shape
        if spec.allow_last_axis_squeeze:
            shape = shape[:-1] if shape and shape[-1] == 1 else shape
            spec_shape = spec_shape[:-1] if spec_shape and spec_shape[-1] == 1 else spec_shape
        for spec_dim, dim in zip(spec_shape, shape):
            if spec_dim is not None and dim is not None and spec_dim != dim:
                raise ValueError(f"{where} expected shape={spec.shape}, found shape={shape}")
