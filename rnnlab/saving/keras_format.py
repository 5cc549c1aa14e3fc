"""The Keras 3 ``.keras`` archive, and ``load_model`` for every model file rnnlab reads.

A ``.keras`` file is a zip archive with three members: ``metadata.json`` (the Keras version that wrote it),
``config.json`` (the model's config, see :mod:`.config_writer` and :mod:`.config_reader`) and
``model.weights.h5`` (the weights in Keras 3's layout, see :mod:`.keras_weights_h5`).  rnnlab writes the
members uncompressed, as Keras does, into a temporary file that replaces the target only once complete.

Reading never executes anything from the file and never unpickles: configs are JSON, classes come from a
fixed table (or from ``custom_objects`` with ``safe_mode=False``), weights are plain HDF5 arrays.  Any
damage -- a truncated archive, a missing member, a CRC mismatch, invalid JSON, wrong shapes, NaN or Inf
weights -- is reported as a ``ValueError`` (``TypeError`` for values of the wrong type) naming the file.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
import zipfile
import zlib

from rnnlab.saving.atomic import atomic_write
from rnnlab.saving.compile_config import compile_from_config
from rnnlab.saving.config_reader import KerasLoadOptions, deserialize_model
from rnnlab.saving.config_writer import KERAS_VERSION, check_keras3_writable, serialize_model
from rnnlab.saving.keras_weights_h5 import load_weights_h5, read_weights, weights_bytes
from rnnlab.saving.legacy_h5 import is_legacy_keras_version, load_legacy_model
from rnnlab.saving.legacy_h5_writer import LEGACY_SUFFIXES, save_legacy_model
from rnnlab.saving.safe_h5 import open_h5
from rnnlab.version import __version__

__all__ = ["save_model", "load_model", "load_any_weights", "load_weights_keras_archive"]

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
WEIGHTS_NAME = "model.weights.h5"

_logger = logging.getLogger(__name__)

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_MAX_JSON_BYTES = 256 * 1024 * 1024
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
               KeyError, IndexError, OverflowError, MemoryError, UnicodeError)


# ----------------------------------------------------------------------------------------------- saving

def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Write ``model`` as a Keras 3 ``.keras`` archive that ``keras.models.load_model`` opens, or, for a path
    ending in ``.h5``/``.hdf5``, as Keras's legacy HDF5 model (:mod:`.legacy_h5_writer`), as Keras chooses.

    Keras's keyword arguments: ``include_optimizer`` (legacy ``.h5`` only; rnnlab's ``.keras`` archives hold
    no optimizer state) and the deprecated ``save_format``, accepted with a warning when the path's
    extension names the format, as Keras does.
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
    if include_optimizer is not None:
        raise ValueError(f"Argument `include_optimizer` applies to legacy '.h5' files only; rnnlab's .keras archives "
                         f"hold no optimizer state. Received: include_optimizer={include_optimizer!r}, "
                         f"filepath={filepath!r}.")
    if not filepath.endswith(".keras"):
        raise ValueError(f"Argument `filepath` must end in '.keras'; received filepath={filepath!r}.")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"File {filepath!r} exists and overwrite=False.")
    check_keras3_writable(model)
    config = serialize_model(model)
    weights = weights_bytes(model)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": f"rnnlab {__version__}"}
    with atomic_write(filepath) as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(METADATA_NAME, json.dumps(metadata))
            zf.writestr(CONFIG_NAME, json.dumps(config))
            zf.writestr(WEIGHTS_NAME, weights)


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

    ``custom_objects`` maps class/function names to rnnlab classes/functions; they are used only with
    ``safe_mode=False``.  With ``compile=True`` a stored compile config whose optimizer and loss rnnlab has
    is applied (a legacy ``.h5`` also restores the optimizer's state; a ``.keras`` archive's is not read);
    otherwise the model comes back uncompiled.
    """
    filepath = _check_path(filepath)
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


