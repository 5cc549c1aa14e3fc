"""Lambda, Normalization, Rescaling, Discretization, CategoryEncoding, Hashing, UnitNormalization, RMSNormalization,
GroupNormalization, ActivityRegularization and AlphaDropout against Keras 3.15.1:

* each layer alone on random inputs and random weights: outputs (dtypes too), weight names, get_config (equal to
  Keras's, dtype policies aside), from_config round trip;
* adapt(): Normalization on arrays, lists of batches and a PyDataset; Discretization's boundaries;
* Hashing's bins on many strings (FarmHash64) and with a salt (SipHash), and on integers;
* a model mixing them with Conv1D and LSTM: Keras's .keras file -> rnnlab predicts the same; three Adam steps
  agree to 2e-5; rnnlab's .keras and .h5 files -> Keras predicts the same;
* Lambda files: a named function comes from custom_objects (or Keras's ops by name), a lambda's bytecode is refused.
"""
import string

import numpy as np
import pytest

import rnnlab
from rnnlab import layers as R
from rnnlab import ops

ATOL = 1e-5


def _close(actual, expected, atol=ATOL, what=""):
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape, (what, a.shape, e.shape)
    assert a.dtype == e.dtype, (what, a.dtype, e.dtype)
    err = float(np.abs(a.astype(np.float64) - e.astype(np.float64)).max()) if a.size else 0.0
    assert err <= atol, f"{what}: max abs diff {err:.2e} > {atol:.0e}"


def _plain_config(config):
    """A Keras config with its dtype policy written as rnnlab writes it (the dtype's name)."""
    config = dict(config)
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"]["config"]["name"]
    return config


def _config(config):
    """A layer's config without its automatic name, which counts the layers the whole test session made (each
    framework its own count), and with tuples as lists."""
    return _jsonish({k: v for k, v in config.items() if k != "name"})


def _jsonish(value):
    """Tuples as lists (a config written to JSON and read back compares so)."""
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonish(v) for k, v in value.items()}
    return value


def _same_config(rl, kl):
    assert _config(rl.get_config()) == _config(_plain_config(kl.get_config()))
    again = type(rl).from_config(rl.get_config())
    assert _jsonish(again.get_config()) == _jsonish(rl.get_config())


# ------------------------------------------------------------------------------------------------ layers alone
FLOAT_LAYERS = [
    ("UnitNormalization", {}), ("UnitNormalization", dict(axis=[1, 2])),
    ("RMSNormalization", {}), ("RMSNormalization", dict(axis=[1, 2], epsilon=0.1)),
    ("GroupNormalization", dict(groups=4)), ("GroupNormalization", dict(groups=3, axis=1, center=False)),
    ("GroupNormalization", dict(groups=-1, scale=False, epsilon=0.01)),
    ("ActivityRegularization", dict(l1=0.1, l2=0.2)), ("AlphaDropout", dict(rate=0.3, seed=2)),
    ("Rescaling", dict(scale=1 / 255.0, offset=-1)), ("Rescaling", dict(scale=[0.5, 2.0, 3.0, 1.0, -1.0, 2.0, 0.1, 4.0])),
    ("Normalization", dict(mean=1.5, variance=4.0)), ("Normalization", dict(axis=(1, 2), mean=np.arange(8.0),
                                                                          variance=np.arange(1.0, 9.0))),
]


@pytest.mark.parametrize("name,kwargs", FLOAT_LAYERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FLOAT_LAYERS)])
def test_float_layer_alone_matches_keras(keras, name, kwargs, rng):
    x = rng.normal(size=(3, 6, 8)).astype("float32")
    kl, rl = getattr(keras.layers, name)(**kwargs), getattr(R, name)(**kwargs)
    kl(x)
    rl(x)
    weights = [rng.uniform(-1, 1, w.shape).astype("float32") for w in kl.get_weights()]
    kl.set_weights(weights)
    rl.set_weights(weights)
    assert [(w.name, tuple(w.shape), w.trainable) for w in rl.weights] == \
        [(w.name, tuple(w.shape), w.trainable) for w in kl.weights]
    _close(rl(x), kl(x), what="inference")
    if name == "ActivityRegularization":
        _close(np.asarray(rl.losses[0]), np.asarray(kl.losses[0]), what="activity loss")
    kc = _plain_config(kl.get_config())
    if name == "Normalization":  # Keras's config holds the arrays it was given as lists; rnnlab's too
        kc = {k: (np.asarray(v).tolist() if k in ("mean", "variance") else v) for k, v in kc.items()}
    assert _config(rl.get_config()) == _config(kc)


