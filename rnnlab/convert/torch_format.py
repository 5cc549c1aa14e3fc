"""PyTorch <-> rnnlab: ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (+ an ``nn.Linear`` head) state dicts and modules.

What maps to what (exactly, or not at all):

====================================================  ==========================================================
rnnlab                                                PyTorch
====================================================  ==========================================================
``LSTM`` / ``GRU`` / ``SimpleRNN`` (tanh or relu)     ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN(nonlinearity=...)``
``n`` stacked recurrent layers of the same kind/size  ``num_layers=n`` (keys ``..._l0``, ``..._l1``, ...)
``Bidirectional(layer, merge_mode="concat")``         ``bidirectional=True`` (backward keys ``..._reverse``)
one bias per gate (LSTM, SimpleRNN)                   ``bias_ih + bias_hh`` (summed on import; on export the
                                                      whole bias goes to ``bias_ih`` and ``bias_hh`` is zero)
GRU ``reset_after=True`` bias ``(2, 3U)``             ``bias_ih`` = row 0, ``bias_hh`` = row 1
``LSTM(units, proj_size=P)``                          ``nn.LSTM(proj_size=P)`` (``weight_hr`` =
                                                      ``projection_kernel.T``)
``Dense`` on the last recurrent output                ``nn.Linear`` (``weight`` = ``kernel.T``)
====================================================  ==========================================================

Gate orders and the bias arithmetic come from :mod:`rnnlab.weight_layouts` (``keras_to_torch`` /
``torch_to_keras``); nothing here restates them.

Output semantics.  The rnnlab model built from a state dict computes what Keras computes: with
``return_sequences=False`` the last layer's final hidden state -- torch's ``h_n[-1]``, or
``torch.cat([h_n[-2], h_n[-1]], -1)`` when bidirectional (which is *not* ``output[:, -1]`` for the backward
direction) -- and with ``return_sequences=True`` torch's ``output`` (``batch_first``).  The head, if any, is applied
to that.  :func:`to_torch_module` builds a module with exactly these semantics.

Refused with ``ValueError`` (no exact equivalent): GRU ``reset_after=False``; peephole LSTMs; LSTM/GRU with
activations other than tanh/sigmoid, SimpleRNN other than tanh/relu; Bidirectional merge modes other than
``concat``; masks (``Masking``, ``Embedding(mask_zero=True)``); ``go_backwards`` outside Bidirectional;
stateful layers; stacks whose layers differ in kind, units, bias or activation.

Nothing here imports torch except :func:`to_torch_module` and reading ``.pt``/``.pth`` files; state dicts may
hold NumPy arrays or torch tensors, and ``.safetensors`` files are read with :mod:`rnnlab.convert.safetensors`.
"""
from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field

import numpy as np

from rnnlab import weight_layouts
from rnnlab.file_errors import reading
from rnnlab.cells import builtin_spec, spec_of
from rnnlab.weight_layouts import NUM_GATES

_RNN_KEY = re.compile(r"^(?P<prefix>.*?)(?P<param>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)"
                      r"_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
_KIND_OF_GATES = {g: kind for kind, g in NUM_GATES.items()}
_TORCH_CLASS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}


