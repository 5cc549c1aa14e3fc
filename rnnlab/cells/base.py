"""The cell protocol, the metadata a built-in cell declares, and what the built-in cells share.

**The protocol** is Keras's: a cell is any object with

* ``state_size``: an int (one state tensor ``(B, state_size)``) or a list of ints (several, in order);
* optionally ``output_size`` (default: the first state size);
* ``call(inputs, states, training=False) -> (output, new_states)``: one step, ``inputs`` ``(B, D)``, ``states``
  the list of state tensors; ``new_states`` a list (or one tensor);
* optionally ``build(input_shape)`` and ``get_initial_state(batch_size)`` (default: zeros).

``RNN(cell)`` runs such a cell over time through :class:`ProtocolCell`, which gives it the interface the
sequence loop uses (below); a user's cell needs nothing more.

**The loop's interface**, which the built-in cells (:class:`RecurrentCell` subclasses) implement directly, and
faster, because they split a step into a part done for all steps at once and a part done per step:

* ``project_inputs(x, dropout)``: ``x @ kernel + input_bias`` for every step at once, ``(..., D) -> (..., G*U)``;
* ``step(xw_t, states, dropout) -> (output, new_states, gates)``: one step from a projected input;
* ``step_backward(d_output, d_states, gates, prev_states, dropout, grads) -> (dxw_t, d_prev_states)``;
* ``project_inputs_backward``, ``make_dropout``, ``get_initial_state``, ``flat_state_sizes``, ``output_size``,
  ``input_dim``.

**Metadata.** A built-in cell class carries a :class:`CellSpec`: its name, its state names, its gate names (what
``rnnlab.inspect.trace`` shows), its weight names, and the key of its row in :mod:`rnnlab.weight_layouts`.
:func:`register` records the class; :func:`spec_of` finds the spec of a cell by its *exact* class, so a subclass
(which may change the maths) is never taken for the built-in cell by a converter or a fast kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from rnnlab import activations, backend, constraints, initializers, nest, random, regularizers
from rnnlab.engine.layer import Layer, add_grad, check_rate, check_units, store_weight_arguments
from rnnlab.random import make_rng


@dataclass(frozen=True)
class CellSpec:
    """What a built-in cell declares about itself; every other module reads it instead of naming cell kinds.

    ``name``: the cell's display name (``"LSTM"``); ``layout``: its key in :mod:`rnnlab.weight_layouts`, which
    converters use; ``states``: names of the state tensors in Keras's order; ``gates``: names of the fields of
    the step's gates record that inspection shows, in order; ``pre``: the field holding the pre-activations;
    ``weights``: the weight names in ``get_weights()`` order; ``blocks``: gate blocks in the kernel (``G``);
    ``variant``: the terms this cell's maths adds to the plain cell of its name (``("projection",)``, empty for
    the plain cell). Specs compare by value: a fast kernel that implements a plain cell's maths checks
    ``spec_of(cell) == ThatCell.spec``, so a variant (or a subclass) is declined without the kernel naming it.
    """

    name: str
    layout: str
    states: tuple
    gates: tuple
    weights: tuple = ("kernel", "recurrent_kernel", "bias")
    blocks: int = 1
    pre: str = "pre"
    variant: tuple = ()


_REGISTRY: dict[type, CellSpec] = {}


def register(cls):
    """Class decorator: record ``cls`` (which defines ``spec``) as a built-in cell."""
    if not isinstance(getattr(cls, "spec", None), CellSpec):
        raise TypeError(f"Cell class {cls.__name__} must define `spec`, a CellSpec; received {cls.__dict__.get('spec')!r}.")
    _REGISTRY[cls] = cls.spec
    return cls


def spec_of(cell) -> CellSpec | None:
    """The :class:`CellSpec` of ``cell`` if its exact class is a registered built-in cell, else None.

    It is the instance's ``spec``: a cell whose arguments select a variant (an LSTM's ``proj_size``) carries the
    spec of the maths it runs, which may differ from its class's."""
    return cell.spec if type(cell) in _REGISTRY else None


def builtin_spec(cell, where: str) -> CellSpec:
    """:func:`spec_of`, or a ValueError naming the cell and ``where`` it was refused."""
    spec = spec_of(cell)
    if spec is None:
        bases = [c.__name__ for c in type(cell).__mro__[1:] if c in _REGISTRY]
        detail = f" (a subclass of {bases[0]}, whose maths may differ)" if bases else ""
        raise ValueError(
            f"{where} supports only rnnlab's built-in cells ({', '.join(sorted(c.__name__ for c in _REGISTRY))}); "
            f"received a cell of class {type(cell).__name__}{detail}."
        )
    return spec


def registered_cells() -> dict:
    """Every registered built-in cell class and its spec."""
    return dict(_REGISTRY)


# ------------------------------------------------------------------------------------------- shared helpers
class DropoutMasks(NamedTuple):
    """One call's dropout masks: ``inputs`` ``(G or 1, B, D)`` and ``recurrent`` ``(G or 1, B, U)``, or None."""

    inputs: np.ndarray | None
    recurrent: np.ndarray | None


