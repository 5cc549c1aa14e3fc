"""The layer base class, weight variables, and symbolic tensors for graph building.

A layer is called either on arrays (eager: it computes and returns NumPy arrays) or on symbolic
:class:`KerasTensor` objects such as ``rnnlab.Input(...)`` (graph building: it records a :class:`Node`
and returns symbolic outputs with their shapes).  Models replay the recorded nodes.
"""
from __future__ import annotations

import inspect
import re

import numpy as np

from rnnlab import backend, initializers, nest

_NAME_COUNTS: dict[str, int] = {}


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``... as Keras names layers."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


class Variable:
    """A named weight: ``.value`` is the array, ``.path`` its full name such as ``lstm/lstm_cell/kernel``."""

    def __init__(self, value, name: str, owner, trainable: bool = True):
        self.value = value
        self.name = name
        self._owner = owner
        self.trainable = trainable

    @property
    def path(self) -> str:
        return f"{self._owner.path}/{self.name}"

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype.name

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def assign(self, value, argument: str = "value"):
        arr = backend.to_float_array(value, self.value.dtype.name, argument)
        if arr.shape != self.value.shape:
            raise ValueError(
                f"Cannot assign to variable {self.path!r}: expected shape {self.value.shape}, "
                f"received shape {arr.shape}."
            )
        self.value[...] = arr

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


class KerasTensor:
    """A symbolic tensor: a shape (``None`` for unknown sizes), a dtype, and where it came from."""

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._history = history  # (layer, node_index, tensor_index)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer on symbolic inputs: the call's arguments and the symbolic outputs it produced."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [t for t in nest.flatten([list(call_args), list(call_kwargs.values())])
                              if isinstance(t, KerasTensor)]

    @property
    def is_input(self):
        return not self.input_tensors and not self.call_args

    @property
    def parent_nodes(self):
        return [t._history[0]._inbound_nodes[t._history[1]] for t in self.input_tensors]


class MaskedArray(np.ndarray):
    """A NumPy array that carries a Keras mask (``_keras_mask``, ``(B, T)`` booleans) between eager calls.

    Layers that produce or pass on a mask (Masking, Embedding with ``mask_zero``, recurrent layers with
    ``return_sequences``...) return one, so that ``lstm(masking(x))`` sees the mask as in Keras.  Any
    arithmetic on it gives an array without a mask.
    """

    def __array_finalize__(self, obj):
        self._keras_mask = None

    def __repr__(self):
        return repr(self.view(np.ndarray))


def attach_mask(array, mask):
    """``array`` as a :class:`MaskedArray` carrying ``mask`` (or unchanged when ``mask`` is None)."""
    if mask is None or not isinstance(array, np.ndarray):
        return array
    out = array.view(MaskedArray)
    out._keras_mask = mask
    return out


def has_other_tensor_args(args, kwargs) -> bool:
    """Whether a call passes arrays besides its first argument (e.g. ``initial_state``).

    Keras 3.15 fills in a layer's ``mask`` from its input only when the call has exactly one tensor argument;
    a recurrent layer called with ``initial_state`` tensors therefore runs unmasked unless ``mask=`` is given.
    """
    others = list(args[1:]) + [v for k, v in kwargs.items() if k not in ("mask", "training")]
    return any(isinstance(t, (np.ndarray, KerasTensor)) or hasattr(t, "__array__")
               for t in nest.flatten(others) if t is not None)


def _is_symbolic(*structures) -> bool:
    return any(isinstance(t, KerasTensor) for t in nest.flatten(list(structures)))