@dataclass
class TorchSpec:
    """The structure of a PyTorch recurrent module (plus an optional ``nn.Linear`` head).

    ``kind`` is ``"lstm"``, ``"gru"`` or ``"simple_rnn"`` (``nn.RNN``); ``nonlinearity`` only matters for
    ``nn.RNN`` (``"tanh"`` or ``"relu"``, PyTorch's default ``"tanh"``).  ``head`` is ``None`` or
    ``(in_features, out_features, has_bias)``.  ``rnn_prefix`` / ``head_prefix`` are the key prefixes in the
    state dict (``"rnn."``, ``"fc."``, or ``""`` for a bare module).  ``proj_size`` is ``nn.LSTM``'s (0: none).
    """

    kind: str
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    bias: bool = True
    nonlinearity: str = "tanh"
    head: tuple | None = None
    rnn_prefix: str = ""
    head_prefix: str = "fc."
    dtype: str = "float32"
    extra: dict = field(default_factory=dict)
    proj_size: int = 0

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def output_size(self):
        """Features of ``h`` per direction: ``proj_size`` if set, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def describe(self) -> str:
        args = [f"input_size={self.input_size}", f"hidden_size={self.hidden_size}"]
        if self.num_layers != 1:
            args.append(f"num_layers={self.num_layers}")
        if self.proj_size:
            args.append(f"proj_size={self.proj_size}")
        if self.kind == "simple_rnn":
            args.append(f"nonlinearity={self.nonlinearity!r}")
        if not self.bias:
            args.append("bias=False")
        if self.bidirectional:
            args.append("bidirectional=True")
        text = f"nn.{_TORCH_CLASS[self.kind]}({', '.join(args)})"
        if self.head is not None:
            text += f" + nn.Linear({self.head[0]}, {self.head[1]}{'' if self.head[2] else ', bias=False'})"
        return text


# ------------------------------------------------------------------------------------------------ helpers
def _to_numpy(value, key):
    if hasattr(value, "detach"):  # torch tensor
        t = value.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float16"):
            t = t.float()
        value = t.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise ValueError(f"State dict entry {key!r} must hold floating-point weights; received dtype {arr.dtype}.")
    return arr


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Argument `nonlinearity` must be 'tanh' or 'relu' (nn.RNN's choices); "
                         f"received nonlinearity={nonlinearity!r}.")
    return nonlinearity


def _suffix(layer, reverse):
    return f"_l{layer}{'_reverse' if reverse else ''}"


_REFUSED_PICKLE = ("{path!r} holds Python objects other than tensors and plain containers (pickled classes or "
                   "functions). rnnlab reads state dicts of tensors only and never runs code from a file, so this "
                   "file is refused. If you wrote it, save `module.state_dict()` with torch.save, or as "
                   ".safetensors.")


def _load_path(path):
    path = os.fspath(path)
    lower = path.lower()
    if lower.endswith(".safetensors"):
        from rnnlab.convert.safetensors import load_safetensors

        return load_safetensors(path)
    if lower.endswith((".pt", ".pth", ".bin")):
        try:
            import torch
        except ImportError:
            raise ValueError(f"Reading {path!r} needs PyTorch (torch.load); save the state dict as .safetensors "
                             "to read it without torch.") from None
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # torch's weights-only unpickler refused an object
            raise ValueError(_REFUSED_PICKLE.format(path=path)) from None
        except Exception as exc:  # noqa: BLE001 - zip and format errors of every kind
            if "weights_only" in str(exc):  # never pass on torch's advice to unpickle the file unrestricted
                raise ValueError(_REFUSED_PICKLE.format(path=path)) from None
            raise ValueError(f"Could not read {path!r} as a PyTorch state dict ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}).") from None
        if hasattr(obj, "state_dict"):
            obj = obj.state_dict()
        if not isinstance(obj, dict):
            raise ValueError(f"{path!r} holds a {type(obj).__name__}, not a state dict.")
        return obj
    raise ValueError(f"Unrecognised PyTorch weights file {path!r}: expected .safetensors, .pt, .pth or .bin.")


# ------------------------------------------------------------------------------------------------ torch -> rnnlab
def infer_torch_spec(state_dict, nonlinearity="tanh") -> TorchSpec:
    """Work out the :class:`TorchSpec` of a state dict from its key names and shapes alone.

    The recurrent kind follows from the gate count (``weight_ih`` rows / ``hidden_size``: 4 LSTM, 3 GRU,
    1 RNN).  Keys outside the recurrent module must form one ``nn.Linear`` (``<prefix>weight`` and optionally
    ``<prefix>bias``); anything else is an error.  ``nonlinearity`` (for ``nn.RNN``) is not stored in a state
    dict, so it is an argument.
    """
    if not hasattr(state_dict, "items"):
        raise TypeError(f"Argument `state_dict` must be a mapping of names to arrays; "
                        f"received {type(state_dict).__name__}.")
    arrays = {str(k): _to_numpy(v, k) for k, v in state_dict.items()}
    groups, others = {}, {}
    for key, arr in arrays.items():
        m = _RNN_KEY.match(key)
        if m:
            groups.setdefault(m["prefix"], {})[(m["param"], int(m["layer"]), bool(m["reverse"]))] = arr
        else:
            others[key] = arr
    if not groups:
        raise ValueError("The state dict holds no recurrent weights (keys like 'weight_ih_l0'); "
                         f"received keys {sorted(arrays)}.")
    if len(groups) > 1:
        raise ValueError(f"The state dict holds {len(groups)} recurrent modules (prefixes {sorted(groups)}); "
                         "rnnlab converts one nn.LSTM/nn.GRU/nn.RNN (with any number of layers) at a time.")
    (prefix, params), = groups.items()
    w_hh = params.get(("weight_hh", 0, False))
    w_ih = params.get(("weight_ih", 0, False))
    w_hr = params.get(("weight_hr", 0, False))  # nn.LSTM(proj_size=P): (P, hidden_size)
    if w_hh is None or w_ih is None or w_hh.ndim != 2 or w_ih.ndim != 2:
        raise ValueError(f"The recurrent module {prefix or '(root)'!r} lacks 2-D weight_ih_l0 / weight_hh_l0.")
    if w_hr is not None:
        if w_hr.ndim != 2 or w_hr.shape[1] == 0 or w_hh.shape != (4 * w_hr.shape[1], w_hr.shape[0]):
            raise ValueError(f"weight_hr_l0 has shape {w_hr.shape} and weight_hh_l0 {w_hh.shape}; an nn.LSTM with "
                             "proj_size has weight_hr (proj_size, hidden_size) and weight_hh "
                             "(4*hidden_size, proj_size).")
        hidden, proj = w_hr.shape[1], w_hr.shape[0]
    else:
        hidden, proj = w_hh.shape[1], 0
    if hidden == 0 or w_hh.shape[0] % hidden:
        raise ValueError(f"weight_hh_l0 has shape {w_hh.shape}, which is not (G*hidden_size, hidden_size).")
    gates = w_hh.shape[0] // hidden
    kind = _KIND_OF_GATES.get(gates)
    if kind is None:
        raise ValueError(f"weight_hh_l0 has {gates} gate blocks; expected 4 (LSTM), 3 (GRU) or 1 (RNN).")
    out_size = proj or hidden  # features of h
    num_layers = 1 + max(layer for _, layer, _ in params)
    bidirectional = any(rev for _, _, rev in params)
    has_bias = ("bias_ih", 0, False) in params
    dirs = 2 if bidirectional else 1
    for layer in range(num_layers):
        in_size = w_ih.shape[1] if layer == 0 else out_size * dirs
        for rev in ([False, True] if bidirectional else [False]):
            expected = {"weight_ih": (gates * hidden, in_size), "weight_hh": (gates * hidden, out_size)}
            if proj:
                expected["weight_hr"] = (proj, hidden)
            if has_bias:
                expected.update({"bias_ih": (gates * hidden,), "bias_hh": (gates * hidden,)})
            for name, shape in expected.items():
                key = f"{prefix}{name}{_suffix(layer, rev)}"
                arr = params.pop((name, layer, rev), None)
                if arr is None:
                    raise ValueError(f"The state dict lacks {key!r} (expected for a {num_layers}-layer "
                                     f"{'bidirectional ' if bidirectional else ''}nn.{_TORCH_CLASS[kind]}).")
                if arr.shape != shape:
                    raise ValueError(f"State dict entry {key!r} has shape {arr.shape}; expected {shape}.")
    if params:
        extra = sorted(f"{prefix}{p}{_suffix(layer, rev)}" for p, layer, rev in params)
        raise ValueError(f"Unexpected recurrent keys {extra} (bias given for some layers only?).")
    head = None
    head_prefix = "fc."
    if others:
        weights = [k for k, a in others.items() if k.endswith("weight") and a.ndim == 2]
        if len(weights) != 1:
            raise ValueError(f"Keys outside the recurrent module must form one nn.Linear head "
                             f"('<name>.weight' and '<name>.bias'); received {sorted(others)}.")
        head_prefix = weights[0][:-len("weight")]
        weight = others.pop(weights[0])
        bias = others.pop(head_prefix + "bias", None)
        if others:
            raise ValueError(f"Keys {sorted(others)} belong neither to the recurrent module nor to the nn.Linear "
                             f"head {head_prefix!r}; rnnlab converts one recurrent module plus one Linear head.")
        if weight.shape[1] != out_size * dirs:
            raise ValueError(f"The Linear head {head_prefix}weight has shape {weight.shape}; its in_features must be "
                             f"the recurrent output size {out_size * dirs}.")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"The Linear head {head_prefix}bias has shape {bias.shape}; "
                             f"expected ({weight.shape[0]},).")
        head = (weight.shape[1], weight.shape[0], bias is not None)
    dtype = "float64" if all(a.dtype == np.float64 for a in arrays.values()) else "float32"
    return TorchSpec(kind, int(w_ih.shape[1]), int(hidden), num_layers, bidirectional, has_bias,
                     _check_nonlinearity(nonlinearity), head, prefix, head_prefix, dtype, proj_size=int(proj))


def from_torch_state_dict(state_dict, spec=None, *, nonlinearity=None, return_sequences=False,
                          head_activation=None, name=None):
    """Build an ``rnnlab.Sequential`` holding the weights of a PyTorch state dict.

    ``state_dict`` maps names to NumPy arrays or torch tensors: a bare ``nn.LSTM``/``nn.GRU``/``nn.RNN``
    (``weight_ih_l0``...) or a module with one such submodule and optionally one ``nn.Linear``
    (``rnn.weight_ih_l0``..., ``fc.weight``, ``fc.bias``).  ``spec`` (a :class:`TorchSpec` or a dict of its
    fields) states what you expect; every field given is checked against what the keys and shapes say.
    ``nonlinearity`` is ``nn.RNN``'s (not stored in state dicts; default ``"tanh"``).  The model input is
    ``(batch, time, input_size)``; see the module docstring for what it outputs.
    """
    import rnnlab
    from rnnlab import layers as L

    if isinstance(spec, TorchSpec):
        spec = {k: getattr(spec, k) for k in ("kind", "input_size", "hidden_size", "num_layers", "bidirectional",
                                              "bias", "nonlinearity", "head", "proj_size")}
    spec = dict(spec or {})
    if nonlinearity is None:
        nonlinearity = spec.get("nonlinearity", "tanh")
    inferred = infer_torch_spec(state_dict, nonlinearity=nonlinearity)
    for key, expected in spec.items():
        if not hasattr(inferred, key):
            raise ValueError(f"Unknown spec field {key!r}; fields: kind, input_size, hidden_size, num_layers, "
                             "bidirectional, bias, nonlinearity, head, proj_size.")
        got = getattr(inferred, key)
        if key == "kind" and expected in ("LSTM", "GRU", "RNN"):
            expected = {v: k for k, v in _TORCH_CLASS.items()}[expected]
        if expected != got and not (key == "head" and expected is not None and got is not None
                                    and tuple(expected) == tuple(got)):
            raise ValueError(f"The state dict does not match the spec: {key}={got!r} in the weights, "
                             f"{expected!r} expected.")
    s = inferred
    if s.kind != "simple_rnn" and nonlinearity != "tanh":
        raise ValueError(f"Argument `nonlinearity` applies to nn.RNN only; nn.{_TORCH_CLASS[s.kind]} always uses "
                         "tanh.")
    arrays = {str(k): _to_numpy(v, k) for k, v in state_dict.items()}
    cls = {"lstm": L.LSTM, "gru": L.GRU, "simple_rnn": L.SimpleRNN}[s.kind]
    layer_list = [L.Input(shape=(None, s.input_size), dtype=s.dtype)]
    recurrent = []
    for k in range(s.num_layers):
        kwargs = {"use_bias": s.bias, "return_sequences": bool(return_sequences or k < s.num_layers - 1),
                  "dtype": s.dtype}
        if s.kind == "simple_rnn":
            kwargs["activation"] = s.nonlinearity
        if s.proj_size:
            kwargs["proj_size"] = s.proj_size
        layer = cls(s.hidden_size, **kwargs)
        if s.bidirectional:
            layer = L.Bidirectional(layer, merge_mode="concat")
        recurrent.append(layer)
        layer_list.append(layer)
    head = None
    if s.head is not None:
        head = L.Dense(s.head[1], activation=head_activation, use_bias=s.head[2], dtype=s.dtype)
        layer_list.append(head)
    elif head_activation is not None:
        raise ValueError("Argument `head_activation` needs a Linear head in the state dict; there is none.")
    model = rnnlab.Sequential(layer_list, name=name)
    for k, layer in enumerate(recurrent):
        inner = [(layer.forward_layer, False), (layer.backward_layer, True)] if s.bidirectional else [(layer, False)]
        for sub, rev in inner:
            names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if s.bias else ()) + \
                (("weight_hr",) if s.proj_size else ())
            params = {n: arrays[f"{s.rnn_prefix}{n}{_suffix(k, rev)}"] for n in names}
            sub.set_weights(weight_layouts.torch_to_keras(s.kind, params))
    if head is not None:
        weights = [arrays[s.head_prefix + "weight"].T]
        if s.head[2]:
            weights.append(arrays[s.head_prefix + "bias"])
        head.set_weights(weights)
    return model


def from_torch(obj, spec=None, **kwargs):
    """``rnnlab.Sequential`` from a torch module, a state dict, or a ``.safetensors``/``.pt``/``.pth`` file.

    A module's ``nn.RNN`` nonlinearity is read from the module (``proj_size`` is in its weights).  Other keyword
    arguments are those of :func:`from_torch_state_dict`.
    """
    if isinstance(obj, (str, os.PathLike)):
        with reading(obj):
            obj = _load_path(obj)
    elif hasattr(obj, "state_dict") and hasattr(obj, "modules"):  # a torch.nn.Module
        rnns = [m for m in obj.modules() if type(m).__name__ in ("LSTM", "GRU", "RNN") and hasattr(m, "hidden_size")]
        for m in rnns:
            if type(m).__name__ == "RNN":
                kwargs.setdefault("nonlinearity", m.nonlinearity)
        obj = obj.state_dict()
    return from_torch_state_dict(obj, spec, **kwargs)


# ------------------------------------------------------------------------------------------------ rnnlab -> torch
@dataclass
class _Plan:
    spec: TorchSpec
    recurrent: list  # per torch layer: list of rnnlab RNN layers (1, or forward+backward)
    head: object  # the Dense layer or None
    return_sequences: bool
    return_state: bool


def _chain(model):
    """The layers of a single-input, single-output, unbranched model, in call order (InputLayer excluded)."""
    from rnnlab.layers.input_layer import InputLayer

    from rnnlab import nest

    if len(getattr(model, "inputs", [])) != 1:
        raise ValueError("Only single-input models convert to PyTorch.")
    chain, current, last = [], model.inputs[0], None
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        if len(node.input_tensors) != 1 or node.input_tensors[0] is not current or len(node.call_args) != 1:
            raise ValueError(f"Layer {node.layer.name!r} takes more than the previous layer's output (a branch or "
                             "an initial_state); only a plain stack of layers converts to PyTorch.")
        extra = {k: v for k, v in node.call_kwargs.items() if k != "training" and v is not None}
        if extra:
            raise ValueError(f"Layer {node.layer.name!r} is called with {sorted(extra)}; only a plain stack of "
                             "layers converts to PyTorch.")
        chain.append(node.layer)
        last = nest.flatten(node.outputs)
        current = last[0]
    if last is None or [id(t) for t in model.outputs] != [id(t) for t in last]:
        raise ValueError("The model's outputs must be exactly the last layer's outputs to convert to PyTorch.")
    return chain


def _kind_of(rnn, where):
    """The weight-layout key of ``rnn``'s cell, which must be exactly a built-in cell with a PyTorch module."""
    cell = rnn.cell
    spec = spec_of(cell)
    if spec is None or spec.layout not in _TORCH_CLASS:
        if spec is None and getattr(cell, "is_stacked_cells", False) is False:
            builtin_spec(cell, f"{where}: conversion to PyTorch")  # names the cell, or the built-in it subclasses
        raise ValueError(f"{where}: cell {type(cell).__name__} has no PyTorch equivalent (only LSTM, GRU and "
                         "SimpleRNN cells convert; stack layers instead of StackedRNNCells).")
    return spec.layout


