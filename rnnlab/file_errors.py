"""One error type where a file is read: ``ValueError`` (or ``TypeError``), naming the file.

Each reader checks what it can and says precisely what is wrong.  :func:`reading` is the last line behind
them, around every public entry point that reads a file (``load_model``, ``load_weights``, ``from_torch``,
``load_safetensors``, ``from_onnx``, ``describe_file``): whatever else a parsing library raises on a damaged
file (h5py's ``RuntimeError``, ``KeyError``, zipfile's ``NotImplementedError``, a ``RecursionError``...)
leaves as a ``ValueError`` naming the file and the original error, and a ``ValueError``/``TypeError`` whose
message does not name the file yet gets it prefixed.  ``ImportError`` (a missing optional
package) passes through unchanged, and so does anything that is not an ``Exception`` (``KeyboardInterrupt``).
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["reading"]


@contextlib.contextmanager
def reading(path):
    """``with reading(path): ...`` -- any failure but ValueError/TypeError/ImportError becomes a ValueError."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        if _path_text(path) in str(exc):
            raise
        raise type(exc)(f"File {_name(path)}: {exc}") from None  # every message names the file
    except ImportError:
        raise
    except RecursionError:
        raise ValueError(f"File {_name(path)}: its contents are nested too deeply to read.") from None
    except Exception as exc:  # noqa: BLE001 - the point: one error type at the boundary
        raise ValueError(f"File {_name(path)} could not be read ({type(exc).__name__}: {exc}).") from None


def _path_text(path):
    try:
        return str(os.fspath(path))
    except TypeError:
        return str(path)


def _name(path):
    try:
        return repr(os.fspath(path))
    except TypeError:
        return repr(path)
