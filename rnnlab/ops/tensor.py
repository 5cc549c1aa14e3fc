"""Reverse-mode differentiation on NumPy arrays: the record that ``rnnlab.ops`` writes while a layer trains.

Outside training, every op takes and returns plain NumPy arrays: nothing is recorded and nothing is slower.
While a :class:`Tape` is active (a training step of a layer written with ops), the layer's inputs are
:class:`Tensor` objects, weights (``Variable``) used by an op become :class:`Tensor` leaves of the tape, and every
op applied to a Tensor returns a Tensor that remembers the op: its inputs (``parents``) and its vector-Jacobian
product (``vjp``), written beside the op's forward in the op's family module.  :func:`backward` walks the ops in
reverse order from the outputs' gradients, as micrograd does for scalars.  Ops are recorded in the order they
run, which is already an order where every op follows the ops that made its inputs: a :class:`Tape` keeps that
list (``ops``), and walking it backwards needs no sort.  Nothing on the record refers back to an op's result, so
a record is freed as soon as it is dropped, without waiting for Python's cycle collector.

Over a sequence (a user's cell inside ``RNN``, one record per step), a weight's gradient is a sum over steps of
small products ``a_t^T @ g_t`` (a ``matmul`` whose right operand is the weight) and row sums (a bias). A tape made
with ``defer_weight_grads=True`` keeps those factors (:class:`RowProduct`, :class:`RowSum`) instead, and
:meth:`Tape.apply_deferred` computes each weight's gradient as ONE product over all steps' rows, as the built-in
layers do for their input kernel.

A built-in layer (LSTM, Dense...) keeps its hand-written backward: called on Tensors, it enters the record as one
op whose ``vjp`` is its own backward (:mod:`rnnlab.engine.layer`).
"""
from __future__ import annotations

import functools
import gc
import threading

import numpy as np


