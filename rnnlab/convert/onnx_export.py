"""rnnlab model -> ONNX graph, with the standard ``LSTM``, ``GRU`` and ``RNN`` operators.

Each recurrent layer becomes one ONNX recurrent node (``Bidirectional`` one node with
``direction="bidirectional"``), between the ``Transpose`` nodes that turn rnnlab's batch-major tensors into the
operators' time-major ones.  Weights are laid out from :mod:`rnnlab.weight_layouts` (``reorder_gates`` with the
``"onnx"`` gate order).  GRU ``reset_after=True`` is ``linear_before_reset=1``; ``reset_after=False`` is
``linear_before_reset=0`` (the ONNX default, which applies the reset gate before the recurrent product, as Keras
does).  An LSTM's peephole weights are the operator's input ``P``.  Non-default activations go in the
``activations`` attribute when ONNX has them.  ``Dense`` becomes
``MatMul`` + ``Add`` (+ the activation's operator), ``Embedding`` ``Gather``, Bidirectional merges ``Concat`` /
``Add`` / ``Mul`` / ``Div``, ``Masking`` ``Equal``/``Not``/``ReduceMax``/``Mul``, ``Dropout`` nothing.

Masks (from ``Masking``, ``Embedding(mask_zero=True)``, the ``NotEqual``/``Any`` operations Keras writes into
saved graphs, or any boolean tensor passed as ``mask=``) are computed in the graph from its inputs, and a masked
recurrent layer is exact for every mask pattern (right or left padding, gaps, fully masked rows): each row's real
steps are moved to the front at run time and the operator runs on them with ``sequence_lens``, then the outputs
go back to their time positions, as :mod:`.onnx_masks` explains.

Refused (``ValueError``): stateful layers; an LSTM with ``proj_size`` (no standard operator projects ``h``);
a masked Bidirectional returning sequences whose layers do not zero masked outputs (Keras's always do); cells
other than LSTM/GRU/SimpleRNN (StackedRNNCells, custom cells); activations ONNX lacks (inside recurrent
operators: ONNX allows Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu,
Softsign, Softplus); Bidirectional wrappers whose two layers differ in kind, units or GRU variant; layers other
than InputLayer, LSTM, GRU, SimpleRNN, RNN, Bidirectional, Dense, TimeDistributed(Dense), Embedding, Masking,
Dropout and Keras's mask operations.

float64 models export as ``double`` tensors (valid ONNX; note onnxruntime implements LSTM/GRU/RNN for float32 only).
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

from rnnlab import activations, nest
from rnnlab.convert import onnx_masks
from rnnlab.cells import builtin_spec, spec_of
from rnnlab.convert.onnx_layers import export_layer
from rnnlab.weight_layouts import reorder_gates

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Squeeze/Unsqueeze/ReduceSum take their axes as inputs from 13 on
_INT64_MAX = np.iinfo(np.int64).max
_OP_NAME = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}
_DEFAULT_ACTIVATIONS = {"lstm": ("Sigmoid", "Tanh", "Tanh"), "gru": ("Sigmoid", "Tanh"), "simple_rnn": ("Tanh",)}

# rnnlab activation -> (ONNX recurrent-activation name, alpha, beta); None = the ONNX default parameter
_RNN_ACTIVATIONS = {
    activations.tanh: ("Tanh", None, None),
    activations.sigmoid: ("Sigmoid", None, None),
    activations.relu: ("Relu", None, None),
    activations.softsign: ("Softsign", None, None),
    activations.softplus: ("Softplus", None, None),
    activations.elu: ("Elu", 1.0, None),
    activations.linear: ("Affine", 1.0, 0.0),
    activations.leaky_relu: ("LeakyRelu", 0.2, None),
    activations.hard_sigmoid: ("HardSigmoid", 1.0 / 6.0, 0.5),
    activations.hard_sigmoid_tf2: ("HardSigmoid", 0.2, 0.5),
}
#: ONNX recurrent activations that read activation_alpha / activation_beta.
_ALPHA_USERS = {"Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu"}
_BETA_USERS = {"Affine", "ScaledTanh", "HardSigmoid"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the 'onnx' package: pip install onnx (or rnnlab[onnx]).") from None
    return onnx


class _Graph:
    """Accumulates ONNX nodes and initializers with unique names."""

    def __init__(self, onnx, opset, dtype):
        self.onnx, self.helper, self.opset = onnx, onnx.helper, opset
        self.dtype = np.dtype(dtype)
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.initializers, self._used, self._node_names = [], [], set(), set()
        self._consts = {}

    def name(self, base):
        base = re.sub(r"[^A-Za-z0-9_.:/-]", "_", str(base)) or "t"
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    def const(self, value, base="const", dtype=None):
        arr = np.asarray(value, dtype=dtype if dtype is not None else None)
        if dtype is None and arr.dtype.kind == "f":
            arr = arr.astype(self.dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 16 else None
        if key is not None and key in self._consts:
            return self._consts[key]
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(arr.copy(order="C"), name))
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values, base="ints"):
        return self.const(np.asarray(values, np.int64), base)

    def node_name(self, base):
        name, i = base, 1
        while name in self._node_names:
            name, i = f"{base}_{i}", i + 1
        self._node_names.add(name)
        return name

    def op(self, op_type, inputs, base=None, outputs=1, **attrs):
        names = [self.name(f"{base or op_type}_out{i}" if outputs > 1 else (base or op_type)) for i in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=self.node_name(base or op_type),
                                                **attrs))
        return names if outputs > 1 else names[0]

    # ----------------------------------------------------------- version-dependent helpers
    def reduce(self, op_type, x, axes, keepdims=0, base=None):
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes)], base, keepdims=keepdims)
        return self.op(op_type, [x], base, axes=list(axes), keepdims=keepdims)

    def squeeze(self, x, axes, base=None):
        return self.op("Squeeze", [x, self.ints(axes)], base)

    def unsqueeze(self, x, axes, base=None):
        return self.op("Unsqueeze", [x, self.ints(axes)], base)

    def cast(self, x, np_dtype, base=None):
        return self.op("Cast", [x], base, to=self.helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype)))

    def reverse_time(self, x, axis, base=None):
        """``x`` with the entries along ``axis`` in reverse order (``Slice`` with step -1)."""
        return self.op("Slice", [x, self.ints([-1]), self.ints([-_INT64_MAX]), self.ints([axis]), self.ints([-1])],
                       base)


# ------------------------------------------------------------------------------------------ activations
def _activation_op(g, fn, x, where):
    """Emit the standard ONNX operator(s) for a Dense (elementwise or softmax) activation."""
    name = activations.serialize(fn)
    h = {
        "linear": lambda: x,
        "relu": lambda: g.op("Relu", [x]),
        "tanh": lambda: g.op("Tanh", [x]),
        "sigmoid": lambda: g.op("Sigmoid", [x]),
        "softmax": lambda: g.op("Softmax", [x], axis=-1),
        "log_softmax": lambda: g.op("LogSoftmax", [x], axis=-1),
        "elu": lambda: g.op("Elu", [x], alpha=1.0),
        "selu": lambda: g.op("Selu", [x], alpha=1.6732632423543772848170429916717,
                             gamma=1.0507009873554804934193349852946),
        "softplus": lambda: g.op("Softplus", [x]),
        "softsign": lambda: g.op("Softsign", [x]),
        "exponential": lambda: g.op("Exp", [x]),
        "leaky_relu": lambda: g.op("LeakyRelu", [x], alpha=0.2),
        "hard_sigmoid": lambda: g.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5),
        "hard_sigmoid_tf2": lambda: g.op("HardSigmoid", [x], alpha=0.2, beta=0.5),
        "hard_silu": lambda: g.op("HardSwish", [x]),
        "silu": lambda: g.op("Mul", [x, g.op("Sigmoid", [x])]),
        "relu6": lambda: g.op("Clip", [x, g.const(0.0, "zero"), g.const(6.0, "six")]),
        "hard_tanh": lambda: g.op("Clip", [x, g.const(-1.0, "minus_one"), g.const(1.0, "one")]),
        "celu": lambda: g.op("Celu", [x], alpha=1.0),
        "log_sigmoid": lambda: g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])]),
        "mish": lambda: g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])]),
        "tanh_shrink": lambda: g.op("Sub", [x, g.op("Tanh", [x])]),
        "gelu": lambda: g.op("Mul", [g.op("Mul", [x, g.const(0.5, "half")]), g.op(
            "Add", [g.const(1.0, "one"), g.op("Erf", [g.op("Div", [x, g.const(math.sqrt(2.0), "sqrt2")])])])]),
    }.get(name)
    if h is None:
        raise ValueError(f"{where}: activation {name!r} has no ONNX export in rnnlab.")
    return h()


def _rnn_activation_attrs(kind, cells, where):
    """``activations`` / ``activation_alpha`` / ``activation_beta`` attributes for the cells (one per direction).

    The ONNX text says parameters are "consumed in the order of activation functions", which runtimes read either
    as one value per listed activation or one value per parameter-taking activation.  So that both readings give
    the same numbers, every parameter-taking activation in the node must need the same alpha (and beta); the
    list then repeats that value once per activation.  Parameters are always written, never left to defaults.
    """
    names, alphas, betas = [], [], []
    for cell in cells:
        fns = {"lstm": (cell.recurrent_activation, cell.activation, cell.activation),
               "gru": (cell.recurrent_activation, cell.activation),
               "simple_rnn": (cell.activation,)}[kind]
        for fn in fns:
            entry = _RNN_ACTIVATIONS.get(fn)
            if entry is None:
                raise ValueError(f"{where}: activation {activations.serialize(fn)!r} is not among the activations "
                                 "ONNX recurrent operators support (Tanh, Sigmoid, Relu, Affine/linear, LeakyRelu, "
                                 "HardSigmoid, Elu, Softsign, Softplus).")
            name, alpha, beta = entry
            names.append(name)
            if name in _ALPHA_USERS:
                alphas.append(alpha)
            if name in _BETA_USERS:
                betas.append(beta)
    attrs = {}
    if tuple(names) != _DEFAULT_ACTIVATIONS[kind] * len(cells):
        attrs["activations"] = names
    for key, values in (("activation_alpha", alphas), ("activation_beta", betas)):
        if not values:
            continue
        # Always written out when some activation reads it: runtimes disagree on the defaults (onnxruntime's
        # Affine does not default to alpha=1, beta=0).
        if len(set(values)) != 1:
            raise ValueError(f"{where}: the activations {names} need different {key} values, which ONNX runtimes "
                             "read inconsistently; refusing to export an ambiguous graph.")
        attrs[key] = [float(values[0])] * len(names)
    return attrs


# ------------------------------------------------------------------------------------------ the exporter
class _Exporter:
    def __init__(self, model, opset):
        self.onnx = _onnx()
        self.model = model
        dtypes = {w.value.dtype for w in model.weights}
        if len(dtypes) > 1:
            raise ValueError(f"The model mixes weight dtypes {sorted(map(str, dtypes))}; ONNX export needs one.")
        self.g = _Graph(self.onnx, opset, dtypes.pop() if dtypes else np.dtype(model.dtype))
        self.env = {}  # id(KerasTensor) -> ONNX tensor name
        self.masks = {}  # id(KerasTensor) -> ONNX bool mask (B, T) or None
        self._mask_plans = {}  # (mask name, reversed) -> onnx_masks.MaskPlan

    def value(self, t, where):
        from rnnlab.engine.layer import KerasTensor

        if not isinstance(t, KerasTensor):
            raise ValueError(f"{where}: arguments must be symbolic tensors of the model; received "
                             f"{type(t).__name__}.")
        return self.env[id(t)]

    # ------------------------------------------------------------------ graph walk
    def run(self, input_names, output_names):
        from rnnlab.layers.input_layer import InputLayer

        g, model = self.g, self.model
        inputs = []
        for i, t in enumerate(model.inputs):
            layer = t._history[0]
            if isinstance(layer, InputLayer) and layer.input_dtype == "string":
                users = [n.layer.name for n in model._nodes if t in n.input_tensors]
                raise ValueError(f"Input {t.name!r} holds strings, which go to {users}: string lookup and text "
                                 "vectorization have no ONNX export in rnnlab. Export the model that takes the "
                                 "token ids instead.")
            dtype = np.dtype(layer.input_dtype) if isinstance(layer, InputLayer) and layer.input_dtype else g.dtype
            name = g.name(input_names[i] if input_names else t.name)
            dims = ["batch" if k == 0 and d is None else (f"{name}_dim{k}" if d is None else int(d))
                    for k, d in enumerate(t.shape)]
            inputs.append(g.helper.make_tensor_value_info(name, g.helper.np_dtype_to_tensor_dtype(dtype), dims))
            self.env[id(t)] = name
            self.masks[id(t)] = None
        for node in model._nodes:
            if node.is_input:
                continue
            self.layer_node(node)
        outputs = []
        for i, t in enumerate(model.outputs):
            name = g.name(output_names[i] if output_names else t.name)
            g.nodes.append(g.helper.make_node("Identity", [self.env[id(t)]], [name],
                                              name=g.node_name(f"{name}/output")))
            dtype = np.dtype(np.bool_) if t.dtype == "bool" else g.dtype  # a mask, or a layer's output
            dims = [None if d is None else int(d) for d in t.shape]
            outputs.append(g.helper.make_tensor_value_info(name, g.helper.np_dtype_to_tensor_dtype(dtype), dims))
        graph = g.helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
        from rnnlab import __version__

        proto = g.helper.make_model(graph, opset_imports=[g.helper.make_opsetid("", g.opset)],
                                    producer_name="rnnlab", producer_version=__version__)
        proto.ir_version = min(proto.ir_version, _ir_version_for(self.onnx, g.opset))
        return proto

    def layer_node(self, node):
        from rnnlab import layers as L
        from rnnlab.layers.merging import Merge
        from rnnlab.layers.rnn import RNN
        from rnnlab.saving.keras_ops import is_keras_op

        layer = node.layer
        where = f"Layer {layer.name!r} ({type(layer).__name__})"
        if is_keras_op(layer):
            outs, out_mask = [self.keras_op(node, where)], None
            self.bind(node, outs, out_mask, where)
            return
        first = node.call_args[0]
        if isinstance(layer, Merge):
            tensors = list(first)
            done = export_layer(self, layer, [self.value(t, where) for t in tensors],
                                [self.masks.get(id(t)) for t in tensors], tensors, where, _activation_op)
            self.bind(node, *done, where)
            return
        if nest.is_nested(first):
            raise ValueError(f"{where} takes several input tensors; no ONNX export for it.")
        x = self.value(first, where)
        extra = [a for a in node.call_args[1:] if a is not None] + \
            [v for k, v in node.call_kwargs.items() if k not in ("training", "mask", "initial_state") and v is not None]
        if extra:
            raise ValueError(f"{where} is called with extra arguments; no ONNX export for them.")
        initial = node.call_kwargs.get("initial_state")
        if initial is None and len(node.call_args) > 1:
            initial = node.call_args[1]
        # as the functional model runs: an explicit mask= wins; otherwise the input's mask is applied only when
        # the call has no other tensors (Keras 3.15), though it still decides the output's mask
        explicit = node.call_kwargs.get("mask")
        in_mask = self.explicit_mask(explicit, where) if explicit is not None else self.masks.get(id(first))
        applied = in_mask if explicit is not None or initial is None else None
        if isinstance(layer, (L.Bidirectional, RNN)):
            outs, out_mask = self.recurrent(layer, x, applied, in_mask, initial, where)
        elif initial is not None:
            raise ValueError(f"{where} does not take initial_state.")
        elif isinstance(layer, L.Dense):
            outs, out_mask = [self.dense(layer, x, where)], in_mask
        elif isinstance(layer, L.TimeDistributed):
            inner = layer.layer
            if isinstance(inner, L.Dense):
                outs = [self.dense(inner, x, where)]
            elif isinstance(inner, L.Dropout):
                outs = [x]
            else:
                raise ValueError(f"{where}: TimeDistributed({type(inner).__name__}) has no ONNX export.")
            out_mask = in_mask
        elif isinstance(layer, L.Dropout):
            outs, out_mask = [x], in_mask  # identity at inference
        elif isinstance(layer, L.Masking):
            outs, out_mask = self.masking(layer, x)
        elif isinstance(layer, L.Embedding):
            outs, out_mask = self.embedding(layer, x, first)
        else:
            done = export_layer(self, layer, [x], [in_mask], [first], where, _activation_op)
            if done is None:
                raise ValueError(f"{where} has no ONNX export (supported: the recurrent layers, Bidirectional, "
                                 "Dense, TimeDistributed(Dense), Embedding, Masking, Dropout and the layers listed "
                                 "in rnnlab.convert.onnx_layers).")
            outs, out_mask = done
        self.bind(node, outs, out_mask, where)

    def bind(self, node, outs, out_mask, where):
        """Record the ONNX names (and masks) of ``node``'s outputs."""
        flat = nest.flatten(node.outputs)
        if len(flat) != len(outs):
            raise ValueError(f"{where}: internal error, {len(outs)} ONNX outputs for {len(flat)} layer outputs.")
        masks = out_mask if isinstance(out_mask, list) else [out_mask] + [None] * (len(flat) - 1)
        for t, name, m in zip(flat, outs, masks):
            self.env[id(t)] = name
            self.masks[id(t)] = m

    # ------------------------------------------------------------------ simple layers
    def dense(self, layer, x, where):
        g = self.g
        y = g.op("MatMul", [x, g.const(layer.kernel.value, f"{layer.name}/kernel")])
        if layer.use_bias:
            y = g.op("Add", [y, g.const(layer.bias.value, f"{layer.name}/bias")])
        return _activation_op(g, layer.activation, y, where)

    def masking(self, layer, x):
        g = self.g
        keep = g.op("Not", [g.op("Equal", [x, g.const(np.asarray(layer.mask_value, g.dtype), "mask_value")])])
        mask = g.cast(g.reduce("ReduceMax", g.cast(keep, np.int32), [-1], keepdims=0), np.bool_, "mask")
        out = g.op("Mul", [x, g.cast(g.unsqueeze(mask, [-1]), g.dtype)], f"{layer.name}")
        return [out], mask

    def embedding(self, layer, x, tensor):
        g = self.g
        ids = x if tensor.dtype == "int64" else g.cast(x, np.int64, "ids")
        out = g.op("Gather", [g.const(layer.embeddings.value, f"{layer.name}/embeddings"), ids], layer.name, axis=0)
        mask = None
        if layer.mask_zero:
            mask = g.op("Not", [g.op("Equal", [ids, g.const(np.asarray(0, np.int64), "zero_id")])], "mask")
        return [out], mask

    # ------------------------------------------------------------------ masks
    def keras_op(self, node, where):
        """A Keras operation of the saved graph (the ``NotEqual``/``Any`` of a mask) as ONNX operators."""
        from rnnlab.engine.layer import KerasTensor

        if node.call_kwargs:
            raise ValueError(f"{where} is called with keyword arguments {sorted(node.call_kwargs)}; no ONNX export "
                             "for them.")
        operands = []
        for a in node.call_args:
            if isinstance(a, KerasTensor):
                operands.append((self.env[id(a)], np.dtype(a.dtype), len(a.shape)))
            elif isinstance(a, (bool, int, float, np.number, np.bool_)):
                operands.append(a)
            else:
                raise ValueError(f"{where}: arguments must be tensors of the model or numbers; received "
                                 f"{type(a).__name__}.")
        return onnx_masks.keras_op(self.g, node.layer, operands, where)

    def explicit_mask(self, t, where):
        """The ONNX bool (B, T) tensor of a ``mask=`` argument (a tensor of the model, e.g. a Keras mask op)."""
        from rnnlab.engine.layer import KerasTensor

        if not isinstance(t, KerasTensor):
            raise ValueError(f"{where}: `mask` must be a (batch, timesteps) tensor of the model; received "
                             f"{type(t).__name__}.")
        shape = tuple(t.shape)
        if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)):
            raise ValueError(f"{where}: `mask` must have shape (batch, timesteps); received shape {shape}.")
        name = self.env[id(t)]
        if len(shape) == 3:
            name = self.g.squeeze(name, [2])
        return name if t.dtype == "bool" else self.g.cast(name, np.bool_, "mask")

    def mask_plan(self, mask, reverse=False):
        """The :class:`onnx_masks.MaskPlan` of ``mask`` (reversed in time with ``reverse``), made once."""
        key = (mask, reverse)
        if key not in self._mask_plans:
            self._mask_plans[key] = onnx_masks.mask_plan(
                self.g, self.g.reverse_time(mask, 1, "mask_reversed") if reverse else mask)
        return self._mask_plans[key]

    # ------------------------------------------------------------------ recurrent layers
    def recurrent(self, layer, x, mask, in_mask, initial, where):
        """``mask``: the mask the layer applies (or None); ``in_mask``: the one its sequence outputs carry on."""
        from rnnlab import layers as L

        g = self.g
        bidirectional = isinstance(layer, L.Bidirectional)
        inner = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
        for rnn in inner:
            if rnn.stateful:
                raise ValueError(f"{where}: stateful layers carry state between calls; an ONNX graph does not.")
            spec = spec_of(rnn.cell)
            if spec is None or spec.layout not in _OP_NAME:
                if spec is None and not getattr(rnn.cell, "is_stacked_cells", False):
                    builtin_spec(rnn.cell, f"{where}: ONNX export")  # names the cell, or the built-in it subclasses
                raise ValueError(f"{where}: cell {type(rnn.cell).__name__} has no ONNX operator (LSTM, GRU and "
                                 "SimpleRNN cells only; stack layers instead of StackedRNNCells).")
            if "projection" in spec.variant:
                raise ValueError(f"{where}: an LSTM with proj_size={rnn.cell.proj_size} has no standard ONNX operator "
                                 "(the LSTM operator has no projection); export it to PyTorch instead.")
        kinds = {spec_of(rnn.cell).layout for rnn in inner}
        units = {rnn.cell.units for rnn in inner}
        if len(kinds) != 1 or len(units) != 1:
            raise ValueError(f"{where}: forward and backward layers differ in kind or units; one ONNX node needs "
                             "them equal.")
        kind, cells = kinds.pop(), [rnn.cell for rnn in inner]
        peepholes = kind == "lstm" and cells[0].use_peepholes
        if kind == "lstm" and len({c.use_peepholes for c in cells}) != 1:
            raise ValueError(f"{where}: forward and backward LSTMs differ in use_peepholes.")
        if kind == "gru" and len({c.reset_after for c in cells}) != 1:
            raise ValueError(f"{where}: forward and backward GRUs differ in reset_after.")
        if bidirectional:
            if inner[0].go_backwards or not inner[1].go_backwards:
                raise ValueError(f"{where}: the forward layer must run forwards and the backward layer backwards.")
            if mask is not None and layer.return_sequences and not all(r.zero_output_for_mask for r in inner):
                # Keras's Bidirectional always sets it; the backward outputs at masked steps would need the
                # output of the next real step instead
                raise ValueError(f"{where}: a masked Bidirectional returning sequences exports only with "
                                 "zero_output_for_mask=True in both layers (as Keras's Bidirectional sets it).")
            direction = "bidirectional"
        else:
            direction = "reverse" if layer.go_backwards else "forward"
        n_states = 2 if kind == "lstm" else 1
        out_mask = in_mask if layer.return_sequences else None

        # weights, stacked over directions, from the one layout table
        w, r, b = [], [], []
        for cell in cells:
            u = cell.units
            w.append(reorder_gates(cell.kernel.value.T, kind, "keras", "onnx", axis=0))
            r.append(reorder_gates(cell.recurrent_kernel.value.T, kind, "keras", "onnx", axis=0))
            if cell.use_bias:
                bias = cell.bias.value
                wb, rb = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
            else:
                wb = rb = np.zeros(cell.gates * u, g.dtype)
            b.append(np.concatenate([reorder_gates(wb, kind, "keras", "onnx"),
                                     reorder_gates(rb, kind, "keras", "onnx")]))
        base = layer.name
        plan = None
        if mask is not None:
            # any mask runs exactly as its compacted, right-padded form (see onnx_masks); a single backward
            # layer runs forwards over the reversed sequence and mask (its processing order)
            reverse = not bidirectional and layer.go_backwards
            if reverse:
                x, direction = g.reverse_time(x, 1, f"{base}/reversed"), "forward"
            plan = self.mask_plan(mask, reverse)
            x = onnx_masks.compact(g, x, plan, base)
        x_tm = g.op("Transpose", [x], f"{base}/time_major", perm=[1, 0, 2])
        init = ["", ""]
        initial_values = [[None] * n_states for _ in inner]  # per direction, per state: (B, U) or None
        if initial is not None:
            flat = nest.flatten(initial) if nest.is_nested(initial) else [initial]
            if len(flat) != n_states * len(inner):
                raise ValueError(f"{where}: expected {n_states * len(inner)} initial state tensors; received "
                                 f"{len(flat)}.")
            initial_values = [[self.value(s, where) for s in flat[d * n_states:(d + 1) * n_states]]
                              for d in range(len(inner))]
            for k in range(n_states):
                parts = [g.unsqueeze(values[k], [0]) for values in initial_values]
                init[k] = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=0)
        use_bias = any(c.use_bias for c in cells)
        inputs = [x_tm, g.const(np.stack(w), f"{base}/W"), g.const(np.stack(r), f"{base}/R"),
                  g.const(np.stack(b), f"{base}/B") if use_bias else "", plan.lengths if plan else "", init[0]]
        if kind == "lstm":
            inputs.append(init[1])
        if peepholes:  # P (dirs, 3U), ONNX's peephole order
            inputs.append(g.const(np.stack([reorder_gates(c.peephole_weights.value, "lstm_peephole", "keras", "onnx")
                                            for c in cells]), f"{base}/P"))
        while inputs and inputs[-1] == "":
            inputs.pop()
        attrs = {"hidden_size": int(cells[0].units), "direction": direction}
        if kind == "gru":
            attrs["linear_before_reset"] = int(cells[0].reset_after)
        attrs.update(_rnn_activation_attrs(kind, cells, where))
        outs = g.op(_OP_NAME[kind], inputs, base, outputs=1 + n_states, **attrs)
        y, states_all = outs[0], outs[1:]  # Y (T, dirs, B, U); Y_h, Y_c (dirs, B, U)

        def raw_state(k, d):
            return g.op("Gather", [states_all[k], g.const(np.asarray(d, np.int64), f"index{d}")], axis=0)

        def state(k, d):
            s = raw_state(k, d)
            return s if plan is None else onnx_masks.final_state(g, s, plan, initial_values[d][k])

        def last(d, step):  # direction d's last output; `step`: the mask index it processes last
            h = raw_state(0, d)
            return h if plan is None else onnx_masks.last_output(g, h, plan, inner[d].zero_output_for_mask, step)

        if not bidirectional:
            if layer.return_sequences:
                seq = g.op("Transpose", [g.squeeze(y, [1])], perm=[1, 0, 2])  # (B, T, U), processing order
                if plan is not None:
                    seq = onnx_masks.expand(g, seq, 3, plan, layer.zero_output_for_mask)
                elif layer.go_backwards:
                    seq = g.reverse_time(seq, 1)  # Keras returns a backward layer's outputs in processing order
                output = seq
            else:
                output = last(0, -1)
            outs = [output]
            if layer.return_state:
                outs += [state(k, 0) for k in range(n_states)]
            return outs, ([out_mask] + [None] * n_states if layer.return_state else out_mask)

        # bidirectional: direction 0 is the forward layer, 1 the backward one
        if layer.return_sequences:
            y4 = g.op("Transpose", [y], perm=[2, 0, 1, 3])  # (B, T, 2, U)
            if plan is not None:
                y4 = onnx_masks.expand(g, y4, 4, plan, True)
            fw = g.op("Gather", [y4, g.const(np.asarray(0, np.int64), "index0")], axis=2)
            bw = g.op("Gather", [y4, g.const(np.asarray(1, np.int64), "index1")], axis=2)
        else:
            fw, bw = last(0, -1), last(1, 0)  # the backward layer processes time 0 last
        mode = layer.merge_mode
        if mode == "concat":
            merged = [g.op("Concat", [fw, bw], f"{base}/concat", axis=-1)]
        elif mode == "sum":
            merged = [g.op("Add", [fw, bw], f"{base}/sum")]
        elif mode == "ave":
            merged = [g.op("Div", [g.op("Add", [fw, bw]), g.const(2.0, "two")], f"{base}/ave")]
        elif mode == "mul":
            merged = [g.op("Mul", [fw, bw], f"{base}/mul")]
        else:
            merged = [fw, bw]
        outs = list(merged)
        if layer.return_state:
            outs += [state(k, d) for d in range(2) for k in range(n_states)]
        n_out = len(merged)
        masks = [out_mask] * n_out + [None] * (len(outs) - n_out)
        return outs, (masks if len(outs) > 1 else out_mask)