@pytest.mark.parametrize("kwargs", [{}, dict(axis=None), dict(axis=(1, 2)), dict(axis=1, invert=True)])
def test_normalization_adapt_matches_keras(keras, kwargs, rng):
    x = rng.normal(2.0, 3.0, size=(20, 6, 4)).astype("float32")
    batches = [x[i:i + 7] for i in range(0, 20, 7)]

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i], np.zeros(len(batches[i]))

    class RnnlabBatches(rnnlab.utils.PyDataset):
        def __len__(self):
            return len(batches)

        def __getitem__(self, i):
            return batches[i], np.zeros(len(batches[i]))

    for k_data, r_data, what in ((x, x, "array"), (batches, iter(batches), "batches"),
                                 (KerasBatches(), RnnlabBatches(), "PyDataset")):
        kl, rl = keras.layers.Normalization(**kwargs), R.Normalization(**kwargs)
        kl.adapt(k_data)
        rl.adapt(r_data)
        for rw, kw in zip(rl.weights, kl.weights):
            assert (rw.name, rw.dtype) == (kw.name, kw.dtype)
            _close(rw.value, kw.numpy(), atol=2e-5, what=f"{what}: {kw.name}")
        _close(rl(x), kl(x), atol=2e-5 if what == "array" else 5e-5, what=what)
        _same_config(rl, kl)


def test_category_encoding_and_discretization_match_keras(keras, rng):
    ids = rng.integers(0, 8, size=(4, 5))  # 6 and 7 lie outside [0, 6): they count nowhere, as in Keras
    for mode in ("one_hot", "multi_hot", "count"):
        data = ids[:, :1] if mode == "one_hot" else ids
        kl, rl = keras.layers.CategoryEncoding(6, output_mode=mode), R.CategoryEncoding(6, output_mode=mode)
        _close(rl(data), kl(data), what=mode)
        _close(rl(data[0]), kl(data[0]), what=f"{mode}, one sample")
        _same_config(rl, kl)
    weights = rng.uniform(size=(4, 5)).astype("float32")
    kl, rl = keras.layers.CategoryEncoding(6, output_mode="count"), R.CategoryEncoding(6, output_mode="count")
    _close(rl(ids, count_weights=weights), kl(ids, count_weights=weights), what="count_weights")

    x = rng.normal(size=(4, 5, 1)).astype("float32")
    for mode in ("int", "one_hot", "multi_hot", "count"):
        data = x if mode == "one_hot" else x[..., 0]
        kl = keras.layers.Discretization(bin_boundaries=[-1.0, 0.0, 0.5], output_mode=mode)
        rl = R.Discretization(bin_boundaries=[-1.0, 0.0, 0.5], output_mode=mode)
        _close(rl(data), kl(data), what=mode)
        _same_config(rl, kl)
    for epsilon in (0.01, 0.1):
        for num_bins in (3, 8):
            kl = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
            rl = R.Discretization(num_bins=num_bins, epsilon=epsilon)
            data = rng.normal(size=(300,)).astype("float32")
            kl.adapt(data)
            rl.adapt(data)
            assert rl.bin_boundaries == kl.bin_boundaries
            batches = [rng.normal(size=(50, 2)).astype("float32") for _ in range(4)]
            kl.adapt(batches, steps=3)
            rl.adapt(batches, steps=3)
            assert rl.bin_boundaries == kl.bin_boundaries
            _same_config(rl, kl)
            _close(rl(x), kl(x), what="adapted")


def test_hashing_matches_keras_bins(keras, rng):
    """FarmHash64 (and SipHash-2-4 with a salt) of 600 strings of 0 to 100 characters, ASCII and not, and of
    integers and floats: the same bins as Keras (TensorFlow's hash buckets)."""
    alphabet = list(string.ascii_letters + string.digits + " éü语😀")
    words = ["".join(rng.choice(alphabet, size=rng.integers(0, 101))) for _ in range(600)]
    text = np.array(words, dtype=object).reshape(150, 4)
    numbers = rng.integers(-10 ** 12, 10 ** 12, size=(50, 3))
    cases = [(dict(num_bins=7), text), (dict(num_bins=1000), text), (dict(num_bins=1000, salt=[3, 9]), text),
             (dict(num_bins=5, salt=11), text), (dict(num_bins=6, mask_value=words[0]), text),
             (dict(num_bins=13), numbers), (dict(num_bins=13, mask_value=int(numbers[0, 0])), numbers),
             (dict(num_bins=13, output_mode="multi_hot"), numbers), (dict(num_bins=13, output_mode="one_hot"),
                                                                      numbers[:, :1]),
             (dict(num_bins=13, output_mode="count", salt=4), numbers), (dict(num_bins=9, dtype="int32"), numbers),
             (dict(num_bins=11), rng.normal(scale=100, size=(6, 4)).astype("float32"))]
    for kwargs, data in cases:
        kl, rl = keras.layers.Hashing(**kwargs), R.Hashing(**kwargs)
        _close(rl(data), kl(data), atol=0, what=str(kwargs))
        _same_config(rl, kl)


