"""An LSTM cell written by a user with ``rnnlab.ops`` trains to the same weights as the built-in ``LSTM``: the
record-derived backward (rnnlab.ops.tensor) against the hand-written one (rnnlab.cells.lstm)."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers, ops


@rnnlab.saving.register_keras_serializable(package="tests")
class OpsLSTMCell(layers.Layer):
    """Keras's LSTM equations, written with ops: i, f, c~, o gates in Keras's weight layout."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h, c = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias  # (B, 4U)
        i, f, g, o = ops.split(z, 4, axis=-1)
        c_new = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h_new = ops.sigmoid(o) * ops.tanh(c_new)
        return h_new, [h_new, c_new]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _models(go_backwards, masked):
    def build(recurrent):
        inp = rnnlab.Input((7, 3))
        x = layers.Masking(0.0)(inp) if masked else inp
        return rnnlab.Model(inp, layers.Dense(2)(recurrent(x)))

    ours = build(layers.RNN(OpsLSTMCell(5), go_backwards=go_backwards))
    builtin = build(layers.LSTM(5, go_backwards=go_backwards))
    return ours, builtin


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_ops_written_lstm_trains_like_the_builtin_lstm(go_backwards, masked):
    ours, builtin = _models(go_backwards, masked)
    rng = np.random.default_rng(3)
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in builtin.get_weights()]
    ours.set_weights(weights)
    builtin.set_weights(weights)
    x = rng.normal(size=(6, 7, 3)).astype("float32")
    if masked:
        x[1, 5:] = 0.0
        x[4, :3] = 0.0
    y = rng.normal(size=(6, 2)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), builtin.predict(x, verbose=0), atol=1e-6)
    for model in (ours, builtin):
        model.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_ops_written_cell_gradients_match_finite_differences():
    """Float64: the recorded BPTT of a user's cell against central differences, weights and inputs."""
    from tests.support.gradcheck import gradcheck

    layer = layers.RNN(OpsLSTMCell(3, dtype="float64"), return_sequences=True, dtype="float64")
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3))
    layer(x)
    layer.set_weights([rng.uniform(-0.5, 0.5, size=w.shape) for w in layer.get_weights()])
    assert gradcheck(layer, [x]) < 1e-6


class GateDeclaringLSTMCell(OpsLSTMCell):
    """The same cell, declaring its four gates for rnnlab.inspect.trace."""

    def call(self, inputs, states):
        from rnnlab.inspect import record_gate

        h, c = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        i, f = record_gate("i", ops.sigmoid(i)), record_gate("f", ops.sigmoid(f))
        g, o = record_gate("c_hat", ops.tanh(g)), record_gate("o", ops.sigmoid(o))
        c_new = f * c + i * g
        h_new = o * ops.tanh(c_new)
        return h_new, [h_new, c_new]


@pytest.mark.parametrize("go_backwards", [False, True])
def test_trace_of_a_user_cell_shows_its_states_and_declared_gates(go_backwards):
    """trace() of a user's cell equals trace() of the built-in LSTM with the same weights: h, c and the gates the
    cell declared, step by step in time order, masked steps included."""
    from rnnlab import inspect

    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    x[1, 4:] = 0.0
    models = []
    for recurrent in (layers.RNN(GateDeclaringLSTMCell(4), return_sequences=True, go_backwards=go_backwards),
                      layers.LSTM(4, return_sequences=True, go_backwards=go_backwards)):
        inp = rnnlab.Input((6, 2))
        models.append(rnnlab.Model(inp, recurrent(layers.Masking(0.0)(inp))))
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in models[1].get_weights()]
    for m in models:
        m.set_weights(weights)
    ours, builtin = (inspect.trace(m, x)[m.layers[-1].name].parts for m in models)
    (mine,), (ref,) = ours.values(), builtin.values()
    assert mine.cell_type == "GateDeclaringLSTMCell" and mine.gate_names == ("i", "f", "c_hat", "o")
    for field in ("h", "c", "outputs", "mask"):
        np.testing.assert_allclose(getattr(mine, field), getattr(ref, field), atol=1e-6)
    for gate in mine.gate_names:
        np.testing.assert_allclose(mine.gates[gate], ref.gates[gate], atol=1e-6)