def _read_member(zf, name, filepath, limit=None):
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"File {filepath!r} is not a complete .keras archive: it has no {name!r}.") from None
    if limit is not None and info.file_size > limit:
        raise ValueError(f"File {filepath!r}: {name!r} declares {info.file_size} bytes, more than the "
                         f"{limit} allowed.")
    if info.file_size > (1 << 32) and info.file_size > 100 * max(info.compress_size, 1):
        raise ValueError(f"File {filepath!r}: {name!r} would expand {info.compress_size} stored bytes to "
                         f"{info.file_size}; refusing a potential decompression bomb.")
    if info.flag_bits & 0x1:
        raise ValueError(f"File {filepath!r}: {name!r} is encrypted.")
    try:
        with zf.open(info, "r") as member:
            data = member.read()
    except _ZIP_ERRORS + (ValueError,) as exc:
        raise ValueError(f"File {filepath!r}: member {name!r} is damaged ({type(exc).__name__}: {exc}).") \
            from None
    if len(data) != info.file_size:
        raise ValueError(f"File {filepath!r}: member {name!r} is truncated.")
    return data


def _json(data, name, filepath):
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeError) as exc:
        raise ValueError(f"File {filepath!r}: {name} is not valid JSON ({exc}).") from None
    except RecursionError:
        raise ValueError(f"File {filepath!r}: {name} is nested too deeply.") from None


def _archive_legacy(zf, filepath):
    """Whether the archive was written by Keras 2.13-2.15 (TF-Keras 2 config meanings)."""
    if METADATA_NAME not in zf.namelist():
        return False
    metadata = _json(_read_member(zf, METADATA_NAME, filepath, _MAX_JSON_BYTES), METADATA_NAME, filepath)
    if not isinstance(metadata, dict):
        raise ValueError(f"File {filepath!r}: {METADATA_NAME} is not a JSON object.")
    version = metadata.get("keras_version")
    if version is not None and not isinstance(version, str):
        raise ValueError(f"File {filepath!r}: {METADATA_NAME} has a non-text keras_version {version!r}.")
    return version is not None and is_legacy_keras_version(version)


def _weights_member(zf, filepath):
    names = zf.namelist()
    if WEIGHTS_NAME in names:
        return _read_member(zf, WEIGHTS_NAME, filepath)
    if "model.weights.npz" in names:
        raise ValueError(f"File {filepath!r} stores its weights as model.weights.npz, whose entries are pickled "
                         "Python objects; rnnlab never unpickles. Re-save it with Keras's default weights format.")
    raise ValueError(f"File {filepath!r} is not a complete .keras archive: it has no {WEIGHTS_NAME!r}.")


def _load_keras_archive(filepath, custom_objects, compile, safe_mode):
    with _open_zip(filepath) as zf:
        config = _json(_read_member(zf, CONFIG_NAME, filepath, _MAX_JSON_BYTES), CONFIG_NAME, filepath)
        legacy = _archive_legacy(zf, filepath)
        weights = _weights_member(zf, filepath)
    opts = KerasLoadOptions(custom_objects, safe_mode, legacy=legacy, max_elements=max(len(weights), 1024))
    try:
        model = deserialize_model(config, opts)
    except RecursionError:
        raise ValueError(f"File {filepath!r}: the model config is nested too deeply.") from None
    except (KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"File {filepath!r}: malformed model config ({type(exc).__name__}: {exc}).") from None
    source = f"File {filepath!r} ({WEIGHTS_NAME})"
    with open_h5(weights, source) as h5:
        read_weights(model, h5, source, by_name=True)
    if compile and isinstance(config, dict) and config.get("compile_config"):
        compile_from_config(model, config["compile_config"], f"File {filepath!r}")
    return model


def load_weights_keras_archive(model, filepath):
    """Load the weights inside a ``.keras`` archive into an existing ``model`` (as Keras's load_weights)."""
    filepath = _check_path(filepath)
    if not _magic(filepath).startswith(_ZIP_MAGIC):
        raise ValueError(f"File {filepath!r} is not a valid .keras archive.")
    with _open_zip(filepath) as zf:
        weights = _weights_member(zf, filepath)
    source = f"File {filepath!r} ({WEIGHTS_NAME})"
    with open_h5(weights, source) as h5:
        read_weights(model, h5, source)


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
