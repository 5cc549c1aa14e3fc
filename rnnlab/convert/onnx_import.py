"""ONNX graph -> a callable that runs in rnnlab.

Every ``LSTM``, ``GRU`` and ``RNN`` node becomes rnnlab recurrent layers (one per direction), with the ONNX
weights converted to Keras's layout through :mod:`rnnlab.weight_layouts` -- so ``OnnxModel.layers`` holds ordinary
rnnlab layers with ordinary weights.  The operators around them (the ``Transpose``/``Squeeze``/``Shape``/``Gather``/
``Concat``/``Expand``/``Gemm``... that ``torch.onnx.export`` and :func:`rnnlab.convert.to_onnx` emit) run in a small
NumPy interpreter following the ONNX operator definitions.

Recurrent semantics carried over exactly: ``direction`` (forward / reverse / bidirectional), ``layout`` 0 and 1,
``initial_h``/``initial_c``, ``sequence_lens`` (right padding: the layer runs with a mask and zero outputs past the
length, as ONNX specifies), GRU ``linear_before_reset`` (1 = Keras ``reset_after=True``, 0 = ``reset_after=False``),
and the ``activations`` attribute.  Refused with ``ValueError``: ``clip``, ``input_forget=1``, non-zero LSTM
peepholes, LSTM whose cell and hidden activations differ (Keras uses one ``activation`` for both), activation
parameters that the ONNX wording leaves ambiguous, recurrent weights that are not constants.

Operators outside :data:`SUPPORTED_OPS`, operators from other domains and subgraphs raise ``ValueError`` naming
the operator; damaged files (bad protobuf, failed checker, dangling tensor names) raise ``ValueError`` too.
"""
from __future__ import annotations

import os

import numpy as np

from rnnlab import activations
from rnnlab.weight_layouts import NUM_GATES, reorder_gates

_KIND = {"LSTM": "lstm", "GRU": "gru", "RNN": "simple_rnn"}
_INT64_MAX = np.iinfo(np.int64).max


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("Reading ONNX files needs the 'onnx' package: pip install onnx (or rnnlab[onnx]).") from None
    return onnx


# ------------------------------------------------------------------------------------------ recurrent activations
_ALPHA_DEFAULT = {"leakyrelu": 0.01, "thresholdedrelu": 1.0, "hardsigmoid": 0.2, "elu": 1.0}
_BETA_DEFAULT = {"hardsigmoid": 0.5}
_NEEDS_EXPLICIT = {"affine", "scaledtanh"}  # defaults differ between runtimes: refuse to guess
_ALPHA_USERS = {"affine", "leakyrelu", "thresholdedrelu", "scaledtanh", "hardsigmoid", "elu"}
_BETA_USERS = {"affine", "scaledtanh", "hardsigmoid"}


def _named(fn, name):
    fn.__name__ = name
    return fn


def _rnn_activation(name, alpha, beta, where):
    """The rnnlab function for an ONNX recurrent activation with its parameters (exact ONNX formulas)."""
    key = name.lower()
    if key == "tanh":
        return activations.tanh
    if key == "sigmoid":
        return activations.sigmoid
    if key == "relu":
        return activations.relu
    if key == "softsign":
        return activations.softsign
    if key == "softplus":
        return activations.softplus
    if key == "elu":
        if alpha == 1.0:
            return activations.elu
        return _named(lambda x: np.where(x >= 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype), f"elu_{alpha}")
    if key == "leakyrelu":
        if alpha == 0.2:
            return activations.leaky_relu
        return _named(lambda x: np.where(x >= 0, x, alpha * x).astype(x.dtype), f"leaky_relu_{alpha}")
    if key == "hardsigmoid":
        if (alpha, beta) == (0.2, 0.5):
            return activations.hard_sigmoid_tf2
        return _named(lambda x: np.clip(np.asarray(alpha, x.dtype) * x + np.asarray(beta, x.dtype), 0, 1)
                      .astype(x.dtype), f"hard_sigmoid_{alpha}_{beta}")
    if key == "affine":
        if (alpha, beta) == (1.0, 0.0):
            return activations.linear
        return _named(lambda x: (np.asarray(alpha, x.dtype) * x + np.asarray(beta, x.dtype)).astype(x.dtype),
                      f"affine_{alpha}_{beta}")
    if key == "thresholdedrelu":
        return _named(lambda x: np.where(x >= alpha, x, 0).astype(x.dtype), f"thresholded_relu_{alpha}")
    if key == "scaledtanh":
        return _named(lambda x: (np.asarray(alpha, x.dtype) * np.tanh(np.asarray(beta, x.dtype) * x)).astype(x.dtype),
                      f"scaled_tanh_{alpha}_{beta}")
    raise ValueError(f"{where}: unknown recurrent activation {name!r}.")


