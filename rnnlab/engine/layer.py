"""The layer base class, weight variables, and symbolic tensors for graph building.

A layer is called either on arrays (eager: it computes and returns NumPy arrays) or on symbolic
:class:`KerasTensor` objects such as ``rnnlab.Input(...)`` (graph building: it records a :class:`Node`
and returns symbolic outputs with their shapes).  Models replay the recorded nodes.
"""
from __future__ import annotations

import inspect
import re
import warnings

import numpy as np

from rnnlab import backend, constraints, initializers, nest, regularizers
from rnnlab.engine.allocation import charge_weights
from rnnlab.engine.input_spec import assert_input_compatibility
from rnnlab.ops import dispatch
from rnnlab.ops.tensor import Tape, Tensor, active_tape, backward as backpropagate, record_many, unwrap

from rnnlab.backend import _NAME_COUNTS  # noqa: E402  (cleared by backend.clear_session)
_CALL_DEPTH: list = []  # the layers whose eager __call__ is running (the first is the top-level call)


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``... as Keras names layers."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """Keras's default-name form of a class name: ``SimpleRNN`` -> ``simple_rnn``, ``ConvLSTM2D`` ->
    ``conv_lstm2d`` (a digit does not start a new word)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


class Variable:
    """A named weight: ``.value`` is the array, ``.path`` its full name such as ``lstm/lstm_cell/kernel``.

    In layer code it behaves as a Keras variable: ``x @ self.kernel + self.bias`` and ``rnnlab.ops`` functions
    take it directly, and while the layer trains, that use is recorded for the weight's gradient.
    ``regularizer`` (a penalty on the value, added to the training loss) and ``constraint`` (a projection the
    optimizer applies after each update) are set by :meth:`Layer.add_weight`, as on a Keras variable.
    """

    _is_rnnlab_variable = True  # what rnnlab.ops recognises (it sits below this module)
    regularizer = None
    constraint = None

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

    @property
    def ndim(self):
        return self.value.ndim

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return dispatch.numpy_ufunc(ufunc, method, inputs, kwargs)

    def assign_add(self, value):
        self.assign(self.value + np.asarray(unwrap(value)))

    def assign_sub(self, value):
        self.assign(self.value - np.asarray(unwrap(value)))

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


# Arithmetic, ``@``, indexing and comparisons as ops (``==``/``!=`` stay identity: variables are dict keys).
dispatch.install_operators(Variable)
Variable.__eq__ = object.__eq__
Variable.__ne__ = object.__ne__
Variable.__hash__ = object.__hash__


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


def _holds_tensor(value) -> bool:
    """Whether a call argument is, or holds, an array or a symbolic tensor."""
    return any(isinstance(t, (np.ndarray, KerasTensor)) or hasattr(t, "__array__")
               for t in nest.flatten(value) if t is not None)


def mask_arguments(layer, args, kwargs, mask_of) -> dict:
    """The mask arguments Keras 3.15 fills in for a call (step 6 of its ``Layer.__call__``), as a dict to add to
    the call's keyword arguments.

    A call with one tensor argument (a tensor or a list of them) gets ``mask=`` the masks ``mask_of(t)`` of
    that argument; a call with several gets ``<name>_mask=`` for each tensor argument ``<name>`` that has such a
    parameter (MultiHeadAttention's ``query_mask``, ``value_mask``, ``key_mask``). Arguments given explicitly
    stay, except those the layer lists in ``_masks_from_inputs`` (``{argument: tensor argument}``): Keras
    reads them from the tensor itself, whatever the call passed. Masks that are all None are not filled in.
    """
    params = layer._call_params()
    tensors = dict(zip(params, args))
    tensors.update((k, v) for k, v in kwargs.items() if k not in ("mask", "training"))
    tensors = {k: v for k, v in tensors.items() if v is not None and _holds_tensor(v)}
    found = {}
    if len(tensors) == 1:
        if "mask" in params and kwargs.get("mask") is None:
            found["mask"] = nest.map_structure(mask_of, next(iter(tensors.values())))
    else:
        forced = getattr(layer, "_masks_from_inputs", {})
        for name, value in tensors.items():
            key = f"{name}_mask"
            if key in params and (kwargs.get(key) is None or key in forced):
                found[key] = nest.map_structure(mask_of, value)
        for key, name in forced.items():
            if key in kwargs and key not in found:
                found[key] = None  # the tensor it comes from is absent: Keras passes no mask
    return {k: v for k, v in found.items() if v is None and k in kwargs or any(
        m is not None for m in nest.flatten(v))}


