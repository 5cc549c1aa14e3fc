"""Regularizers and constraints: names, configs, user-written ones, and the errors for what rnnlab refuses."""
import json

import numpy as np
import pytest

import rnnlab
from rnnlab import constraints, layers, regularizers


def _sequence_model(**lstm_kwargs):
    inp = rnnlab.Input((4, 3))
    model = rnnlab.Model(inp, layers.Dense(1)(layers.LSTM(2, **lstm_kwargs)(inp)))
    model.compile("sgd", "mse")
    return model


def _data(rng, n=6):
    return rng.normal(size=(n, 4, 3)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


@pytest.mark.parametrize("name, cls", [("l1", regularizers.L1), ("l2", regularizers.L2), ("l1l2", regularizers.L1L2),
                                       ("orthogonal_regularizer", regularizers.OrthogonalRegularizer),
                                       ("L2", regularizers.L2)])
def test_regularizer_names_give_keras_defaults(name, cls):
    reg = regularizers.get(name)
    assert type(reg) is cls
    assert regularizers.deserialize(regularizers.serialize(reg)).get_config() == reg.get_config()


@pytest.mark.parametrize("name, cls", [("max_norm", constraints.MaxNorm), ("min_max_norm", constraints.MinMaxNorm),
                                       ("non_neg", constraints.NonNeg), ("unit_norm", constraints.UnitNorm)])
def test_constraint_names(name, cls):
    con = constraints.get(name)
    assert type(con) is cls
    assert constraints.deserialize(constraints.serialize(con)).get_config() == con.get_config()


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="kernel_regularizer.*'l3'"):
        layers.Dense(2, kernel_regularizer="l3")
    with pytest.raises(ValueError, match='"l1l2"'):  # Keras 3.15 has no "l1_l2" name either: say what it has
        layers.LSTM(2, recurrent_regularizer="l1_l2")
    with pytest.raises(ValueError, match="bias_constraint.*'positive'"):
        layers.GRU(2, bias_constraint="positive")
    with pytest.raises(ValueError, match="Unknown regularizer class 'Foo'"):
        regularizers.get({"class_name": "Foo", "config": {}})
    with pytest.raises(ValueError, match="non-negative float"):
        regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="mode"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(TypeError, match="embeddings_regularizer"):
        layers.Embedding(5, 2, embeddings_regularizer=3.0)


def test_add_weight_keeps_regularizer_and_constraint():
    layer = layers.Dense(2)
    var = layer.add_weight(shape=(2, 2), initializer="ones", regularizer="l2", constraint="non_neg", name="w")
    assert isinstance(var.regularizer, regularizers.L2) and isinstance(var.constraint, constraints.NonNeg)
    assert np.isclose(float(layer.losses[0]), 0.01 * 4)


def test_activity_regularizer_inside_a_wrapper_is_refused():
    with pytest.raises(ValueError, match="Bidirectional"):
        layers.Bidirectional(layers.LSTM(2, activity_regularizer="l2"))
    with pytest.raises(ValueError, match="TimeDistributed"):
        layers.TimeDistributed(layers.Dense(2, activity_regularizer="l2"))
    with pytest.raises(ValueError, match="RNN"):
        layers.RNN(layers.LSTMCell(2, activity_regularizer="l2"))
    with pytest.raises(ValueError, match="SimpleRNN.*never applies it"):
        layers.SimpleRNN(2, activity_regularizer="l1")


class Capped(regularizers.Regularizer):
    """A user's penalty with its gradient: 0.5 * c * sum(x**2)."""

    def __init__(self, c=0.1):
        self.c = c

    def __call__(self, x):
        return 0.5 * self.c * np.sum(np.square(x))

    def gradient(self, x):
        return self.c * x

    def get_config(self):
        return {"c": self.c}


def test_user_regularizer_with_gradient_trains_like_the_builtin(rng):
    x, y = _data(rng)
    mine, builtin = _sequence_model(kernel_regularizer=Capped(0.1)), _sequence_model(kernel_regularizer=regularizers.L2(0.05))
    builtin.set_weights(mine.get_weights())
    a = mine.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"]
    b = builtin.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(mine.get_weights()[0], builtin.get_weights()[0], atol=1e-7)


