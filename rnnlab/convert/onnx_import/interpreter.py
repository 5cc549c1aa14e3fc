"""A small NumPy interpreter for the ONNX operators around the recurrent nodes.

``torch.onnx.export`` and :func:`rnnlab.convert.to_onnx` surround each LSTM/GRU/RNN node with ``Transpose``/
``Squeeze``/``Shape``/``Gather``/``Concat``/``Expand``/``Gemm``... nodes.  :func:`operators` maps each such
operator to a NumPy function following the ONNX operator definitions (for the model's opset);
:func:`order_nodes` puts a graph's nodes in an order that runs (Kahn's algorithm, linear in the graph's size),
and :func:`evaluate` runs them.  The recurrent nodes themselves are :mod:`.recurrent`'s; this module only calls
them.

Operators whose output size comes from tensor *values* (``ConstantOfShape``, ``Expand``, ``Tile``, ``Range``)
or from broadcasting may produce at most :data:`MAX_ELEMENTS` elements: a tiny hostile graph cannot make
rnnlab allocate gigabytes (``ConstantOfShape([2**31])``).  The limit is checked before anything is allocated;
raise it (``rnnlab.convert.onnx_import.interpreter.MAX_ELEMENTS = ...``) for larger inputs.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from rnnlab import activations


# ------------------------------------------------------------------------------------------ nodes and tensors
def node_attributes(node):
    """``{name: value}`` of a node's attributes; a subgraph (control flow) raises ValueError."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        if a.type in (a.GRAPH, a.GRAPHS):
            raise ValueError(f"Operator {node.op_type!r} (node {node.name!r}) has a subgraph; rnnlab does not run "
                             "control flow.")
        out[a.name] = helper.get_attribute_value(a)
    return out


#: The most elements an operator whose output size the graph chooses may produce (2**28: 1 GiB of float32).
MAX_ELEMENTS = 1 << 28


def check_elements(shape, what):
    """Refuse an output of ``shape`` (a sequence of ints) with a negative size or over :data:`MAX_ELEMENTS`."""
    count = 1
    for d in shape:
        d = int(d)
        if d < 0:
            raise ValueError(f"{what}: negative dimension in shape {list(shape)}.")
        count *= d
    if count > MAX_ELEMENTS:
        raise ValueError(f"{what}: an output of shape {list(shape)} ({count:,} elements) exceeds the interpreter's "
                         f"limit of MAX_ELEMENTS = {MAX_ELEMENTS:,}.")
    return [int(d) for d in shape]


def to_array(t):
    """A ``TensorProto`` as a NumPy array (its data in the proto itself: external data must be loaded first)."""
    from onnx import TensorProto, numpy_helper

    if not hasattr(t, "dims") or not hasattr(t, "data_location"):
        raise ValueError(f"expected a tensor, found {type(t).__name__}")
    if t.data_location == TensorProto.EXTERNAL:
        raise ValueError("the tensor's data lies in an external file, which only initializers may use")
    check_elements(t.dims, f"tensor {t.name!r}")
    return numpy_helper.to_array(t)


def numpy_dtype(elem):
    """The NumPy dtype of an ONNX element type."""
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem))


