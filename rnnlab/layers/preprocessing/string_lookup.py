"""``StringLookup``: strings to vocabulary indices (or back), as Keras 3's ``keras.layers.StringLookup``."""
from __future__ import annotations

from rnnlab.layers.preprocessing.index_lookup import IndexLookup
from rnnlab.layers.preprocessing.strings import check_encoding, to_string_array


class StringLookup(IndexLookup):
    """Maps strings to int64 indices of a vocabulary learned by ``adapt()`` or given as ``vocabulary``.

    Inputs are NumPy string/bytes/object arrays, lists of strings or single strings; outputs as described in
    :mod:`rnnlab.layers.preprocessing.index_lookup` (with ``invert=True``, an object array of ``str``).
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs):
        kwargs.pop("vocabulary_dtype", None)  # always "string"; Keras does not write it
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)
        check_encoding(encoding, self._where())

    def _check_special(self, token, argument):
        if token is None:
            return None
        if isinstance(token, bytes):
            token = token.decode("utf-8")
        if not isinstance(token, str):
            raise TypeError(f"{self._where()}: argument `{argument}` must be a string or None; received "
                            f"{argument}={token!r}.")
        return token

    def _to_tokens(self, data, argument):
        return to_string_array(data, self._where(), argument)

    def _parse_vocabulary_line(self, line, path, number):
        return line

    def get_config(self):
        config = super().get_config()
        del config["vocabulary_dtype"]
        config["encoding"] = self.encoding
        return config
