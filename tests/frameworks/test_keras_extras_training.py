"""The newer optimizers, losses, metrics and callbacks inside ``fit``, against Keras 3 on the same weights and data:
weights after three steps, history values, LearningRateScheduler's learning rates and printout, and TensorBoard's
event files read back with TensorBoard's own reader."""
import contextlib
import io
import json
import re

import numpy as np
import pytest

import rnnlab
from tests.support.reference import require


def _build(K, activation, units=3):
    L = K.layers
    inp = K.Input((5,))
    hidden = L.Dense(6, activation="tanh", name="hidden")(inp)  # named: the histogram tags hold the names
    return K.Model(inp, L.Dense(units, activation=activation, name="head")(hidden))


def _pair(keras, rng, activation, units=3):
    """The same two-Dense model in Keras and rnnlab, random weights (biases included).  Small, and Keras runs it
    eagerly (``run_eagerly=True``): tracing its training step costs more than these tests' few steps."""
    km, rm = _build(keras, activation, units), _build(rnnlab, activation, units)
    weights = [rng.uniform(-0.6, 0.6, w.shape).astype("float32") for w in km.get_weights()]
    km.set_weights(weights)
    rm.set_weights(weights)
    return km, rm


def _targets(kind, rng, n, units=3):
    if kind == "real":  # away from 0: MAPE divides by the target
        return (rng.normal(size=(n, units)) + np.sign(rng.normal(size=(n, units)))).astype("float32")
    if kind == "positive":
        return rng.uniform(0.0, 3.0, size=(n, units)).astype("float32")
    if kind == "counts":
        return rng.poisson(1.5, size=(n, units)).astype("float32")
    return rng.dirichlet(np.ones(units), size=n).astype("float32")  # distributions


def _optimizer(module, name, kwargs):
    kwargs = dict(kwargs)
    if "schedule" in kwargs:
        kwargs["learning_rate"] = module.optimizers.schedules.ExponentialDecay(**kwargs.pop("schedule"))
    return getattr(module.optimizers, name)(**kwargs)


#: each new loss with a new optimizer: (loss, output activation, targets, optimizer, its arguments)
FIT_CASES = [
    ("LogCosh", None, "real", "Nadam", {"learning_rate": 0.05}),
    ("MeanAbsolutePercentageError", None, "real", "Adamax", {"learning_rate": 0.05, "weight_decay": 0.01}),
    ("MeanSquaredLogarithmicError", "softplus", "positive", "Adadelta", {"learning_rate": 1.0}),
    ("KLDivergence", "softmax", "distributions", "Lion", {"learning_rate": 0.01, "clipnorm": 1.0}),
    ("Poisson", "softplus", "counts", "Nadam",
     {"schedule": {"initial_learning_rate": 0.05, "decay_steps": 1, "decay_rate": 0.5}}),
    ("Poisson", "softplus", "counts", "Lion",
     {"schedule": {"initial_learning_rate": 0.01, "decay_steps": 2, "decay_rate": 0.3, "staircase": True}}),
]


@pytest.mark.parametrize("case", FIT_CASES, ids=[f"{c[0]}-{c[3]}" for c in FIT_CASES])
def test_new_losses_and_optimizers_fit_like_keras(keras, case):
    """Three fit steps (one batch per epoch): the same loss history (1e-5) and the same weights (2e-5)."""
    loss, activation, kind, opt_name, opt_kwargs = case
    rng = np.random.default_rng(len(loss) * 7 + len(opt_name))
    km, rm = _pair(keras, rng, activation)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = _targets(kind, rng, 8)
    km.compile(optimizer=_optimizer(keras, opt_name, opt_kwargs), loss=getattr(keras.losses, loss)(), run_eagerly=True)
    rm.compile(optimizer=_optimizer(rnnlab, opt_name, opt_kwargs), loss=getattr(rnnlab.losses, loss)())
    start = rm.get_weights()
    kh = km.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    rh = rm.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(rh.history["loss"], kh.history["loss"], rtol=1e-5, atol=1e-6)
    for ours, theirs, before in zip(rm.get_weights(), km.get_weights(), start):
        assert not np.array_equal(ours, before)  # the optimizer moved every weight
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-5)


# ---------------------------------------------------------------------------------------------------------
# metrics in compile(), as history
# ---------------------------------------------------------------------------------------------------------

