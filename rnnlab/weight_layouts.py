"""The one table of recurrent weight layouts, and the conversions that read it.

Keras stores a recurrent layer as ``[kernel, recurrent_kernel, bias]``:

* ``kernel``            ``(input_dim, G*units)``  -- input weights, gate blocks side by side on the last axis
* ``recurrent_kernel``  ``(units, G*units)``
* ``bias``              ``(G*units,)``; for GRU with ``reset_after=True`` ``(2, G*units)``: row 0 is the input
  bias, row 1 the recurrent bias.

PyTorch stores ``weight_ih (G*units, input_dim)``, ``weight_hh (G*units, units)``, ``bias_ih`` and ``bias_hh``
(both ``(G*units,)``, always added), i.e. the transposes, with its own gate order.  ONNX stores
``W (dirs, G*units, input)``, ``R (dirs, G*units, units)``, ``B (dirs, 2*G*units)`` (input biases then recurrent
biases) with yet another order.  :data:`GATE_ORDER` is the single place those orders are written down;
every converter in rnnlab reads it.
"""
from __future__ import annotations

import numpy as np

#: Canonical gate names: LSTM ``i`` input, ``f`` forget, ``c`` candidate (PyTorch calls it ``g``), ``o`` output;
#: GRU ``z`` update, ``r`` reset, ``h`` candidate (PyTorch's ``n``); SimpleRNN has the single block ``h``.
GATE_ORDER = {
    "lstm": {"keras": ("i", "f", "c", "o"), "torch": ("i", "f", "c", "o"), "onnx": ("i", "o", "f", "c")},
    "gru": {"keras": ("z", "r", "h"), "torch": ("r", "z", "h"), "onnx": ("z", "r", "h")},
    "simple_rnn": {"keras": ("h",), "torch": ("h",), "onnx": ("h",)},
}

#: Number of gate blocks G per cell kind.
NUM_GATES = {kind: len(orders["keras"]) for kind, orders in GATE_ORDER.items()}

#: Number of state tensors per cell kind (LSTM carries ``h`` and ``c``).
NUM_STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}


def _check_kind(kind):
    if kind not in GATE_ORDER:
        raise ValueError(f"Argument `kind` must be one of {sorted(GATE_ORDER)}; received kind={kind!r}.")


def reorder_gates(array, kind, src, dst, axis=-1):
    """Permute the gate blocks of ``array`` along ``axis`` from framework ``src``'s order to ``dst``'s."""
    _check_kind(kind)
    src_order, dst_order = GATE_ORDER[kind][src], GATE_ORDER[kind][dst]
    blocks = np.split(np.asarray(array), len(src_order), axis=axis)
    by_name = dict(zip(src_order, blocks))
    return np.concatenate([by_name[g] for g in dst_order], axis=axis)


def keras_to_torch(kind, weights, reset_after=True):
    """Keras ``[kernel, recurrent_kernel, (bias)]`` -> PyTorch ``{weight_ih, weight_hh, (bias_ih, bias_hh)}``.

    The whole Keras bias goes to ``bias_ih`` and ``bias_hh`` is zero, except for GRU with ``reset_after=True``,
    whose two bias rows map one to one.  GRU with ``reset_after=False`` applies the reset gate before the
    recurrent matrix product, which PyTorch cannot express, so it is refused.
    """
    _check_kind(kind)
    weights = [np.asarray(w) for w in weights]
    if len(weights) not in (2, 3):
        raise ValueError(
            f"Argument `weights` must be [kernel, recurrent_kernel] or [kernel, recurrent_kernel, bias]; "
            f"received {len(weights)} arrays."
        )
    kernel, recurrent_kernel = weights[0], weights[1]
    g = NUM_GATES[kind]
    units = recurrent_kernel.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != g * units or recurrent_kernel.shape != (units, g * units):
        raise ValueError(
            f"For kind={kind!r} expected kernel (input_dim, {g}*units) and recurrent_kernel (units, {g}*units); "
            f"received kernel {kernel.shape} and recurrent_kernel {recurrent_kernel.shape}."
        )
    bias = weights[2] if len(weights) == 3 else None
    if kind == "gru":
        if bias is not None:
            reset_after = bias.ndim == 2
        if not reset_after:
            raise ValueError(
                "A Keras GRU with reset_after=False has no exact PyTorch equivalent (PyTorch applies the reset "
                "gate after the recurrent matrix product, i.e. reset_after=True); refusing to approximate."
            )
    out = {
        "weight_ih": reorder_gates(kernel.T, kind, "keras", "torch", axis=0),  # (G*units, input_dim)
        "weight_hh": reorder_gates(recurrent_kernel.T, kind, "keras", "torch", axis=0),  # (G*units, units)
    }
    if bias is not None:
        if kind == "gru":
            if bias.shape != (2, g * units):
                raise ValueError(f"GRU bias must have shape (2, {g * units}); received {bias.shape}.")
            b_ih, b_hh = bias[0], bias[1]
        else:
            if bias.shape != (g * units,):
                raise ValueError(f"{kind} bias must have shape ({g * units},); received {bias.shape}.")
            b_ih, b_hh = bias, np.zeros_like(bias)
        out["bias_ih"] = reorder_gates(b_ih, kind, "keras", "torch")
        out["bias_hh"] = reorder_gates(b_hh, kind, "keras", "torch")
    return out


def torch_to_keras(kind, params):
    """PyTorch ``{weight_ih, weight_hh, (bias_ih, bias_hh)}`` -> Keras ``[kernel, recurrent_kernel, (bias)]``.

    LSTM and SimpleRNN biases are summed (Keras has one); GRU keeps both, as Keras's ``reset_after=True``
    layout ``(2, 3*units)``.  Keys may carry a PyTorch suffix such as ``_l0`` (they are matched by prefix).
    """
    _check_kind(kind)
    params = {_strip_suffix(k): np.asarray(v) for k, v in params.items()}
    for key in ("weight_ih", "weight_hh"):
        if key not in params:
            raise ValueError(f"Argument `params` must contain {key!r}; received keys {sorted(params)}.")
    kernel = reorder_gates(params["weight_ih"], kind, "torch", "keras", axis=0).T
    recurrent_kernel = reorder_gates(params["weight_hh"], kind, "torch", "keras", axis=0).T
    if recurrent_kernel.shape[0] * NUM_GATES[kind] != recurrent_kernel.shape[1]:
        raise ValueError(
            f"weight_hh has shape {params['weight_hh'].shape}, which is not ({NUM_GATES[kind]}*units, units); "
            "a PyTorch LSTM with proj_size has no Keras equivalent."
        )
    out = [kernel, recurrent_kernel]
    has_ih, has_hh = "bias_ih" in params, "bias_hh" in params
    if has_ih != has_hh:
        raise ValueError("Argument `params` must contain both bias_ih and bias_hh, or neither.")
    if has_ih:
        b_ih = reorder_gates(params["bias_ih"], kind, "torch", "keras")
        b_hh = reorder_gates(params["bias_hh"], kind, "torch", "keras")
        out.append(np.stack([b_ih, b_hh]) if kind == "gru" else b_ih + b_hh)
    return out


def _strip_suffix(key):
    for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        if key.startswith(base):
            return base
    return key
