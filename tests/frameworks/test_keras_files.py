"""Keras model files through the real tools: ``.keras`` archives, ``.weights.h5`` and legacy ``.h5``.

Every round trip uses random weights (biases included, pushed away from zero) and compares outputs to 1e-5:

* Keras 3 saves a ``.keras`` -> ``rnnlab.models.load_model`` predicts what Keras predicts;
* rnnlab saves a ``.keras`` -> ``keras.models.load_model`` predicts what rnnlab predicts;
* ``.weights.h5`` both ways (Keras ``save_weights`` -> rnnlab ``load_weights`` and back);
* TF-Keras 2 saves a legacy ``.h5`` -> rnnlab (when ``tf_keras`` is installed), and a legacy file built
  by hand with h5py in TF-Keras 2's layout (always);

plus refusals (unsupported layers, Lambda and custom objects, time-major RNNs), damaged files, and loading
in a process that never imports TensorFlow, PyTorch or Keras.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import rnnlab  # noqa: E402
from rnnlab import layers  # noqa: E402
from tests.support.reference import assert_parity, flatten, randomize, require, to_numpy  # noqa: E402

try:
    import h5py
except ImportError:  # h5py is rnnlab's optional `keras` extra: a hard failure on CI, a skip elsewhere
    if os.environ.get("CI"):
        raise
    pytest.skip("h5py is not installed (pip install rnnlab[keras])", allow_module_level=True)

ATOL = 1e-5


@pytest.fixture(scope="module")
def K():
    keras = require("keras")
    assert str(keras.__version__).startswith("3."), keras.__version__
    return keras


# ----------------------------------------------------------------------------------------------- helpers

def _inputs(model_inputs, rng, batch=4, masked_tail=2):
    """Data for every model input: float sequences with their last steps zeroed (padding for Masking),
    integer ids with trailing zeros (padding for mask_zero), float vectors for initial states."""
    xs = []
    for t in model_inputs:
        shape = [batch if d is None else d for d in t.shape]
        if "int" in str(t.dtype):
            x = rng.integers(1, 12, shape).astype("int32")
            x[: batch // 2, -masked_tail:] = 0
        else:
            x = rng.normal(size=shape).astype("float32")
            if len(shape) == 3 and masked_tail:
                x[: batch // 2, -masked_tail:] = 0.0
        xs.append(x)
    return xs


def _arg(xs):
    return xs if len(xs) > 1 else xs[0]


def _keras_out(km, xs):
    return to_numpy(km(_arg(xs), training=False))


def _rnnlab_out(rm, xs):
    return rm.predict(_arg(xs), verbose=0)


def _parity(actual, expected):
    assert_parity(flatten(to_numpy(actual)), flatten(to_numpy(expected)), atol=ATOL, flat=True,
                  check_numpy=False)


def _layer_entry_shape(entry):
    """What Keras's legacy writer decides about a layer entry of ``model_config``: its keys and class, and the
    same for a nested model's entries (the layer configs themselves are :mod:`rnnlab.saving.config_writer`'s,
    compared by loading)."""
    out = {"keys": sorted(entry), "class_name": entry["class_name"]}
    if entry["class_name"] in ("Functional", "Sequential"):
        out["layers"] = [_layer_entry_shape(e) for e in entry["config"]["layers"]]
    return out


def _h5_layout(path):
    """A legacy .h5 file's layout: every group and dataset (shape, dtype), every attribute's kind and dtype, the
    values of the name lists and versions, and the shape of ``model_config``.  ``backend`` names the backend
    that computed the weights ("tensorflow" in Keras here, "numpy" in rnnlab), so only its kind is compared,
    as for ``training_config``."""
    def attrs(obj):
        out = {}
        for key, value in obj.attrs.items():
            kind = (type(value).__name__, str(getattr(value, "dtype", "")))
            if key == "model_config":
                config = json.loads(value)
                out[key] = kind, sorted(config), config["class_name"], sorted(config["config"]), \
                    [_layer_entry_shape(e) for e in config["config"]["layers"]]
            elif key in ("backend", "training_config"):  # training_config: compared by the callers
                out[key] = kind
            else:
                out[key] = kind, np.asarray(value).tolist()
        return out

    layout = {}
    with h5py.File(path, "r") as f:
        layout["/"] = attrs(f)
        f.visititems(lambda name, obj: layout.__setitem__(
            name, (type(obj).__name__, getattr(obj, "shape", None), str(getattr(obj, "dtype", "")), attrs(obj))))
    return layout


# ----------------------------------------------------------------------------------------------- Keras 3 models

def _lstm_stack(K):
    L = K.layers
    return K.Sequential([K.Input((6, 3)), L.LSTM(5, return_sequences=True), L.LSTM(4, go_backwards=True),
                         L.Dense(2, activation="tanh")])


def _gru(reset_after):
    def build(K):
        L = K.layers
        return K.Sequential([K.Input((6, 3)), L.GRU(4, reset_after=reset_after, return_sequences=True),
                             L.GRU(3, reset_after=reset_after, recurrent_activation="hard_sigmoid"),
                             L.Dense(2)])
    return build


def _simple_rnn(K):
    L = K.layers
    return K.Sequential([K.Input((6, 3)), L.SimpleRNN(4, activation="relu", return_sequences=True),
                         L.SimpleRNN(3), L.Dense(1)])


def _bidirectional(mode):
    def build(K):
        L = K.layers
        x = K.Input((6, 3))
        y = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=mode)(x)
        if mode is None:
            return K.Model(x, y)
        return K.Model(x, L.Dense(2)(L.Bidirectional(L.GRU(2), merge_mode=mode)(y)))
    return build


def _bidirectional_backward_layer(K):
    L = K.layers
    x = K.Input((6, 3))
    y = L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="concat",
                        backward_layer=L.SimpleRNN(3, return_sequences=True, go_backwards=True))(x)
    return K.Model(x, L.TimeDistributed(L.Dense(2))(y))


def _stacked_cells(K):
    L = K.layers
    x = K.Input((6, 3))
    y = L.RNN([L.LSTMCell(3), L.GRUCell(4, reset_after=False), L.SimpleRNNCell(2)], return_sequences=True)(x)
    y = L.RNN(L.LSTMCell(2), go_backwards=True)(y)
    return K.Model(x, L.Dense(2)(y))


def _masking(K):
    L = K.layers
    x = K.Input((6, 3))
    y = L.LSTM(4, return_sequences=True)(L.Masking(mask_value=0.0)(x))
    y = L.Bidirectional(L.GRU(3), merge_mode="ave")(y)
    return K.Model(x, L.Dense(2)(y))


def _embedding(K):
    L = K.layers
    return K.Sequential([K.Input((7,), dtype="int32"), L.Embedding(12, 4, mask_zero=True),
                         L.GRU(3, return_sequences=True), L.Bidirectional(L.LSTM(2), merge_mode="sum"),
                         L.Dense(1)])


def _embedding_functional(K):
    """In a functional graph Keras 3 records the Embedding mask as a NotEqual operation feeding `mask=`."""
    L = K.layers
    ids = K.Input((7,), dtype="int32")
    x = L.LSTM(3, return_sequences=True)(L.Embedding(12, 4, mask_zero=True)(ids))
    x = L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="concat")(x)
    return K.Model(ids, L.TimeDistributed(L.Dense(2))(x))


def _states(K):
    """Multi-input graph: initial states from inputs and from other layers, return_state everywhere."""
    L = K.layers
    x, h0, c0 = K.Input((6, 3)), K.Input((4,)), K.Input((4,))
    y, h, c = L.LSTM(4, return_sequences=True, return_state=True)(x, initial_state=[h0, c0])
    y2, h2 = L.GRU(4, return_state=True)(y, initial_state=[h])
    b = L.Bidirectional(L.SimpleRNN(4, return_sequences=True), merge_mode="mul")(y, initial_state=[h, h2])
    out = L.TimeDistributed(L.Dense(2))(L.Dropout(0.3)(b))
    bo, fh, fc, bh, bc = L.Bidirectional(L.LSTM(3, return_state=True))(y)
    gf, gb, gfh, gbh = L.Bidirectional(L.GRU(2, return_state=True), merge_mode=None)(y)
    return K.Model([x, h0, c0], [out, y2, h, c, bo, fh, bc, gf, gb, gbh])


def _nested(K):
    L = K.layers
    i = K.Input((6, 3))
    inner = K.Model(i, L.LSTM(3, return_sequences=True)(i), name="inner")
    seq = K.Sequential([K.Input((6, 3)), L.GRU(2)], name="inner_seq")
    x = K.Input((6, 3))
    y = inner(x)
    return K.Model(x, [L.Dense(1)(seq(y)), y])


KERAS_CASES = {
    "lstm_stack": _lstm_stack,
    "gru_reset_after": _gru(True),
    "gru_v1": _gru(False),
    "simple_rnn": _simple_rnn,
    "bidirectional_concat": _bidirectional("concat"),
    "bidirectional_sum": _bidirectional("sum"),
    "bidirectional_mul": _bidirectional("mul"),
    "bidirectional_ave": _bidirectional("ave"),
    "bidirectional_none": _bidirectional(None),
    "bidirectional_backward_layer": _bidirectional_backward_layer,
    "stacked_cells": _stacked_cells,
    "masking": _masking,
    "embedding_mask_zero": _embedding,
    "embedding_functional": _embedding_functional,
    "states_multi_input": _states,
    "nested_models": _nested,
}


@pytest.mark.parametrize("case", list(KERAS_CASES))
def test_keras_round_trips(K, case, tmp_path, rng):
    """Keras .keras -> rnnlab; rnnlab .keras -> Keras; .weights.h5 both ways. Outputs agree to 1e-5."""
    km = KERAS_CASES[case](K)
    randomize(km, rng)
    xs = _inputs(km.inputs, rng)
    expected = _keras_out(km, xs)

    # Keras saves, rnnlab loads
    keras_file = str(tmp_path / "keras_made.keras")
    km.save(keras_file)
    rm = rnnlab.models.load_model(keras_file)
    assert [w.shape for w in rm.weights] == [tuple(w.shape) for w in km.weights]
    _parity(_rnnlab_out(rm, xs), expected)

    # rnnlab saves, Keras loads
    rnnlab_file = str(tmp_path / "rnnlab_made.keras")
    rm.save(rnnlab_file)
    km2 = K.models.load_model(rnnlab_file)
    _parity(_keras_out(km2, xs), _rnnlab_out(rm, xs))
    assert [layer.name for layer in km2.layers] == [layer.name for layer in km.layers]

    # .weights.h5: Keras -> a fresh rnnlab model, and that model -> a fresh Keras model
    keras_weights = str(tmp_path / "keras_made.weights.h5")
    km.save_weights(keras_weights)
    fresh = type(rm).from_config(rm.get_config())
    fresh.load_weights(keras_weights)
    _parity(_rnnlab_out(fresh, xs), expected)
    rnnlab_weights = str(tmp_path / "rnnlab_made.weights.h5")
    fresh.save_weights(rnnlab_weights)
    km3 = K.models.clone_model(km)
    km3.load_weights(rnnlab_weights)
    _parity(_keras_out(km3, xs), expected)

    if case in LEGACY_H5_CASES:
        _check_legacy_h5(K, km, rm, xs, expected, tmp_path)


#: the cases whose legacy .h5 goes through Keras as well (Sequential, stacked, masked, Embedding, Bidirectional,
#: TimeDistributed, stacked cells, nested models, mask operations in a graph), to keep the tier fast
LEGACY_H5_CASES = ("lstm_stack", "embedding_mask_zero", "masking", "bidirectional_backward_layer",
                   "stacked_cells", "nested_models")


def _check_legacy_h5(K, km, rm, xs, expected, tmp_path):
    """rnnlab's ``model.save("m.h5")`` has the layout of Keras's, loads in rnnlab, and loads in Keras exactly
    when Keras loads its own file (Keras 3.15's legacy loader knows no graph operations such as NotEqual)."""
    ours, theirs = str(tmp_path / "rnnlab_made.h5"), str(tmp_path / "keras_made.h5")
    rm.save(ours)
    km.save(theirs)
    assert _h5_layout(ours) == _h5_layout(theirs)
    _parity(_rnnlab_out(rnnlab.models.load_model(ours), xs), expected)
    _parity(_rnnlab_out(rnnlab.models.load_model(theirs), xs), expected)
    try:
        from_ours = K.models.load_model(ours)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            K.models.load_model(theirs)
    else:
        _parity(_keras_out(from_ours, xs), expected)


def test_loaded_graph_with_mask_operations_trains(K, tmp_path, rng):
    """The mask operations Keras 3 writes into functional graphs (NotEqual, Any) run in training too."""
    km = _masking(K)
    randomize(km, rng)
    path = str(tmp_path / "masking.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    assert sorted(type(layer).__name__ for layer in rm.layers if type(layer).__name__ == "KerasOp") == \
        ["KerasOp", "KerasOp"]
    rm.compile(optimizer="sgd", loss="mse")
    x = _inputs(km.inputs, rng)[0]
    y = rng.normal(size=(4, 2)).astype("float32")
    before = rm.get_weights()
    assert np.isfinite(rm.train_on_batch(x, y))
    assert any(not np.array_equal(a, b) for a, b in zip(before, rm.get_weights()))
    rm.save(path)  # and it saves back for Keras, operations included
    _parity(_keras_out(K.models.load_model(path), [x]), _rnnlab_out(rm, [x]))


def test_load_model_matches_weights_to_layers_by_recorded_name(K, tmp_path, rng):
    """Two same-shaped LSTM branches: even if the weights file listed them in the other order, load_model
    puts each layer's weights where the file's recorded layer names say (no silent swap)."""
    L = K.layers
    x = K.Input((6, 3))
    km = K.Model(x, [L.LSTM(4, name="left")(x), L.LSTM(4, name="right")(x)])
    randomize(km, rng)
    path, swapped = str(tmp_path / "two.keras"), str(tmp_path / "swapped.keras")
    km.save(path)

    def swap(f):
        f.move("layers/lstm", "layers/tmp")
        f.move("layers/lstm_1", "layers/lstm")
        f.move("layers/tmp", "layers/lstm_1")

    _edit_weights(path, swapped, swap)
    xs = _inputs(km.inputs, rng)
    _parity(_rnnlab_out(rnnlab.models.load_model(swapped), xs), _keras_out(km, xs))


def test_keras3_hard_sigmoid_keeps_keras3_formula(K, tmp_path, rng):
    """A Keras 3 file's 'hard_sigmoid' is relu6(x + 3) / 6, not TF-Keras 2's 0.2 x + 0.5."""
    L = K.layers
    km = K.Sequential([K.Input((5, 2)), L.LSTM(3, recurrent_activation="hard_sigmoid")])
    randomize(km, rng, low=-2.0, high=2.0)  # large pre-activations, where the two formulas differ
    path = str(tmp_path / "hs.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    assert rm.layers[0].cell.recurrent_activation is rnnlab.activations.hard_sigmoid
    xs = _inputs(km.inputs, rng, masked_tail=0)
    _parity(_rnnlab_out(rm, xs), _keras_out(km, xs))


def test_rnnlab_built_model_saves_for_keras(K, tmp_path, rng):
    """A model built in rnnlab (not loaded) saves to a .keras Keras opens, with the same numbers."""
    inp = rnnlab.Input(shape=(6, 3))
    h0 = rnnlab.Input(shape=(4,))
    seq, h = layers.GRU(4, return_sequences=True, return_state=True)(inp, initial_state=[h0])
    out = layers.Dense(2)(layers.Bidirectional(layers.LSTM(3), merge_mode="concat")(layers.Masking()(seq)))
    model = rnnlab.Model([inp, h0], [out, h])
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.weights])
    path = str(tmp_path / "built.keras")
    model.save(path)
    km = K.models.load_model(path)
    xs = _inputs(km.inputs, rng)
    _parity(_keras_out(km, xs), _rnnlab_out(model, xs))
    names = zipfile.ZipFile(path).namelist()
    assert names == ["metadata.json", "config.json", "model.weights.h5"]


def test_compile_config(K, tmp_path, rng):
    """A stored compile config with a known optimizer and loss compiles the loaded model; compile=False
    leaves it uncompiled; an optimizer rnnlab lacks only warns."""
    L = K.layers
    km = K.Sequential([K.Input((6, 3)), L.LSTM(3), L.Dense(1)])
    km.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="mse")
    path = str(tmp_path / "compiled.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    assert rm._compiled and type(rm.optimizer).__name__ == "Adam"
    assert abs(float(rm.optimizer.get_config()["learning_rate"]) - 0.01) < 1e-7
    x, y = rng.normal(size=(8, 6, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    assert np.isfinite(rm.train_on_batch(x, y))
    assert not rnnlab.models.load_model(path, compile=False)._compiled
    km.compile(optimizer=K.optimizers.Ftrl(), loss="mse")
    km.save(path)
    with pytest.warns(UserWarning, match="compile config could not be applied"):
        assert not rnnlab.models.load_model(path)._compiled


def test_get_config_from_config_round_trip(rng):
    inp = rnnlab.Input(shape=(5, 2), name="seq_in")
    x = layers.LSTM(3, return_sequences=True, name="enc")(inp)
    out = layers.TimeDistributed(layers.Dense(2), name="td")(x)
    model = rnnlab.Model(inp, out, name="m")
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = rnnlab.Model.from_config(config)
    assert [layer.name for layer in clone.layers] == ["seq_in", "enc", "td"]
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(2, 5, 2)).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
    seq = rnnlab.Sequential([rnnlab.Input(shape=(4, 2)), layers.GRU(2)])
    assert rnnlab.Sequential.from_config(seq.get_config()).layers[0].units == 2


# ----------------------------------------------------------------------------------------------- legacy TF-Keras 2

def _tf_keras():
    try:
        import tf_keras
    except ImportError:
        pytest.skip("tf_keras (TF-Keras 2) is not installed; the hand-built legacy file test still runs")
    return tf_keras


def _legacy_cases():
    def lstm_hard_sigmoid(T):
        L = T.layers
        return T.Sequential([L.LSTM(4, return_sequences=True, recurrent_activation="hard_sigmoid",
                                    input_shape=(6, 3)), L.LSTM(3), L.Dense(2)])

    def gru(reset_after):
        def build(T):
            L = T.layers
            return T.Sequential([T.Input((6, 3)), L.GRU(4, reset_after=reset_after, return_sequences=True),
                                 L.GRU(3, reset_after=reset_after), L.Dense(1)])
        return build

    def simple_and_td(T):
        L = T.layers
        return T.Sequential([T.Input((6, 3)), L.SimpleRNN(4, return_sequences=True),
                             L.TimeDistributed(L.Dense(2)), L.Dropout(0.2)])

    def bidirectional(mode):
        def build(T):
            L = T.layers
            x = T.Input((6, 3))
            y = L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=mode)(L.Masking()(x))
            return T.Model(x, y)
        return build

    def graph(T):
        L = T.layers
        inp, ids = T.Input((6, 3)), T.Input((6,), dtype="int32")
        x, h, c = L.LSTM(4, return_sequences=True, return_state=True)(inp)
        y = L.Bidirectional(L.LSTM(4), merge_mode="sum")(x, initial_state=[h, c, h, c])
        g = L.GRU(2, reset_after=False)(L.Embedding(12, 3, mask_zero=True)(ids))
        s = L.RNN([L.LSTMCell(2), L.GRUCell(3)])(x)
        return T.Model([inp, ids], [L.Dense(2)(y), g, s, h])

    def nested(T):
        L = T.layers
        i = T.Input((6, 3))
        inner = T.Model(i, L.LSTM(3, return_sequences=True)(i), name="inner")
        seq = T.Sequential([T.Input((6, 3)), L.GRU(2)], name="inner_seq")
        x = T.Input((6, 3))
        y = inner(x)
        return T.Model(x, [L.Dense(1)(seq(y)), y])

    return {"nested_models": nested, "lstm_hard_sigmoid": lstm_hard_sigmoid, "gru_reset_after": gru(True),
            "gru_v1": gru(False), "simple_rnn_time_distributed": simple_and_td, "bidirectional_concat": bidirectional("concat"),
            "bidirectional_ave": bidirectional("ave"), "bidirectional_mul": bidirectional("mul"),
            "bidirectional_none": bidirectional(None), "graph_initial_state_embedding_cells": graph}


LEGACY_CASES = _legacy_cases()


@pytest.mark.parametrize("case", list(LEGACY_CASES))
def test_tf_keras2_h5_to_rnnlab(case, tmp_path, rng):
    """TF-Keras 2 ``model.save("m.h5")`` -> rnnlab.models.load_model predicts what TF-Keras 2 predicts; its
    ``save_weights("w.h5")`` loads into the rebuilt model too."""
    T = _tf_keras()
    tm = LEGACY_CASES[case](T)
    randomize(tm, rng, low=-1.0, high=1.0)
    xs = _inputs(tm.inputs, rng)
    expected = to_numpy(tm(_arg(xs), training=False))
    path = str(tmp_path / "legacy.h5")
    tm.save(path)
    rm = rnnlab.models.load_model(path)
    _parity(_rnnlab_out(rm, xs), expected)
    weights = str(tmp_path / "legacy_weights.h5")
    tm.save_weights(weights)
    fresh = type(rm).from_config(rm.get_config())
    fresh.load_weights(weights)
    _parity(_rnnlab_out(fresh, xs), expected)


def test_tf_keras2_time_major_and_unsupported_layers_are_refused(tmp_path):
    T = _tf_keras()
    L = T.layers
    path = str(tmp_path / "tm.h5")
    T.Sequential([L.LSTM(2, time_major=True, input_shape=(6, 3))]).save(path)
    with pytest.raises(ValueError, match="time-major"):
        rnnlab.models.load_model(path)
    T.Sequential([L.SeparableConv1D(2, 3, input_shape=(6, 3)), L.LSTM(2)]).save(path)
    with pytest.raises(ValueError, match="SeparableConv1D"):
        rnnlab.models.load_model(path)


def _tf2_hard_sigmoid(x):
    import tensorflow as tf

    return tf.clip_by_value(0.2 * x + 0.5, 0.0, 1.0)


def _initializer(name):
    return {"module": "keras.initializers", "class_name": name, "config": {"seed": None}, "registered_name": None}


def _hand_built_legacy_file(path, weights, style):
    """A legacy full-model .h5 written with h5py alone, in the layout TF-Keras 2.x writes (``style="tf2"``)
    or the one Keras 2.2 wrote (``"keras22"``: the Sequential config is a bare list of layers, the first
    layer has Keras 1-style ``input_dim``/``input_length``, GRU has no ``reset_after`` (meaning False))."""
    keras22 = style == "keras22"
    glorot = ({"class_name": "VarianceScaling", "config": {"scale": 1.0, "mode": "fan_avg",
                                                             "distribution": "uniform", "seed": None}}
              if keras22 else _initializer("GlorotUniform"))
    common = {"trainable": True, "dtype": "float32", "return_sequences": True, "return_state": False,
              "go_backwards": False, "stateful": False, "unroll": False,
              "activation": "tanh", "recurrent_activation": "hard_sigmoid", "use_bias": True,
              "kernel_initializer": glorot,
              "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
              "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
              "recurrent_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
              "dropout": 0.0, "recurrent_dropout": 0.0, "implementation": 2}
    if not keras22:
        common["time_major"] = False
    names = ["lstm_1", "gru_1", "dense_1"] if keras22 else ["lstm", "gru", "dense"]
    lstm = {**common, "name": names[0], "units": 4, "unit_forget_bias": True}
    lstm.update({"input_dim": 3, "input_length": 6} if keras22 else {"batch_input_shape": [None, 6, 3]})
    gru = {**common, "name": names[1], "units": 3, "return_sequences": False}
    if not keras22:
        gru["reset_after"] = False
    dense = {"name": names[2], "trainable": True, "dtype": "float32", "units": 2, "activation": "linear",
             "use_bias": True, "kernel_initializer": glorot, "bias_initializer": {"class_name": "Zeros", "config": {}},
             "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
             "kernel_constraint": None, "bias_constraint": None}
    layer_list = [{"class_name": "LSTM", "config": lstm}, {"class_name": "GRU", "config": gru},
                  {"class_name": "Dense", "config": dense}]
    if keras22:
        config = {"class_name": "Sequential", "config": layer_list}
    else:
        input_layer = {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6, 3], "dtype": "float32",
                                                              "sparse": False, "ragged": False, "name": "lstm_input"}}
        config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [input_layer] + layer_list}}
    cell = {"lstm": "lstm_cell/", "gru": "gru_cell/", "dense": ""}
    weight_names = {
        name: [f"{name}/{'' if keras22 else cell[kind]}{w}:0" for w in ws]
        for name, kind, ws in zip(names, ("lstm", "gru", "dense"),
                                  (("kernel", "recurrent_kernel", "bias"),) * 2 + (("kernel", "bias"),))}
    version = "2.2.4" if keras22 else "2.15.0"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = version.encode() if keras22 else version  # Keras 2.2 wrote bytes
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode() if keras22 else json.dumps(config)
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([n.encode() for n in names])
        g.attrs["backend"], g.attrs["keras_version"] = "tensorflow", version
        arrays = iter(weights)
        for layer, wnames in weight_names.items():
            lg = g.create_group(layer)
            lg.attrs["weight_names"] = np.array([n.encode() for n in wnames])
            for n in wnames:
                lg.create_dataset(n, data=next(arrays))
        if not keras22:
            g.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype="float64")


