"""Reverse-mode differentiation on NumPy arrays: the record that ``rnnlab.ops`` writes while a layer trains.

Outside training, every op takes and returns plain NumPy arrays: nothing is recorded and nothing is slower.
While a :class:`Tape` is active (a training step of a layer written with ops), the layer's inputs are
:class:`Tensor` objects, weights (``Variable``) used by an op become :class:`Tensor` leaves of the tape, and every
op applied to a Tensor returns a Tensor that remembers its :class:`Node`: the op's inputs and its vector-Jacobian
product (``vjp``), written beside the op's forward in the op's family module.  :func:`backward` walks the nodes in
reverse order from the outputs' gradients, as micrograd does for scalars.

A built-in layer (LSTM, Dense...) keeps its hand-written backward: called on Tensors, it enters the record as one
node whose ``vjp`` is its own backward (:mod:`rnnlab.engine.layer`).
"""
from __future__ import annotations

import threading

import numpy as np


class Node:
    """One recorded op: ``parents`` (the op's array arguments, Tensors where gradients may flow), its
    ``outputs`` (Tensors) and ``vjp(output_grads) -> parent_grads``.

    For a single-output op ``vjp`` takes the output's gradient; for several outputs, a list (zeros where no
    gradient arrived). It returns one gradient (or None) per parent, in the parents' order.
    """

    __slots__ = ("parents", "vjp", "outputs", "multi")

    def __init__(self, parents, vjp, multi=False):
        self.parents = parents
        self.vjp = vjp
        self.outputs = []
        self.multi = multi


class Tensor:
    """An array on the tape: ``value`` (a NumPy array) and the :class:`Node` that made it (None for a leaf).

    It behaves as Keras tensors do in layer code: ``shape``, ``ndim``, ``dtype``, arithmetic and comparison
    operators, ``@``, indexing and ``len``. ``numpy()`` (or ``np.asarray``) gives the value, off the record.
    """

    __slots__ = ("value", "node", "_keras_mask", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor calls the Tensor's reflected operator

    def __init__(self, value, node=None):
        self.value = value
        self.node = node
        self._keras_mask = None

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)
    size = property(lambda self: self.value.size)

    def __len__(self):
        return len(self.value)

    def numpy(self):
        return self.value

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    #: ``handler(ufunc, method, inputs, kwargs)``: set by :mod:`rnnlab.ops.dispatch`, which holds the op table
    ufunc_handler = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``np.tanh(t)``, ``np.add(t, 1)``...: the matching op, so the gradient still flows."""
        return Tensor.ufunc_handler(ufunc, method, inputs, kwargs)

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    def __iter__(self):
        for i in range(len(self.value)):
            yield self[i]

    def __repr__(self):
        return f"<rnnlab.ops.Tensor shape={self.shape}, dtype={self.dtype.name}>"

    __hash__ = object.__hash__  # ``==`` is elementwise, as for arrays


class Tape:
    """The record of one training call: where gradients of weights go (``grads``, a dict ``Variable -> array``)
    and the losses layers added with ``add_loss``.  Weights become leaves the first time an op uses them."""

    def __init__(self, grads=None, training=True):
        self.grads = grads if grads is not None else {}
        self.training = training
        self.leaves = {}  # id(variable) -> (variable, leaf Tensor)
        self.losses = []  # what add_loss() received during the call
        self.node_weights = set()  # ids of weights whose built-in layer entered the record as one node

    def leaf(self, variable):
        entry = self.leaves.get(id(variable))
        if entry is None:
            entry = (variable, Tensor(variable.value))
            self.leaves[id(variable)] = entry
        return entry[1]

    def __enter__(self):
        _STATE.tapes.append(self)
        return self

    def __exit__(self, *exc):
        _STATE.tapes.pop()

    def collect_weight_grads(self, grad_of):
        """Add each weight leaf's gradient (``grad_of(leaf)``, None if none flowed) to ``grads``."""
        for variable, leaf in self.leaves.values():
            g = grad_of(leaf)
            if g is None:
                continue
            if variable in self.grads:
                np.add(self.grads[variable], g, out=self.grads[variable])
            else:
                self.grads[variable] = np.array(g, dtype=variable.value.dtype)