def _check_recurrent(rnn, where):
    from rnnlab import activations

    kind = _kind_of(rnn, where)
    cell = rnn.cell
    act, rec = activations.serialize(cell.activation), activations.serialize(cell.recurrent_activation)
    if kind == "simple_rnn":
        if act not in ("tanh", "relu"):
            raise ValueError(f"{where}: SimpleRNN activation {act!r} has no nn.RNN equivalent (tanh or relu only).")
    elif act != "tanh" or rec != "sigmoid":
        raise ValueError(f"{where}: activation={act!r}, recurrent_activation={rec!r}; nn.{_TORCH_CLASS[kind]} "
                         "is fixed to tanh and sigmoid, so there is no exact PyTorch equivalent.")
    if kind == "lstm" and cell.use_peepholes:
        raise ValueError(f"{where}: use_peepholes=True; nn.LSTM has no peephole connections, so there is no exact "
                         "PyTorch equivalent (export it to ONNX instead, whose LSTM operator has them).")
    if kind == "gru" and not cell.reset_after:
        raise ValueError(f"{where}: GRU with reset_after=False applies the reset gate before the recurrent matrix "
                         "product; nn.GRU applies it after (reset_after=True), so there is no exact equivalent.")
    if rnn.stateful:
        raise ValueError(f"{where}: stateful layers carry state between calls; nn modules do not.")
    proj_size = (cell.proj_size or 0) if kind == "lstm" else 0
    return kind, (act if kind == "simple_rnn" else "tanh"), cell.use_bias, cell.units, proj_size


