"""Training end to end: real data sets, bad input, determinism, callbacks on real fits, atomic weight files."""
import importlib.util
import os
import pathlib

import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from tests.support.reference import require

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def _example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _toy(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 3)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int64")  # the sign of a sum over time
    return x, y


def _classifier(units=8):
    inp = rnnlab.Input(shape=(6, 3))
    return rnnlab.Model(inp, layers.Dense(2, activation="softmax")(layers.GRU(units)(inp)))


# ------------------------------------------------------------------ real data
def test_digits_sequence_classifier_reaches_95_percent_quickly():
    """8x8 digits as 8 steps of 8 pixels: >= 95% held-out accuracy in well under a minute of training."""
    require("sklearn")
    result = _example("digits_classifier").run(epochs=20, seed=0)
    print(f"digits: test accuracy {result['test_accuracy']:.4f}, {result['train_seconds']:.1f} s")
    assert result["test_accuracy"] >= 0.95
    assert result["train_seconds"] < 60  # a property of the example, not a benchmark: the budget


def test_sunspots_forecaster_beats_naive_forecast():
    """One-year-ahead sunspot forecast on held-out years: the LSTM's MAE is at least 25% below the naive
    last-value forecast's (measured: about 40%)."""
    require("statsmodels")
    result = _example("sunspots_forecast").run(epochs=60, seed=0)
    print(f"sunspots: LSTM MAE {result['lstm_mae']:.2f} vs naive {result['naive_mae']:.2f} "
          f"({100 * result['improvement']:.1f}% lower)")
    assert result["lstm_mae"] < result["naive_mae"]
    assert result["improvement"] >= 0.25


# ------------------------------------------------------------------ bad input
def test_fit_before_compile():
    x, y = _toy()
    with pytest.raises(ValueError, match=r"must call `compile\(\)` before using `fit\(\)`"):
        _classifier().fit(x, y)


def test_mismatched_x_y_lengths():
    x, y = _toy()
    model = _classifier()
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"same number of samples; received x sizes \[64\] and y sizes \[60\]"):
        model.fit(x, y[:60], verbose=0)


def test_loss_target_shape_mismatch():
    x, _ = _toy()
    model = _classifier()
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"shape"):
        model.fit(x, np.zeros((64, 3), "float32"), verbose=0)


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(optimizer="adamm", loss="mse"), r"`optimizer`.*adamm"),
    (dict(loss="mean_sqaured_error"), r"`loss`.*mean_sqaured_error"),
    (dict(loss="mse", metrics=["acuracy"]), r"`metrics`.*acuracy"),
])
def test_unknown_names(kwargs, pattern):
    x, y = _toy()
    model = _classifier()
    with pytest.raises(ValueError, match=pattern):
        model.compile(**kwargs)
        model.fit(x, y, verbose=0)


def test_nan_targets():
    x, _ = _toy()
    y = np.zeros((64, 2), "float32")
    y[5, 1] = np.nan
    model = _classifier()
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="NaN"):
        model.fit(x, y, verbose=0)


def test_untrainable_activation_is_reported():
    model = rnnlab.Sequential([rnnlab.Input(shape=(6, 3)), layers.SimpleRNN(2, activation=lambda v: v * 2)])
    model.compile(loss="mse")
    with pytest.raises(ValueError, match="has no derivative"):
        model.fit(np.ones((4, 6, 3)), np.ones((4, 2)), verbose=0)