@pytest.mark.parametrize("style", ["tf2", "keras22"])
def test_hand_built_legacy_h5(K, style, tmp_path, rng):
    """A legacy file built with h5py (no TF-Keras needed): old argument names, GRU v1 (reset_after=False)
    and the old hard_sigmoid (0.2 x + 0.5), checked against Keras 3 computing the same model with that
    hard_sigmoid formula."""
    L = K.layers
    km = K.Sequential([K.Input((6, 3)),
                       L.LSTM(4, return_sequences=True, recurrent_activation=_tf2_hard_sigmoid),
                       L.GRU(3, reset_after=False, recurrent_activation=_tf2_hard_sigmoid), L.Dense(2)])
    weights = randomize(km, rng, low=-1.5, high=1.5)
    path = str(tmp_path / "hand.h5")
    _hand_built_legacy_file(path, weights, style)
    rm = rnnlab.models.load_model(path)
    assert rm.layers[0].cell.recurrent_activation is rnnlab.activations.hard_sigmoid_tf2
    assert rm.layers[1].cell.reset_after is False
    xs = _inputs(km.inputs, rng, masked_tail=0)
    _parity(_rnnlab_out(rm, xs), _keras_out(km, xs))
    # TF-Keras 2's hard_sigmoid has no Keras 3 name: saving such a model to .keras is refused, not altered
    with pytest.raises(ValueError, match="hard_sigmoid"):
        rm.save(str(tmp_path / "no.keras"))