def constant_value(attrs):
    """The array a ``Constant`` node holds, from its attributes."""
    values = [k for k in attrs if k.startswith("value") or k == "sparse_value"]
    if len(values) != 1:
        raise ValueError(f"a Constant node needs exactly one value attribute; found {sorted(attrs)}.")
    if "value" in attrs:
        return to_array(attrs["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                    ("value_ints", np.int64)):
        if key in attrs:
            value = attrs[key]
            if not isinstance(value, (int, float, list)):
                raise ValueError(f"the Constant's `{key}` holds a {type(value).__name__}.")
            return np.asarray(value, dt)
    raise ValueError(f"Constant node with unsupported attributes {sorted(attrs)}.")


# ------------------------------------------------------------------------------------------ the operators
def _axes(node_attrs, inputs, index, opset, since):
    """Axes given as an attribute (before ``since``) or as input ``index``."""
    if opset >= since:
        v = inputs[index] if len(inputs) > index else None
        return None if v is None else [int(a) for a in np.asarray(v).reshape(-1)]
    v = node_attrs.get("axes")
    return None if v is None else [int(a) for a in v]


def _reduce(fn, opset, since):
    def run(x, *rest, attrs):
        axes = _axes(attrs, [x, *rest], 1, opset, since)
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = None
        out = fn(x, axis=None if axes is None else tuple(axes), keepdims=bool(attrs.get("keepdims", 1)))
        return np.asarray(out).astype(x.dtype, copy=False)
    return run


def _softmax(kind, opset):
    def run(x, attrs):
        axis = attrs.get("axis", -1 if opset >= 13 else 1)
        if opset < 13:  # older definition: flatten to 2-D at `axis`
            shape = x.shape
            x2 = x.reshape(int(np.prod(shape[:axis])), -1)
            fn = activations.softmax if kind == "softmax" else activations.log_softmax
            return fn(x2, -1).reshape(shape)
        return activations.softmax(x, axis) if kind == "softmax" else activations.log_softmax(x, axis)
    return run


def _slice(opset):
    def run(x, *rest, attrs):
        if opset >= 10:
            starts, ends = rest[0], rest[1]
            axes = rest[2] if len(rest) > 2 and rest[2] is not None else None
            steps = rest[3] if len(rest) > 3 and rest[3] is not None else None
        else:
            starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
        starts = [int(v) for v in np.asarray(starts).reshape(-1)]
        ends = [int(v) for v in np.asarray(ends).reshape(-1)]
        axes = list(range(len(starts))) if axes is None else [int(v) for v in np.asarray(axes).reshape(-1)]
        steps = [1] * len(starts) if steps is None else [int(v) for v in np.asarray(steps).reshape(-1)]
        index = [slice(None)] * x.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            if st == 0:
                raise ValueError("Slice: steps must not be 0.")
            n = x.shape[a]
            s, e = (s + n if s < 0 else s), (e + n if e < 0 else e)  # ONNX's clamping, then a Python slice
            if st > 0:
                s, e = min(max(s, 0), n), min(max(e, 0), n)
                index[a] = slice(s, e, st)
            else:
                s, e = min(max(s, 0), n - 1), min(max(e, -1), n - 1)
                index[a] = slice(s, None if e < 0 else e, st)
        return x[tuple(index)]
    return run


def _gemm(a, b, c=None, attrs=None):
    a = a.T if attrs.get("transA", 0) else a
    b = b.T if attrs.get("transB", 0) else b
    y = attrs.get("alpha", 1.0) * (a @ b) if attrs.get("alpha", 1.0) != 1.0 else a @ b
    if c is not None:
        y = y + (attrs.get("beta", 1.0) * c if attrs.get("beta", 1.0) != 1.0 else c)
    return y.astype(a.dtype, copy=False)


def _reshape(x, shape, attrs):
    shape = [int(v) for v in np.asarray(shape).reshape(-1)]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def _split(opset):
    def run(x, *rest, attrs, n_outputs):
        axis = attrs.get("axis", 0)
        split = rest[0] if rest and rest[0] is not None else attrs.get("split")
        if split is None:
            parts = n_outputs if opset < 18 else attrs.get("num_outputs", n_outputs)
            size = -(-x.shape[axis] // parts)
            split = [min(size, x.shape[axis] - i * size) for i in range(parts)]
        points = np.cumsum([int(s) for s in np.asarray(split).reshape(-1)])[:-1]
        return np.split(x, points, axis=axis)
    return run


def _div(a, b, attrs):
    if np.asarray(a).dtype.kind in "iu":
        return np.trunc(np.asarray(a) / np.asarray(b)).astype(np.result_type(a, b))
    return np.divide(a, b)


def _clip(opset):
    def run(x, *rest, attrs):
        lo = rest[0] if rest and rest[0] is not None else attrs.get("min") if opset < 11 else None
        hi = rest[1] if len(rest) > 1 and rest[1] is not None else attrs.get("max") if opset < 11 else None
        y = x
        if lo is not None:
            y = np.maximum(y, lo)
        if hi is not None:
            y = np.minimum(y, hi)
        return y.astype(x.dtype, copy=False)
    return run


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _same(fn):
    return lambda x, attrs: np.asarray(fn(x)).astype(x.dtype, copy=False)


def _unsqueeze(x, axes):
    rank = x.ndim + len(axes)
    for a in sorted(a % rank for a in axes):
        x = np.expand_dims(x, a)
    return x


def _squeeze(x, axes):
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(a % x.ndim for a in axes))


def _cumsum(x, axis, attrs):
    y = x
    if attrs.get("reverse", 0):
        y = np.flip(y, axis)
    out = np.cumsum(y, axis=axis, dtype=x.dtype)
    if attrs.get("exclusive", 0):
        out = out - y
    return np.flip(out, axis) if attrs.get("reverse", 0) else out


def _arg(fn, x, attrs):
    axis = attrs.get("axis", 0)
    if attrs.get("select_last_index", 0):
        n = x.shape[axis]
        out = n - 1 - fn(np.flip(x, axis), axis=axis)
    else:
        out = fn(x, axis=axis)
    out = out.astype(np.int64)
    return np.expand_dims(out, axis) if attrs.get("keepdims", 1) else out


def _elements_index(x, indices, axis):
    """``(axis, index)`` for GatherElements/ScatterElements: negative indices counted from the end, and the
    slice of ``x`` that ``indices`` covers (ONNX lets ``indices`` be smaller than ``x`` off the axis)."""
    axis = axis % x.ndim
    i = np.asarray(indices, np.int64)
    if i.ndim != x.ndim:
        raise ValueError(f"indices of rank {i.ndim} for data of rank {x.ndim}.")
    i = np.where(i < 0, i + x.shape[axis], i)
    if i.size and (i.min() < 0 or i.max() >= x.shape[axis]):
        raise ValueError(f"an index is out of range for axis {axis} of size {x.shape[axis]}.")
    part = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(i.shape))
    return axis, i, part


def _gather_elements(x, indices, attrs):
    axis, i, part = _elements_index(x, indices, attrs.get("axis", 0))
    return np.take_along_axis(x[part], i, axis=axis)


def _scatter_elements(x, indices, updates, attrs):
    if attrs.get("reduction", b"none") not in (b"none", "none"):
        raise ValueError(f"reduction {attrs['reduction']!r} is not supported (only 'none').")
    axis, i, part = _elements_index(x, indices, attrs.get("axis", 0))
    out = np.array(x, copy=True)
    np.put_along_axis(out[part], i, np.asarray(updates, x.dtype), axis=axis)  # out[part] is a view of out
    return out
def _shape_values(s, what):
    return check_elements([int(v) for v in np.asarray(s).reshape(-1)], what)


def _constant_of_shape(s, attrs):
    value = to_array(attrs["value"]).reshape(()) if "value" in attrs else np.float32(0.0)
    return np.full(_shape_values(s, "ConstantOfShape"), value, dtype=value.dtype)


def _expand(x, s, attrs):
    shape = check_elements(np.broadcast_shapes(x.shape, tuple(_shape_values(s, "Expand"))), "Expand")
    return np.broadcast_to(x, shape).copy()


def _tile(x, r, attrs):
    repeats = [int(v) for v in np.asarray(r).reshape(-1)]
    if len(repeats) != x.ndim:
        raise ValueError(f"Tile: {len(repeats)} repeats for a rank-{x.ndim} input.")
    check_elements([d * n for d, n in zip(x.shape, repeats)], "Tile")
    return np.tile(x, repeats)


def _range(s, e, d, attrs):
    start, limit, delta = (np.asarray(v).item() for v in (s, e, d))
    if delta == 0:
        raise ValueError("Range: delta must not be 0.")
    count = max(math.ceil((limit - start) / delta), 0)
    check_elements([count], "Range")
    return np.arange(start, limit, delta).astype(np.asarray(s).dtype)


def operators(opset):
    """op_type -> function(*inputs, attrs=...) returning one array (or a list when the op has several outputs)."""
    f = np.asarray
    return {
        "Identity": lambda x, attrs: x,
        "Dropout": lambda x, *rest, attrs: x,  # inference
        "Shape": lambda x, attrs: np.asarray(x.shape, np.int64)[attrs.get("start", 0):attrs.get("end", None)],
        "Size": lambda x, attrs: np.asarray(x.size, np.int64),
        "GatherElements": _gather_elements,
        "ScatterElements": _scatter_elements,
        "Gather": lambda x, i, attrs: np.take(x, np.where(f(i) < 0, f(i) + x.shape[attrs.get("axis", 0)], f(i)),
                                              axis=attrs.get("axis", 0)),
        "Unsqueeze": lambda x, *rest, attrs: _unsqueeze(x, _axes(attrs, [x, *rest], 1, opset, 13)),
        "Squeeze": lambda x, *rest, attrs: _squeeze(x, _axes(attrs, [x, *rest], 1, opset, 13)),
        "Concat": lambda *xs, attrs: np.concatenate([f(x) for x in xs], axis=attrs["axis"]),
        "ConstantOfShape": _constant_of_shape,
        "Expand": _expand,
        "Transpose": lambda x, attrs: np.transpose(x, attrs.get("perm")),
        "Slice": _slice(opset),
        "Reshape": _reshape,
        "Flatten": lambda x, attrs: x.reshape(int(np.prod(x.shape[:attrs.get("axis", 1)])), -1),
        "Gemm": lambda a, b, c=None, attrs=None: _gemm(a, b, c, attrs),
        "MatMul": lambda a, b, attrs: np.matmul(a, b),
        "Add": lambda a, b, attrs: np.add(a, b),
        "Sub": lambda a, b, attrs: np.subtract(a, b),
        "Mul": lambda a, b, attrs: np.multiply(a, b),
        "Div": _div,
        "Pow": lambda a, b, attrs: np.power(a, b).astype(f(a).dtype),
        "Neg": lambda x, attrs: -x,
        "Abs": lambda x, attrs: np.abs(x),
        "Exp": lambda x, attrs: np.exp(x),
        "Log": lambda x, attrs: np.log(x),
        "Sqrt": lambda x, attrs: np.sqrt(x),
        "Reciprocal": lambda x, attrs: (1 / x).astype(x.dtype),
        "Floor": lambda x, attrs: np.floor(x),
        "Ceil": lambda x, attrs: np.ceil(x),
        "Erf": lambda x, attrs: _erf(x),
        "Tanh": lambda x, attrs: np.tanh(x),
        "Sigmoid": lambda x, attrs: activations.sigmoid(x),
        "Relu": lambda x, attrs: activations.relu(x),
        "LeakyRelu": lambda x, attrs: np.where(x >= 0, x, attrs.get("alpha", 0.01) * x).astype(x.dtype),
        "Elu": lambda x, attrs: np.where(x > 0, x, attrs.get("alpha", 1.0) * np.expm1(np.minimum(x, 0)))
        .astype(x.dtype),
        "Celu": lambda x, attrs: activations.celu(x, attrs.get("alpha", 1.0)),
        "Selu": lambda x, attrs: (attrs.get("gamma", 1.0507009873554805) * np.where(
            x > 0, x, attrs.get("alpha", 1.6732632423543772) * np.expm1(np.minimum(x, 0)))).astype(x.dtype),
        "Softplus": _same(activations.softplus),
        "Softsign": _same(activations.softsign),
        "HardSigmoid": lambda x, attrs: np.clip(attrs.get("alpha", 0.2) * x + attrs.get("beta", 0.5), 0, 1)
        .astype(x.dtype),
        "HardSwish": lambda x, attrs: (x * np.clip(x / 6 + 0.5, 0, 1)).astype(x.dtype),
        "Mish": lambda x, attrs: activations.mish(x),
        "Gelu": lambda x, attrs: activations.gelu(x) if attrs.get("approximate", b"none") in (b"none", "none") else
        (0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))).astype(x.dtype),
        "Softmax": _softmax("softmax", opset),
        "LogSoftmax": _softmax("log_softmax", opset),
        "Clip": _clip(opset),
        "Cast": lambda x, attrs: f(x).astype(numpy_dtype(attrs["to"])),
        "CastLike": lambda x, like, attrs: f(x).astype(f(like).dtype),
        "Equal": lambda a, b, attrs: np.equal(a, b),
        "Greater": lambda a, b, attrs: np.greater(a, b),
        "Less": lambda a, b, attrs: np.less(a, b),
        "GreaterOrEqual": lambda a, b, attrs: np.greater_equal(a, b),
        "LessOrEqual": lambda a, b, attrs: np.less_equal(a, b),
        "Not": lambda x, attrs: np.logical_not(x),
        "And": lambda a, b, attrs: np.logical_and(a, b),
        "Or": lambda a, b, attrs: np.logical_or(a, b),
        "Xor": lambda a, b, attrs: np.logical_xor(a, b),
        "Where": lambda c, a, b, attrs: np.where(c, a, b),
        "Max": lambda *xs, attrs: np.maximum.reduce(np.broadcast_arrays(*xs)),
        "Min": lambda *xs, attrs: np.minimum.reduce(np.broadcast_arrays(*xs)),
        "Sum": lambda *xs, attrs: sum(xs[1:], xs[0]),
        "ReduceSum": _reduce(np.sum, opset, 13),
        "ReduceMean": _reduce(np.mean, opset, 18),
        "ReduceMax": _reduce(np.max, opset, 18),
        "ReduceMin": _reduce(np.min, opset, 18),
        "ReduceProd": _reduce(np.prod, opset, 18),
        "Range": _range,
        "Tile": _tile,
        "Split": _split(opset),
        "CumSum": lambda x, axis, attrs: _cumsum(x, int(f(axis).item()), attrs),
        "ArgMax": lambda x, attrs: _arg(np.argmax, x, attrs),
        "ArgMin": lambda x, attrs: _arg(np.argmin, x, attrs),
    }


