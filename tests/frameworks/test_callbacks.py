"""rnnlab.callbacks driven with synthetic logs, with Keras 3's own callbacks fed the same logs as the oracle."""
import ast
import io
import itertools
import math
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab import callbacks as C
from rnnlab import layers
from rnnlab import metrics as M

NAN, INF = float("nan"), float("inf")

# Keras converts Python floats through np.array(copy=False) internally; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ---------------------------------------------------------------------------------------------------------
# a fake model: just what callbacks touch
# ---------------------------------------------------------------------------------------------------------

class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """get/set_weights, save/save_weights (np.savez to a temp file + os.replace), stop_training, optimizer."""

    def __init__(self, learning_rate=0.1, metrics=()):
        self.weights = [np.zeros(2), np.zeros((2, 3))]
        self.stop_training = False
        self.optimizer = FakeOptimizer(learning_rate)
        self.metrics = list(metrics)
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, copy=True) for w in weights]

    def _write(self, kind, path, overwrite):
        assert overwrite is True
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            np.savez(f, *self.weights)
        os.replace(tmp, path)
        self.saved.append((kind, os.path.basename(path)))

    def save_weights(self, filepath, overwrite=True):
        self._write("weights", filepath, overwrite)

    def save(self, filepath, overwrite=True):
        self._write("model", filepath, overwrite)


def stamp(model, epoch):
    """Give the model weights that identify the epoch."""
    model.weights = [np.full(2, float(epoch)), np.full((2, 3), float(epoch) * 10)]


def run_epochs(cb, model, logs_seq, batches=0, batch_logs=None):
    """Keras's fit loop order for one callback; returns the epochs that ran."""
    cb.set_model(model)
    cb.on_train_begin()
    ran = []
    for epoch, logs in enumerate(logs_seq):
        stamp(model, epoch)
        cb.on_epoch_begin(epoch)
        for b in range(batches):
            cb.on_train_batch_begin(b)
            cb.on_train_batch_end(b, dict(batch_logs or {}))
        cb.on_epoch_end(epoch, dict(logs))
        ran.append(epoch)
        if model.stop_training:
            break
    cb.on_train_end()
    return ran


@pytest.fixture(scope="module")
def keras_cb(keras):
    return keras.callbacks


# ---------------------------------------------------------------------------------------------------------
# EarlyStopping
# ---------------------------------------------------------------------------------------------------------

LOSS_SEQS = {
    "bumpy": [1.0, 0.9, 0.95, 0.93, 0.96, 0.97, 0.8, 0.99, 1.0, 1.1, 1.2],
    "slow": [1.0 - 0.004 * i for i in range(10)],
    "nan_mid": [1.0, 0.8, NAN, 0.85, 0.7, NAN, 0.9, 0.95, 0.96],
    "flat": [0.5] * 8,
}


def es_cases():
    params = [dict(patience=p, min_delta=d, baseline=b, start_from_epoch=s)
              for p, d, b, s in itertools.product([0, 1, 3], [0, 0.01], [None, 0.92], [0, 2])]
    return [(name, prm) for name in LOSS_SEQS for prm in params]


@pytest.mark.parametrize("name,params", es_cases(),
                         ids=[f"{n}-" + "-".join(f"{k}{v}" for k, v in p.items()) for n, p in es_cases()])