def _resolve_parameters(names, values, users, defaults, attr, where):
    """Per-activation parameter values.  ONNX's wording admits two readings (one value per listed activation, or
    one per parameter-taking activation); when both apply and disagree, refuse."""
    keys = [n.lower() for n in names]
    sequential, aligned = [], []
    count = 0
    for i, k in enumerate(keys):
        if k not in users:
            sequential.append(None)
            aligned.append(None)
            continue
        seq = values[count] if count < len(values) else None
        count += 1
        ali = values[i] if len(values) == len(keys) else seq
        if seq is None and k in _NEEDS_EXPLICIT:
            raise ValueError(f"{where}: activation {names[i]!r} has no {attr}; its default differs between ONNX "
                             "runtimes, so rnnlab refuses to guess.")
        seq = defaults.get(k) if seq is None else seq
        ali = defaults.get(k) if ali is None else ali
        if seq != ali:
            raise ValueError(f"{where}: {attr}={list(values)} is ambiguous for activations {names} (ONNX runtimes "
                             "read it in two ways that give different values here).")
        sequential.append(seq)
    return sequential


# ------------------------------------------------------------------------------------------ the recurrent nodes
class _Recurrent:
    """One ONNX LSTM/GRU/RNN node, run by rnnlab layers (``layers[d]`` for direction ``d``)."""

    def __init__(self, node, attrs, consts, where):
        from rnnlab import layers as L

        self.op = node.op_type
        kind = self.kind = _KIND[node.op_type]
        inputs = list(node.input) + [""] * 8
        for name, idx in (("W", 1), ("R", 2)):
            if inputs[idx] == "" or inputs[idx] not in consts:
                raise ValueError(f"{where}: input {name} must be a constant (an initializer or Constant); rnnlab "
                                 "maps recurrent nodes onto layers with fixed weights.")
        for name, idx in (("B", 3), ("P", 7)):
            if inputs[idx] and inputs[idx] not in consts and (kind == "lstm" or name == "B"):
                raise ValueError(f"{where}: input {name} must be a constant.")
        if attrs.get("clip") is not None:
            raise ValueError(f"{where}: attribute clip={attrs['clip']} (cell clipping) has no Keras/rnnlab equivalent.")
        if attrs.get("input_forget", 0):
            raise ValueError(f"{where}: input_forget=1 (coupled input and forget gates) has no Keras/rnnlab "
                             "equivalent.")
        direction = attrs.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else str(direction)
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"{where}: unknown direction {direction!r}.")
        dirs = 2 if direction == "bidirectional" else 1
        self.layout = int(attrs.get("layout", 0))
        if self.layout not in (0, 1):
            raise ValueError(f"{where}: unknown layout {self.layout}.")
        w, r = consts[inputs[1]], consts[inputs[2]]
        g = NUM_GATES[kind]
        units = int(attrs.get("hidden_size", r.shape[-1] if r.ndim == 3 else 0))
        if w.ndim != 3 or r.ndim != 3 or w.shape[0] != dirs or w.shape[1] != g * units or \
                r.shape != (dirs, g * units, units):
            raise ValueError(f"{where}: W {w.shape} / R {r.shape} do not fit direction={direction!r}, "
                             f"hidden_size={units} ({g} gates).")
        b = consts.get(inputs[3]) if inputs[3] else None
        if b is not None and b.shape != (dirs, 2 * g * units):
            raise ValueError(f"{where}: B has shape {b.shape}; expected {(dirs, 2 * g * units)}.")
        if kind == "lstm" and inputs[7]:
            p = consts[inputs[7]]
            if np.any(p != 0):
                raise ValueError(f"{where}: non-zero peephole weights P have no Keras/rnnlab equivalent.")
        reset_after = bool(attrs.get("linear_before_reset", 0))
        names = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
        n_act = {"lstm": 3, "gru": 2, "simple_rnn": 1}[kind]
        if not names:
            names = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"],
                     "simple_rnn": ["Tanh"]}[kind] * dirs
        if len(names) != n_act * dirs:
            raise ValueError(f"{where}: activations {names} must list {n_act * dirs} functions.")
        alphas = _resolve_parameters(names, list(attrs.get("activation_alpha", [])), _ALPHA_USERS, _ALPHA_DEFAULT,
                                     "activation_alpha", where)
        betas = _resolve_parameters(names, list(attrs.get("activation_beta", [])), _BETA_USERS, _BETA_DEFAULT,
                                    "activation_beta", where)
        fns = [_rnn_activation(n, a, bt, where) for n, a, bt in zip(names, alphas, betas)]
        dtype = "float64" if w.dtype == np.float64 else "float32"
        cls = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[kind]
        base = (node.name or node.op_type).replace("/", "_").strip("_") or node.op_type
        self.layers, self.direction = [], direction
        for d in range(dirs):
            f = fns[d * n_act:(d + 1) * n_act]
            kwargs = {"return_sequences": True, "return_state": True, "zero_output_for_mask": True,
                      "go_backwards": direction == "reverse" or d == 1, "use_bias": b is not None, "dtype": dtype,
                      "name": f"{base}_{'backward' if (direction == 'reverse' or d == 1) else 'forward'}"}
            if kind == "lstm":
                g_act, h_act = d * 3 + 1, d * 3 + 2
                if (names[g_act].lower(), alphas[g_act], betas[g_act]) != (names[h_act].lower(), alphas[h_act],
                                                                           betas[h_act]):
                    raise ValueError(f"{where}: cell activation {names[g_act]!r} differs from hidden activation "
                                     f"{names[h_act]!r}; Keras's LSTM uses one `activation` for both.")
                kwargs.update(recurrent_activation=f[0], activation=f[1], unit_forget_bias=False)
            elif kind == "gru":
                kwargs.update(recurrent_activation=f[0], activation=f[1], reset_after=reset_after)
            else:
                kwargs.update(activation=f[0])
            layer = cls(units, **kwargs)
            layer.build((None, None, w.shape[2]))
            weights = [reorder_gates(w[d], kind, "onnx", "keras", axis=0).T,
                       reorder_gates(r[d], kind, "onnx", "keras", axis=0).T]
            if b is not None:
                wb = reorder_gates(b[d][:g * units], kind, "onnx", "keras")
                rb = reorder_gates(b[d][g * units:], kind, "onnx", "keras")
                weights.append(np.stack([wb, rb]) if kind == "gru" and reset_after else wb + rb)
            layer.set_weights(weights)
            self.layers.append(layer)
        self.units, self.input_size, self.inputs = units, int(w.shape[2]), inputs

    def run(self, values, n_outputs):
        x = values[0]
        if x.ndim != 3:
            raise ValueError(f"{self.op}: input X must have rank 3; received shape {x.shape}.")
        x_bt = x if self.layout == 1 else np.swapaxes(x, 0, 1)  # (B, T, I)
        batch, steps = x_bt.shape[0], x_bt.shape[1]
        lens, h0, c0 = values[4], values[5], values[6] if self.kind == "lstm" else None
        mask = None
        if lens is not None:
            lens = np.asarray(lens).astype(np.int64).reshape(-1)
            if lens.shape != (batch,) or lens.min(initial=0) < 0 or lens.max(initial=0) > steps:
                raise ValueError(f"{self.op}: sequence_lens {lens.tolist()} must hold {batch} values in [0, {steps}].")
            if np.any(lens != steps):
                mask = np.arange(steps)[None, :] < lens[:, None]
        seqs, hs, cs = [], [], []
        for d, layer in enumerate(self.layers):
            initial = None
            if h0 is not None or c0 is not None:
                def pick(s):
                    if s is None:
                        return np.zeros((batch, self.units), layer.dtype)
                    return s[:, d] if self.layout == 1 else s[d]
                initial = [pick(h0)] + ([pick(c0)] if self.kind == "lstm" else [])
            out = layer(x_bt, initial_state=initial, mask=mask)
            seq = np.asarray(out[0])
            if layer.go_backwards:
                seq = seq[:, ::-1]  # back into time order, as ONNX's Y is
            seqs.append(seq)
            hs.append(np.asarray(out[1]))
            if self.kind == "lstm":
                cs.append(np.asarray(out[2]))
        if self.layout == 1:
            results = [np.stack(seqs, axis=2), np.stack(hs, axis=1)] + ([np.stack(cs, axis=1)] if cs else [])
        else:
            results = [np.stack([s.swapaxes(0, 1) for s in seqs], axis=1), np.stack(hs)] + \
                ([np.stack(cs)] if cs else [])
        return [np.ascontiguousarray(a) for a in results[:n_outputs]]


