"""``callbacks.BackupAndRestore`` against Keras 3.15.1: a ``fit`` interrupted by an exception and run again resumes
from the last backup (weights, optimizer state, finished epochs), and ends with the weights of the run that was never
interrupted, in rnnlab as in Keras; backups every N batches restart the unfinished epoch with the mid-epoch weights;
``double_checkpoint`` falls back to the previous backup; ``delete_checkpoint`` decides whether the directory stays;
bad arguments and damaged metadata are refused with clear errors."""
import json
import os

import numpy as np
import pytest

import rnnlab
from tests.support.reference import to_numpy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Interrupt(Exception):
    pass


def _interrupter(base, epoch=None, batch=None):
    """A callback of framework ``base`` (its ``callbacks.Callback``) that raises at the start of ``epoch``, or at
    the end of training batch ``batch`` (counted over the whole run)."""

    class Interrupting(base):
        seen = 0

        def on_epoch_begin(self, e, logs=None):
            if e == epoch:
                raise Interrupt(f"epoch {e}")

        def on_train_batch_end(self, b, logs=None):
            type(self).seen += 1
            if batch is not None and type(self).seen == batch:
                raise Interrupt(f"batch {b}")

    return Interrupting()


def _models(keras, rng):
    """The same GRU regressor in Keras and in rnnlab (random weights), compiled with Adam, and its data."""
    km = keras.Sequential([keras.Input((6, 2)), keras.layers.GRU(4), keras.layers.Dense(1)])
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in km.get_weights()]
    km.set_weights(weights)
    rm = rnnlab.Sequential([rnnlab.Input((6, 2)), rnnlab.layers.GRU(4), rnnlab.layers.Dense(1)])
    rm.set_weights(weights)
    km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    x = rng.normal(size=(20, 6, 2)).astype("float32")
    return km, rm, x, x.sum(axis=(1, 2))[:, None] * 0.1


def _fit_interrupted(model, lib, x, y, backup, epochs, **interrupt):
    """fit with a BackupAndRestore in ``backup``, interrupted as ``interrupt`` says, then fit again: the second
    run's History."""
    callback = lib.callbacks.BackupAndRestore(backup, **{k: v for k, v in interrupt.items() if k == "save_freq"})
    stop = _interrupter(lib.callbacks.Callback, interrupt.get("epoch"), interrupt.get("batch"))
    with pytest.raises(Interrupt):
        model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[callback, stop])
    assert os.path.exists(os.path.join(backup, "latest.weights.h5"))
    again = lib.callbacks.BackupAndRestore(backup, **{k: v for k, v in interrupt.items() if k == "save_freq"})
    return model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=[again])


@pytest.mark.parametrize("interrupt", [dict(epoch=3), dict(batch=7, save_freq=2), dict(batch=5, save_freq=3)],
                         ids=["at_epoch_3", "mid_epoch_every_2_batches", "mid_epoch_every_3_batches"])
def test_interrupted_fit_resumes_as_keras_resumes(keras, interrupt, tmp_path, rng):
    km, rm, x, y = _models(keras, rng)
    theirs = _fit_interrupted(km, keras, x, y, str(tmp_path / "keras_backup"), 5, **interrupt)
    ours = _fit_interrupted(rm, rnnlab, x, y, str(tmp_path / "rnnlab_backup"), 5, **interrupt)
    assert len(ours.history["loss"]) == len(theirs.history["loss"])
    assert not os.path.exists(tmp_path / "rnnlab_backup")  # delete_checkpoint: gone once fit completes
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=2e-5)
    assert rm.optimizer.iterations == int(km.optimizer.iterations)
    for a, b in zip(rm.get_weights(), km.weights):
        np.testing.assert_allclose(a, to_numpy(b), rtol=2e-5, atol=2e-6)


def test_resuming_at_an_epoch_boundary_gives_the_uninterrupted_run(tmp_path, rng):
    """The backup holds the optimizer's moments and step count: the resumed run is the uninterrupted one, bit
    for bit."""
    weights = None
    finals = []
    for interrupted in (False, True):
        model = rnnlab.Sequential([rnnlab.Input((6, 2)), rnnlab.layers.LSTM(3), rnnlab.layers.Dense(1)])
        weights = weights or [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()]
        model.set_weights(weights)
        model.compile(optimizer=rnnlab.optimizers.Adam(0.02), loss="mse")
        x = np.linspace(-1, 1, 20 * 12, dtype="float32").reshape(20, 6, 2)
        y = x.mean(axis=(1, 2))[:, None]
        if interrupted:
            history = _fit_interrupted(model, rnnlab, x, y, str(tmp_path / "b"), 4, epoch=2)
            assert len(history.history["loss"]) == 2
        else:
            model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)
        assert model.optimizer.iterations == 4 * 3
        finals.append(model.get_weights())
    for a, b in zip(*finals):
        np.testing.assert_array_equal(a, b)


