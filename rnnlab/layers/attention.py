"""Dot-product (Luong) and additive (Bahdanau) attention, as Keras 3's ``Attention`` and ``AdditiveAttention``.

Inputs are ``[query, value]`` or ``[query, value, key]`` (``key`` defaults to ``value``): ``query`` ``(B, Tq, D)``,
``value`` ``(B, Tv, Dv)``, ``key`` ``(B, Tv, D)``. With ``s`` the ``(B, Tq, Tv)`` scores::

    dot:        s = scale * query @ key^T                              (scale: a scalar weight, or 1)
    concat:     s = concat_score_weight * sum_d tanh(scale * (q_i + k_j))
    additive:   s = sum_d scale_d * tanh(q_i + k_j)                    (scale: a (D,) weight, or 1)
    weights     = softmax(s - 1e9 where the value mask or causal mask hides a key)
    output      = dropout(weights) @ value, zero where the query mask is False

The layers are written with :mod:`rnnlab.ops`, so their training backward comes from the record of those ops.
"""
from __future__ import annotations

import numpy as np

from rnnlab import ops, random
from rnnlab.engine.layer import Layer
from rnnlab.random import make_rng


def _check_dropout(value, layer):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or \
            not 0 <= value < 1:
        raise ValueError(f"Argument `dropout` of {layer} must be a float in [0, 1); received dropout={value!r}.")
    return float(value)


def causal_mask(query_steps, key_steps):
    """``(1, Tq, Tv)`` booleans: query step ``i`` may see key steps ``j <= i``."""
    return np.tril(np.ones((query_steps, key_steps), bool))[None]


def dropout_keep(layer, rate, shape, dtype):
    """Inverted dropout's multiplier, drawn for ``layer`` (:func:`rnnlab.random.layer_uniform`, the samples along the
    first axis): 0 for a dropped entry, ``1 / (1 - rate)`` for a kept one."""
    return ((random.layer_uniform(layer, shape) >= rate) / (1.0 - rate)).astype(dtype)


