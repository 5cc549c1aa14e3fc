"""DepthwiseConv1D/2D and SeparableConv1D/2D against Keras 3.15.1.

* each layer alone, random weights (biases included): weight names and shapes, outputs (1e-5) and static output
  shapes, get_config and the from_config round trip; channels_first against channels_last transposed;
* a keyword-spotting-style model (SeparableConv1D, DepthwiseConv1D, LSTM): three Adam steps agree with Keras (2e-5),
  and the .keras file goes both ways;
* float64 finite differences against the training gradients;
* bad arguments and inputs are refused with the argument named.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers as R
from tests.support.gradcheck import gradcheck
from tests.support.keras_parity import plain_config, trains_alike_and_files_go_both_ways

CASES = [
    ("DepthwiseConv1D", dict(kernel_size=3), (12, 4)),
    ("DepthwiseConv1D", dict(kernel_size=4, depth_multiplier=3, padding="same", activation="relu"), (12, 4)),
    ("DepthwiseConv1D", dict(kernel_size=3, strides=2, use_bias=False), (13, 2)),
    ("DepthwiseConv1D", dict(kernel_size=2, dilation_rate=3, depth_multiplier=2, padding="same"), (12, 3)),
    ("DepthwiseConv2D", dict(kernel_size=(3, 2), depth_multiplier=2, activation="tanh"), (7, 6, 3)),
    ("DepthwiseConv2D", dict(kernel_size=3, strides=2, padding="same"), (7, 6, 2)),  # (TF: equal strides only)
    ("SeparableConv1D", dict(filters=5, kernel_size=3), (12, 4)),
    ("SeparableConv1D", dict(filters=6, kernel_size=5, depth_multiplier=2, padding="same", activation="swish"),
     (12, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, strides=2, use_bias=False), (13, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=2, dilation_rate=2), (12, 3)),
    ("SeparableConv2D", dict(filters=5, kernel_size=(2, 3), depth_multiplier=2), (7, 6, 3)),
    ("SeparableConv2D", dict(filters=3, kernel_size=3, strides=2, padding="same", activation="sigmoid"), (7, 6, 2)),
]
IDS = [f"{i}:{name}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=IDS)
def test_layer_alone_matches_keras(keras, rng, name, kwargs, shape):
    x = rng.normal(size=(2,) + shape).astype("float32")
    kl, rl = getattr(keras.layers, name)(**kwargs), getattr(R, name)(**kwargs)
    kl(x)
    rl(x)
    assert [(w.name, tuple(w.shape)) for w in rl.weights] == [(w.name, tuple(w.shape)) for w in kl.weights]
    weights = [rng.uniform(-1, 1, tuple(w.shape)).astype("float32") for w in kl.weights]
    kl.set_weights(weights)
    rl.set_weights(weights)
    expected = np.asarray(kl(x))
    got = rl(x)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert tuple(rl.compute_output_shape((None,) + shape)) == tuple(kl.compute_output_shape((None,) + shape))
    assert plain_config(rl.get_config()) == plain_config(kl.get_config())
    again = getattr(R, name).from_config(rl.get_config())
    again(x)
    again.set_weights(weights)
    np.testing.assert_array_equal(again(x), got)

    # channels_first: the same weights on the transposed input give the transposed output
    first = getattr(R, name)(**kwargs, data_format="channels_first")
    xt = np.moveaxis(x, -1, 1)
    first(xt)
    first.set_weights(weights)
    np.testing.assert_allclose(first(xt), np.moveaxis(got, -1, 1), atol=1e-5, rtol=0)


def _kws_model(K):
    L = K.layers
    x = K.Input((20, 3))
    h = L.SeparableConv1D(8, 5, padding="same", depth_multiplier=2, activation="relu", name="sep")(x)
    h = L.DepthwiseConv1D(3, strides=2, name="dw")(h)
    h = L.LSTM(6)(h)
    return K.Model(x, L.Dense(2)(h))


def test_model_trains_as_keras_and_files_go_both_ways(keras, tmp_path, rng):
    data = rng.normal(size=(8, 20, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    trains_alike_and_files_go_both_ways(keras, rnnlab, _kws_model, data, y, rng, tmp_path)


GRADIENT_CASES = [c for c in CASES if c[1].get("activation") != "relu"]  # relu's kink


@pytest.mark.parametrize("name,kwargs,shape", GRADIENT_CASES,
                         ids=[f"{i}:{c[0]}" for i, c in enumerate(GRADIENT_CASES)])
def test_gradients_float64(name, kwargs, shape):
    rng = np.random.default_rng(len(name) + len(shape))
    layer = getattr(R, name)(**kwargs, dtype="float64")
    x = rng.normal(size=(2,) + shape)
    layer(x)
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()])
    assert gradcheck(layer, (x,), {}, rng) <= 1e-6


@pytest.mark.parametrize("name,kwargs,error,message", [
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=0), ValueError, "depth_multiplier"),
    ("DepthwiseConv1D", dict(kernel_size=0), ValueError, "kernel_size"),
    ("DepthwiseConv1D", dict(kernel_size=3, padding="causal"), ValueError, "padding"),
    ("DepthwiseConv1D", dict(kernel_size=3, pointwise_initializer="zeros"), TypeError, "pointwise"),
    ("SeparableConv1D", dict(filters=0, kernel_size=3), ValueError, "filters"),
    ("SeparableConv2D", dict(filters=2, kernel_size=3, data_format="channels_middle"), ValueError, "data_format"),
])
def test_bad_arguments_are_refused(name, kwargs, error, message):
    with pytest.raises(error, match=message):
        getattr(R, name)(**kwargs)


def test_bad_inputs_are_refused():
    layer = R.SeparableConv1D(4, 3)
    with pytest.raises(ValueError, match="ndim"):
        layer(np.ones((2, 5), "float32"))
    layer(np.ones((2, 6, 3), "float32"))
    with pytest.raises(ValueError, match="must have 3 channels"):
        layer(np.ones((2, 6, 5), "float32"))
    with pytest.raises(ValueError, match="kernel_size"):
        R.DepthwiseConv1D(5)(np.ones((2, 3, 2), "float32"))