# ------------------------------------------------------------------------------------------------ a model
def _register(keras):
    """The same named function for Lambda in both frameworks, registered under the same name."""
    def scaled_tanh(x):
        return keras.ops.tanh(x) * 1.5
    return keras.saving.register_keras_serializable(package="layers2")(scaled_tanh)


def _sensor_model(K, adapt_data):
    L = K.layers
    x = K.Input((12, 3))
    norm = L.Normalization()
    norm.adapt(adapt_data)
    h = L.Lambda(_register(K))(L.Rescaling(0.5, offset=0.1)(norm(x)))
    h = L.Conv1D(8, 3, padding="same")(h)
    h = L.GroupNormalization(groups=4)(h)
    h = L.RMSNormalization()(L.AlphaDropout(0.2, seed=1)(h))
    h = L.LSTM(6, return_sequences=True)(h)
    h = L.Lambda(lambda t: K.ops.mean(t, axis=1), output_shape=(6,))(h)
    h = L.ActivityRegularization(l1=0.01, l2=0.02)(L.UnitNormalization()(h))
    return K.Model(x, L.Dense(2)(h))


def test_model_with_the_new_layers_trains_and_saves_as_keras(keras, tmp_path, rng):
    data = rng.normal(1.0, 2.0, size=(10, 12, 3)).astype("float32")
    keras.backend.clear_session()  # default names count from zero in both (other tests made layers before)
    rnnlab.backend.clear_session()
    km, rm = _sensor_model(keras, data), _sensor_model(rnnlab, data)
    weights = [w.numpy() if not w.trainable else rng.uniform(-0.6, 0.6, tuple(w.shape)).astype("float32")
               for w in km.weights]
    km.set_weights(weights)
    rm.set_weights(weights)
    assert [w.path for w in rm.weights] == [w.path for w in km.weights]
    _close(rm.predict(data, verbose=0), km.predict(data, verbose=0), what="predict")

    y = rng.normal(size=(10, 2)).astype("float32")
    km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", run_eagerly=True)
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    # AlphaDropout draws differ between frameworks: train with it at rate 0 (its inference path is identity)
    for m in (km, rm):
        [layer for layer in m.layers if type(layer).__name__ == "AlphaDropout"][0].rate = 0.0
    k_loss = km.fit(data, y, batch_size=10, epochs=3, shuffle=False, verbose=0).history["loss"]
    r_loss = rm.fit(data, y, batch_size=10, epochs=3, shuffle=False, verbose=0).history["loss"]
    _close(np.array(r_loss), np.array(k_loss), atol=2e-5, what="losses")
    for rw, kw in zip(rm.weights, km.weights):
        _close(rw.value, kw.numpy(), atol=2e-5, what=kw.path)

    path = str(tmp_path / "keras_made.keras")
    km.save(path)
    with pytest.raises(ValueError, match="lambda.*bytecode.*never runs code"):
        rnnlab.models.load_model(path)  # the second Lambda holds a Python lambda


def _named_sensor_model(K, adapt_data):
    """The sensor model with named functions only (a file can name them; its code is never read)."""
    L = K.layers
    x = K.Input((12, 3))
    norm = L.Normalization()  # (Keras 3.15 cannot read its own .h5 of a Normalization with axis=(1, 2))
    norm.adapt(adapt_data)
    h = L.Lambda(_register(K))(norm(x))
    h = L.GroupNormalization(groups=3, axis=-1)(L.Conv1D(6, 3)(h))
    h = L.LSTM(4)(L.Lambda(_register(K))(L.RMSNormalization()(h)))  # (nor with axis=[1, 2])
    return K.Model(x, L.Dense(2)(L.UnitNormalization()(h)))