# ------------------------------------------------------------------------------------------ the interpreter
def _attrs(node):
    from onnx import helper

    out = {}
    for a in node.attribute:
        if a.type in (a.GRAPH, a.GRAPHS):
            raise ValueError(f"Operator {node.op_type!r} (node {node.name!r}) has a subgraph; rnnlab does not run "
                             "control flow.")
        out[a.name] = helper.get_attribute_value(a)
    return out


def _tensor(t):
    from onnx import numpy_helper

    return numpy_helper.to_array(t)


def _np_type(elem):
    from onnx import helper

    return np.dtype(helper.tensor_dtype_to_np_dtype(elem))


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


def _constant(attrs):
    if "value" in attrs:
        return _tensor(attrs["value"])
    for key, dt in (("value_float", np.float32), ("value_floats", np.float32), ("value_int", np.int64),
                    ("value_ints", np.int64)):
        if key in attrs:
            return np.asarray(attrs[key], dt)
    raise ValueError(f"Constant node with unsupported attributes {sorted(attrs)}.")


def _erf(x):
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _same(fn):
    return lambda x, attrs: np.asarray(fn(x)).astype(x.dtype, copy=False)


def _ops(opset):
    """op_type -> function(*inputs, attrs=...) returning one array (or a list when the op has several outputs)."""
    f = np.asarray
    return {
        "Identity": lambda x, attrs: x,
        "Dropout": lambda x, *rest, attrs: x,  # inference
        "Shape": lambda x, attrs: np.asarray(x.shape, np.int64)[attrs.get("start", 0):attrs.get("end", None)],
        "Size": lambda x, attrs: np.asarray(x.size, np.int64),
        "Gather": lambda x, i, attrs: np.take(x, np.where(f(i) < 0, f(i) + x.shape[attrs.get("axis", 0)], f(i)),
                                              axis=attrs.get("axis", 0)),
        "Unsqueeze": lambda x, *rest, attrs: _unsqueeze(x, _axes(attrs, [x, *rest], 1, opset, 13)),
        "Squeeze": lambda x, *rest, attrs: _squeeze(x, _axes(attrs, [x, *rest], 1, opset, 13)),
        "Concat": lambda *xs, attrs: np.concatenate([f(x) for x in xs], axis=attrs["axis"]),
        "ConstantOfShape": lambda s, attrs: np.full([int(v) for v in f(s).reshape(-1)],
                                                    _tensor(attrs["value"]).reshape(()) if "value" in attrs else 0.0,
                                                    dtype=_tensor(attrs["value"]).dtype if "value" in attrs
                                                    else np.float32),
        "Expand": lambda x, s, attrs: x * np.ones([int(v) for v in f(s).reshape(-1)], x.dtype)
        if x.dtype != np.bool_ else np.logical_and(x, np.ones([int(v) for v in f(s).reshape(-1)], bool)),
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
        "Cast": lambda x, attrs: f(x).astype(_np_type(attrs["to"])),
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
        "Range": lambda s, e, d, attrs: np.arange(f(s).item(), f(e).item(), f(d).item()).astype(f(s).dtype),
        "Tile": lambda x, r, attrs: np.tile(x, [int(v) for v in f(r).reshape(-1)]),
        "Split": _split(opset),
        "CumSum": lambda x, axis, attrs: _cumsum(x, int(f(axis).item()), attrs),
        "ArgMax": lambda x, attrs: _arg(np.argmax, x, attrs),
        "ArgMin": lambda x, attrs: _arg(np.argmin, x, attrs),
    }


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


