"""A GRU cell written by a user with ``rnnlab.ops`` trains to the same weights as the built-in ``GRU``
(``reset_after=True``, Keras's layout): a second record-derived BPTT next to the LSTM's (test_ops_lstm), with a
weight indexed inside the step (the bias rows) besides weights in products and sums."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers, ops


@rnnlab.saving.register_keras_serializable(package="tests")
class OpsGRUCell(layers.Layer):
    """Keras's GRU equations (reset_after=True), written with ops: z, r, candidate in Keras's weight layout."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 3 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(2, 3 * self.units), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        xw = ops.matmul(inputs, self.kernel) + self.bias[0]  # (B, 3U)
        rh = ops.matmul(h, self.recurrent_kernel) + self.bias[1]  # (B, 3U)
        z = ops.sigmoid(xw[:, :u] + rh[:, :u])
        r = ops.sigmoid(xw[:, u:2 * u] + rh[:, u:2 * u])
        candidate = ops.tanh(xw[:, 2 * u:] + r * rh[:, 2 * u:])
        new_h = z * h + (1.0 - z) * candidate
        return new_h, [new_h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@pytest.mark.parametrize("go_backwards,masked", [(False, False), (True, True)])
def test_ops_written_gru_trains_like_the_builtin_gru(go_backwards, masked):
    def build(recurrent):
        inp = rnnlab.Input((7, 3))
        x = layers.Masking(0.0)(inp) if masked else inp
        return rnnlab.Model(inp, layers.Dense(2)(recurrent(x)))

    ours = build(layers.RNN(OpsGRUCell(5), go_backwards=go_backwards))
    builtin = build(layers.GRU(5, go_backwards=go_backwards))
    rng = np.random.default_rng(4)
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in builtin.get_weights()]
    ours.set_weights(weights)
    builtin.set_weights(weights)
    x = rng.normal(size=(6, 7, 3)).astype("float32")
    if masked:
        x[2, 4:] = 0.0
        x[5, :2] = 0.0
    y = rng.normal(size=(6, 2)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), builtin.predict(x, verbose=0), atol=1e-6)
    for model in (ours, builtin):
        model.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
        model.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_ops_written_gru_gradients_match_finite_differences():
    """Float64: the weight gradients kept as factors over the steps (kernels), as rows (the bias rows picked by
    indexing) and the input gradients, against central differences."""
    from tests.support.gradcheck import gradcheck

    layer = layers.RNN(OpsGRUCell(3, dtype="float64"), return_sequences=True, go_backwards=True, dtype="float64")
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 4, 3))
    layer(x)
    layer.set_weights([rng.uniform(-0.5, 0.5, size=w.shape) for w in layer.get_weights()])
    assert gradcheck(layer, [x]) < 1e-6