def test_early_stopping_matches_keras(keras_cb, capsys, name, params):
    seq = [{"loss": 0.1, "val_loss": v} for v in LOSS_SEQS[name]]
    outcome = []
    for module in (C, keras_cb):
        model = FakeModel()
        cb = module.EarlyStopping(monitor="val_loss", verbose=1, restore_best_weights=True, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ran = run_epochs(cb, model, seq)
        outcome.append((ran, cb.stopped_epoch, cb.best_epoch, cb.wait, str(cb.best), model.stop_training,
                        [w.tolist() for w in model.weights], capsys.readouterr().out))
    assert outcome[0] == outcome[1]


@pytest.mark.parametrize("mode", ["max", "auto"])
def test_early_stopping_max_mode_matches_keras(keras_cb, mode):
    seq = [{"val_accuracy": v} for v in [0.5, 0.6, 0.6, 0.65, 0.64, 0.63, 0.62, 0.7]]
    results = []
    for module in (C, keras_cb):
        model = FakeModel()
        cb = module.EarlyStopping(monitor="val_accuracy", patience=2, mode="max", restore_best_weights=True)
        ran = run_epochs(cb, model, seq)
        results.append((ran, cb.stopped_epoch, cb.best, model.weights[0].tolist()))
    assert results[0] == results[1] == ([0, 1, 2, 3, 4, 5], 5, 0.65, [3.0, 3.0])


def test_restore_best_weights_without_early_stop(keras_cb):
    """Keras 3 restores the best weights at the end of training even when it never stopped early."""
    seq = [{"val_loss": v} for v in [1.0, 0.5, 0.7]]
    for module in (C, keras_cb):
        model = FakeModel()
        cb = module.EarlyStopping(patience=5, restore_best_weights=True)
        assert run_epochs(cb, model, seq) == [0, 1, 2]
        assert cb.stopped_epoch == 0 and model.weights[0].tolist() == [1.0, 1.0]


@pytest.fixture(scope="module")
def keras_model(keras):
    """A real, compiled Keras model whose compile metrics are built (so mode="auto" can inspect them)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.evaluate(np.zeros((4, 3), np.float32), np.zeros(4, np.int64), verbose=0)
    return model


def test_auto_mode_from_model_metrics_like_keras(keras, keras_model):
    """auto mode: Keras asks the model's metrics for their direction; rnnlab does the same."""
    seq = [{"val_accuracy": v, "val_loss": 1.0} for v in [0.5, 0.6, 0.55, 0.58, 0.57, 0.9]]
    keras_cb = keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=2)
    keras_cb.set_model(keras_model)
    keras_model.stop_training = False
    keras_cb.on_train_begin()
    ours = C.EarlyStopping(monitor="val_accuracy", patience=2)
    fake = FakeModel(metrics=[M.Mean(name="loss"), M.get("accuracy")])
    ours.set_model(fake)
    ours.on_train_begin()
    for epoch, logs in enumerate(seq):
        keras_cb.on_epoch_end(epoch, dict(logs))
        ours.on_epoch_end(epoch, dict(logs))
        assert (ours.wait, ours.best, fake.stop_training) == (keras_cb.wait, keras_cb.best, keras_model.stop_training)
        if fake.stop_training:
            break
    assert ours.stopped_epoch == keras_cb.stopped_epoch == 3
    keras_model.stop_training = False


def test_auto_mode_fallbacks_and_errors():
    cb = C.EarlyStopping(monitor="val_accuracy")
    cb.set_model(FakeModel())  # the model exposes no metric of that name: the name decides
    cb._set_monitor_op()
    assert cb.monitor_op is np.greater
    cb = C.EarlyStopping(monitor="val_mean_squared_error")
    cb.set_model(FakeModel())
    cb._set_monitor_op()
    assert cb.monitor_op is np.less
    cb = C.EarlyStopping(monitor="val_mse")
    cb.set_model(FakeModel(metrics=[M.get("mse")]))
    cb._set_monitor_op()
    assert cb.monitor_op is np.less
    cb = C.EarlyStopping(monitor="val_frobnication")
    cb.set_model(FakeModel())
    with pytest.raises(ValueError, match="mode='max'"):
        cb._set_monitor_op()
    with pytest.warns(UserWarning, match="unknown"):
        assert C.EarlyStopping(mode="upwards").mode == "auto"


def test_missing_monitor_warns_and_continues():
    cb = C.EarlyStopping(monitor="val_loss", patience=0)
    model = FakeModel()
    with pytest.warns(UserWarning, match="val_loss.*not available"):
        assert run_epochs(cb, model, [{"loss": 1.0}] * 3) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------------------