# ------------------------------------------------------------------ behaviour
def test_set_random_seed_makes_two_runs_identical():
    x, y = _toy()

    def run():
        rnnlab.utils.set_random_seed(123)
        model = rnnlab.Sequential([rnnlab.Input(shape=(6, 3)), layers.LSTM(6, dropout=0.2, recurrent_dropout=0.2),
                                   layers.Dropout(0.3), layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=True)
        return history.history, model.get_weights()

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_training_reduces_loss_with_every_optimizer():
    x, y = _toy()
    for name in ("sgd", "rmsprop", "adam", "adamw", "adagrad"):
        rnnlab.utils.set_random_seed(0)
        model = _classifier()
        lr = 0.5 if name in ("sgd", "adagrad") else 0.02
        model.compile(optimizer=rnnlab.optimizers.get({"class_name": name, "config": {"learning_rate": lr}}),
                      loss="sparse_categorical_crossentropy")
        history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
        assert history.history["loss"][-1] < 0.8 * history.history["loss"][0], name


def test_multi_input_multi_output_training_with_loss_weights():
    rng = np.random.default_rng(0)
    seq, aux = rnnlab.Input(shape=(5, 2)), rnnlab.Input(shape=(3,))
    h = layers.LSTM(4)(seq)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(layers.Dense(4, activation="tanh")(aux))
    model = rnnlab.Model([seq, aux], [cls, reg])
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    xs = [rng.normal(size=(32, 5, 2)), rng.normal(size=(32, 3))]
    ys = [rng.integers(0, 3, 32), rng.normal(size=(32, 1))]
    history = model.fit(xs, ys, epochs=3, verbose=0)
    assert {"loss", "cls_loss", "reg_loss", "cls_accuracy"} <= set(history.history)
    total = history.history["cls_loss"][-1] + 0.5 * history.history["reg_loss"][-1]
    assert history.history["loss"][-1] == pytest.approx(total, rel=1e-5)


def test_class_weight_and_sample_weight_scale_the_loss():
    x, y = _toy()
    model = _classifier()
    model.compile(optimizer=rnnlab.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    base = model.evaluate(x, y, verbose=0)
    assert model.test_on_batch(x, y, sample_weight=np.full(64, 2.0)) == pytest.approx(2 * base, rel=1e-5)
    w = model.get_weights()
    loss_cw = model.train_on_batch(x, y, class_weight={0: 3.0, 1: 3.0})
    assert loss_cw == pytest.approx(3 * base, rel=1e-5)
    for a, b in zip(w, model.get_weights()):  # learning rate 0: nothing moved
        np.testing.assert_array_equal(a, b)


def test_validation_data_and_evaluate_return_dict():
    x, y = _toy()
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x[:48], y[:48], validation_data=(x[48:], y[48:]), epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    logs = model.evaluate(x[48:], y[48:], return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)


# ------------------------------------------------------------------ callbacks on real fits
def test_early_stopping_restores_best_weights():
    x, y = _toy()
    model = _classifier()
    model.compile(optimizer=rnnlab.optimizers.SGD(2.0), loss="sparse_categorical_crossentropy")
    seen = []
    record = rnnlab.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(
        (logs["val_loss"], [w.copy() for w in model.get_weights()])))
    stop = rnnlab.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model.fit(x, y, validation_split=0.25, epochs=30, verbose=0, callbacks=[record, stop])
    best_loss, best_weights = min(seen, key=lambda item: item[0])
    assert len(seen) < 30 or stop.stopped_epoch == 0
    for a, b in zip(best_weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_keeps_best_weights_when_training_goes_nan(tmp_path):
    """A huge learning rate makes the loss Inf/NaN: TerminateOnNaN stops, and the best checkpoint stays intact."""
    x, y = _toy()
    target = y.astype("float32")[:, None]
    inp = rnnlab.Input(shape=(6, 3))
    model = rnnlab.Model(inp, layers.Dense(1)(layers.SimpleRNN(4)(inp)))
    model.compile(optimizer=rnnlab.optimizers.SGD(0.05), loss="mse")
    path = tmp_path / "best.weights.npz"
    checkpoint = rnnlab.callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True,
                                                  save_weights_only=True)
    model.fit(x, target, epochs=2, verbose=0, callbacks=[checkpoint])
    saved = dict(np.load(path).items())
    model.optimizer.learning_rate = 1e30
    with np.errstate(all="ignore"):
        history = model.fit(x, target, epochs=20, verbose=0,
                            callbacks=[checkpoint, rnnlab.callbacks.TerminateOnNaN()])
    assert not np.isfinite(history.history["loss"][-1]) and len(history.history["loss"]) < 20  # stopped
    after = dict(np.load(path).items())
    assert saved.keys() == after.keys()
    for key in saved:
        np.testing.assert_array_equal(saved[key], after[key])
    model.load_weights(str(path))  # the kept file restores a working model
    assert np.isfinite(model.evaluate(x, target, verbose=0))


def test_reduce_lr_on_plateau_and_csv_logger(tmp_path):
    x, y = _toy()
    model = _classifier()
    model.compile(optimizer=rnnlab.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    log = tmp_path / "log.csv"
    model.fit(x, y, epochs=4, verbose=0, callbacks=[
        rnnlab.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, factor=0.5, min_delta=1.0),
        rnnlab.callbacks.CSVLogger(str(log))])
    lines = log.read_text().strip().splitlines()
    assert lines[0].split(",")[0] == "epoch" and len(lines) == 5
    assert model.optimizer.learning_rate == 0.0  # 0 * 0.5 stays 0: the callback ran without breaking


def test_progress_output_verbose_2(capsys):
    x, y = _toy()
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "4/4 - " in out and "accuracy: " in out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------ weight files
def test_save_and_load_weights_round_trip(tmp_path):
    model = _classifier()
    path = tmp_path / "m.weights.npz"
    model.save_weights(str(path))
    other = _classifier()
    other.load_weights(str(path))
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    model = _classifier()
    path = tmp_path / "m.weights.npz"
    model.save_weights(str(path))
    before = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def explode(*args, **kwargs):
        raise KeyboardInterrupt("interrupted mid-save")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        model.save_weights(str(path))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.weights.npz"]  # no temporary file left behind


def test_load_weights_rejects_bad_files(tmp_path):
    model = _classifier()
    bad = tmp_path / "bad.weights.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        model.load_weights(str(bad))
    other = rnnlab.Sequential([rnnlab.Input(shape=(6, 3)), layers.LSTM(3)])
    path = tmp_path / "other.weights.npz"
    other.save_weights(str(path))
    with pytest.raises(ValueError, match="does not match model"):
        model.load_weights(str(path))
    with pytest.raises(ValueError, match=r"must end in '.weights.npz'"):
        model.save_weights(str(tmp_path / "m.h5"))
    assert os.path.exists(path)
