"""``model.save("m.h5")``: Keras's legacy HDF5 model, read back by rnnlab (Keras reading it is
tests/frameworks/test_keras_files.py's part).

A trained model comes back with its predictions, compile settings and optimizer state, so a further training
step gives the same weights; ``include_optimizer`` decides what is stored; the save is atomic and logs Keras's
"legacy format" warning; arguments rnnlab cannot honour are refused.
"""
import logging
import os

import numpy as np
import pytest

import rnnlab
from rnnlab import layers

try:
    import h5py
except ImportError:  # h5py is rnnlab's optional `keras` extra: a hard failure on CI, a skip elsewhere
    if os.environ.get("CI"):
        raise
    pytest.skip("h5py is not installed (pip install rnnlab[keras])", allow_module_level=True)

WRITER_LOGGER = "rnnlab.saving.legacy_h5_writer"


def _functional(rng):
    """Embedding with mask_zero, Bidirectional, stacked LSTMs, TimeDistributed, with random weights."""
    ids = rnnlab.Input(shape=(6,), dtype="int32")
    x = layers.Embedding(10, 4, mask_zero=True)(ids)
    x = layers.Bidirectional(layers.GRU(3, return_sequences=True))(x)
    x = layers.LSTM(3, return_sequences=True)(x)
    model = rnnlab.Model(ids, layers.TimeDistributed(layers.Dense(2))(x))
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.weights])
    return model


def assert_same_optimizer_state(optimizer, state):
    """``optimizer`` holds exactly the arrays of ``state`` (``{variable path: {slot: array}}``)."""
    assert sorted(optimizer.state) == sorted(state)
    for path, slots in state.items():
        for slot, value in slots.items():
            np.testing.assert_array_equal(optimizer.get_slot(path, slot), value)


def assert_resumes_identically(loaded, model, x, y, steps=1):
    """``loaded`` (read back from ``model``'s file) predicts as ``model``, has its optimizer's config, iterations
    and state, and ``steps`` more training steps on both give the same bits."""
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded._compiled and type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert_same_optimizer_state(loaded.optimizer, model.optimizer.state)
    for _ in range(steps):
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def _data(rng):
    x = rng.integers(1, 10, size=(8, 6)).astype("int32")
    x[:3, -2:] = 0  # padding
    return x, rng.normal(size=(8, 6, 2)).astype("float32")


@pytest.mark.parametrize("optimizer", [rnnlab.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                                       rnnlab.optimizers.Adagrad(learning_rate=0.05),
                                       rnnlab.optimizers.Adam(learning_rate=0.01, amsgrad=True)],
                         ids=["sgd_momentum", "adagrad", "adam_amsgrad"])
def test_trained_model_round_trip_continues_training_identically(optimizer, tmp_path, rng):
    model = _functional(rng)
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    x, y = _data(rng)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "trained.h5"
    model.save(path)
    loaded = rnnlab.models.load_model(path)
    assert optimizer.iterations == 2
    assert loaded.evaluate(x, y, verbose=0, return_dict=True).keys() == \
        model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss", "mae"}
    assert_resumes_identically(loaded, model, x, y)


def test_include_optimizer_decides_what_is_stored(tmp_path, rng):
    model = _functional(rng)
    uncompiled = tmp_path / "uncompiled.h5"
    model.save(uncompiled)
    model.compile(optimizer="adam", loss="mse")
    fresh = tmp_path / "compiled_untrained.h5"
    model.save(fresh)
    model.fit(*_data(rng), verbose=0)
    without = tmp_path / "without_optimizer.h5"
    model.save(without, include_optimizer=False)
    for path in (uncompiled, without):
        with h5py.File(path, "r") as f:
            assert "training_config" not in f.attrs and "optimizer_weights" not in f
        assert not rnnlab.models.load_model(path)._compiled
    with h5py.File(fresh, "r") as f:  # an optimizer that never stepped is unbuilt in Keras: two variables
        assert [n.decode() if isinstance(n, bytes) else n for n in f["optimizer_weights"].attrs["weight_names"]] \
            == [f"{model.optimizer.name}/iteration", f"{model.optimizer.name}/learning_rate"]
    loaded = rnnlab.models.load_model(fresh)
    assert loaded._compiled and loaded.optimizer.iterations == 0
    assert not rnnlab.models.load_model(fresh, compile=False)._compiled