def _metric_lists(module, kind):
    M = module.metrics
    if kind == "binary":
        return (["auc", "precision", "recall", M.AUC(curve="PR", name="pr_auc"),
                 M.Precision(thresholds=0.3, name="precision_at_03"), M.F1Score(average="micro", name="f1")],
                [M.AUC(name="weighted_auc"), M.Recall(thresholds=[0.4], name="weighted_recall")])
    if kind == "categorical":
        return (["top_k_categorical_accuracy", M.TopKCategoricalAccuracy(k=2, name="top_2"),
                 "root_mean_squared_error", M.F1Score(average="macro", name="f1_macro"), "auc",
                 M.AUC(multi_label=True, name="auc_per_label")],
                [M.F1Score(average="weighted", name="weighted_f1"), M.RootMeanSquaredError(name="weighted_rmse")])
    return (["sparse_top_k_categorical_accuracy", M.SparseTopKCategoricalAccuracy(k=2, name="top_2")],
            [M.SparseTopKCategoricalAccuracy(k=1, name="weighted_top_1")])


@pytest.mark.parametrize("kind", ["binary", "categorical", "sparse"])
def test_compile_metrics_history_like_keras(keras, kind):
    """metrics=[...] by name and as objects, weighted_metrics with sample weights, validation too: the same
    history keys and values as Keras (1e-5: the predictions agree to float32 rounding)."""
    rng = np.random.default_rng({"binary": 1, "categorical": 2, "sparse": 3}[kind])
    units = 1 if kind == "binary" else 4
    km, rm = _pair(keras, rng, "sigmoid" if kind == "binary" else "softmax", units)
    x = rng.normal(size=(32, 5)).astype("float32")
    ids = rng.integers(0, units if units > 1 else 2, size=32)
    y = {"binary": ids[:, None].astype("float32"), "categorical": np.eye(4, dtype="float32")[ids],
         "sparse": ids}[kind]
    sw = rng.uniform(0.2, 2.0, size=32).astype("float32")
    loss = {"binary": "binary_crossentropy", "categorical": "categorical_crossentropy",
            "sparse": "sparse_categorical_crossentropy"}[kind]
    for model, module in ((km, keras), (rm, rnnlab)):
        metrics, weighted = _metric_lists(module, kind)
        model.compile(optimizer=module.optimizers.Adam(0.02), loss=loss, metrics=metrics, weighted_metrics=weighted,
                      run_eagerly=True)
    kh = km.fit(x[:24], y[:24], sample_weight=sw[:24], batch_size=8, epochs=2, shuffle=False, verbose=0,
                validation_data=(x[24:], y[24:], sw[24:]))
    rh = rm.fit(x[:24], y[:24], sample_weight=sw[:24], batch_size=8, epochs=2, shuffle=False, verbose=0,
                validation_data=(x[24:], y[24:], sw[24:]))
    assert set(rh.history) == set(kh.history)
    for key, theirs in kh.history.items():
        np.testing.assert_allclose(np.asarray(rh.history[key], np.float64), np.asarray(theirs, np.float64),
                                   rtol=1e-5, atol=1e-5, err_msg=key)
    ours, theirs = rm.evaluate(x, y, verbose=0, return_dict=True), km.evaluate(x, y, verbose=0, return_dict=True)
    assert set(ours) == set(theirs)
    for key in theirs:
        assert abs(ours[key] - float(theirs[key])) <= 1e-5, key


# ---------------------------------------------------------------------------------------------------------
# LearningRateScheduler
# ---------------------------------------------------------------------------------------------------------

SCHEDULES = {
    "halving": lambda epoch, lr: lr if epoch == 0 else lr * 0.5,
    "one_argument": lambda epoch: 0.05 / (epoch + 1),  # Keras falls back to schedule(epoch)
    "numpy_float": lambda epoch, lr: np.float32(0.03 * 0.9 ** epoch),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rate_scheduler_like_keras(keras, name):
    """The learning rates in History, the losses, and the verbose printout match Keras's."""
    rng = np.random.default_rng(5)
    km, rm = _pair(keras, rng, None)
    x, y = rng.normal(size=(16, 5)).astype("float32"), _targets("real", rng, 16)
    outputs = []
    for model, module in ((km, keras), (rm, rnnlab)):
        model.compile(optimizer=module.optimizers.SGD(0.02, momentum=0.5), loss="mse", run_eagerly=True)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            history = model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
                                callbacks=[module.callbacks.LearningRateScheduler(SCHEDULES[name], verbose=1)])
        outputs.append((history.history, printed.getvalue()))
    (kh, k_printed), (rh, r_printed) = outputs
    assert rh["learning_rate"] == kh["learning_rate"]  # the same float32 rates, exactly
    np.testing.assert_allclose(rh["loss"], kh["loss"], rtol=1e-5)
    assert r_printed == k_printed and r_printed.count("LearningRateScheduler setting learning rate to") == 4


# ---------------------------------------------------------------------------------------------------------
# TensorBoard
# ---------------------------------------------------------------------------------------------------------