# ReduceLROnPlateau
# ---------------------------------------------------------------------------------------------------------

def rlr_cases():
    return list(itertools.product([0.5, 0.1], [0, 2], [0, 2], [0.0, 0.004], [1e-4, 0.05]))


@pytest.mark.parametrize("factor,patience,cooldown,min_lr,min_delta", rlr_cases())
def test_reduce_lr_matches_keras(keras_cb, capsys, factor, patience, cooldown, min_lr, min_delta):
    seq = [{"val_loss": v} for v in LOSS_SEQS["bumpy"] + [1.3, 1.4, 0.1, 0.2, 0.3]]
    trace = []
    for module in (C, keras_cb):
        model = FakeModel(learning_rate=0.1)
        cb = module.ReduceLROnPlateau(factor=factor, patience=patience, cooldown=cooldown, min_lr=min_lr,
                                      min_delta=min_delta, verbose=1)
        cb.set_model(model)
        cb.on_train_begin()
        lrs, logged = [], []
        for epoch, logs in enumerate(seq):
            logs = dict(logs)
            cb.on_epoch_end(epoch, logs)
            lrs.append(float(model.optimizer.learning_rate))
            logged.append(logs["learning_rate"])
        trace.append((lrs, logged, capsys.readouterr().out))
    np.testing.assert_allclose(trace[0][0], trace[1][0], rtol=1e-12)
    np.testing.assert_allclose(trace[0][1], trace[1][1], rtol=1e-12)
    assert trace[0][2] == trace[1][2]


def test_reduce_lr_on_a_real_keras_model(keras, keras_model):
    """Same decisions as Keras driving a real optimizer (float32 learning-rate variable)."""
    seq = [{"val_accuracy": v} for v in [0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6]]
    keras_model.optimizer.learning_rate = 0.1
    theirs = keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    theirs.set_model(keras_model)
    theirs.on_train_begin()
    fake = FakeModel(learning_rate=0.1, metrics=[M.get("accuracy")])
    ours = C.ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    ours.set_model(fake)
    ours.on_train_begin()
    for epoch, logs in enumerate(seq):
        theirs.on_epoch_end(epoch, dict(logs))
        ours.on_epoch_end(epoch, dict(logs))
        assert math.isclose(fake.optimizer.learning_rate, float(keras_model.optimizer.learning_rate), rel_tol=1e-6)
    assert math.isclose(fake.optimizer.learning_rate, 0.1 * 0.5 ** 6)


def test_reduce_lr_rejects_factor_ge_1():
    with pytest.raises(ValueError, match="factor"):
        C.ReduceLROnPlateau(factor=1.0)


def test_learning_rate_reaches_history_like_keras(keras_cb):
    seq = [{"loss": v, "val_loss": v} for v in [1.0, 1.0, 1.0]]
    histories = []
    for module in (C, keras_cb):
        model = FakeModel(learning_rate=0.1)
        cbs = module.CallbackList([module.ReduceLROnPlateau(patience=0, factor=0.5)], add_history=True, model=model,
                                  verbose=0, epochs=3, steps=1)
        cbs.on_train_begin()
        for epoch, logs in enumerate(seq):
            cbs.on_epoch_begin(epoch)
            cbs.on_epoch_end(epoch, dict(logs))
        cbs.on_train_end()
        histories.append(model.history.history)
    assert histories[0] == histories[1]
    assert list(histories[0]) == ["loss", "val_loss", "learning_rate"]  # added after the sorted keys
    assert histories[0]["learning_rate"] == [0.1, 0.1, 0.05]


# ---------------------------------------------------------------------------------------------------------
# ModelCheckpoint
# ---------------------------------------------------------------------------------------------------------

def saved_epoch(path):
    with np.load(path) as data:
        return float(data["arr_0"][0])