def _is_symbolic(*structures) -> bool:
    return any(isinstance(t, KerasTensor) for t in nest.flatten(list(structures)))


class Layer:
    """Base class of every rnnlab layer, following Keras 3's ``Layer`` contract.

    Subclasses implement ``build(input_shape)``, ``call(inputs, ...)`` and ``compute_output_shape(...)``; they
    may override ``compute_mask``.  Weights are created with :meth:`add_weight`; sublayers are listed by
    :meth:`_sublayers` in the order their weights appear in ``get_weights()``.
    """

    _KNOWN_BASE_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "input_dim", "weights",
                          "activity_regularizer", "autocast")

    #: An :class:`~rnnlab.engine.input_spec.InputSpec` (or a list of them) every call's inputs must meet.
    input_spec = None

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
        self._losses: list = []  # this layer's activity-regularization losses from its latest call
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"), "activity_regularizer")
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

    def _training_rng(self):
        """The generator of this layer's random draws in training (dropout masks, noise), or None when it draws
        nothing.  ``fit`` draws the layer's key from it (:mod:`rnnlab.random`); outside ``fit`` the draws come
        from it directly."""
        return None

    def _sublayers(self) -> list["Layer"]:
        """The layers this one owns, in the order their weights follow its own in ``weights``.

        By default (a user's layer), the layers held in its attributes, directly or in lists, tuples and dicts,
        in the order the attributes were first set, as Keras tracks them. Built-in layers list theirs.
        """
        found, seen = [], {id(self)}
        for key, value in vars(self).items():
            if key == "_parent":
                continue
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) \
                else (value,)
            for item in items:
                if isinstance(item, Layer) and id(item) not in seen:
                    seen.add(id(item))
                    if item._parent is None:
                        item._parent = self
                    found.append(item)
        return found

    def _track(self, sublayer: "Layer") -> "Layer":
        sublayer._parent = self
        return sublayer

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None):
        """Create a weight of this layer, as Keras's ``Layer.add_weight`` (same argument names and order).

        ``initializer`` is a name, a config dict or a callable ``(shape, dtype) -> array`` (default
        ``"glorot_uniform"`` for floats). ``regularizer`` (a name, config dict, Regularizer or callable) adds its
        penalty of the weight to ``layer.losses`` and to the training loss; ``constraint`` (likewise, from
        :mod:`rnnlab.constraints`) projects the weight after each optimizer update.
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
        regularizer = regularizers.get(regularizer, "regularizer")
        constraint = constraints.get(constraint, "constraint")
        name = name if name is not None else f"variable_{len(self._own_weights)}"
        initializer = "glorot_uniform" if initializer is None else initializer
        init = initializers.get(initializer, f"{name}_initializer") if not callable(initializer) or \
            isinstance(initializer, (str, dict)) else initializer
        charge_weights(shape, f"weight {self.name}/{name}")  # a file being loaded may only ask for what it stores
        value = np.asarray(init(tuple(shape), dtype or self.dtype), dtype=dtype or self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(f"Initializer for {name!r} returned shape {value.shape}, expected {tuple(shape)}.")
        var = Variable(np.array(value, order="C"), name, self, trainable=trainable)  # (a 0-d weight stays 0-d)
        var.regularizer, var.constraint = regularizer, constraint
        self._own_weights.append(var)
        return var

    @property
    def weights(self) -> list[Variable]:
        own = [w for w in self._own_weights if w.trainable] + [w for w in self._own_weights if not w.trainable]
        out = list(own)
        for layer in self._sublayers():
            out.extend(layer.weights)
        if len(out) > 1 and len({id(w) for w in out}) < len(out):  # a layer reached twice: its weights once
            seen = set()
            out = [w for w in out if not (id(w) in seen or seen.add(id(w)))]
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

    # ----------------------------------------------------------------- regularization losses
    def _flatten_layers(self) -> list["Layer"]:
        """Every layer nested in this one (not itself), depth first, each once."""
        out, seen = [], {id(self)}
        stack = list(reversed(self._sublayers()))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return out

    @property
    def losses(self) -> list:
        """The regularization losses, as Keras's ``layer.losses``: the activity-regularizer losses of the latest
        call of this layer and of the layers in it, then ``regularizer(weight)`` for each trainable weight
        that has a regularizer, computed from its current value. Scalars in the weights' dtype."""
        out = list(self._losses)
        for layer in self._flatten_layers():
            out.extend(getattr(layer, "_losses", ()))
        out.extend(v.regularizer(v.value) for v in self.trainable_weights if v.regularizer is not None)
        return out

    def _clear_losses(self) -> None:
        self._losses.clear()
        for layer in self._flatten_layers():
            if hasattr(layer, "_losses"):
                layer._losses.clear()

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

    # ----------------------------------------------------------------- symbolic history
    @property
    def input(self):
        """The symbolic input tensor(s) of this layer's first call in a model, as Keras's ``layer.input``."""
        return self._first_node_tensors("input")

    @property
    def output(self):
        """The symbolic output tensor(s) of this layer's first call in a model, as Keras's ``layer.output``."""
        return self._first_node_tensors("output")

    def _first_node_tensors(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        node = self._inbound_nodes[0]
        values = node.input_tensors if what == "input" else nest.flatten(node.outputs)
        return values[0] if len(values) == 1 else values

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

    @property
    def supports_masking(self) -> bool:
        """Whether the layer's outputs carry a mask on from its inputs.  As in Keras 3 it defaults to whether the
        class overrides :meth:`compute_mask`; a subclass may set it (class attribute or ``self.supports_masking``)."""
        value = self.__dict__.get("_supports_masking")
        return type(self).compute_mask is not Layer.compute_mask if value is None else value

    @supports_masking.setter
    def supports_masking(self, value):
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    def output_mask(self, inputs, mask):
        """The mask this layer's outputs carry for ``inputs`` with ``mask`` (a structure of masks or None), as
        Keras 3 sets it: ``compute_mask`` when the layer supports masking; otherwise none, with Keras's warning
        (once per layer) when a mask was there to be lost."""
        if not any(m is not None for m in nest.flatten(mask)):
            mask = None
        if self.supports_masking:
            return self.compute_mask(inputs, mask)
        if mask is not None and not self.__dict__.get("_warned_mask_lost"):
            self.__dict__["_warned_mask_lost"] = True
            warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input with a mask "
                          "attached to it. However, this layer does not support masking and will therefore "
                          "destroy the mask information. Downstream layers will not see the mask.", stacklevel=3)
        return None

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
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, args[0], self.name)
        flat_args = nest.flatten([list(args), list(kwargs.values())])
        if any(isinstance(t, KerasTensor) for t in flat_args):
            return self._symbolic_call(args, kwargs)
        if any(isinstance(t, Tensor) for t in flat_args):
            return self._recorded_call(args, kwargs)
        inputs = args[0]
        in_mask = kwargs.get("mask")
        if in_mask is None:
            in_mask = nest.map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
        kwargs.update(mask_arguments(self, args, kwargs, lambda t: getattr(t, "_keras_mask", None)))
        top_level = not _CALL_DEPTH and active_tape() is None
        if top_level:
            self._clear_losses()  # a call's losses replace the previous call's, as in Keras
        _CALL_DEPTH.append(self)
        try:
            outputs = self._eager_call(*args, **kwargs)
        finally:
            _CALL_DEPTH.pop()
        if top_level and self.activity_regularizer is not None:  # a layer called on its own (a model records
            self._losses[:] = activity_penalties(self.activity_regularizer, outputs)  # its layers' itself)
        out_mask = self.output_mask(inputs, in_mask)
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
        if self._infers_output_by_running():
            out_shape, out_dtypes = self._probe_output_shape(args, kwargs)
        else:
            out_shape = self.compute_output_shape(input_shape, *[self._shape_of(a) for a in args[1:]], **extra)
            out_dtypes = None
        node_index = len(self._inbound_nodes)
        flat_shapes = _flatten_shapes(out_shape)
        out_dtypes = out_dtypes or [self._symbolic_output_dtype()] * len(flat_shapes)
        tensors = [KerasTensor(s, d, name=f"{self.name}_{i}" if i else self.name,
                               history=(self, node_index, i)) for i, (s, d) in enumerate(zip(flat_shapes, out_dtypes))]
        outputs = _pack_shapes(out_shape, tensors)
        self._inbound_nodes.append(Node(self, args, kwargs, outputs))
        return outputs

    def _check_input_shape(self, input_shape):
        """Hook for subclasses to validate a symbolic input shape before building."""

    def _infers_output_by_running(self) -> bool:
        """Whether a symbolic call finds the output shapes and dtypes by running ``call`` on zeros
        (:meth:`_probe_output_shape`): for a user's layer without ``compute_output_shape`` (and a Lambda
        without ``output_shape``)."""
        return type(self).compute_output_shape is Layer.compute_output_shape and _is_user_code(type(self).call)

    def _probe_output_shape(self, args, kwargs):
        """Output shapes and dtypes of a user's layer without ``compute_output_shape``: Keras traces ``call``
        symbolically; rnnlab runs it twice on zeros, with different sizes for the unknown (None) axes, and an
        output axis whose size changes between the two runs is unknown too."""
        runs = []
        for fill in (2, 3):
            def probe(t):
                if not isinstance(t, KerasTensor):
                    return t
                shape = tuple(fill if d is None else d for d in t.shape)
                return np.zeros(shape, t.dtype if t.dtype != "string" else "float32")

            p_args = [nest.map_structure(probe, a) for a in args]
            p_kwargs = {k: nest.map_structure(probe, v) for k, v in kwargs.items() if k != "mask"}
            if "training" in p_kwargs and "training" not in self._call_params():
                p_kwargs.pop("training")
            try:
                outputs = self.call(*p_args, **p_kwargs)
            except Exception as exc:
                raise ValueError(
                    f"Layer {self.name!r} ({type(self).__name__}) has no compute_output_shape(), and running its "
                    f"call() on zeros of the input shapes to infer the output shape failed: {exc}. Define "
                    "compute_output_shape(input_shape)."
                ) from exc
            runs.append(nest.map_structure(lambda o: np.asarray(unwrap(o)), outputs))
        flat_a, flat_b = nest.flatten(runs[0]), nest.flatten(runs[1])
        shapes = [tuple(None if da != db else int(da) for da, db in zip(a.shape, b.shape))
                  for a, b in zip(flat_a, flat_b)]
        dtypes = [a.dtype.name for a in flat_a]
        return (nest.pack_like(runs[0], shapes) if nest.is_nested(runs[0]) else shapes[0]), dtypes

    def _symbolic_output_dtype(self):
        """The dtype of the symbolic tensors a call on symbolic inputs returns (an int64 lookup says so)."""
        return self.dtype

    # ----------------------------------------------------------------- training
    def forward_backward(self, inputs, *args, training=True, grads=None, **kwargs):
        """The training call: ``(outputs, backward)``.

        ``backward(d_outputs)`` takes the loss gradients w.r.t. the outputs (same structure), adds the
        gradients of this layer's weights to ``grads`` (a dict ``Variable -> array``) and returns
        ``(d_inputs, d_other)``: the gradient w.r.t. the first argument and a dict of gradients w.r.t. other
        tensor arguments (such as ``initial_state``).

        Built-in layers write their backward beside their forward. This default, for layers written with
        ``rnnlab.ops`` (a user's layer), runs ``call`` on the record (:mod:`rnnlab.ops.tensor`) and derives
        the backward from it; losses the call adds with :meth:`add_loss` get their gradient too.
        """
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, inputs, self.name)
        named = dict(zip(self._call_params()[1:], args))
        named.update((k, v) for k, v in kwargs.items() if k not in ("mask", "training"))
        with Tape(grads, training) as tape:
            leaves_first = nest.map_structure(_leaf_if_float, inputs)
            leaves_other = {k: nest.map_structure(_leaf_if_float, v) for k, v in named.items()}
            call_kwargs = dict(leaves_other)
            if kwargs.get("mask") is not None:
                call_kwargs["mask"] = kwargs["mask"]
            if "training" in self._call_params():
                call_kwargs["training"] = training
            self._maybe_build(self._shape_of(nest.map_structure(unwrap, inputs)))
            outputs = self.call(leaves_first, **call_kwargs)
        flat_out = nest.flatten(outputs)
        check_weights_recorded(f"Layer {self.name!r} ({type(self).__name__})", self.trainable_weights, tape)
        values = nest.map_structure(lambda o: np.asarray(unwrap(o)), outputs)
        losses = list(tape.losses)

        def backward(d_outputs):
            flat_d = nest.flatten(d_outputs) if nest.is_nested(outputs) else [d_outputs]
            targets = flat_out + losses
            seeds = list(flat_d) + [np.ones_like(np.asarray(unwrap(l))) for l in losses]
            grad_of = backpropagate(targets, seeds)
            tape.collect_weight_grads(grad_of)

            def grad(leaf):
                return grad_of(leaf) if isinstance(leaf, Tensor) else None

            d_first = nest.map_structure(grad, leaves_first)
            return d_first, {k: nest.map_structure(grad, v) for k, v in leaves_other.items()}

        return values, backward

    def _recorded_call(self, args, kwargs):
        """A call on Tensors, inside another layer's training call: a layer written with ops just runs (its ops
        record themselves); a built-in layer enters the record as one node whose backward is its own."""
        tape = active_tape()
        training = kwargs.get("training", tape.training if tape is not None else False)
        params = self._call_params()
        in_mask = kwargs.get("mask")
        if in_mask is None:
            in_mask = nest.map_structure(lambda t: getattr(t, "_keras_mask", None), args[0])
        kwargs.update(mask_arguments(self, args, kwargs, lambda t: getattr(t, "_keras_mask", None)))
        if "training" in params:
            kwargs["training"] = training
        if tape is None:  # Tensors outside training: their values, off the record
            outputs = self(*nest.map_structure(unwrap, list(args)),
                           **{k: nest.map_structure(unwrap, v) for k, v in kwargs.items()})
        elif type(self).forward_backward is Layer.forward_backward:
            self._maybe_build(self._shape_of(nest.map_structure(unwrap, args[0])))
            outputs = self.call(*args, **kwargs)
        else:
            outputs = self._call_as_node(tape, args, kwargs)
        out_mask = self.output_mask(nest.map_structure(unwrap, args[0]), in_mask)
        if out_mask is not None:
            flat_out = nest.flatten(outputs)
            masks = nest.flatten(out_mask) if nest.is_nested(out_mask) else [out_mask] + [None] * len(flat_out)
            for o, m in zip(flat_out, masks):
                if isinstance(o, Tensor):
                    o._keras_mask = m
        return outputs

    def _call_as_node(self, tape, args, kwargs):
        """Run a layer with its own backward on the values of Tensors, recorded as one node of the tape."""
        names = list(self._call_params()[1:len(args)])
        named = dict(zip(names, args[1:]))
        named.update((k, v) for k, v in kwargs.items() if k not in ("mask", "training"))
        first_parents = nest.flatten(args[0])
        other = [(k, nest.flatten(v)) for k, v in named.items()]
        parents = first_parents + [t for _, flat in other for t in flat]
        call_kwargs = {k: nest.map_structure(unwrap, v) for k, v in named.items()}
        for key in ("mask", "training"):
            if key in kwargs:
                call_kwargs[key] = nest.map_structure(unwrap, kwargs[key])
        outputs, layer_backward = self.forward_backward(nest.map_structure(unwrap, args[0]), grads=tape.grads,
                                                        **call_kwargs)
        tape.node_weights.update(id(w) for w in self.trainable_weights)
        flat_out = nest.flatten(outputs)

        def vjp(d_flat):
            d_out = nest.pack_like(outputs, d_flat) if nest.is_nested(outputs) else d_flat[0]
            d_first, d_other = layer_backward(d_out)
            grads = nest.flatten(d_first) if nest.is_nested(args[0]) else [d_first]
            for name, flat in other:
                g = d_other.get(name)
                grads.extend(nest.flatten(g) if g is not None and nest.is_nested(named[name]) else
                             [g] if len(flat) == 1 else [None] * len(flat))
            return grads

        recorded = record_many(flat_out, parents, vjp)
        return nest.pack_like(outputs, recorded) if nest.is_nested(outputs) else recorded[0]

    def add_loss(self, loss):
        """Add a scalar loss, from inside ``call``, as Keras's ``Layer.add_loss``: ``fit`` adds it to the loss
        it minimises (and reports), and its gradient reaches the weights it depends on."""
        for value in nest.flatten(loss):
            if not isinstance(value, (Tensor, np.ndarray, np.generic, float, int)):
                raise ValueError(
                    f"Argument `loss` of add_loss() must be a tensor computed in call(); received {value!r}."
                )
            tape = active_tape()
            if tape is not None:
                tape.losses.append(value)  # its gradient flows in this training call's backward
            self._losses.append(np.asarray(unwrap(value)))

    def _prepare_inputs(self, inputs):
        """Convert and validate the first argument of a call (eager or training), and build the layer."""
        inputs = self._convert_inputs(inputs)
        self._check_input_shape(tuple(np.shape(inputs)))
        self._maybe_build(self._shape_of(inputs))
        return inputs

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _is_user_code(fn) -> bool:
    """Whether ``fn`` (a layer's ``call``) was written outside rnnlab: a user's layer."""
    return not getattr(fn, "__module__", "rnnlab").startswith("rnnlab.")


