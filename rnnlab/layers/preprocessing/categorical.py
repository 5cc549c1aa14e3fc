"""Turning vocabulary indices into Keras's ``one_hot``, ``multi_hot`` and ``count`` outputs.

``indices`` is an int64 array; an index outside ``[0, depth)`` (Keras marks a masked token with the largest
int64) contributes nothing.  Shapes, as Keras's ``encode_categorical_inputs`` gives them on TensorFlow:

- a scalar is first made a vector of one element;
- ``one_hot``: ``(..., 1) -> (..., depth)`` when the input has rank 2 or more and a last axis of 1, otherwise
  ``(...) -> (..., depth)``;
- ``multi_hot`` / ``count``: a vector ``(n,)`` is one sample, ``-> (depth,)``; an array of rank 2 or more is
  reduced over axis 1 (the token axis of a ``(batch, tokens)`` input), ``(b, n, *rest) -> (b, *rest, depth)``;
  ``multi_hot`` marks presence with 1, ``count`` counts.
"""
from __future__ import annotations

import numpy as np

ENCODINGS = ("one_hot", "multi_hot", "count")


def one_hot(indices: np.ndarray, depth: int) -> np.ndarray:
    """``(...)`` int64 -> ``(..., depth)`` int64 with a 1 at each valid index."""
    valid = (indices >= 0) & (indices < depth)
    out = np.zeros(indices.shape + (depth,), dtype=np.int64)
    np.put_along_axis(out, np.where(valid, indices, 0)[..., None], valid[..., None].astype(np.int64), axis=-1)
    return out


def encode(indices: np.ndarray, output_mode: str, depth: int) -> np.ndarray:
    """Keras's categorical encoding of ``indices`` (see the module docstring for the shapes)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        return one_hot(indices, depth)
    if output_mode not in ENCODINGS:
        raise ValueError(f"Unknown categorical encoding {output_mode!r}; expected one of {ENCODINGS}.")
    # (b, n, *rest) -> rows (b * prod(rest), n): each row is one sample's tokens
    tokens = indices[None] if indices.ndim == 1 else np.moveaxis(indices, 1, -1)
    lead = tokens.shape[:-1]
    rows = tokens.reshape(int(np.prod(lead)), tokens.shape[-1])
    valid = (rows >= 0) & (rows < depth)
    flat = (np.arange(rows.shape[0])[:, None] * depth + rows)[valid]
    counts = np.bincount(flat, minlength=rows.shape[0] * depth).reshape(rows.shape[0], depth).astype(np.int64)
    if output_mode == "multi_hot":
        np.minimum(counts, 1, out=counts)
    out = counts.reshape(lead + (depth,))
    return out[0] if indices.ndim == 1 else out
