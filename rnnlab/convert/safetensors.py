"""Reading and writing ``.safetensors`` files with NumPy alone (no ``torch``, no ``safetensors`` package).

The format, as published by Hugging Face:

* bytes ``0..8``: ``N``, the header length, an unsigned 64-bit little-endian integer;
* bytes ``8..8+N``: the header, a UTF-8 JSON object (it may be padded at the end with spaces).  Each key is a
  tensor name mapped to ``{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}``; the optional key
  ``"__metadata__"`` maps to an object of string values;
* the rest: the data buffer.  ``begin``/``end`` are byte offsets into it; tensors are stored C-contiguous and
  little-endian, and together they must cover the buffer exactly (no gaps, no overlap, nothing left over).

Everything is validated before any array is built: a damaged or hostile file raises ``ValueError`` with the
reason, never a half-read dictionary.  ``BF16`` tensors are read as ``float32`` (exactly: a bfloat16 is the top
half of a float32); 8-bit float formats are refused.
"""
from __future__ import annotations

import collections
import json
import os
import struct

import numpy as np

from rnnlab.file_errors import reading

#: safetensors dtype name -> NumPy dtype (little-endian).  BF16 is handled separately.
DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_ITEMSIZE = {**{name: dt.itemsize for name, dt in DTYPES.items()}, "BF16": 2}
_NAME_OF = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}

#: The reference implementation refuses headers above 100 MB; so does this one.
MAX_HEADER_SIZE = 100_000_000
_HEADER_KEYS = {"dtype", "shape", "data_offsets"}


# --------------------------------------------------------------------------------------------------- writing
def _as_numpy(name, value):
    """``(array, dtype_name)`` for one tensor: NumPy arrays and torch tensors (bf16 included) are accepted."""
    if type(value).__module__.startswith("torch"):
        import torch  # only reached when the caller already holds a torch tensor

        t = value.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().view("<u2"), "BF16"
        value = t.numpy()
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"Tensor {name!r}: dtype {arr.dtype} cannot be stored in a .safetensors file.")
    dtype_name = "BOOL" if arr.dtype.kind == "b" else _NAME_OF.get((arr.dtype.kind, arr.dtype.itemsize))
    if dtype_name is None:
        raise ValueError(f"Tensor {name!r}: dtype {arr.dtype} has no .safetensors equivalent.")
    return np.asarray(arr, dtype=DTYPES[dtype_name]), dtype_name  # tobytes() writes C order


