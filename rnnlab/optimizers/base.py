"""The optimizer base class: Keras 3's ``Optimizer`` on NumPy arrays.

An optimizer updates :class:`rnnlab.layers.Variable` objects in place (``variable.value`` is modified, never
replaced) from NumPy gradients.  One call of :meth:`Optimizer.apply` does, as Keras 3 does:

1. drop ``None`` gradients (with a warning), validate the others (shape must equal the variable's);
2. divide by ``loss_scale_factor`` if set;
3. clip: ``clipnorm`` (each gradient to that L2 norm), ``global_clipnorm`` (all gradients together) or
   ``clipvalue`` (elementwise), at most one of them;
4. decoupled weight decay for every optimizer that has ``weight_decay`` set:
   ``var -= var * weight_decay * learning_rate``, before the update;
5. the optimizer's own update step, with the learning rate evaluated at the current ``iterations``;
6. the variable's ``constraint`` (if it has one: a callable on its array);
7. ``iterations += 1``.

Arithmetic runs in each variable's dtype (float32 or float64).  A constant learning rate is stored in
``rnnlab.config.floatx()`` (float32 by default) exactly as Keras stores it in a float32 variable, so that
``float64`` variables see the same rounded learning rate as in Keras.

Optimizer state (moments, accumulators...) is keyed by ``variable.path``: two variables with different paths
never share state, and a variable object rebuilt with the same path picks up the state of the old one.  A few
optimizers also keep state of their own, shared by all variables (Nadam's running product of momentum factors):
:meth:`Optimizer._global_initializers` names it, created in the dtype of the first variable the optimizer is
built on (as Keras does), and :meth:`Optimizer._before_update_steps` advances it once per update, before the
variables are updated.
"""
from __future__ import annotations

import math
import numbers
import re
import warnings

import numpy as np

from rnnlab import backend
from rnnlab.optimizers import schedules as _schedules


# ---------------------------------------------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------------------------------------------

