"""A compiled model's ``.keras`` archive and ``.weights.h5`` file keep its optimizer (Keras's part, against Keras
itself, is in tests/frameworks/test_keras_files.py): a trained model comes back with its iterations and state, so
the next training step gives the same weights; a schedule's optimizer stores no learning rate; an uncompiled model
stores no optimizer; and stored optimizer values that do not fit are refused with a warning, never half-applied.
"""
import io
import os
import zipfile

import numpy as np
import pytest

import rnnlab

try:
    import h5py
except ImportError:  # h5py is rnnlab's optional `keras` extra: a hard failure on CI, a skip elsewhere
    if os.environ.get("CI"):
        raise
    pytest.skip("h5py is not installed (pip install rnnlab[keras])", allow_module_level=True)

from tests.behaviour.test_legacy_h5_save import (_data, _functional, assert_resumes_identically,  # noqa: E402
                                                 assert_same_optimizer_state)


def _optimizer_vars(path):
    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        if "optimizer" not in f:
            return None
        return {name: np.asarray(ds[()]) for name, ds in f["optimizer/vars"].items()}


def _rewrite_optimizer_vars(path, change):
    """Rewrite the archive at ``path`` with ``change(group)`` applied to its ``optimizer/vars`` group."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        change(f["optimizer/vars"])
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _trained(rng, optimizer):
    model = _functional(rng)
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    x, y = _data(rng)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    return model, x, y


@pytest.mark.parametrize("optimizer", [
    lambda: rnnlab.optimizers.SGD(learning_rate=0.05, momentum=0.9),
    lambda: rnnlab.optimizers.Adagrad(learning_rate=0.05),
    lambda: rnnlab.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    lambda: rnnlab.optimizers.Adam(rnnlab.optimizers.schedules.ExponentialDecay(0.01, 3, 0.5)),
], ids=["sgd_momentum", "adagrad", "adam_amsgrad", "adam_schedule"])
def test_trained_model_round_trip_continues_training_identically(optimizer, tmp_path, rng):
    model, x, y = _trained(rng, optimizer())
    path = tmp_path / "trained.keras"
    model.save(path)
    stored = _optimizer_vars(path)
    assert int(stored["0"]) == model.optimizer.iterations == 2
    schedule = not isinstance(model.optimizer.get_config()["learning_rate"], float)
    assert ("1" in stored) and (stored["1"].shape == () or schedule)  # a schedule stores no learning rate
    assert_resumes_identically(rnnlab.models.load_model(path), model, x, y, steps=2)


def test_only_a_compiled_model_stores_an_optimizer(tmp_path, rng):
    model = _functional(rng)
    path = tmp_path / "uncompiled.keras"
    model.save(path)
    assert _optimizer_vars(path) is None
    model.compile(optimizer="adam", loss="mse")
    model.save(path, include_optimizer=True)  # what Keras does anyway
    assert sorted(_optimizer_vars(path)) == ["0", "1"]  # unbuilt: iterations and learning rate
    with pytest.raises(ValueError, match="include_optimizer"):
        model.save(path, include_optimizer=False)
    model.fit(*_data(rng), verbose=0)
    model.save(path)
    loaded = rnnlab.models.load_model(path, compile=False)
    assert not loaded._compiled  # the stored state is only read into the optimizer a compiled load creates


@pytest.mark.parametrize("damage", ["nan", "shape", "float_count", "missing", "extra", "huge"])
def test_stored_optimizer_values_that_do_not_fit_are_refused_whole(damage, tmp_path, rng):
    """A damaged or hostile optimizer group: a warning names the problem, the model loads with its weights and
    a fresh optimizer, and nothing of the stored state is applied (no allocation beyond the model's own size)."""
    model, x, y = _trained(rng, rnnlab.optimizers.Adam(0.01))
    path = tmp_path / "damaged.keras"
    model.save(path)
    last = str(len(_optimizer_vars(path)) - 1)

    def change(group):
        if damage == "nan":
            data = group[last][()]
            data.flat[0] = np.nan
            del group[last]
            group.create_dataset(last, data=data)
        elif damage == "shape":
            del group[last]
            group.create_dataset(last, data=np.zeros(7, "float32"))
        elif damage == "float_count":
            del group["0"]
            group.create_dataset("0", data=np.float32(2.0))
        elif damage == "missing":
            del group[last]
        elif damage == "extra":
            group.create_dataset(str(int(last) + 1), data=np.zeros(3, "float32"))
        else:  # a declared size far beyond the model, with no bytes behind it
            del group[last]
            group.create_dataset(last, shape=(1 << 40,), dtype="float32")

    _rewrite_optimizer_vars(path, change)
    with pytest.warns(UserWarning, match="optimizer"):
        loaded = rnnlab.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded._compiled and loaded.optimizer.iterations == 0 and not loaded.optimizer.built


def test_weights_files_hold_the_optimizer_of_a_compiled_model_only(tmp_path, rng):
    """``save_weights`` stores the optimizer's variables when the model is compiled, as Keras does;
    ``load_weights`` rolls a stepped optimizer back to them, and leaves an optimizer with another count alone."""
    model = _functional(rng)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r") as f:
        assert "optimizer" not in f
    model.compile(optimizer=rnnlab.optimizers.RMSprop(0.01, momentum=0.5), loss="mse")
    x, y = _data(rng)
    model.train_on_batch(x, y)
    model.save_weights(path)
    saved = [w.copy() for w in model.get_weights()]
    state = {p: {k: v.copy() for k, v in slots.items()} for p, slots in model.optimizer.state.items()}
    model.train_on_batch(x, y)
    model.load_weights(path)
    assert model.optimizer.iterations == 1
    for a, b in zip(model.get_weights(), saved):
        np.testing.assert_array_equal(a, b)
    assert_same_optimizer_state(model.optimizer, state)
    other = _functional(rng)
    other.compile(optimizer=rnnlab.optimizers.RMSprop(0.01, momentum=0.5), loss="mse")
    with pytest.warns(UserWarning, match="skipping the saved state"):
        other.load_weights(path)
    assert other.optimizer.iterations == 0 and not other.optimizer.built
