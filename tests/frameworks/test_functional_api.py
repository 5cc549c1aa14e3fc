"""The functional API's introspection and Sequential's deferred build, against Keras."""
import numpy as np
import pytest

import rnnlab


def _graph(keras):
    inp = keras.Input((5, 3), name="series")
    lstm = keras.layers.LSTM(4, return_sequences=True, return_state=True, name="encoder")
    seq, h, c = lstm(inp)
    dense = keras.layers.Dense(2, name="head")
    out = dense(h)
    return keras.Model(inp, out), lstm, dense


def test_layer_input_and_output_are_the_first_call_tensors(keras):
    theirs, t_lstm, t_dense = _graph(keras)
    ours, o_lstm, o_dense = _graph(rnnlab)
    assert tuple(o_lstm.input.shape) == tuple(t_lstm.input.shape)
    assert [tuple(t.shape) for t in o_lstm.output] == [tuple(t.shape) for t in t_lstm.output]
    assert tuple(o_dense.output.shape) == tuple(t_dense.output.shape)
    assert o_dense.input is o_lstm.output[1]
    # a model built from a layer's output, as Keras's feature-extraction recipe does
    features = rnnlab.Model(ours.input, ours.get_layer("encoder").output)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    got = features.predict(x, verbose=0)
    want = ours.get_layer("encoder")(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-6)
    with pytest.raises(AttributeError, match="never been called"):
        rnnlab.layers.Dense(2).output


def test_sequential_without_input_compiles_and_builds_on_data_as_keras(keras):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 5, 2)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")
    models = []
    for k in (keras, rnnlab):
        model = k.Sequential([k.layers.LSTM(3), k.layers.Dense(1)])
        model.compile(optimizer=k.optimizers.Adam(0.01), loss="mse")  # before the model knows its input
        models.append(model)
    theirs, ours = models
    with pytest.raises(ValueError, match="not (yet )?built"):
        ours.summary()
    theirs.build((None, 5, 2))
    ours.build((None, 5, 2))
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    want = theirs.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, epochs=2, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_sequential_without_input_builds_on_its_first_fit():
    model = rnnlab.Sequential([rnnlab.layers.GRU(3), rnnlab.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 6, 2), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    assert model.built and model.input_shape == (None, 6, 2) and model.count_params() == 3 * (3 * (2 + 3) + 6) + 4
