"""``Hashing``: values to bins by a hash of their text, as Keras 3's layer (which runs TensorFlow's ops).

Every value is first written as text (strings as they are; integers in decimal; floats truncated to integers
first), then sent to bin ``FarmHash64(text) % num_bins`` (TensorFlow's ``to_hash_bucket_fast``,
:mod:`.farmhash`) or, with a ``salt``, ``SipHash-2-4(salt, text) % num_bins`` (``to_hash_bucket_strong``,
:mod:`.siphash`).  With a ``mask_value``, values equal to it go to bin 0 and the others to ``1 + hash %
(num_bins - 1)``.  ``output_mode`` ``"int"`` gives the bins (int64, or int32 with ``dtype="int32"``);
``"one_hot"``, ``"multi_hot"`` and ``"count"`` encode them (:mod:`.categorical`).  No weights, no gradient.
"""
from __future__ import annotations

import numpy as np

from rnnlab.engine.layer import Layer
from rnnlab.layers.preprocessing.categorical import encode
from rnnlab.layers.preprocessing.farmhash import fingerprint64
from rnnlab.layers.preprocessing.siphash import siphash24

_MODES = ("int", "one_hot", "multi_hot", "count")


def _policy_name(dtype):
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return None if dtype is None else np.dtype(getattr(dtype, "name", dtype)).name


class Hashing(Layer):
    """Hashes values (strings or numbers) into ``num_bins`` bins (see the module docstring)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        dtype = _policy_name(kwargs.pop("dtype", None))
        if output_mode not in _MODES:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {_MODES}. Received: "
                             f"output_mode={output_mode!r}")
        if output_mode == "int":
            dtype = dtype or "int64"
            if dtype not in ("int32", "int64"):
                raise ValueError(f"When `output_mode=\"int\"`, `dtype` should be an integer type, 'int32' or 'int64'. "
                                 f"Received: dtype={dtype!r}")
        super().__init__(dtype=None if output_mode == "int" else dtype, **kwargs)
        self._output_dtype = dtype if output_mode == "int" else self.dtype
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or \
                num_bins <= 0:
            raise ValueError(f"The `num_bins` for `Hashing` cannot be `None` or non-positive values. Received: "
                             f"num_bins={num_bins!r}.")
        if sparse:
            raise ValueError("Argument `sparse=True` of Hashing is not supported by rnnlab (it has no sparse tensors); "
                             "received sparse=True.")
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
                    isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in salt):
                salt = [int(s) for s in salt]
            elif isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            else:
                raise ValueError(f"The `salt` argument for `Hashing` can only be a tuple of size 2 integers, or a "
                                 f"single integer. Received: salt={salt!r}.")
        self.num_bins, self.mask_value, self.salt = int(num_bins), mask_value, salt
        self.output_mode, self.sparse = output_mode, False

    # ------------------------------------------------------------------ hashing
    def _hash_text(self, text: bytes) -> int:
        if self.salt is not None:
            return siphash24((self.salt[0], self.salt[1]), text)
        return fingerprint64(text)

    def _bins(self, values: np.ndarray) -> np.ndarray:
        """The int64 bin of every value (see the module docstring)."""
        bins = self.num_bins
        mask = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            mask = values == np.asarray(self.mask_value, dtype=values.dtype if values.dtype.kind != "U" else None)
        if values.dtype.kind == "f":
            values = np.trunc(values).astype(np.int64)
        uniques, inverse = np.unique(values.reshape(-1), return_inverse=True)
        hashed = np.array([self._hash_text(_as_text(u)) % bins for u in uniques.tolist()], dtype=np.uint64)
        out = hashed[inverse].astype(np.int64).reshape(values.shape)
        if mask is not None:
            out = np.where(mask, 0, out + 1)
        return out

    def _convert_inputs(self, inputs):
        if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
            inputs = inputs.numpy()
        arr = np.asarray(inputs)
        if arr.dtype == object:
            if not all(isinstance(v, (str, bytes)) for v in arr.reshape(-1).tolist()):
                raise TypeError(f"Hashing layer {self.name!r} expects strings or numbers; received an object array "
                                "holding other values.")
            arr = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in arr.reshape(-1).tolist()],
                           dtype=str).reshape(arr.shape) if arr.size else arr.astype(str)
        elif arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        elif arr.dtype.kind not in "iuUf":
            raise TypeError(f"Hashing layer {self.name!r} expects strings, integers or floats; received dtype "
                            f"{arr.dtype}.")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"Hashing layer {self.name!r}: float inputs are hashed as integers and must be finite.")
        return arr

    def call(self, inputs):
        values = self._convert_inputs(inputs)
        if self.output_mode == "one_hot" and values.ndim and values.shape[-1] == 1:
            values = values[..., 0]
        bins = self._bins(values)
        if self.output_mode == "int":
            return bins.astype(self._output_dtype)
        return encode(bins, self.output_mode, self.num_bins).astype(self._output_dtype)

    def forward_backward(self, inputs, training=True, grads=None):
        return self.call(inputs), lambda d_outputs: (None, {})

    def _eager_call(self, inputs, *args, **kwargs):
        self.built = True
        return self.call(inputs)

    def _symbolic_output_dtype(self):
        return self._output_dtype

    def compute_output_shape(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        if not input_shape:
            return (self.num_bins,)
        return input_shape[:-1] + (self.num_bins,)

    def get_config(self):
        config = super().get_config()
        config.update({"dtype": self._output_dtype, "num_bins": self.num_bins, "salt": self.salt,
                       "mask_value": self.mask_value, "output_mode": self.output_mode, "sparse": self.sparse})
        return config


def _as_text(value) -> bytes:
    """The UTF-8 text TensorFlow hashes for one value (``tf.as_string`` of an integer is its decimal form)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode("ascii")