def _plan(model) -> _Plan:
    from rnnlab import layers as L
    from rnnlab.layers.rnn import RNN

    chain = [layer for layer in _chain(model) if not isinstance(layer, L.Dropout)]  # inference: identity
    recurrent, head, flags, ret_seq, ret_state = [], None, [], False, False
    for i, layer in enumerate(chain):
        where = f"Layer {layer.name!r} ({type(layer).__name__})"
        if head is not None:
            raise ValueError(f"{where} follows the Dense head; PyTorch conversion supports recurrent layers "
                             "followed by at most one Dense (nn.Linear).")
        if isinstance(layer, L.Bidirectional):
            if layer.merge_mode != "concat":
                raise ValueError(f"{where}: merge_mode={layer.merge_mode!r}; a bidirectional nn module concatenates "
                                 "the two directions, so only merge_mode='concat' converts.")
            fw, bw = layer.forward_layer, layer.backward_layer
            if fw.go_backwards or not bw.go_backwards:
                raise ValueError(f"{where}: its forward layer must run forwards and its backward layer backwards.")
            a, b = _check_recurrent(fw, where), _check_recurrent(bw, where)
            if a != b:
                raise ValueError(f"{where}: forward and backward layers differ ({a} vs {b}).")
            recurrent.append([fw, bw])
            flags.append((a, True))
            rnn = fw
        elif isinstance(layer, RNN):
            if layer.go_backwards:
                raise ValueError(f"{where}: go_backwards=True outside Bidirectional has no PyTorch equivalent.")
            recurrent.append([layer])
            flags.append((_check_recurrent(layer, where), False))
            rnn = layer
        elif isinstance(layer, (L.Dense, L.TimeDistributed)):
            dense = layer.layer if isinstance(layer, L.TimeDistributed) else layer
            if not isinstance(dense, L.Dense):
                raise ValueError(f"{where}: TimeDistributed({type(dense).__name__}) has no PyTorch conversion.")
            if not recurrent:
                raise ValueError(f"{where}: a Dense before the recurrent layers has no place in nn.LSTM/GRU/RNN.")
            head = dense
            continue
        elif isinstance(layer, (L.Masking, L.Embedding)):
            raise ValueError(f"{where}: masks (Masking, Embedding) have no equivalent in a PyTorch recurrent module; "
                             "refusing rather than computing something else.")
        else:
            raise ValueError(f"{where} has no PyTorch conversion (supported: LSTM, GRU, SimpleRNN, "
                             "Bidirectional(concat), Dropout, one Dense head).")
        if ret_state:
            raise ValueError(f"{where} follows a layer with return_state=True.")
        if recurrent and len(recurrent) > 1 and not ret_seq:
            raise ValueError(f"{where} follows a recurrent layer with return_sequences=False.")
        ret_seq, ret_state = rnn.return_sequences, rnn.return_state
    if not recurrent:
        raise ValueError("The model has no recurrent layer to convert.")
    if ret_state and head is not None:
        raise ValueError("A recurrent layer with return_state=True cannot feed a Dense head in a Sequential stack.")
    if len({f for f in flags}) != 1:
        raise ValueError(f"The recurrent layers differ in kind, activation, use_bias, units, proj_size or direction "
                         f"({[f for f in flags]}); nn.{{LSTM,GRU,RNN}}(num_layers=n) needs them identical.")
    (kind, act, use_bias, units, proj_size), bidirectional = flags[0]
    first = recurrent[0][0]
    spec = TorchSpec(kind, int(first.cell.input_dim), int(units), len(recurrent), bidirectional, use_bias,
                     act, None, "rnn.", "fc.", first.dtype, proj_size=int(proj_size))
    if head is not None:
        spec.head = (int(head.kernel.shape[0]), int(head.units), head.use_bias)
    return _Plan(spec, recurrent, head, ret_seq, ret_state)


