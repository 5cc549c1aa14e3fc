"""Float64 finite differences against the record-derived backward of the attention, ConvLSTM and image layers
(written with rnnlab.ops): weights and inputs, with masks, causal masks, strides, groups, dropout (reseeded so
every pass draws the same masks), initial states and every output of return_state."""
import numpy as np
import pytest

from rnnlab import layers
from tests.support.gradcheck import gradcheck

F64 = "float64"
TOL = 1e-6


def _x(rng, *shape):
    return rng.normal(size=shape)


def _randomize(layer, rng):
    layer.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in layer.get_weights()])


def _check(layer, args, kwargs, rng, before_call=None):
    layer(*args, **kwargs)
    _randomize(layer, rng)
    assert gradcheck(layer, args, kwargs, rng=rng, before_call=before_call) < TOL


def _qvk_masks(rng):
    vm = rng.random((2, 5)) > 0.3
    vm[:, 0] = True
    return [rng.random((2, 3)) > 0.3, vm]


@pytest.mark.parametrize("kwargs, call", [
    ({"use_scale": True}, {"use_causal_mask": True}),
    ({"score_mode": "concat", "use_scale": True}, {"masks": True}),
    ({}, {"masks": True, "return_attention_scores": True}),
])
def test_attention(kwargs, call, rng):
    call = dict(call)
    if call.pop("masks", False):
        call["mask"] = _qvk_masks(rng)
    _check(layers.Attention(dtype=F64, **kwargs), ([_x(rng, 2, 3, 4), _x(rng, 2, 5, 3), _x(rng, 2, 5, 4)],), call,
           rng)


def test_additive_attention(rng):
    _check(layers.AdditiveAttention(dtype=F64), ([_x(rng, 2, 3, 4), _x(rng, 2, 5, 4)],),
           {"mask": _qvk_masks(rng), "use_causal_mask": True}, rng)


def test_attention_dropout_with_reseeded_masks(rng):
    layer = layers.Attention(dropout=0.3, seed=1, dtype=F64)

    def reseed():
        layer._rng = np.random.default_rng(11)

    _check(layer, ([_x(rng, 2, 3, 4), _x(rng, 2, 5, 4)],), {"training": True}, rng, before_call=reseed)


@pytest.mark.parametrize("kwargs, call", [
    ({"num_heads": 2, "key_dim": 3, "value_dim": 2}, {"use_causal_mask": True}),
    ({"num_heads": 2, "key_dim": 2, "output_shape": 3, "sliding_window": 2},
     {"value_mask": True, "return_attention_scores": True}),
])
def test_multi_head_attention(kwargs, call, rng):
    call = dict(call)
    if call.pop("value_mask", False):
        call["value_mask"] = rng.random((2, 5)) > 0.3
    _check(layers.MultiHeadAttention(dtype=F64, **kwargs), (_x(rng, 2, 3, 4), _x(rng, 2, 5, 3)), call, rng)


def test_multi_head_attention_over_two_axes(rng):
    x = _x(rng, 1, 2, 3, 4)
    _check(layers.MultiHeadAttention(2, 2, attention_axes=(1, 2), dtype=F64), (x, x.copy()), {}, rng)


@pytest.mark.parametrize("kwargs, call", [
    ({"padding": "same", "return_sequences": True, "return_state": True}, {"mask": True}),
    ({"strides": 2, "go_backwards": True, "return_state": True}, {"initial_state": (2, 2, 2, 2)}),
    ({"dilation_rate": 2, "padding": "same", "activation": "relu", "unit_forget_bias": False}, {}),
])
def test_convlstm2d(kwargs, call, rng):
    call = dict(call)
    if call.pop("mask", False):
        call["mask"] = rng.random((2, 3)) > 0.3
    shape = call.pop("initial_state", None)
    if shape is not None:
        call["initial_state"] = [_x(rng, *shape), _x(rng, *shape)]
    _check(layers.ConvLSTM2D(2, 2, dtype=F64, **kwargs), (_x(rng, 2, 3, 4, 4, 2),), call, rng)


def test_convlstm_dropout_with_reseeded_masks(rng):
    layer = layers.ConvLSTM1D(2, 2, dropout=0.3, recurrent_dropout=0.4, seed=3, return_sequences=True, dtype=F64)

    def reseed():
        layer.cell._rng = np.random.default_rng(5)

    _check(layer, (_x(rng, 2, 3, 5, 2),), {"training": True}, rng, before_call=reseed)


def test_convlstm3d(rng):
    _check(layers.ConvLSTM3D(2, 2, padding="same", dtype=F64), (_x(rng, 1, 2, 3, 2, 2, 1),), {}, rng)


@pytest.mark.parametrize("layer", [
    lambda: layers.Conv2D(4, (3, 2), strides=2, padding="same", groups=2, activation="tanh", dtype=F64),
    lambda: layers.Conv2D(2, 2, dilation_rate=2, data_format="channels_first", dtype=F64),
    lambda: layers.Conv3D(2, 2, activation="sigmoid", dtype=F64),
    lambda: layers.MaxPooling2D(3, 2, padding="same", dtype=F64),
    lambda: layers.GlobalAveragePooling2D(dtype=F64),
])
def test_image_layers(layer, rng):
    made = layer()
    shape = (2, 5, 4, 4) if not isinstance(made, layers.Conv3D) else (1, 3, 4, 3, 2)
    _check(made, (_x(rng, *shape),), {}, rng)
