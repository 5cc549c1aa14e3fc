"""Weight initializers with Keras's names, defaults and distributions.

They draw from the same distributions as Keras (TensorFlow's random stream itself cannot be reproduced).
Each is seedable; without a seed it draws from the global state set by ``rnnlab.utils.set_random_seed``.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab.random import make_rng


def _fans(shape, input_axes=None, output_axes=None):
    """``(fan_in, fan_out)`` as Keras computes them.

    With both ``input_axes`` and ``output_axes`` given, each fan is the product of ``shape`` over those axes
    (negative axes count from the end); otherwise (as in Keras, also when only one of them is given) the fans
    follow the kernel layout ``(..., fan_in_units, fan_out_units)``, the leading axes multiplying both.
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        return _product_over(shape, input_axes, "input_axes"), _product_over(shape, output_axes, "output_axes")
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _product_over(shape, axes, argument):
    """The product of ``shape[axis]`` for ``axis`` in ``axes``."""
    product = 1
    for axis in axes:
        if not -len(shape) <= axis < len(shape):
            raise ValueError(f"Argument `{argument}` holds axis {axis}, outside a weight of shape {shape}; "
                             f"received {argument}={list(axes)!r}.")
        product *= shape[axis]
    return product


def _check_axes(axes, argument):
    """``None`` or a list/tuple of integer axes; kept as given so that ``get_config`` returns it unchanged."""
    if axes is None:
        return None
    if isinstance(axes, (list, tuple)) and all(
            isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) for axis in axes):
        return axes
    raise TypeError(f"Argument `{argument}` must be None or a list of integer axes; received {argument}={axes!r}.")


class Initializer:
    """Base class: ``init(shape, dtype) -> ndarray``; ``get_config()`` gives the Keras config."""

    def __init__(self, seed=None):
        self.seed = seed

    def __call__(self, shape, dtype="float32"):
        return np.asarray(self.sample(tuple(shape), make_rng(self.seed)), dtype=dtype)

    def sample(self, shape, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    def __init__(self):
        super().__init__(None)

    def sample(self, shape, rng):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Zeros):
    def sample(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = value

    def sample(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape, rng):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng, shape, stddev):
    """Normal(0, stddev) redrawn outside two standard deviations, as Keras's truncated normal."""
    out = rng.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class TruncatedNormal(RandomNormal):
    def sample(self, shape, rng):
        return self.mean + _truncated_normal(rng, shape, self.stddev)


class VarianceScaling(Initializer):
    """``scale / fan`` variance, with a truncated normal, untruncated normal or uniform draw.

    ``fan`` is ``fan_in``, ``fan_out`` or their mean (``mode``). ``input_axes`` and ``output_axes`` (both given)
    name the axes of the weight whose sizes multiply into ``fan_in`` and ``fan_out``; see ``_fans``.
    ``distribution="normal"`` is Keras's old spelling of ``"truncated_normal"``.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None, input_axes=None,
                 output_axes=None):
        super().__init__(seed)
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not scale > 0:
            raise ValueError(f"Argument `scale` must be a positive float; received scale={scale!r}.")
        if isinstance(distribution, str):
            distribution = distribution.lower()
            distribution = "truncated_normal" if distribution == "normal" else distribution
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Argument `mode` must be fan_in, fan_out or fan_avg; received mode={mode!r}.")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "Argument `distribution` must be truncated_normal, untruncated_normal or uniform; "
                f"received distribution={distribution!r}."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes = _check_axes(input_axes, "input_axes")
        self.output_axes = _check_axes(output_axes, "output_axes")

    def sample(self, shape, rng):
        fan_in, fan_out = _fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), shape)
        # 0.879... is the stddev of a standard normal truncated to (-2, 2)
        return _truncated_normal(rng, shape, math.sqrt(variance) / 0.87962566103423978)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes}


def _variance_scaling_preset(name, scale, mode, distribution):
    class Preset(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    Preset.__name__ = Preset.__qualname__ = name
    return Preset


GlorotUniform = _variance_scaling_preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling_preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling_preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling_preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling_preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling_preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw, as Keras does."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape, rng):
        if len(shape) < 2:
            raise ValueError(f"The orthogonal initializer needs a shape of rank >= 2; received shape={shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    def __init__(self, gain=1.0):
        super().__init__(None)
        self.gain = gain

    def sample(self, shape, rng):
        if len(shape) != 2:
            raise ValueError(f"The identity initializer needs a 2-D shape; received shape={shape}.")
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}
_ALIASES = {"uniform": RandomUniform, "normal": RandomNormal}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}
_NAME_OF = {cls: name for name, cls in _BY_NAME.items()}


def get(identifier, argument: str = "initializer") -> Initializer:
    """An initializer from a Keras name, a ``{"class_name", "config"}`` dict, an instance or a callable."""
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _BY_CLASS.get(identifier) or _ALIASES.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Argument `{argument}` must be one of {sorted(_BY_NAME)}; received {argument}={identifier!r}."
            )
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_CLASS.get(identifier["class_name"]) or _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"Argument `{argument}` names an unknown initializer {identifier['class_name']!r}.")
        return cls(**identifier.get("config", {}))
    raise TypeError(
        f"Argument `{argument}` must be an initializer name, config dict or instance; received {identifier!r}."
    )


def serialize(init) -> dict:
    cls = type(init)
    name = cls.__name__ if cls in _NAME_OF else getattr(init, "__name__", cls.__name__)
    return {"module": "keras.initializers", "class_name": name, "config": init.get_config()
            if hasattr(init, "get_config") else {}, "registered_name": None}


# Keras's other spellings of the same classes
OrthogonalInitializer = Orthogonal
IdentityInitializer = Identity
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, orthogonal, identity = VarianceScaling, Orthogonal, Identity
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal


def deserialize(config, custom_objects=None):
    """Keras's ``keras.initializers.deserialize``: the initializer a config dict (or a name) describes; a class in
    ``custom_objects`` (or a custom object scope, or registered) is found by its name first."""
    from rnnlab.engine.serialization import get_registered_object

    if isinstance(config, dict) and isinstance(config.get("class_name"), str):
        cls = get_registered_object(config.get("registered_name") or config["class_name"], custom_objects)
        if cls is not None:
            return cls.from_config(dict(config.get("config") or {})) if hasattr(cls, "from_config") else \
                cls(**(config.get("config") or {}))
    return get(config, argument="config")
