"""A budget for what building a model may allocate, set while a model is rebuilt from a file.

A file's config says how big each layer is (``units``, an Input's feature size...), and building the model
allocates its weights from that before any stored array is read.  A damaged or hostile config could ask for
gigabytes that way.  While a file is loaded, its stored arrays are counted first (from the HDF5 dataset
headers, without reading them), and :func:`allocation_budget` makes every weight creation
(``Layer.add_weight``) charge its size against that count before it allocates anything.  The budget is
:func:`weights_budget` of the stored count: twice it plus :data:`SLACK`, so a model far bigger than its
file is refused at once, while a small mismatch still reaches the loader's shape check, whose message
names the array.  Stateful layers' states are not stored in the file; they get a separate allowance of
``states`` numbers.
"""
from __future__ import annotations

import contextlib
import contextvars

__all__ = ["allocation_budget", "weights_budget", "charge_weights", "charge_states", "STATE_ALLOWANCE", "SLACK"]

#: The numbers a loaded model's stateful states may hold beyond its stored weights (32 MiB of float64).
STATE_ALLOWANCE = 1 << 22
#: The numbers a loaded model's weights may hold beyond twice what its file stores (8 MiB of float64).
SLACK = 1 << 20


def weights_budget(stored):
    """How many numbers the weights of a model rebuilt from a file storing ``stored`` numbers may hold."""
    return 2 * int(stored) + SLACK

_BUDGET = contextvars.ContextVar("rnnlab_allocation_budget", default=None)


class _Budget:
    def __init__(self, weights, states, source):
        self.left = {"weights": int(weights), "states": int(states)}
        self.source = source


@contextlib.contextmanager
def allocation_budget(weights, source, states=None):
    """Within the block, the weights created may hold at most ``weights`` numbers in all (and stateful states
    ``states``, default ``weights + STATE_ALLOWANCE``); ``source`` names the file in the error."""
    states = int(weights) + STATE_ALLOWANCE if states is None else states
    token = _BUDGET.set(_Budget(weights, states, source))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _charge(kind, shape, what):
    budget = _BUDGET.get()
    if budget is None:
        return
    count = 1
    for d in shape:
        count *= int(d) if d is not None else 1
    if count > budget.left[kind]:
        allowed = "its stored weights allow" if kind == "weights" else "the allowance for states is"
        raise ValueError(f"{budget.source}: the config asks for {what} of shape {tuple(shape)} ({count:,} numbers), "
                         f"but only {budget.left[kind]:,} more are left of what {allowed}: the config does not "
                         "match the file's weights (damaged or hostile file).")
    budget.left[kind] -= count


def charge_weights(shape, what):
    """Count a weight of ``shape`` against the active budget (if any) before it is allocated."""
    _charge("weights", shape, what)


def charge_states(shape, what):
    """Count a stateful layer's state of ``shape`` against the active budget (if any) before it is allocated."""
    _charge("states", shape, what)