def test_double_checkpoint_falls_back_to_the_previous_backup(keras, tmp_path, rng):
    """A damaged latest backup: with double_checkpoint the previous one (one epoch older) is restored, and
    training repeats that epoch, in rnnlab as in Keras."""
    km, rm, x, y = _models(keras, rng)
    histories = []
    for model, lib, folder in ((km, keras, "k"), (rm, rnnlab, "r")):
        backup = str(tmp_path / folder)
        callback = lib.callbacks.BackupAndRestore(backup, double_checkpoint=True)
        with pytest.raises(Interrupt):
            model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                      callbacks=[callback, _interrupter(lib.callbacks.Callback, epoch=3)])
        assert sorted(os.listdir(backup)) == ["latest.weights.h5", "latest.weights.h5.bkp",
                                              "training_metadata.json", "training_metadata.json.bkp"]
        with open(os.path.join(backup, "latest.weights.h5"), "r+b") as f:
            f.truncate(100)  # a disk filled up mid-write
        again = lib.callbacks.BackupAndRestore(backup, double_checkpoint=True, delete_checkpoint=False)
        histories.append(model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0, callbacks=[again]))
        assert os.path.isdir(backup)  # delete_checkpoint=False keeps it
        with open(os.path.join(backup, "training_metadata.json")) as f:
            assert json.load(f) == {"epoch": 5, "batch": 0}
    theirs, ours = histories
    assert len(ours.history["loss"]) == len(theirs.history["loss"]) == 3  # epochs 2, 3 and 4
    np.testing.assert_allclose(ours.history["loss"], theirs.history["loss"], rtol=2e-5)
    for a, b in zip(rm.get_weights(), km.weights):
        np.testing.assert_allclose(a, to_numpy(b), rtol=2e-5, atol=2e-6)


def test_bad_arguments_and_damaged_backups_are_refused(tmp_path, rng):
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        rnnlab.callbacks.BackupAndRestore("")
    with pytest.raises(TypeError, match="backup_dir"):
        rnnlab.callbacks.BackupAndRestore(3)
    for bad in ("batch", 1.5, True):
        with pytest.raises(ValueError, match="save_freq"):
            rnnlab.callbacks.BackupAndRestore(str(tmp_path), save_freq=bad)
    deferred = rnnlab.Sequential([rnnlab.layers.Dense(1)])  # built by fit on its first batch, before the restore
    deferred.compile(optimizer="adam", loss="mse")
    deferred.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0, epochs=2,
                 callbacks=[rnnlab.callbacks.BackupAndRestore(str(tmp_path / "u"), delete_checkpoint=False)])
    assert sorted(os.listdir(tmp_path / "u")) == ["latest.weights.h5", "training_metadata.json"]
    model = rnnlab.Sequential([rnnlab.Input((3,)), rnnlab.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    backup = tmp_path / "m"
    backup.mkdir()
    for metadata in (b'{"epoch": -1}', b'{"epoch": "2"}', b"[2]", b"not json", b"{" + b" " * 70000 + b"}"):
        (backup / "training_metadata.json").write_bytes(metadata)
        with pytest.raises(ValueError, match="training_metadata.json"):
            model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0,
                      callbacks=[rnnlab.callbacks.BackupAndRestore(str(backup))])


def test_a_second_interruption_before_an_epoch_ends_keeps_the_finished_epochs(tmp_path, rng):
    """A resumed run interrupted again mid-epoch, before it finishes an epoch: its backup still counts the epochs
    finished before the first restart (Keras's callback writes 0 there, so a third run would repeat them all)."""
    model = rnnlab.Sequential([rnnlab.Input((6, 2)), rnnlab.layers.GRU(3), rnnlab.layers.Dense(1)])
    model.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    x = rng.normal(size=(24, 6, 2)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None]
    backup = str(tmp_path / "b")
    metadata = os.path.join(backup, "training_metadata.json")
    for interrupt_at in (8, 2):  # batch 8 of the first run (epoch 2, 3 batches an epoch), then batch 2 of the next
        with pytest.raises(Interrupt):
            model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                      callbacks=[rnnlab.callbacks.BackupAndRestore(backup, save_freq=1),
                                 _interrupter(rnnlab.callbacks.Callback, batch=interrupt_at)])
        with open(metadata) as f:
            assert json.load(f)["epoch"] == 2
    history = model.fit(x, y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                        callbacks=[rnnlab.callbacks.BackupAndRestore(backup)])
    assert len(history.history["loss"]) == 3  # epochs 2, 3 and 4
