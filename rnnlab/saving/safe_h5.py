"""Opening and reading HDF5 files that may be damaged or hostile, with h5py imported on first use.

Keras's ``.h5``, ``.weights.h5`` and ``.keras`` files are HDF5 inside, read by :mod:`.keras_weights_h5` (Keras
3's layout) and :mod:`.legacy_h5` (TF-Keras 2's).  Both go through these functions, which check what the HDF5
library could crash or loop on before it parses it (global heaps, datatypes, sizes), refuse links, and turn
every failure into a ``ValueError`` naming the file.  NumPy is rnnlab's only required dependency, so h5py is
imported only when one of them runs.
"""
from __future__ import annotations

import io
import mmap
import os
import struct

import numpy as np

__all__ = ["READ_ERRORS", "h5py_module", "check_global_heaps", "open_h5", "child", "read_attr", "read_dataset",
           "group_at", "dataset_paths", "check_storage", "stored_elements"]

# What h5py raises on a damaged file (besides ValueError and TypeError, which callers handle themselves).
READ_ERRORS = (OSError, KeyError, RuntimeError, IndexError, AttributeError, UnicodeError, OverflowError,
               EOFError, MemoryError)


def h5py_module():
    """h5py, imported on first use: NumPy is rnnlab's only required dependency."""
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Reading or writing Keras .h5/.keras files needs h5py: `pip install h5py` (or rnnlab[keras])."
        ) from exc
    return h5py


_GCOL = b"GCOL\x01\x00\x00\x00"


