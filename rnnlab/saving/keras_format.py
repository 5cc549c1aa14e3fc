"""The Keras 3 ``.keras`` archive, and ``load_model`` for every model file rnnlab reads.

A ``.keras`` file is a zip archive with three members: ``metadata.json`` (the Keras version that wrote it),
``config.json`` (the model's config, see :mod:`.config_writer` and :mod:`.config_reader`) and
``model.weights.h5`` (the weights in Keras 3's layout, see :mod:`.keras_weights_h5`), plus the ``assets/``
files some layers keep (a lookup layer's vocabulary, see :mod:`.keras_assets`).  rnnlab writes the
members uncompressed, as Keras does, into a temporary file that replaces the target only once complete.

Reading never executes anything from the file and never unpickles: configs are JSON, classes come from a
fixed table (or the program's own: ``custom_objects``, registered classes), weights are plain HDF5 arrays.  Any
damage -- a truncated archive, a missing member, a CRC mismatch, invalid JSON, wrong shapes, NaN or Inf
weights -- is reported as a ``ValueError`` (``TypeError`` for values of the wrong type) naming the file.

No size the file declares is trusted before it is checked.  The config JSON is bounded
(:mod:`.config_json`).  The weights member, stored uncompressed as Keras and rnnlab write it, is read in place
(its CRC checked in a streaming pass), never copied into memory; a compressed one may expand at most
:data:`MAX_EXPANSION` times.  Its HDF5 dataset headers give how many numbers it stores, and the model is
rebuilt under that budget (:mod:`rnnlab.engine.allocation`), so a config asking for more is refused before
any weight is allocated.
"""
from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import mmap
import os
import struct
import zipfile
import zlib

from rnnlab.engine.allocation import allocation_budget, weights_budget
from rnnlab.file_errors import reading
from rnnlab.utils.atomic import atomic_write
from rnnlab.saving.keras_assets import ASSETS_DIR, asset_members, load_asset_members
from rnnlab.saving.compile_config import NotStorable, compile_from_config, keras_compile_config
from rnnlab.saving.config_json import MAX_CONFIG_BYTES, parse_config_json
from rnnlab.saving.config_reader import KerasLoadOptions, deserialize_model
from rnnlab.saving.config_writer import KERAS_VERSION, check_keras3_writable, serialize_model
from rnnlab.saving.keras_weights_h5 import (load_weights_h5, optimizer_state, read_optimizer_state, read_weights,
                                             stored_layer_elements, weights_bytes)
from rnnlab.saving.legacy_h5 import is_legacy_keras_version, load_legacy_model
from rnnlab.saving.legacy_h5_writer import LEGACY_SUFFIXES, save_legacy_model
from rnnlab.saving.safe_h5 import check_global_heaps, open_h5
from rnnlab.version import __version__

__all__ = ["save_model", "load_model", "load_any_weights", "load_weights_keras_archive"]

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"

_logger = logging.getLogger(__name__)

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: How much a compressed weights member may expand (real weights deflate by a few percent at most).
MAX_EXPANSION = 20
_LOCAL_HEADER = struct.Struct("<4s5HL2L2H")  # a zip member's local header, before its name and extra field
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
               KeyError, IndexError, OverflowError, MemoryError, UnicodeError)


# ----------------------------------------------------------------------------------------------- saving

