"""The open cell protocol: a user's cell (``state_size`` + ``call(inputs, states)``) runs in ``RNN`` with every
RNN argument, in a list of cells and inside Bidirectional, and gives Keras's numbers for the same weights.

The same cell is written twice, as a user would: with ``keras.ops`` for Keras, with NumPy for rnnlab.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import cells as rcells
from rnnlab import layers

from tests.support.reference import flatten


class NumpyMinimalCell(layers.Layer):
    """h_t = tanh(x_t @ W + h_{t-1} @ U + b): a user's cell, with two states to exercise state lists."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, 1]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="random_normal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="random_normal", name="bias")
        self.built = True

    def call(self, inputs, states, training=False):
        h, count = states
        out = np.tanh(inputs @ self.kernel.value + h @ self.recurrent_kernel.value + self.bias.value)
        if training:
            out = out * 0.5
        return out, [out, count + 1.0]

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config


def keras_minimal_cell(keras):
    ops = keras.ops

    class KerasMinimalCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, 1]
            self.output_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")
            self.bias = self.add_weight(shape=(self.units,), name="bias")

        def call(self, inputs, states, training=False):
            h, count = states
            out = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias)
            if training:
                out = out * 0.5
            return out, [out, count + 1.0]

        def get_config(self):
            config = super().get_config()
            config["units"] = self.units
            return config

    return KerasMinimalCell


def _random_weights(layer, rng):
    layer.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in layer.get_weights()])


RNN_ARGS = [
    dict(),
    dict(return_sequences=True),
    dict(return_state=True),
    dict(return_sequences=True, return_state=True, go_backwards=True),
    dict(go_backwards=True),
]


@pytest.mark.parametrize("args", RNN_ARGS)
@pytest.mark.parametrize("masked", [False, True])
def test_user_cell_matches_keras(keras, args, masked):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones((3, 6), bool)
    if masked:
        mask[0, 4:] = False
        mask[2, :2] = False
    ours = layers.RNN(NumpyMinimalCell(5), **args)
    theirs = keras.layers.RNN(keras_minimal_cell(keras)(5), **args)
    ours(x)
    theirs(x)
    _random_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    kwargs = {"mask": mask} if masked else {}
    got = ours(x, **kwargs)
    want = theirs(x, **kwargs)
    got = got if isinstance(got, (list, tuple)) else [got]
    want = want if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


def test_user_cell_initial_state_training_and_stacking_match_keras(keras):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    h0 = [rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 1)).astype("float32")]
    ours = layers.RNN([NumpyMinimalCell(4), layers.GRUCell(3)], return_state=True, return_sequences=True)
    theirs = keras.layers.RNN([keras_minimal_cell(keras)(4), keras.layers.GRUCell(3)], return_state=True,
                              return_sequences=True)
    ours(x)
    theirs(x)
    _random_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    init = [h0, [rng.normal(size=(2, 3)).astype("float32")]]
    got = ours(x, initial_state=init, training=True)
    want = theirs(x, initial_state=init, training=True)
    assert len(flatten(got)) == len(flatten(want)) == 4
    for g, w in zip(flatten(got), flatten(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=1e-5)


def test_user_cell_inside_bidirectional_matches_keras(keras):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    ours = layers.Bidirectional(layers.RNN(NumpyMinimalCell(3), return_sequences=True))
    cell_class = keras_minimal_cell(keras)
    with keras.saving.custom_object_scope({"KerasMinimalCell": cell_class}):  # Keras copies through its registry
        theirs = keras.layers.Bidirectional(keras.layers.RNN(cell_class(3), return_sequences=True))
    ours(x)
    theirs(x)
    _random_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), atol=1e-5)


