"""ONNX graph -> a callable that runs in rnnlab.

Every ``LSTM``, ``GRU`` and ``RNN`` node becomes rnnlab recurrent layers (one per direction), with the ONNX
weights converted to Keras's layout through :mod:`rnnlab.weight_layouts` -- so ``OnnxModel.layers`` holds ordinary
rnnlab layers with ordinary weights.  The operators around them (the ``Transpose``/``Squeeze``/``Shape``/``Gather``/
``Concat``/``Expand``/``Gemm``... that ``torch.onnx.export`` and :func:`rnnlab.convert.to_onnx` emit) run in a small
NumPy interpreter following the ONNX operator definitions.

* :mod:`.model`: :class:`OnnxModel`, :func:`from_onnx`, :func:`describe_onnx`: loading a file, checking and
  planning its graph, calling it;
* :mod:`.recurrent`: the ONNX ``LSTM``/``GRU``/``RNN`` operators as rnnlab layers (what is carried over exactly,
  and what is refused);
* :mod:`.interpreter`: every other operator in NumPy (:data:`SUPPORTED_OPS`), and running a planned graph.

Operators outside :data:`SUPPORTED_OPS`, operators from other domains and subgraphs raise ``ValueError`` naming
the operator; damaged files (bad protobuf, failed checker, dangling tensor names) raise ``ValueError`` too.
"""
from rnnlab.convert.onnx_import.model import SUPPORTED_OPS, OnnxModel, describe_onnx, from_onnx

__all__ = ["SUPPORTED_OPS", "OnnxModel", "describe_onnx", "from_onnx"]
