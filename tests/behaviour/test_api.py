"""The Keras-shaped API: weights and names, initializers, configs, summary, Sequential, masks, layouts."""
import io
import math
from contextlib import redirect_stdout

import numpy as np
import pytest

import rnnlab
from rnnlab import initializers, layers, weight_layouts

X = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")


@pytest.mark.parametrize("cls, g", [(layers.LSTM, 4), (layers.GRU, 3), (layers.SimpleRNN, 1)])
def test_weight_shapes_names_and_order(cls, g):
    layer = cls(6)
    layer(X)
    names = [w.name for w in layer.weights]
    assert names == ["kernel", "recurrent_kernel", "bias"]
    bias_shape = (2, 3 * 6) if cls is layers.GRU else (g * 6,)
    assert [tuple(w.shape) for w in layer.weights] == [(3, g * 6), (6, g * 6), bias_shape]
    assert layer.weights[0].path == f"{layer.name}/{layer.cell.name}/kernel"
    assert layer.count_params() == 3 * g * 6 + 6 * g * 6 + int(np.prod(bias_shape))


def test_gru_reset_after_false_and_no_bias_layouts():
    a, b = layers.GRU(4, reset_after=False), layers.LSTM(4, use_bias=False)
    a(X), b(X)
    assert a.weights[2].shape == (12,)
    assert [w.name for w in b.weights] == ["kernel", "recurrent_kernel"]


def test_unit_forget_bias_sets_forget_block_to_one():
    layer = layers.LSTM(3, bias_initializer="ones", unit_forget_bias=True)
    layer(X)
    np.testing.assert_array_equal(layer.get_weights()[2], np.ones(12))
    layer = layers.LSTM(3)
    layer(X)
    np.testing.assert_array_equal(layer.get_weights()[2], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    layer = layers.LSTM(3, unit_forget_bias=False)
    layer(X)
    np.testing.assert_array_equal(layer.get_weights()[2], np.zeros(12))


def test_glorot_uniform_distribution():
    w = initializers.GlorotUniform(seed=1)((300, 500))
    limit = math.sqrt(6 / 800)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.01 * limit  # uniform(-a, a) has std a / sqrt(3)


@pytest.mark.parametrize("shape", [(8, 32), (32, 8), (16, 16)])
def test_orthogonal_is_orthogonal(shape):
    w = initializers.Orthogonal(seed=3)(shape, "float64")
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_initializers_are_seedable_and_global_seed_repeats():
    np.testing.assert_array_equal(initializers.GlorotUniform(seed=5)((4, 4)), initializers.GlorotUniform(seed=5)((4, 4)))
    rnnlab.utils.set_random_seed(42)
    a = layers.LSTM(3)
    a(X)
    rnnlab.utils.set_random_seed(42)
    b = layers.LSTM(3)
    b(X)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    c = layers.LSTM(3)
    c(X)
    assert not np.array_equal(c.get_weights()[0], b.get_weights()[0])


def test_initializer_by_name_and_unknown_name():
    assert isinstance(initializers.get("orthogonal"), initializers.Orthogonal)
    with pytest.raises(ValueError, match=r"`kernel_initializer` must be one of"):
        layers.LSTM(3, kernel_initializer="glorot_unifrom")


@pytest.mark.parametrize("make", [
    lambda: layers.LSTM(3, return_sequences=True, go_backwards=True, activation="relu", dropout=0.2, seed=4),
    lambda: layers.GRU(3, reset_after=False, recurrent_activation="hard_sigmoid", return_state=True),
    lambda: layers.SimpleRNN(3, use_bias=False, stateful=False, recurrent_dropout=0.1),
    lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)], return_sequences=True),
    lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="ave"),
    lambda: layers.TimeDistributed(layers.Dense(2, activation="tanh")),
])
def test_config_round_trip_gives_the_same_layer(make):
    """from_config(get_config()) rebuilds a layer that computes the same function given the same weights."""
    layer = make()
    y = layer(X)
    clone = type(layer).from_config(layer.get_config())
    clone(X)
    clone.set_weights(layer.get_weights())
    for a, b in zip(np.atleast_1d(y) if not isinstance(y, tuple) else y,
                    np.atleast_1d(clone(X)) if not isinstance(y, tuple) else clone(X)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=0)
    cfg, clone_cfg = layer.get_config(), clone.get_config()
    cfg.pop("name"), clone_cfg.pop("name")
    assert clone_cfg == cfg