def _is_real(value) -> bool:
    return (isinstance(value, (numbers.Real, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def check_float(value, argument: str, *, low=None, high=None, low_open=False, high_open=False,
                allow_none=False, expected=None):
    """Return ``value`` as a Python float after checking it is a finite real number in the given range.

    Non-numbers raise ``TypeError``; NaN/Inf or out-of-range values raise ``ValueError``.  Messages name the
    argument, what was expected and what was received.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not _is_real(value):
        raise TypeError(
            f"Argument `{argument}` must be {expected or 'a float'}; received {argument}={value!r} "
            f"of type {type(value).__name__}."
        )
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(
            f"Argument `{argument}` must be {expected or 'a finite float'}; received {argument}={value!r}."
        )
    too_low = low is not None and (f <= low if low_open else f < low)
    too_high = high is not None and (f >= high if high_open else f > high)
    if too_low or too_high:
        if expected is None:
            lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low}"
            hi = "inf)" if high is None else f"{high}" + (")" if high_open else "]")
            expected = f"a float in {lo}, {hi}"
        raise ValueError(f"Argument `{argument}` must be {expected}; received {argument}={value!r}.")
    return f


def check_bool(value, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Argument `{argument}` must be a bool; received {argument}={value!r} of type {type(value).__name__}."
        )
    return bool(value)


def _learning_rate_value(value, argument: str = "learning_rate"):
    """A constant learning rate, rounded to ``floatx()`` as Keras stores it."""
    f = check_float(value, argument, low=0.0,
                    expected="a non-negative float, a LearningRateSchedule or a callable")
    return np.dtype(backend.floatx()).type(f)


def keras_cast(value, dtype):
    """``value`` (a Python float hyperparameter) as a scalar of ``dtype``, rounded the way Keras's
    ``ops.cast(value, dtype)`` rounds it on the TensorFlow backend: through a float32 tensor first.

    Keras casts the learning rate, ``weight_decay``, SGD's ``momentum``, Adam's betas and Adagrad's initial
    accumulator value this way; for float32 variables it changes nothing, for float64 ones it makes the
    results equal to Keras's bit for bit.  Hyperparameters that Keras combines with tensors directly (``rho``,
    ``epsilon``, ``1 - beta_1``...) keep the variable's full precision.
    """
    return np.dtype(dtype).type(np.float32(value))


# ---------------------------------------------------------------------------------------------------------------
# gradient clipping (Keras 3 formulas)
# ---------------------------------------------------------------------------------------------------------------

def clip_by_norm(grad: np.ndarray, clipnorm: float) -> np.ndarray:
    """Scale ``grad`` so that its L2 norm is at most ``clipnorm``: ``grad * clipnorm / max(norm, clipnorm)``.
    A zero gradient stays zero; a NaN gradient stays NaN."""
    c = grad.dtype.type(clipnorm)
    l2sum = np.sum(np.square(grad), keepdims=True)
    positive = l2sum > 0
    l2norm = np.where(positive, np.sqrt(np.where(positive, l2sum, 1)), l2sum)
    return (grad * c) / np.maximum(l2norm, c)


def global_norm(grads) -> np.floating:
    """The L2 norm of all ``grads`` taken together, in their common dtype."""
    dt = np.result_type(*grads)
    squared = np.array([np.sum(np.square(g)) for g in grads], dtype=dt)
    return np.sqrt(np.sum(squared))


def clip_by_global_norm(grads, clipnorm: float):
    """Scale all ``grads`` by the same factor so that their global norm is at most ``clipnorm``.  A non-finite
    global norm turns every gradient into NaN (as Keras)."""
    norm = global_norm(grads)
    c = norm.dtype.type(clipnorm)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = c * np.minimum(1 / norm, 1 / c) + (norm - norm)
    return [g * scale.astype(g.dtype) for g in grads]


# ---------------------------------------------------------------------------------------------------------------
# the base class
# ---------------------------------------------------------------------------------------------------------------

_NOT_SUPPORTED = "is not supported by rnnlab"


class Optimizer:
    """Base class of all optimizers (Keras 3 ``keras.optimizers.Optimizer``).

    Subclasses implement :meth:`_slot_initializers` (the per-variable state to create) and :meth:`_update_step`
    (the in-place update of one variable), and extend :meth:`get_config`.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=2)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

        if name is None:
            from rnnlab.engine.layer import snake_case, unique_name

            name = unique_name(snake_case(type(self).__name__))
        elif not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string; received name={name!r}.")
        self.name = name

        self.weight_decay = check_float(weight_decay, "weight_decay", low=0.0, allow_none=True,
                                        expected="None or a non-negative float")
        self.clipnorm = check_float(clipnorm, "clipnorm", low=0.0, allow_none=True,
                                    expected="None or a non-negative float")
        self.clipvalue = check_float(clipvalue, "clipvalue", low=0.0, allow_none=True,
                                     expected="None or a non-negative float")
        self.global_clipnorm = check_float(global_clipnorm, "global_clipnorm", low=0.0, allow_none=True,
                                           expected="None or a non-negative float")
        n_clip = sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm))
        if n_clip > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )

        self.use_ema = check_bool(use_ema, "use_ema")
        if self.use_ema:
            raise ValueError(f"Argument `use_ema=True` {_NOT_SUPPORTED}; received use_ema={use_ema!r}.")
        self.ema_momentum = check_float(ema_momentum, "ema_momentum", low=0.0, high=1.0)
        if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, (int, np.integer))
                or isinstance(ema_overwrite_frequency, bool) or ema_overwrite_frequency < 1):
            raise ValueError(
                "Argument `ema_overwrite_frequency` must be an integer >= 1 or None; received "
                f"ema_overwrite_frequency={ema_overwrite_frequency!r}."
            )
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = check_float(loss_scale_factor, "loss_scale_factor", low=0.0, low_open=True,
                                             allow_none=True, expected="None or a float > 0")
        if gradient_accumulation_steps:
            if (not isinstance(gradient_accumulation_steps, (int, np.integer))
                    or isinstance(gradient_accumulation_steps, bool) or gradient_accumulation_steps < 2):
                raise ValueError(
                    "Argument `gradient_accumulation_steps` must be an integer >= 2; received "
                    f"gradient_accumulation_steps={gradient_accumulation_steps!r}."
                )
            raise ValueError(
                f"Argument `gradient_accumulation_steps` {_NOT_SUPPORTED}; received "
                f"gradient_accumulation_steps={gradient_accumulation_steps!r}."
            )
        self.gradient_accumulation_steps = None

        self._learning_rate = self._validate_learning_rate(learning_rate)
        self._iterations = 0
        self._state: dict[str, dict[str, np.ndarray]] = {}
        self._global_state: dict[str, np.ndarray] = {}
        self._trainable_variables: list = []
        self._exclude_paths: set[str] = set()
        self._exclude_pattern = None
        self.built = False

    # -- learning rate -------------------------------------------------------------------------------------------

    @staticmethod
    def _validate_learning_rate(value):
        if isinstance(value, _schedules.LearningRateSchedule) or callable(value):
            return value
        return _learning_rate_value(value)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update, as a Python float (a schedule's value at ``iterations``).

        Assign a float to replace a constant learning rate (``ReduceLROnPlateau`` does), or a schedule or a
        callable to replace the learning rate altogether.  Assigning a float to an optimizer built with a
        schedule raises ``TypeError``, as in Keras.
        """
        return float(self._current_learning_rate())

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, _schedules.LearningRateSchedule) or callable(value):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, _schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                "constructor argument, hence its learning rate is not settable. If you need the learning rate "
                "to be settable, instantiate the optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = _learning_rate_value(value)

    def _current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return lr(self._iterations)
        if callable(lr):
            return lr()
        return lr

    # -- iterations ----------------------------------------------------------------------------------------------

    @property
    def iterations(self) -> int:
        """How many times :meth:`apply` has updated the variables."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"Argument `iterations` must be an integer >= 0; received iterations={value!r}.")
        self._iterations = int(value)

    # -- state ---------------------------------------------------------------------------------------------------

    def _slot_initializers(self, variable) -> dict:
        """``{slot name: initial value}`` of the state to keep for ``variable`` (none by default)."""
        return {}

    def _ensure_state(self, variable) -> dict:
        path = variable.path
        state = self._state.get(path)
        value = variable.value
        if state is None:
            state = {name: np.full(value.shape, init, dtype=value.dtype)
                     for name, init in self._slot_initializers(variable).items()}
            self._state[path] = state
        else:
            for name, slot in state.items():
                if slot.shape != value.shape:
                    raise ValueError(
                        f"The optimizer state {name!r} of variable {path!r} has shape {slot.shape}, but the "
                        f"variable now has shape {value.shape}. Use a new optimizer for a rebuilt model."
                    )
        return state

    def _global_initializers(self) -> dict:
        """``{name: initial value}`` of the state kept for the optimizer as a whole (none by default)."""
        return {}

    def _ensure_global_state(self, variables):
        if not self._global_state and variables:
            dtype = variables[0].value.dtype
            self._global_state = {name: np.array(init, dtype=dtype)
                                  for name, init in self._global_initializers().items()}
        return self._global_state

    def build(self, variables):
        """Create the state of ``variables`` now (it is otherwise created on their first update)."""
        variables = list(variables)
        for v in variables:
            self._check_variable(v)
        self._check_unique_paths(variables)
        for v in variables:
            self._ensure_state(v)
        self._ensure_global_state(variables)
        self._trainable_variables = variables
        self.built = True

    @property
    def variables(self) -> list:
        """The state arrays, variable by variable in the order they were first seen, then the optimizer's own."""
        return [slot for state in self._state.values() for slot in state.values()] + \
            list(self._global_state.values())

    @property
    def global_state(self) -> dict:
        """``{name: 0-d array}``: the state shared by all variables (Nadam's ``u_product``); treat as read-only."""
        return dict(self._global_state)

    @property
    def state(self) -> dict:
        """``{variable path: {slot name: array}}`` (the arrays themselves: treat them as read-only)."""
        return {path: dict(slots) for path, slots in self._state.items()}

    def get_slot(self, variable, name: str) -> np.ndarray:
        """The state array ``name`` (e.g. ``"momentum"``, ``"velocity"``) of ``variable`` (or its path)."""
        path = variable if isinstance(variable, str) else getattr(variable, "path", None)
        if path not in self._state:
            raise KeyError(f"The optimizer has no state for variable {path!r}.")
        slots = self._state[path]
        if name not in slots:
            raise KeyError(f"Variable {path!r} has no optimizer state {name!r}; it has {sorted(slots)}.")
        return slots[name]

    # -- weight decay --------------------------------------------------------------------------------------------

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude the variables of ``var_list`` (by path) and those whose name matches any of the regular
        expressions ``var_names`` from weight decay."""
        self._exclude_paths = {v.path for v in (var_list or [])}
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None

    def _use_weight_decay(self, variable) -> bool:
        if variable.path in self._exclude_paths:
            return False
        if self._exclude_pattern is not None and self._exclude_pattern.search(variable.name or "") is not None:
            return False
        return True

    # -- applying gradients --------------------------------------------------------------------------------------

    @staticmethod
    def _check_variable(variable):
        value = getattr(variable, "value", None)
        path = getattr(variable, "path", None)
        if not isinstance(path, str) or not isinstance(value, np.ndarray):
            raise TypeError(
                "Optimizers update rnnlab Variables (objects with a NumPy `.value` and a string `.path`); "
                f"received {variable!r} of type {type(variable).__name__}."
            )
        if value.dtype.kind != "f":
            raise TypeError(
                f"Variable {path!r} must have a float dtype to be optimized; it has dtype {value.dtype}."
            )

    @staticmethod
    def _check_unique_paths(variables):
        seen = set()
        for v in variables:
            if v.path in seen:
                raise ValueError(
                    f"Two variables share the path {v.path!r}; optimizer state is keyed by path, so every "
                    "variable updated in one call must have a unique path."
                )
            seen.add(v.path)

    @staticmethod
    def _to_gradient(grad, variable) -> np.ndarray:
        if hasattr(grad, "numpy") and not isinstance(grad, np.ndarray):  # tf / torch tensors
            grad = grad.numpy()
        try:
            arr = np.asarray(grad)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"The gradient of variable {variable.path!r} must be a numeric array; could not convert it "
                f"({exc})."
            ) from None
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"The gradient of variable {variable.path!r} must be a numeric array; received dtype {arr.dtype}."
            )
        if arr.shape != variable.value.shape:
            raise ValueError(
                f"The gradient of variable {variable.path!r} has the wrong shape: expected "
                f"{tuple(variable.value.shape)}, received {tuple(arr.shape)}."
            )
        return arr.astype(variable.value.dtype, copy=False)

    def apply_gradients(self, grads_and_vars):
        """Apply ``[(gradient, variable), ...]``; returns the new ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        for p in pairs:
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                raise ValueError(
                    "Argument `grads_and_vars` must be a list of (gradient, variable) pairs; received an item "
                    f"{p!r}."
                )
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """Update ``trainable_variables`` in place from ``grads`` (one gradient per variable, same order).

        Without ``trainable_variables`` the gradients are matched with the variables of :meth:`build`.
        """
        grads = list(grads)
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `trainable_variables`, the optimizer must already be built "
                    "on a list of variables. Call `optimizer.build(trainable_variables)` first."
                )
            trainable_variables = self._trainable_variables
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"Expected one gradient per variable: received {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        for v in trainable_variables:
            self._check_variable(v)
        self._check_unique_paths(trainable_variables)

        # Validate everything before touching any variable or state.
        kept_grads, kept_vars, missing = [], [], []
        for g, v in zip(grads, trainable_variables):
            if g is None:
                missing.append(v.path)
                continue
            kept_grads.append(self._to_gradient(g, v))
            kept_vars.append(v)
        if not kept_grads:
            raise ValueError(f"No gradients provided for any variable: {missing}.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                "`model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=2,
            )
        states = [self._ensure_state(v) for v in kept_vars]
        self._ensure_global_state(trainable_variables)
        if not self.built:
            self._trainable_variables = list(trainable_variables)
            self.built = True

        lr = self._current_learning_rate()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.loss_scale_factor is not None:
                kept_grads = [g / g.dtype.type(self.loss_scale_factor) for g in kept_grads]
            kept_grads = self._clip_gradients(kept_grads)
            if self.weight_decay is not None:
                for v in kept_vars:
                    if self._use_weight_decay(v):
                        value = v.value
                        value -= value * keras_cast(self.weight_decay, value.dtype) * value.dtype.type(lr)
            self._before_update_steps()
            for g, v, state in zip(kept_grads, kept_vars, states):
                self._update_step(g, v.value, v.value.dtype.type(lr), state)
        # As Keras, a variable's constraint (a callable on its array, if the variable has one) runs after
        # the update.
        for v in kept_vars:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                v.value[...] = constraint(v.value)
        self._iterations += 1

    def _clip_gradients(self, grads):
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            c = self.clipvalue
            return [np.clip(g, g.dtype.type(-c), g.dtype.type(c)) for g in grads]
        return grads

    def _before_update_steps(self) -> None:
        """Advance the optimizer's own state once per update, before any variable is updated (no-op here)."""

    def _update_step(self, grad: np.ndarray, value: np.ndarray, lr, state: dict) -> None:
        """Update ``value`` (the variable's array) in place; ``lr`` is in its dtype, ``state`` its slots."""
        raise NotImplementedError(f"Optimizer '{type(self).__name__}' must implement `_update_step`.")

    # -- config --------------------------------------------------------------------------------------------------

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif not callable(lr):
            lr = float(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        if not isinstance(config, dict):
            raise TypeError(f"Argument `config` must be a dict; received config={config!r}.")
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}, learning_rate={self.learning_rate:g}, " \
               f"iterations={self._iterations}>"