def test_checkpoint_best_only_never_overwritten_by_nan_or_worse(tmp_path, capsys):
    path = str(tmp_path / "best.weights.h5")
    model = FakeModel()
    cb = C.ModelCheckpoint(path, monitor="val_loss", save_best_only=True, save_weights_only=True, verbose=1)
    cb.set_model(model)
    cb.on_train_begin()
    expected_file_epoch = [0, 1, 1, 1, 4, 4, 4]
    for epoch, value in enumerate([1.0, 0.5, NAN, 0.7, 0.4, INF, NAN]):
        stamp(model, epoch)
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"val_loss": value})
        assert saved_epoch(path) == expected_file_epoch[epoch]
    assert model.saved == [("weights", "best.weights.h5")] * 3
    assert not [p for p in os.listdir(tmp_path) if p != "best.weights.h5"], "no temp files left behind"
    out = capsys.readouterr().out
    assert "Epoch 3: val_loss did not improve from 0.50000" in out
    assert f"Epoch 5: val_loss improved from 0.50000 to 0.40000, saving model to {path}" in out


def test_checkpoint_nan_first_epoch_is_not_a_best(tmp_path):
    path = str(tmp_path / "m.keras")
    model = FakeModel()
    cb = C.ModelCheckpoint(path, save_best_only=True)
    run_epochs(cb, model, [{"val_loss": NAN}, {"val_loss": 2.0}, {"val_loss": NAN}])
    assert model.saved == [("model", "m.keras")]
    assert saved_epoch(path) == 1.0


CKPT_CASES = [
    dict(save_best_only=False, save_weights_only=True),
    dict(save_best_only=True, save_weights_only=True),
    dict(save_best_only=True, save_weights_only=False, mode="max", monitor="val_accuracy"),
    dict(save_best_only=True, save_weights_only=False, initial_value_threshold=0.75),
    dict(save_best_only=False, save_weights_only=True, save_freq=3),
    dict(save_best_only=False, save_weights_only=False, save_freq=5),
]


@pytest.mark.parametrize("params", CKPT_CASES, ids=[str(i) for i in range(len(CKPT_CASES))])
def test_checkpoint_decisions_and_paths_match_keras(keras_cb, tmp_path, capsys, params):
    params = dict(params)
    suffix = ".weights.h5" if params["save_weights_only"] else ".keras"
    name = "ck-{epoch:02d}-{val_loss:.3f}" if params.get("save_freq", "epoch") == "epoch" else "ck-{epoch}-{batch}"
    seq = [{"loss": 1.0 - 0.1 * i, "val_loss": v, "val_accuracy": 1 - v}
           for i, v in enumerate([0.9, 0.8, 0.85, 0.6, 0.7, 0.6, 0.5])]
    results = []
    for k, module in enumerate((C, keras_cb)):
        folder = tmp_path / f"run{k}"
        model = FakeModel()
        cb = module.ModelCheckpoint(str(folder / "sub" / (name + suffix)), verbose=1, **params)
        run_epochs(cb, model, seq, batches=4, batch_logs={"loss": 0.5})
        out = capsys.readouterr().out.replace(str(folder), "<dir>")
        results.append((model.saved, sorted(os.listdir(folder / "sub")), out))
    assert results[0] == results[1]
    assert results[0][0], "something was saved"


def test_checkpoint_best_only_at_batch_frequency(tmp_path):
    """Keras 3.15 crashes here (its monitor op is set at the first epoch end only); rnnlab decides at once."""
    path = str(tmp_path / "b-{epoch}-{batch}.weights.h5")
    model = FakeModel()
    cb = C.ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True, save_freq=2)
    cb.set_model(model)
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    for batch, loss in enumerate([0.9, 0.8, 0.85, 0.9, 0.7, 0.6]):
        cb.on_train_batch_end(batch, {"loss": loss})
    assert [name for _, name in model.saved] == ["b-1-2.weights.h5", "b-1-6.weights.h5"]


def test_checkpoint_filepath_needs_the_log_key(tmp_path):
    cb = C.ModelCheckpoint(str(tmp_path / "{val_auc:.2f}.keras"))
    with pytest.raises(KeyError, match="val_auc"):
        run_epochs(cb, FakeModel(), [{"val_loss": 1.0}])
    with pytest.raises(ValueError, match="save_freq"):
        C.ModelCheckpoint("x.keras", save_freq="batch")