def to_torch_state_dict(model, *, rnn_prefix="rnn.", head_prefix="fc."):
    """The model's weights under PyTorch's names: ``{rnn_prefix}weight_ih_l0``, ... ``{head_prefix}weight``.

    The model must be a stack of LSTM/GRU/SimpleRNN layers (all the same kind and size, optionally all wrapped in
    ``Bidirectional(merge_mode="concat")``), optionally ending with one ``Dense``.  Values are NumPy arrays in
    the model's dtype; load them with ``module.load_state_dict({k: torch.from_numpy(v) ...})``.
    """
    plan = _plan(model)
    out = {}
    for k, layers in enumerate(plan.recurrent):
        for sub, rev in zip(layers, (False, True)):
            params = weight_layouts.keras_to_torch(plan.spec.kind, sub.get_weights(),
                                                   reset_after=getattr(sub.cell, "reset_after", True))
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
                if name in params:
                    out[f"{rnn_prefix}{name}{_suffix(k, rev)}"] = np.ascontiguousarray(params[name])
    if plan.head is not None:
        out[head_prefix + "weight"] = np.ascontiguousarray(plan.head.kernel.value.T)
        if plan.head.use_bias:
            out[head_prefix + "bias"] = plan.head.bias.value.copy()
    return out


def torch_spec_of(model) -> TorchSpec:
    """The :class:`TorchSpec` of the PyTorch module that :func:`to_torch_module` would build for ``model``."""
    return _plan(model).spec