def test_user_regularizer_without_gradient_is_differentiated_from_its_record(rng):
    """A penalty written with ops, or NumPy ufuncs and np.sum (which map to ops on the record), trains like the
    built-in one it equals; no `gradient(x)` method needed."""

    class AbsSum(regularizers.Regularizer):
        def __call__(self, x):
            return 0.1 * np.sum(np.abs(x))

    def squares(x):
        return 0.2 * rnnlab.ops.sum(rnnlab.ops.square(x))

    x, y = _data(rng)
    for reg, builtin_reg in ((AbsSum(), regularizers.L1(0.1)), (squares, regularizers.L2(0.2))):
        mine, builtin = _sequence_model(kernel_regularizer=reg), _sequence_model(kernel_regularizer=builtin_reg)
        builtin.set_weights(mine.get_weights())
        a = mine.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"]
        b = builtin.fit(x, y, epochs=2, verbose=0, shuffle=False).history["loss"]
        np.testing.assert_allclose(a, b, rtol=1e-5)
        np.testing.assert_allclose(mine.get_weights()[0], builtin.get_weights()[0], atol=1e-6)


def test_user_regularizer_off_the_record_is_refused_in_training(rng):
    """A penalty computed on the plain array (np.asarray leaves the record) cannot be differentiated: refused,
    naming the weight, before any update."""

    def detached(x):
        return 0.1 * float(np.abs(np.asarray(x)).sum())

    x, y = _data(rng)
    model = _sequence_model(kernel_regularizer=detached)
    before = model.get_weights()
    assert len(model.losses) == 1  # reported, as in Keras
    with pytest.raises(TypeError, match="lstm_cell/kernel.*outside rnnlab.ops"):
        model.fit(x, y, epochs=1, verbose=0)
    for w0, w1 in zip(before, model.get_weights()):  # refused before any update
        np.testing.assert_array_equal(w0, w1)


def test_masked_loss_with_per_step_sample_weights(rng):
    """(batch, time) sample weights combine with the output's mask, as in Keras: padded steps never count."""
    inp = rnnlab.Input((5, 2))
    out = layers.TimeDistributed(layers.Dense(1))(layers.LSTM(3, return_sequences=True)(layers.Masking()(inp)))
    model = rnnlab.Model(inp, out)
    model.compile("sgd", "mse")
    x = rng.normal(size=(4, 5, 2)).astype("float32")
    x[1, 3:] = 0
    y = rng.normal(size=(4, 5, 1)).astype("float32")
    sw = rng.random((4, 5)).astype("float32")
    pred = model.predict(x, verbose=0)
    mask = np.any(x != 0, axis=-1)
    per_step = np.mean((pred - y) ** 2, axis=-1) * sw * mask
    expected = per_step.sum() / mask.sum()  # Keras: mask weight total/valid, then the mean over all entries
    assert np.isclose(model.evaluate(x, y, sample_weight=sw, verbose=0), expected, rtol=1e-5)
    y_changed = y.copy()
    y_changed[1, 3:] = 100.0  # targets under the mask do not matter
    assert np.isclose(model.evaluate(x, y_changed, sample_weight=sw, verbose=0), expected, rtol=1e-5)


def test_empty_batches_are_refused_and_empty_epochs_warn(rng):
    model = _sequence_model()
    x, y = _data(rng)
    with pytest.raises(ValueError, match="train_on_batch.*0 samples"):
        model.train_on_batch(x[:0], y[:0])
    with pytest.raises(ValueError, match="test_on_batch.*0 samples"):
        model.test_on_batch(x[:0], y[:0])
    with pytest.warns(UserWarning, match="ran out of data.*0 samples"):
        assert model.evaluate(x[:0], y[:0], verbose=0) == []


def test_custom_regularizer_in_a_file_needs_custom_objects(rng, tmp_path):
    model = _sequence_model(kernel_regularizer=Capped(0.3), kernel_constraint=constraints.MaxNorm(1.5))
    path = tmp_path / "m.keras"
    model.save(path)
    with pytest.raises(ValueError, match="Capped"):
        rnnlab.models.load_model(path)
    loaded = rnnlab.models.load_model(path, custom_objects={"Capped": Capped})  # the program's class, as Keras
    cell = loaded.layers[1].cell
    assert isinstance(cell.kernel.regularizer, Capped) and cell.kernel.regularizer.c == 0.3
    assert isinstance(cell.kernel.constraint, constraints.MaxNorm) and cell.kernel.constraint.max_value == 1.5


def test_unknown_regularizer_name_in_a_file_is_refused(tmp_path):
    model = _sequence_model(kernel_regularizer="l2")
    path = tmp_path / "m.keras"
    model.save(path)
    import zipfile

    with zipfile.ZipFile(path) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(files["config.json"])
    text = json.dumps(config).replace('"class_name": "L2"', '"class_name": "L7"')
    files["config.json"] = text.encode()
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    with pytest.raises(ValueError, match="lstm.*kernel_regularizer.*'L7'"):
        rnnlab.models.load_model(broken)
