"""Masks in exported ONNX graphs: Keras's mask operations, and recurrent layers that are exact for any mask.

Keras semantics (3.15, ``backend.rnn``, whose TensorFlow and torch loops agree): at a masked step every state
keeps its previous value, and the step's output is the previous step's output (zeros before the first step), or
zero with ``zero_output_for_mask``.  A mask may have any pattern: right or left padding, gaps, rows with no real
step.  The torch backend always runs that loop for a masked layer.  The TensorFlow backend's cuDNN kernels (on a
GPU only) differ: they refuse any mask but right padding, and return zeros, not the repeated output, at the padded
steps of a sequence; the export follows the loop, as rnnlab does (and Keras on a CPU).

The ONNX recurrent operators take ``sequence_lens`` instead: each row runs over its first ``n`` steps.  A masked
step leaves the states as they were, so a row's final states and real outputs depend only on its real steps, in
order.  The export therefore *compacts* each row at run time: its real steps move to the front, in order
(``ScatterElements`` with a per-row permutation), the operator runs on ``n`` = the number of real steps, and the
outputs go back to their time positions (``GatherElements``): the output at time ``t`` is the operator's output
after the last real step at or before ``t``.  For a right-padded row the permutation is the identity.  Every
cell computation is the one Keras does, on the same inputs, so the result is exact for every mask; nothing about
the padding is assumed when exporting, and masked inputs (whatever they hold, NaN included) never reach a cell.
Rows with no real step get the initial states and zero outputs without relying on how a runtime treats
``sequence_lens = 0``.

Keras 3.15 writes the mask of ``Masking`` (``NotEqual``, then ``Any`` over the features) and of
``Embedding(mask_zero=True)`` in a functional model (``NotEqual``) as operations in the saved graph
(:class:`rnnlab.saving.keras_ops.KerasOp`); :func:`keras_op` exports each as standard ONNX operators.

Every function takes the exporter's graph builder ``g`` (``op``/``const``/``cast``/``reduce``... of
:mod:`.onnx_export`) and ONNX tensor names; masks are ``bool`` tensors ``(B, T)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# ------------------------------------------------------------------------------------------ Keras's mask ops
def keras_op(g, layer, operands, where):
    """ONNX for a :class:`KerasOp` node.  ``operands``: per argument, ``(onnx name, numpy dtype, rank)`` for a
    tensor or a Python number.  Returns the output tensor's name (``bool``)."""
    op = layer.op
    if op in ("Any", "All"):
        name, dtype, rank = operands[0]
        x = name if dtype == np.bool_ else g.cast(name, np.bool_)
        axes = range(rank) if layer.axis is None else (layer.axis if isinstance(layer.axis, tuple) else (layer.axis,))
        axes = sorted({a % rank for a in axes}) if rank else []
        if not axes:  # a reduction over no axis (a scalar) is the value itself
            return g.op("Identity", [x], layer.name)
        # ReduceMax/ReduceMin take bool only from opset 20: reduce 0/1 integers instead
        reduced = g.reduce("ReduceMax" if op == "Any" else "ReduceMin", g.cast(x, np.int32), axes,
                           keepdims=int(layer.keepdims))
        return g.cast(reduced, np.bool_, layer.name)
    if op == "LogicalNot":
        name, dtype, _ = operands[0]
        return g.op("Not", [name if dtype == np.bool_ else g.cast(name, np.bool_)], layer.name)
    if op in ("LogicalAnd", "LogicalOr"):
        args = [_as_dtype(g, a, np.dtype(np.bool_)) for a in operands]
        return g.op("And" if op == "LogicalAnd" else "Or", args, layer.name)
    if op in ("Equal", "NotEqual"):
        # NumPy's promotion (Python numbers are weak), as KerasOp computes it: float32 vs 0.0 stays float32,
        # int64 vs 0.5 compares in float64
        common = np.result_type(*[a[1] if isinstance(a, tuple) else a for a in operands])
        if common.kind not in "biuf":
            raise ValueError(f"{where}: cannot compare values of dtype {common}.")
        equal = g.op("Equal", [_as_dtype(g, a, common) for a in operands])
        return g.op("Not", [equal], layer.name) if op == "NotEqual" else g.op("Identity", [equal], layer.name)
    raise ValueError(f"{where}: operation {op!r} has no ONNX export.")  # pragma: no cover - KerasOp.ALL is closed


