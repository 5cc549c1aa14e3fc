"""``pad_sequences``: lists of variable-length sequences to one ``(num_samples, maxlen, ...)`` array, as Keras."""
from __future__ import annotations

import numpy as np

_SIDES = ("pre", "post")


def _check_side(value, argument):
    if not isinstance(value, str) or value not in _SIDES:
        raise ValueError(f"Argument `{argument}` must be 'pre' or 'post'; received {argument}={value!r}.")


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) each sequence to ``maxlen`` steps; returns an array of shape ``(len(sequences), maxlen, ...)``.

    As ``keras.utils.pad_sequences``:

    - ``maxlen`` defaults to the longest sequence;
    - ``truncating`` says which end of a longer sequence is cut off;
    - ``padding`` says which end of a shorter one is filled with ``value``;
    - ``"pre"``, the default for both, works at the start.

    A sequence may hold scalars or equal-shaped items (feature vectors): the item shape is taken from the first
    non-empty sequence and every other must match it.  The result has ``dtype`` (default ``"int32"``): ``value``
    and the items are cast to it as NumPy casts (``2.7`` becomes ``2`` in an integer array).  Strings need
    ``dtype=object`` or a string dtype.

    The one difference from Keras: ``maxlen=0`` gives ``(len(sequences), 0)`` for both ``truncating`` modes,
    where Keras fails with ``truncating="pre"``.
    """
    _check_side(padding, "padding")
    _check_side(truncating, "truncating")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ValueError(f"Argument `maxlen` must be None or a non-negative integer; received maxlen={maxlen!r}.")
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise ValueError("Argument `sequences` must be a list of sequences (lists or arrays); received "
                         f"{type(sequences).__name__}.")
    is_text_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text_dtype:
        raise ValueError(f"Argument `value` is a string ({value!r}) but `dtype` is {dtype!r}: use dtype=object "
                         "(or a string dtype) to pad sequences of strings.")

    lengths, item_shape = [], None
    for i, seq in enumerate(sequences):
        if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
            raise ValueError(f"Argument `sequences` must hold sequences (lists or arrays); item {i} is "
                             f"{type(seq).__name__} {str(seq)[:40]!r}.")
        lengths.append(len(seq))
        if item_shape is None and len(seq):
            item_shape = np.asarray(seq).shape[1:]  # the shape of one step, from the first non-empty sequence
    if maxlen is None:
        if not lengths:
            raise ValueError("Argument `sequences` is empty, so `maxlen` cannot be inferred: pass `maxlen`.")
        maxlen = max(lengths)
    item_shape = item_shape or ()

    out = np.full((len(sequences), int(maxlen)) + item_shape, value, dtype=dtype)  # (samples, maxlen, *item)
    if maxlen == 0:
        return out
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)  # (<= maxlen, *item)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"Argument `sequences`: item {i} has steps of shape {kept.shape[1:]}, but the first "
                             f"non-empty sequence has steps of shape {item_shape}.")
        if padding == "post":
            out[i, :len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