def test_keras3_legacy_h5(K, tmp_path, rng):
    """Keras 3 also writes the legacy .h5 layout; its configs keep Keras 3 meanings."""
    L = K.layers
    x = K.Input((6, 3))
    y, h, c = L.LSTM(4, return_sequences=True, return_state=True, recurrent_activation="hard_sigmoid")(x)
    km = K.Model(x, L.Dense(1)(L.Bidirectional(L.LSTM(4))(y, initial_state=[h, c, h, c])))
    randomize(km, rng, low=-1.5, high=1.5)
    path = str(tmp_path / "k3.h5")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    xs = _inputs(km.inputs, rng)
    _parity(_rnnlab_out(rm, xs), _keras_out(km, xs))


#: Adam with amsgrad (slots added together, then one more) and centered RMSprop with momentum (three separate
#: slot groups) cover Keras's orders, Nadam its one optimizer-wide variable after the slots; SGD and Adagrad go
#: through rnnlab's own round trip (tests/behaviour).
#: They are named: unnamed optimizers are numbered per process, differently in each framework.
OPTIMIZERS = {"adam_amsgrad": ("Adam", {"learning_rate": 0.01, "amsgrad": True, "name": "adam"}),
              "rmsprop_centered": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True,
                                               "name": "rmsprop"}),
              "nadam": ("Nadam", {"learning_rate": 0.01, "name": "nadam"})}