def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Write ``model`` as a Keras 3 ``.keras`` archive that ``keras.models.load_model`` opens, or, for a path
    ending in ``.h5``/``.hdf5``, as Keras's legacy HDF5 model (:mod:`.legacy_h5_writer`), as Keras chooses.

    A compiled model's archive also holds its compile config and its optimizer's variables (iterations, learning
    rate, state) as Keras stores them, so a loaded model resumes training with the same updates.

    Keras's keyword arguments: ``include_optimizer`` (for ``.keras`` only ``True``: Keras stores the optimizer in
    an archive whatever the argument says, and rnnlab refuses ``False`` there rather than ignore it) and the
    deprecated ``save_format``, accepted with a warning when the path's extension names the format, as Keras does.
    """
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"Argument `filepath` must be a path; received {type(filepath).__name__}.")
    filepath = os.fspath(filepath)
    include_optimizer = kwargs.pop("include_optimizer", None)
    save_format = kwargs.pop("save_format", None)
    if kwargs:
        raise TypeError(f"save() got unexpected keyword argument(s) {sorted(kwargs)}.")
    if save_format:
        if not filepath.endswith(LEGACY_SUFFIXES + (".keras",)):
            raise ValueError("The `save_format` argument is deprecated in Keras 3: remove it and give a path ending "
                             f"in '.keras' or '.h5'. Received: save_format={save_format!r}, filepath={filepath!r}.")
        _logger.warning("The `save_format` argument is deprecated in Keras 3; the format follows the file "
                        "extension of %r. Received: save_format=%r.", filepath, save_format)
    if zipped is False:
        raise ValueError("Argument `zipped=False` (an unzipped directory) is not supported; rnnlab writes .keras "
                         "archives.")
    if filepath.endswith((".weights.h5", ".weights.npz")):
        raise ValueError(f"{filepath!r} is a weights-file name: use model.save_weights(filepath) for it, or give "
                         "model.save() a path ending in '.keras'.")
    if filepath.endswith(LEGACY_SUFFIXES):
        return save_legacy_model(model, filepath, overwrite=overwrite,
                                 include_optimizer=True if include_optimizer is None else include_optimizer)
    if include_optimizer is not None and include_optimizer is not True:
        raise ValueError(f"Argument `include_optimizer` may only be True for a .keras archive: Keras stores a compiled "
                         f"model's optimizer in it whatever the argument says, and rnnlab does not ignore an argument. "
                         f"To save without the optimizer, save to '.h5' with include_optimizer=False, or save an "
                         f"uncompiled copy. Received: include_optimizer={include_optimizer!r}, filepath={filepath!r}.")
    if not filepath.endswith(".keras"):
        raise ValueError(f"Argument `filepath` must end in '.keras'; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    check_keras3_writable(model)
    config = serialize_model(model)
    try:
        compile_config = keras_compile_config(model)
    except NotStorable as exc:
        _logger.warning("%r is saved without its compile settings: %s. Compile the loaded model again.",
                        filepath, exc)
        compile_config = None
    if compile_config is not None:
        config["compile_config"] = compile_config
    weights = weights_bytes(model, optimizer_state(model, filepath) if compile_config is not None else None)
    assets = asset_members(model)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": f"rnnlab {__version__}"}
    with atomic_write(filepath) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_NAME, json.dumps(metadata))
            zf.writestr(CONFIG_NAME, json.dumps(config))
            zf.writestr(WEIGHTS_NAME, weights)
            for name, data in assets.items():
                zf.writestr(name, data)


# ----------------------------------------------------------------------------------------------- loading

def _check_path(filepath):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"Argument `filepath` must be a path (str or os.PathLike); received "
                        f"{type(filepath).__name__}.")
    filepath = os.fspath(filepath)
    if isinstance(filepath, bytes):
        filepath = os.fsdecode(filepath)
    if not os.path.exists(filepath):
        raise ValueError(f"File not found: filepath={filepath!r}. Please ensure the file is an accessible "
                         "'.keras' or '.h5' file.")
    if os.path.isdir(filepath):
        raise ValueError(f"{filepath!r} is a directory; rnnlab reads '.keras' archives and '.h5' files.")
    return filepath


def _magic(filepath):
    try:
        with open(filepath, "rb") as f:
            return f.read(8)
    except OSError as exc:
        raise ValueError(f"Cannot read {filepath!r}: {exc}.") from None


def _describe(magic):
    if magic.startswith(_ZIP_MAGIC):
        return "a zip archive"
    if magic.startswith(_HDF5_MAGIC):
        return "an HDF5 file"
    if not magic:
        return "empty"
    return "neither a zip archive nor an HDF5 file"


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by Keras 3 (``.keras``), TF-Keras 2 or Keras 3 (legacy ``.h5``), or rnnlab.

    ``custom_objects`` maps class/function names to the program's own classes/functions (as do
    ``custom_object_scope`` and ``register_keras_serializable``); a file can name them, never import anything.
    ``safe_mode`` refuses what Keras refuses in safe mode that rnnlab could otherwise do (reading a vocabulary
    file a config names); rnnlab never runs code stored in a file (lambdas), in either mode. With
    ``compile=True`` a stored compile config whose optimizer and loss rnnlab has is applied, and the optimizer's
    stored iterations and state are restored as Keras restores them; otherwise the model comes back uncompiled.
    """
    filepath = _check_path(filepath)
    with reading(filepath):
        return _load_model(filepath, custom_objects, compile, safe_mode)


def _load_model(filepath, custom_objects, compile, safe_mode):
    lower = filepath.lower()
    if lower.endswith((".weights.h5", ".weights.npz", ".weights.json")):
        raise ValueError(f"{filepath!r} holds only weights, not a model: build the model, then call "
                         "model.load_weights(filepath).")
    magic = _magic(filepath)
    if lower.endswith(".keras"):
        if not magic.startswith(_ZIP_MAGIC):
            raise ValueError(f"File {filepath!r} is not a valid .keras archive: it is {_describe(magic)}, not a "
                             "zip archive.")
        return _load_keras_archive(filepath, custom_objects, compile, safe_mode)
    if lower.endswith((".h5", ".hdf5")):
        if not magic.startswith(_HDF5_MAGIC):
            raise ValueError(f"File {filepath!r} is not a valid HDF5 model file: it is {_describe(magic)}.")
        return load_legacy_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    raise ValueError(f"File format not supported: filepath={filepath!r}. rnnlab loads '.keras' archives and "
                     "legacy '.h5' model files.")


