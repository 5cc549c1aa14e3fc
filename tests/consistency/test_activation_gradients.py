"""Every activation of rnnlab.activations (keras.activations after the import swap) called on a layer's input
inside a user layer while it trains: same values as on arrays, and float64 finite differences agree with the
gradient from the record.  Before, swish and silu gave wrong input gradients and sigmoid none at all (the NumPy
formula left the record), and relu, softplus, gelu and mish raised."""
import numpy as np
import pytest

from rnnlab import activations, layers
from tests.support.gradcheck import gradcheck


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_activation_in_a_user_layer_trains(name):
    fn = activations.get(name)

    class Scaled(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return fn(x * self.w)

    rng = np.random.default_rng(len(name))
    layer = Scaled(dtype="float64")
    x = rng.normal(size=(3, 6)) * 2.0
    layer(x)
    layer.set_weights([rng.uniform(0.5, 1.5, (6,))])
    np.testing.assert_allclose(np.asarray(layer(x)), fn(x * layer.w.value), rtol=1e-12, atol=1e-12)
    assert gradcheck(layer, (x,), {}, rng) <= 1e-6


def test_gradcheck_refuses_a_lost_input_gradient():
    """The harness itself: a layer whose backward drops its input's gradient fails the check, where it used to
    pass unchecked."""
    class Detached(layers.Layer):
        def call(self, x):
            return np.asarray(x) * 2.0  # leaves the record on purpose

    x = np.random.default_rng(0).normal(size=(2, 3))
    layer = Detached(dtype="float64")
    layer(x)
    with pytest.raises(AssertionError, match="no gradient for the float inputs"):
        gradcheck(layer, (x,), {})
