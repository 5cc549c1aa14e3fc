"""The layers around the recurrent ones (shape, merge, activation, convolution, pooling, normalization) against
Keras 3.15.1 on random weights, biases included:

* every layer alone, eagerly, with each group of arguments (training and inference), to 1e-5;
* models mixing them with LSTM/GRU/Bidirectional and masks: Keras builds and saves a ``.keras`` file, rnnlab loads
  it and predicts the same; rnnlab saves it back and Keras predicts the same (files both ways);
* three Adam steps of such models: every weight, BatchNormalization's moving statistics included, to 2e-5.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers as R
from tests.support.reference import randomize

ATOL = 1e-5


def _close(actual, expected, atol=ATOL, what=""):
    a, e = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert a.shape == e.shape, (what, a.shape, e.shape)
    err = float(np.abs(a - e).max()) if a.size else 0.0
    assert err <= atol, f"{what}: max abs diff {err:.2e} > {atol:.0e}"


# ------------------------------------------------------------------------------------------------ layers alone
# (class, arguments, input rank); channels_first convolutions and poolings are compared with Keras's
# channels_last on the transposed input (TensorFlow has no channels_first kernels on the CPU).
SINGLE = [
    ("Activation", dict(activation="tanh"), 3), ("Activation", dict(activation="softmax"), 3),
    ("Identity", {}, 3), ("RepeatVector", dict(n=3), 2), ("Flatten", {}, 3),
    ("Flatten", dict(data_format="channels_first"), 3), ("Reshape", dict(target_shape=(2, -1)), 3),
    ("Permute", dict(dims=(2, 1)), 3), ("Cropping1D", dict(cropping=(1, 2)), 3),
    ("ZeroPadding1D", dict(padding=(2, 1)), 3), ("ZeroPadding1D", dict(padding=1, data_format="channels_first"), 3),
    ("UpSampling1D", dict(size=3), 3),
    ("ReLU", {}, 3), ("ReLU", dict(max_value=0.8, negative_slope=0.1, threshold=0.2), 3),
    ("ReLU", dict(negative_slope=0.3), 3), ("ReLU", dict(max_value=6.0), 3),
    ("ReLU", dict(threshold=0.5, negative_slope=0.2), 3), ("LeakyReLU", {}, 3),
    ("LeakyReLU", dict(negative_slope=0.05), 3), ("ELU", dict(alpha=0.7), 3), ("Softmax", dict(axis=1), 3),
    ("Softmax", dict(axis=[1, 2]), 3), ("PReLU", {}, 3), ("PReLU", dict(shared_axes=[1]), 3),
    ("Conv1D", dict(filters=4, kernel_size=3), 3),
    ("Conv1D", dict(filters=6, kernel_size=2, padding="same", strides=2), 3),
    ("Conv1D", dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, activation="relu"), 3),
    ("Conv1D", dict(filters=4, kernel_size=2, groups=2, padding="same", use_bias=False), 3),
    ("Conv1D", dict(filters=3, kernel_size=2, data_format="channels_first", strides=2), 3),
    ("Conv1D", dict(filters=3, kernel_size=4, padding="same", strides=3, activation="tanh"), 3),
    ("MaxPooling1D", {}, 3), ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), 3),
    ("MaxPooling1D", dict(pool_size=2, data_format="channels_first"), 3),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"), 3),
    ("AveragePooling1D", dict(pool_size=2, strides=1), 3),
    ("AveragePooling1D", dict(pool_size=2, data_format="channels_first", padding="same"), 3),
    ("GlobalMaxPooling1D", {}, 3), ("GlobalMaxPooling1D", dict(keepdims=True, data_format="channels_first"), 3),
    ("GlobalAveragePooling1D", dict(keepdims=True), 3), ("GlobalAveragePooling1D", dict(data_format="channels_first"), 3),
    ("BatchNormalization", {}, 3), ("BatchNormalization", dict(axis=1, center=False, momentum=0.8), 3),
    ("BatchNormalization", dict(scale=False, epsilon=0.1), 2),
    ("LayerNormalization", {}, 3), ("LayerNormalization", dict(axis=[1, 2], scale=False), 3),
    ("LayerNormalization", dict(axis=1, center=False, epsilon=1e-5), 3),
]
_TRANSPOSED_IN_KERAS = ("Conv1D", "MaxPooling1D", "AveragePooling1D")


def _positive_variance(name, weights):
    if name == "BatchNormalization":  # moving_variance must stay positive
        weights[-1] = np.abs(weights[-1]) + 0.3
    return weights


@pytest.mark.parametrize("name,kwargs,rank", SINGLE, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SINGLE)])
def test_layer_alone_matches_keras(keras, name, kwargs, rank, rng):
    x = rng.normal(size=(3, 7, 4) if rank == 3 else (3, 5)).astype("float32")
    transposed = kwargs.get("data_format") == "channels_first" and name in _TRANSPOSED_IN_KERAS
    k_kwargs = {k: v for k, v in kwargs.items() if not (transposed and k == "data_format")}
    kl, rl = getattr(keras.layers, name)(**k_kwargs), getattr(R, name)(**kwargs)
    kx = x.transpose(0, 2, 1) if transposed else x
    kl(kx)
    rl(x)
    weights = _positive_variance(name, [rng.uniform(-1, 1, w.shape).astype("float32") for w in kl.get_weights()])
    kl.set_weights(weights)
    rl.set_weights(weights)
    assert [tuple(w.shape) for w in rl.weights] == [tuple(w.shape) for w in kl.weights]
    assert [w.name for w in rl.weights] == [w.name for w in kl.weights]
    assert rl.count_params() == kl.count_params()
    for training in (False, True):
        expected = np.asarray(kl(kx, training=training))
        expected = expected.transpose(0, 2, 1) if transposed else expected
        _close(rl(x, training=training), expected, what=f"training={training}")
    _close(np.concatenate([w.ravel() for w in rl.get_weights()] or [np.zeros(0)]),
           np.concatenate([w.ravel() for w in kl.get_weights()] or [np.zeros(0)]), what="moving statistics")
    config, keras_config = rl.get_config(), kl.get_config()
    assert set(config) == set(keras_config)
    # values too (ELU's alpha included); the dtype is written in rnnlab's form, rnnlab's GlorotUniform config
    # lacks the input_axes/output_axes entries Keras 3.15 added, and a transposed case's Keras twin is
    # channels_last
    skip = ("name", "dtype", "kernel_initializer") + (("data_format",) if transposed else ())
    assert {k: v for k, v in config.items() if k not in skip} == \
        {k: v for k, v in keras_config.items() if k not in skip}
    assert type(rl).from_config(config).get_config() == config
    # and each side rebuilds from the other's config
    assert {k: v for k, v in type(kl).from_config(config).get_config().items() if k not in skip} == \
        {k: v for k, v in keras_config.items() if k not in skip}
    their_config = {k: v for k, v in keras_config.items() if k != "kernel_initializer"}  # (see above)
    assert {k: v for k, v in type(rl).from_config(their_config).get_config().items() if k not in skip} == \
        {k: v for k, v in config.items() if k not in skip}


# ------------------------------------------------------------------------------------------------ merges alone
MERGES = [("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Average", {}), ("Maximum", {}), ("Minimum", {}),
          ("Concatenate", {}), ("Concatenate", dict(axis=1)), ("Dot", dict(axes=2)),
          ("Dot", dict(axes=(1, 1), normalize=True)), ("Dot", dict(axes=[2, 1]))]


@pytest.mark.parametrize("name,kwargs", MERGES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MERGES)])
def test_merge_functional_forms_match_keras(keras, name, kwargs, rng):
    """The class and the functional form (layers.add, ...) on two or three inputs, broadcasting a lower-rank one."""
    a, b, c = (rng.normal(size=(3, 5, 4)).astype("float32") for _ in range(3))
    if name == "Dot" and kwargs.get("axes") == [2, 1]:
        b = rng.normal(size=(3, 4, 5)).astype("float32")
    inputs = [a, b] if name in ("Subtract", "Dot") else [a, b, c]
    expected = np.asarray(getattr(keras.layers, name)(**kwargs)(inputs))
    _close(getattr(R, name)(**kwargs)(inputs), expected)
    function = getattr(R, name.lower())
    _close(function(inputs, **kwargs), expected, what="functional form")
    if name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        low = [a, rng.normal(size=(3, 4)).astype("float32")]  # (B, F) broadcast along time
        _close(getattr(R, name)()(low), np.asarray(getattr(keras.layers, name)()(low)), what="broadcast")


# ------------------------------------------------------------------------------------------------ models
def _masked_merges(K):
    """Every merge on masked sequences: masks flow into Multiply/Maximum/Minimum values and the merged masks
    into the LSTMs."""
    L = K.layers
    x1, x2 = K.Input((6, 3)), K.Input((6, 3))
    m1, m2 = L.Masking()(x1), L.Masking()(x2)
    a, b = L.Dense(4)(m1), L.Dense(4)(m2)
    merged = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b]), L.Average()([a, b]),
              L.Maximum()([a, b]), L.Minimum()([a, b, L.Dense(4)(m1)])]
    seq = L.Concatenate()(merged + [L.Dense(2)(x1)])  # x1's branch has no mask: counts as unmasked
    y = L.LSTM(5, return_sequences=True)(seq)
    y = L.Bidirectional(L.GRU(3))(L.Concatenate(axis=1)([y, L.Multiply()([y, y])]))
    dot = L.Dot(axes=1, normalize=True)([y, L.Dense(6)(L.GlobalAveragePooling1D()(m2))])
    # (an output that carries a mask would weight Keras's loss by it: the last output drops it)
    return K.Model([x1, x2], [y, dot, L.GlobalMaxPooling1D()(L.Maximum()([m1, m2]))])


def _cnn_lstm(K):
    L = K.layers
    x = K.Input((12, 3))
    y = L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu")(x)
    y = L.BatchNormalization(momentum=0.9)(y)
    y = L.MaxPooling1D(2)(y)
    y = L.Conv1D(4, 2, strides=2, padding="same", groups=2)(y)
    y = L.AveragePooling1D(2, strides=1, padding="same")(y)
    y = L.LSTM(5, return_sequences=True)(L.LeakyReLU(0.1)(y))
    y = L.LayerNormalization()(y)
    y = L.Bidirectional(L.GRU(3, return_sequences=True))(y)
    return K.Model(x, L.Dense(2, activation="softmax")(L.Concatenate()([L.GlobalMaxPooling1D()(y),
                                                                         L.GlobalAveragePooling1D()(y)])))


def _autoencoder(K):
    L = K.layers
    x = K.Input((6, 3))
    code = L.LSTM(4)(L.Masking()(x))
    y = L.RepeatVector(6)(L.Activation("tanh")(code))
    y = L.GRU(4, return_sequences=True)(y)
    y = L.TimeDistributed(L.Dense(3))(L.PReLU(shared_axes=[1])(y))
    y = L.ReLU(max_value=2.0, negative_slope=0.1)(L.ELU(0.5)(y))
    return K.Model(x, L.Softmax(axis=1)(L.Identity()(y)))


def _shapes(K):
    L = K.layers
    x = K.Input((6, 4))
    y = L.Cropping1D((1, 1))(L.ZeroPadding1D((2, 0))(x))
    y = L.UpSampling1D(2)(L.Permute((2, 1))(y))  # (8, 6)
    y = L.Reshape((8, -1))(L.Flatten()(y))
    y = L.SimpleRNN(3, return_sequences=True)(y)
    y = L.TimeDistributed(L.Conv1D(2, 2))(L.Reshape((8, 3, 1))(y))
    return K.Model(x, L.Dense(2)(L.Flatten()(y)))


def _noise_and_batchnorm_frozen(K):
    L = K.layers
    x = K.Input((6, 3))
    y = L.SpatialDropout1D(0.3)(L.GaussianNoise(0.2)(x))
    y = L.LSTM(4, return_sequences=True)(L.GaussianDropout(0.2)(y))
    bn = L.BatchNormalization(center=False)
    bn.trainable = False
    return K.Model(x, L.Dense(1)(L.Flatten()(bn(y))))


MODELS = {"masked_merges": _masked_merges, "cnn_lstm": _cnn_lstm, "autoencoder": _autoencoder, "shapes": _shapes,
          "noise_frozen_batchnorm": _noise_and_batchnorm_frozen}


def _data(model, rng, batch=4):
    xs = []
    for t in model.inputs:
        x = rng.normal(size=[batch] + list(t.shape[1:])).astype("float32")
        if len(t.shape) == 3:
            x[: batch // 2, -2:] = 0.0  # padding steps for Masking
        xs.append(x)
    return xs if len(xs) > 1 else xs[0]


def _randomize(km, rng):
    weights = []
    for w in km.weights:
        v = rng.uniform(-0.6, 0.6, tuple(w.shape)).astype("float32")
        if "moving_variance" in w.path:
            v = np.abs(v) + 0.5
        weights.append(v)
    km.set_weights(weights)


def _as_list(out):
    return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else [np.asarray(out)]


@pytest.mark.parametrize("case", list(MODELS))
def test_model_files_both_ways(keras, case, tmp_path, rng):
    """Keras .keras -> rnnlab predicts what Keras predicts; rnnlab's .keras -> Keras predicts the same; summary
    and parameter counts agree."""
    km = MODELS[case](keras)
    _randomize(km, rng)
    x = _data(km, rng)
    expected = _as_list(km(x, training=False))
    path = str(tmp_path / "keras_made.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    assert [w.path for w in rm.weights] == [w.path for w in km.weights]
    assert rm.count_params() == km.count_params()
    for a, e in zip(_as_list(rm.predict(x, verbose=0)), expected):
        _close(a, e, what="rnnlab on Keras's file")
    lines = []
    rm.summary(print_fn=lines.append)
    assert any(f"Total params: {km.count_params():,}" in line for line in lines)
    back = str(tmp_path / "rnnlab_made.keras")
    rm.save(back)
    km2 = keras.models.load_model(back)
    for a, e in zip(_as_list(km2(x, training=False)), expected):
        _close(a, e, what="Keras on rnnlab's file")


TRAINED = ["masked_merges", "cnn_lstm", "autoencoder", "shapes"]


@pytest.mark.parametrize("case", TRAINED)
def test_three_adam_steps_match_keras(keras, case, tmp_path, rng):
    """fit(epochs=3) on one full batch with Adam: every weight after the steps, BatchNormalization's moving
    statistics included, and the losses agree with Keras."""
    km = MODELS[case](keras)
    _randomize(km, rng)
    path = str(tmp_path / "start.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    x = _data(km, rng, batch=6)
    targets = [rng.normal(size=[6] + list(t.shape[1:])).astype("float32") for t in km.outputs]
    y = targets if len(targets) > 1 else targets[0]
    # epsilon=1e-5: a weight whose gradient is zero in exact arithmetic (the autoencoder's output bias under a
    # softmax along time, where the bias shifts every step alike) gets rounding noise instead, 1e-9 from
    # TensorFlow on some CPUs (AMD EPYC, AVX-512) against rnnlab's exact 0.0; Adam divides by sqrt(v) + epsilon, so
    # with the default 1e-7 that noise moved the bias by 3e-5 in three steps.  With 1e-5, noise-level gradients
    # move nothing, and real ones (1e-5 and up) still take at least half a learning-rate step.
    km.compile(optimizer=keras.optimizers.Adam(0.01, epsilon=1e-5), loss="mse", run_eagerly=True)  # eager: faster
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01, epsilon=1e-5), loss="mse")
    k_hist = km.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0).history["loss"]
    r_hist = rm.fit(x, y, batch_size=6, epochs=3, shuffle=False, verbose=0).history["loss"]
    _close(r_hist, k_hist, atol=2e-5, what="losses")
    for rw, kw in zip(rm.weights, km.weights):
        _close(rw.value, kw.numpy(), atol=2e-5, what=kw.path)


def test_frozen_batchnorm_and_noise_train_in_inference_mode(keras, rng):
    """A frozen BatchNormalization keeps its statistics in fit; noise layers are off at prediction."""
    rm = _noise_and_batchnorm_frozen(rnnlab)
    rm.set_weights([rng.uniform(0.2, 0.6, w.shape).astype("float32") for w in rm.weights])
    bn = [layer for layer in rm.layers if isinstance(layer, R.BatchNormalization)][0]
    before = [w.numpy() for w in bn.weights]
    x = rng.normal(size=(6, 6, 3)).astype("float32")
    rm.compile(optimizer="adam", loss="mse")
    rm.fit(x, rng.normal(size=(6, 1)).astype("float32"), epochs=2, verbose=0)
    for a, b in zip(bn.weights, before):
        np.testing.assert_array_equal(a.value, b)
    np.testing.assert_array_equal(rm.predict(x, verbose=0), rm.predict(x, verbose=0))