_TORCH_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "softmax", "log_softmax", "elu", "selu", "softplus",
                      "softsign", "silu", "gelu", "relu6", "leaky_relu", "hard_tanh", "mish", "log_sigmoid")


def to_torch_module(model):
    """A live ``torch.nn.Module`` computing what ``model`` computes, with its weights loaded (needs torch).

    The module has submodules ``rnn`` (``nn.LSTM``/``nn.GRU``/``nn.RNN``, ``batch_first=True``) and, with a
    head, ``fc`` (``nn.Linear``), so its ``state_dict()`` equals :func:`to_torch_state_dict`.  ``forward(x)``
    returns the model's output; with ``return_state=True`` ``(output, *states)`` in Keras's order.
    """
    try:
        import torch
    except ImportError:
        raise ValueError("to_torch_module needs PyTorch; to_torch_state_dict works without it.") from None
    from rnnlab import activations

    plan = _plan(model)
    s = plan.spec
    head_act = None
    if plan.head is not None:
        head_act = activations.serialize(plan.head.activation)
        if head_act not in _TORCH_ACTIVATIONS:
            raise ValueError(f"Dense activation {head_act!r} has no torch function in this converter; "
                             f"supported: {list(_TORCH_ACTIVATIONS)}.")
    module = _module_class(torch)(s, head_act, plan.return_sequences, plan.return_state)
    dtype = torch.float64 if s.dtype == "float64" else torch.float32
    module.to(dtype)
    state = {k: torch.from_numpy(np.array(v)) for k, v in to_torch_state_dict(model).items()}
    module.load_state_dict(state, strict=True)
    return module.eval()