def store_cell_arguments(cell, dropout, recurrent_dropout, seed, **weights):
    """Store a cell's weight arguments (``kernel``, ``recurrent`` and ``bias``, each ``(initializer,
    regularizer, constraint)``, as :func:`~rnnlab.engine.layer.store_weight_arguments`), its ``dropout`` and
    ``recurrent_dropout`` rates (clipped to [0, 1]) and its dropout ``seed``, each checked; the dropout generator
    is made on first use (:func:`dropout_rng`)."""
    store_weight_arguments(cell, **weights)
    cell.dropout = check_rate(dropout, "dropout")
    cell.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout")
    cell.seed = seed
    cell._rng = None


def penalty_and_dropout_config(cell) -> dict:
    """The config entries :func:`store_cell_arguments` stored after the initializers, in Keras's order:
    regularizers, constraints, dropout rates and seed."""
    weights = ("kernel", "recurrent", "bias")
    return {**{f"{w}_regularizer": regularizers.serialize(getattr(cell, f"{w}_regularizer")) for w in weights},
            **{f"{w}_constraint": constraints.serialize(getattr(cell, f"{w}_constraint")) for w in weights},
            "dropout": cell.dropout, "recurrent_dropout": cell.recurrent_dropout, "seed": cell.seed}


def dropout_rng(cell):
    """The generator of the cell's dropout masks (made from its ``seed`` on first use, or from the global state),
    or None when both rates are 0.  It is the cell's ``_training_rng``: ``fit`` draws the cell's key from it
    (:mod:`rnnlab.random`); outside ``fit`` the masks come from it directly."""
    if cell.dropout == 0 and cell.recurrent_dropout == 0:
        return None
    if cell._rng is None:
        cell._rng = make_rng(cell.seed)
    return cell._rng


def dropout_mask(cell, rate, shape, dtype):
    """An inverted-dropout mask ``(count, B, size)`` drawn for ``cell`` (:func:`rnnlab.random.layer_uniform`, the
    samples along axis 1), scaled by ``1 / (1 - rate)``; None for rate 0."""
    if rate == 0:
        return None
    if rate >= 1:
        return np.zeros(shape, dtype)
    return ((random.layer_uniform(cell, shape, batch_axis=1) >= rate) / (1.0 - rate)).astype(dtype)


def over_time(mask, x):
    """A ``(B, D)`` mask shaped to multiply ``x`` of shape ``(B, D)`` or ``(B, T, D)``."""
    return mask[:, None, :] if x.ndim == 3 else mask


def state_structure(state_size):
    """Keras's nesting of states: an int is one tensor, a list is a list of tensors."""
    if isinstance(state_size, (list, tuple)):
        return [state_structure(s) for s in state_size]
    return 0


def flat_sizes(state_size, where="state_size"):
    """The sizes of the flattened state tensors of a (possibly nested) ``state_size``, checked."""
    sizes = list(nest.flatten(state_size)) if isinstance(state_size, (list, tuple)) else [state_size]
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0:
            raise ValueError(
                f"The cell's `{where}` must be a positive int or a list of them (one per state tensor); "
                f"received {state_size!r}."
            )
    return [int(s) for s in sizes]


