"""Bad input to the attention, ConvLSTM and image layers: clear errors naming the layer and the argument."""
import warnings

import numpy as np
import pytest

import rnnlab
from rnnlab import layers


def _x(*shape):
    return np.zeros(shape, "float32")


@pytest.mark.parametrize("make, call, error, match", [
    (lambda: layers.Attention(), lambda l: l(_x(2, 3, 4)), ValueError, "list of inputs"),
    (lambda: layers.Attention(), lambda l: l([_x(2, 3, 4)]), ValueError, "length 2 or 3"),
    (lambda: layers.Attention(), lambda l: l([_x(2, 3, 4), _x(2, 5, 4)], mask=_x(2, 3)), ValueError, "`mask`"),
    (lambda: layers.Attention(), lambda l: l([_x(2, 3, 4), _x(2, 5, 4), _x(2, 6, 4)]), ValueError, "same number of steps"),
    (lambda: layers.Attention(), lambda l: l([_x(2, 3, 4), _x(2, 5, 3)]), ValueError, "same number of features"),
    (lambda: layers.Attention(), lambda l: l([_x(3, 4), _x(2, 5, 4)]), ValueError, "`query` must have rank 3"),
    (lambda: layers.Attention(score_mode="add"), None, ValueError, "score_mode"),
    (lambda: layers.Attention(dropout=1.5), None, ValueError, "`dropout`"),
    (lambda: layers.AdditiveAttention(score_mode="dot"), None, TypeError, "score_mode"),
    (lambda: layers.MultiHeadAttention(0, 3), None, ValueError, "num_heads"),
    (lambda: layers.MultiHeadAttention(2, 1.5), None, ValueError, "key_dim"),
    (lambda: layers.MultiHeadAttention(2, 3, attention_axes="time"), None, ValueError, "attention_axes"),
    (lambda: layers.MultiHeadAttention(2, 3, use_gate=True), None, ValueError, "use_gate"),
    (lambda: layers.MultiHeadAttention(2, 3, flash_attention=True), None, ValueError, "flash_attention"),
    (lambda: layers.MultiHeadAttention(2, 3, activity_regularizer="l2"), None, ValueError, "activity_regularizer"),
    (lambda: layers.MultiHeadAttention(2, 3), lambda l: l(_x(2, 3, 4), _x(2, 5, 4), _x(2, 6, 4)), ValueError,
     "`value` and `key`"),
    (lambda: layers.MultiHeadAttention(2, 3), lambda l: l(_x(2, 3, 4)), TypeError, "`value`"),
    (lambda: layers.ConvLSTM2D(2, 3), lambda l: l(_x(2, 3, 5, 2)), ValueError, "must have rank 5"),
    (lambda: layers.ConvLSTM2D(2, 7), lambda l: l(_x(2, 3, 5, 5, 2)), ValueError, "larger than the input"),
    (lambda: layers.ConvLSTM2D(2, 3, padding="causal"), None, ValueError, "`padding`"),
    (lambda: layers.ConvLSTM2D(2, 3, strides=2, dilation_rate=2), None, ValueError, "dilation_rate"),
    (lambda: layers.ConvLSTM2D(2, (3, 3, 3)), None, ValueError, "kernel_size"),
    (lambda: layers.ConvLSTM1D(0, 3), None, ValueError, "filters"),
    (lambda: layers.ConvLSTM2D(2, 3, data_format="nhwc"), None, ValueError, "data_format"),
    (lambda: layers.ConvLSTM2D(2, 3, padding="same"),
     lambda l: l(_x(2, 3, 5, 5, 2), initial_state=[_x(2, 5, 5, 3), _x(2, 5, 5, 3)]), ValueError, "initial_state"),
    (lambda: layers.Conv2D(3, 2, groups=2), None, ValueError, "divisible by `groups`"),
    (lambda: layers.Conv2D(4, 2, groups=2), lambda l: l(_x(2, 5, 5, 3)), ValueError, "groups=2"),
    (lambda: layers.Conv2D(4, 2), lambda l: l(_x(2, 5, 5)), ValueError, "expected ndim=4, found ndim=3"),
    (lambda: layers.Conv3D(4, 6), lambda l: l(_x(2, 5, 5, 5, 1)), ValueError, "larger than the input"),
    (lambda: layers.MaxPooling2D(padding="full"), None, ValueError, "`padding`"),
    (lambda: layers.GlobalAveragePooling2D(), lambda l: l(_x(2, 5, 3)), ValueError, "expected ndim=4, found ndim=3"),
])
def test_bad_input_is_refused_clearly(make, call, error, match):
    with pytest.raises(error, match=match):
        layer = make()
        call(layer)


def test_built_layers_refuse_other_shapes():
    conv_lstm = layers.ConvLSTM2D(2, 3)
    conv_lstm(_x(2, 3, 6, 6, 2))
    with pytest.raises(ValueError, match="per-step shape"):
        conv_lstm(_x(2, 3, 7, 6, 2))
    mha = layers.MultiHeadAttention(2, 3)
    mha(_x(2, 3, 4), _x(2, 5, 4))
    with pytest.raises(ValueError, match="`value` must have 4 features"):
        mha(_x(2, 3, 4), _x(2, 5, 6))


def test_explicit_query_mask_is_not_used_as_in_keras():
    """Keras 3.15's MultiHeadAttention takes the query mask from the query tensor only; an explicit one has no
    effect, and rnnlab says so."""
    mha = layers.MultiHeadAttention(2, 3)
    q, v = np.random.default_rng(0).normal(size=(2, 2, 3, 4)).astype("float32")
    plain = mha(q, v)
    with pytest.warns(UserWarning, match="query_mask"):
        masked = mha(q, v, query_mask=np.array([[True, False, False], [True, True, True]]))
    np.testing.assert_array_equal(plain, masked)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = rnnlab.Input((3,), dtype="int32")
        e = layers.Embedding(5, 4, mask_zero=True)(ids)
        model = rnnlab.Model(ids, layers.MultiHeadAttention(2, 3)(e, e))
    out = model.predict(np.array([[1, 2, 0], [3, 4, 1]]), verbose=0)
    assert out.shape == (2, 3, 4)
