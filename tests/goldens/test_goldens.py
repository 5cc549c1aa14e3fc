"""Goldens with hand-derived outputs, and the float64 path against an independent float64 NumPy reference."""
import math

import numpy as np
import pytest

import rnnlab
from rnnlab import fastpath, layers


def test_simple_rnn_linear_golden():
    """h_t = x_t * 1 + h_{t-1} * 0.5 + 0.25 with a linear activation: 1.25, 3.875, 5.1875."""
    layer = layers.SimpleRNN(1, activation="linear", return_sequences=True)
    x = np.array([[[1.0], [3.0], [3.0]]], "float32")
    layer(x)
    layer.set_weights([np.array([[1.0]]), np.array([[0.5]]), np.array([0.25])])
    np.testing.assert_allclose(layer(x)[0, :, 0], [1.25, 3.875, 5.1875], rtol=1e-7)


@pytest.mark.parametrize("path", ["reference", "numpy_fused"])
def test_lstm_constant_gate_golden(path):
    """Zero weights, bias (0, 0, b, 0): i = f = o = 1/2 and c_hat = tanh(b), so c_t = (1 - 2^-t) tanh(b)."""
    b = 0.8
    layer = layers.LSTM(1, return_sequences=True, return_state=True)
    x = np.ones((1, 3, 2), "float32")
    layer(x)
    layer.set_weights([np.zeros((2, 4)), np.zeros((1, 4)), np.array([0.0, 0.0, b, 0.0])])
    with fastpath.force(path):
        out, h, c = layer(x)
    g = math.tanh(b)
    expected_c = [(1 - 0.5 ** t) * g for t in (1, 2, 3)]
    expected_h = [0.5 * math.tanh(v) for v in expected_c]
    np.testing.assert_allclose(out[0, :, 0], expected_h, rtol=1e-6)
    np.testing.assert_allclose(c[0, 0], expected_c[-1], rtol=1e-6)
    np.testing.assert_allclose(h, out[:, -1], rtol=0, atol=0)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_constant_gate_golden(reset_after):
    """Zero weights, input bias (0, 0, b): z = 1/2, h_hat = tanh(b), so h_t = (1 - 2^-t) tanh(b)."""
    b = -0.6
    layer = layers.GRU(1, return_sequences=True, reset_after=reset_after)
    x = np.ones((1, 3, 2), "float32")
    layer(x)
    bias = np.array([[0.0, 0.0, b], [0.0, 0.0, 0.0]]) if reset_after else np.array([0.0, 0.0, b])
    layer.set_weights([np.zeros((2, 3)), np.zeros((1, 3)), bias])
    np.testing.assert_allclose(layer(x)[0, :, 0], [(1 - 0.5 ** t) * math.tanh(b) for t in (1, 2, 3)], rtol=1e-6)


def test_keras3_hard_sigmoid_formula():
    """Keras 3's hard_sigmoid is relu6(x + 3) / 6 (not TF-Keras 2's 0.2 x + 0.5)."""
    from rnnlab import activations

    x = np.array([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(activations.get("hard_sigmoid")(x), [0, 0, 0.25, 0.5, 0.75, 1, 1])
    np.testing.assert_allclose(activations.get("hard_sigmoid_tf2")(x), [0, 0, 0.2, 0.5, 0.8, 1, 1])


def test_sigmoid_is_stable_for_large_inputs():
    from rnnlab import activations

    with np.errstate(over="raise"):
        y = activations.sigmoid(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], "float32"))
    np.testing.assert_allclose(y, [0, 1 / (1 + math.exp(50)), 0.5, 1 / (1 + math.exp(-50)), 1], rtol=1e-6)


# ---------------------------------------------------------------- independent float64 reference
def _sig(v):
    return 1 / (1 + np.exp(-v))


def _ref_lstm(x, kernel, rec, bias, h, c):
    """Per-gate loop written without rnnlab's fused projection."""
    units = rec.shape[0]
    k = [kernel[:, j * units:(j + 1) * units] for j in range(4)]
    r = [rec[:, j * units:(j + 1) * units] for j in range(4)]
    bb = [bias[j * units:(j + 1) * units] for j in range(4)]
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        i = _sig(xt @ k[0] + h @ r[0] + bb[0])
        f = _sig(xt @ k[1] + h @ r[1] + bb[1])
        g = np.tanh(xt @ k[2] + h @ r[2] + bb[2])
        o = _sig(xt @ k[3] + h @ r[3] + bb[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def _ref_gru(x, kernel, rec, bias, h, reset_after):
    units = rec.shape[0]
    bi, br = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = _sig(xt @ kernel[:, :units] + bi[:units] + h @ rec[:, :units] + br[:units])
        r = _sig(xt @ kernel[:, units:2 * units] + bi[units:2 * units] + h @ rec[:, units:2 * units]
                 + br[units:2 * units])
        if reset_after:
            hh = np.tanh(xt @ kernel[:, 2 * units:] + bi[2 * units:] + r * (h @ rec[:, 2 * units:] + br[2 * units:]))
        else:
            hh = np.tanh(xt @ kernel[:, 2 * units:] + bi[2 * units:] + (r * h) @ rec[:, 2 * units:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), h


@pytest.mark.parametrize("path", ["reference", "numpy_fused"])
def test_lstm_float64_matches_independent_reference(path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 9, 4))
    layer = layers.LSTM(5, return_sequences=True, return_state=True, dtype="float64")
    layer(x)
    w = [rng.uniform(-1, 1, a.shape) for a in layer.get_weights()]
    layer.set_weights(w)
    h0, c0 = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    with fastpath.force(path):
        out, h, c = layer(x, initial_state=[h0, c0])
    ref_out, ref_h, ref_c = _ref_lstm(x, *w, h0, c0)
    assert out.dtype == np.float64
    for a, b in ((out, ref_out), (h, ref_h), (c, ref_c)):
        np.testing.assert_allclose(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("path", ["reference", "numpy_fused"])
def test_gru_float64_matches_independent_reference(reset_after, path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 7, 3))
    layer = layers.GRU(4, return_sequences=True, reset_after=reset_after, dtype="float64")
    layer(x)
    w = [rng.uniform(-1, 1, a.shape) for a in layer.get_weights()]
    layer.set_weights(w)
    with fastpath.force(path):
        out = layer(x)
    np.testing.assert_allclose(out, _ref_gru(x, *w, np.zeros((2, 4)), reset_after)[0], atol=1e-10, rtol=0)


def test_simple_rnn_float64_matches_independent_reference():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 3))
    inp = rnnlab.Input(shape=(6, 3), dtype="float64")
    model = rnnlab.Model(inp, layers.SimpleRNN(4, return_sequences=True, dtype="float64")(inp))
    kernel, rec, bias = [rng.uniform(-1, 1, a.shape) for a in model.get_weights()]
    model.set_weights([kernel, rec, bias])
    h, outs = np.zeros((2, 4)), []
    for t in range(6):
        h = np.tanh(x[:, t] @ kernel + h @ rec + bias)
        outs.append(h)
    np.testing.assert_allclose(model.predict(x, verbose=0), np.stack(outs, 1), atol=1e-10, rtol=0)


def test_set_floatx_float64_default():
    rnnlab.config.set_floatx("float64")
    try:
        layer = layers.LSTM(2)
        y = layer(np.ones((1, 3, 2)))
        assert layer.dtype == "float64" and y.dtype == np.float64
        assert all(w.dtype == "float64" for w in layer.weights)
    finally:
        rnnlab.config.set_floatx("float32")
    assert layers.LSTM(2)(np.ones((1, 3, 2))).dtype == np.float32
