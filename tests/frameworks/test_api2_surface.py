"""Keras 3.15.1's surface continued: initializer fan axes, keras.random, keras.tree, the IoU metrics and the
utils/saving helpers, against Keras itself."""
import inspect

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


_DRAWS = [  # (function name, args, kwargs): 20000 values each
    ("normal", ((100, 200),), {"mean": 1.5, "stddev": 2.0}),
    ("uniform", ((100, 200),), {"minval": -2.0, "maxval": 3.0, "dtype": "float64"}),
    ("truncated_normal", ((100, 200),), {"mean": -1.0, "stddev": 0.5}),
    ("randint", ((100, 200), 3, 11), {}),
    ("randint", ((20000,), -5, 5), {"dtype": "int64"}),
    ("gamma", ((100, 200),), {"alpha": 2.5}),
    ("binomial", ((100, 200),), {"counts": 12, "probabilities": 0.3}),
    ("beta", ((100, 200),), {"alpha": 2.0, "beta": 5.0}),
]


def test_random_draws_match_keras_distributions():
    keras = require("keras")
    for name in ("normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout", "categorical", "gamma",
                 "beta", "binomial"):
        assert inspect.signature(getattr(rnnlab.random, name)) == inspect.signature(getattr(keras.random, name))
    for name, args, kwargs in _DRAWS:
        ours = getattr(rnnlab.random, name)(*args, seed=7, **kwargs)
        theirs = np.asarray(getattr(keras.random, name)(*args, seed=7, **kwargs))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, name
        assert ours.min() >= theirs.min() - 0.3 * theirs.std() and ours.max() <= theirs.max() + 0.3 * theirs.std()
        if name in ("uniform", "randint", "truncated_normal"):  # bounded: the same bounds
            assert ours.min() >= kwargs.get("minval", args[1] if len(args) > 1 else -np.inf)
        # 20000 draws: standard error of the mean is std/141, of the std about std/200
        assert abs(ours.mean() - theirs.mean()) < 0.03 * theirs.std() + 1e-9, (name, ours.mean(), theirs.mean())
        assert abs(ours.std() / theirs.std() - 1) < 0.03, (name, ours.std(), theirs.std())
        np.testing.assert_array_equal(ours, getattr(rnnlab.random, name)(*args, seed=7, **kwargs))


def test_random_categorical_dropout_and_shuffle_match_keras():
    keras = require("keras")
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], np.float32))
    ours = rnnlab.random.categorical(logits, 20000, seed=3)
    theirs = np.asarray(keras.random.categorical(logits, 20000, seed=3))
    assert ours.shape == theirs.shape == (2, 20000) and ours.dtype == theirs.dtype
    for row in range(2):
        np.testing.assert_allclose(np.bincount(ours[row], minlength=3) / 20000,
                                   np.bincount(theirs[row], minlength=3) / 20000, atol=0.02)
    x = np.random.default_rng(0).normal(size=(400, 50)).astype(np.float32)
    for noise_shape in (None, (None, 1), (1, 50)):
        ours = rnnlab.random.dropout(x, 0.3, noise_shape=noise_shape, seed=2)
        theirs = np.asarray(keras.random.dropout(x, 0.3, noise_shape=noise_shape, seed=2))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        kept = ours != 0
        np.testing.assert_allclose(ours[kept], x[kept] / 0.7, rtol=1e-6)  # kept values scaled as Keras's
        np.testing.assert_allclose(theirs[theirs != 0], x[theirs != 0] / 0.7, rtol=1e-6)
        decisions = 20000 if noise_shape is None else 400 if noise_shape[0] is None else 50
        bound = 5 * np.sqrt(0.21 / decisions)  # five standard errors of the kept fraction
        assert abs(kept.mean() - 0.7) < bound and abs((theirs != 0).mean() - 0.7) < bound, noise_shape
        if noise_shape == (None, 1):
            assert (kept == kept[:, :1]).all()
    y = np.arange(72).reshape(2, 12, 3)
    ours, theirs = rnnlab.random.shuffle(y, axis=1, seed=1), np.asarray(keras.random.shuffle(y, axis=1, seed=1))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.sort(ours, axis=1), y)
    for shuffled in (ours, theirs):  # whole slices y[:, i, :] move together
        assert (shuffled[1] - shuffled[0] == 36).all() and (np.diff(shuffled, axis=2) == 1).all()
    assert not np.array_equal(ours, y)


def test_seed_semantics_follow_keras():
    keras = require("keras")
    R = rnnlab.random
    assert R.SeedGenerator(5).get_config()["seed"] == keras.random.SeedGenerator(5).get_config()["seed"]
    first, second = R.SeedGenerator(42), R.SeedGenerator(42)
    a, b = R.normal((5,), seed=first), R.normal((5,), seed=first)
    assert not np.array_equal(a, b)  # the state advances
    np.testing.assert_array_equal(a, R.normal((5,), seed=second))  # the same seed, the same sequence
    np.testing.assert_array_equal(b, R.normal((5,), seed=second))
    assert not np.array_equal(R.uniform((5,)), R.uniform((5,)))  # seed=None: fresh values
    rnnlab.utils.set_random_seed(3)
    c = R.uniform((5,))
    rnnlab.utils.set_random_seed(3)
    np.testing.assert_array_equal(c, R.uniform((5,)))
    for bad in ("seed", 1.5):
        with pytest.raises(ValueError, match="seed"):
            R.normal((2,), seed=bad)
    with pytest.raises(ValueError, match="dtype"):
        R.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="dtype"):
        R.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="logits"):
        R.categorical(np.zeros(3), 2)