class Attention(Layer):
    """Dot-product attention (Luong style); see the module docstring for the computation.

    ``use_scale`` adds a learned scalar ``scale`` on the scores; ``score_mode`` is ``"dot"`` or ``"concat"``
    (which adds the scalar ``concat_score_weight``); ``dropout`` drops attention weights in training.
    Call with ``[query, value(, key)]``, ``mask=[query_mask, value_mask]`` (filled in from masked inputs),
    ``return_attention_scores`` (also return the ``(B, Tq, Tv)`` weights) and ``use_causal_mask``.
    """

    supports_masking = True
    _score_modes = ("dot", "concat")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in self._score_modes:
            raise ValueError(f"Invalid value for argument score_mode of {type(self).__name__}. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = _check_dropout(dropout, type(self).__name__)
        self.seed = seed
        self._rng = make_rng(seed) if seed is not None else None
        self.scale = self.concat_score_weight = None

    # ------------------------------------------------------------------ checks and shapes
    def _validate(self, inputs, mask=None):
        name = f"{type(self).__name__} layer {self.name!r}"
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]; received inputs of type {type(inputs).__name__}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} accepts an inputs list of length 2 or 3, namely [query, value] or "
                             f"[query, value, key]; received length {len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name}: argument `mask` must be a list, namely [query_mask, value_mask]; "
                                 f"received mask of type {type(mask).__name__}.")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"{name} accepts a mask list of length 2 or 3; received length {len(mask)}.")

    def _check_input_shape(self, input_shape):
        name = f"{type(self).__name__} layer {self.name!r}"
        if isinstance(input_shape, tuple) and all(isinstance(d, (int, type(None))) for d in input_shape):
            raise ValueError(f"{name} must be called on a list of inputs, namely [query, value] or "
                             f"[query, value, key]; received one tensor of shape {input_shape}.")
        self._validate(input_shape)
        shapes = [tuple(s) for s in input_shape]
        query, value = shapes[0], shapes[1]
        key = shapes[2] if len(shapes) > 2 else value
        for what, shape in zip(("query", "value", "key"), (query, value, key)):
            if len(shape) != 3:
                raise ValueError(f"{name}: `{what}` must have rank 3 (batch, steps, features); received shape "
                                 f"{shape}.")
        if None not in (key[1], value[1]) and key[1] != value[1]:
            raise ValueError(f"{name}: `key` and `value` must have the same number of steps; received key shape "
                             f"{key} and value shape {value}.")
        if None not in (query[-1], key[-1]) and query[-1] != key[-1]:
            raise ValueError(f"{name}: `query` and `key` must have the same number of features; received query "
                             f"shape {query} and key shape {key}.")

    def compute_output_shape(self, input_shape, return_attention_scores=False, use_causal_mask=False, **kwargs):
        query, value = tuple(input_shape[0]), tuple(input_shape[1])
        key = tuple(input_shape[2]) if len(input_shape) > 2 else value
        output = query[:-1] + (value[-1],)
        if return_attention_scores:
            return output, query[:-1] + (key[-2],)
        return output

    def compute_mask(self, inputs, mask=None):
        self._validate(inputs, mask)
        if mask is None or mask[0] is None:
            return None
        return np.asarray(mask[0])

    # ------------------------------------------------------------------ weights
    def build(self, input_shape):
        self._check_input_shape(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(), initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(name="concat_score_weight", shape=(), initializer="ones")
        self.built = True

    # ------------------------------------------------------------------ computation
    def _scores(self, query, key):
        """``(B, Tq, Tv)`` scores."""
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
            return scores * self.scale if self.scale is not None else scores
        pairs = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)  # (B, Tq, Tv, D)
        if self.scale is not None:
            pairs = self.scale * pairs
        return self.concat_score_weight * ops.sum(ops.tanh(pairs), axis=-1)

    def _training_rng(self):
        return (self._rng or make_rng(None)) if self.dropout > 0 else None

    def _dropout_keep(self, shape, dtype):
        return dropout_keep(self, self.dropout, shape, dtype)

    def call(self, inputs, mask=None, training=False, return_attention_scores=False, use_causal_mask=False):
        self._validate(inputs, mask)
        self._check_input_shape([tuple(np.shape(t)) for t in inputs])
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask = value_mask = None
        if mask is not None:
            query_mask, value_mask = mask[0], mask[1]
        scores = self._scores(query, key)  # (B, Tq, Tv)
        shown = None if value_mask is None else np.asarray(value_mask, bool)[:, None, :]  # (B, 1, Tv)
        if use_causal_mask:
            causal = causal_mask(scores.shape[-2], scores.shape[-1])
            shown = causal if shown is None else shown & causal
        if shown is not None:
            big = 65504.0 if scores.dtype == np.float16 else 1.0e9
            scores = ops.where(shown, scores, scores - big)  # hidden keys get (almost) no weight
        weights = ops.softmax(scores, axis=-1)
        if training and self.dropout > 0:
            weights = weights * self._dropout_keep(weights.shape, weights.dtype)
        output = ops.matmul(weights, value)  # (B, Tq, Dv)
        if query_mask is not None:
            output = ops.where(np.asarray(query_mask, bool)[..., None], output, 0)
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self):
        config = super().get_config()
        config.update({"use_scale": self.use_scale, "score_mode": self.score_mode, "dropout": self.dropout,
                       "seed": self.seed})
        return config


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau style): scores ``sum_d scale_d * tanh(q_i + k_j)``, with a learned ``scale``
    of shape ``(D,)`` when ``use_scale`` (the default). Otherwise as :class:`Attention`."""

    _score_modes = ("dot",)  # not an argument here: Keras's AdditiveAttention has no score_mode

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        if "score_mode" in kwargs:
            raise TypeError(f"AdditiveAttention() got an unexpected keyword argument 'score_mode'; received "
                            f"score_mode={kwargs['score_mode']!r}.")
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        dim = input_shape[0][-1]
        if dim is None:
            raise ValueError(f"AdditiveAttention layer {self.name!r} needs a known query feature size; received "
                             f"query shape {tuple(input_shape[0])}.")
        if self.use_scale:
            self.scale = self.add_weight(name="scale", shape=(dim,), initializer="glorot_uniform")
        self.built = True

    def _scores(self, query, key):
        pairs = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))  # (B, Tq, Tv, D)
        if self.scale is not None:
            pairs = self.scale * pairs
        return ops.sum(pairs, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
