"""``split_dataset``: Keras's ``keras.utils.split_dataset`` for NumPy data.

Keras returns two ``tf.data.Dataset`` objects; rnnlab has no ``tf.data`` and returns the two parts as NumPy data
in the structure given (an array, or a tuple of arrays for a tuple or list of arrays), which ``fit`` takes.  The
parts hold the same samples in the same order as Keras's: with ``shuffle=True`` the samples are permuted as
Python's ``random.shuffle`` does after ``random.seed(seed)`` (Keras's own shuffle), without touching the global
Python random state.
"""
from __future__ import annotations

import random

import numpy as np


def _split_sizes(left_size, right_size, total):
    """``(left, right)`` sample counts from sizes given as counts (int), fractions (float) or None."""
    for size, side in ((left_size, "left_size"), (right_size, "right_size")):
        if size is not None and type(size) not in (int, float):
            raise TypeError(f"Argument `{side}` must be an int, a float or None; received {side}={size!r}.")
        if type(size) is int and not 0 < size < total or type(size) is float and not 0 < size < 1:
            raise ValueError(f"Argument `{side}` must be a positive integer smaller than {total} (the number of "
                             f"samples) or a float in (0, 1); received {side}={size!r}.")
    if type(left_size) is float and type(right_size) is float and left_size + right_size > 1:
        raise ValueError(f"Arguments `left_size` + `right_size` must not exceed 1; received "
                         f"left_size={left_size!r}, right_size={right_size!r}.")
    left = round(left_size * total) if type(left_size) is float else left_size
    right = round(right_size * total) if type(right_size) is float else right_size
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"Arguments `left_size` and `right_size` ask for {left} + {right} samples, more than the "
                         f"{total} in `dataset`.")
    if left == 0 or right == 0:
        raise ValueError(f"With a dataset of {total} samples, left_size={left_size!r} and right_size={right_size!r} "
                         "leave one side empty; adjust them.")
    return int(left), int(right)


def _columns(dataset):
    """The arrays of ``dataset`` (one array, or a tuple/list of arrays with the same first dimension)."""
    if isinstance(dataset, np.ndarray):
        return [dataset]
    if not isinstance(dataset, (tuple, list)) or not dataset:
        raise TypeError("Argument `dataset` must be a NumPy array or a non-empty tuple/list of NumPy arrays "
                        f"(rnnlab has no tf.data); received {type(dataset).__name__}.")
    for i, column in enumerate(dataset):
        if not isinstance(column, np.ndarray):
            raise ValueError(f"Argument `dataset` must hold NumPy arrays; item {i} is a {type(column).__name__}.")
        if column.ndim == 0 or len(column) != len(dataset[0]):
            raise ValueError(f"The arrays of `dataset` must have the same number of samples; array {i} has shape "
                             f"{column.shape}, array 0 has shape {dataset[0].shape}.")
    return list(dataset)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """``(left, right)``: the first ``left_size`` samples of ``dataset`` and its last ``right_size`` ones.

    Sizes are sample counts (int) or fractions of the samples (float, rounded); one of them may be None, meaning
    the rest.  ``preferred_backend`` chooses Keras's dataset type; rnnlab accepts only None.
    """
    if preferred_backend is not None:
        raise ValueError("Argument `preferred_backend` chooses the dataset type Keras returns; rnnlab returns NumPy "
                         f"arrays and accepts only None; received preferred_backend={preferred_backend!r}.")
    if left_size is None and right_size is None:
        raise ValueError("At least one of `left_size` or `right_size` must be given; received left_size=None and "
                         "right_size=None.")
    columns = _columns(dataset)
    total = len(columns[0])
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.Random(seed).shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    parts = []
    for rows in (order[:left], order[total - right:]):
        taken = tuple(column[rows] for column in columns)  # (rows, ...) per array
        parts.append(taken[0] if isinstance(dataset, np.ndarray) else taken)
    return tuple(parts)