#: Operators with several outputs: their function takes ``n_outputs`` and returns a list.
MULTI_OUTPUT = {"Split"}


# ------------------------------------------------------------------------------------------ running a graph
def order_nodes(nodes, given, outputs, source):
    """The nodes in an order where each runs after the nodes producing its inputs (the standard requires
    topological order; be forgiving, but strict about dangling names).  ``given``: the names available before any
    node runs ("" included: an omitted optional input); ``outputs``: the graph's outputs, which some node or
    ``given`` must produce.

    Kahn's algorithm over node indices: each node counts its inputs not yet available, and a node whose count
    reaches zero becomes ready; ready nodes run in file order.  Linear in the graph's size."""
    nodes = list(nodes)
    available = set(given)
    producer, consumers = {}, {}
    for index, node in enumerate(nodes):
        for name in node.output:
            if name:
                if name in producer or name in available:
                    raise ValueError(f"{source}: tensor {name!r} is produced twice (damaged graph).")
                producer[name] = index
    waiting = []
    for index, node in enumerate(nodes):
        missing = [name for name in node.input if name not in available]
        dangling = [name for name in missing if name not in producer]
        if dangling:
            raise ValueError(f"{source}: tensors {sorted(set(dangling))[:8]} are used but never produced (damaged "
                             "graph).")
        for name in missing:
            consumers.setdefault(name, []).append(index)
        waiting.append(len(missing))
    ready = [index for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    plan = []
    while ready:
        index = heapq.heappop(ready)
        plan.append(nodes[index])
        for name in nodes[index].output:
            for consumer in consumers.pop(name, ()):
                waiting[consumer] -= 1
                if waiting[consumer] == 0:
                    heapq.heappush(ready, consumer)
    if len(plan) != len(nodes):
        stuck = sorted({name for name in consumers})[:8]
        raise ValueError(f"{source}: tensors {stuck} are used but never produced (the graph has a cycle).")
    produced = available | set(producer)
    missing = [o for o in outputs if o not in produced]
    if missing:
        raise ValueError(f"{source}: graph outputs {missing} are never produced.")
    return plan


#: Operators that broadcast their inputs: the output's size is checked before it is computed.
_BROADCASTING = {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
                 "And", "Or", "Xor", "Where", "Max", "Min", "Sum"}


def _check_output_size(node, values):
    if node.op_type in _BROADCASTING:
        shapes = [np.shape(v) for v in values if v is not None]
        check_elements(np.broadcast_shapes(*shapes), node.op_type)
    elif node.op_type == "MatMul" and len(values) == 2 and min(np.ndim(v) for v in values) >= 2:
        a, b = np.shape(values[0]), np.shape(values[1])
        check_elements(np.broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1]), "MatMul")


