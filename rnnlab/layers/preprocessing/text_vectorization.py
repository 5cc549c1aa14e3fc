"""``TextVectorization``: raw strings to token indices or bag-of-words vectors, as Keras 3's layer.

The pipeline, per input string (see :mod:`.strings` for how each step matches TensorFlow):

    standardize ("lower_and_strip_punctuation" | "lower" | "strip_punctuation" | None | a callable)
    -> split ("whitespace" | "character" | None | a callable)  -> ngrams (None | n | (n1, n2, ...))
    -> StringLookup with mask_token "" (index 0 pads) and one OOV index "[UNK]" (index 1)

Shapes: a batch ``(batch,)`` or ``(batch, 1)`` of strings gives ``(batch, output_sequence_length)`` int64 in
``"int"`` mode (rows padded with 0 or cut; without ``output_sequence_length`` padded to the longest row), and
``(batch, depth)`` in ``"multi_hot"``/``"count"``/``"tf_idf"`` mode; a single string gives its token indices
``(tokens,)``.  With ``split=None`` each string is one token and the input keeps its shape.

A callable ``standardize`` receives a NumPy object array of ``str`` and returns one of the same shape; a
callable ``split`` receives a 1-D object array of ``str`` and returns one token list per string.  Callables are
Python code: a Keras file cannot carry them, so saving refuses them and loading needs ``custom_objects``.
"""
from __future__ import annotations

import numpy as np

from rnnlab.layers.preprocessing import strings
from rnnlab.layers.preprocessing.index_lookup import (IndexLookup, TokenLayer, _is_int, _policy_name, adapt_batches,
                                                      output_mode_of)
from rnnlab.layers.preprocessing.string_lookup import StringLookup


