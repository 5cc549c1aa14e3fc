"""String arrays and the text operations of Keras's TextVectorization, as TensorFlow computes them.

Strings are NumPy object arrays of Python ``str``.  The operations follow TensorFlow's string ops, which work
on UTF-8 bytes and know ASCII only:

- ``tf.strings.lower`` lowercases the ASCII letters ``A-Z`` and leaves every other character as it is;
- Keras strips the 32 ASCII punctuation characters ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``;
- ``tf.strings.split`` splits on runs of the ASCII whitespace `` \\t\\n\\v\\f\\r`` (a no-break space is part of
  a token), dropping empty tokens;
- ``tf.strings.unicode_split`` gives the code points, which are Python's characters;
- ``tf.strings.ngrams`` gives, for each width in order, every run of that many consecutive tokens joined by a
  space (no n-grams of a width longer than the row).
"""
from __future__ import annotations

import re
import string

import numpy as np

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STRIP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ASCII_WHITESPACE = re.compile("[ \t\n\v\f\r]+")
_UTF8_NAMES = ("utf-8", "utf8", "UTF-8", "UTF8")

STANDARDIZE_MODES = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
SPLIT_MODES = ("whitespace", "character")


def check_encoding(encoding, where):
    """rnnlab reads text as UTF-8, as TensorFlow's string ops do; any other ``encoding`` is refused."""
    if encoding not in _UTF8_NAMES:
        raise ValueError(f"{where}: argument `encoding` must be 'utf-8' (rnnlab decodes text as UTF-8, as "
                         f"TensorFlow's string ops do); received encoding={encoding!r}.")
    return encoding


def _as_text(value, where, argument):
    if isinstance(value, str):
        return value if type(value) is str else str.__str__(value)  # np.str_ -> str
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{where}: argument `{argument}` holds bytes that are not valid UTF-8: "
                             f"{value[:40]!r}.") from None
    raise TypeError(f"{where}: argument `{argument}` must hold strings; received an element of type "
                    f"{type(value).__name__} ({value!r}).")


def to_string_array(value, where, argument="inputs"):
    """``value`` (a string, a nested list of strings, a NumPy ``str``/``bytes``/object array, or a tensor with
    ``.numpy()``) as a NumPy object array of Python ``str``; bytes are read as UTF-8."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, (str, bytes)):
        return np.array(_as_text(value, where, argument), dtype=object)
    try:
        arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    except ValueError as exc:
        raise ValueError(f"{where}: argument `{argument}` must be a rectangular array of strings; could not "
                         f"convert it ({exc}).") from None
    if arr.dtype.kind in "biufc":
        raise TypeError(f"{where}: argument `{argument}` must hold strings; received a numeric array of dtype "
                        f"{arr.dtype}.")
    if arr.dtype.kind not in "USO":
        raise TypeError(f"{where}: argument `{argument}` must hold strings; received dtype {arr.dtype}.")
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, item in enumerate(arr.reshape(-1)):
        flat[i] = _as_text(item, where, argument)
    return out


def object_array(items) -> np.ndarray:
    """A 1-D object array of ``items`` (``np.array`` would make a 2-D array of equal-length lists)."""
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out


def standardize(strings: np.ndarray, mode) -> np.ndarray:
    """Apply a built-in ``standardize`` mode (or none) element-wise to an object array of ``str``."""
    if mode is None:
        return strings
    lower = mode in ("lower", "lower_and_strip_punctuation")
    strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")
    out = np.empty(strings.shape, dtype=object)
    flat, src = out.reshape(-1), strings.reshape(-1)
    for i, s in enumerate(src):
        if lower:
            s = s.translate(_ASCII_LOWER)
        if strip:
            s = s.translate(_STRIP_PUNCTUATION)
        flat[i] = s
    return out


def split_whitespace(text: str) -> list[str]:
    return [t for t in _ASCII_WHITESPACE.split(text) if t]


def split_characters(text: str) -> list[str]:
    return list(text)


def ngrams(tokens: list[str], widths) -> list[str]:
    """Every n-gram of each width in ``widths``, widths in the given order, tokens joined by one space."""
    out = []
    for n in widths:
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out