_MULTI_OUTPUT = {"Split"}
SUPPORTED_OPS = tuple(sorted(set(_ops(17)) | {"Constant", "LSTM", "GRU", "RNN"}))


# ------------------------------------------------------------------------------------------ the model
class OnnxModel:
    """An ONNX graph running in rnnlab.  Call it like a Keras model: ``model(x)``, ``model([x, h0, c0])``,
    ``model({"x": x})`` or ``model.predict(x)``; one output returns an array, several a list.

    ``layers`` lists the rnnlab recurrent layers made from the graph's LSTM/GRU/RNN nodes (per direction);
    ``input_names`` / ``output_names`` are the graph's.
    """

    def __init__(self, proto, source="ONNX model"):
        self.source = source
        graph = proto.graph
        self.opset = 0
        for imp in proto.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = int(imp.version)
        if not self.opset:
            raise ValueError(f"{source}: the model imports no standard ONNX opset.")
        if len(graph.sparse_initializer):
            raise ValueError(f"{source}: sparse initializers are not supported.")
        self.constants = {}
        for t in graph.initializer:
            try:
                self.constants[t.name] = _tensor(t)
            except Exception as exc:
                raise ValueError(f"{source}: initializer {t.name!r} cannot be read ({exc}).") from None
        self._inputs = [(v.name, v.type) for v in graph.input if v.name not in self.constants]
        self.input_names = [n for n, _ in self._inputs]
        self.output_names = [v.name for v in graph.output]
        if not self.output_names:
            raise ValueError(f"{source}: the graph has no outputs.")
        ops = _ops(self.opset)
        unknown = sorted({f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                          for n in graph.node
                          if n.domain not in ("", "ai.onnx") or (n.op_type not in ops and
                                                                 n.op_type not in ("Constant", "LSTM", "GRU", "RNN"))})
        if unknown:
            raise ValueError(f"{source}: unsupported ONNX operator(s) {unknown}; rnnlab runs {list(SUPPORTED_OPS)}.")
        self._ops = ops
        # order the nodes (the standard requires topological order; be forgiving but strict about dangling names)
        available = set(self.constants) | set(self.input_names) | {""}
        pending, self._plan = list(graph.node), []
        while pending:
            ready = [n for n in pending if all(i in available for i in n.input)]
            if not ready:
                missing = sorted({i for n in pending for i in n.input if i not in available})
                raise ValueError(f"{source}: tensors {missing[:8]} are used but never produced (damaged graph or a "
                                 "cycle).")
            for n in ready:
                self._plan.append(n)
                available.update(n.output)
            pending = [n for n in pending if n not in ready]
        missing = [o for o in self.output_names if o not in available]
        if missing:
            raise ValueError(f"{source}: graph outputs {missing} are never produced.")
        # constants and recurrent layers
        self._steps, self.layers = [], []
        consts = dict(self.constants)
        for n in self._plan:
            attrs = _attrs(n)
            where = f"{source}: node {n.name or n.op_type!r} ({n.op_type})"
            if n.op_type == "Constant":
                try:
                    consts[n.output[0]] = _constant(attrs)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                self._steps.append((n, "constant", consts[n.output[0]]))
            elif n.op_type in _KIND:
                rec = _Recurrent(n, attrs, consts, where)
                self.layers.extend(rec.layers)
                self._steps.append((n, "recurrent", rec))
            else:
                self._steps.append((n, "op", attrs))

    # ------------------------------------------------------------------ running
    def _feeds(self, args, kwargs):
        if kwargs:
            if args:
                raise TypeError("Pass the inputs either positionally or by name, not both.")
            feeds = dict(kwargs)
        elif len(args) == 1 and isinstance(args[0], dict):
            feeds = dict(args[0])
        elif len(args) == 1 and isinstance(args[0], (list, tuple)) and len(self.input_names) > 1:
            feeds = dict(zip(self.input_names, args[0]))
            if len(args[0]) != len(self.input_names):
                raise ValueError(f"Expected {len(self.input_names)} inputs {self.input_names}; "
                                 f"received {len(args[0])}.")
        else:
            if len(args) == 1 and len(self.input_names) == 1 and isinstance(args[0], (list, tuple)) and \
                    len(args[0]) == 1 and hasattr(args[0][0], "shape"):
                args = tuple(args[0])  # model([x]), as Keras accepts
            if len(args) != len(self.input_names):
                raise ValueError(f"Expected {len(self.input_names)} inputs {self.input_names}; received {len(args)}.")
            feeds = dict(zip(self.input_names, args))
        missing = [n for n in self.input_names if n not in feeds]
        unknown = [n for n in feeds if n not in self.input_names]
        if missing or unknown:
            raise ValueError(f"Inputs {self.input_names} expected; missing {missing}, unknown {unknown}.")
        out = {}
        for name, type_proto in self._inputs:
            arr = np.asarray(feeds[name].detach().cpu().numpy() if hasattr(feeds[name], "detach") else feeds[name])
            tt = type_proto.tensor_type
            if tt.elem_type:
                arr = arr.astype(_np_type(tt.elem_type), copy=False)
            if tt.HasField("shape"):
                dims = tt.shape.dim
                if len(dims) != arr.ndim or any(d.HasField("dim_value") and d.dim_value != s
                                                for d, s in zip(dims, arr.shape)):
                    want = tuple(d.dim_value if d.HasField("dim_value") else None for d in dims)
                    raise ValueError(f"Input {name!r} must have shape {want} (None = any); received {arr.shape}.")
            out[name] = arr
        return out

    def run(self, feeds: dict) -> dict:
        """Run the graph on ``{input name: array}``; returns ``{output name: array}``."""
        env = dict(self.constants)
        env.update(self._feeds((feeds,), {}))
        for node, kind, payload in self._steps:
            if kind == "constant":
                env[node.output[0]] = payload
                continue
            values = [env[i] if i else None for i in node.input]
            try:
                if kind == "recurrent":
                    results = payload.run(values + [None] * (8 - len(values)), len(node.output))
                elif node.op_type in _MULTI_OUTPUT:
                    results = self._ops[node.op_type](*values, attrs=payload, n_outputs=len(node.output))
                else:
                    while values and values[-1] is None:
                        values.pop()
                    results = [self._ops[node.op_type](*values, attrs=payload)]
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                raise ValueError(f"{self.source}: node {node.name or node.op_type!r} ({node.op_type}) failed: "
                                 f"{exc}") from exc
            for name, value in zip(node.output, results):
                if name:
                    env[name] = np.asarray(value)
        return {name: env[name] for name in self.output_names}

    def __call__(self, *args, **kwargs):
        outputs = self.run(self._feeds(args, kwargs))
        values = [outputs[n] for n in self.output_names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose=0):
        """Keras-style alias of calling the model (``batch_size`` and ``verbose`` are accepted and ignored)."""
        return self(x)

    def summary(self) -> str:
        return "\n".join(_describe(self))

    def __repr__(self):
        return f"<OnnxModel inputs={self.input_names} outputs={self.output_names} layers={len(self.layers)}>"


