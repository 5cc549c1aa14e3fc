"""The fast-path seam.

An operation (for example ``"rnn_sequence"``, the whole time loop of a recurrent layer) always has a plain
reference implementation.  Faster kernels register beside it with a ``supports(**context)`` predicate and a
priority; :func:`select` returns the best kernel that supports the call.  Tests force the reference path with
:func:`reference_only` and check that every kernel agrees with it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

_REGISTRY: dict[str, list["Kernel"]] = {}
_FORCED: list[str | None] = [None]
_GENERATION = [0]  # bumped whenever what select() would return may change


def generation() -> int:
    """A number that changes whenever kernels are registered or removed, or :func:`force` is entered or left:
    a caller may keep a selected kernel for as long as it is unchanged."""
    return _GENERATION[0]


@dataclass
class Kernel:
    op: str
    name: str
    fn: Callable
    supports: Callable[..., bool] = field(default=lambda **ctx: True)
    priority: int = 0
    #: The kernel takes the operation's raw inputs instead of their preprocessed form (for ``"rnn_sequence"``:
    #: the layer's inputs ``x`` in time order instead of the projected ``xw`` in processing order).
    raw_inputs: bool = False


def register(op: str, name: str, fn: Callable, supports: Callable[..., bool] | None = None,
             priority: int = 0, raw_inputs: bool = False) -> Kernel:
    """Register ``fn`` as kernel ``name`` of ``op``. The reference kernel must be named ``"reference"``."""
    kernel = Kernel(op, name, fn, supports or (lambda **ctx: True), priority, raw_inputs)
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


def select(op: str, **context) -> Kernel:
    """The highest-priority kernel of ``op`` that supports ``context``.

    Under :func:`force`, only the named kernel is considered (if it does not support the call, the reference
    kernel runs: a kernel is never used outside what it supports).
    """
    candidates = _REGISTRY.get(op)
    if not candidates:
        raise KeyError(f"No kernel is registered for operation {op!r}.")
    forced = _FORCED[-1]
    for kernel in candidates:
        if forced is not None and kernel.name != forced:
            continue
        if kernel.name == "reference" or kernel.supports(**context):
            return kernel
    return next(k for k in candidates if k.name == "reference")


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found: the kernel that would run (``selected``), the kernels that declined the call
    (``declined``, best first), and the kernel named by :func:`force`, if any (``forced``)."""

    op: str
    selected: str
    declined: tuple
    forced: str | None = None


def explain(op: str, **context) -> Explanation:
    """Which kernel of ``op`` :func:`select` would run for ``context``, and which kernels declined it.

    For example ``explain("rnn_sequence", cell=layer.loop_cell, mask=None, collect_gates=False, dropout=None)``
    says ``"reference"`` for a cell no fast kernel implements (an LSTM with a projection or peepholes).
    """
    selected = select(op, **context)
    forced = _FORCED[-1]
    declined = []
    for kernel in _REGISTRY[op]:
        if kernel is selected:
            break
        if kernel.name != "reference" and (forced is None or kernel.name == forced):
            declined.append(kernel.name)
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