def check_weights_recorded(owner: str, weights, tape) -> None:
    """After a call on the record: refuse a layer none of whose trainable weights reached ``rnnlab.ops``
    (its call used their plain arrays, so it cannot learn), and warn, as Keras does, about single weights
    that got no gradient path."""
    if not weights:
        return
    missing = [w for w in weights if id(w) not in tape.leaves and not _recorded_by_node(w, tape)]
    if not missing:
        return
    names = ", ".join(repr(w.path) for w in missing)
    if len(missing) == len(weights):
        raise TypeError(
            f"{owner} cannot be trained: its call() did not use its weights through rnnlab.ops ({names}). Reading "
            "`.value` or `.numpy()` of a weight, or NumPy functions on it, take it off the record that gradients "
            "follow. Use the weight itself in ops and operators (`ops.matmul(x, self.kernel)`, "
            "`x @ self.kernel + self.bias`)."
        )
    warnings.warn(f"{owner}: no gradient reaches weight(s) {names}: call() did not use them through rnnlab.ops "
                  "in this training step.", stacklevel=3)


def _recorded_by_node(weight, tape) -> bool:
    """Whether a built-in layer, recorded as one node, owns ``weight`` (its backward adds the gradient)."""
    return id(weight) in tape.node_weights


class nested_calls:
    """``with nested_calls(model):`` marks the layer calls inside as parts of one call of ``model`` (a model
    running its graph), so that none of them clears or records losses as a call of its own would."""

    def __init__(self, owner):
        self.owner = owner

    def __enter__(self):
        _CALL_DEPTH.append(self.owner)

    def __exit__(self, *exc):
        _CALL_DEPTH.pop()


