"""The ONNX model: :class:`OnnxModel` runs a loaded graph, :func:`from_onnx` loads one (path, bytes or
``onnx.ModelProto``), :func:`describe_onnx` summarises a file.

A model's graph is checked and planned once, when it is loaded: the opset, the initializers, the operators
(:data:`SUPPORTED_OPS`), the node order, ``Constant`` nodes, and each LSTM/GRU/RNN node made into rnnlab layers
(:mod:`.recurrent`).  Each call then runs the plan in the interpreter (:mod:`.interpreter`).
"""
from __future__ import annotations

import os

import numpy as np

from rnnlab.convert.onnx_import.interpreter import (constant_value, evaluate, node_attributes, numpy_dtype,
                                                    operators, order_nodes, to_array)
from rnnlab.convert.onnx_import.recurrent import RECURRENT_KINDS, RecurrentNode
from rnnlab.file_errors import reading

#: The standard-domain operators rnnlab runs (any other raises ValueError naming it).
SUPPORTED_OPS = tuple(sorted(set(operators(17)) | {"Constant"} | set(RECURRENT_KINDS)))


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("Reading ONNX files needs the 'onnx' package: pip install onnx (or rnnlab[onnx]).") from None
    return onnx


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
                self.constants[t.name] = to_array(t)
            except Exception as exc:  # noqa: BLE001 - onnx's decoding errors are of many kinds
                raise ValueError(f"{source}: initializer {t.name!r} cannot be read ({type(exc).__name__}: {exc}).") \
                    from None
        self._inputs = [(v.name, v.type) for v in graph.input if v.name not in self.constants]
        self.input_names = [n for n, _ in self._inputs]
        self.output_names = [v.name for v in graph.output]
        if not self.output_names:
            raise ValueError(f"{source}: the graph has no outputs.")
        unknown = sorted({f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
                          for n in graph.node if n.domain not in ("", "ai.onnx") or n.op_type not in SUPPORTED_OPS})
        if unknown:
            raise ValueError(f"{source}: unsupported ONNX operator(s) {unknown}; rnnlab runs {list(SUPPORTED_OPS)}.")
        self._ops = operators(self.opset)
        plan = order_nodes(graph.node, set(self.constants) | set(self.input_names) | {""}, self.output_names, source)
        # what each node runs: its constant, its recurrent layers, or its operator's attributes
        self._steps, self.layers = [], []
        consts = dict(self.constants)
        for n in plan:
            attrs = node_attributes(n)
            where = f"{source}: node {n.name or n.op_type!r} ({n.op_type})"
            if n.op_type == "Constant":
                try:
                    consts[n.output[0]] = constant_value(attrs)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                self._steps.append((n, "constant", consts[n.output[0]]))
            elif n.op_type in RECURRENT_KINDS:
                rec = RecurrentNode(n, attrs, consts, where)
                self.layers.extend(rec.layers)
                self._steps.append((n, "recurrent", rec))
            else:
                self._steps.append((n, "op", attrs))

    # ------------------------------------------------------------------ running
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
                arr = arr.astype(numpy_dtype(tt.elem_type), copy=False)
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
        evaluate(self._steps, self._ops, env, self.source)
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
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external and path is None:
        raise ValueError(f"{source}: initializers {[t.name for t in external][:5]} keep their data in external "
                         "files; load the model from its path so that they can be found.")
    for t in external:
        _load_external_data(t, os.path.dirname(os.path.abspath(path)), source)
    return proto, source


def _external_bytes(t, where):
    """How many bytes tensor ``t``'s data takes, from its type and dims (fixed-size element types only)."""
    onnx = _onnx()
    from onnx import helper

    if t.data_type in (onnx.TensorProto.STRING, onnx.TensorProto.UNDEFINED):
        raise ValueError(f"{where}: external data of element type {t.data_type} is not supported.")
    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: unknown element type {t.data_type}.") from None
    if any(d < 0 for d in t.dims):
        raise ValueError(f"{where}: negative dims {list(t.dims)}.")
    count = 1
    for d in t.dims:
        count *= d
    return count * itemsize


def _load_external_data(t, base, source):
    """Read an initializer's external data into the proto, after checking it: the file lies inside the model's
    folder (no absolute path, no ``..``, no link leading out), and the stored ``length`` and the file's size agree
    with what the tensor's dims need -- all before a byte of it is read."""
    onnx = _onnx()
    where = f"{source}: initializer {t.name!r}"
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    if not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
        raise ValueError(f"{where}: external data location {location!r} must be a file name inside the model's "
                         "folder.")
    root = os.path.realpath(base)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        raise ValueError(f"{where}: external data file {location!r} is not a file inside the model's folder.")
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise ValueError(f"{where}: unreadable external data offset/length {info}.") from None
    needed = _external_bytes(t, where)
    if length is not None and length != needed:
        raise ValueError(f"{where}: external data length {length:,} does not match the {needed:,} bytes its dims "
                         f"{list(t.dims)} need.")
    size = os.path.getsize(path)
    if offset < 0 or offset + needed > size:
        raise ValueError(f"{where}: external data [{offset}, {offset + needed}) runs past the end of {location!r} "
                         f"({size:,} bytes).")
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(needed)
    if len(data) != needed:
        raise ValueError(f"{where}: external data file {location!r} is truncated.")
    t.raw_data = data
    del t.external_data[:]
    t.data_location = onnx.TensorProto.DEFAULT


def from_onnx(path_or_model, *, check=True) -> OnnxModel:
    """Load an ONNX model (path, bytes or ``onnx.ModelProto``) as an :class:`OnnxModel` that runs in rnnlab.

    With ``check=True`` the model first goes through ``onnx.checker.check_model``.
    """
    onnx = _onnx()
    with reading(path_or_model if isinstance(path_or_model, (str, os.PathLike)) else "ONNX model"):
        return _from_onnx(onnx, path_or_model, check)


def _from_onnx(onnx, path_or_model, check):
    proto, source = _load_proto(path_or_model)
    if check:
        try:
            onnx.checker.check_model(proto)
        except Exception as exc:  # noqa: BLE001 - the checker raises several types
            raise ValueError(f"{source}: the ONNX checker rejects the model: {exc}") from None
    try:
        return OnnxModel(proto, source)
    except (ValueError, TypeError):
        raise
    except (AttributeError, KeyError, IndexError, OverflowError, MemoryError, RecursionError) as exc:
        raise ValueError(f"{source}: malformed ONNX graph ({type(exc).__name__}: {exc}).") from None


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

