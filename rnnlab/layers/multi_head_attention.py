"""Multi-head attention, as Keras 3.15's ``MultiHeadAttention``.

With ``query`` ``(B, T, Dq)``, ``value`` ``(B, S, Dv)``, ``key`` ``(B, S, Dk)`` (default ``value``), ``N`` heads::

    q = query @ Wq + bq        (B, T, N, key_dim)     Wq: (Dq, N, key_dim), bq: (N, key_dim)
    k = key @ Wk + bk          (B, S, N, key_dim)     Wk: (Dk, N, key_dim), bk: (N, key_dim)
    v = value @ Wv + bv        (B, S, N, value_dim)   Wv: (Dv, N, value_dim), bv: (N, value_dim)
    scores = softmax_S(k . (q / sqrt(key_dim)), hidden entries set to -1e9)          (B, N, T, S)
    output = sum_{n, e} (dropout(scores) @ v)[..., n, e] * Wo[n, e] + bo            (B, T, Dq or output_shape)

The projections are Keras's ``EinsumDense`` sublayers ``query``, ``key``, ``value`` and ``attention_output``
(weights in that order). ``attention_axes`` generalises the ``T``/``S`` axes to several axes of a higher-rank
query. The hidden entries come from the query's own mask, ``value_mask``, ``key_mask``, ``attention_mask``,
``use_causal_mask`` and ``sliding_window``, combined with AND. Written with :mod:`rnnlab.ops`: its training
backward comes from the record of those ops.
"""
from __future__ import annotations

import math
import string
import warnings

import numpy as np

from rnnlab import constraints, initializers, ops, regularizers
from rnnlab.engine.layer import KerasTensor, Layer
from rnnlab.layers.attention import causal_mask, dropout_keep
from rnnlab.ops.tensor import Tensor
from rnnlab.random import make_rng

_MASKED_SCORE = -1e9  # Keras's Softmax sets hidden scores to this (float32 and float64)


def projection_equation(free_dims, bound_dims, output_dims):
    """``(equation, bias letters)`` of a projection: the first ``free_dims`` input axes pass through, the last
    ``bound_dims`` are contracted with the kernel, which adds ``output_dims`` axes (``"abc,cde->abde"``)."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    out = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}", out


def attention_equations(rank, attention_axes):
    """``(scores equation, combine equation, scores rank)`` for projected tensors of ``rank`` axes
    ``(B, <other axes>, <attention axes>, heads, channels)``: the query-key product over channels, giving
    ``(<batch axes and heads>, <query attention axes>, <key attention axes>)``, and its product with the values."""
    letters = string.ascii_lowercase
    target = letters[:rank]  # the query (and output) axes
    batch = [i for i in range(rank) if i not in attention_axes and i != rank - 1]
    fresh = iter(letters[rank:])
    source = "".join(target[i] if i in batch or i == rank - 1 else next(fresh) for i in range(rank))
    product = "".join([target[i] for i in batch] + [target[i] for i in attention_axes] +
                      [source[i] for i in attention_axes])
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class _Projection(Layer):
    """Keras's ``EinsumDense`` as multi-head attention uses it: ``einsum(equation, x, kernel) + bias``, the bias
    over the kernel's output axes."""

    def __init__(self, equation, kernel_shape, bias_shape, init, **kwargs):
        super().__init__(**kwargs)
        self.equation = equation
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape, initializer=init["kernel_initializer"],
                                      regularizer=init["kernel_regularizer"], constraint=init["kernel_constraint"])
        self.bias = None
        if bias_shape is not None:
            self.bias = self.add_weight(name="bias", shape=bias_shape, initializer=init["bias_initializer"],
                                        regularizer=init["bias_regularizer"], constraint=init["bias_constraint"])
        self.built = True

    def call(self, inputs):
        y = ops.einsum(self.equation, inputs, self.kernel)
        return y + self.bias if self.bias is not None else y


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Received an invalid value for argument `{name}` of MultiHeadAttention, expected a "
                         f"positive integer. Received: {name}={value!r}")
    return int(value)