# ------------------------------------------------------------------------------------------- built-in cells
class RecurrentCell(Layer):
    """Shared configuration and weights of the built-in cells (kernel, recurrent_kernel, bias).

    Subclasses define ``spec`` and the maths: ``step``/``step_backward`` (their module's pure functions).
    """

    spec: CellSpec = None
    has_recurrent_activation = True
    per_gate_recurrent_dropout = True  # Keras draws one recurrent-dropout mask per gate block

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.activation = activations.get(activation, "activation")
        self.recurrent_activation = activations.get(recurrent_activation, "recurrent_activation")
        self.use_bias = bool(use_bias)
        # Regularizers add penalties to the training loss, constraints project after each update (see add_weight).
        store_cell_arguments(self, dropout, recurrent_dropout, seed,
                             kernel=(kernel_initializer, kernel_regularizer, kernel_constraint),
                             recurrent=(recurrent_initializer, recurrent_regularizer, recurrent_constraint),
                             bias=(bias_initializer, bias_regularizer, bias_constraint))
        self.kernel = self.recurrent_kernel = self.bias = None

    # -------------------------------------------------------------- shapes
    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    @property
    def flat_state_sizes(self):
        return list(nest.flatten(self.state_size))

    @property
    def gates(self):
        """Number of gate blocks ``G`` in the kernel."""
        return self.spec.blocks

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initial_value(self, shape, dtype):
        return self.bias_initializer(shape, dtype)

    def _recurrent_rows(self):
        """Rows of the recurrent kernel: the size of the state it multiplies."""
        return self.units

    def build(self, input_shape):
        input_dim = input_shape[-1] if isinstance(input_shape, (tuple, list)) else input_shape
        if input_dim is None:
            raise ValueError(f"Layer {self.name!r} needs a known feature size; received input_shape={input_shape}.")
        g = self.gates
        self.kernel = self.add_weight(name="kernel", shape=(input_dim, g * self.units),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel",
                                                shape=(self._recurrent_rows(), g * self.units),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=self._bias_shape(), initializer=self._bias_initial_value,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self._build_extra()
        self.built = True

    def _build_extra(self):
        """Weights after the bias (a variant's extra terms)."""

    @property
    def input_dim(self):
        return self.kernel.shape[0]

    # -------------------------------------------------------------- math
    def _input_bias(self):
        return self.bias.value if self.use_bias else None

    def project_inputs(self, x, dropout=None):
        """``x @ kernel + input_bias`` for every time step in one matrix product: ``(..., D) -> (..., G*U)``.

        With input dropout, ``x`` is multiplied by the call's mask first (one mask per gate block when
        recurrent dropout is on too, as Keras does); the same mask serves every time step.
        """
        kernel = self.kernel.value
        masks = None if dropout is None else dropout.inputs
        if masks is None:
            xw = x @ kernel
        elif masks.shape[0] == 1:
            xw = (x * over_time(masks[0], x)) @ kernel
        else:
            width = kernel.shape[1] // masks.shape[0]
            xw = np.concatenate([(x * over_time(masks[k], x)) @ kernel[:, k * width:(k + 1) * width]
                                 for k in range(masks.shape[0])], axis=-1)
        bias = self._input_bias()
        if bias is not None:
            xw += bias
        return xw

    def project_inputs_backward(self, x, dxw, dropout, grads, need_dx=True):
        """Backward of :meth:`project_inputs`: adds kernel/bias gradients to ``grads``, returns ``dx``
        (``dxw @ kernel^T``, times the dropout mask), or ``None`` when ``need_dx`` is false."""
        kernel = self.kernel.value
        masks = None if dropout is None else dropout.inputs
        x2, d2 = x.reshape(-1, x.shape[-1]), dxw.reshape(-1, dxw.shape[-1])  # (N, D), (N, G*U)
        dx = None
        if masks is None:
            add_grad(grads, self.kernel, x2.T @ d2)
            if need_dx:
                dx = dxw @ kernel.T
        else:
            width = kernel.shape[1] // masks.shape[0]
            dkernel = np.empty_like(kernel)
            dx = np.zeros_like(x) if need_dx else None
            for k in range(masks.shape[0]):
                block = slice(k * width, (k + 1) * width) if masks.shape[0] > 1 else slice(None)
                m = over_time(masks[k], x)
                dkernel[:, block] = (x * m).reshape(-1, x.shape[-1]).T @ d2[:, block]
                if need_dx:
                    dx += (dxw[..., block] @ kernel[:, block].T) * m
            add_grad(grads, self.kernel, dkernel)
        if self.use_bias:
            self._add_input_bias_grad(grads, np.ones(d2.shape[0], d2.dtype) @ d2)  # column sums, one GEMV
        return dx

    def _add_input_bias_grad(self, grads, dbias):
        add_grad(grads, self.bias, dbias)

    def make_dropout(self, batch, training):
        """The dropout masks of one call (``None`` when not training or no dropout): inverted-dropout masks
        scaled by ``1 / (1 - rate)``, drawn once per call and reused at every step."""
        if not training or dropout_rng(self) is None:
            return None
        per_gate = self.recurrent_dropout > 0 and self.per_gate_recurrent_dropout
        count = self.gates if per_gate else 1
        inputs = dropout_mask(self, self.dropout, (count, batch, self.input_dim), self.dtype)
        recurrent = dropout_mask(self, self.recurrent_dropout, (count, batch, self._recurrent_rows()),
                                 self.dtype)
        return DropoutMasks(inputs, recurrent)

    def _training_rng(self):
        return dropout_rng(self)

    def step(self, xw_t, states, dropout=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def step_backward(self, d_output, d_states, gates, prev_states, dropout, grads):  # pragma: no cover
        raise NotImplementedError

    def _recurrent_masks(self, dropout):
        return None if dropout is None else dropout.recurrent

    def get_initial_state(self, batch_size=None):
        return [np.zeros((batch_size, s), self.dtype) for s in self.flat_state_sizes]

    def call(self, inputs, states, training=False):
        """Keras's cell call: one step from the raw input ``x_t`` ``(B, D)``."""
        flat = [backend.to_float_array(s, self.dtype, "states") for s in nest.flatten(states)]
        if inputs.ndim != 2 or inputs.shape[-1] != self.input_dim:
            raise ValueError(
                f"Cell {self.name!r} expects inputs of shape (batch, {self.input_dim}); received {inputs.shape}."
            )
        output, new_states, _ = self.step(self.project_inputs(inputs), flat)
        return output, (new_states if len(new_states) > 1 or nest.is_nested(states) else new_states[0])

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return (input_shape[0], self.output_size)

    # -------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            **penalty_and_dropout_config(self),
        })
        if self.has_recurrent_activation:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        return config
