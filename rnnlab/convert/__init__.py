"""Converting rnnlab models to and from other formats: PyTorch, safetensors, ONNX.

Entry points (each submodule is imported on first use; none imports torch, onnx or onnxruntime up front):

* PyTorch (:mod:`.torch_format`): :func:`from_torch`, :func:`from_torch_state_dict`, :func:`to_torch_state_dict`,
  :func:`to_torch_module`, :func:`infer_torch_spec`, :class:`TorchSpec`;
* safetensors (:mod:`.safetensors`, NumPy only): :func:`save_safetensors`, :func:`load_safetensors`;
* ONNX (:mod:`.onnx_export`, :mod:`.onnx_import`, need the ``onnx`` package): :func:`to_onnx`, :func:`from_onnx`;
* files: :func:`convert_file` (formats chosen by extension) and :func:`describe_file` (a text summary).
"""
from __future__ import annotations

import importlib
import os

import numpy as np

from rnnlab.file_errors import reading

_LAZY = {
    "from_torch": "torch_format", "from_torch_state_dict": "torch_format", "to_torch_state_dict": "torch_format",
    "to_torch_module": "torch_format", "infer_torch_spec": "torch_format", "TorchSpec": "torch_format",
    "torch_spec_of": "torch_format",
    "save_safetensors": "safetensors", "load_safetensors": "safetensors",
    "to_onnx": "onnx_export",
    "from_onnx": "onnx_import", "OnnxModel": "onnx_import",
}