class _State(threading.local):
    def __init__(self):
        self.tapes = []


_STATE = _State()


def active_tape():
    """The innermost active :class:`Tape` of this thread, or None outside training."""
    tapes = _STATE.tapes
    return tapes[-1] if tapes else None


class paused:
    """``with paused():`` runs ops off the record (weights read as plain arrays), e.g. for a metric."""

    def __enter__(self):
        self._saved, _STATE.tapes = _STATE.tapes, []

    def __exit__(self, *exc):
        _STATE.tapes = self._saved


def is_variable(x) -> bool:
    return getattr(x, "_is_rnnlab_variable", False)


def unwrap(x):
    """The plain value of an op argument: a Tensor's or a Variable's array, anything else as it is."""
    if isinstance(x, Tensor):
        return x.value
    if is_variable(x):
        return x.value
    return x


def operand(x):
    """An op argument as the op sees it: a Tensor stays one; a Variable becomes the active tape's leaf for it
    (its plain array outside training); anything else is left as it is (Python scalars stay weakly typed)."""
    if isinstance(x, Tensor):
        return x
    if is_variable(x):
        tape = active_tape()
        return tape.leaf(x) if tape is not None else x.value
    return x


def record(value, parents, vjp):
    """The result of an op: ``value`` itself when no parent is a Tensor, else a Tensor whose node holds
    ``parents`` and ``vjp(g) -> tuple of parent grads``."""
    for p in parents:
        if isinstance(p, Tensor):
            break
    else:
        return value
    node = Node(tuple(parents), vjp)
    out = Tensor(value, node)
    node.outputs.append(out)
    return out


def record_many(values, parents, vjp):
    """:func:`record` for an op with several outputs: ``vjp(list of output grads) -> parent grads``."""
    if not any(isinstance(p, Tensor) for p in parents):
        return list(values)
    node = Node(tuple(parents), vjp, multi=True)
    outs = [Tensor(v, node) for v in values]
    node.outputs.extend(outs)
    return outs


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the gradient of an argument that broadcasting stretched."""
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    if lead > 0:
        grad = grad.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _topological_nodes(targets):
    """Every node that ``targets`` depend on, each after the nodes that made its inputs."""
    order, seen = [], set()
    stack = [(t.node, False) for t in targets if isinstance(t, Tensor) and t.node is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            if isinstance(p, Tensor) and p.node is not None and id(p.node) not in seen:
                stack.append((p.node, False))
    return order


def backward(targets, seeds):
    """Backpropagate ``seeds`` (gradients of the loss w.r.t. each of ``targets``) through the record.

    Returns ``grad_of(tensor)``: the accumulated gradient of any Tensor the targets depend on (leaves
    included), or None where none flowed.
    """
    grads = {}
    keep = {}  # id -> Tensor, so that ids stay valid while grads are looked up

    def add(t, g):
        if g is None:
            return
        if g.dtype != t.value.dtype and g.dtype.kind == "f" and t.value.dtype.kind == "f":
            g = g.astype(t.value.dtype)
        key = id(t)
        if key in grads:
            grads[key] = grads[key] + g
        else:
            grads[key] = g
            keep[key] = t

    for t, s in zip(targets, seeds):
        if isinstance(t, Tensor) and s is not None:
            add(t, np.asarray(s, dtype=t.value.dtype))
    for node in reversed(_topological_nodes(targets)):
        outs = [grads.get(id(o)) for o in node.outputs]
        if all(g is None for g in outs):
            continue
        if node.multi:
            outs = [np.zeros_like(o.value) if g is None else g for g, o in zip(outs, node.outputs)]
            parent_grads = node.vjp(outs)
        else:
            parent_grads = node.vjp(outs[0])
        for o in node.outputs:  # an intermediate's gradient is spent once its node has run
            grads.pop(id(o), None)
        for p, g in zip(node.parents, parent_grads):
            if isinstance(p, Tensor) and g is not None and p.value.dtype.kind in "fc":
                add(p, unbroadcast(np.asarray(g), p.value.shape))
    return lambda t: grads.get(id(t))
