"""Learning-rate schedules, as ``keras.optimizers.schedules``.

A schedule is a callable ``schedule(step) -> learning rate``.  An optimizer built with a schedule evaluates it
at its ``iterations`` count *before* that count is incremented, so the first update uses ``schedule(0)``.

Values are computed in the float dtype Keras uses for them: ``rnnlab.config.floatx()`` (``float32`` by
default) for Python numbers, so that an rnnlab optimizer and a Keras one see the same rounded learning rate.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from rnnlab import backend

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "CosineDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]


def _value_dtype(value) -> np.dtype:
    """The dtype Keras would give ``value`` once converted to a tensor: its own float dtype for NumPy values,
    ``floatx()`` for Python numbers."""
    if isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind == "f":
        return np.asarray(value).dtype
    return np.dtype(backend.floatx())


def _check_real(value, argument: str, *, positive: bool = False, non_negative: bool = False,
                allow_none: bool = False):
    """Validate that ``value`` is a finite real number (not a bool) and return it unchanged."""
    if value is None and allow_none:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.integer, np.floating)):
        raise TypeError(
            f"Argument `{argument}` must be a real number; received {argument}={value!r} "
            f"of type {type(value).__name__}."
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"Argument `{argument}` must be finite; received {argument}={value!r}.")
    if positive and not value > 0:
        raise ValueError(f"Argument `{argument}` must be > 0; received {argument}={value!r}.")
    if non_negative and not value >= 0:
        raise ValueError(f"Argument `{argument}` must be >= 0; received {argument}={value!r}.")
    return value


def _rounded(fn, x, dt):
    """``fn(x)`` evaluated in float64 and rounded to ``dt``: the correctly rounded value, which is what
    TensorFlow's float32 ``pow``/``cos`` return (NumPy's float32 versions can be an ulp or more away)."""
    return dt(fn(np.float64(x)))


def _step_value(step):
    """The optimizer step as a NumPy scalar (ints stay ints, as Keras's integer ``iterations``)."""
    if hasattr(step, "numpy") and not isinstance(step, np.ndarray):
        step = step.numpy()
    arr = np.asarray(step)
    if arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise TypeError(f"Argument `step` must be a scalar number; received step={step!r}.")
    return arr[()]


class LearningRateSchedule:
    """Base class of learning-rate schedules: subclasses implement ``__call__(step)`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in order to be "
            "serializable."
        )

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, checks and config."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        _check_real(initial_learning_rate, "initial_learning_rate", non_negative=True)
        _check_real(decay_steps, "decay_steps", positive=True)
        _check_real(decay_rate, "decay_rate", non_negative=True)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name or type(self).__name__

    def _progress(self, step, dt):
        """``step / decay_steps`` in ``dt``, floored with ``staircase``."""
        p = dt(_step_value(step)) / dt(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase=True`` the exponent is
    floored, so the rate drops every ``decay_steps`` steps."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        dt = _value_dtype(self.initial_learning_rate).type
        p = self._progress(step, dt)
        factor = _rounded(lambda e: np.power(np.float64(dt(self.decay_rate)), e), p, dt)
        return dt(self.initial_learning_rate) * factor


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <=
    boundaries[i]``, and ``values[-1]`` once ``step > boundaries[-1]``."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        try:
            boundaries = list(boundaries)
            values = list(values)
        except TypeError:
            raise TypeError(
                "Arguments `boundaries` and `values` must be lists of numbers; received "
                f"boundaries={boundaries!r}, values={values!r}."
            ) from None
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of `boundaries` must be 1 less than the length of `values`; received "
                f"boundaries={boundaries} of length {len(boundaries)} and values={values} of length {len(values)}."
            )
        for b in boundaries:
            _check_real(b, "boundaries")
        for v in values:
            _check_real(v, "values", non_negative=True)
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"Argument `boundaries` must be strictly increasing; received boundaries={boundaries}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        step = _step_value(step)
        dt = _value_dtype(self.values[0]).type
        # As Keras, boundaries are compared in the step's dtype (an integer step truncates float boundaries).
        cast = int if np.asarray(step).dtype.kind in "iu" else float
        index = len(self.values) - 1
        for i, b in enumerate(self.boundaries):
            if step <= cast(b):
                index = i
                break
        return dt(self.values[index])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over ``decay_steps``
    steps (then constant), optionally after a linear warm-up to ``warmup_target`` over ``warmup_steps`` steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _check_real(initial_learning_rate, "initial_learning_rate", non_negative=True)
        _check_real(decay_steps, "decay_steps", positive=True)
        _check_real(alpha, "alpha")
        _check_real(warmup_target, "warmup_target", non_negative=True, allow_none=True)
        _check_real(warmup_steps, "warmup_steps", non_negative=True)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step, decay_steps, decay_from, dt):
        fraction = step / decay_steps
        cosine = 0.5 * (1.0 + _rounded(np.cos, dt(math.pi) * fraction, dt))
        decayed = (1 - self.alpha) * cosine + self.alpha
        return dt(decay_from * decayed)

    def __call__(self, step):
        dt = _value_dtype(self.initial_learning_rate).type
        initial = dt(self.initial_learning_rate)
        decay_steps = dt(self.decay_steps)
        step = dt(_step_value(step))
        if self.warmup_target is None:
            return self._decay(min(step, decay_steps), decay_steps, initial, dt)
        target = dt(self.warmup_target)
        warmup_steps = dt(self.warmup_steps)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return dt((target - initial) * (step / warmup_steps) + initial)
        return self._decay(step - warmup_steps, decay_steps, target, dt)

    def get_config(self) -> dict:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` steps along
    ``(initial - end) * (1 - step / decay_steps) ** power + end``, then constant; with ``cycle=True`` the decay
    restarts with ``decay_steps`` stretched to the next multiple of it past ``step``."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _check_real(initial_learning_rate, "initial_learning_rate", non_negative=True)
        _check_real(decay_steps, "decay_steps", positive=True)
        _check_real(end_learning_rate, "end_learning_rate", non_negative=True)
        _check_real(power, "power")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step):
        dt = _value_dtype(self.initial_learning_rate).type
        end, step, decay_steps = dt(self.end_learning_rate), dt(_step_value(step)), dt(self.decay_steps)
        if self.cycle:
            decay_steps = decay_steps * (dt(1.0) if step == 0 else np.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        factor = _rounded(lambda base: np.power(base, np.float64(dt(self.power))), dt(1.0) - p, dt)
        return dt((dt(self.initial_learning_rate) - end) * factor + end)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_RateDecay):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with ``staircase=True`` the ratio
    ``step / decay_steps`` is floored."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name="InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step):
        dt = _value_dtype(self.initial_learning_rate).type
        return dt(dt(self.initial_learning_rate) / (dt(1.0) + dt(self.decay_rate) * self._progress(step, dt)))


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the first period lasts ``first_decay_steps`` steps, each next one
    ``t_mul`` times longer and starting from ``m_mul`` times the previous peak; within a period the rate falls
    from its peak to ``alpha`` times it along half a cosine."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"):
        _check_real(initial_learning_rate, "initial_learning_rate", non_negative=True)
        _check_real(first_decay_steps, "first_decay_steps", positive=True)
        _check_real(t_mul, "t_mul", positive=True)
        _check_real(m_mul, "m_mul", non_negative=True)
        _check_real(alpha, "alpha")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        dt = _value_dtype(self.initial_learning_rate).type
        t_mul, m_mul, alpha = dt(self._t_mul), dt(self._m_mul), dt(self.alpha)
        fraction = dt(_step_value(step)) / dt(self.first_decay_steps)
        if t_mul == 1.0:
            restarts = np.floor(fraction)
            fraction = fraction - restarts
        else:  # periods growing geometrically: which one the step is in, and how far into it
            ratio = _rounded(np.log, dt(1.0) - fraction * (dt(1.0) - t_mul), dt) / _rounded(np.log, t_mul, dt)
            restarts = np.floor(dt(ratio))
            grown = _rounded(lambda e: np.power(np.float64(t_mul), e), restarts, dt)
            fraction = (fraction - (dt(1.0) - grown) / (dt(1.0) - t_mul)) / grown
        m_factor = _rounded(lambda e: np.power(np.float64(m_mul), e), restarts, dt)
        cosine = dt(0.5) * m_factor * (dt(1.0) + _rounded(np.cos, dt(math.pi) * fraction, dt))
        return dt(dt(self.initial_learning_rate) * ((dt(1.0) - alpha) * cosine + alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, CosineDecay,
                                            PolynomialDecay, InverseTimeDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """The Keras-style ``{"module", "class_name", "config", "registered_name"}`` dict of a schedule."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            "Argument `learning_rate_schedule` must be a LearningRateSchedule; received "
            f"{schedule!r} of type {type(schedule).__name__}."
        )
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """Rebuild a schedule from :func:`serialize`'s dict (``custom_objects`` maps extra class names)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"A learning rate schedule config must be a dict with 'class_name' and 'config'; received {config!r}."
        )
    registry = dict(_SCHEDULES)
    registry.update(custom_objects or {})
    cls = registry.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Unknown learning rate schedule {config['class_name']!r}; accepted: {sorted(registry)}."
        )
    return cls.from_config(dict(config.get("config", {})))