def test_dropout_arguments_are_stored_and_serialised():
    layer = layers.GRU(3, dropout=0.25, recurrent_dropout=1.5, seed=9)
    assert layer.dropout == 0.25 and layer.recurrent_dropout == 1.0  # clipped to [0, 1] as Keras does
    cfg = layer.get_config()
    assert (cfg["dropout"], cfg["recurrent_dropout"], cfg["seed"]) == (0.25, 1.0, 9)


def test_dropout_layer_identity_at_inference_and_scaled_in_training():
    d = layers.Dropout(0.5, seed=1)
    x = np.ones((200, 10), "float32")
    np.testing.assert_array_equal(d(x), x)
    y = d(x, training=True)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6


def test_dense_on_2d_and_3d_inputs():
    dense = layers.Dense(4, activation="relu")
    y3 = dense(X)
    y2 = dense(X[:, 0])
    assert y3.shape == (2, 5, 4) and y2.shape == (2, 4)
    np.testing.assert_allclose(y3[:, 0], y2, rtol=1e-6)
    w, b = dense.get_weights()
    np.testing.assert_allclose(y2, np.maximum(X[:, 0] @ w + b, 0), rtol=1e-6)


def test_summary_and_count_params_of_seed_model():
    inp = rnnlab.Input(shape=(8, 2))
    model = rnnlab.Model(inp, layers.LSTM(3, return_state=True)(inp))
    buf = io.StringIO()
    with redirect_stdout(buf):
        model.summary()
    text = buf.getvalue()
    assert "InputLayer" in text and "(LSTM)" in text and "(None, 8, 2)" in text
    assert "Total params: 72 (288.00 B)" in text and "Non-trainable params: 0 (0.00 B)" in text
    assert model.count_params() == 72  # 4 * 3 * (2 + 3 + 1)


def test_sequential_with_input_and_deferred_build():
    rng = np.random.default_rng(0)
    seq = rnnlab.Sequential([rnnlab.Input(shape=(5, 3)), layers.LSTM(4, return_sequences=True), layers.Dense(2)])
    assert [type(l).__name__ for l in seq.layers] == ["LSTM", "Dense"]
    lazy = rnnlab.Sequential([layers.LSTM(4, return_sequences=True), layers.Dense(2)])
    assert not lazy.built
    lazy.predict(X, verbose=0)
    w = [rng.normal(size=a.shape) for a in seq.get_weights()]
    seq.set_weights(w)
    lazy.set_weights(w)
    np.testing.assert_array_equal(seq.predict(X, verbose=0), lazy(X))


def test_sequential_add_and_input_shape_keyword():
    seq = rnnlab.Sequential()
    seq.add(layers.GRU(3, input_shape=(5, 3)))
    assert seq.built and seq.output_shape == (None, 3)


def test_multi_input_multi_output_model_and_initial_state_inputs():
    """initial_state passed as model inputs; outputs come back in the structure given to Model."""
    seq_in, h_in, c_in = rnnlab.Input(shape=(5, 3)), rnnlab.Input(shape=(4,)), rnnlab.Input(shape=(4,))
    out, h, c = layers.LSTM(4, return_sequences=True, return_state=True)(seq_in, initial_state=[h_in, c_in])
    model = rnnlab.Model([seq_in, h_in, c_in], [out, layers.Dense(1)(h), c])
    rng = np.random.default_rng(1)
    h0, c0 = rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    res = model.predict([X, h0, c0], verbose=0)
    assert isinstance(res, list) and [r.shape for r in res] == [(2, 5, 4), (2, 1), (2, 4)]
    lstm = next(layer for layer in model.layers if isinstance(layer, layers.LSTM))
    direct = lstm(X, initial_state=[h0, c0])
    np.testing.assert_allclose(res[0], direct[0], rtol=1e-6)
    np.testing.assert_allclose(res[2], direct[2], rtol=1e-6)