def _read_run(path):
    """{tag: [(step, value)]} of one run folder, read with TensorBoard's EventAccumulator: scalars (values),
    histograms (count, min, max) and string tensors (the text), whichever way they were written."""
    tf = require("tensorflow")
    accumulator_module = require("tensorboard.backend.event_processing.event_accumulator")
    acc = accumulator_module.EventAccumulator(str(path), size_guidance={"tensors": 0, "scalars": 0,
                                                                        "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {}
    for tag in tags["scalars"]:
        out[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    for tag in tags["histograms"]:
        out[tag] = [(e.step, (e.histogram_value.num, e.histogram_value.min, e.histogram_value.max))
                    for e in acc.Histograms(tag)]
    for tag in tags["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        values = []
        for e in acc.Tensors(tag):
            array = tf.make_ndarray(e.tensor_proto)
            if plugin == "histograms":  # Keras's (buckets, 3): left edge, right edge, count
                values.append((e.step, (array[:, 2].sum(), array[0, 0], array[-1, 1])))
            elif array.dtype == object:
                values.append((e.step, array.item().decode()))
            else:
                values.append((e.step, float(array)))
        out[tag] = values
    return out


@pytest.mark.parametrize("update_freq", ["epoch", 2])
def test_tensorboard_event_files_like_keras(keras, tmp_path, update_freq):
    """Both frameworks' TensorBoard callbacks on the same training: the same runs, tags and steps; the same
    scalar values (1e-5; the steps-per-second ones are timings), histogram counts and ranges, and a model
    config that TensorBoard's graph plugin turns into a graph."""
    rng = np.random.default_rng(9)
    km, rm = _pair(keras, rng, None)
    x, y = rng.normal(size=(32, 5)).astype("float32"), _targets("real", rng, 32)
    runs = {}
    for model, module, name in ((km, keras, "keras"), (rm, rnnlab, "rnnlab")):
        model.compile(optimizer=module.optimizers.Adam(0.01), loss="mse", metrics=["mae"], run_eagerly=True)
        board = module.callbacks.TensorBoard(log_dir=str(tmp_path / name), histogram_freq=1, update_freq=update_freq,
                                             write_steps_per_second=True)
        model.fit(x[:24], y[:24], batch_size=6, epochs=2, shuffle=False, verbose=0, validation_data=(x[24:], y[24:]),
                  callbacks=[board])
        runs[name] = {run: _read_run(tmp_path / name / run) for run in ("train", "validation")}
    for run in ("train", "validation"):
        theirs, ours = runs["keras"][run], runs["rnnlab"][run]
        assert sorted(ours) == sorted(theirs), run
        for tag, events in theirs.items():
            assert [s for s, _ in ours[tag]] == [s for s, _ in events], (run, tag)
            if tag == "keras":
                mine, keras_config = json.loads(ours[tag][0][1]), json.loads(events[0][1])
                assert mine["class_name"] == keras_config["class_name"] == "Functional"
                assert [layer["class_name"] for layer in mine["config"]["layers"]] == \
                    [layer["class_name"] for layer in keras_config["config"]["layers"]]
                keras_util = require("tensorboard.plugins.graph.keras_util")
                graph, keras_graph = (keras_util.keras_model_to_graph_def(c) for c in (mine, keras_config))
                assert len(graph.node) == len(keras_graph.node) == 3
                unnumbered = [[re.sub(r"_\d+", "", i) for i in n.input] for n in graph.node]  # names differ by
                assert unnumbered == [[re.sub(r"_\d+", "", i) for i in n.input] for n in keras_graph.node]  # counter
            elif tag.endswith("steps_per_second"):
                assert all(v > 0 for _, v in ours[tag])
            elif tag.endswith("/histogram"):
                for (_, (n, lo, hi)), (_, (kn, klo, khi)) in zip(ours[tag], events):
                    assert n == kn and abs(lo - klo) <= 1e-5 and abs(hi - khi) <= 1e-5, tag
            else:
                np.testing.assert_allclose([v for _, v in ours[tag]], [v for _, v in events], rtol=1e-5,
                                           err_msg=f"{run}/{tag}")
    if update_freq == 2:
        assert [s for s, _ in runs["rnnlab"]["train"]["batch_loss"]] == [2, 4, 6, 8]
    else:
        assert not any(tag.startswith("batch_") for tag in runs["rnnlab"]["train"])


def _small_model():
    rng = np.random.default_rng(0)
    model = rnnlab.Sequential([rnnlab.Input((3,)), rnnlab.layers.Dense(2)])
    model.compile(optimizer=rnnlab.optimizers.SGD(0.1), loss="mse")
    return model, rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")


def test_tensorboard_refuses_array_valued_logs(tmp_path):
    model, x, y = _small_model()
    model.compile(optimizer="sgd", loss="mse", metrics=[rnnlab.metrics.Precision(thresholds=[0.3, 0.6])])
    with pytest.raises(ValueError, match=r"scalars.*precision.*\(2,\)"):
        model.fit(x, (y > 0).astype("float32"), epochs=1, verbose=0,
                  callbacks=[rnnlab.callbacks.TensorBoard(log_dir=tmp_path, write_graph=False)])
