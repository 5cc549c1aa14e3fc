"""``model.summary()``: the Keras 3 table of layers, output shapes and parameter counts."""
from __future__ import annotations

import textwrap

import numpy as np

from rnnlab import nest


def readable_size(num_bytes: float) -> str:
    units = ["B", "KB", "MB", "GB", "TB"]
    i = 0
    while num_bytes >= 1024 and i < len(units) - 1:
        num_bytes /= 1024
        i += 1
    return f"{num_bytes:.2f} {units[i]}"


def _shape_text(layer, model):
    shapes = []
    for node in layer._inbound_nodes:
        if any(id(n) == id(node) for n in model._nodes):
            outs = node.outputs
            shapes.append(nest.map_structure(lambda t: t.shape, outs))
    if not shapes:
        return "?"
    s = shapes[0]
    if nest.is_nested(s) and s and not all(isinstance(d, (int, type(None))) for d in s):
        return "[" + ", ".join(str(x) for x in _flat_shapes(s)) + "]"
    return str(s)


def _flat_shapes(s):
    if isinstance(s, tuple) and all(isinstance(d, (int, type(None))) for d in s):
        return [s]
    out = []
    for item in s:
        out.extend(_flat_shapes(item))
    return out


def _connected_to(layer, model):
    names = []
    for node in layer._inbound_nodes:
        if any(id(n) == id(node) for n in model._nodes):
            for t in node.input_tensors:
                src, node_index, tensor_index = t._history
                names.append(f"{src.name}[{node_index}][{tensor_index}]")
    return ", ".join(names) if names else "-"


def _is_sequential_like(model, layers):
    """Keras's rule: at most one node per depth, and no node with several input tensors."""
    per_depth = {}
    for node in model._nodes:
        per_depth.setdefault(model._node_depths[id(node)], []).append(node)
    return all(len(v) == 1 and len(v[0].input_tensors) <= 1 for v in per_depth.values())


def print_summary(model, line_length=None, print_fn=None):
    print_fn = print_fn or print
    layers = model.layers
    sequential_like = _is_sequential_like(model, layers)
    if sequential_like:
        cols = [("Layer (type)", 33, "<"), ("Output Shape", 24, "<"), ("Param #", 15, ">")]
    else:
        cols = [("Layer (type)", 31, "<"), ("Output Shape", 24, "<"), ("Param #", 12, ">"),
                ("Connected to", 25, "<")]
    rows = []
    for layer in layers:
        params = layer.count_params() if layer.built else 0
        kind = type(layer).__name__
        kind = "Functional" if kind == "Model" else kind  # Keras's name for a nested functional model
        row = [f"{layer.name} ({kind})", _shape_text(layer, model), f"{params:,}"]
        if not sequential_like:
            row.append(_connected_to(layer, model))
        rows.append(row)

    def line(left, mid, right, fill):
        return left + mid.join(fill * w for _, w, _ in cols) + right

    def cells(values, header=False):
        wrapped = [textwrap.wrap(v, w - 2) or [""] for v, (_, w, _) in zip(values, cols)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = []
            for w, (_, width, align) in zip(wrapped, cols):
                text = w[k] if k < len(w) else ""
                text = text.rjust(width - 2) if align == ">" else text.ljust(width - 2)
                parts.append(" " + text + " ")
            bar = "┃" if header else "│"
            out.append(bar + bar.join(parts) + bar)
        return out

    itemsize = np.dtype(model.dtype).itemsize
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    print_fn(f'Model: "{model.name}"')
    print_fn(line("┏", "┳", "┓", "━"))
    for text in cells([c for c, _, _ in cols], header=True):
        print_fn(text)
    print_fn(line("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        for text in cells(row):
            print_fn(text)
        print_fn(line("├", "┼", "┤", "─") if i < len(rows) - 1 else line("└", "┴", "┘", "─"))
    print_fn(f" Total params: {total:,} ({readable_size(total * itemsize)})")
    print_fn(f" Trainable params: {trainable:,} ({readable_size(trainable * itemsize)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({readable_size((total - trainable) * itemsize)})")
