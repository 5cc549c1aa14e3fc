"""``IndexLookup``: the vocabulary table shared by StringLookup and IntegerLookup (Keras keeps it private too).

A vocabulary is laid out as Keras lays it out::

    index:  0             1 .. num_oov_indices      then the learned or given tokens
            [mask_token]  [oov_token] * num_oov     tokens...

The mask slot exists only when ``mask_token`` is set and ``output_mode="int"``; in the other modes a mask token
in the input is dropped.  ``adapt()`` counts tokens and keeps the most frequent, ties broken by the larger token
first (Keras sorts with ``np.lexsort((tokens, counts))[::-1]``; strings compare by code point, which is UTF-8
byte order).  An out-of-vocabulary token goes to OOV index ``oov_start`` with one OOV index; with several, a
string goes to bucket ``fingerprint64(utf-8) % num_oov_indices`` and an integer to ``token % num_oov_indices``
(``oov_method="floormod"``) or the fingerprint of its decimal text (``"farmhash"``).

Outputs are NumPy arrays: int64 indices (``"int"``), int64 ``one_hot``/``multi_hot``/``count`` encodings (see
:mod:`.categorical`), float32 ``tf_idf`` (counts times the IDF weights ``log(1 + documents / (1 +
documents containing the token))``, the OOV slots weighted by the mean IDF); with ``invert=True``, tokens.
The layer has no trainable weights and passes no gradient.
"""
from __future__ import annotations

import collections
import os

import numpy as np

from rnnlab import backend
from rnnlab.engine.layer import Layer
from rnnlab.layers.preprocessing import categorical
from rnnlab.layers.preprocessing.farmhash import fingerprint64

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
VOCABULARY_FILE = "vocabulary.txt"  # the asset Keras writes into a .keras archive
_MASK_DROPPED = np.iinfo(np.int64).max  # a masked token in a non-"int" mode: outside every encoding


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def output_mode_of(output_mode, where):
    """``output_mode`` with Keras's old spellings ("binary", "tf-idf") renamed, checked against OUTPUT_MODES."""
    output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
    if output_mode not in OUTPUT_MODES:
        raise ValueError(f"{where}: argument `output_mode` must be one of {OUTPUT_MODES}; received "
                         f"output_mode={output_mode!r}.")
    return output_mode


class TokenLayer(Layer):
    """A preprocessing layer without weights whose input (tokens or strings) takes no gradient."""

    def forward_backward(self, inputs, training=True, grads=None):
        outputs = self.call(self._prepare_inputs(inputs))

        def backward(d_outputs):
            return None, {}

        return outputs, backward


