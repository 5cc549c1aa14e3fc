"""Dask arrays as model inputs: recognising them without importing Dask, and putting their chunks in shape.

A model's inputs are cut into chunks along the batch axis only: each chunk holds whole sequences, so a worker can
run the model on it alone.  Chunks along the time or feature axes are joined (``rechunk``); arrays whose chunk
sizes are unknown (after boolean indexing) are refused, since batches cannot be cut from them.
"""
from __future__ import annotations

import os

import numpy as np

from rnnlab import nest


def is_dask_array(value) -> bool:
    """Whether ``value`` is a ``dask.array.Array`` (checked by its type's module, so Dask is never imported)."""
    kind = type(value)
    return kind.__module__.split(".")[0] == "dask" and kind.__name__ == "Array"


def holds_dask_arrays(data) -> bool:
    """Whether ``data`` (an array, or a list/tuple/dict of them) holds any dask array."""
    if isinstance(data, dict):
        return any(is_dask_array(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return any(is_dask_array(v) for v in data)
    return is_dask_array(data)


def import_dask_array():
    """``dask.array``, or an ImportError that says how to install it."""
    try:
        import dask.array as dask_array
    except ImportError:
        raise ImportError("rnnlab needs Dask for dask array inputs: pip install 'rnnlab[dask]' "
                          "(or pip install 'dask[distributed]').") from None
    return dask_array


def batch_chunked(array, argument):
    """``array`` (a dask or NumPy array) as a dask array with chunks along the batch axis only.

    A dask array chunked along another axis is rechunked so that each chunk holds whole samples; a NumPy array
    becomes one chunk.  Unknown chunk sizes are refused with a ValueError naming ``argument``.
    """
    da = import_dask_array()
    if not is_dask_array(array):
        return da.from_array(array, chunks=-1)
    if array.ndim == 0:
        raise ValueError(f"Argument `{argument}` must have a batch axis; received a 0-d dask array.")
    if any(size != size for sizes in array.chunks for size in sizes):  # NaN: unknown
        raise ValueError(f"Argument `{argument}` is a dask array with unknown chunk sizes {array.chunks}; call "
                         "its compute_chunk_sizes() first, so that batches can be cut from it.")
    if any(len(sizes) > 1 for sizes in array.chunks[1:]):
        array = array.rechunk({axis: -1 for axis in range(1, array.ndim)})
    return array


def aligned(arrays, argument, like=None):
    """``arrays`` (a list) chunked along the batch axis, all with the row chunks of ``like`` (a dask array;
    default: the first of ``arrays``).

    Arrays with another number of samples raise a ValueError naming ``argument``; arrays chunked differently
    are rechunked to match (so x and y chunked differently still pair sample with sample).
    """
    arrays = [batch_chunked(a, argument) for a in arrays]
    like = arrays[0] if like is None else like
    rows = like.shape[0]
    lengths = [a.shape[0] for a in arrays]
    if any(n != rows for n in lengths):
        raise ValueError(f"Argument `{argument}` must have {rows} samples in every array (as many as the inputs); "
                         f"received {lengths}.")
    target = like.chunks[0]
    return [a if a.chunks[0] == target else a.rechunk({0: target}) for a in arrays]


def as_list(data, names):
    """An array, a list/tuple or a dict (by ``names``) as a flat list of arrays in the model's order."""
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"The input dict is missing keys {missing}; received {sorted(data)}.")
        return [data[n] for n in names]
    if isinstance(data, (list, tuple)):
        return list(nest.flatten(list(data)))
    return [data]


class NpyFile:
    """A ``.npy`` file as an array-like that travels by its path: each read opens the file as a memmap.

    ``dask.array.from_array(np.load(path, mmap_mode="r"))`` works without a Client, but a Client pickles a
    memmap with all its data.  This reads only the rows a task asks for, on the worker that runs it (the file
    must be at the same path there: a shared or copied file).
    """

    def __init__(self, path):
        self.path = str(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim

    def __getitem__(self, key):
        return np.array(np.load(self.path, mmap_mode="r")[key])


def read_npy(path, rows_per_chunk):
    """A ``.npy`` file (larger than memory if need be) as a dask array of ``rows_per_chunk`` samples per chunk,
    read on the workers (see :class:`NpyFile`)."""
    da = import_dask_array()
    source = NpyFile(path)
    if isinstance(rows_per_chunk, bool) or not isinstance(rows_per_chunk, (int, np.integer)) or rows_per_chunk <= 0:
        raise ValueError(f"Argument `rows_per_chunk` must be a positive integer; received {rows_per_chunk!r}.")
    return da.from_array(source, chunks=(int(rows_per_chunk),) + source.shape[1:], asarray=False,
                         name=f"npy-{os.path.abspath(source.path)}-{os.path.getmtime(source.path)}-{rows_per_chunk}",
                         meta=np.empty((0,) * source.ndim, dtype=source.dtype))