def check_global_heaps(data, what, begin=0, end=None):
    """Refuse a file whose HDF5 global heap collections are inconsistent, before HDF5 parses them.

    Variable-length strings (the configs and names Keras writes) live in global heap collections; the HDF5
    library can loop forever or crash on a collection whose recorded size disagrees with its objects.  Each
    collection (signature ``GCOL``, version 1) must lie inside the file and its objects must tile it exactly,
    ending with the free-space object.  ``data`` is the file's bytes (or an mmap of them); with ``begin``/``end``
    the HDF5 file is ``data[begin:end]`` (a member stored inside a zip archive), which is never copied.
    """
    base, limit = begin, len(data) if end is None else end
    total = limit - base
    start = data.find(_GCOL, base, limit)
    while start != -1:
        if start + 16 > limit:
            raise ValueError(f"{what}: damaged HDF5 global heap at byte {start - base} (truncated header).")
        size = struct.unpack_from("<Q", data, start + 8)[0]
        end = start + size
        if size < 16 or end > limit:
            raise ValueError(f"{what}: damaged HDF5 global heap at byte {start - base} (size {size} does not fit "
                             f"the {total}-byte file).")
        pos = start + 16
        while end - pos >= 16:
            index, _, _, length = struct.unpack_from("<HHIQ", data, pos)
            if index == 0:  # the free-space object covers the rest of the collection
                if length != end - pos:
                    raise ValueError(f"{what}: damaged HDF5 global heap at byte {start} (free space {length} != "
                                     f"{end - pos}).")
                pos = end
                break
            step = 16 + ((length + 7) // 8) * 8
            if length > size or pos + step > end:
                raise ValueError(f"{what}: damaged HDF5 global heap at byte {start} (object {index} of {length} "
                                 "bytes overruns its collection).")
            pos += step
        start = data.find(_GCOL, start + 4, limit)


def open_h5(source, what):
    """Open ``source`` (a path, bytes, or a seekable binary file object whose global heaps the caller has
    checked) read-only with h5py; anything unreadable is a ValueError."""
    h5py = h5py_module()
    try:
        if hasattr(source, "read"):
            return h5py.File(source, "r")
        if isinstance(source, (bytes, bytearray)):
            check_global_heaps(source, what)
            return h5py.File(io.BytesIO(bytes(source)), "r")
        with open(source, "rb") as raw:
            if os.fstat(raw.fileno()).st_size:
                with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as view:
                    check_global_heaps(view, what)
        return h5py.File(source, "r")
    except READ_ERRORS + (ValueError, TypeError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(what):
            raise
        raise ValueError(f"{what} is not a readable HDF5 file ({type(exc).__name__}: {exc}).") from None


def child(group, name, what="the file"):
    """``group[name]`` without following links (a soft or external link is refused), or None if absent."""
    h5py = h5py_module()
    if not isinstance(group, h5py.Group) or not name or "/" in name:
        return None
    link = group.get(name, default=None, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"{what} uses a link at {name!r}; links are not allowed.")
    return group[name]


_MAX_ATTR_ITEMS = 1 << 20


def read_attr(obj, name, what):
    """A text attribute (a string or an array of strings), or None when absent.

    The stored datatype is checked before HDF5 converts anything: a damaged datatype record (say, a
    variable-length type that is no longer a string) can crash the HDF5 library when read, so only string
    types, and empty numeric arrays (how Keras writes an empty list), are read at all."""
    h5py_module()
    from h5py import h5t

    if name not in obj.attrs:
        return None
    aid = obj.attrs.get_id(name)
    kind = aid.get_type().get_class()
    size = 1
    for d in aid.shape or ():
        size *= d
    if size > _MAX_ATTR_ITEMS:
        raise ValueError(f"{what}: attribute {name!r} holds an implausible {size} items.")
    if kind in (h5t.INTEGER, h5t.FLOAT) and size == 0 and aid.shape:
        return np.array([], dtype=object)
    if kind != h5t.STRING:
        raise ValueError(f"{what}: attribute {name!r} is not text (HDF5 type class {kind}).")
    return obj.attrs[name]


_FLOAT_TYPES = None


def _stored_float_type_ok(ds):
    """Whether a dataset's stored type is exactly an IEEE half/single/double float (either byte order)."""
    global _FLOAT_TYPES
    from h5py import h5t

    if _FLOAT_TYPES is None:
        _FLOAT_TYPES = [getattr(h5t, f"IEEE_F{bits}{order}") for bits in (16, 32, 64) for order in ("LE", "BE")
                        if hasattr(h5t, f"IEEE_F{bits}{order}")]
    stored = ds.id.get_type()
    return stored.get_class() == h5t.FLOAT and any(stored.equal(t) for t in _FLOAT_TYPES)


def group_at(h5, path):
    """The group at ``path`` or None; links are refused."""
    h5py = h5py_module()
    current = h5
    for part in path.split("/"):
        if part:
            current = child(current, part)
            if current is None:
                return None
    return current if isinstance(current, h5py.Group) else None


def read_dataset(group, key, expected_shape, where, integer=False):
    """One stored array, checked (plain float dataset, expected shape, finite) before and after reading; with
    ``integer``, a plain integer dataset instead (an int weight, such as Normalization's ``count``)."""
    h5py = h5py_module()
    ds = child(group, key, where)
    if ds is None:
        raise ValueError(f"{where}: missing from the file.")
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: expected an array, found a group.")
    if ds.external or ds.is_virtual:
        raise ValueError(f"{where}: external or virtual datasets are not allowed.")
    if tuple(ds.shape) != tuple(expected_shape):
        raise ValueError(f"{where}: stored shape {tuple(ds.shape)} does not match the model's "
                         f"{tuple(expected_shape)}.")
    if integer:
        if ds.dtype.kind not in "iu" or ds.id.get_type().get_class() != h5py.h5t.INTEGER:
            raise ValueError(f"{where}: stored dtype {ds.dtype} is not an integer type.")
    elif not _stored_float_type_ok(ds) or ds.dtype.kind != "f":
        raise ValueError(f"{where}: stored dtype {ds.dtype} is not a float type.")
    check_storage(ds, where)
    value = np.asarray(ds[()])
    if value.shape != tuple(expected_shape):
        raise ValueError(f"{where}: read shape {value.shape} does not match {tuple(expected_shape)}.")
    if not np.isfinite(value).all():
        bad = int(value.size - np.isfinite(value).sum())
        raise ValueError(f"{where}: {bad} stored value(s) are NaN or infinite.")
    return value


def check_storage(ds, where):
    """Refuse a dataset whose data is not plainly stored inside the file; returns its number of elements.

    Keras writes every array contiguous and uncompressed.  A chunked dataset (which may be compressed, and
    inflate to any size) is refused, and a contiguous one must lie within the file with room for all its
    elements: so the sizes its header declares are backed by bytes on disk before anything is read."""
    if ds.chunks is not None:
        raise ValueError(f"{where}: the array is stored chunked (possibly compressed); rnnlab reads the plain "
                         "contiguous arrays Keras writes.")
    count = 1
    for d in ds.shape:
        count *= int(d)
    needed = count * ds.dtype.itemsize
    offset = ds.id.get_offset()
    stored = ds.id.get_storage_size()
    if needed and (stored < needed or (offset is not None and offset + stored > ds.file.id.get_filesize())):
        raise ValueError(f"{where}: the header declares {needed} bytes of data ({ds.dtype}, shape {ds.shape}), "
                         f"which the file does not hold.")
    return count


def stored_elements(group, where):
    """The number of values stored in the datasets under ``group`` (0 when it is None), from their headers
    alone: what a model rebuilt from this file may allocate (see :mod:`rnnlab.engine.allocation`).  HDF5's own
    walk (``visititems``) follows hard links only."""
    if group is None:
        return 0
    h5py = h5py_module()
    total = [0]

    def count(name, obj):
        if isinstance(obj, h5py.Dataset):
            total[0] += check_storage(obj, f"{where}, {name}")

    try:
        group.visititems(count)
    except READ_ERRORS as exc:
        raise ValueError(f"{where} could not be read ({type(exc).__name__}: {exc}).") from None
    return total[0]


def dataset_paths(group, prefix):
    """Paths of every dataset under ``group`` (iteratively; links are not followed)."""
    h5py = h5py_module()
    out, stack = [], [(group, prefix)]
    while stack:
        g, p = stack.pop()
        for key in g:
            link = g.get(key, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                raise ValueError(f"The weights file uses a link at {p}/{key}; links are not allowed.")
            item = g[key]
            if isinstance(item, h5py.Dataset):
                out.append(f"{p}/{key}")
            elif isinstance(item, h5py.Group):
                stack.append((item, f"{p}/{key}"))
    return out