class Layer:
    """Base class of every rnnlab layer, following Keras 3's ``Layer`` contract.

    Subclasses implement ``build(input_shape)``, ``call(inputs, ...)`` and ``compute_output_shape(...)``; they
    may override ``compute_mask``.  Weights are created with :meth:`add_weight`; sublayers are listed by
    :meth:`_sublayers` in the order their weights appear in ``get_weights()``.
    """

    supports_masking = False
    _KNOWN_BASE_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "input_dim", "weights",
                          "activity_regularizer", "autocast")

    def __init__(self, name=None, dtype=None, trainable=True, **kwargs):
        unknown = [k for k in kwargs if k not in self._KNOWN_BASE_KWARGS]
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) {unknown}; "
                "see the Keras documentation of this layer for its arguments."
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a string; received name={name!r}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.dtype = backend.standardize_dtype(dtype)
        self.trainable = trainable
        self.built = False
        self._own_weights: list[Variable] = []
        self._inbound_nodes: list[Node] = []
        self._parent = None
        self._initial_weights = kwargs.get("weights")
        self._batch_input_shape = None
        if kwargs.get("batch_input_shape") is not None:
            self._batch_input_shape = tuple(kwargs["batch_input_shape"])
        elif kwargs.get("input_shape") is not None:
            self._batch_input_shape = (kwargs.get("batch_size"),) + tuple(kwargs["input_shape"])
        elif kwargs.get("input_dim") is not None:
            self._batch_input_shape = (kwargs.get("batch_size"), kwargs["input_dim"])

    # ----------------------------------------------------------------- naming and weights
    @property
    def path(self) -> str:
        return f"{self._parent.path}/{self.name}" if self._parent is not None else self.name

    def _sublayers(self) -> list["Layer"]:
        return []

    def _track(self, sublayer: "Layer") -> "Layer":
        sublayer._parent = self
        return sublayer

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None):
        """Create a weight of this layer, as Keras's ``Layer.add_weight`` (same argument names and order).

        ``initializer`` is a name, a config dict or a callable ``(shape, dtype) -> array`` (default
        ``"glorot_uniform"`` for floats). Regularizers and constraints are not implemented yet, so passing one
        is refused rather than ignored.
        """
        if isinstance(shape, str) and name is None or isinstance(shape, str) and isinstance(name, (tuple, list)):
            raise TypeError(
                f"Argument `shape` of add_weight() must be a tuple of ints; received shape={shape!r}. The "
                "arguments are Keras's: add_weight(shape, initializer, dtype, trainable, ..., name=...)."
            )
        if shape is None:
            shape = ()
        try:
            shape = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise TypeError(f"Argument `shape` of add_weight() must be a tuple of ints; received shape={shape!r}.")
        if any(d < 0 for d in shape):
            raise ValueError(f"Argument `shape` of add_weight() must not be negative; received shape={shape}.")
        for arg, value in (("regularizer", regularizer), ("constraint", constraint)):
            if value is not None:
                raise ValueError(
                    f"Argument `{arg}` of add_weight() is not supported by rnnlab yet; received {arg}={value!r}. "
                    "Leave it as None."
                )
        name = name if name is not None else f"variable_{len(self._own_weights)}"
        initializer = "glorot_uniform" if initializer is None else initializer
        init = initializers.get(initializer, f"{name}_initializer") if not callable(initializer) or \
            isinstance(initializer, (str, dict)) else initializer
        value = np.asarray(init(tuple(shape), dtype or self.dtype), dtype=dtype or self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(f"Initializer for {name!r} returned shape {value.shape}, expected {tuple(shape)}.")
        var = Variable(np.ascontiguousarray(value), name, self, trainable=trainable)
        self._own_weights.append(var)
        return var

    @property
    def weights(self) -> list[Variable]:
        own = [w for w in self._own_weights if w.trainable] + [w for w in self._own_weights if not w.trainable]
        out = list(own)
        for layer in self._sublayers():
            out.extend(layer.weights)
        return out

    @property
    def trainable_weights(self) -> list[Variable]:
        """The weights training changes: none of a frozen layer (``trainable=False``) or of its sublayers, as in
        Keras, where freezing a layer inside a model freezes it for ``fit``."""
        if not self.trainable:
            return []
        out = [w for w in self._own_weights if w.trainable]
        for layer in self._sublayers():
            out.extend(layer.trainable_weights)
        return out

    @property
    def non_trainable_weights(self) -> list[Variable]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    @property
    def variables(self):
        return self.weights

    def get_weights(self) -> list[np.ndarray]:
        """The weight arrays in Keras's order, as copies."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set every weight from a list in Keras's order; counts and shapes must match exactly."""
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} has no weights yet: call it on an input (or build it) before set_weights()."
            )
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"Argument `weights` must be a list of arrays; received {type(weights).__name__}.")
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name!r} expects {len(params)} weight arrays in set_weights(); "
                f"received {len(weights)}. Expected shapes: {[tuple(p.shape) for p in params]}."
            )
        arrays = []
        for i, (p, w) in enumerate(zip(params, weights)):
            arr = backend.to_float_array(w, p.value.dtype.name, f"weights[{i}]")
            if arr.shape != p.shape:
                raise ValueError(
                    f"Argument `weights[{i}]` ({p.path}) must have shape {tuple(p.shape)}; "
                    f"received shape {arr.shape}."
                )
            arrays.append(arr)
        for p, arr in zip(params, arrays):
            p.value[...] = arr

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(f"Layer {self.name!r} is not built yet: call it on an input first.")
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    # ----------------------------------------------------------------- building
    def build(self, input_shape):
        self.built = True

    def _maybe_build(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True
            if self._initial_weights is not None:
                self.set_weights(self._initial_weights)
                self._initial_weights = None

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return tuple(input_shape)

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    # ----------------------------------------------------------------- calling
    def call(self, inputs, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def _call_params(self):
        """The names of ``call``'s parameters (cached per class: signature inspection is slow)."""
        cls = type(self)
        params = cls.__dict__.get("_call_params_cache")
        if params is None:
            params = tuple(inspect.signature(self.call).parameters)
            cls._call_params_cache = params
        return params

    #: Optional ``_fast_call(x) -> outputs or None``: a shortcut for the plain call ``layer(x)`` on an ndarray
    #: (no mask, no other arguments); ``None`` from it means "take the general path".
    _fast_call = None
    #: True when ``_fast_call`` (and so ``layer(x)``) refuses NaN/Inf in ``x`` with the error
    #: ``backend.to_float_array(x, dtype, "inputs")`` raises: a model whose input goes straight into such a
    #: layer leaves that check to it instead of scanning the input twice.
    _fast_call_checks_finite = False

    def __call__(self, *args, **kwargs):
        fast = self._fast_call
        if fast is not None and len(args) == 1 and not kwargs and type(args[0]) is np.ndarray and self.built:
            outputs = fast(args[0])
            if outputs is not None:
                return outputs
        params = self._call_params()
        for key in ("mask", "training"):  # Keras drops these when the layer's call does not take them
            if key in kwargs and key not in params:
                kwargs.pop(key)
        if not args:
            raise TypeError(f"{type(self).__name__} must be called with at least one input argument.")
        if _is_symbolic(list(args), list(kwargs.values())):
            return self._symbolic_call(args, kwargs)
        inputs = args[0]
        in_mask = kwargs.get("mask")
        if in_mask is None:
            in_mask = nest.map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
            if "mask" in params and any(m is not None for m in nest.flatten(in_mask)) and \
                    not has_other_tensor_args(args, kwargs):
                kwargs["mask"] = in_mask
        outputs = self._eager_call(*args, **kwargs)
        if not any(m is not None for m in nest.flatten(in_mask)):
            in_mask = None
        out_mask = self.compute_mask(inputs, in_mask)
        if out_mask is None:
            return outputs
        if nest.is_nested(outputs):
            masks = out_mask if nest.is_nested(out_mask) else [out_mask] + [None] * (len(outputs) - 1)
            return type(outputs)(attach_mask(o, m) for o, m in zip(outputs, masks))
        return attach_mask(outputs, out_mask[0] if nest.is_nested(out_mask) else out_mask)

    def _eager_call(self, inputs, *args, **kwargs):
        inputs = self._convert_inputs(inputs)
        self._maybe_build(self._shape_of(inputs))
        return self.call(inputs, *args, **kwargs)

    def _convert_inputs(self, inputs):
        return nest.map_structure(lambda x: backend.to_float_array(x, self.dtype, "inputs"), inputs)

    @staticmethod
    def _shape_of(inputs):
        return nest.map_structure(lambda x: tuple(x.shape), inputs)

    def _symbolic_call(self, args, kwargs):
        inputs = args[0]
        if not nest.flatten(inputs) or not all(isinstance(t, KerasTensor) for t in nest.flatten(inputs)):
            raise TypeError(
                f"Layer {self.name!r}: when building a model, the first argument must be a symbolic tensor "
                "(from rnnlab.Input or another layer); received arrays mixed with symbolic tensors."
            )
        input_shape = self._shape_of(inputs)
        self._check_input_shape(input_shape)
        self._maybe_build(input_shape)
        extra = {k: (self._shape_of(v) if _is_symbolic(v) else v) for k, v in kwargs.items()
                 if k not in ("mask", "training")}
        out_shape = self.compute_output_shape(input_shape, *[self._shape_of(a) for a in args[1:]], **extra)
        node_index = len(self._inbound_nodes)
        out_dtype = self.dtype
        flat_shapes = _flatten_shapes(out_shape)
        tensors = [KerasTensor(s, out_dtype, name=f"{self.name}_{i}" if i else self.name,
                               history=(self, node_index, i)) for i, s in enumerate(flat_shapes)]
        outputs = _pack_shapes(out_shape, tensors)
        self._inbound_nodes.append(Node(self, args, kwargs, outputs))
        return outputs

    def _check_input_shape(self, input_shape):
        """Hook for subclasses to validate a symbolic input shape before building."""

    # ----------------------------------------------------------------- training
    def forward_backward(self, inputs, *args, training=True, grads=None, **kwargs):
        """The training call: ``(outputs, backward)``.

        ``backward(d_outputs)`` takes the loss gradients w.r.t. the outputs (same structure), adds the
        gradients of this layer's weights to ``grads`` (a dict ``Variable -> array``) and returns
        ``(d_inputs, d_other)``: the gradient w.r.t. the first argument and a dict of gradients w.r.t. other
        tensor arguments (such as ``initial_state``). Each layer writes its backward beside its forward.
        """
        raise TypeError(f"Layer {self.name!r} ({type(self).__name__}) cannot be trained: it has no backward pass.")

    def _prepare_inputs(self, inputs):
        """Convert and validate the first argument of a call (eager or training), and build the layer."""
        inputs = self._convert_inputs(inputs)
        self._check_input_shape(tuple(np.shape(inputs)))
        self._maybe_build(self._shape_of(inputs))
        return inputs

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _is_shape(x) -> bool:
    return isinstance(x, tuple) and all(d is None or isinstance(d, (int, np.integer)) for d in x)


def _flatten_shapes(structure) -> list:
    if _is_shape(structure):
        return [structure]
    out = []
    for item in structure:
        out.extend(_flatten_shapes(item))
    return out


def _pack_shapes(structure, tensors):
    pos = 0

    def build(s):
        nonlocal pos
        if _is_shape(s):
            t = tensors[pos]
            pos += 1
            return t
        return type(s)(build(item) for item in s)

    return build(structure)


# ------------------------------------------------------------------ shared by layers and cells
def check_units(units, argument="units"):
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
        raise ValueError(f"Argument `{argument}` must be a positive integer; received {argument}={units!r}.")
    return int(units)


def check_rate(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"Argument `{name}` must be a float in [0, 1]; received {name}={value!r}.")
    return min(1.0, max(0.0, float(value)))


def serialize_optional(obj):
    if obj is None:
        return None
    if hasattr(obj, "get_config"):
        return {"class_name": type(obj).__name__, "config": obj.get_config()}
    return obj


def add_grad(grads, variable, value):
    """Accumulate ``value`` into ``grads[variable]`` (gradients of a variable used several times add up)."""
    if grads is None:
        return
    if variable in grads:
        np.add(grads[variable], value, out=grads[variable])  # in place: the first value stored is owned below
    else:
        grads[variable] = np.array(value, dtype=variable.value.dtype)  # a private, writable copy


#: The key under which a training step's ``grads`` dict collects the updates of non-trainable variables.
STATE_UPDATES = "__state_updates__"


def add_state_update(grads, variable, update):
    """Schedule ``variable <- update(variable's value)`` from a training call, for state that is not learned by
    gradients (BatchNormalization's moving statistics).

    In a training step (``grads`` is the step's dict) the update waits in ``grads[STATE_UPDATES]``; the trainer
    applies the step's updates in the order they were made, after the optimizer step
    (:func:`apply_state_updates`), so that a forward-backward pass itself changes nothing.  Outside one
    (``grads`` is None: a plain call with ``training=True``) it is applied at once, as Keras's layer call does.
    """
    if grads is None:
        variable.value[...] = update(variable.value)
    else:
        grads.setdefault(STATE_UPDATES, []).append((variable, update))


def apply_state_updates(grads):
    """Apply (and remove) the updates :func:`add_state_update` collected in ``grads``; each one reads the value
    the previous ones left, as Keras's assignments during the forward pass would."""
    for variable, update in grads.pop(STATE_UPDATES, ()):
        variable.value[...] = update(variable.value)