def _ir_version_for(onnx, opset):
    """The oldest IR version that can carry ``opset`` (so older runtimes accept the file)."""
    try:
        from onnx.helper import find_min_ir_version_for

        return max(find_min_ir_version_for([onnx.helper.make_opsetid("", opset)]), 8)
    except Exception:  # pragma: no cover - very old onnx
        return onnx.IR_VERSION


def to_onnx(model, path=None, *, opset=DEFAULT_OPSET, input_names=None, output_names=None, check=True):
    """Export ``model`` (an ``rnnlab.Model`` or built ``Sequential``) to ONNX; returns the ``onnx.ModelProto``.

    ``path`` (optional) is written atomically.  ``opset`` must be between 13 and what the installed ``onnx``
    supports.  ``input_names`` / ``output_names`` default to the model's tensor names.  Batch and unknown time
    dimensions stay dynamic.  With ``check=True`` the graph goes through ``onnx.checker.check_model`` (with shape
    inference) before it is returned or written.
    """
    onnx = _onnx()
    if not getattr(model, "built", False) or not hasattr(model, "_nodes"):
        raise ValueError("Argument `model` must be a built rnnlab Model or Sequential (give it an Input or call it "
                         "on data first).")
    max_opset = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"Argument `opset` must be an integer in [{MIN_OPSET}, {max_opset}]; received {opset!r}.")
    for arg, names, tensors in (("input_names", input_names, model.inputs), ("output_names", output_names,
                                                                             model.outputs)):
        if names is not None and (len(names) != len(tensors) or len(set(names)) != len(names)):
            raise ValueError(f"Argument `{arg}` must hold {len(tensors)} distinct names; received {names!r}.")
    proto = _Exporter(model, opset).run(input_names, output_names)
    if check:
        try:
            onnx.checker.check_model(proto, full_check=True)
        except Exception as exc:  # checker / shape-inference errors
            raise ValueError(f"The exported graph failed the ONNX checker: {exc}") from exc
    if path is not None:
        from rnnlab.utils.atomic import atomic_write

        with atomic_write(os.fspath(path), "wb") as f:
            f.write(proto.SerializeToString())
    return proto