def _as_dtype(g, operand, dtype):
    if not isinstance(operand, tuple):
        return g.const(np.asarray(operand, dtype), "scalar", dtype=dtype)
    name, have, _ = operand
    return name if have == dtype else g.cast(name, dtype)


# ------------------------------------------------------------------------------------------ recurrent layers
@dataclass(frozen=True)
class MaskPlan:
    """What a ``(B, T)`` mask gives every recurrent node that uses it (computed once per mask).

    ``mask`` bool (B, T); ``destination`` int64 (B, T): where step ``t`` goes in the compacted row (real steps
    first, in order, then the masked ones); ``lengths`` int32 (B,): real steps per row (``sequence_lens``);
    ``source`` int64 (B, T): the compacted position holding the output after the last real step at or before
    ``t`` (0 when there is none); ``seen`` bool (B, T): whether there is one; ``nonempty`` bool (B, 1): whether the
    row has a real step at all."""
    mask: str
    destination: str
    lengths: str
    source: str
    seen: str
    nonempty: str


def mask_plan(g, mask):
    """The :class:`MaskPlan` of ``mask`` (bool (B, T))."""
    real = g.cast(mask, np.int64)  # (B, T)
    count = g.op("CumSum", [real, g.ints(1, "axis1")], "real_steps_so_far")  # (B, T): real steps in [0, t]
    n = g.reduce("ReduceSum", real, [1], keepdims=1, base="real_steps")  # (B, 1)
    masked_so_far = g.op("CumSum", [g.cast(g.op("Not", [mask]), np.int64), g.ints(1, "axis1")])  # (B, T)
    one = g.const(np.asarray(1, np.int64), "one_i64")
    zero = g.const(np.asarray(0, np.int64), "zero_i64")
    # real step t goes to (real steps before it); masked step t after all real steps, in order
    destination = g.op("Where", [mask, g.op("Sub", [count, one]),
                                 g.op("Sub", [g.op("Add", [n, masked_so_far]), one])], "mask_destination")
    lengths = g.cast(g.squeeze(n, [1]), np.int32, "sequence_lens")
    source = g.op("Max", [g.op("Sub", [count, one]), zero], "mask_source")  # (B, T)
    seen = g.op("Greater", [count, zero], "mask_seen")
    nonempty = g.op("Greater", [n, zero], "mask_nonempty")  # (B, 1)
    return MaskPlan(mask, destination, lengths, source, seen, nonempty)


def compact(g, x, plan, base):
    """``x`` (B, T, F) with each row's real steps moved to the front, in order; masked steps are zeroed first,
    so that what they held never reaches a cell."""
    real = g.op("Where", [g.unsqueeze(plan.mask, [2]), x, g.const(0.0, "zero")])  # (B, T, F)
    index = g.op("Expand", [g.unsqueeze(plan.destination, [2]), g.op("Shape", [real])])  # (B, T, F)
    return g.op("ScatterElements", [real, index, real], f"{base}/compacted", axis=1)


def expand(g, y, rank, plan, zero_output_for_mask):
    """Outputs of the compacted rows, ``y`` (B, T, ...) of rank ``rank``, back at their time positions: at time
    ``t``, the output after the last real step at or before ``t``; zero where there is none, and at every masked
    step with ``zero_output_for_mask``."""
    extra = list(range(2, rank))
    index = g.op("Expand", [g.unsqueeze(plan.source, extra), g.op("Shape", [y])])
    gathered = g.op("GatherElements", [y, index], axis=1)
    keep = g.unsqueeze(plan.mask if zero_output_for_mask else plan.seen, extra)
    return g.op("Where", [keep, gathered, g.const(0.0, "zero")])


def last_output(g, h, plan, zero_output_for_mask, last_step):
    """A layer's last output (B, U) from the operator's final ``h``: the output of the last processed step
    (``last_step``, an index into the mask), which is zero when that step is masked and ``zero_output_for_mask``,
    and zero for a row with no real step."""
    if zero_output_for_mask:
        index = g.const(np.asarray(last_step, np.int64), f"index{last_step}".replace("-", "m"))
        keep = g.unsqueeze(g.op("Gather", [plan.mask, index], axis=1), [1])  # (B, 1)
    else:
        keep = plan.nonempty
    return g.op("Where", [keep, h, g.const(0.0, "zero")])


def final_state(g, state, plan, initial):
    """A final state (B, U): the operator's, or ``initial`` (zeros when ``None``) for a row with no real step."""
    return g.op("Where", [plan.nonempty, state, initial if initial is not None else g.const(0.0, "zero")])
