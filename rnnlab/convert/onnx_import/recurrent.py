"""The ONNX recurrent operators ``LSTM``, ``GRU`` and ``RNN``: each node runs as rnnlab recurrent layers, one
per direction, with the ONNX weights converted to Keras's layout through :mod:`rnnlab.weight_layouts` -- so
``OnnxModel.layers`` holds ordinary rnnlab layers with ordinary weights.

Carried over exactly: ``direction`` (forward / reverse / bidirectional), ``layout`` 0 and 1,
``initial_h``/``initial_c``, ``sequence_lens`` (right padding: the layer runs with a mask and zero outputs past the
length, as ONNX specifies), GRU ``linear_before_reset`` (1 = Keras ``reset_after=True``, 0 = ``reset_after=False``),
the ``activations`` attribute with ``activation_alpha``/``activation_beta``, and LSTM peepholes ``P`` (an
LSTM with ``use_peepholes=True``; all-zero peepholes give a plain LSTM).  Refused with ``ValueError``:
``clip``, ``input_forget=1``, LSTM whose cell and hidden activations differ (Keras uses
one ``activation`` for both), activation parameters that the ONNX wording leaves ambiguous, recurrent weights that
are not constants.
"""
from __future__ import annotations

import numpy as np

from rnnlab import activations
from rnnlab.layers.recurrent import GRU, LSTM, SimpleRNN
from rnnlab.weight_layouts import NUM_GATES, reorder_gates

#: ONNX operator -> rnnlab cell kind (the key of :mod:`rnnlab.weight_layouts`).
RECURRENT_KINDS = {"LSTM": "lstm", "GRU": "gru", "RNN": "simple_rnn"}
#: The operators' inputs, by position (GRU and RNN stop at ``initial_h``).
INPUT_NAMES = ("X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P")
_LAYERS = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}
#: Each kind's activations in ONNX order (LSTM f, g, h; GRU f, g; RNN f) and their defaults.
_DEFAULT_ACTIVATIONS = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"], "simple_rnn": ["Tanh"]}


# ------------------------------------------------------------------------------------------ the recurrent nodes
class RecurrentNode:
    """One ONNX LSTM/GRU/RNN node, run by rnnlab layers (``layers[d]`` for direction ``d``).

    ``inputs`` maps each of :data:`INPUT_NAMES` to the node's tensor name ("" when absent); ``units`` is the
    node's ``hidden_size``.
    """

    def __init__(self, node, attrs, consts, where):
        self.op = node.op_type
        kind = self.kind = RECURRENT_KINDS[node.op_type]
        inputs = self.inputs = dict(zip(INPUT_NAMES, list(node.input) + [""] * len(INPUT_NAMES)))
        for name in ("W", "R"):
            if inputs[name] == "" or inputs[name] not in consts:
                raise ValueError(f"{where}: input {name} must be a constant (an initializer or Constant); rnnlab "
                                 "maps recurrent nodes onto layers with fixed weights.")
        for name in ("B", "P"):
            if inputs[name] and inputs[name] not in consts and (kind == "lstm" or name == "B"):
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
        units, w, r, b = _node_weights(kind, inputs, consts, attrs, direction, where)
        peepholes = None  # (dirs, 3U) in Keras's order i, f, o: an LSTM with use_peepholes=True
        if kind == "lstm" and inputs["P"]:
            p = np.asarray(consts[inputs["P"]])
            if p.shape != (dirs, 3 * units):
                raise ValueError(f"{where}: P has shape {p.shape}; expected {(dirs, 3 * units)} "
                                 "(directions, 3*hidden_size).")
            if np.any(p != 0):
                peepholes = np.stack([reorder_gates(p[d], "lstm_peephole", "onnx", "keras") for d in range(dirs)])
        reset_after = bool(attrs.get("linear_before_reset", 0))
        functions = _activations(kind, attrs, dirs, where)
        dtype = "float64" if w.dtype == np.float64 else "float32"
        base = (node.name or node.op_type).replace("/", "_").strip("_") or node.op_type
        self.layers, self.direction = [], direction
        for d in range(dirs):
            backward = direction == "reverse" or d == 1
            kwargs = {"return_sequences": True, "return_state": True, "zero_output_for_mask": True,
                      "go_backwards": backward, "use_bias": b is not None, "dtype": dtype,
                      "name": f"{base}_{'backward' if backward else 'forward'}"}
            kwargs.update(_activation_arguments(kind, functions[d], reset_after, where))
            if peepholes is not None:
                kwargs["use_peepholes"] = True
            layer = _LAYERS[kind](units, **kwargs)
            layer.build((None, None, w.shape[2]))
            weights = _keras_weights(kind, units, w[d], r[d], None if b is None else b[d], reset_after)
            layer.set_weights(weights + ([peepholes[d]] if peepholes is not None else []))
            self.layers.append(layer)
        self.units, self.input_size = units, int(w.shape[2])

    def run(self, values, n_outputs):
        """The node's first ``n_outputs`` outputs (Y, Y_h and, for LSTM, Y_c) from its input values (by position,
        None where absent)."""
        inputs = dict(zip(INPUT_NAMES, list(values) + [None] * (len(INPUT_NAMES) - len(values))))
        x = inputs["X"]
        if x.ndim != 3:
            raise ValueError(f"{self.op}: input X must have rank 3; received shape {x.shape}.")
        x_bt = x if self.layout == 1 else np.swapaxes(x, 0, 1)  # (B, T, I)
        batch, steps = x_bt.shape[0], x_bt.shape[1]
        lens, h0 = inputs["sequence_lens"], inputs["initial_h"]
        c0 = inputs["initial_c"] if self.kind == "lstm" else None
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