def test_save_logs_keras_legacy_warning_and_writes_atomically(tmp_path, rng, caplog):
    model = _functional(rng)
    target = tmp_path / "new_dir" / "m.hdf5"  # missing directories are created, as Keras creates them
    with caplog.at_level(logging.WARNING, logger=WRITER_LOGGER):
        rnnlab.models.save_model(model, target)
    assert [r.levelno for r in caplog.records if r.name == WRITER_LOGGER] == [logging.WARNING]
    assert "legacy" in caplog.text and ".keras" in caplog.text
    before = target.read_bytes()
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: (y_true - y_pred) ** 2)
    with pytest.raises(ValueError, match="include_optimizer=False"):  # a lambda has no name Keras could load
        model.save(target)
    assert target.read_bytes() == before
    assert sorted(os.listdir(target.parent)) == ["m.hdf5"]  # no temporary file left behind
    rnnlab.saving.save_model(model, target, include_optimizer=False)
    np.testing.assert_array_equal(rnnlab.models.load_model(target).get_weights()[0], model.get_weights()[0])


def test_save_format_is_accepted_as_keras_accepts_it(tmp_path, rng, caplog):
    model = _functional(rng)
    with caplog.at_level(logging.WARNING):
        model.save(tmp_path / "m.h5", save_format="h5")
    assert "save_format" in caplog.text
    with pytest.raises(ValueError, match="save_format"):
        model.save(tmp_path / "m.bin", save_format="h5")


def test_long_name_lists_are_split_as_keras_splits_them(tmp_path, rng):
    """Keras writes a list attribute over 64512 bytes as ``layer_names0``, ``layer_names1``...; rnnlab
    writes and reads that form."""
    inp = rnnlab.Input(shape=(3,))
    x = inp
    for i in range(3):
        x = layers.Dense(2, name=f"dense_{i}_" + "x" * 30000)(x)
    model = rnnlab.Model(inp, x)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    path = tmp_path / "long.h5"
    model.save(path)
    with h5py.File(path, "r") as f:
        assert "layer_names" not in f["model_weights"].attrs and "layer_names1" in f["model_weights"].attrs
    data = rng.normal(size=(2, 3)).astype("float32")
    np.testing.assert_array_equal(rnnlab.models.load_model(path).predict(data, verbose=0),
                                  model.predict(data, verbose=0))


class _OwnOptimizer(rnnlab.optimizers.SGD):
    """An optimizer rnnlab cannot map onto a Keras class."""


def test_refusals(tmp_path, rng):
    model = _functional(rng)
    path = tmp_path / "m.h5"
    with pytest.raises(TypeError, match="include_optimizer"):
        model.save(path, include_optimizer="yes")
    with pytest.raises(ValueError, match="include_optimizer"):
        model.save(tmp_path / "m.keras", include_optimizer=False)
    model.save(path)
    with pytest.raises(ValueError, match="overwrite=False"):
        model.save(path, overwrite=False)
    with pytest.raises(ValueError, match="not built"):
        rnnlab.Sequential([layers.LSTM(2)]).save(tmp_path / "unbuilt.h5")
    model.compile(optimizer=_OwnOptimizer(), loss="mse")
    with pytest.raises(ValueError, match="include_optimizer=False"):
        model.save(path)
    model.compile(optimizer=rnnlab.optimizers.SGD(learning_rate=lambda: 0.1), loss="mse")
    with pytest.raises(ValueError, match="include_optimizer=False"):
        model.save(path)