def _open_zip(filepath):
    try:
        return zipfile.ZipFile(filepath, "r")
    except _ZIP_ERRORS + (ValueError,) as exc:
        raise ValueError(f"File {filepath!r} is not a readable .keras archive ({type(exc).__name__}: {exc}).") \
            from None


def _member_info(zf, name, filepath):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"File {filepath!r} is not a complete .keras archive: it has no {name!r}.") from None
    if info.flag_bits & 0x1:
        raise ValueError(f"File {filepath!r}: {name!r} is encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        raise ValueError(f"File {filepath!r}: {name!r} uses the unknown compression method {info.compress_type}.")
    return info


def _read_member(zf, name, filepath, limit):
    """A member's bytes, read through a stream capped at ``limit`` bytes."""
    info = _member_info(zf, name, filepath)
    if info.file_size > limit:
        raise ValueError(f"File {filepath!r}: {name!r} declares {info.file_size:,} bytes, more than the "
                         f"{limit:,} allowed.")
    try:
        with zf.open(info, "r") as member:
            data = member.read(limit + 1)
    except _ZIP_ERRORS + (ValueError,) as exc:
        raise ValueError(f"File {filepath!r}: member {name!r} is damaged ({type(exc).__name__}: {exc}).") \
            from None
    if len(data) != info.file_size:
        raise ValueError(f"File {filepath!r}: member {name!r} is truncated.")
    return data


class _MemberView(io.RawIOBase):
    """A read-only, seekable view of the bytes ``[begin, begin + size)`` of an open file (a stored zip member)."""

    def __init__(self, raw, begin, size):
        super().__init__()
        self._raw, self._begin, self._size, self._pos = raw, begin, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = min(max(base + offset, 0), self._size)
        return self._pos

    def tell(self):
        return self._pos

    def readinto(self, buffer):
        n = max(min(len(buffer), self._size - self._pos), 0)
        self._raw.seek(self._begin + self._pos)
        got = self._raw.readinto(memoryview(buffer)[:n])
        self._pos += got
        return got


def _stored_member_range(raw, info, filepath, name):
    """``(begin, end)`` of a stored member's bytes in the archive, checked against the archive's size and the
    member's CRC (read in a streaming pass: nothing is kept in memory)."""
    raw.seek(info.header_offset)
    header = raw.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise ValueError(f"File {filepath!r}: member {name!r} has a damaged local header.")
    fields = _LOCAL_HEADER.unpack(header)
    begin = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    end = begin + info.file_size
    if info.compress_size != info.file_size or end > os.fstat(raw.fileno()).st_size:
        raise ValueError(f"File {filepath!r}: member {name!r} declares {info.file_size:,} bytes that the archive "
                         "does not hold.")
    crc, pos = 0, begin
    raw.seek(begin)
    while pos < end:
        chunk = raw.read(min(1 << 20, end - pos))
        if not chunk:
            raise ValueError(f"File {filepath!r}: member {name!r} is truncated.")
        crc = zlib.crc32(chunk, crc)
        pos += len(chunk)
    if crc != info.CRC:
        raise ValueError(f"File {filepath!r}: member {name!r} is damaged (CRC mismatch).")
    return begin, end


@contextlib.contextmanager
def _open_weights_member(zf, filepath):
    """The archive's ``model.weights.h5``, open with h5py: read in place when stored (as Keras and rnnlab write
    it), or inflated into memory when compressed, up to :data:`MAX_EXPANSION` times its stored size."""
    names = zf.namelist()
    if WEIGHTS_NAME not in names:
        if "model.weights.npz" in names:
            raise ValueError(f"File {filepath!r} stores its weights as model.weights.npz, whose entries are "
                             "pickled Python objects; rnnlab never unpickles. Re-save it with Keras's default "
                             "weights format.")
        raise ValueError(f"File {filepath!r} is not a complete .keras archive: it has no {WEIGHTS_NAME!r}.")
    info = _member_info(zf, WEIGHTS_NAME, filepath)
    source = f"File {filepath!r} ({WEIGHTS_NAME})"
    if info.compress_type != zipfile.ZIP_STORED:
        limit = MAX_EXPANSION * info.compress_size + 65536
        if info.file_size > limit:
            raise ValueError(f"File {filepath!r}: {WEIGHTS_NAME!r} would expand {info.compress_size:,} stored "
                             f"bytes to {info.file_size:,}, more than weights ever do ({MAX_EXPANSION}x); "
                             "refusing a potential decompression bomb.")
        with open_h5(_read_member(zf, WEIGHTS_NAME, filepath, limit), source) as h5:
            yield h5, source
        return
    with open(filepath, "rb") as raw:
        begin, end = _stored_member_range(raw, info, filepath, WEIGHTS_NAME)
        if end > begin:
            with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as view:
                check_global_heaps(view, source, begin, end)
        with open_h5(io.BufferedReader(_MemberView(raw, begin, end - begin), 1 << 16), source) as h5:
            yield h5, source


def _json(data, name, filepath):
    return parse_config_json(data, f"File {filepath!r}: {name}")


def _archive_legacy(zf, filepath):
    """Whether the archive was written by Keras 2.13-2.15 (TF-Keras 2 config meanings)."""
    if METADATA_NAME not in zf.namelist():
        return False
    metadata = _json(_read_member(zf, METADATA_NAME, filepath, MAX_CONFIG_BYTES), METADATA_NAME, filepath)
    if not isinstance(metadata, dict):
        raise ValueError(f"File {filepath!r}: {METADATA_NAME} is not a JSON object.")
    version = metadata.get("keras_version")
    if version is not None and not isinstance(version, str):
        raise ValueError(f"File {filepath!r}: {METADATA_NAME} has a non-text keras_version {version!r}.")
    return version is not None and is_legacy_keras_version(version)


def _load_keras_archive(filepath, custom_objects, compile, safe_mode):
    with _open_zip(filepath) as zf:
        config = _json(_read_member(zf, CONFIG_NAME, filepath, MAX_CONFIG_BYTES), CONFIG_NAME, filepath)
        legacy = _archive_legacy(zf, filepath)
        assets = {name: _read_member(zf, name, filepath, MAX_CONFIG_BYTES) for name in zf.namelist()
                  if name.startswith(ASSETS_DIR + "/") and not name.endswith("/")}
        with _open_weights_member(zf, filepath) as (h5, source):
            stored = stored_layer_elements(h5, source)
            opts = KerasLoadOptions(custom_objects, safe_mode, legacy=legacy, max_elements=max(stored, 1024))
            try:
                with allocation_budget(weights_budget(stored), f"File {filepath!r}"):
                    model = deserialize_model(config, opts)
            except RecursionError:
                raise ValueError(f"File {filepath!r}: the model config is nested too deeply.") from None
            except (KeyError, IndexError, AttributeError, OverflowError, MemoryError) as exc:
                raise ValueError(f"File {filepath!r}: malformed model config ({type(exc).__name__}: {exc}).") \
                    from None
            read_weights(model, h5, source, by_name=True)
            load_asset_members(model, assets, f"File {filepath!r}")
            if compile and isinstance(config, dict) and config.get("compile_config"):
                compile_from_config(model, config["compile_config"], f"File {filepath!r}")
                if getattr(model, "_compiled", False):
                    read_optimizer_state(model, h5, source)
    return model


def load_weights_keras_archive(model, filepath):
    """Load the weights inside a ``.keras`` archive into an existing ``model`` (as Keras's load_weights)."""
    filepath = _check_path(filepath)
    if not _magic(filepath).startswith(_ZIP_MAGIC):
        raise ValueError(f"File {filepath!r} is not a valid .keras archive.")
    with _open_zip(filepath) as zf, _open_weights_member(zf, filepath) as (h5, source):
        read_weights(model, h5, source)
        if getattr(model, "_compiled", False):
            read_optimizer_state(model, h5, source, built=None)


def load_any_weights(model, filepath):
    """``Model.load_weights``: by file name -- ``.weights.h5``/``.h5`` (Keras 3 or TF-Keras 2 layout) or
    ``.keras``; ``.weights.npz`` is handled by :mod:`.weights_npz`."""
    filepath = _check_path(filepath)
    lower = filepath.lower()
    if lower.endswith(".keras"):
        return load_weights_keras_archive(model, filepath)
    if lower.endswith((".h5", ".hdf5")):
        if not _magic(filepath).startswith(_HDF5_MAGIC):
            raise ValueError(f"File {filepath!r} is not an HDF5 file: it is {_describe(_magic(filepath))}.")
        return load_weights_h5(model, filepath)
    raise ValueError(f"Cannot load weights from {filepath!r}: rnnlab reads '.weights.npz', '.weights.h5', '.h5' "
                     "and '.keras' files.")
