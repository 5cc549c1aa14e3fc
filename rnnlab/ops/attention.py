"""``dot_product_attention``: softmax attention over heads, written with recorded ops (``einsum``, ``softmax``,
``where``), so its gradient w.r.t. query, key, value and bias is theirs.

Shapes are Keras's: query ``(B, T, N, H)``, key and value ``(B, S, K, H)`` with ``N`` a multiple of ``K``
(grouped-query attention repeats each key/value head ``N / K`` times), bias and mask broadcastable to
``(B, N, T, S)``. The logits and softmax are computed in at least float32, as in Keras's TensorFlow backend.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.arithmetic import add, multiply
from rnnlab.ops.dtypes import as_array, cast, result_type
from rnnlab.ops.products import einsum
from rnnlab.ops.selection import where
from rnnlab.ops.shapes import repeat
from rnnlab.ops.softmax import softmax
from rnnlab.ops.tensor import operand, unwrap


def _large_negative(dtype):
    """The logit a masked position gets (Keras's: -0.7 times a value near the dtype's largest)."""
    return np.asarray((65500.0 if dtype == "float16" else 3.38953e38) * -0.7, dtype=dtype)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """``softmax(scale * q k^T + bias, masked) v`` per head: ``(B, T, N, H)``. ``scale`` defaults to
    ``1 / sqrt(H)``; ``mask`` (booleans, True = attend) and ``is_causal`` (position ``t`` sees ``s <= t``)
    combine. Flash attention and logit soft-capping are not available, as in Keras's TensorFlow backend."""
    if flash_attention:
        raise ValueError("ops.dot_product_attention: flash_attention=True is not supported by rnnlab (nor by "
                         "Keras's TensorFlow backend); received flash_attention=True.")
    if attn_logits_soft_cap is not None:
        raise ValueError("ops.dot_product_attention: `attn_logits_soft_cap` is only supported by JAX on TPU; "
                         f"received attn_logits_soft_cap={attn_logits_soft_cap!r}.")
    q, k, v = operand(query), operand(key), operand(value)
    shapes = [np.shape(as_array(t)) for t in (q, k, v)]
    if any(len(s) != 4 for s in shapes):
        raise ValueError(f"ops.dot_product_attention: query, key and value must be 4-D (batch, length, heads, "
                         f"head_dim); received shapes {shapes}.")
    heads, kv_heads = shapes[0][2], shapes[1][2]
    if heads % kv_heads or shapes[1] != shapes[2]:
        raise ValueError(f"ops.dot_product_attention: key and value must have the same shape and a number of "
                         f"heads that divides the query's ({heads}); received key {shapes[1]}, value {shapes[2]}.")
    dtype = result_type(q, k, v)
    q, k, v = cast(q, dtype), cast(k, dtype), cast(v, dtype)
    if kv_heads < heads and kv_heads > 1:
        k, v = repeat(k, heads // kv_heads, axis=2), repeat(v, heads // kv_heads, axis=2)
    elif kv_heads == 1 and heads > 1:
        k, v = repeat(k, heads, axis=2), repeat(v, heads, axis=2)  # one shared head broadcasts
    if scale is None:
        scale = 1.0 / np.sqrt(np.float32(shapes[1][-1]))
    logits_dtype = result_type(dtype, "float32")
    logits = cast(einsum("BTNH,BSNH->BNTS", q, k), logits_dtype)  # (B, N, T, S)
    logits = multiply(logits, np.asarray(unwrap(scale), dtype=logits_dtype))
    if bias is not None:
        logits = add(logits, cast(bias, logits_dtype))
    if mask is not None or is_causal:
        keep = np.ones(np.shape(as_array(logits)), dtype=bool)
        if mask is not None:
            keep = keep & np.asarray(unwrap(mask), dtype=bool)
        if is_causal:
            t, s = keep.shape[-2:]
            keep = keep & np.tri(t, s, dtype=bool)
        logits = where(keep, logits, _large_negative(logits_dtype))
    probs = cast(softmax(cast(logits, result_type(logits_dtype, "float32")), axis=-1), dtype)
    return einsum("BNTS,BSNH->BTNH", probs, v)


__all__ = ["dot_product_attention"]