def _h5_arrays(path, group):
    with h5py.File(path, "r") as f:
        out = {}
        f[group].visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset)
                            else None)
        return out


def _trained_in_both(K, optimizer, tmp_path, rng, make=None):
    """The same random model in Keras and, through a .keras file, in rnnlab, compiled with the same optimizer
    (``(class name, config)``) and trained two steps on the same batch of (6, 5, 3) -> (6, 2): ``(km, rm, x, y)``.
    ``make(K)``: the Keras model (default: a Bidirectional GRU, an LSTM and a Dense)."""
    L = K.layers
    km = make(K) if make else K.Sequential([K.Input((5, 3)), L.Bidirectional(L.GRU(2, return_sequences=True)),
                                            L.LSTM(3), L.Dense(2)])
    randomize(km, rng)
    path = str(tmp_path / "start.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    name, config = optimizer
    if name == "Nadam":  # its scalar is an unnamed Keras variable, numbered per process: "variable" when fresh
        K.backend.clear_session()
    km.compile(optimizer=getattr(K.optimizers, name)(**config), loss="mse", metrics=["mae"])
    rm.compile(optimizer=getattr(rnnlab.optimizers, name)(**config), loss="mse", metrics=["mae"])
    x, y = rng.normal(size=(6, 5, 3)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    for _ in range(2):
        km.train_on_batch(x, y)
        rm.train_on_batch(x, y)
    return km, rm, x, y


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_legacy_h5_of_a_trained_model_matches_keras(K, optimizer, tmp_path, rng):
    """The same model trained two steps in Keras and in rnnlab: the two .h5 files hold the same compile
    settings and optimizer state (Keras's variable order and names).  Keras loads rnnlab's file compiled;
    rnnlab loads Keras's file with its optimizer state, and a third step then matches Keras's."""
    km, rm, x, y = _trained_in_both(K, OPTIMIZERS[optimizer], tmp_path, rng)
    ours, theirs = str(tmp_path / "rnnlab_made.h5"), str(tmp_path / "keras_made.h5")
    rm.save(ours)
    km.save(theirs)
    assert _h5_layout(ours) == _h5_layout(theirs)
    with h5py.File(ours, "r") as f_ours, h5py.File(theirs, "r") as f_theirs:
        training_ours, training_theirs = (json.loads(f.attrs["training_config"]) for f in (f_ours, f_theirs))
    # Keras writes the alias it was given, which its own loader cannot read back: rnnlab writes the full name
    assert (training_ours.pop("loss"), training_theirs.pop("loss")) == ("mean_squared_error", "mse")
    assert training_ours == training_theirs
    for group in ("model_weights", "optimizer_weights"):
        arrays_ours, arrays_theirs = _h5_arrays(ours, group), _h5_arrays(theirs, group)
        assert sorted(arrays_ours) == sorted(arrays_theirs)
        for key, value in arrays_theirs.items():
            np.testing.assert_allclose(arrays_ours[key], value, rtol=1e-4, atol=1e-6, err_msg=key)

    from_ours = K.models.load_model(ours)
    assert from_ours.compiled and int(from_ours.optimizer.iterations) == 2
    _parity(_keras_out(from_ours, [x]), _rnnlab_out(rm, [x]))

    from_theirs = rnnlab.models.load_model(theirs)
    assert from_theirs._compiled and from_theirs.optimizer.iterations == 2
    assert from_theirs.metrics_names[0] == "loss"
    km.train_on_batch(x, y)
    from_theirs.train_on_batch(x, y)
    _parity(from_theirs.get_weights(), [to_numpy(w) for w in km.weights])


def _archive_arrays(path, group):
    """``{dataset name: array}`` under ``group`` of a .keras archive's model.weights.h5."""
    import io

    with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
        return {name: np.asarray(ds[()]) for name, ds in f[group].items()}


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_keras_archive_keeps_the_optimizer_state_as_keras_does(K, optimizer, tmp_path, rng):
    """The same model trained two steps in Keras and in rnnlab: both .keras archives hold the optimizer's
    variables in the same order (iterations, learning rate, Keras's slot order).  Each framework loads the
    other's archive with its iterations and state, and a third step on each side matches the model that wrote
    the file."""
    km, rm, x, y = _trained_in_both(K, OPTIMIZERS[optimizer], tmp_path, rng)
    ours, theirs = str(tmp_path / "rnnlab_made.keras"), str(tmp_path / "keras_made.keras")
    rm.save(ours)
    km.save(theirs)
    arrays_ours, arrays_theirs = _archive_arrays(ours, "optimizer/vars"), _archive_arrays(theirs, "optimizer/vars")
    assert sorted(arrays_ours) == sorted(arrays_theirs) == sorted(str(i) for i in range(len(km.optimizer.variables)))
    assert len(arrays_ours) > 2  # the slots, not only iterations and learning rate
    for key, value in arrays_theirs.items():
        assert arrays_ours[key].dtype == value.dtype and arrays_ours[key].shape == value.shape, key
        np.testing.assert_allclose(arrays_ours[key], value, rtol=1e-4, atol=1e-6, err_msg=key)

    from_ours = K.models.load_model(ours)
    assert int(from_ours.optimizer.iterations) == 2
    from_theirs = rnnlab.models.load_model(theirs)
    assert from_theirs._compiled and from_theirs.optimizer.iterations == 2
    km.train_on_batch(x, y)
    from_theirs.train_on_batch(x, y)
    _parity(from_theirs.get_weights(), [to_numpy(w) for w in km.weights])
    rm.train_on_batch(x, y)
    from_ours.train_on_batch(x, y)
    _parity([to_numpy(w) for w in from_ours.weights], rm.get_weights())


def test_keras_archive_of_an_untrained_optimizer_loads_fresh_in_both(K, tmp_path, rng):
    """A compiled model that never trained has an unbuilt optimizer: its archive stores two variables, fewer than
    the built optimizer that loading creates, so Keras skips them with a warning, and so does rnnlab."""
    L = K.layers
    km = K.Sequential([K.Input((4, 2)), L.GRU(3), L.Dense(1)])
    randomize(km, rng)
    start = str(tmp_path / "start.keras")
    km.save(start)
    rm = rnnlab.models.load_model(start)
    km.compile(optimizer=K.optimizers.Adam(0.01), loss="mse")
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    ours, theirs = str(tmp_path / "ours.keras"), str(tmp_path / "theirs.keras")
    rm.save(ours)
    km.save(theirs)
    assert sorted(_archive_arrays(ours, "optimizer/vars")) == sorted(_archive_arrays(theirs, "optimizer/vars")) \
        == ["0", "1"]
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        K.models.load_model(ours)
    with pytest.warns(UserWarning, match="skipping the saved state of optimizer"):
        loaded = rnnlab.models.load_model(theirs)
    assert loaded._compiled and loaded.optimizer.iterations == 0


def test_weights_files_carry_the_optimizer_as_keras_does(K, tmp_path, rng):
    """``save_weights`` of a compiled model stores its optimizer's variables too, as Keras's does; ``load_weights``
    restores them into an optimizer with as many variables (one that has stepped: a checkpoint rolled back in the
    same run), and skips them with a warning otherwise, in both frameworks.  Each loads the other's file."""
    adam = ("Adam", {"learning_rate": 0.01, "name": "adam"})
    km, rm, x, y = _trained_in_both(K, adam, tmp_path, rng,
                                    make=lambda K: K.Sequential([K.Input((5, 3)), K.layers.LSTM(3), K.layers.Dense(2)]))
    start = str(tmp_path / "start.keras")
    ours, theirs = str(tmp_path / "ours.weights.h5"), str(tmp_path / "theirs.weights.h5")
    rm.save_weights(ours)
    km.save_weights(theirs)
    with h5py.File(ours, "r") as f_ours, h5py.File(theirs, "r") as f_theirs:
        assert sorted(f_ours["optimizer/vars"]) == sorted(f_theirs["optimizer/vars"])
        assert len(f_ours["optimizer/vars"]) == len(km.optimizer.variables) > 2
        for key in f_theirs["optimizer/vars"]:
            np.testing.assert_allclose(f_ours["optimizer/vars"][key][()], f_theirs["optimizer/vars"][key][()],
                                       rtol=1e-4, atol=1e-6, err_msg=key)
    for _ in range(2):  # then back to the checkpoint, each framework from the other's file
        km.train_on_batch(x, y)
        rm.train_on_batch(x, y)
    km.load_weights(ours)
    rm.load_weights(theirs)
    assert int(km.optimizer.iterations) == rm.optimizer.iterations == 2
    km.train_on_batch(x, y)
    rm.train_on_batch(x, y)
    _parity(rm.get_weights(), [to_numpy(w) for w in km.weights])

    fresh_k = K.models.load_model(start)
    fresh_k.compile(optimizer=K.optimizers.Adam(0.01, name="adam"), loss="mse")
    fresh_r = rnnlab.models.load_model(start)
    fresh_r.compile(optimizer=rnnlab.optimizers.Adam(0.01, name="adam"), loss="mse")
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        fresh_k.load_weights(ours)
    with pytest.warns(UserWarning, match="skipping the saved state of optimizer"):
        fresh_r.load_weights(theirs)
    assert int(fresh_k.optimizer.iterations) == fresh_r.optimizer.iterations == 0
    fresh_k.train_on_batch(x, y)
    fresh_r.train_on_batch(x, y)
    _parity(fresh_r.get_weights(), [to_numpy(w) for w in fresh_k.weights])


def test_tf_keras2_reads_rnnlab_h5_as_it_reads_keras3s(K, tmp_path, rng):
    """TF-Keras 2's ``load_weights`` reads rnnlab's .h5 into the same architecture; its ``load_model`` treats
    rnnlab's file as it treats Keras 3's own (it refuses Keras 3's InputLayer config: Keras 3's legacy files
    are not TF-Keras 2 files)."""
    T = _tf_keras()
    L, TL = K.layers, T.layers
    km = K.Sequential([K.Input((6, 3)), L.Masking(), L.Bidirectional(L.GRU(3)), L.Dense(2)])
    randomize(km, rng)
    path = str(tmp_path / "start.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    ours, theirs = str(tmp_path / "rnnlab_made.h5"), str(tmp_path / "keras_made.h5")
    rm.save(ours)
    km.save(theirs)
    tm = T.Sequential([T.Input((6, 3)), TL.Masking(), TL.Bidirectional(TL.GRU(3)), TL.Dense(2)])
    tm.load_weights(ours)
    xs = _inputs(km.inputs, rng)
    _parity(to_numpy(tm(xs[0], training=False)), _rnnlab_out(rm, xs))
    try:
        from_ours = T.models.load_model(ours)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc), match=re.escape(str(exc).splitlines()[-1])):
            T.models.load_model(theirs)
    else:
        _parity(to_numpy(from_ours(xs[0], training=False)), _rnnlab_out(rm, xs))


# ----------------------------------------------------------------------------------------------- refusals

class DoubleLayer(layers.Layer):
    """A caller-supplied stand-in for a Keras Lambda layer (``x * 2``)."""

    def call(self, inputs):
        return inputs * 2

    @classmethod
    def from_config(cls, config):
        return cls(name=config.get("name"))


def _double(x):
    return x * 2


def test_lambda_and_unsupported_layers_are_refused(K, tmp_path, rng):
    L = K.layers
    km = K.Sequential([K.Input((6, 3)), L.Lambda(_double), L.LSTM(2)])
    randomize(km, rng)
    path = str(tmp_path / "lambda.keras")
    km.save(path)
    with pytest.raises(ValueError, match="Lambda"):
        rnnlab.models.load_model(path)
    # the program's own class stands in for the Lambda (whose stored code is never run), as in Keras with
    # custom_objects: allowed in safe mode, since the file only names it
    rm = rnnlab.models.load_model(path, custom_objects={"Lambda": DoubleLayer})
    xs = _inputs(km.inputs, rng, masked_tail=0)
    _parity(_rnnlab_out(rm, xs), _keras_out(km, xs))

    rm.save(path)  # rnnlab writes the custom layer under its class name; reading it needs the class again
    with pytest.raises(ValueError, match="DoubleLayer"):
        rnnlab.models.load_model(path)
    again = rnnlab.models.load_model(path, custom_objects={"DoubleLayer": DoubleLayer})
    _parity(_rnnlab_out(again, xs), _keras_out(km, xs))

    K.Sequential([K.Input((6, 3)), L.Conv1DTranspose(2, 3), L.LSTM(2)]).save(path)
    with pytest.raises(ValueError, match="Conv1DTranspose"):
        rnnlab.models.load_model(path)


def test_custom_activation_comes_from_custom_objects(K, tmp_path, rng):
    @K.saving.register_keras_serializable(package="rnnlab_test")
    def scaled_tanh(x):
        return K.ops.tanh(x) * 0.5

    km = K.Sequential([K.Input((6, 3)), K.layers.SimpleRNN(3, activation=scaled_tanh)])
    randomize(km, rng)
    path = str(tmp_path / "custom.keras")
    km.save(path)
    with pytest.raises(ValueError, match="scaled_tanh"):
        rnnlab.models.load_model(path)
    rm = rnnlab.models.load_model(path, custom_objects={"scaled_tanh": lambda x: np.tanh(x) * 0.5})
    xs = _inputs(km.inputs, rng, masked_tail=0)
    _parity(_rnnlab_out(rm, xs), _keras_out(km, xs))


def _small_rnnlab_model():
    inp = rnnlab.Input(shape=(5, 2))
    return rnnlab.Model(inp, layers.Dense(1)(layers.LSTM(3)(inp)))


def test_bad_paths_and_wrong_kinds_of_file(tmp_path):
    model = _small_rnnlab_model()
    with pytest.raises(ValueError, match="not found"):
        rnnlab.models.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(TypeError):
        rnnlab.models.load_model(42)
    weights = str(tmp_path / "w.weights.h5")
    model.save_weights(weights)
    with pytest.raises(ValueError, match="load_weights"):
        rnnlab.models.load_model(weights)
    h5_named_keras = str(tmp_path / "really_h5.keras")
    os.replace(weights, h5_named_keras)
    with pytest.raises(ValueError, match="HDF5"):
        rnnlab.models.load_model(h5_named_keras)
    keras_file = str(tmp_path / "m.keras")
    model.save(keras_file)
    zip_named_h5 = str(tmp_path / "really_zip.h5")
    with open(keras_file, "rb") as src, open(zip_named_h5, "wb") as dst:
        dst.write(src.read())
    with pytest.raises(ValueError, match="zip"):
        rnnlab.models.load_model(zip_named_h5)
    text = tmp_path / "text.keras"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a valid .keras"):
        rnnlab.models.load_model(str(text))
    with pytest.raises(ValueError, match="save_weights"):
        model.save(str(tmp_path / "x.weights.h5"))
    with pytest.raises(ValueError):
        model.save_weights(str(tmp_path / "x.bin"))


def _rewrite_member(src, dst, name, data):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.namelist():
            if item == name and data is None:
                continue
            zout.writestr(item, zin.read(item) if item != name else data)


def _edit_weights(src, dst, edit):
    """Copy a .keras archive, changing its model.weights.h5 with ``edit(h5file)``."""
    import io

    with zipfile.ZipFile(src) as zin:
        buffer = io.BytesIO(zin.read("model.weights.h5"))
    with h5py.File(buffer, "a") as f:
        edit(f)
    _rewrite_member(src, dst, "model.weights.h5", buffer.getvalue())


def test_damaged_keras_archives(tmp_path, rng):
    model = _small_rnnlab_model()
    good = str(tmp_path / "good.keras")
    model.save(good)
    bad = str(tmp_path / "bad.keras")

    with open(good, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="bad.keras"):
        rnnlab.models.load_model(bad)

    _rewrite_member(good, bad, "config.json", None)
    with pytest.raises(ValueError, match="config.json"):
        rnnlab.models.load_model(bad)
    _rewrite_member(good, bad, "model.weights.h5", None)
    with pytest.raises(ValueError, match="model.weights.h5"):
        rnnlab.models.load_model(bad)
    _rewrite_member(good, bad, "config.json", b"{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        rnnlab.models.load_model(bad)

    def wrong_shape(f):
        del f["layers/lstm/cell/vars/1"]
        f["layers/lstm/cell/vars"].create_dataset("1", data=np.zeros((3, 11), "float32"))

    _edit_weights(good, bad, wrong_shape)
    with pytest.raises(ValueError, match=r"shape \(3, 11\)"):
        rnnlab.models.load_model(bad)

    def nan_weight(f):
        ds = f["layers/dense/vars/0"]
        value = ds[()]
        value[0, 0] = np.nan
        ds[...] = value

    _edit_weights(good, bad, nan_weight)
    with pytest.raises(ValueError, match="NaN or infinite"):
        rnnlab.models.load_model(bad)

    def extra_layer(f):
        f.create_group("layers/dense_1/vars").create_dataset("0", data=np.zeros((2, 2), "float32"))

    _edit_weights(good, bad, extra_layer)
    with pytest.raises(ValueError, match="does not use"):
        rnnlab.models.load_model(bad)

    config = json.loads(zipfile.ZipFile(good).read("config.json"))
    config["config"]["layers"][1]["config"]["time_major"] = True
    _rewrite_member(good, bad, "config.json", json.dumps(config).encode())
    with pytest.raises(ValueError, match="time-major"):
        rnnlab.models.load_model(bad)
    config["config"]["layers"][1]["config"].pop("time_major")
    config["config"]["layers"][1]["config"]["frobnicate"] = 3
    _rewrite_member(good, bad, "config.json", json.dumps(config).encode())
    with pytest.raises(ValueError, match="frobnicate"):
        rnnlab.models.load_model(bad)


def test_weights_files_mismatch_and_npz_still_works(tmp_path, rng):
    model = _small_rnnlab_model()
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.weights])
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    for name in ("w.weights.npz", "w.weights.h5"):
        path = str(tmp_path / name)
        model.save_weights(path)
        other = _small_rnnlab_model()
        other.load_weights(path)
        np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    inp = rnnlab.Input(shape=(5, 2))
    different = rnnlab.Model(inp, layers.Dense(1)(layers.GRU(3)(inp)))
    before = different.get_weights()
    with pytest.raises(ValueError):
        different.load_weights(str(tmp_path / "w.weights.h5"))
    for a, b in zip(before, different.get_weights()):  # nothing was assigned
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no such file|not found"):
        model.load_weights(str(tmp_path / "missing.weights.h5"))


# ----------------------------------------------------------------------------------------------- no TF/torch

def test_loading_needs_neither_tensorflow_nor_torch(K, tmp_path, rng):
    """A .keras made by real Keras loads and predicts in a process that never imports TF, torch or Keras."""
    km = _states(K)
    randomize(km, rng)
    path = str(tmp_path / "k.keras")
    km.save(path)
    xs = _inputs(km.inputs, rng)
    np.savez(str(tmp_path / "x.npz"), *xs)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import rnnlab
        data = np.load({str(tmp_path / "x.npz")!r})
        xs = [data[f"arr_{{i}}"] for i in range(len(data.files))]
        model = rnnlab.models.load_model({path!r})
        out = model.predict(xs, verbose=0)
        np.savez({str(tmp_path / "y.npz")!r}, *out)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "torch", "keras", "tf_keras"))
        assert "tensorflow" not in sys.modules and "torch" not in sys.modules and "keras" not in sys.modules, heavy
        assert not heavy, heavy
    """)
    env = dict(os.environ)
    env.pop("KERAS_BACKEND", None)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
    got = np.load(str(tmp_path / "y.npz"))
    _parity([got[f"arr_{i}"] for i in range(len(got.files))], _keras_out(km, xs))
