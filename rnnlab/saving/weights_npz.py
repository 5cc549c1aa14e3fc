"""Weights as a NumPy ``.npz`` archive keyed by each variable's full path (no pickle: arrays only).

This is rnnlab's native, dependency-free weights file, used by ``Model.save_weights`` for paths ending in
``.weights.npz`` (and by ``ModelCheckpoint``).
"""
from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from rnnlab.utils.atomic import atomic_write

SUFFIX = ".weights.npz"


def save_weights_npz(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIX):
        raise ValueError(f"Argument `filepath` must end in {SUFFIX!r}; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    arrays = {w.path: w.numpy() for w in model.weights}
    if len(arrays) != len(model.weights):
        raise ValueError("Cannot save weights: two variables share a path; give the layers unique names.")
    with atomic_write(filepath) as f:
        np.savez(f, **arrays)


# ----------------------------------------------------------------------------------------------- reading
# How a member may be stored: the methods zipfile implements, never encrypted.
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                 zipfile.ZIP_LZMA: "lzma"}
_MAX_NPY_HEADER = 10_000  # NumPy's own default limit for a .npy header
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, KeyError,
               IndexError, OverflowError, UnicodeError)


class NpyMember:
    """One ``.npy`` member of an ``.npz`` archive, known from its headers only (no array data read yet).

    ``name`` is the array's key (the member name without ``.npy``); ``dtype``/``shape``/``fortran_order`` come
    from the ``.npy`` header, which ends ``header_bytes`` into the member.
    """

    def __init__(self, info, name, dtype, shape, fortran_order, header_bytes):
        self.info, self.name, self.dtype, self.shape = info, name, dtype, shape
        self.fortran_order, self.header_bytes = fortran_order, header_bytes

    @property
    def nbytes(self):
        count = 1
        for d in self.shape:
            count *= d
        return count * self.dtype.itemsize


def open_npz(filepath):
    """An ``.npz`` file open as a zip archive; anything unreadable is a ValueError."""
    if not os.path.isfile(filepath):
        raise ValueError(f"Argument `filepath`: no such file {filepath!r}.")
    try:
        return zipfile.ZipFile(filepath, "r")
    except _ZIP_ERRORS + (ValueError,) as exc:
        raise ValueError(f"File {filepath!r} is not a readable {SUFFIX} weights file ({type(exc).__name__}: "
                         f"{exc}).") from None


def _check_storage(info, filepath):
    where = f"File {filepath!r}: member {info.filename!r}"
    if not info.filename.endswith(".npy"):
        raise ValueError(f"{where} is not a .npy array; a {SUFFIX} file holds only .npy arrays.")
    if info.flag_bits & 0x1:
        raise ValueError(f"{where} is encrypted; rnnlab reads unencrypted archives only.")
    if info.compress_type not in _COMPRESSIONS:
        raise ValueError(f"{where} uses compression method {info.compress_type}; rnnlab reads "
                         f"{sorted(_COMPRESSIONS.values())}.")
    return where


def _read_header(zf, info, filepath):
    where = _check_storage(info, filepath)
    try:
        with zf.open(info, "r") as f:
            version = np.lib.format.read_magic(f)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy format version {version} (rnnlab reads 1.0 and 2.0)")
            shape, fortran_order, dtype = readers[version](f, max_header_size=_MAX_NPY_HEADER)
            header_bytes = f.tell()
    except MemoryError:
        raise ValueError(f"{where}: its .npy header is implausibly large.") from None
    except Exception as exc:  # noqa: BLE001 - NumPy's header parser raises tokenize/syntax errors too
        raise ValueError(f"{where} has a damaged .npy header ({type(exc).__name__}: {exc}).") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"{where} holds {dtype} values; a weights file holds plain numbers.")
    member = NpyMember(info, info.filename[:-len(".npy")], dtype, tuple(shape), fortran_order, header_bytes)
    if info.file_size != header_bytes + member.nbytes:
        raise ValueError(f"{where} declares {info.file_size} bytes, but its header describes "
                         f"{header_bytes + member.nbytes} (a {dtype} array of shape {member.shape}).")
    return member


def read_npz_headers(zf, filepath):
    """The :class:`NpyMember` of every member of an open archive, from their headers alone; the member sizes
    the archive declares must match the headers exactly."""
    infos = zf.infolist()
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ValueError(f"File {filepath!r} holds two members of the same name.")
    return [_read_header(zf, info, filepath) for info in infos]


def read_npz_array(zf, member, filepath):
    """The array of one member, read through a stream capped at the size its header gives."""
    where = f"File {filepath!r}: member {member.info.filename!r}"
    try:
        with zf.open(member.info, "r") as f:
            f.read(member.header_bytes)
            data = f.read(member.nbytes)
    except _ZIP_ERRORS + (ValueError,) as exc:
        raise ValueError(f"{where} is damaged ({type(exc).__name__}: {exc}).") from None
    if len(data) != member.nbytes:
        raise ValueError(f"{where} is truncated.")
    order = "F" if member.fortran_order else "C"
    array = np.frombuffer(data, member.dtype).reshape(member.shape, order=order)
    return array.astype(member.dtype.newbyteorder("="), copy=True)


def load_weights_npz(model, filepath):
    """Load ``model``'s variables from a ``.weights.npz`` file; nothing changes on error.

    Every array is matched to a variable from the ``.npy`` headers alone (by path, or by order when the paths
    differ, as Keras does), so no array the model does not need, or of another shape, is ever read."""
    filepath = os.fspath(filepath)
    variables = model.weights
    paths = [w.path for w in variables]
    with open_npz(filepath) as zf:
        if len(zf.infolist()) != len(variables):
            raise ValueError(f"Weights file {filepath!r} does not match model {model.name!r}: it holds "
                             f"{len(zf.infolist())} arrays, the model needs {len(variables)}.")
        members = read_npz_headers(zf, filepath)
        stored = {m.name: m for m in members}
        if set(paths) == set(stored):  # same names: match by path
            pairs = [(w, stored[w.path]) for w in variables]
        else:  # same architecture under other layer names: match by order, as Keras does
            pairs = list(zip(variables, members))
        mismatched = [(w.path, m.name) for w, m in pairs if m.shape != tuple(w.shape) or m.dtype.kind != "f"]
        if mismatched:
            missing = [p for p in paths if p not in stored]
            unexpected = sorted(set(stored) - set(paths))
            raise ValueError(
                f"Weights file {filepath!r} does not match model {model.name!r}: it holds {len(members)} arrays "
                f"{[(m.dtype.str, m.shape) for m in members]}, the model needs {len(variables)} float arrays "
                f"{[tuple(w.shape) for w in variables]}; missing paths {missing}, unexpected paths {unexpected}."
            )
        values = [read_npz_array(zf, m, filepath) for _, m in pairs]
    model.set_weights(values)