def _shape(t, argument):
    if isinstance(t, (KerasTensor, np.ndarray, Tensor)) or hasattr(t, "shape"):
        return tuple(t.shape)
    try:
        return np.shape(np.asarray(t))
    except (TypeError, ValueError):
        raise TypeError(f"Argument `{argument}` of MultiHeadAttention must be a tensor; received {t!r}.") from None


class MultiHeadAttention(Layer):
    """Multi-head dot-product attention (Vaswani et al. 2017); see the module docstring.

    Call as ``layer(query, value, key=None, attention_mask=None, return_attention_scores=False, training=False,
    use_causal_mask=False)``; ``value_mask``/``key_mask`` and the query's mask are filled in from masked inputs.
    As in Keras 3.15, the query mask is always the query's own mask: an explicit ``query_mask=`` is not used.
    """

    supports_masking = True
    _masks_from_inputs = {"query_mask": "query"}  # Keras reads it from the query, whatever the call passes

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, sliding_window=None, flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate=False, seed=None, **kwargs):
        self._num_heads = _positive_int(num_heads, "num_heads")
        self._key_dim = _positive_int(key_dim, "key_dim")
        self._value_dim = self._key_dim if value_dim is None else _positive_int(value_dim, "value_dim")
        if activity_regularizer is not None:
            raise ValueError("Argument `activity_regularizer` of MultiHeadAttention (which Keras applies to each "
                             "of its projections) is not supported by rnnlab; received "
                             f"activity_regularizer={activity_regularizer!r}.")
        if flash_attention:
            raise ValueError("Argument `flash_attention` of MultiHeadAttention is not supported by rnnlab (it has "
                             f"no flash kernel); received flash_attention={flash_attention!r}. Leave it None.")
        if use_gate:
            raise ValueError("Argument `use_gate` of MultiHeadAttention is not supported by rnnlab; received "
                             f"use_gate={use_gate!r}.")
        super().__init__(**kwargs)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.number)) or not 0 <= dropout < 1:
            raise ValueError(f"Argument `dropout` of MultiHeadAttention must be a float in [0, 1); received "
                             f"dropout={dropout!r}.")
        self._dropout = float(dropout)
        self._use_bias = bool(use_bias)
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"Invalid `output_shape` of MultiHeadAttention: {output_shape!r}. When specified, "
                                 "it must be an int or a tuple or list of ints.") from None
        self._output_shape = output_shape or None
        if isinstance(attention_axes, (int, np.integer)):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError(f"Argument `attention_axes` of MultiHeadAttention must be an int, list, or tuple; "
                             f"received attention_axes={attention_axes!r}.")
        self._attention_axes = None if attention_axes is None else tuple(attention_axes)
        if sliding_window is not None:
            sliding_window = _positive_int(sliding_window, "sliding_window")
        self._sliding_window = sliding_window
        self._kernel_initializer = initializers.get(kernel_initializer, "kernel_initializer")
        self._bias_initializer = initializers.get(bias_initializer, "bias_initializer")
        self._kernel_regularizer = regularizers.get(kernel_regularizer, "kernel_regularizer")
        self._bias_regularizer = regularizers.get(bias_regularizer, "bias_regularizer")
        self._kernel_constraint = constraints.get(kernel_constraint, "kernel_constraint")
        self._bias_constraint = constraints.get(bias_constraint, "bias_constraint")
        self.seed = seed
        self._rng = make_rng(seed) if seed is not None else None
        self.query_dense = self.key_dense = self.value_dense = self.output_dense = None

    def _training_rng(self):
        return (self._rng or make_rng(None)) if self._dropout > 0 else None

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)

    def _sublayers(self):
        return [s for s in (self.query_dense, self.key_dense, self.value_dense, self.output_dense) if s is not None]

    # ------------------------------------------------------------------ building
    def build(self, query_shape, value_shape=None, key_shape=None):
        """Create the four projections for inputs of these shapes (``key_shape`` defaults to ``value_shape``)."""
        if value_shape is None:
            raise ValueError(f"MultiHeadAttention layer {self.name!r} is built from its call: call it on "
                             "(query, value) first.")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        self._check_shapes(query_shape, value_shape, key_shape)
        init = {"kernel_initializer": self._kernel_initializer, "bias_initializer": self._bias_initializer,
                "kernel_regularizer": self._kernel_regularizer, "bias_regularizer": self._bias_regularizer,
                "kernel_constraint": self._kernel_constraint, "bias_constraint": self._bias_constraint}
        rank = len(query_shape)

        def heads(name, shape, size):  # (..., D) -> (..., heads, size)
            equation, _ = projection_equation(rank - 1, 1, 2)
            bias = (self._num_heads, size) if self._use_bias else None
            return self._track(_Projection(equation, (shape[-1], self._num_heads, size), bias, init, name=name,
                                           dtype=self.dtype))

        self.query_dense = heads("query", query_shape, self._key_dim)
        self.key_dense = heads("key", key_shape, self._key_dim)
        self.value_dense = heads("value", value_shape, self._value_dim)
        out = self._output_shape or (query_shape[-1],)
        equation, _ = projection_equation(rank - 1, 2, len(out))
        self.output_dense = self._track(_Projection(
            equation, (self._num_heads, self._value_dim) + tuple(out), tuple(out) if self._use_bias else None, init,
            name="attention_output", dtype=self.dtype))
        projected_rank = rank + 1
        if self._attention_axes is None:
            self._attention_axes = tuple(range(1, projected_rank - 2))
        else:
            self._attention_axes = tuple(a if a >= 0 else projected_rank - 1 + a for a in self._attention_axes)
        self._scores_equation, self._combine_equation, scores_rank = attention_equations(
            projected_rank, self._attention_axes)
        self._softmax_axes = tuple(range(scores_rank - len(self._attention_axes), scores_rank))
        self.built = True

    def _check_shapes(self, query_shape, value_shape, key_shape):
        name = f"MultiHeadAttention layer {self.name!r}"
        if len(query_shape) < 3:
            raise ValueError(f"{name}: `query` must have rank >= 3 (batch, steps, features); received shape "
                             f"{query_shape}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(f"{name}: all dimensions of `value` and `key`, except the last one, must be equal; "
                             f"received value shape {value_shape} and key shape {key_shape}.")
        if len(value_shape) != len(query_shape):
            raise ValueError(f"{name}: `query` and `value` must have the same rank; received query shape "
                             f"{query_shape} and value shape {value_shape}.")
        if self.built:
            for what, shape, dense in (("query", query_shape, self.query_dense), ("value", value_shape,
                                       self.value_dense), ("key", key_shape, self.key_dense)):
                if shape[-1] is not None and shape[-1] != dense.kernel.shape[0]:
                    raise ValueError(f"{name}: `{what}` must have {dense.kernel.shape[0]} features (last axis), "
                                     f"as when the layer was built; received shape {shape}.")

    def _build_from_call(self, args, kwargs):
        """Bind ``(query, value, key)`` from a call, build on their shapes, and check them."""
        names = ("query", "value", "key")
        bound = dict(zip(names, args))
        bound.update((k, v) for k, v in kwargs.items() if k in names)
        if bound.get("value") is None:
            raise TypeError(f"MultiHeadAttention layer {self.name!r} must be called with (query, value); "
                            "received no `value`.")
        shapes = [None if bound.get(n) is None else _shape(bound[n], n) for n in names]
        if not self.built:
            self.build(*shapes)
        else:
            self._check_shapes(shapes[0], shapes[1], shapes[1] if shapes[2] is None else shapes[2])

    def __call__(self, *args, **kwargs):
        self._build_from_call(args, kwargs)
        if kwargs.get("query_mask") is not None and getattr(args[0] if args else kwargs.get("query"),
                                                            "_keras_mask", None) is None:
            warnings.warn(f"MultiHeadAttention layer {self.name!r}: the `query_mask` argument is not used; as in "
                          "Keras 3.15, the query mask is the query's own mask (from Embedding(mask_zero=True) or "
                          "Masking). Pass `attention_mask` to hide query positions.", stacklevel=2)
        return super().__call__(*args, **kwargs)

    def forward_backward(self, query, *args, training=True, grads=None, **kwargs):
        self._build_from_call((query,) + args, kwargs)
        return super().forward_backward(query, *args, training=training, grads=grads, **kwargs)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None, return_attention_scores=False,
                             **kwargs):
        value_shape = kwargs.get("value") if value_shape is None else value_shape
        key_shape = kwargs.get("key") if key_shape is None else key_shape
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        output = query_shape[:-1] + (self._output_shape or (query_shape[-1],))
        if not return_attention_scores:
            return output
        axes = self._attention_axes
        batch = [query_shape[i] for i in range(len(query_shape) - 1) if i not in axes]
        return output, tuple(batch) + (self._num_heads,) + tuple(query_shape[i] for i in axes) + \
            tuple(key_shape[i] for i in axes)

    # ------------------------------------------------------------------ computation
    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """The AND of every mask that applies, broadcastable to ``(B, T, S)``, or None."""
        parts = []
        if query_mask is not None:
            parts.append(np.asarray(query_mask).astype(bool)[..., None])  # (B, T, 1)
        for m in (value_mask, key_mask):
            if m is not None:
                parts.append(np.expand_dims(np.asarray(m).astype(bool), -2))  # (B, 1, S)
        steps_q, steps_v = np.shape(query)[1], np.shape(value)[1]
        if use_causal_mask:
            parts.append(causal_mask(steps_q, steps_v))  # (1, T, S)
        if self._sliding_window is not None:
            gap = np.abs(np.arange(steps_q)[:, None] - np.arange(steps_v)[None, :])
            parts.append((gap < self._sliding_window)[None])
        if attention_mask is not None:
            parts.insert(0, np.asarray(attention_mask).astype(bool))
        if not parts:
            return None
        mask = parts[0]
        for part in parts[1:]:
            mask = mask & part
        return mask

    def _masked_softmax(self, scores, mask):
        if mask is not None:
            axis = -len(self._attention_axes) * 2 - 1
            while mask.ndim < scores.ndim:
                mask = np.expand_dims(mask, axis)
            scores = ops.where(mask, scores, _MASKED_SCORE)
        if len(self._softmax_axes) == 1:
            return ops.softmax(scores, axis=self._softmax_axes[0])
        return ops.exp(scores - ops.logsumexp(scores, axis=self._softmax_axes, keepdims=True))

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        key = value if key is None else key
        mask = self._attention_mask(query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        q = self.query_dense.call(query)  # (B, T, N, key_dim)
        k = self.key_dense.call(key)  # (B, S, N, key_dim)
        v = self.value_dense.call(value)  # (B, S, N, value_dim)
        q = q * np.asarray(1.0 / math.sqrt(float(self._key_dim)), dtype=self.dtype)
        scores = self._masked_softmax(ops.einsum(self._scores_equation, k, q), mask)  # (B, N, T, S)
        weights = scores
        if training and self._dropout > 0:
            weights = scores * dropout_keep(self, self._dropout, scores.shape, scores.dtype)
        output = self.output_dense.call(ops.einsum(self._combine_equation, weights, v))  # (B, T, out)
        if return_attention_scores:
            return output, scores
        return output

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_heads": self._num_heads, "key_dim": self._key_dim, "value_dim": self._value_dim,
            "dropout": self._dropout, "use_bias": self._use_bias, "use_gate": False,
            "output_shape": self._output_shape, "attention_axes": self._attention_axes,
            "sliding_window": self._sliding_window,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": regularizers.serialize(self._kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self._bias_regularizer),
            "activity_regularizer": None,
            "kernel_constraint": constraints.serialize(self._kernel_constraint),
            "bias_constraint": constraints.serialize(self._bias_constraint),
            "seed": self.seed,
        })
        return config