def _node_weights(kind, inputs, consts, attrs, direction, where):
    """The node's ``hidden_size`` and its weights as ONNX stores them, shapes checked: ``W`` (dirs, G*U, I),
    ``R`` (dirs, G*U, U) and ``B`` (dirs, 2*G*U), input then recurrent biases, or None."""
    dirs = 2 if direction == "bidirectional" else 1
    w, r = consts[inputs["W"]], consts[inputs["R"]]
    g = NUM_GATES[kind]
    units = int(attrs.get("hidden_size", r.shape[-1] if r.ndim == 3 else 0))
    if w.ndim != 3 or r.ndim != 3 or w.shape[0] != dirs or w.shape[1] != g * units or \
            r.shape != (dirs, g * units, units):
        raise ValueError(f"{where}: W {w.shape} / R {r.shape} do not fit direction={direction!r}, "
                         f"hidden_size={units} ({g} gates).")
    b = consts.get(inputs["B"]) if inputs["B"] else None
    if b is not None and b.shape != (dirs, 2 * g * units):
        raise ValueError(f"{where}: B has shape {b.shape}; expected {(dirs, 2 * g * units)}.")
    return units, w, r, b


def _activations(kind, attrs, dirs, where):
    """Per direction, its activation functions in ONNX order, each as ``(name, alpha, beta, function)``."""
    names = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
    n_act = len(_DEFAULT_ACTIVATIONS[kind])
    if not names:
        names = _DEFAULT_ACTIVATIONS[kind] * dirs
    if len(names) != n_act * dirs:
        raise ValueError(f"{where}: activations {names} must list {n_act * dirs} functions.")
    alphas = _resolve_parameters(names, list(attrs.get("activation_alpha", [])), _ALPHA_USERS, _ALPHA_DEFAULT,
                                 "activation_alpha", where)
    betas = _resolve_parameters(names, list(attrs.get("activation_beta", [])), _BETA_USERS, _BETA_DEFAULT,
                                "activation_beta", where)
    functions = [(n, a, bt, _rnn_activation(n, a, bt, where)) for n, a, bt in zip(names, alphas, betas)]
    return [functions[d * n_act:(d + 1) * n_act] for d in range(dirs)]


def _activation_arguments(kind, functions, reset_after, where):
    """The layer's activation arguments for one direction's ``functions`` (see :func:`_activations`)."""
    if kind == "lstm":
        (_, _, _, f), (g_name, g_alpha, g_beta, g), (h_name, h_alpha, h_beta, _) = functions
        if (g_name.lower(), g_alpha, g_beta) != (h_name.lower(), h_alpha, h_beta):
            raise ValueError(f"{where}: cell activation {g_name!r} differs from hidden activation {h_name!r}; "
                             "Keras's LSTM uses one `activation` for both.")
        return {"recurrent_activation": f, "activation": g, "unit_forget_bias": False}
    if kind == "gru":
        return {"recurrent_activation": functions[0][3], "activation": functions[1][3], "reset_after": reset_after}
    return {"activation": functions[0][3]}


def _keras_weights(kind, units, w, r, b, reset_after):
    """One direction's ONNX ``W`` (G*U, I), ``R`` (G*U, U) and ``B`` (2*G*U,) or None, as the rnnlab layer's
    weights: kernel (I, G*U), recurrent kernel (U, G*U) and bias (G*U,), or (2, G*U) for GRU with reset_after
    (input bias, then recurrent bias), each in Keras's gate order."""
    g = NUM_GATES[kind]
    weights = [reorder_gates(w, kind, "onnx", "keras", axis=0).T,
               reorder_gates(r, kind, "onnx", "keras", axis=0).T]
    if b is not None:
        wb = reorder_gates(b[:g * units], kind, "onnx", "keras")
        rb = reorder_gates(b[g * units:], kind, "onnx", "keras")
        weights.append(np.stack([wb, rb]) if kind == "gru" and reset_after else wb + rb)
    return weights


# ------------------------------------------------------------------------------------------ activations
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

