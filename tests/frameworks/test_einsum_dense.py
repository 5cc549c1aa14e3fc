"""EinsumDense against Keras 3.15.1: the three equation forms, bias axes anywhere in the output, activations.

* each case alone, random kernel and bias: weight shapes, outputs (1e-5), compute_output_shape, get_config (equal
  to Keras's, dtype policy aside) and the from_config round trip;
* the kernel initializer's fans counted over the kernel's input and output axes, as Keras counts them;
* an LSTM model with an EinsumDense head: three Adam steps agree with Keras (2e-5), and the .keras file goes both
  ways;
* float64 finite differences against the training gradients (kernel, bias, input);
* bad equations, shapes and Keras-only arguments are refused with the argument named.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers as R
from tests.support.gradcheck import gradcheck
from tests.support.keras_parity import plain_config, trains_alike_and_files_go_both_ways

# (equation, output_shape, bias_axes, activation, input shape without the batch)
CASES = [
    ("ab,bc->ac", 6, "c", None, (5,)),
    ("abc,cd->abd", (None, 7), "d", "tanh", (4, 5)),
    ("abc,cde->abde", (None, 3, 4), "de", None, (4, 5)),
    ("abc,cde->abde", (4, 3, 4), "d", "relu", (4, 5)),
    ("abc,cd->abd", (None, 7), None, None, (4, 5)),
    ("abc,bd->adc", (6, 5), "c", None, (4, 5)),
    ("abc,bd->adc", (6, None), "d", "sigmoid", (4, 5)),
    ("...b,bc->...c", 6, "c", None, (3, 4, 5)),
    ("...cd,de->...ce", (4, 6), "ce", None, (2, 4, 5)),
    ("ab...,bc->ac...", (7,), "c", None, (5, 3, 2)),
    ("abcd,cde->abe", (None, 3), "e", "gelu", (4, 2, 3)),
]
IDS = [f"{i}:{c[0]}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("equation,output_shape,bias_axes,activation,shape", CASES, ids=IDS)
def test_einsum_dense_alone_matches_keras(keras, rng, equation, output_shape, bias_axes, activation, shape):
    x = rng.normal(size=(3,) + shape).astype("float32")
    kwargs = dict(output_shape=output_shape, bias_axes=bias_axes, activation=activation)
    kl, rl = keras.layers.EinsumDense(equation, **kwargs), R.EinsumDense(equation, **kwargs)
    kl(x)
    rl(x)
    assert [w.shape for w in rl.get_weights()] == [tuple(w.shape) for w in kl.get_weights()]
    assert [w.name for w in rl.weights] == [w.name for w in kl.weights]
    weights = [rng.uniform(-1, 1, w.shape).astype("float32") for w in kl.get_weights()]
    kl.set_weights(weights)
    rl.set_weights(weights)
    expected = np.asarray(kl(x))
    got = rl(x)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    static = tuple(rl.compute_output_shape((None,) + shape))
    # as Keras's: an output axis that output_shape leaves None stays None (unknown) in the static shape
    assert len(static) == expected.ndim and all(s in (None, e) for s, e in zip(static[1:], expected.shape[1:]))
    if not (equation.startswith("...") and len(shape) - (len(equation.split(",")[0]) - 3) >= 2):
        assert static == tuple(kl.compute_output_shape((None,) + shape))
    # else Keras 3.15.1 lists two or more leading elided axes in reverse order in its static shape (its outputs
    # have them in order); rnnlab gives the outputs' shape.
    assert plain_config(rl.get_config()) == plain_config(kl.get_config())
    again = R.EinsumDense.from_config(rl.get_config())
    again(x)
    again.set_weights(weights)
    np.testing.assert_array_equal(again(x), got)


@pytest.mark.parametrize("initializer", ["glorot_uniform", "he_uniform", "lecun_uniform"])
def test_kernel_initializer_counts_fans_over_the_einsum_axes(keras, initializer):
    """A (40, 8, 16) kernel of 'abc,cde->abde': fan_in 40 and fan_out 8 * 16 as Keras counts them (a plain
    3-D count would take 40 * 8 and 40 * 16 as a convolution's).  Uniform draws: both layers' largest weight
    lies just below the same limit."""
    x = np.zeros((2, 3, 40), "float32")
    kl = keras.layers.EinsumDense("abc,cde->abde", (None, 8, 16), kernel_initializer=initializer)
    rl = R.EinsumDense("abc,cde->abde", (None, 8, 16), kernel_initializer=initializer)
    kl(x)
    rl(x)
    k_max, r_max = (float(np.abs(np.asarray(w)).max()) for w in (kl.get_weights()[0], rl.get_weights()[0]))
    assert abs(r_max - k_max) <= 0.01 * k_max, (r_max, k_max)
    # the layer's own initializer keeps no axes (its config is what the user gave)
    assert rl.get_config()["kernel_initializer"]["config"]["input_axes"] is None


def _head_model(K):
    L = K.layers
    x = K.Input((10, 3))
    h = L.LSTM(6, return_sequences=True)(x)
    h = L.EinsumDense("abc,cd->abd", (10, 4), bias_axes="d", activation="tanh", name="per_step")(h)
    h = L.Flatten()(h)
    h = L.EinsumDense("ab,bc->ac", 2, bias_axes="c", name="head")(h)
    return K.Model(x, h)


def test_lstm_with_einsum_dense_head_trains_as_keras_and_files_go_both_ways(keras, tmp_path, rng):
    data = rng.normal(size=(8, 10, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    trains_alike_and_files_go_both_ways(keras, rnnlab, _head_model, data, y, rng, tmp_path)


GRADIENT_CASES = [c for c in CASES if c[3] != "relu"]  # relu's kink: finite differences straddle it


@pytest.mark.parametrize("equation,output_shape,bias_axes,activation,shape", GRADIENT_CASES,
                         ids=[f"{i}:{c[0]}" for i, c in enumerate(GRADIENT_CASES)])
def test_einsum_dense_gradients_float64(equation, output_shape, bias_axes, activation, shape):
    rng = np.random.default_rng(len(equation) + len(shape))
    layer = R.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation=activation, dtype="float64")
    x = rng.normal(size=(2,) + shape)
    layer(x)
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()])
    assert gradcheck(layer, (x,), {}, rng) <= 1e-6


@pytest.mark.parametrize("kwargs,shape,message", [
    (dict(equation="ab,bc", output_shape=3), (4,), "Invalid einsum equation"),
    (dict(equation="ab,bc->ac", output_shape=3, bias_axes="z"), (4,), "Bias dimension 'z'"),
    (dict(equation="ab,bcz->ac", output_shape=3), (4,), "Kernel dimension 'z'"),
    (dict(equation="ab,bc->acq", output_shape=(3, 2)), (4,), "Dimension 'q'"),
    (dict(equation="abc,cd->abd", output_shape=(5, 3)), (4, 2), "do not match at shared dimension 'b'"),
    (dict(equation="abc,cd->abd", output_shape=(None, 3)), (4,), "names 3 input axes"),
])
def test_bad_equations_and_shapes_are_refused(kwargs, shape, message):
    layer = R.EinsumDense(**kwargs)
    with pytest.raises(ValueError, match=message):
        layer(np.ones((2,) + shape, "float32"))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(lora_rank=4), ValueError, "lora_rank"),
    (dict(quantization_config={"mode": "int8"}), ValueError, "quantization_config"),
    (dict(output_shape="7"), ValueError, "output_shape"),
    (dict(output_shape=(0,)), ValueError, "output_shape"),
    (dict(bias_axes=["c"]), TypeError, "bias_axes"),
    (dict(equation=None), TypeError, "equation"),
    (dict(activation="no_such_activation"), ValueError, "no_such_activation"),
])
def test_arguments_rnnlab_cannot_honour_are_refused(kwargs, error, message):
    arguments = {"equation": "ab,bc->ac", "output_shape": 3, **kwargs}
    with pytest.raises(error, match=message):
        R.EinsumDense(**arguments)


def test_input_of_another_rank_after_build_is_refused():
    layer = R.EinsumDense("...b,bc->...c", 3)
    layer(np.ones((2, 4, 5), "float32"))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.ones((2, 5), "float32"))