class Tensor:
    """An array on the tape: ``value`` (a NumPy array) and the op that made it: ``parents`` (the op's array
    arguments, Tensors where gradients may flow) and ``vjp(g) -> parent grads``, one gradient (or None) per
    parent, in the parents' order. A leaf (an input or a weight) has neither.

    It behaves as Keras tensors do in layer code: ``shape``, ``ndim``, ``dtype``, arithmetic and comparison
    operators, ``@``, indexing and ``len``. ``numpy()`` (or ``np.asarray``) gives the value, off the record.
    """

    __slots__ = ("value", "parents", "vjp", "_keras_mask", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor calls the Tensor's reflected operator

    def __init__(self, value, parents=None, vjp=None):
        self.value = value
        self.parents = parents
        self.vjp = vjp
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

    #: ``handler(func, types, args, kwargs)``: set by :mod:`rnnlab.ops.dispatch`
    function_handler = None

    def __array_function__(self, func, types, args, kwargs):
        """``np.where(t, ...)``, ``np.sum(t)``, ``np.concatenate([t, ...])``...: the rnnlab.ops function of that
        name, so the gradient still flows (or a clear refusal)."""
        return Tensor.function_handler(func, types, args, kwargs)

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
    """The record of one training call: where gradients of weights go (``grads``, a dict ``Variable -> array``),
    the ops recorded while it is active (``ops``: each op's output Tensor, which holds its node, in the order the
    ops ran) and the losses layers added with ``add_loss``.  Weights become leaves the first time an op uses them.

    With ``defer_weight_grads``, :func:`backward` keeps the weight leaves' gradients as factors in ``deferred``
    (``id(leaf) -> (variable, [contributions])``) and :meth:`apply_deferred` adds them to ``grads``.
    """

    __slots__ = ("grads", "training", "leaves", "losses", "node_weights", "ops", "deferred")

    def __init__(self, grads=None, training=True, defer_weight_grads=False, shared=None):
        self.grads = grads if grads is not None else {}
        self.training = training
        self.losses = []  # what add_loss() received during the call
        self.ops = []  # the output of every op recorded while this tape was the active one, in the order they ran
        if shared is None:
            self.leaves = {}  # id(variable) -> (variable, leaf Tensor)
            self.node_weights = set()  # ids of weights whose built-in layer entered the record as one node
            self.deferred = {} if defer_weight_grads else None
        else:
            self.leaves, self.node_weights, self.deferred = shared.leaves, shared.node_weights, shared.deferred

    def part(self, training):
        """A tape for one part of this call (a step of a user's cell): its own ``ops`` and ``losses``, and this
        tape's weight leaves, ``grads`` and deferred gradients, so a weight is one leaf over all steps."""
        return Tape(self.grads, training, shared=self)

    def leaf(self, variable):
        entry = self.leaves.get(id(variable))
        if entry is None:
            leaf = Tensor(variable.value)
            entry = self.leaves[id(variable)] = (variable, leaf)
            if self.deferred is not None:
                self.deferred[id(leaf)] = (variable, [])
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
            if g is not None:
                _add_weight_grad(self.grads, variable, g)

    def apply_deferred(self):
        """Add the weight gradients that :func:`backward` deferred to ``grads`` (each weight's factors as one
        product over all their rows), and forget them."""
        for variable, parts in self.deferred.values():
            if parts:
                _add_weight_grad(self.grads, variable, _sum_deferred(parts))
                parts.clear()


def _add_weight_grad(grads, variable, g):
    if variable in grads:
        np.add(grads[variable], g, out=grads[variable])
    else:
        grads[variable] = np.array(g, dtype=variable.value.dtype)


class RowProduct:
    """A gradient kept as factors: ``a^T @ g``, with ``a`` ``(N, K)`` and ``g`` ``(N, M)`` (N rows, e.g. batch
    rows). Factors of one weight from many steps stack along N into one product (:meth:`Tape.apply_deferred`)."""

    __slots__ = ("a", "g")

    def __init__(self, a, g):
        self.a, self.g = a, g

    def value(self):
        return self.a.T @ self.g  # (K, M)


class RowSum:
    """A gradient kept as rows to be summed: ``rows.sum(axis=0)``, ``rows`` ``(N, *shape)`` (a bias's)."""

    __slots__ = ("rows",)

    def __init__(self, rows):
        self.rows = rows


def _sum_deferred(parts):
    """The sum of deferred contributions (:class:`RowProduct`, :class:`RowSum` or arrays) of one weight."""
    products = [p for p in parts if type(p) is RowProduct]
    sums = [p.rows for p in parts if type(p) is RowSum]
    total = None
    if products:
        a = products[0].a if len(products) == 1 else np.concatenate([p.a for p in products])  # (N, K)
        g = products[0].g if len(products) == 1 else np.concatenate([p.g for p in products])  # (N, M)
        total = a.T @ g  # one product over every step's rows
    if sums:
        rows = sums[0] if len(sums) == 1 else np.concatenate(sums)  # (N, *shape)
        total = rows.sum(axis=0) if total is None else total + rows.sum(axis=0)
    for p in parts:
        if type(p) is not RowProduct and type(p) is not RowSum:
            total = p if total is None else total + p
    return total


class _State(threading.local):
    def __init__(self):
        self.tapes = []


_STATE = _State()


def active_tape():
    """The innermost active :class:`Tape` of this thread, or None outside training."""
    tapes = _STATE.tapes
    return tapes[-1] if tapes else None


class collector_paused:
    """``with collector_paused():`` runs a block without Python's cycle collector, restored after it.

    A user's cell recorded over a sequence makes many small objects that all stay alive until the backward ends;
    each automatic collection would scan them all again (a tenth or more of the time). The record forms no
    cycles, so it needs no collector: whatever the block leaves for the collector is collected after it. When
    the collector is already off, the block leaves it off.
    """

    def __enter__(self):
        self._was_enabled = gc.isenabled()
        if self._was_enabled:
            gc.disable()

    def __exit__(self, *exc):
        if self._was_enabled:
            gc.enable()


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
    """The result of an op: ``value`` itself when no parent is a Tensor, else a Tensor that holds ``parents``
    (a tuple) and ``vjp(g) -> tuple of parent grads``."""
    for p in parents:
        if isinstance(p, Tensor):
            break
    else:
        return value
    out = Tensor(value, parents if type(parents) is tuple else tuple(parents), vjp)
    tapes = _STATE.tapes
    if tapes:
        tapes[-1].ops.append(out)
    return out


def record_many(values, parents, vjp):
    """:func:`record` for an op with several outputs: ``vjp(list of output grads) -> parent grads``, zeros
    where no gradient arrived.

    The op is recorded as one hidden Tensor whose value is the list of outputs and whose gradient is a list
    (None where no gradient arrived); each output is recorded as a pick from it (:class:`_Pick`)."""
    if not any(isinstance(p, Tensor) for p in parents):
        return list(values)
    op, n = record(list(values), tuple(parents), vjp), len(values)
    return [record(v, (op,), _pick(i, n)) for i, v in enumerate(values)]


class _Pick:
    """The backward of output ``i`` of an op with ``n`` outputs: ``(i, n, g)``, which :func:`backward` adds
    into place ``i`` of the op's list of gradients."""

    __slots__ = ("i", "n")

    def __init__(self, i, n):
        self.i, self.n = i, n

    def __call__(self, g):
        return ((self.i, self.n, g),)


@functools.lru_cache(maxsize=1024)
def _pick(i, n):
    return _Pick(i, n)  # one per (i, n), shared by every op


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


def _topological_order(targets):
    """Every op result that ``targets`` depend on (leaves excluded), each after the results it was made from."""
    order, seen = [], set()
    stack = [(t, False) for t in targets if isinstance(t, Tensor) and t.parents is not None]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for p in t.parents:
            if isinstance(p, Tensor) and p.parents is not None and id(p) not in seen:
                stack.append((p, False))
    return order


def backward(targets, seeds, ops=None, deferred=None):
    """Backpropagate ``seeds`` (gradients of the loss w.r.t. each of ``targets``) through the record.

    ``ops`` (a :class:`Tape`'s, in the order the ops ran) is walked backwards instead of sorting the graph from
    the targets; if the targets depend on an op not in it, the graph is sorted after all. ``deferred`` (a
    tape's :attr:`Tape.deferred`) receives the gradients of its weight leaves, kept as factors
    (:class:`RowProduct`, :class:`RowSum`) rather than computed.

    Returns ``grad_of(tensor)``: the accumulated gradient of any Tensor the targets depend on (leaves
    included, except deferred ones), or None where none flowed.
    """
    grads = {}  # id(tensor) -> gradient
    owners = {}  # id -> Tensor, so that ids stay valid while grads are looked up
    later = []  # (id(weight leaf), contribution) for ``deferred``
    deferred_keys = deferred if deferred is not None else ()

    def add(t, g):
        """Accumulate ``g`` into ``t``'s gradient: the general case (casts, broadcasting, factors, lists)."""
        key = id(t)
        value = t.value
        if key in deferred_keys:
            if type(g) is not RowProduct:
                g = np.asarray(g)
                if g.shape != value.shape:
                    lead = g.ndim - value.ndim
                    g = RowSum(g.reshape((-1,) + value.shape)) if lead > 0 and g.shape[lead:] == value.shape \
                        else unbroadcast(g, value.shape)
            later.append((key, g))
            return
        old = grads.get(key)
        if type(g) is tuple:  # (i, n, gradient of output i) of an op with n outputs (see record_many)
            i, n, g = g
            if old is None:
                old = grads[key] = [None] * n
                owners[key] = t
            old[i] = g if old[i] is None else old[i] + g
            return
        if value.dtype.kind not in "fc":
            return  # integers and booleans carry no gradient
        if type(g) is RowProduct:
            g = g.value()
        elif type(g) is not np.ndarray:
            g = np.asarray(g)
        if g.shape != value.shape:
            g = unbroadcast(g, value.shape)
        if g.dtype != value.dtype and g.dtype.kind == "f" and value.dtype.kind == "f":
            g = g.astype(value.dtype)
        if old is None:
            grads[key] = g
            owners[key] = t
        else:
            grads[key] = old + g

    for t, s in zip(targets, seeds):
        if isinstance(t, Tensor) and s is not None:
            add(t, np.asarray(s, dtype=t.value.dtype))
    pop, get, ndarray = grads.pop, grads.get, np.ndarray
    for out in reversed(_topological_order(targets) if ops is None else ops):
        g = pop(id(out), None)  # an intermediate's gradient is spent once its op has run
        if g is None:
            continue
        if type(g) is list:
            g = [np.zeros_like(v) if d is None else d for d, v in zip(g, out.value)]
        for p, d in zip(out.parents, out.vjp(g)):
            if d is None or type(p) is not Tensor:
                continue
            key = id(p)
            value = p.value
            # the common case in full: an array of the Tensor's own float dtype and shape
            if type(d) is ndarray and d.dtype is value.dtype and d.shape == value.shape and key not in deferred_keys:
                old = get(key)
                if old is None:
                    grads[key] = d
                    owners[key] = p
                else:
                    grads[key] = old + d
            else:
                add(p, d)
    if ops is not None and any(owners[key].parents is not None for key in grads):
        return backward(targets, seeds, None, deferred)  # an op outside ``ops``: sort the graph after all
    for key, g in later:
        deferred[key][1].append(g)
    return lambda t: grads.get(id(t))