def test_keras_files_both_ways(keras, tmp_path, rng):
    data = rng.normal(1.0, 2.0, size=(10, 12, 3)).astype("float32")
    km = _named_sensor_model(keras, data)
    km.set_weights([w.numpy() if not w.trainable else rng.uniform(-0.6, 0.6, tuple(w.shape)).astype("float32")
                    for w in km.weights])
    expected = km.predict(data, verbose=0)
    path = str(tmp_path / "keras_made.keras")
    km.save(path)
    _register(rnnlab)  # the program registers its function, as the Keras program did
    rm = rnnlab.models.load_model(path)
    assert [w.path for w in rm.weights] == [w.path for w in km.weights]
    _close(rm.predict(data, verbose=0), expected, what="rnnlab on Keras's file")
    for suffix in (".keras", ".h5"):
        back = str(tmp_path / f"rnnlab_made{suffix}")
        rm.save(back)
        km2 = keras.models.load_model(back)
        _close(km2.predict(data, verbose=0), expected, what=f"Keras on rnnlab's {suffix}")
        again = rnnlab.models.load_model(back)
        _close(again.predict(data, verbose=0), expected, what=f"rnnlab on rnnlab's {suffix}")


def test_lambda_function_from_custom_objects(keras, tmp_path, rng):
    def shifted(x, shift=0.0):
        return x + shift

    L = keras.layers
    km = keras.Sequential([keras.Input((5, 2)), L.Lambda(shifted, arguments={"shift": 0.5}), L.LSTM(3)])
    path = str(tmp_path / "named.keras")
    km.save(path)
    with pytest.raises(ValueError, match="'shifted'.*custom_objects"):
        rnnlab.models.load_model(path)
    rm = rnnlab.models.load_model(path, custom_objects={"shifted": shifted})
    rm.set_weights(km.get_weights())
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    _close(rm.predict(x, verbose=0), km.predict(x, verbose=0), what="custom function")
    # Keras writes its own ops by name (module "builtins"): rnnlab reads them as its ops of that name
    km = keras.Sequential([keras.Input((5, 2)), L.Lambda(keras.ops.abs), L.Lambda(keras.ops.tanh), L.LSTM(3)])
    km.save(path)
    rm = rnnlab.models.load_model(path)
    rm.set_weights(km.get_weights())
    _close(rm.predict(x, verbose=0), km.predict(x, verbose=0), what="Keras ops by name")
    lam = L.Lambda(lambda t: t * 2.0, output_shape=(4,), mask=None)
    mine = R.Lambda(lam.function, output_shape=(4,), name=lam.name)
    assert _config(mine.get_config()) == _config(_plain_config(lam.get_config()))


def test_lambda_masks_shapes_and_training_as_keras(keras, rng):
    """Masks: dropped without `mask`, given by a callable with it; the output shape inferred by running; the
    function's `training` argument follows the call."""
    L = keras.layers
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    x[0, -2:] = 0.0
    for K in (keras, rnnlab):
        inp = K.Input((5, 2))
        masked = K.layers.Masking()(inp)
        plain = K.layers.Lambda(lambda t: t * 2.0)(masked)
        kept = K.layers.Lambda(lambda t: t * 2.0, mask=lambda t, m: m)(masked)
        assert tuple(plain.shape) == (None, 5, 2)
        model = K.Model(inp, [K.layers.LSTM(3)(plain), K.layers.LSTM(3)(kept)])
        if K is keras:
            k_model = model
        else:
            r_model = model
    r_model.set_weights(k_model.get_weights())
    for a, e in zip(r_model.predict(x, verbose=0), k_model.predict(x, verbose=0)):
        _close(a, e, what="masks")
    flip = (L.Lambda(lambda t, training=None: t * (2.0 if training else 1.0)),
            R.Lambda(lambda t, training=None: t * (2.0 if training else 1.0)))
    for training in (False, True):
        _close(flip[1](x, training=training), flip[0](x, training=training), what=f"training={training}")
    ours = R.Lambda(lambda t: ops.argmax(t, axis=-1))
    np.testing.assert_array_equal(ours(x), L.Lambda(lambda t: keras.ops.argmax(t, axis=-1))(x))
    symbolic = ours(rnnlab.Input((5, 2)))  # an integer output, found by running the function
    assert (symbolic.shape, symbolic.dtype) == ((None, 5), np.asarray(ours(x)).dtype.name)