def test_user_cell_stateful_carries_state():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    inputs = rnnlab.Input(batch_shape=(2, 3, 3))
    layer = layers.RNN(NumpyMinimalCell(4), stateful=True, return_state=True)
    model = rnnlab.Model(inputs, layer(inputs))
    whole = layers.RNN(NumpyMinimalCell(4), return_state=True)
    whole(x)
    model.predict(x[:, :3], verbose=0)
    _random_weights(layer, rng)
    whole.set_weights(layer.get_weights())
    layer.reset_states()
    model.predict(x[:, :3], verbose=0)
    second = model.predict(x[:, 3:], verbose=0)
    full = whole(x)
    for g, w in zip(second, full):
        np.testing.assert_allclose(g, w, atol=1e-6)
    assert np.all(second[2] == 6.0)  # the counter state ran over all six steps


def test_plain_object_cell_without_layer_base():
    class Doubler:
        state_size = 2

        def call(self, inputs, states):
            new = states[0] * 2.0 + inputs[:, :2]
            return new, [new]

    x = np.ones((1, 3, 2), "float32")
    out = layers.RNN(Doubler(), return_sequences=True)(x)
    np.testing.assert_allclose(out[0, :, 0], [1.0, 3.0, 7.0])


def test_numpy_written_cell_training_refused_clearly():
    """A cell that reads its weights' plain arrays (``.value``) cannot learn: training says so, by name."""
    model = rnnlab.Sequential([rnnlab.Input((4, 3)), layers.RNN(NumpyMinimalCell(2)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="NumpyMinimalCell.*cannot be trained.*did not use its weights through rnnlab.ops"):
        model.fit(np.zeros((2, 4, 3), "float32"), np.zeros((2, 1), "float32"), verbose=0)


@pytest.mark.parametrize("bad, message", [
    (object(), "has no state_size or call"),
    (layers.LSTMCell, "a class: pass an instance"),
])
def test_not_a_cell_is_refused(bad, message):
    with pytest.raises(TypeError, match=message):
        layers.RNN(bad)


def test_bad_state_size_and_bad_returns_are_refused():
    class BadSize:
        state_size = "four"

        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(BadSize())

    class WrongState:
        state_size = 3

        def call(self, inputs, states):
            return states[0], [states[0][:, :2]]

    with pytest.raises(ValueError, match=r"returned state 0 of shape \(1, 2\).*expected"):
        layers.RNN(WrongState())(np.zeros((1, 2, 3), "float32"))


@pytest.mark.parametrize("state_size, returned, declared", [([3, 3], 1, 2), (3, 2, 1)])
def test_a_cell_returning_the_wrong_number_of_states_is_refused_by_name(state_size, returned, declared):
    class Miscounting(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.state_size = state_size

        def call(self, inputs, states):
            return states[0], [states[0]] * returned

    cell = Miscounting(name="miscounting_cell")
    with pytest.raises(ValueError, match=rf"Cell 'miscounting_cell' returned {returned} state tensor\(s\).*declares {declared}"):
        layers.RNN(cell)(np.zeros((1, 2, 3), "float32"))


def test_a_layer_without_state_size_is_refused_naming_it():
    class NoStateSize(layers.Layer):
        def call(self, inputs, states):
            return inputs, states

    with pytest.raises(TypeError, match=r"must be an RNN cell.*NoStateSize name=stateless.*has no state_size"):
        layers.RNN(NoStateSize(name="stateless"))


def test_subclass_overriding_call_runs_through_call():
    class Halved(layers.SimpleRNNCell):
        def call(self, inputs, states, training=False):
            out, new = super().call(inputs, states, training)
            return out * 0.5, [s * 0.5 for s in (new if isinstance(new, list) else [new])]

    x = np.random.default_rng(0).normal(size=(2, 3, 2)).astype("float32")
    sub = layers.RNN(Halved(3))
    base = layers.RNN(layers.SimpleRNNCell(3))
    sub(x)
    base(x)
    base.set_weights(sub.get_weights())
    assert not np.allclose(sub(x), base(x))  # the override is used, not the built-in step
    assert rcells.spec_of(sub.cell) is None and rcells.spec_of(base.cell).name == "SimpleRNN"
    with pytest.raises(ValueError, match="Halved.*subclass of SimpleRNNCell"):
        rcells.builtin_spec(sub.cell, "ONNX export")
