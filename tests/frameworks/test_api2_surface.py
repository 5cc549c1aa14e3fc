"""Keras 3.15.1's surface continued: initializer fan axes, keras.random, keras.tree, the IoU metrics and the
utils/saving helpers, against Keras itself."""
import numpy as np
import pytest

import rnnlab
from tests.support.reference import require

_FAN_CASES = [  # (shape, input_axes, output_axes)
    ((6, 7, 40), [0, 1], [2]),
    ((6, 7, 40), [-1], [0, 1]),
    ((30, 8, 5), [0], [1, 2]),
    ((30, 8, 5), None, None),
    ((30, 8, 5), [0], None),  # only one of them: Keras falls back to the kernel layout
]


def _keras_initializers(keras, input_axes, output_axes):
    K = keras.initializers
    yield from (cls(seed=4, input_axes=input_axes, output_axes=output_axes) for cls in (
        K.GlorotUniform, K.GlorotNormal, K.HeUniform, K.HeNormal, K.LecunUniform, K.LecunNormal))
    yield K.VarianceScaling(scale=3.0, mode="fan_avg", distribution="untruncated_normal", seed=4,
                            input_axes=input_axes, output_axes=output_axes)
    yield K.VarianceScaling(scale=0.5, mode="fan_out", distribution="normal", input_axes=input_axes,
                            output_axes=output_axes)


def test_variance_scaling_fan_axes_match_keras():
    keras = require("keras")
    for shape, input_axes, output_axes in _FAN_CASES:
        for theirs in _keras_initializers(keras, input_axes, output_axes):
            config = keras.initializers.serialize(theirs)
            ours = rnnlab.initializers.deserialize(config)
            assert type(ours).__name__ == type(theirs).__name__
            assert ours.get_config() == theirs.get_config(), config
            assert rnnlab.initializers.serialize(ours)["config"] == config["config"]
            a, b = ours(shape), np.asarray(theirs(shape))
            assert a.shape == b.shape == shape and a.dtype == np.float32
            # same scale as Keras's draw (8400 values each: a 6% band is > 5 standard errors)
            assert abs(a.std() / b.std() - 1) < 0.06, (config, a.std(), b.std())
            assert abs(a.max() / b.max() - 1) < 0.12, config  # same support (uniform limit, truncation)


def test_keras_file_with_fan_axes_loads(tmp_path):
    keras = require("keras")
    init = keras.initializers.HeNormal(seed=2, input_axes=[0], output_axes=[1])
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, kernel_initializer=init),
                              keras.layers.Dense(2, kernel_initializer=keras.initializers.VarianceScaling(
                                  scale=2.0, input_axes=[-1], output_axes=[0]))])
    path = tmp_path / "axes.keras"
    model.save(path)
    loaded = rnnlab.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert loaded.layers[0].get_config()["kernel_initializer"]["config"] == init.get_config()
    assert loaded.layers[1].get_config()["kernel_initializer"]["config"]["output_axes"] == [0]