__all__ = sorted(_LAZY) + ["convert_file", "describe_file"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rnnlab.convert' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rnnlab.convert.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


# --------------------------------------------------------------------------------------------- file formats
_KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
_WEIGHTS_SUFFIXES = (".weights.h5", ".weights.npz")
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")


def _format_of(path) -> str:
    lower = os.fspath(path).lower()
    for suffix in _WEIGHTS_SUFFIXES:  # before ".h5": "x.weights.h5" is a weights file, not a model file
        if lower.endswith(suffix):
            return "weights"
    if lower.endswith(".safetensors"):
        return "safetensors"
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith(_TORCH_SUFFIXES):
        return "torch"
    if lower.endswith(_KERAS_SUFFIXES):
        return "keras"
    raise ValueError(
        f"Unrecognised file extension in {os.fspath(path)!r}; known: .keras, .h5, .weights.h5, .weights.npz, "
        ".safetensors, .pt, .pth, .bin, .onnx."
    )


def _load_keras(path):
    from rnnlab import models

    load_model = getattr(models, "load_model", None)
    if load_model is None:
        raise ValueError(f"Reading {os.fspath(path)!r} needs rnnlab.models.load_model, which this version of "
                         "rnnlab does not provide.")
    return load_model(path)


def _read_model(path, options):
    fmt = _format_of(path)
    if fmt in ("safetensors", "torch"):
        from rnnlab.convert.torch_format import from_torch

        return from_torch(os.fspath(path), **options)
    if fmt == "keras":
        return _load_keras(path)
    if fmt == "onnx":
        raise ValueError(f"{os.fspath(path)!r}: an ONNX graph runs in rnnlab (rnnlab.convert.from_onnx) but is not "
                         "a Keras layer stack, so it cannot be written to another format.")
    raise ValueError(f"{os.fspath(path)!r} holds weights only, without the architecture; load them into a model "
                     "with model.load_weights(...) and convert the model instead.")


def convert_file(in_path, out_path, **options):
    """Read ``in_path`` and write the same model to ``out_path``; the formats follow the extensions.

    Sources: ``.keras``/``.h5`` (``rnnlab.models.load_model``), ``.safetensors``/``.pt``/``.pth`` (a PyTorch
    recurrent state dict, see :func:`from_torch`; ``options`` such as ``nonlinearity``, ``return_sequences`` or
    ``head_activation`` are passed on).  Targets: ``.keras``/``.h5`` (``model.save``), ``.weights.h5``/
    ``.weights.npz`` (``model.save_weights``), ``.safetensors`` (PyTorch names, no torch needed), ``.pt``/``.pth``
    (needs torch), ``.onnx`` (needs onnx; ``opset`` may be given).  Every write is atomic.  Returns the model.
    """
    out_fmt = _format_of(out_path)
    onnx_options = {k: options.pop(k) for k in ("opset",) if k in options}
    model = _read_model(in_path, options)
    out_path = os.fspath(out_path)
    if out_fmt == "safetensors":
        from rnnlab.convert.safetensors import save_safetensors
        from rnnlab.convert.torch_format import to_torch_state_dict

        save_safetensors(to_torch_state_dict(model), out_path, metadata={"format": "pt"})
    elif out_fmt == "torch":
        from rnnlab.convert.torch_format import to_torch_module
        from rnnlab.utils.atomic import atomic_write

        import torch

        state = to_torch_module(model).state_dict()
        with atomic_write(out_path, "wb") as f:
            torch.save(state, f)
    elif out_fmt == "onnx":
        from rnnlab.convert.onnx_export import to_onnx

        to_onnx(model, out_path, **onnx_options)
    elif out_fmt == "weights":
        model.save_weights(out_path)
    else:
        if not hasattr(model, "save"):
            raise ValueError(f"Writing {out_path!r} needs Model.save, which this version of rnnlab does not provide.")
        model.save(out_path)
    return model


# --------------------------------------------------------------------------------------------- describe
def _count(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _describe_arrays(lines, entries):
    """``entries``: ``[(name, dtype, shape)]``."""
    total = 0
    width = max([len(n) for n, _, _ in entries] + [4])
    for name, dtype, shape in entries:
        total += _count(shape)
        lines.append(f"  {name:<{width}}  {str(dtype):<8} {tuple(shape)}")
    lines.append(f"Total parameters: {total:,}")


def _describe_torch(lines, shapes):
    from rnnlab.convert.torch_format import infer_torch_spec

    try:
        spec = infer_torch_spec({k: np.zeros(s, np.float32) for k, s in shapes.items()})
        lines.append(f"PyTorch structure: {spec.describe()}")
    except (ValueError, TypeError) as exc:
        lines.append(f"PyTorch structure: not a recognised recurrent module ({exc})")


def _describe_model(lines, model):
    lines.append(f"Model {model.name!r} ({type(model).__name__})")
    total = 0
    for layer in model.layers:
        weights = layer.weights
        n = sum(_count(w.shape) for w in weights)
        total += n
        shapes = ", ".join(f"{w.name} {tuple(w.shape)}" for w in weights) or "no weights"
        lines.append(f"  {layer.name:<24} {type(layer).__name__:<16} params {n:>9,}  {shapes}")
    lines.append(f"Total parameters: {total:,}")


def describe_file(path) -> str:
    """A text summary of a model or weights file: layers or tensors, shapes, dtypes and parameter counts.

    Any damage is a ValueError naming the file (see :mod:`rnnlab.file_errors`)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No such file: {path!r}.")
    fmt = _format_of(path)
    lines = [f"File: {path} ({os.path.getsize(path):,} bytes, format: {fmt})"]
    with reading(path):
        _DESCRIBERS[fmt if fmt != "weights" else _weights_kind(path)](lines, path)
    return "\n".join(lines)


def _weights_kind(path):
    return "npz" if path.lower().endswith(".weights.npz") else "weights_h5"


def _describe_safetensors(lines, path):
    from rnnlab.convert.safetensors import read_header

    header, metadata = read_header(path)
    if metadata:
        lines.append(f"Metadata: {metadata}")
    lines.append(f"Tensors: {len(header)}")
    _describe_arrays(lines, [(n, d, s) for n, (d, s) in header.items()])
    _describe_torch(lines, {n: s for n, (d, s) in header.items() if d in ("F16", "BF16", "F32", "F64")})


def _describe_torch_file(lines, path):
    from rnnlab.convert.torch_format import _load_path, _to_numpy

    state = {k: _to_numpy(v, k) for k, v in _load_path(path).items()}
    lines.append(f"Tensors: {len(state)}")
    _describe_arrays(lines, [(n, a.dtype, a.shape) for n, a in state.items()])
    _describe_torch(lines, {n: a.shape for n, a in state.items()})


def _describe_onnx(lines, path):
    from rnnlab.convert.onnx_import import describe_onnx

    lines.extend(describe_onnx(path))


def _describe_npz(lines, path):
    from rnnlab.saving.weights_npz import open_npz, read_npz_headers

    with open_npz(path) as zf:  # the .npy headers alone: no array is read
        entries = [(m.name, m.dtype, m.shape) for m in read_npz_headers(zf, path)]
    lines.append(f"Arrays: {len(entries)}")
    _describe_arrays(lines, entries)


def _describe_weights_h5(lines, path):
    from rnnlab.saving.safe_h5 import READ_ERRORS, dataset_paths, open_h5

    with open_h5(path, repr(path)) as h5:
        try:
            entries = [(p.lstrip("/"), h5[p].dtype, h5[p].shape) for p in sorted(dataset_paths(h5, ""))]
        except READ_ERRORS as exc:
            raise ValueError(f"{path!r} is not a readable .weights.h5 file ({type(exc).__name__}: {exc}).") \
                from None
    lines.append(f"Arrays: {len(entries)}")
    _describe_arrays(lines, entries)


_DESCRIBERS = {"safetensors": _describe_safetensors, "torch": _describe_torch_file, "onnx": _describe_onnx,
               "keras": lambda lines, path: _describe_model(lines, _load_keras(path)), "npz": _describe_npz,
               "weights_h5": _describe_weights_h5}