# ---------------------------------------------------------------------------------------------------------
# TerminateOnNaN
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_terminate_on_nan_matches_keras(keras_cb, capsys, bad):
    outs = []
    for module in (C, keras_cb):
        model = FakeModel()
        cb = module.TerminateOnNaN()
        cb.set_model(model)
        cb.on_train_batch_end(0, {"loss": 0.3})
        assert not model.stop_training
        cb.on_train_batch_end(3, {"loss": bad})
        assert model.stop_training
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == "Batch 3: Invalid loss, terminating training\n"


def test_terminate_on_nan_stops_the_loop_through_callback_list(capsys):
    model = FakeModel()
    cbs = C.CallbackList([C.TerminateOnNaN()], model=model, epochs=2, steps=5, verbose=0)
    cbs.on_train_begin()
    seen = []
    for step, loss in enumerate([0.5, 0.4, NAN, 0.3, 0.2]):
        cbs.on_train_batch_begin(step)
        cbs.on_train_batch_end(step, {"loss": np.float32(loss)})
        seen.append(step)
        if model.stop_training:
            break
    assert seen == [0, 1, 2]
    assert capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"
    with pytest.raises(RuntimeError, match="batch 7"):
        cb = C.TerminateOnNaN(raise_error=True)
        cb.set_model(FakeModel())
        cb.on_train_batch_end(7, {"loss": NAN})


# ---------------------------------------------------------------------------------------------------------
# CSVLogger
# ---------------------------------------------------------------------------------------------------------

CSV_SEQS = {
    "with_val": [{"loss": 0.5, "accuracy": 0.25, "val_loss": 0.75, "val_accuracy": 0.125},
                 {"loss": 0.25, "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.375}],
    "no_val": [{"loss": 0.6931471824645996, "accuracy": 0.5}, {"loss": 1e-05, "accuracy": 1.0}],
    "odd_values": [{"loss": 0.5, "note": "a,b", "vec": [1, 2]}, {"loss": NAN, "note": "x", "vec": [3]}],
}


@pytest.mark.parametrize("seq", list(CSV_SEQS), ids=list(CSV_SEQS))
@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_bytes_match_keras(keras_cb, tmp_path, seq, separator):
    contents = []
    for k, module in enumerate((C, keras_cb)):
        path = tmp_path / f"log{k}.csv"
        for run in range(2):  # a second run appends (header only once)
            cb = module.CSVLogger(str(path), separator=separator, append=run == 1)
            run_epochs(cb, FakeModel(), CSV_SEQS[seq])
        contents.append(path.read_bytes())
    assert contents[0] == contents[1]
    if seq == "with_val" and separator == ",":
        assert contents[0].decode().splitlines()[0] == "epoch,accuracy,loss,val_accuracy,val_loss"


def test_csv_logger_overwrites_without_append(tmp_path):
    path = tmp_path / "log.csv"
    for _ in range(2):
        run_epochs(C.CSVLogger(str(path)), FakeModel(), CSV_SEQS["no_val"])
    assert path.read_text().count("epoch,") == 1
    assert path.read_bytes().endswith(b"\r\n")


# ---------------------------------------------------------------------------------------------------------
# LambdaCallback, History, CallbackList
# ---------------------------------------------------------------------------------------------------------

def test_lambda_callback():
    calls = []
    cb = C.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs["loss"])),
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_train_end=lambda logs: calls.append(("train_end",)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_end=lambda logs: calls.append(("test_end", logs)),
    )
    cbs = C.CallbackList([cb], model=FakeModel())
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    cbs.on_train_batch_begin(0)
    cbs.on_train_batch_end(0, {"loss": 1.0})
    cbs.on_test_begin()
    cbs.on_test_end({"loss": 2.0})
    cbs.on_epoch_end(0, {"loss": np.float32(0.5)})
    cbs.on_train_end()
    assert calls == [("train_begin",), ("epoch_begin", 0), ("batch_begin", 0), ("batch_end", 0),
                     ("test_end", {"loss": 2.0}), ("epoch_end", 0, 0.5), ("train_end",)]