class IndexLookup(TokenLayer):
    """Maps tokens to vocabulary indices (or back, with ``invert``); see the module docstring."""

    _config_only_keys = ("vocabulary_size",)  # in Keras's config, taken through **kwargs
    # arguments only a config passes (through **kwargs), which a layer that wraps a lookup hands on to it
    vocabulary_kwargs = ("vocabulary_size", "has_input_vocabulary")

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", name=None, salt=None, **kwargs):
        frozen_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        dtype = kwargs.pop("dtype", None)
        trainable = kwargs.pop("trainable", True)
        super().__init__(name=name, dtype=_policy_name(dtype), trainable=trainable, **kwargs)
        where = self._where()
        if max_tokens is not None and (not _is_int(max_tokens) or max_tokens <= 1):
            raise ValueError(f"{where}: argument `max_tokens` must be None or an integer greater than 1; received "
                             f"max_tokens={max_tokens!r}.")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{where}: `pad_to_max_tokens=True` needs `max_tokens`; received max_tokens=None.")
        if not _is_int(num_oov_indices) or num_oov_indices < 0:
            raise ValueError(f"{where}: argument `num_oov_indices` must be an integer >= 0; received "
                             f"num_oov_indices={num_oov_indices!r}.")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"{where}: argument `oov_method` must be 'floormod' or 'farmhash'; received "
                             f"oov_method={oov_method!r}.")
        if salt is not None:
            raise ValueError(f"{where}: argument `salt` (SipHash OOV buckets) is not supported by rnnlab; received "
                             f"salt={salt!r}. Leave it as None.")
        output_mode = output_mode_of(output_mode, where)
        if invert and output_mode != "int":
            raise ValueError(f"{where}: `invert=True` needs output_mode='int'; received output_mode={output_mode!r}.")
        if sparse:
            raise ValueError(f"{where}: argument `sparse=True` (sparse tensor outputs) is not supported by rnnlab; "
                             "received sparse=True. Leave it False for dense NumPy outputs.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{where}: argument `idf_weights` is only used with output_mode='tf_idf'; received "
                             f"output_mode={output_mode!r}.")
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None and vocabulary is not None:
            raise ValueError(f"{where}: with a `vocabulary` and output_mode='tf_idf', argument `idf_weights` must "
                             "be given too; received idf_weights=None.")
        if invert and oov_token is None:
            raise ValueError(f"{where}: `invert=True` needs an `oov_token` to return for unknown indices; received "
                             "oov_token=None.")
        if frozen_size is not None and (not _is_int(frozen_size) or frozen_size < 0):
            raise ValueError(f"{where}: argument `vocabulary_size` must be None or a non-negative integer; "
                             f"received vocabulary_size={frozen_size!r}.")
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = self._check_special(mask_token, "mask_token")
        self.oov_token = self._check_special(oov_token, "oov_token")
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method = oov_method
        self.salt = None
        self._frozen_vocab_size = frozen_size
        # a vocabulary given as a list is written in the config; one read from a file becomes an asset
        self.input_vocabulary = None if isinstance(vocabulary, str) else _plain_list(vocabulary)
        self.input_idf_weights = _plain_list(idf_weights)
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._tokens: list = []
        self._index: dict = {}
        self.idf_weights = None
        self.reset_state()
        self.built = True
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------ subclass hooks
    def _where(self):
        return f"{type(self).__name__} layer {self.name!r}"

    def _check_special(self, token, argument):
        raise NotImplementedError

    def _to_tokens(self, data, argument):
        """``data`` as an array of tokens (object array of str, or int64)."""
        raise NotImplementedError

    def _parse_vocabulary_line(self, line, path, number):
        raise NotImplementedError

    # ------------------------------------------------------------------ layout
    def _oov_start_index(self):
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self):
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self):
        """The vocabulary's size, mask and OOV indices included."""
        return self._token_start_index() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens=True):
        """The vocabulary as a list, index ``i`` holding the token that maps to ``i`` (special tokens first
        unless ``include_special_tokens=False``)."""
        vocab = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices + \
            list(self._tokens)
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    # ------------------------------------------------------------------ setting the vocabulary
    def _set_tokens(self, tokens):
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: start + i for i, t in enumerate(self._tokens)}

    def _record_vocabulary_size(self):
        size = self.vocabulary_size()
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None and \
                size != self._frozen_vocab_size:
            raise RuntimeError(
                f"{self._where()}: with output_mode={self.output_mode!r} and pad_to_max_tokens=False the "
                f"vocabulary size cannot change once set (its outputs have that width): it was "
                f"{self._frozen_vocab_size}, the new vocabulary has {size}."
            )
        self._frozen_vocab_size = size

    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Replace the vocabulary: a list/tuple/1-D array of tokens, or the path of a text file with one token
        per line (used as is, after the mask and OOV slots).  ``idf_weights`` (one per vocabulary entry) is
        required with ``output_mode="tf_idf"`` and refused otherwise."""
        where = self._where()
        if self.output_mode == "tf_idf" and idf_weights is None:
            raise ValueError(f"{where}: with output_mode='tf_idf', set_vocabulary() needs `idf_weights`; received "
                             "idf_weights=None.")
        if self.output_mode != "tf_idf" and idf_weights is not None:
            raise ValueError(f"{where}: argument `idf_weights` is only used with output_mode='tf_idf'; received "
                             f"output_mode={self.output_mode!r}.")
        if isinstance(vocabulary, str):
            if self.output_mode == "tf_idf":
                raise ValueError(f"{where}: output_mode='tf_idf' cannot read its `vocabulary` from a file; pass "
                                 "the tokens and `idf_weights` as lists.")
            self._set_tokens(self._read_vocabulary_file(vocabulary))
            self._record_vocabulary_size()
            return
        if hasattr(vocabulary, "numpy") and not isinstance(vocabulary, np.ndarray):
            vocabulary = vocabulary.numpy()
        if not isinstance(vocabulary, (list, tuple, np.ndarray)):
            raise TypeError(f"{where}: argument `vocabulary` must be a list, tuple or 1-D array of tokens, or a "
                            f"file path; received {type(vocabulary).__name__}.")
        if np.ndim(vocabulary) != 1:
            raise ValueError(f"{where}: argument `vocabulary` must be 1-D; received an array of shape "
                             f"{np.shape(vocabulary)}.")
        if len(vocabulary) == 0:
            raise ValueError(f"{where}: cannot set an empty vocabulary; received vocabulary={vocabulary!r}.")
        vocab = [self._vocabulary_token(t) for t in vocabulary]
        token_start = self._token_start_index()
        special = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_special = vocab[:token_start] == special
        tokens = vocab[token_start:] if found_special else vocab
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{where}: the vocabulary repeats the term(s) {repeated[:10]}; every term must be "
                             "unique.")
        for token, argument, forbidden in ((self.mask_token, "mask_token", True),
                                           (self.oov_token, "oov_token", self.invert)):
            if token is not None and forbidden and token in tokens:
                raise ValueError(
                    f"{where}: the vocabulary holds the reserved {argument} {token!r} among its terms. Leave the "
                    f"mask and OOV tokens out, or put them only at the start, in this order: {special}."
                )
        size = token_start + len(tokens)
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(f"{where}: the vocabulary has {size} entries (mask and OOV included), more than "
                             f"max_tokens={self.max_tokens}.")
        weights = None
        if self.output_mode == "tf_idf":
            weights = self._given_idf_weights(idf_weights, len(vocab), 0 if found_special else token_start)
        self._set_tokens(tokens)
        self._record_vocabulary_size()
        if weights is not None:
            self.idf_weights = weights

    def _vocabulary_token(self, token):
        value = self._to_tokens(np.array([token], dtype=object), "vocabulary")[0]
        return value.item() if isinstance(value, np.generic) else value

    def _given_idf_weights(self, idf_weights, vocab_len, front):
        where = self._where()
        if hasattr(idf_weights, "numpy") and not isinstance(idf_weights, np.ndarray):
            idf_weights = idf_weights.numpy()
        weights = np.asarray(backend.to_float_array(idf_weights, "float64", "idf_weights"))
        if weights.ndim != 1:
            raise ValueError(f"{where}: argument `idf_weights` must be 1-D; received shape {weights.shape}.")
        if len(weights) != vocab_len:
            raise ValueError(f"{where}: argument `idf_weights` must have one weight per vocabulary entry "
                             f"({vocab_len}); received {len(weights)}.")
        front_value = float(np.average(weights)) if front else 0.0
        back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens else 0
        padded = np.concatenate([np.full(front, front_value), weights, np.zeros(max(back, 0))])
        return padded.astype(backend.floatx())

    def _read_vocabulary_file(self, path):
        """The tokens of a vocabulary file: one per line, a final newline allowed, no empty lines or repeats
        (TensorFlow's text-file table rules; a trailing ``\\r`` is dropped)."""
        where = self._where()
        if not os.path.isfile(path):
            raise ValueError(f"{where}: vocabulary file {path!r} does not exist.")
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where}: cannot read vocabulary file {path!r} ({exc}).") from None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokens = []
        for number, line in enumerate(lines, 1):
            line = line[:-1] if line.endswith("\r") else line
            if line == "":
                raise ValueError(f"{where}: vocabulary file {path!r} has an empty line (line {number}).")
            tokens.append(self._parse_vocabulary_line(line, path, number))
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"{where}: vocabulary file {path!r} repeats the term(s) {repeated[:10]}.")
        if self.max_tokens is not None and self._token_start_index() + len(tokens) > self.max_tokens:
            raise ValueError(f"{where}: vocabulary file {path!r} gives {self._token_start_index() + len(tokens)} "
                             f"entries (mask and OOV included), more than max_tokens={self.max_tokens}.")
        return tokens

    # ------------------------------------------------------------------ adapt
    def reset_state(self):
        """Forget the token counts gathered by ``update_state`` (not the vocabulary)."""
        self._token_counts = collections.Counter()
        self._document_counts = collections.Counter()
        self._num_documents = 0

    def adapt(self, data, steps=None):
        """Learn the vocabulary from ``data``: an array or (nested) list of tokens, or an iterable of such
        batches (a generator, a PyDataset...), of which ``steps`` batches are read when given."""
        self.reset_state()
        for batch in adapt_batches(data, steps, self._where()):
            self.update_state(batch)
        self.finalize_state()

    def update_state(self, data):
        """Count the tokens of one batch (a 1-D batch is a single document)."""
        self.check_adaptable(self._where())
        self._count_documents(self._documents(data))

    def check_adaptable(self, where):
        """A ValueError naming ``where`` (this layer, or the one that wraps it) when the vocabulary was given,
        so that ``adapt()`` must not learn one."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt {where}: its vocabulary was set by the `vocabulary` argument or "
                             "set_vocabulary().")

    def _documents(self, data):
        """A batch as a list of documents (token lists): the rows of a 2-D batch, one document for a 1-D one."""
        tokens = self._to_tokens(data, "data")
        if tokens.ndim <= 1:
            return [tokens.reshape(-1).tolist()]
        if self.output_mode == "tf_idf" and tokens.ndim > 2:
            raise ValueError(f"{self._where()}: adapt() with output_mode='tf_idf' needs documents as rows of a "
                             f"2-D batch; received shape {tokens.shape}.")
        return [row.reshape(-1).tolist() for row in tokens]

    def _count_documents(self, documents):
        for doc in documents:
            self._token_counts.update(doc)
            if self.output_mode == "tf_idf":
                self._document_counts.update(set(doc))
        if self.output_mode == "tf_idf":
            self._num_documents += len(documents)

    def finalize_state(self):
        """Turn the counts into the vocabulary: most frequent first, ties by the larger token first."""
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = dict(self._token_counts)
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]), reverse=True)
        if self.max_tokens:
            ranked = ranked[:max(self.max_tokens - self._token_start_index(), 0)]
        tokens = [t for t, _ in ranked]
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            df = np.array([self._document_counts[t] for t in tokens], dtype=np.float64)
            idf = np.log(1.0 + self._num_documents / (1.0 + df)).astype(backend.floatx())
            mean = idf.mean(dtype=np.float32) if len(idf) else np.float32(np.nan)
            back = self.max_tokens - self._token_start_index() - len(idf) if self.pad_to_max_tokens else 0
            self.idf_weights = np.concatenate([np.full(self._token_start_index(), mean, backend.floatx()), idf,
                                               np.zeros(max(back, 0), backend.floatx())])
        self.reset_state()
        self._record_vocabulary_size()

    # ------------------------------------------------------------------ calling
    def _convert_inputs(self, inputs):
        return self._to_index_input(inputs) if self.invert else self._to_tokens(inputs, "inputs")

    def _to_index_input(self, inputs):
        if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
            inputs = inputs.numpy()
        arr = np.asarray(inputs)
        if arr.dtype.kind not in "biu":
            raise TypeError(f"{self._where()}: with invert=True, argument `inputs` must hold integer indices; "
                            f"received dtype {arr.dtype}.")
        return arr.astype(np.int64)

    def _shape_of(self, inputs):
        return tuple(np.shape(inputs))

    def call(self, inputs):
        """Look ``inputs`` up; see the module docstring for the outputs."""
        self._ensure_known_vocab_size()
        if self.invert:
            return self._invert_lookup(inputs)
        indices = self.lookup_indices(inputs)
        return indices if self.output_mode == "int" else self._encode(indices)

    def _encode(self, indices):
        """The ``one_hot``/``multi_hot``/``count``/``tf_idf`` output for int64 ``indices`` (indices outside
        the vocabulary, such as masked tokens, count for nothing)."""
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "tf_idf":
            counts = categorical.encode(indices, "count", depth)
            return counts.astype(backend.floatx()) * self.idf_weights
        return categorical.encode(indices, self.output_mode, depth)

    def lookup_indices(self, tokens):
        """int64 indices of a token array (mask tokens: 0 in "int" mode, dropped otherwise)."""
        flat = tokens.reshape(-1)
        oov_value = self._oov_start_index() if self.num_oov_indices == 1 else -1
        index = self._index
        out = np.fromiter((index.get(t, oov_value) for t in flat.tolist()), dtype=np.int64, count=flat.size)
        if self.mask_token is not None:
            out[flat == self.mask_token] = 0 if self.output_mode == "int" else _MASK_DROPPED
        unknown = out == -1
        if unknown.any():
            if self.num_oov_indices == 0:
                found = sorted(set(flat[unknown].tolist()), key=str)[:10]
                raise ValueError(f"{self._where()}: with num_oov_indices=0 every input must be in the vocabulary; "
                                 f"found out-of-vocabulary values {found}. Consider num_oov_indices=1.")
            out[unknown] = self._oov_indices(flat[unknown]) + self._oov_start_index()
        return out.reshape(tokens.shape)

    def _oov_indices(self, tokens):
        """OOV bucket (0 .. num_oov_indices - 1) of each out-of-vocabulary token."""
        buckets = {t: fingerprint64(self._hash_text(t).encode("utf-8")) % self.num_oov_indices
                   for t in set(tokens.tolist())}
        return np.array([buckets[t] for t in tokens.tolist()], dtype=np.int64)

    def _hash_text(self, token):
        return token

    def _invert_lookup(self, indices):
        start = self._token_start_index()
        table = {start + i: t for i, t in enumerate(self._tokens)}
        if self.mask_token is not None:
            table[0] = self.mask_token
        flat = [table.get(i, self.oov_token) for i in indices.reshape(-1).tolist()]
        return self._token_array(flat, indices.shape)

    def _token_array(self, tokens, shape):
        out = np.empty(len(tokens), dtype=object)
        out[:] = tokens
        return out.reshape(shape)

    def _ensure_known_vocab_size(self):
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(
                f"{self._where()}: with output_mode={self.output_mode!r} and pad_to_max_tokens=False the layer "
                "needs its vocabulary before it is called: pass `vocabulary` or call adapt() first."
            )

    def compute_output_shape(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def _symbolic_output_dtype(self):
        return "int64" if self.output_mode == "int" else backend.floatx()

    # ------------------------------------------------------------------ files
    def get_config(self):
        config = super().get_config()
        config.update({
            "invert": self.invert, "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token, "mask_token": self.mask_token, "output_mode": self.output_mode,
            "sparse": False, "pad_to_max_tokens": self.pad_to_max_tokens,
            "vocabulary_dtype": self.vocabulary_dtype, "idf_weights": self.input_idf_weights,
            "vocabulary": self.input_vocabulary, "vocabulary_size": self._frozen_vocab_size,
            "oov_method": self.oov_method, "salt": None,
        })
        return config

    def save_assets(self, dir_path):
        """Write the vocabulary to ``dir_path/vocabulary.txt`` (one token a line, special tokens included), as
        Keras does when the vocabulary is not in the config."""
        if self.input_vocabulary is not None:
            return
        with open(os.path.join(dir_path, VOCABULARY_FILE), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(str(t) for t in self.get_vocabulary()))

    def load_assets(self, dir_path):
        """Read the vocabulary that :meth:`save_assets` (or Keras) wrote into ``dir_path``."""
        if self.input_vocabulary is not None:
            return
        path = os.path.join(dir_path, VOCABULARY_FILE)
        if not os.path.isfile(path):
            if self._tokens:  # read from a vocabulary file the config named (only with safe_mode=False)
                return
            raise ValueError(f"{self._where()}: the file has no {VOCABULARY_FILE} asset for this layer's "
                             "vocabulary.")
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        values = [self._parse_vocabulary_line(line, path, i + 1) if self.vocabulary_dtype != "string" else line
                  for i, line in enumerate(lines)]
        if not values:
            return
        idf = None
        if self.output_mode == "tf_idf":
            if self.idf_weights is None:
                raise ValueError(f"{self._where()}: output_mode='tf_idf' but the file has no idf_weights for it.")
            idf = self.idf_weights[:len(values)]  # the stored weights may be padded to max_tokens
        self.set_vocabulary(values, idf)

    def keras_named_state(self):
        """Arrays Keras stores by name beside a layer's variables: ``vars/idf_weights`` in tf_idf mode."""
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            return {"idf_weights": np.asarray(self.idf_weights)}
        return {}

    def keras_named_state_shapes(self):
        """``{name: shape}`` of the named arrays a weights file may hold for this layer."""
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        return {"idf_weights": (depth,)} if self.output_mode == "tf_idf" and depth is not None else {}

    def set_keras_named_state(self, state):
        if "idf_weights" in state:
            self.idf_weights = np.asarray(state["idf_weights"], dtype=backend.floatx())


def adapt_batches(data, steps, where):
    """The batches ``adapt()`` reads: ``data`` itself when it is an array or a list (``steps`` is then
    refused), else the first ``steps`` (all, by default) batches of an iterable."""
    if steps is not None and (not _is_int(steps) or steps <= 0):
        raise ValueError(f"{where}: argument `steps` must be None or a positive integer; received steps={steps!r}.")
    if isinstance(data, (list, tuple, np.ndarray, str, bytes)) or hasattr(data, "numpy") or \
            not hasattr(data, "__iter__"):
        if steps is not None:
            raise ValueError(f"{where}: argument `steps` counts batches of an iterable dataset; it is not used with "
                             f"array or list data; received steps={steps}.")
        return [data]
    batches = []
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        batches.append(batch)
    return batches


def _policy_name(dtype):
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name")
    return dtype


def _plain_list(values):
    """A vocabulary or weight list for the config (JSON types: lists of str, int or float)."""
    if values is None:
        return None
    if hasattr(values, "numpy") and not isinstance(values, np.ndarray):
        values = values.numpy()
    if isinstance(values, np.ndarray):
        values = values.tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in values]