def test_eager_masks_propagate_like_keras():
    """Masking -> LSTM eagerly uses the mask, exactly as passing it by hand."""
    x = X.copy()
    x[0, 3:] = 0.0
    masked = layers.Masking()(x)
    np.testing.assert_array_equal(masked._keras_mask, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    lstm = layers.LSTM(3, return_sequences=True)
    y = lstm(masked)
    np.testing.assert_array_equal(y, lstm(x, mask=masked._keras_mask))
    assert not np.array_equal(y, lstm(x))
    assert y._keras_mask is not None and layers.LSTM(2)(masked).__class__ is np.ndarray


def test_embedding_mask_zero_feeds_the_rnn():
    ids = np.array([[3, 1, 0, 0], [2, 2, 2, 0]])
    inp = rnnlab.Input(shape=(4,), dtype="int32")
    emb = layers.Embedding(5, 3, mask_zero=True)
    out = layers.GRU(2, return_sequences=True)(emb(inp))
    model = rnnlab.Model(inp, out)
    y = model.predict(ids, verbose=0)
    np.testing.assert_array_equal(y[0, 2], y[0, 1])  # masked steps repeat the last real output
    np.testing.assert_array_equal(y[0, 3], y[0, 1])
    assert not np.array_equal(y[1, 2], y[1, 1])


def test_predict_batches_and_progress_line(capsys):
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.GRU(2)(inp))
    x = np.random.default_rng(3).normal(size=(70, 5, 3))
    full = model(x)
    np.testing.assert_allclose(model.predict(x, batch_size=32), full, rtol=1e-6)
    out = capsys.readouterr().out
    assert "3/3" in out and "/step" in out
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_weight_layout_round_trip_and_refusals():
    rng = np.random.default_rng(0)
    for kind, g in (("lstm", 4), ("gru", 3), ("simple_rnn", 1)):
        bias = rng.normal(size=(2, g * 3)) if kind == "gru" else rng.normal(size=(g * 3,))
        w = [rng.normal(size=(2, g * 3)), rng.normal(size=(3, g * 3)), bias]
        p = weight_layouts.keras_to_torch(kind, w)
        assert p["weight_ih"].shape == (g * 3, 2) and p["weight_hh"].shape == (g * 3, 3)
        back = weight_layouts.torch_to_keras(kind, p)
        for a, b in zip(w, back):
            np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="reset_after=False has no exact PyTorch equivalent"):
        weight_layouts.keras_to_torch("gru", [np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9)])
    with pytest.raises(ValueError, match="proj_size"):
        weight_layouts.torch_to_keras("lstm", {"weight_ih": np.zeros((8, 2)), "weight_hh": np.zeros((8, 1))})
    with pytest.raises(ValueError, match=r"`kind` must be one of"):
        weight_layouts.keras_to_torch("lstmm", [])


def test_gru_gate_order_maps_to_torch_r_z_n():
    """Keras z|r|h blocks become PyTorch r|z|n rows."""
    kernel = np.concatenate([np.full((1, 2), v) for v in (1.0, 2.0, 3.0)], axis=1)  # z=1, r=2, h=3
    p = weight_layouts.keras_to_torch("gru", [kernel, np.zeros((2, 6)), np.zeros((2, 6))])
    np.testing.assert_array_equal(p["weight_ih"][:, 0], [2, 2, 1, 1, 3, 3])


def test_tf_keras_paths_resolve_after_the_import_swap():
    """``import tensorflow as tf`` code spells Keras ``tf.keras``: under ``import rnnlab as tf`` it is rnnlab."""
    import rnnlab as tf

    assert tf.keras.layers.LSTM is layers.LSTM
    assert tf.keras.Model is rnnlab.Model and tf.keras.keras is tf
    inputs = tf.keras.Input(shape=(4, 2))
    model = tf.keras.Model(inputs, tf.keras.layers.GRU(3)(inputs))
    assert model.predict(np.zeros((1, 4, 2)), verbose=0).shape == (1, 3)


def test_variance_scaling_refuses_bad_fan_axes_and_scale():
    with pytest.raises(ValueError, match="input_axes"):
        rnnlab.initializers.GlorotUniform(input_axes=[3], output_axes=[0])((4, 5))
    with pytest.raises(TypeError, match="output_axes"):
        rnnlab.initializers.HeNormal(output_axes="last")
    with pytest.raises(TypeError, match="input_axes"):
        rnnlab.initializers.VarianceScaling(input_axes=[0.5])
    with pytest.raises(ValueError, match="scale"):
        rnnlab.initializers.VarianceScaling(scale=0.0)