def test_history_and_logs_like_keras(keras_cb):
    seq = [{"loss": np.float32(0.5), "accuracy": np.float64(0.25), "val_loss": 0.75, "val_accuracy": 0.125},
           {"loss": np.float32(0.25), "accuracy": 0.5, "val_loss": 0.5, "val_accuracy": 0.375}]
    results = []
    for module in (C, keras_cb):
        model = FakeModel()
        cbs = module.CallbackList(None, add_history=True, model=model, verbose=0, epochs=2, steps=3)
        assert model.history is not None  # set when the list gets the model, as in Keras
        cbs.on_train_begin()
        for epoch, logs in enumerate(seq):
            cbs.on_epoch_begin(epoch)
            cbs.on_epoch_end(epoch, logs)
        cbs.on_train_end(logs)
        h = model.history
        results.append((list(h.history), h.history, h.epoch, h.params))
        assert all(type(v) is float for vs in h.history.values() for v in vs)
    assert results[0] == results[1]
    assert results[0][0] == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert results[0][3] == {"verbose": 0, "epochs": 2, "steps": 3}


def test_callback_list_shares_one_sorted_pythonified_dict():
    seen = []

    class Spy(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs)
            logs["added"] = 1.0

    cbs = C.CallbackList([Spy(), Spy()], model=FakeModel())
    cbs.on_epoch_end(0, {"z": np.float32(1.5), "a": "text", "nested": {"m": np.int64(3)}})
    assert seen[0] is seen[1]
    assert list(seen[0])[:3] == ["a", "m", "z"]
    assert seen[0]["m"] == 3.0 and type(seen[0]["m"]) is float and seen[0]["a"] == "text"


def test_callback_list_defaults_are_not_duplicated():
    hist, bar = C.History(), C.ProgbarLogger()
    cbs = C.CallbackList([hist, [bar]], add_history=True, add_progbar=True, model=FakeModel(), verbose=1,
                         epochs=1, steps=1)
    assert cbs.callbacks == [hist, bar]
    cbs = C.CallbackList([], add_history=True, add_progbar=False, model=FakeModel())
    assert [type(c) for c in cbs.callbacks] == [C.History]
    model = FakeModel()
    cb = C.Callback()
    C.CallbackList([cb], model=model, verbose=2, epochs=3, steps=4)
    assert cb.model is model and cb.params == {"verbose": 2, "epochs": 3, "steps": 4}


def test_train_batch_hooks_fall_back_to_batch_aliases():
    calls = []

    class Old(C.Callback):
        def on_batch_begin(self, batch, logs=None):
            calls.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("end", batch))

    cbs = C.CallbackList([Old()])
    cbs.on_train_batch_begin(4)
    cbs.on_train_batch_end(4, {})
    assert calls == [("begin", 4), ("end", 4)]


# ---------------------------------------------------------------------------------------------------------
# progress output
# ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_clock(monkeypatch):
    """time.time advancing 0.37 s per call, for both rnnlab's and Keras's progress bars."""
    state = {"now": 1_000_000.0}

    def now():
        state["now"] += 0.37
        return state["now"]

    monkeypatch.setattr(time, "time", now)
    return state