_MODULE_CLASS = None


def _module_class(torch):
    """The ``nn.Module`` subclass used by :func:`to_torch_module` (defined once, on first use)."""
    global _MODULE_CLASS
    if _MODULE_CLASS is not None:
        return _MODULE_CLASS
    nn, F = torch.nn, torch.nn.functional
    act_fns = {
        "linear": lambda y: y, "relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "softmax": lambda y: F.softmax(y, dim=-1), "log_softmax": lambda y: F.log_softmax(y, dim=-1),
        "elu": F.elu, "selu": F.selu, "softplus": F.softplus, "softsign": F.softsign, "silu": F.silu,
        "gelu": F.gelu, "relu6": F.relu6, "leaky_relu": lambda y: F.leaky_relu(y, 0.2),
        "hard_tanh": F.hardtanh, "mish": F.mish, "log_sigmoid": F.logsigmoid,
    }

    class RnnlabTorchModel(nn.Module):
        """A recurrent module plus optional Linear head, with Keras's output semantics (built by rnnlab)."""

        def __init__(self, spec, head_activation, return_sequences, return_state):
            super().__init__()
            cls = {"lstm": nn.LSTM, "gru": nn.GRU, "simple_rnn": nn.RNN}[spec.kind]
            kwargs = {"nonlinearity": spec.nonlinearity} if spec.kind == "simple_rnn" else {}
            if spec.proj_size:
                kwargs["proj_size"] = spec.proj_size
            self.rnn = cls(spec.input_size, spec.hidden_size, num_layers=spec.num_layers, bias=spec.bias,
                           batch_first=True, bidirectional=spec.bidirectional, **kwargs)
            self.fc = None
            if spec.head is not None:
                self.fc = nn.Linear(spec.head[0], spec.head[1], bias=spec.head[2])
            self.kind = spec.kind
            self.bidirectional = spec.bidirectional
            self.head_activation = head_activation
            self.return_sequences = return_sequences
            self.return_state = return_state

        def forward(self, x):
            y, state = self.rnn(x)
            parts = list(state) if self.kind == "lstm" else [state]  # each (layers*dirs, B, H)
            dirs = 2 if self.bidirectional else 1
            # Keras states: per direction (forward first), the last layer's h (and c)
            states = [p[p.shape[0] - dirs + d] for d in range(dirs) for p in parts]
            if self.return_sequences:
                out = y
            else:
                h = parts[0]
                out = torch.cat([h[-2], h[-1]], dim=-1) if self.bidirectional else h[-1]
            if self.fc is not None:
                out = act_fns[self.head_activation](self.fc(out))
            return (out, *states) if self.return_state else out

    _MODULE_CLASS = RnnlabTorchModel
    return _MODULE_CLASS
