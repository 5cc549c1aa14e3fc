"""The fast-path seam: one call object, one result object, kernels that declare what they support.

An operation always has a plain reference kernel; faster kernels register beside it.  There are two operations,
both on a recurrent layer's whole sequence:

* ``"rnn_sequence"``: the forward loop (inference, and inspection with ``collect_gates``);
* ``"rnn_train"``: the forward loop that keeps what backpropagation needs, and its backward.

The layer (:mod:`rnnlab.layers.rnn`) prepares one :class:`RecurrentCall` -- inputs, resolved initial states,
mask, direction, dropout masks -- and every kernel of either operation takes it and returns a
:class:`RecurrentResult`.  The layer then does what is common to every kernel: stateful bookkeeping and the
shape of what it returns.

A :class:`Kernel` declares what it supports in fields that :func:`select` checks (the cells it runs, dtypes,
masks, dropout, gate collection) plus, optionally, a ``condition`` for the rest (e.g. the activations, or
whether the native library loaded); :func:`explain` says which kernel runs a call and why the others declined.
A kernel may also offer a ``plain`` call for ``layer(x)`` with no mask and no other argument, which skips the
call object altogether (the smallest models spend more time in Python than in arithmetic).

The kernels' tuning knobs are one object, :data:`options`; :func:`tuned` changes them for a block.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import numpy as np

from rnnlab.cells.base import spec_of

OPERATIONS = ("rnn_sequence", "rnn_train")

_REGISTRY: dict[str, list["Kernel"]] = {}
_FORCED: list[str | None] = [None]
_GENERATION = [0]  # bumped whenever what select() would return may change


def generation() -> int:
    """A number that changes whenever kernels are registered or removed, :func:`force` is entered or left, or
    :data:`options` change: a caller may keep a selected kernel for as long as it is unchanged."""
    return _GENERATION[0]


# ------------------------------------------------------------------------------------------------ the call
@dataclass
class RecurrentCall:
    """One call of a recurrent layer over a whole sequence, as every kernel receives it.

    ``x`` ``(B, T, D)`` and ``mask`` ``(B, T)`` (bool, or None) are in time order; ``reverse`` (the layer's
    ``go_backwards``) runs the steps from the last one, and a kernel returns its outputs in that processing
    order.  ``states`` are the flat initial states, already resolved (given, stateful or zeros);
    ``initial_state_given`` says whether the caller passed them (a training kernel returns their gradients
    then).  ``dropout`` holds the call's dropout masks (``cell.make_dropout``), ``grads`` the dict that a
    training kernel's backward adds weight gradients to.
    """

    layer: Any
    cell: Any
    x: np.ndarray
    states: list
    mask: np.ndarray | None = None
    reverse: bool = False
    zero_output_for_mask: bool = False
    return_sequences: bool = False
    collect_gates: bool = False
    training: bool = False
    dropout: Any = None
    initial_state_given: bool = False
    grads: dict | None = None
    _projected: tuple | None = field(default=None, repr=False)

    @property
    def dtype(self):
        return self.x.dtype

    def projected(self):
        """``(xw, mask)`` in processing order: every step's input projection ``x @ kernel + input_bias``
        ``(B, T, G*U)`` (C-contiguous, input dropout applied) and the mask, reversed with ``reverse``.
        Computed once per call."""
        if self._projected is None:
            xw = self.cell.project_inputs(self.x, self.dropout)
            mask = self.mask
            if self.reverse:
                xw = xw[:, ::-1]
                mask = None if mask is None else mask[:, ::-1]
            self._projected = (np.ascontiguousarray(xw), mask)
        return self._projected

    def processing_mask(self):
        """The mask in processing order (reversed with ``reverse``), or None."""
        if self.mask is None or not self.reverse:
            return self.mask
        return self.mask[:, ::-1]


@dataclass
class RecurrentResult:
    """What a kernel computed: ``last_output`` ``(B, U)``; ``outputs`` ``(B, T, U)`` in processing order (None
    when not asked for); ``states``, the flat final states; ``trace``, per processed step ``(states before it,
    the cell's gates)`` when gates were collected; and, from a training kernel, ``backward``:
    ``backward(d_outputs, need_input_grad=True) -> (d_x, {"initial_state": d_states} or {})``, with
    ``d_outputs`` shaped like the layer's outputs."""

    last_output: np.ndarray
    outputs: np.ndarray | None
    states: list
    trace: list | None = None
    backward: Callable | None = None


# ------------------------------------------------------------------------------------------------ kernels
@dataclass(frozen=True)
class Kernel:
    """A kernel of ``op`` and what it supports.

    ``cells``: the cell specs it runs (``rnnlab.cells.spec_of(cell)`` must be one; empty: any cell);
    ``dtypes``: input dtypes; ``masks``, ``input_dropout``, ``recurrent_dropout``, ``collect_gates``: whether it
    runs calls with them; ``condition(call) -> bool``: anything else it needs.  ``fn(call) -> RecurrentResult``.
    ``plain(layer, x) -> outputs or None``: optional shortcut for ``layer(x)`` (zero states, no mask, no
    training), returning the layer's outputs in Keras's structure.
    """

    op: str
    name: str
    fn: Callable[[RecurrentCall], RecurrentResult]
    priority: int = 0
    cells: tuple = ()
    dtypes: tuple = ("float32", "float64")
    masks: bool = True
    input_dropout: bool = False
    recurrent_dropout: bool = False
    collect_gates: bool = False
    condition: Callable[[RecurrentCall], bool] | None = None
    plain: Callable | None = None

    def declines(self, call: RecurrentCall) -> str | None:
        """Why this kernel does not run ``call`` (a short reason), or None when it does."""
        if self.name == "reference":
            return None
        if self.cells and spec_of(call.cell) not in self.cells:
            spec = spec_of(call.cell)
            what = type(call.cell).__name__ if spec is None else \
                spec.name + (f" ({', '.join(spec.variant)})" if spec.variant else "")
            return f"cell {what} is not one it runs"
        if np.dtype(call.dtype).name not in self.dtypes:
            return f"dtype {np.dtype(call.dtype).name}"
        if call.mask is not None and not self.masks:
            return "a mask"
        if call.collect_gates and not self.collect_gates:
            return "gates are collected"
        dropout = call.dropout
        if dropout is not None:
            if getattr(dropout, "inputs", None) is not None and not self.input_dropout:
                return "input dropout"
            if getattr(dropout, "recurrent", None) is not None and not self.recurrent_dropout:
                return "recurrent dropout"
            if not hasattr(dropout, "inputs"):
                return "dropout of a cell it does not run"
        if self.condition is not None and not self.condition(call):
            return "its condition (activations, library, layout) does not hold"
        return None


def register(op: str, name: str, fn: Callable, priority: int = 0, **supports) -> Kernel:
    """Register ``fn`` as kernel ``name`` of ``op``, with what it supports (the fields of :class:`Kernel`).
    The reference kernel must be named ``"reference"`` and runs every call."""
    if op not in OPERATIONS:
        raise ValueError(f"Argument `op` must be one of {OPERATIONS}; received op={op!r}.")
    known = {f.name for f in fields(Kernel)} - {"op", "name", "fn", "priority"}
    unknown = sorted(set(supports) - known)
    if unknown:
        raise TypeError(f"register() got unknown keyword argument(s) {unknown}; known: {sorted(known)}.")
    kernel = Kernel(op, name, fn, priority, **supports)
    kernels = [k for k in _REGISTRY.get(op, []) if k.name != name]
    kernels.append(kernel)
    kernels.sort(key=lambda k: -k.priority)
    _REGISTRY[op] = kernels
    _GENERATION[0] += 1
    return kernel


def unregister(op: str, name: str) -> None:
    if name == "reference":
        raise ValueError("The reference kernel cannot be unregistered.")
    _REGISTRY[op] = [k for k in _REGISTRY.get(op, []) if k.name != name]
    _GENERATION[0] += 1


def kernels(op: str) -> list[Kernel]:
    """All kernels of ``op``, best first."""
    return list(_REGISTRY.get(op, []))


def select(op: str, call: RecurrentCall) -> Kernel:
    """The highest-priority kernel of ``op`` that supports ``call``.

    Under :func:`force`, only the named kernel is considered (if it does not support the call, the reference
    kernel runs: a kernel is never used outside what it supports).
    """
    candidates = _REGISTRY.get(op)
    if not candidates:
        raise KeyError(f"No kernel is registered for operation {op!r}.")
    forced = _FORCED[-1]
    for kernel in candidates:
        if forced is not None and kernel.name != forced and kernel.name != "reference":
            continue
        if kernel.declines(call) is None:
            return kernel
    return next(k for k in candidates if k.name == "reference")


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found: the kernel that would run (``selected``), the kernels that declined the call
    with their reasons (``declined``: ``(name, reason)`` pairs, best first), and the kernel named by
    :func:`force`, if any (``forced``)."""

    op: str
    selected: str
    declined: tuple
    forced: str | None = None

    @property
    def declined_names(self) -> tuple:
        return tuple(name for name, _ in self.declined)


def explain(op: str, call: RecurrentCall) -> Explanation:
    """Which kernel of ``op`` :func:`select` would run for ``call``, and why each better one declined.

    ``layer.explain_kernels()`` builds the call for a layer; for example a projection or peephole LSTM gets
    ``"reference"``, since no fast kernel implements it.
    """
    selected = select(op, call)
    forced = _FORCED[-1]
    declined = []
    for kernel in _REGISTRY[op]:
        if kernel is selected:
            break
        if forced is not None and kernel.name != forced:
            declined.append((kernel.name, f"not forced (force({forced!r}))"))
        else:
            declined.append((kernel.name, kernel.declines(call)))
    return Explanation(op, selected.name, tuple(declined), forced)


@contextlib.contextmanager
def force(name: str | None):
    """Within the block, use kernel ``name`` wherever it supports the call (``"reference"`` for the plain path)."""
    _FORCED.append(name)
    _GENERATION[0] += 1
    try:
        yield
    finally:
        _FORCED.pop()
        _GENERATION[0] += 1


def reference_only():
    """Within the block, every operation runs its reference kernel."""
    return force("reference")


# ------------------------------------------------------------------------------------------------ options
@dataclass
class KernelOptions:
    """The kernels' tuning knobs, in one place.  ``threads``: threads the native kernels may use (0: they choose
    by size, up to :func:`rnnlab.kernels.native.thread_count`); ``packed``: the native kernels' weight packing
    (-1: their own choice, 0: never, 1: always).  Results never depend on them, only speed."""

    threads: int = 0
    packed: int = -1


#: The options every kernel reads.  Change them with :func:`tuned`.
options = KernelOptions()


@contextlib.contextmanager
def tuned(**changes):
    """Within the block, :data:`options` has ``changes`` (for example ``tuned(threads=1)``)."""
    known = {f.name for f in fields(KernelOptions)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"tuned() got unknown option(s) {unknown}; known: {sorted(known)}.")
    saved = {k: getattr(options, k) for k in changes}
    for key, value in changes.items():
        setattr(options, key, value)
    _GENERATION[0] += 1
    try:
        yield options
    finally:
        for key, value in saved.items():
            setattr(options, key, value)
        _GENERATION[0] += 1