def _leaf_if_float(x):
    """A float array as a leaf of the record (integers, masks and None stay as they are)."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(x)
    return x


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


def store_weight_arguments(layer, **weights):
    """For each ``weight=(initializer, regularizer, constraint)``, set ``layer.<weight>_initializer``,
    ``<weight>_regularizer`` and ``<weight>_constraint``, resolved and checked by ``initializers.get``,
    ``regularizers.get`` and ``constraints.get`` (whose errors name the argument): all initializers first, then
    the regularizers, then the constraints, in the order Keras's layers check them."""
    for position, (kind, get) in enumerate((("initializer", initializers.get), ("regularizer", regularizers.get),
                                             ("constraint", constraints.get))):
        for weight, arguments in weights.items():
            setattr(layer, f"{weight}_{kind}", get(arguments[position], f"{weight}_{kind}"))


def weight_arguments_config(layer, *weights):
    """The config entries of what :func:`store_weight_arguments` set for ``weights``: each weight's
    ``<weight>_initializer``, ``_regularizer`` and ``_constraint``, serialized as Keras writes them."""
    config = {}
    for kind, module in (("initializer", initializers), ("regularizer", regularizers), ("constraint", constraints)):
        for weight in weights:
            config[f"{weight}_{kind}"] = module.serialize(getattr(layer, f"{weight}_{kind}"))
    return config