def serialize(tensors, metadata=None) -> bytes:
    """The bytes of a ``.safetensors`` file holding ``tensors`` (a mapping of name -> array)."""
    if not hasattr(tensors, "items"):
        raise TypeError(f"Argument `tensors` must be a mapping of names to arrays; received {type(tensors).__name__}.")
    entries = []
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Tensor names must be non-empty strings; received {name!r}.")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved by the format and cannot name a tensor.")
        arr, dtype_name = _as_numpy(name, value)
        entries.append((name, arr, dtype_name))
    # Largest items first keeps every tensor aligned to its item size (as the reference writer does).
    entries.sort(key=lambda e: (-_ITEMSIZE[e[2]], e[0]))
    header, offset = {}, 0
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in metadata.items()):
            raise ValueError("Argument `metadata` must be a dict of str -> str.")
        header["__metadata__"] = dict(metadata)
    for name, arr, dtype_name in entries:
        header[name] = {"dtype": dtype_name, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the data buffer starts 8-byte aligned
    return b"".join([struct.pack("<Q", len(text)), text] + [arr.tobytes() for _, arr, _ in entries])


def save_safetensors(tensors, path, metadata=None) -> None:
    """Write ``tensors`` (name -> NumPy array or torch tensor) to ``path`` atomically."""
    from rnnlab.utils.atomic import atomic_write

    data = serialize(tensors, metadata)
    with atomic_write(os.fspath(path), "wb") as f:
        f.write(data)


# --------------------------------------------------------------------------------------------------- reading
def _header_length(prefix: bytes, total_size: int, source: str) -> int:
    if total_size < 8 or len(prefix) < 8:
        raise ValueError(f"{source}: not a .safetensors file (only {total_size} bytes; the header length alone "
                         "takes 8).")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > MAX_HEADER_SIZE:
        raise ValueError(f"{source}: header length {n} exceeds the limit of {MAX_HEADER_SIZE} bytes.")
    if 8 + n > total_size:
        raise ValueError(f"{source}: header length {n} runs past the end of the file ({total_size} bytes).")
    return n


def _parse_header(data: bytes, total_size: int, source: str):
    """Validate the header at the start of ``data`` (a file of ``total_size`` bytes); return
    ``(entries, metadata, data_start)``."""
    n = _header_length(data, total_size, source)
    raw = data[8:8 + n]
    if not raw.startswith(b"{"):
        raise ValueError(f"{source}: the header must be a JSON object starting with '{{'.")

    def no_duplicates(pairs):  # linear in the number of keys
        counts = collections.Counter(k for k, _ in pairs)
        if len(counts) != len(pairs):
            raise ValueError(f"duplicate keys {sorted(k for k, c in counts.items() if c > 1)[:10]}")
        return dict(pairs)

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{source}: the header is not valid UTF-8 JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"{source}: the header is nested too deeply (a tensor entry is one object deep).") \
            from None
    if not isinstance(header, dict):
        raise ValueError(f"{source}: the header must be a JSON object; received {type(header).__name__}.")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or
                                 not all(isinstance(v, str) for v in metadata.values())):
        raise ValueError(f"{source}: '__metadata__' must be an object of string values.")
    buffer_size = total_size - 8 - n
    entries = {}
    for name, info in header.items():
        where = f"{source}: tensor {name!r}"
        if not isinstance(info, dict) or set(info) != _HEADER_KEYS:
            raise ValueError(f"{where}: entry must be an object with exactly the keys {sorted(_HEADER_KEYS)}; "
                             f"received {info!r}.")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _ITEMSIZE:
            raise ValueError(f"{where}: unsupported dtype {dtype!r}; supported: {sorted(_ITEMSIZE)}.")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise ValueError(f"{where}: shape must be a list of non-negative integers; received {shape!r}.")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets):
            raise ValueError(f"{where}: data_offsets must be [begin, end] integers; received {offsets!r}.")
        begin, end = offsets
        if not 0 <= begin <= end:
            raise ValueError(f"{where}: data_offsets {offsets} are not 0 <= begin <= end.")
        if end > buffer_size:
            raise ValueError(f"{where}: data_offsets {offsets} run past the data buffer ({buffer_size} bytes).")
        count, nonzero = 1, 1
        for d in shape:
            count *= d
            nonzero *= max(d, 1)
        if nonzero * _ITEMSIZE[dtype] >= 2 ** 63:  # NumPy cannot describe such a shape, even with no elements
            raise ValueError(f"{where}: shape {shape} is too large for an array ({nonzero * _ITEMSIZE[dtype]} "
                             "bytes without its zero dimensions).")
        if count * _ITEMSIZE[dtype] != end - begin:
            raise ValueError(f"{where}: shape {shape} of {dtype} needs {count * _ITEMSIZE[dtype]} bytes but "
                             f"data_offsets {offsets} span {end - begin}.")
        entries[name] = (dtype, tuple(shape), begin, end)
    position = 0  # the tensors must tile the buffer exactly
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if begin != position:
            kind = "overlaps the previous tensor" if begin < position else "leaves a gap before it"
            raise ValueError(f"{source}: tensor {name!r} (data_offsets [{begin}, {end}]) {kind}.")
        position = end
    if position != buffer_size:
        raise ValueError(f"{source}: the data buffer has {buffer_size - position} byte(s) not owned by any tensor.")
    return entries, metadata, 8 + n


def _build(dtype, shape, chunk):
    if dtype == "BF16":  # bfloat16 -> float32: the stored 16 bits are the high half of the float32
        bits = np.frombuffer(chunk, "<u2").astype(np.uint32) << 16
        return bits.view("<f4").astype(np.float32).reshape(shape)
    return np.frombuffer(chunk, DTYPES[dtype]).reshape(shape).astype(DTYPES[dtype].newbyteorder("="), copy=True)


def deserialize(data: bytes, source: str = "safetensors data") -> dict:
    """``{name: ndarray}`` from the bytes of a ``.safetensors`` file (arrays are writable copies)."""
    data = bytes(data)
    entries, _, start = _parse_header(data, len(data), source)
    return {name: _build(dtype, shape, data[start + begin:start + end])
            for name, (dtype, shape, begin, end) in entries.items()}


def _check_file(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"No such file: {path!r}.")
    return path


def load_safetensors(path) -> dict:
    """Read a ``.safetensors`` file into ``{name: ndarray}``, in the file's header order."""
    path = _check_file(path)
    with reading(path), open(path, "rb") as f:
        return deserialize(f.read(), path)


def read_header(path):
    """``({name: (dtype, shape)}, metadata)`` of a ``.safetensors`` file, validated, without reading the data."""
    path = _check_file(path)
    total = os.path.getsize(path)
    with reading(path), open(path, "rb") as f:
        prefix = f.read(8)
        n = _header_length(prefix, total, path)
        entries, metadata, _ = _parse_header(prefix + f.read(n), total, path)
    return {name: (e[0], e[1]) for name, e in entries.items()}, metadata