def evaluate(steps, ops, env, source):
    """Run ``steps`` in order, adding each node's outputs to ``env`` (``{tensor name: array}``, holding the
    constants and the inputs).  A step is ``(node, kind, payload)``: ``"constant"`` with its array, ``"op"`` with
    its attributes (run by ``ops``, the table of :func:`operators`), or ``"recurrent"`` with an object whose
    ``run(values, n_outputs)`` returns the node's outputs."""
    for node, kind, payload in steps:
        if kind == "constant":
            env[node.output[0]] = payload
            continue
        values = [env[i] if i else None for i in node.input]
        try:
            _check_output_size(node, values)
            if kind == "recurrent":
                results = payload.run(values, len(node.output))
            elif node.op_type in MULTI_OUTPUT:
                results = ops[node.op_type](*values, attrs=payload, n_outputs=len(node.output))
            else:
                while values and values[-1] is None:
                    values.pop()
                results = [ops[node.op_type](*values, attrs=payload)]
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, ZeroDivisionError,
                MemoryError) as exc:
            raise ValueError(f"{source}: node {node.name or node.op_type!r} ({node.op_type}) failed: "
                             f"{type(exc).__name__}: {exc}") from None
        for name, value in zip(node.output, results):
            if name:
                env[name] = np.asarray(value)
