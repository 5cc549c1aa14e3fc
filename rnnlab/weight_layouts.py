"""The one table of recurrent weight layouts, and the conversions that read it.

Keras stores a recurrent layer as ``[kernel, recurrent_kernel, bias]``:

* ``kernel``            ``(input_dim, G*units)``  -- input weights, gate blocks side by side on the last axis
* ``recurrent_kernel``  ``(units, G*units)``
* ``bias``              ``(G*units,)``; for GRU with ``reset_after=True`` ``(2, G*units)``: row 0 is the input
  bias, row 1 the recurrent bias.

PyTorch stores ``weight_ih (G*units, input_dim)``, ``weight_hh (G*units, units)``, ``bias_ih`` and ``bias_hh``
(both ``(G*units,)``, always added), i.e. the transposes, with its own gate order.  ONNX stores
``W (dirs, G*units, input)``, ``R (dirs, G*units, units)``, ``B (dirs, 2*G*units)`` (input biases then recurrent
biases) with yet another order.

Two LSTM variants add one weight each, after the bias: a projection ``projection_kernel (units, P)`` (PyTorch's
``weight_hr (P, units)``, its transpose; the recurrent kernel is then ``(P, 4*units)``), and peephole weights
``(3*units,)`` (ONNX's ``P (dirs, 3*units)``, gate order in the ``"lstm_peephole"`` row).  :data:`GATE_ORDER` is the single place those orders are written down;
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
    # an LSTM's peephole weights: three blocks (the candidate has none); PyTorch has no peepholes
    "lstm_peephole": {"keras": ("i", "f", "o"), "onnx": ("i", "o", "f")},
}

#: Number of gate blocks G per cell kind.
NUM_GATES = {kind: len(orders["keras"]) for kind, orders in GATE_ORDER.items() if "torch" in orders}

#: Number of state tensors per cell kind (LSTM carries ``h`` and ``c``).
NUM_STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}


def _check_kind(kind, table=GATE_ORDER):
    if kind not in table:
        raise ValueError(f"Argument `kind` must be one of {sorted(table)}; received kind={kind!r}.")


def reorder_gates(array, kind, src, dst, axis=-1):
    """Permute the gate blocks of ``array`` along ``axis`` from framework ``src``'s order to ``dst``'s."""
    _check_kind(kind)
    src_order, dst_order = GATE_ORDER[kind][src], GATE_ORDER[kind][dst]
    blocks = np.split(np.asarray(array), len(src_order), axis=axis)
    by_name = dict(zip(src_order, blocks))
    return np.concatenate([by_name[g] for g in dst_order], axis=axis)


def keras_to_torch(kind, weights, reset_after=True):
    """Keras ``[kernel, recurrent_kernel, (bias)]`` -> PyTorch ``{weight_ih, weight_hh, (bias_ih, bias_hh)}``.

    An LSTM with a projection ends with ``projection_kernel (units, P)`` (after the bias, if any); it becomes
    ``weight_hr`` ``(P, units)``, and the recurrent kernel is ``(P, 4*units)``.

    The whole Keras bias goes to ``bias_ih`` and ``bias_hh`` is zero, except for GRU with ``reset_after=True``,
    whose two bias rows map one to one.  GRU with ``reset_after=False`` applies the reset gate before the
    recurrent matrix product, which PyTorch cannot express, so it is refused.
    """
    _check_kind(kind, NUM_GATES)
    weights = [np.asarray(w) for w in weights]
    projection = weights.pop() if kind == "lstm" and len(weights) in (3, 4) and weights[-1].ndim == 2 else None
    if len(weights) not in (2, 3):
        raise ValueError(
            f"Argument `weights` must be [kernel, recurrent_kernel] or [kernel, recurrent_kernel, bias] (an LSTM "
            f"may end with a projection_kernel); received {len(weights) + (projection is not None)} arrays."
        )
    kernel, recurrent_kernel = weights[0], weights[1]
    g = NUM_GATES[kind]
    units = kernel.shape[1] // g if kernel.ndim == 2 else -1
    rows = units if projection is None else projection.shape[1]
    if kernel.ndim != 2 or kernel.shape[1] != g * units or recurrent_kernel.shape != (rows, g * units) or \
            (projection is not None and projection.shape != (units, rows)):
        raise ValueError(
            f"For kind={kind!r} expected kernel (input_dim, {g}*units) and recurrent_kernel (units, {g}*units) "
            f"(or (P, {g}*units) with a projection_kernel (units, P)); received kernel {kernel.shape}, "
            f"recurrent_kernel {recurrent_kernel.shape}"
            + ("." if projection is None else f" and projection_kernel {projection.shape}.")
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
    if projection is not None:
        out["weight_hr"] = projection.T  # (P, units)
    return out


def torch_to_keras(kind, params):
    """PyTorch ``{weight_ih, weight_hh, (bias_ih, bias_hh)}`` -> Keras ``[kernel, recurrent_kernel, (bias)]``.

    LSTM and SimpleRNN biases are summed (Keras has one); GRU keeps both, as Keras's ``reset_after=True``
    layout ``(2, 3*units)``.  An LSTM's ``weight_hr`` ``(P, units)`` (``proj_size=P``) becomes the last weight,
    ``projection_kernel`` ``(units, P)``.  Keys may carry a PyTorch suffix such as ``_l0`` (they are matched by prefix).
    """
    _check_kind(kind, NUM_GATES)
    params = {_strip_suffix(k): np.asarray(v) for k, v in params.items()}
    for key in ("weight_ih", "weight_hh"):
        if key not in params:
            raise ValueError(f"Argument `params` must contain {key!r}; received keys {sorted(params)}.")
    kernel = reorder_gates(params["weight_ih"], kind, "torch", "keras", axis=0).T
    recurrent_kernel = reorder_gates(params["weight_hh"], kind, "torch", "keras", axis=0).T
    projection = params["weight_hr"].T if kind == "lstm" and "weight_hr" in params else None  # (units, P)
    units = kernel.shape[1] // NUM_GATES[kind]
    rows = units if projection is None else projection.shape[1]
    if recurrent_kernel.shape != (rows, NUM_GATES[kind] * units) or \
            (projection is not None and projection.shape != (units, rows)):
        raise ValueError(
            f"weight_hh has shape {params['weight_hh'].shape}, which is not ({NUM_GATES[kind]}*units, units), nor "
            f"an LSTM with proj_size=P's ({NUM_GATES[kind]}*units, P) with weight_hr (P, units); weight_ih has "
            f"{kernel.shape[1]} rows"
            + ("." if projection is None else f", weight_hr shape {params['weight_hr'].shape}.")
        )
    out = [kernel, recurrent_kernel]
    has_ih, has_hh = "bias_ih" in params, "bias_hh" in params
    if has_ih != has_hh:
        raise ValueError("Argument `params` must contain both bias_ih and bias_hh, or neither.")
    if has_ih:
        b_ih = reorder_gates(params["bias_ih"], kind, "torch", "keras")
        b_hh = reorder_gates(params["bias_hh"], kind, "torch", "keras")
        out.append(np.stack([b_ih, b_hh]) if kind == "gru" else b_ih + b_hh)
    if projection is not None:
        out.append(projection)
    return out


def _strip_suffix(key):
    for base in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
        if key.startswith(base):
            return base
    return key