def strip_keras(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\x08", "")


def drive_fit(hooks, epochs, steps, with_val, verbose):
    """A fit-like sequence on ``hooks`` (an rnnlab CallbackList or a Keras ProgbarLogger), logs pre-sorted."""
    hooks.on_train_begin()
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        for step in range(steps):
            hooks.on_train_batch_begin(step)
            loss = 0.69314718 / (step + 1 + epoch)
            hooks.on_train_batch_end(step, {"accuracy": 0.5 + 0.1 * step, "loss": loss, "tiny": -2e-4})
        logs = {"accuracy": 0.9, "loss": 0.3, "tiny": -2e-4}
        if with_val:
            hooks.on_test_begin()
            hooks.on_test_batch_begin(0)
            hooks.on_test_batch_end(0, {"accuracy": 1.0, "loss": 1e-5})
            hooks.on_test_end({"accuracy": 1.0, "loss": 1e-5})
            logs.update({"val_accuracy": 1.0, "val_loss": 1e-5})
        hooks.on_epoch_end(epoch, logs)
    hooks.on_train_end(logs)


@pytest.mark.parametrize("verbose", [1, 2, "auto"])
@pytest.mark.parametrize("epochs,steps,with_val", [(1, 3, False), (3, 12, True)])
def test_fit_progress_output_matches_keras(keras_cb, capsys, fake_clock, verbose, epochs, steps, with_val):
    ours = C.CallbackList([], add_progbar=True, model=FakeModel(), verbose=verbose, epochs=epochs, steps=steps)
    drive_fit(ours, epochs, steps, with_val, verbose)
    out = capsys.readouterr().out
    theirs = keras_cb.ProgbarLogger()
    theirs.set_params({"verbose": verbose, "epochs": epochs, "steps": steps})
    drive_fit(theirs, epochs, steps, with_val, verbose)
    expected = strip_keras(capsys.readouterr().out)
    assert out == expected
    assert "\x1b" not in out  # not a terminal: no colour codes
    last = out.rstrip("\n").split("\n")[-1].split("\r")[-1]
    if verbose == 2:
        assert re.fullmatch(rf"{steps}/{steps} - \d+s - \d+(us|ms|s)/step - accuracy: 0\.9000 - loss: 0\.3000"
                            r" - tiny: -2\.0000e-04( - val_accuracy: 1\.0000 - val_loss: 1\.0000e-05)?", last), last
    else:
        assert re.fullmatch(rf"{steps}/{steps} \u2501{{20}} \d+s \d+(us|ms|s)/step - accuracy: 0\.9000 - "
                            r"loss: 0\.3000 - tiny: -2\.0000e-04( - val_accuracy: 1\.0000 - val_loss: 1\.0000e-05)?",
                            last), last
    assert out.count("Epoch ") == (epochs if epochs > 1 else 0)


def test_evaluate_and_predict_progress_match_keras(keras_cb, capsys, fake_clock):
    def drive(hooks):
        hooks.on_test_begin()
        for step in range(4):
            hooks.on_test_batch_begin(step)
            hooks.on_test_batch_end(step, {"loss": 0.1 * (step + 1)})
        hooks.on_test_end({"loss": 0.25})
        hooks.on_predict_begin()
        for step in range(4):
            hooks.on_predict_batch_begin(step)
            hooks.on_predict_batch_end(step, {"outputs": np.zeros(3)})
        hooks.on_predict_end()

    drive(C.CallbackList([], add_progbar=True, model=FakeModel(), verbose=1, epochs=1, steps=4))
    ours = capsys.readouterr().out
    theirs = keras_cb.ProgbarLogger()
    theirs.set_params({"verbose": 1, "epochs": 1, "steps": 4})
    drive(theirs)
    assert ours == strip_keras(capsys.readouterr().out)
    assert re.search("\r4/4 \u2501{20} \\d+s \\d+ms/step - loss: 0.2500 *\n\r1/4", ours)
    assert re.search("\r4/4 \u2501{20} \\d+s \\d+ms/step *\n$", ours)


def test_verbose_0_is_silent(capsys):
    cbs = C.CallbackList([], add_history=True, add_progbar=False, model=FakeModel(), verbose=0, epochs=2, steps=2)
    drive_fit(cbs, 2, 2, True, 0)
    assert capsys.readouterr().out == ""


def test_predict_prints_with_the_one_progress_bar(capsys, fake_clock):
    """``predict`` prints through the bar that ``fit`` and ``evaluate`` use: Keras's frames (count right-aligned,
    the full-width bar), and its finished line."""
    assert rnnlab.utils.Progbar is C.Progbar
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.GRU(2)(inp))
    x = np.random.default_rng(3).normal(size=(70, 5, 3))
    model.predict(x, batch_size=6)
    out = capsys.readouterr().out
    assert out.startswith("\r 1/12 " + "\u2501" * 20 + " ")
    assert re.search("\r12/12 \u2501{20} \\d+s \\d+(us|ms|s)/step *\n$", out)
    model.predict(x, batch_size=70, verbose=2)
    assert re.fullmatch("1/1 - \\d+s - \\d+(us|ms|s)/step\n", capsys.readouterr().out)


