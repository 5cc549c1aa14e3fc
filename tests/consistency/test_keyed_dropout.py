"""Dropout and noise in ``fit``'s steps are keyed draws (:mod:`rnnlab.random`).  The rows ``start:stop`` of a
batch draw on their own the masks they get inside the whole batch.  So a batch cut into parts (a data-parallel
step) gives the whole batch's outputs and gradients, however it is cut, and a part run again gives the same."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers

F64 = "float64"
B = 10


def _model():
    """Every kind of training draw: noise, input and recurrent dropout (per gate for LSTM/GRU), dropout inside
    TimeDistributed (rows B*T), channel dropout, attention dropout (B, heads, T, T); seeded and unseeded."""
    rnnlab.random.set_random_seed(3)
    inputs = rnnlab.Input((6, 3), dtype=F64)
    h = layers.GaussianNoise(0.1, dtype=F64)(inputs)
    h = layers.LSTM(4, dropout=0.3, recurrent_dropout=0.2, return_sequences=True, dtype=F64)(h)
    h = layers.TimeDistributed(layers.Dropout(0.25, dtype=F64))(h)
    h = layers.SpatialDropout1D(0.2, seed=1, dtype=F64)(h)
    h = layers.Bidirectional(layers.GRU(3, dropout=0.2, recurrent_dropout=0.3, return_sequences=True,
                                        dtype=F64))(h)
    h = layers.MultiHeadAttention(2, 2, dropout=0.3, dtype=F64)(h, h)
    h = layers.GaussianDropout(0.2, dtype=F64)(h)
    h = layers.AlphaDropout(0.1, dtype=F64)(h)
    h = layers.SimpleRNN(3, recurrent_dropout=0.2, seed=2, dtype=F64)(h)
    model = rnnlab.Model(inputs, layers.Dense(2, dtype=F64)(h))
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.7, 0.7, w.shape) for w in model.get_weights()])  # biases included
    return model


def _data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(B, 6, 3)), rng.normal(size=(B, 2))


def _step(model, keys, x, y, rows=None, step=2):
    """Outputs and weight gradients of ``0.5 * sum((out - y)**2)`` on ``x`` (rows ``rows`` of the batch)."""
    grads = {}
    with rnnlab.random.keyed_draws([model] + model._flatten_layers(), keys, step, rows):
        out, backward = model.forward_backward(x, training=True, grads=grads)
    backward(out - y)
    return out, [grads[v] for v in model.trainable_weights]


@pytest.fixture(scope="module")
def setup():
    model = _model()
    keys = rnnlab.random.draw_keys([model] + model._flatten_layers())
    x, y = _data()
    return model, keys, x, y, _step(model, keys, x, y)


@pytest.mark.parametrize("bounds", [[0, 5, 10], [0, 3, 7, 10], [0, 1, 2, 6, 9, 10]])
def test_a_batch_cut_into_parts_gives_the_whole_batch_outputs_and_gradients(setup, bounds):
    model, keys, x, y, (out, grads) = setup
    parts = [_step(model, keys, x[a:b], y[a:b], rows=(a, b, B)) for a, b in zip(bounds[:-1], bounds[1:])]
    np.testing.assert_allclose(np.concatenate([o for o, _ in parts]), out, rtol=0, atol=1e-12)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(sum(p[1][i] for p in parts), g, rtol=1e-9, atol=1e-12)


def test_keyed_draws_repeat_and_change_with_the_step(setup):
    model, keys, x, y, (out, grads) = setup
    again, _ = _step(model, keys, x[3:7], y[3:7], rows=(3, 7, B))  # a rerun part draws its masks again
    np.testing.assert_array_equal(_step(model, keys, x[3:7], y[3:7], rows=(3, 7, B))[0], again)
    other_step, _ = _step(model, keys, x, y, step=3)
    assert np.abs(other_step - out).max() > 1e-3
    other_keys = rnnlab.random.draw_keys([model] + model._flatten_layers())  # the generators moved on
    assert all((a is None) == (b is None) and (a is None or a != b) for a, b in zip(keys, other_keys))
    inference = model.predict(x, verbose=0)
    assert np.abs(inference - out).max() > 1e-3  # the draws act in training


def test_every_layer_that_draws_has_a_key_and_a_strict_step_refuses_one_without(setup):
    model, keys, x, y, _ = setup
    drawing = {type(layer).__name__ for layer, key in zip([model] + model._flatten_layers(), keys) if key}
    assert drawing == {"GaussianNoise", "LSTMCell", "Dropout", "SpatialDropout1D", "GRUCell",
                       "MultiHeadAttention", "GaussianDropout", "AlphaDropout", "SimpleRNNCell"}
    stray = layers.Dropout(0.5)
    with rnnlab.random.keyed_draws([model], [None], 0, (0, 2, 4), strict=True):
        with pytest.raises(ValueError, match="without a key"):
            stray(np.ones((2, 3)), training=True)