class TextVectorization(TokenLayer):
    """Turns strings into token indices (``"int"``) or per-string vocabulary vectors (``"multi_hot"``,
    ``"count"``, ``"tf_idf"``); see the module docstring.  No trainable weights, no gradient."""

    _config_only_keys = ("vocabulary_size",)  # in Keras's config, taken through **kwargs

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace",
                 ngrams=None, output_mode="int", output_sequence_length=None, pad_to_max_tokens=False,
                 vocabulary=None, idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None,
                 **kwargs):
        # what a config adds about the vocabulary is the inner lookup's to check and keep
        vocabulary_kwargs = {key: kwargs.pop(key) for key in IndexLookup.vocabulary_kwargs if key in kwargs}
        dtype = kwargs.pop("dtype", None)
        super().__init__(name=name, dtype=_policy_name(dtype), **kwargs)
        where = f"TextVectorization layer {self.name!r}"
        if not (standardize is None or callable(standardize) or standardize in strings.STANDARDIZE_MODES):
            raise ValueError(f"{where}: argument `standardize` must be one of {strings.STANDARDIZE_MODES}, None or "
                             f"a callable; received standardize={standardize!r}.")
        if not (split is None or callable(split) or split in strings.SPLIT_MODES):
            raise ValueError(f"{where}: argument `split` must be one of {strings.SPLIT_MODES}, None or a "
                             f"callable; received split={split!r}.")
        output_mode = output_mode_of(output_mode, where)
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or _is_int(ngrams) or
                isinstance(ngrams, tuple) and all(_is_int(n) for n in ngrams)):
            raise ValueError(f"{where}: argument `ngrams` must be None, an integer or a tuple of integers; "
                             f"received ngrams={ngrams!r}.")
        if ngrams is not None and split is None:
            raise ValueError(f"{where}: `ngrams` needs a `split` (rnnlab makes n-grams of the tokens of each "
                             f"string); received ngrams={ngrams!r} with split=None.")
        if output_mode == "int" and not (output_sequence_length is None or
                                         _is_int(output_sequence_length) and output_sequence_length >= 0):
            raise ValueError(f"{where}: argument `output_sequence_length` must be None or a non-negative integer "
                             f"when output_mode='int'; received output_sequence_length={output_sequence_length!r}.")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError(f"{where}: argument `output_sequence_length` must not be set when output_mode is not "
                             f"'int'; received output_sequence_length={output_sequence_length!r}.")
        if output_mode == "one_hot" and split is not None:
            raise ValueError(f"{where}: output_mode='one_hot' with a `split` gives a ragged tensor in Keras, which "
                             "rnnlab does not have; use split=None (one token per string), or 'multi_hot'.")
        if ragged:
            raise ValueError(f"{where}: argument `ragged=True` is not supported by rnnlab (NumPy has no ragged "
                             "arrays); received ragged=True. Use output_sequence_length or the default padding.")
        if sparse:
            raise ValueError(f"{where}: argument `sparse=True` is not supported by rnnlab; received sparse=True.")
        strings.check_encoding(encoding, where)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if _is_int(ngrams) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._lookup_layer = self._track(StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode, sparse=False,
            encoding=encoding, **vocabulary_kwargs))
        self.built = True

    def _where(self):
        return f"TextVectorization layer {self.name!r}"

    def _sublayers(self):
        return [self._lookup_layer]

    # ------------------------------------------------------------------ vocabulary
    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary: "" (padding, index 0), "[UNK]" (index 1), then the tokens, most frequent first."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self):
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary (a list of tokens or a file path), as ``StringLookup.set_vocabulary``."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the vocabulary from strings: an array or list of them, or an iterable of such batches (read
        ``steps`` batches when given).  ``batch_size`` is accepted for Keras's signature; Keras does not use it
        either, since a whole array is one batch."""
        self.reset_state()
        for batch in adapt_batches(data, steps, self._where()):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        self._lookup_layer.check_adaptable(self._where())
        texts = strings.to_string_array(data, self._where(), "data")
        if texts.ndim == 1:
            texts = texts[:, None]  # an array or list of strings: one document per string
        tokens = self._preprocess(texts)
        if isinstance(tokens, list):
            self._lookup_layer._count_documents(tokens)
        else:
            self._lookup_layer.update_state(tokens)

    def finalize_state(self):
        self._lookup_layer.finalize_state()

    def reset_state(self):
        self._lookup_layer.reset_state()

    # ------------------------------------------------------------------ preprocessing
    def _preprocess(self, texts):
        """Standardize and split an object array of strings: the token list of each string (a list of lists,
        for a rank-1 batch), a token array for a single string, or the same-shaped array with split=None."""
        where = self._where()
        if callable(self._standardize):
            result = np.asarray(self._standardize(texts), dtype=object)
            if result.shape != texts.shape:
                raise ValueError(f"{where}: the `standardize` callable must return an array of shape {texts.shape}; "
                                 f"it returned shape {result.shape}.")
            texts = strings.to_string_array(result, where, "standardize output")
        else:
            texts = strings.standardize(texts, self._standardize)
        if self._split is None:
            return texts
        if texts.ndim > 1:
            if texts.ndim > 2 or texts.shape[-1] != 1:
                raise ValueError(f"{where}: to split strings into tokens the input must have shape (batch,) or "
                                 f"(batch, 1); received shape {texts.shape}.")
            texts = texts[:, 0]
        rows = self._split_rows(texts.reshape(-1))
        if self._ngrams is not None:
            rows = [strings.ngrams(row, self._ngrams) for row in rows]
        if texts.ndim == 0:
            return strings.object_array(rows[0])
        return rows

    def _split_rows(self, texts):
        if self._split == "whitespace":
            return [strings.split_whitespace(t) for t in texts]
        if self._split == "character":
            return [strings.split_characters(t) for t in texts]
        rows = self._split(texts)
        if len(rows) != len(texts):
            raise ValueError(f"{self._where()}: the `split` callable must return one token list per string "
                             f"({len(texts)}); it returned {len(rows)}.")
        return [strings.to_string_array(strings.object_array(list(row)), self._where(), "split output").tolist()
                for row in rows]

    # ------------------------------------------------------------------ calling
    def _convert_inputs(self, inputs):
        return strings.to_string_array(inputs, self._where(), "inputs")

    def _shape_of(self, inputs):
        return tuple(np.shape(inputs))

    def call(self, inputs):
        tokens = self._preprocess(inputs)
        lookup = self._lookup_layer
        lookup._ensure_known_vocab_size()
        if not isinstance(tokens, list):  # one string's tokens, or split=None: a dense array
            out = lookup.call(tokens)
            if self._output_mode == "int" and self._output_sequence_length is not None:
                out = _fit_last_axis(out, self._output_sequence_length, self._where())
            return out
        lengths = [len(row) for row in tokens]
        flat = strings.object_array([t for row in tokens for t in row])
        indices = lookup.lookup_indices(flat)
        starts = np.cumsum([0] + lengths)
        if self._output_mode == "int":
            width = self._output_sequence_length if self._output_sequence_length is not None else \
                max(lengths, default=0)
            out = np.zeros((len(tokens), width), dtype=np.int64)
            for i, n in enumerate(lengths):
                n = min(n, width)
                out[i, :n] = indices[starts[i]:starts[i] + n]
            return out
        # one row per string: its token indices, padded with an index no encoding counts
        width = max(lengths, default=0)
        padded = np.full((len(tokens), width), -1, dtype=np.int64)
        for i, n in enumerate(lengths):
            padded[i, :n] = indices[starts[i]:starts[i] + n]
        return lookup._encode(padded)

    def compute_output_shape(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if self._output_mode == "int":
            return (input_shape[0] if input_shape else None, self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = input_shape + (1,)
        else:
            input_shape = input_shape + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def _symbolic_output_dtype(self):
        return self._lookup_layer._symbolic_output_dtype()

    # ------------------------------------------------------------------ files
    def get_config(self):
        config = super().get_config()
        lookup = self._lookup_layer
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self._standardize, "split": self._split,
            "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length, "pad_to_max_tokens": lookup.pad_to_max_tokens,
            "sparse": False, "ragged": False, "vocabulary": lookup.input_vocabulary,
            "idf_weights": lookup.input_idf_weights, "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return cls(**config)

    def save_assets(self, dir_path):
        self._lookup_layer.save_assets(dir_path)

    def load_assets(self, dir_path):
        self._lookup_layer.load_assets(dir_path)

    def keras_named_state(self):
        return self._lookup_layer.keras_named_state()

    def keras_named_state_shapes(self):
        return self._lookup_layer.keras_named_state_shapes()

    def set_keras_named_state(self, state):
        self._lookup_layer.set_keras_named_state(state)


def _fit_last_axis(values, length, where):
    """Cut or zero-pad the last axis of ``values`` to ``length`` (Keras's dense-output path)."""
    if values.ndim == 0:
        raise ValueError(f"{where}: `output_sequence_length` needs at least one axis to fit; received a scalar "
                         "input with split=None.")
    values = values[..., :length]
    pad = [(0, 0)] * (values.ndim - 1) + [(0, length - values.shape[-1])]
    return np.pad(values, pad)