# ------------------------------------------------------------------------------------------ loading
def _load_proto(path_or_model):
    onnx = _onnx()
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model, "ONNX model"
    if isinstance(path_or_model, (bytes, bytearray)):
        data, source, path = bytes(path_or_model), "ONNX bytes", None
    elif isinstance(path_or_model, (str, os.PathLike)):
        path = os.fspath(path_or_model)
        if not os.path.isfile(path):
            raise ValueError(f"No such file: {path!r}.")
        with open(path, "rb") as f:
            data = f.read()
        source = path
    else:
        raise TypeError(f"Argument `path_or_model` must be a path, bytes or onnx.ModelProto; "
                        f"received {type(path_or_model).__name__}.")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise ValueError(f"{source}: not a readable ONNX file ({type(exc).__name__}: {exc}).") from None
    if not proto.HasField("graph"):
        raise ValueError(f"{source}: not an ONNX model (no graph).")
    if path is not None and any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        try:
            from onnx.external_data_helper import load_external_data_for_model

            load_external_data_for_model(proto, os.path.dirname(os.path.abspath(path)))
        except Exception as exc:
            raise ValueError(f"{source}: its external weight data cannot be read ({exc}).") from None
    return proto, source


def from_onnx(path_or_model, *, check=True) -> OnnxModel:
    """Load an ONNX model (path, bytes or ``onnx.ModelProto``) as an :class:`OnnxModel` that runs in rnnlab.

    With ``check=True`` the model first goes through ``onnx.checker.check_model``.
    """
    onnx = _onnx()
    proto, source = _load_proto(path_or_model)
    if check:
        try:
            onnx.checker.check_model(proto)
        except Exception as exc:
            raise ValueError(f"{source}: the ONNX checker rejects the model: {exc}") from None
    return OnnxModel(proto, source)


def _describe(model):
    lines = [f"ONNX opset {model.opset}; inputs {model.input_names}; outputs {model.output_names}"]
    n_params = sum(int(a.size) for a in model.constants.values() if a.dtype.kind == "f")
    counts = {}
    for node, _, _ in model._steps:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    lines.append("Operators: " + ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())))
    for node, kind, payload in model._steps:
        if kind == "recurrent":
            lines.append(f"  {node.op_type} {node.name!r}: input_size={payload.input_size}, "
                         f"hidden_size={payload.units}, direction={payload.direction}")
            for layer in payload.layers:
                lines.append(f"    -> rnnlab {type(layer).__name__} {layer.name!r} "
                             f"({layer.count_params():,} parameters)")
    lines.append(f"Total parameters (float initializers): {n_params:,}")
    return lines


def describe_onnx(path) -> list:
    """Text lines describing an ONNX file: opset, inputs/outputs, operators, recurrent nodes, parameter count."""
    return _describe(from_onnx(path))
