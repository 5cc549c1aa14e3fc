"""``IntegerLookup``: integers to vocabulary indices (or back), as Keras 3's ``keras.layers.IntegerLookup``."""
from __future__ import annotations

import numpy as np

from rnnlab.layers.preprocessing.index_lookup import IndexLookup, _is_int


class IntegerLookup(IndexLookup):
    """Maps integers (int64; floats are truncated toward zero, as TensorFlow casts them) to int64 indices of a
    vocabulary learned by ``adapt()`` or given as ``vocabulary``; ``invert=True`` maps indices back."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs):
        if vocabulary_dtype != "int64":
            raise ValueError(f"IntegerLookup: argument `vocabulary_dtype` must be 'int64' (the only one Keras "
                             f"supports); received vocabulary_dtype={vocabulary_dtype!r}.")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, vocabulary_dtype="int64",
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)

    def _check_special(self, token, argument):
        if token is None:
            return None
        if not _is_int(token):
            raise TypeError(f"{self._where()}: argument `{argument}` must be an integer or None; received "
                            f"{argument}={token!r}.")
        return int(token)

    def _to_tokens(self, data, argument):
        if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
            data = data.numpy()
        try:
            arr = np.asarray(data)
        except ValueError as exc:
            raise ValueError(f"{self._where()}: argument `{argument}` must be a rectangular integer array; could "
                             f"not convert it ({exc}).") from None
        if arr.dtype == object and arr.size and all(isinstance(v, (int, float, np.number)) and not isinstance(
                v, (bool, np.bool_)) for v in arr.reshape(-1)):
            arr = arr.astype(np.float64) if any(isinstance(v, (float, np.floating)) for v in arr.reshape(-1)) \
                else arr.astype(np.int64)
        if arr.dtype.kind not in "biuf" and not (arr.dtype == object and arr.size == 0):
            raise TypeError(f"{self._where()}: argument `{argument}` must hold integers; received dtype "
                            f"{arr.dtype}.")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"{self._where()}: argument `{argument}` must hold finite numbers; received NaN or "
                             "Inf.")
        return np.trunc(arr).astype(np.int64) if arr.dtype.kind == "f" else arr.astype(np.int64)

    def _parse_vocabulary_line(self, line, path, number):
        try:
            return int(line.strip())
        except ValueError:
            raise ValueError(f"{self._where()}: line {number} of vocabulary file {path!r} is not an integer: "
                             f"{line[:40]!r}.") from None

    def _oov_indices(self, tokens):
        if self.oov_method == "floormod":
            return np.mod(tokens, self.num_oov_indices)  # Python's floor modulo, as tf.math.floormod
        return super()._oov_indices(tokens)

    def _hash_text(self, token):
        return str(int(token))  # tf.strings.as_string of the integer

    def _token_array(self, tokens, shape):
        return np.array(tokens, dtype=np.int64).reshape(shape)

    def get_vocabulary(self, include_special_tokens=True):
        return [None if t is None else int(t) for t in super().get_vocabulary(include_special_tokens)]