def activity_penalties(regularizer, outputs, with_gradients=False):
    """Keras's activity regularization of one call: ``regularizer(y) / batch_size`` for each output array ``y``
    (of rank >= 1; a scalar output is not divided), as a list of scalars; with ``with_gradients``, also the
    list of ``d penalty / d y`` arrays (zero where the batch is empty, as Keras's ``divide_no_nan``)."""
    penalties, gradients = [], []
    for y in nest.flatten(outputs):
        if y is None or not hasattr(y, "shape"):
            continue
        y = np.asarray(y)
        value = regularizer(y)
        batch = y.shape[0] if y.ndim else 1
        scale = (1.0 / batch) if batch else 0.0
        penalties.append(np.asarray(value * np.asarray(scale, np.asarray(value).dtype))[()])
        if with_gradients:
            gradients.append(regularizers.gradient_of(regularizer, y) * y.dtype.type(scale))
    return (penalties, gradients) if with_gradients else penalties


def refuse_inner_activity_regularizer(inner, wrapper: str, argument: str):
    """rnnlab applies activity regularizers to the layers a model calls, not to layers (or cells) that a wrapper
    runs itself: refuse one there rather than ignore it."""
    if getattr(inner, "activity_regularizer", None) is not None:
        raise ValueError(
            f"Argument `{argument}` of {wrapper} has activity_regularizer={inner.activity_regularizer!r}; rnnlab "
            f"applies activity regularizers only to layers called in a model, not inside {wrapper}. Set "
            f"activity_regularizer on the {wrapper} layer itself, or remove it from `{argument}`."
        )


def add_regularizer_grads(grads, variables):
    """Add ``d regularizer(w) / d w`` to ``grads`` (a dict ``Variable -> array``) for each variable that has a
    regularizer; a regularizer without a gradient raises a TypeError naming the variable."""
    for v in variables:
        if v.regularizer is None:
            continue
        try:
            g = regularizers.gradient_of(v.regularizer, v.value)
        except TypeError as exc:
            raise TypeError(f"Weight {v.path!r}: {exc}") from None
        add_grad(grads, v, g)


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
