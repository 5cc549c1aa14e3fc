"""Bad arguments and inputs of the layers added with Lambda and Normalization get ValueError/TypeError naming the
argument, what was expected and what was received; InputSpec checks the inputs of a user's layer; Wrapper
serializes its inner layer; a Lambda's lambda written to a config is never run when read back."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers


@pytest.mark.parametrize("make,error,match", [
    (lambda: layers.Lambda(3), TypeError, "function"),
    (lambda: layers.Lambda(abs, arguments=[1]), TypeError, "arguments"),
    (lambda: layers.Lambda(abs, output_shape="x"), ValueError, "output_shape"),
    (lambda: layers.Normalization(mean=1.0), ValueError, "both `mean` and `variance`"),
    (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), ValueError, "same shape"),
    (lambda: layers.Normalization(axis="last"), TypeError, "axis"),
    (lambda: layers.Normalization(axis=None, mean=[1.0, 2.0], variance=[1.0, 1.0]), ValueError, "rank of `mean`"),
    (lambda: layers.Rescaling("big"), TypeError, "scale"),
    (lambda: layers.CategoryEncoding(), ValueError, "num_tokens"),
    (lambda: layers.CategoryEncoding(0), ValueError, "num_tokens"),
    (lambda: layers.CategoryEncoding(3, output_mode="tf_idf"), ValueError, "output_mode"),
    (lambda: layers.CategoryEncoding(3, sparse=True), ValueError, "sparse"),
    (lambda: layers.Discretization(), ValueError, "num_bins` or `bin_boundaries"),
    (lambda: layers.Discretization(bin_boundaries=[1.0], num_bins=3), ValueError, "Both"),
    (lambda: layers.Discretization(bin_boundaries=[2.0, 1.0]), ValueError, "sorted"),
    (lambda: layers.Discretization(num_bins=3, output_mode="bins"), ValueError, "output_mode"),
    (lambda: layers.Discretization(num_bins=3, epsilon=0), ValueError, "epsilon"),
    (lambda: layers.Hashing(0), ValueError, "num_bins"),
    (lambda: layers.Hashing(3, salt="pepper"), ValueError, "salt"),
    (lambda: layers.Hashing(3, dtype="float32"), ValueError, "dtype"),
    (lambda: layers.Hashing(3, output_mode="bins"), ValueError, "output_mode"),
    (lambda: layers.UnitNormalization(axis="x"), TypeError, "axis"),
    (lambda: layers.RMSNormalization(epsilon=-1.0), ValueError, "epsilon"),
    (lambda: layers.GroupNormalization(groups=0), ValueError, "groups"),
    (lambda: layers.GroupNormalization(axis=[1, 2]), TypeError, "axis"),
    (lambda: layers.AlphaDropout(1.5), ValueError, "rate"),
    (lambda: layers.AlphaDropout(1.0), ValueError, "rate"),
    (lambda: layers.ActivityRegularization(l1=-1.0), ValueError, "l1"),
    (lambda: layers.Wrapper("dense"), ValueError, "Wrapper"),
    (lambda: layers.InputSpec(axes={"a": 3}), TypeError, "axes"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_inputs_are_refused():
    x = np.zeros((2, 5, 4), "float32")
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=3)(x)  # 4 channels
    with pytest.raises(ValueError, match="out of bounds"):
        layers.UnitNormalization(axis=3)(x)
    with pytest.raises(ValueError, match="adapt"):
        layers.Discretization(num_bins=3)(x)
    with pytest.raises(ValueError, match="bin_boundaries"):
        layers.Discretization(bin_boundaries=[0.0]).adapt(x)
    with pytest.raises(ValueError, match="non-negative"):
        layers.CategoryEncoding(3)(np.array([[0, -1]]))
    with pytest.raises(TypeError, match="integer ids"):
        layers.CategoryEncoding(3)(np.array([[0.5]]))
    with pytest.raises(ValueError, match="count_weights"):
        layers.CategoryEncoding(3, output_mode="multi_hot")(np.array([[0, 1]]), count_weights=np.ones((1, 2)))
    norm = layers.Normalization()
    norm.adapt(x)
    with pytest.raises(ValueError, match="incompatible shape"):
        norm.adapt(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="empty iterable"):
        layers.Normalization().adapt([])
    with pytest.raises(ValueError, match="cannot also be adapted"):
        given = layers.Normalization(mean=0.0, variance=1.0)
        given(x)
        given.adapt(x)
    with pytest.raises(TypeError, match="strings, integers or floats"):
        layers.Hashing(3)(np.array([True, False]))
    with pytest.raises(ValueError, match="output_shape"):
        layers.Lambda(lambda t: t.no_such_method())(rnnlab.Input((3,)))


def test_input_spec_checks_a_user_layers_inputs():
    class Doubler(layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = layers.InputSpec(ndim=3, axes={-1: 4})

        def call(self, inputs):
            return inputs * 2.0

    layer = Doubler()
    np.testing.assert_array_equal(layer(np.ones((2, 3, 4), "float32")), 2 * np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        layer(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        layer(rnnlab.Input((3, 5)))
    with pytest.raises(ValueError, match="min_ndim=3"):
        spec_layer = Doubler()
        spec_layer.input_spec = rnnlab.InputSpec(min_ndim=3)
        spec_layer(np.ones((2, 4), "float32"))
    assert repr(layers.InputSpec(shape=(None, 3))) == "InputSpec(shape=(None, 3), ndim=2)"


def test_wrapper_holds_and_serializes_its_layer():
    class Twice(layers.Wrapper):
        def call(self, inputs):
            return self.layer(self.layer(inputs))

    wrapped = Twice(layers.Dense(3, use_bias=False))
    x = np.ones((2, 3), "float32")
    y = wrapped(x)
    inner = wrapped.layer.kernel.value
    np.testing.assert_allclose(y, x @ inner @ inner, rtol=1e-6)
    assert [w.path for w in wrapped.weights] == [f"{wrapped.name}/{wrapped.layer.name}/kernel"]
    config = wrapped.get_config()
    assert config["layer"]["class_name"] == "Dense"
    rebuilt = Twice.from_config(config)
    assert isinstance(rebuilt.layer, layers.Dense) and rebuilt.layer.units == 3


def test_a_lambdas_bytecode_is_never_run(monkeypatch):
    """from_config refuses the stored lambda before anything could run it (marshal is never consulted)."""
    config = layers.Lambda(lambda t: t + 1.0, name="adds_one").get_config()
    assert config["function"]["class_name"] == "__lambda__"
    import marshal

    def forbidden(*args):
        raise AssertionError("marshal.loads was called")

    monkeypatch.setattr(marshal, "loads", forbidden)
    with pytest.raises(ValueError, match="'adds_one'.*lambda stored as bytecode.*never runs code"):
        layers.Lambda.from_config(config)


def test_lambda_config_round_trip_with_a_registered_function(tmp_path):
    @rnnlab.saving.register_keras_serializable(package="layers2_tests")
    def halve(x):
        return x * 0.5

    x = rnnlab.Input((4, 2))
    model = rnnlab.Model(x, layers.LSTM(3)(layers.Lambda(halve, output_shape=(4, 2))(x)))
    path = str(tmp_path / "halve.keras")
    model.save(path)
    again = rnnlab.models.load_model(path)
    data = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    np.testing.assert_allclose(again.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    assert again.layers[1].function is halve
