"""Keras's ``keras.utils.get_source_inputs`` and ``is_keras_tensor`` on rnnlab's symbolic tensors."""
from __future__ import annotations

from rnnlab.engine.layer import KerasTensor
from rnnlab.nest import flatten


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor (an ``Input`` or a layer's output on one), not an array."""
    return isinstance(x, KerasTensor)


def get_source_inputs(tensor):
    """The ``Input`` tensors that ``tensor`` was computed from, each once, in the order met walking the graph
    backwards; ``tensor`` itself (in a list) when it is an input.  A value without graph history is returned as
    is, as in Keras."""
    history = getattr(tensor, "_history", None)
    if not isinstance(tensor, KerasTensor) or history is None:
        return tensor if not isinstance(tensor, KerasTensor) else [tensor]
    layer, node_index, _ = history
    nodes = getattr(layer, "_inbound_nodes", None)
    if not nodes:
        return [tensor]
    node = nodes[node_index]
    if node.is_input:
        return flatten(node.outputs)
    sources = []
    for parent in node.input_tensors:
        for source in get_source_inputs(parent):
            if all(source is not seen for seen in sources):
                sources.append(source)
    return sources
