"""Keras's surface around the layers: activations, initializer aliases, backend/config helpers, utils and models
helpers, against Keras 3."""
import inspect

import numpy as np
import pytest

import rnnlab
from tests.support.reference import require


def test_new_activations_match_keras():
    keras = require("keras")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 6)).astype(np.float32) * 2
    for name, kwargs in [("swish", {}), ("hard_swish", {}), ("glu", {}), ("glu", {"axis": 1}), ("sparsemax", {}),
                         ("sparsemax", {"axis": 0}), ("threshold", {"threshold": 0.3, "default_value": -1.0})]:
        ours, theirs = getattr(rnnlab.activations, name), getattr(keras.activations, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
        np.testing.assert_allclose(ours(x, **kwargs), np.asarray(theirs(x, **kwargs)), rtol=1e-5, atol=1e-6)
    assert rnnlab.activations.swish is rnnlab.activations.silu
    for config in ("relu", keras.activations.serialize(keras.activations.tanh)):
        fn = rnnlab.activations.deserialize(config)
        np.testing.assert_allclose(fn(x), np.asarray(keras.activations.deserialize(config)(x)), rtol=1e-6)


def test_initializer_aliases_and_deserialize_match_keras():
    keras = require("keras")
    for name in ("zeros", "ones", "constant", "random_normal", "random_uniform", "truncated_normal",
                 "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                 "lecun_normal", "orthogonal", "identity", "OrthogonalInitializer", "IdentityInitializer"):
        ours, theirs = getattr(rnnlab.initializers, name), getattr(keras.initializers, name)
        assert ours.__name__ == theirs.__name__, name
    config = keras.initializers.serialize(keras.initializers.RandomNormal(mean=0.5, stddev=2.0, seed=3))
    init = rnnlab.initializers.deserialize(config)
    assert type(init).__name__ == "RandomNormal" and init.get_config() == config["config"]


def test_backend_and_config_helpers_match_keras():
    keras = require("keras")
    for name in ("epsilon", "image_data_format", "floatx"):
        assert getattr(rnnlab.backend, name)() == getattr(keras.backend, name)()
        assert getattr(rnnlab.config, name)() == getattr(keras.config, name)()
    for dtype in ("float16", "float32", "float64", "int8", "int32", "uint8", "int64", "bool"):
        assert rnnlab.backend.is_float_dtype(dtype) == keras.backend.is_float_dtype(dtype)
        assert rnnlab.backend.is_int_dtype(dtype) == keras.backend.is_int_dtype(dtype)
    for dtypes in [("int32", "float32"), ("int8", "uint8"), ("float16", "int64"), ("int32", float), (int, "int8"),
                   ("bool", "int16"), (), ("float16", "float64"), ("bool",)]:
        assert rnnlab.backend.result_type(*dtypes) == keras.backend.result_type(*dtypes), dtypes


def test_data_tuple_helpers_match_keras():
    keras = require("keras")
    for args in [(1,), ((1, 2),), ([1, 2],), (1, 2), (1, 2, 3)]:
        assert rnnlab.utils.pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)
    for data in [(1,), (1, 2), (1, 2, 3), [1, 2], 5]:
        assert rnnlab.utils.unpack_x_y_sample_weight(data) == keras.utils.unpack_x_y_sample_weight(data)


def test_model_from_keras_json_and_clone_give_keras_numbers(tmp_path):
    keras = require("keras")
    inputs = keras.Input((5, 3))
    outputs = keras.layers.Dense(2)(keras.layers.LSTM(4, return_sequences=True)(inputs))
    reference = keras.Model(inputs, outputs)
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype(np.float32)
    model = rnnlab.models.model_from_json(reference.to_json())
    model.set_weights(reference.get_weights())
    np.testing.assert_allclose(model.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    clone = rnnlab.models.clone_model(model)
    assert clone.get_config() == model.get_config()
    assert not np.allclose(clone.get_weights()[0], model.get_weights()[0])  # fresh weights, as Keras
    rnnlab.saving.save_weights(model, tmp_path / "m.weights.h5")
    rnnlab.saving.load_weights(clone, tmp_path / "m.weights.h5")
    np.testing.assert_allclose(clone.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    reference.load_weights(tmp_path / "m.weights.h5")  # the file is Keras's own layout


def test_clear_session_restarts_default_names():
    rnnlab.utils.clear_session()
    first = rnnlab.layers.GRU(2).name
    rnnlab.layers.GRU(2)
    rnnlab.utils.clear_session()
    assert first == "gru" and rnnlab.layers.GRU(2).name == "gru"


@pytest.mark.parametrize("call, match", [
    (lambda: rnnlab.config.set_epsilon(1e-5), "set_epsilon"),
    (lambda: rnnlab.backend.set_image_data_format("channels_first"), "data_format"),
    (lambda: rnnlab.models.clone_model(rnnlab.Sequential([rnnlab.layers.Dense(1)]), clone_function=lambda l: l),
     "clone_function"),
    (lambda: rnnlab.models.model_from_json("{not json"), "json_string"),
    (lambda: rnnlab.models.model_from_json('{"class_name": "Lambda", "config": {}}'), "Functional or Sequential"),
    (lambda: rnnlab.losses.deserialize({"class_name": "MyLoss", "config": {}}), "MyLoss"),
    (lambda: rnnlab.metrics.deserialize({"class_name": "os.system", "config": {}}), "os.system"),
    (lambda: rnnlab.metrics.serialize(lambda a, b: a), "built-in metric functions"),
    (lambda: rnnlab.activations.deserialize("no_such_fn"), "no_such_fn"),
    (lambda: rnnlab.losses.BinaryFocalCrossentropy(gamma="2"), "gamma"),
    (lambda: rnnlab.metrics.PrecisionAtRecall(1.5), "recall"),
    (lambda: rnnlab.metrics.R2Score(class_aggregation="median"), "class_aggregation"),
    (lambda: rnnlab.metrics.SparseCategoricalCrossentropy(ignore_class=0), "ignore_class"),
    (lambda: rnnlab.saving.load_weights(None, "w.weights.h5", skip_mismatch=True), "skip_mismatch"),
])
def test_refusals_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