def test_progbar_metric_formatting_and_colour(monkeypatch):
    import types
    from rnnlab.utils import progbar as progbar_module
    ticks = iter(range(100, 200))  # a clock of whole seconds: the time field (and so the padding) never varies
    monkeypatch.setattr(progbar_module, "time", types.SimpleNamespace(time=lambda: float(next(ticks))))
    stream = io.StringIO()
    bar = C.Progbar(4, verbose=1, stream=stream, color=True, stateless_metrics=set(), interval=0)
    bar.update(2, [("loss", 2e-4), ("acc", -0.5), ("big", 12345.678)])
    bar.update(4, [("loss", 0.00099), ("acc", float("nan")), ("big", 1.0)], finalize=True)
    text = stream.getvalue()
    assert "\x1b[32m" + "\u2501" * 10 + "\x1b[0m\x1b[37m" + "\u2501" * 10 in text
    plain = strip_keras(text)
    assert "loss: 2.0000e-04 - acc: -0.5000 - big: 12345.6780" in plain
    # padded over the old line: "-0.5000" -> "nan" and "12345.6780" -> "1.0000" are 8 characters shorter
    assert plain.endswith("loss: 9.9000e-04 - acc: nan - big: 1.0000        \n")
    stream = io.StringIO()
    bar = C.Progbar(4, verbose=2, stream=stream, stateless_metrics=set())
    bar.update(4, [("delta", -0.5)], finalize=True)
    assert stream.getvalue().endswith(" - delta: -5.0000e-01\n")  # Keras's verbose=2 test has no abs()


# ---------------------------------------------------------------------------------------------------------
# the package: public names and imports
# ---------------------------------------------------------------------------------------------------------

def test_every_public_name_is_importable_from_the_package(keras_cb):
    for name in C.__all__:
        assert getattr(C, name).__name__ == name
        if name != "Progbar":  # Keras has it as keras.utils.Progbar, as rnnlab.utils.Progbar
            assert hasattr(keras_cb, name), name
    assert rnnlab.utils.Progbar is C.Progbar and rnnlab.callbacks is C


def _rnnlab_imports(path):
    """(module imported, whether inside a function) for every import of an rnnlab module in ``path``."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, inside) for a in child.names if a.name.startswith("rnnlab"))
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("rnnlab"):
                found.append((child.module, inside))
            visit(child, inside)

    visit(tree, False)
    return found


def test_callbacks_and_progress_bar_import_nothing_above_them():
    """The callbacks and the bar sit below the models (which import them), at module level only: no cycle."""
    root = Path(C.__file__).resolve().parent.parent
    # modules below the models: the engine (Layer, serialization), nest, backend and random import neither
    # models nor callbacks (tests/behaviour/test_structure.py checks the whole graph for cycles)
    allowed = ("rnnlab.callbacks", "rnnlab.utils", "rnnlab.random", "rnnlab.backend", "rnnlab.engine",
               "rnnlab.nest")
    for path in sorted((root / "callbacks").glob("*.py")) + sorted((root / "utils").glob("*.py")):
        for module, in_function in _rnnlab_imports(path):
            assert not in_function, f"{path.name} imports {module} inside a function"
            assert module.startswith(allowed), f"{path.name} imports {module}, above the callbacks"
