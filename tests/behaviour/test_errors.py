"""Bad input gets a ValueError/TypeError whose message names the argument, what was expected and what came."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers

X = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")


@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 3, 1), (3,)])
def test_wrong_input_rank(shape):
    with pytest.raises(ValueError, match=r"must have rank 3 \(batch, timesteps, features\); received input with shape"):
        layers.LSTM(4)(np.zeros(shape, "float32"))


def test_wrong_input_rank_symbolic():
    with pytest.raises(ValueError, match=r"rank 3.*\(None, 3\)"):
        layers.GRU(4)(rnnlab.Input(shape=(3,)))


def test_wrong_feature_size_after_build():
    layer = layers.LSTM(4)
    layer(X)
    with pytest.raises(ValueError, match=r"must have 3 features.*shape \(2, 5, 4\)"):
        layer(np.zeros((2, 5, 4), "float32"))


def test_wrong_feature_size_for_model():
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.SimpleRNN(2)(inp))
    with pytest.raises(ValueError, match=r"must have shape \(None, 5, 3\).*received shape \(2, 5, 7\)"):
        model.predict(np.zeros((2, 5, 7)), verbose=0)


@pytest.mark.parametrize("bad", [np.array([[["a", "b", "c"]]]), np.zeros((1, 2, 3), complex)])
def test_wrong_input_dtype(bad):
    with pytest.raises(TypeError, match=r"`inputs`.*(numeric|dtype)"):
        layers.LSTM(2)(bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input(value):
    x = X.copy()
    x[1, 2, 0] = value
    with pytest.raises(ValueError, match=r"`inputs` must contain only finite values; received 1 NaN or Inf"):
        layers.GRU(2)(x)


def test_non_finite_input_through_model():
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.LSTM(2)(inp))
    x = X.copy()
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.predict(x, verbose=0)


def test_initial_state_wrong_count():
    with pytest.raises(ValueError, match=r"expects 2 initial state tensor\(s\).*received 1"):
        layers.LSTM(4)(X, initial_state=[np.zeros((2, 4), "float32")])


def test_initial_state_wrong_shape():
    with pytest.raises(ValueError, match=r"`initial_state\[0\]`.*must have shape \(2, 4\); received shape \(2, 3\)"):
        layers.GRU(4)(X, initial_state=[np.zeros((2, 3), "float32")])


def test_bidirectional_initial_state_odd_count():
    with pytest.raises(ValueError, match=r"even count.*received 3"):
        layers.Bidirectional(layers.LSTM(2))(X, initial_state=[np.zeros((2, 2), "float32")] * 3)


@pytest.mark.parametrize("units", [0, -3, 2.5, None, True])
@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU, layers.SimpleRNN, layers.Dense])
def test_units_must_be_positive_int(cls, units):
    with pytest.raises(ValueError, match=r"`units` must be a positive integer; received units="):
        cls(units)


def test_unknown_activation():
    with pytest.raises(ValueError, match=r"`activation` must be one of .*received activation='tanhh'"):
        layers.LSTM(3, activation="tanhh")
    with pytest.raises(ValueError, match=r"`recurrent_activation`.*received recurrent_activation='sigmod'"):
        layers.GRU(3, recurrent_activation="sigmod")
    with pytest.raises(TypeError, match=r"`activation` must be an activation name"):
        layers.SimpleRNN(3, activation=3)


def test_invalid_merge_mode():
    with pytest.raises(ValueError, match=r"`merge_mode` must be one of .*received merge_mode='max'"):
        layers.Bidirectional(layers.LSTM(3), merge_mode="max")


def test_bidirectional_needs_a_recurrent_layer():
    with pytest.raises(TypeError, match=r"`layer` of Bidirectional.*received Dense"):
        layers.Bidirectional(layers.Dense(3))


def test_set_weights_wrong_count():
    layer = layers.LSTM(3)
    layer(X)
    with pytest.raises(ValueError, match=r"expects 3 weight arrays.*received 2.*\(3, 12\)"):
        layer.set_weights(layer.get_weights()[:2])


def test_set_weights_wrong_shape():
    layer = layers.GRU(3)
    layer(X)
    w = layer.get_weights()
    w[2] = np.zeros(9)  # reset_after=True needs (2, 9)
    with pytest.raises(ValueError, match=r"`weights\[2\]`.*must have shape \(2, 9\); received shape \(9,\)"):
        layer.set_weights(w)


def test_set_weights_non_finite():
    layer = layers.SimpleRNN(3)
    layer(X)
    w = layer.get_weights()
    w[0][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`weights\[0\]` must contain only finite values"):
        layer.set_weights(w)


def test_model_set_weights_wrong_count():
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.Dense(2)(layers.LSTM(3)(inp)))
    with pytest.raises(ValueError, match=r"expects 5 weight arrays.*received 3"):
        model.set_weights(model.get_weights()[:3])


def test_set_weights_before_build():
    with pytest.raises(ValueError, match="call it on an input"):
        layers.LSTM(3).set_weights([])


def test_stateful_needs_fixed_batch_size():
    with pytest.raises(ValueError, match=r"stateful.*fixed batch size.*batch size None"):
        layers.LSTM(3, stateful=True)(rnnlab.Input(shape=(5, 3)))


def test_stateful_batch_size_must_not_change():
    layer = layers.GRU(3, stateful=True)
    layer(X)
    with pytest.raises(ValueError, match=r"built for batch size 2; received a batch of 3"):
        layer(np.zeros((3, 5, 3), "float32"))


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match=r"`mask` must have shape \(2, 5\).*received shape \(2, 4\)"):
        layers.LSTM(2)(X, mask=np.ones((2, 4), bool))


def test_unknown_layer_keyword():
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['retrun_sequences'\]"):
        layers.LSTM(3, retrun_sequences=True)


def test_invalid_dtype():
    with pytest.raises(ValueError, match=r"`dtype` must be one of \['float32', 'float64'\]; received dtype='int32'"):
        layers.LSTM(3, dtype="int32")


def test_embedding_ids_out_of_range():
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\); received ids in \[0, 7\]"):
        layers.Embedding(5, 2)(np.array([[0, 7]]))


def test_model_wrong_number_of_inputs():
    a, b = rnnlab.Input(shape=(5, 3)), rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model([a, b], layers.LSTM(2)(a, initial_state=None))
    with pytest.raises(ValueError, match=r"expects 2 inputs.*received 1"):
        model.predict(X, verbose=0)


def test_graph_disconnected():
    a, b = rnnlab.Input(shape=(5, 3)), rnnlab.Input(shape=(5, 3))
    out = layers.LSTM(2)(b)
    with pytest.raises(ValueError, match="Graph disconnected"):
        rnnlab.Model(a, out)


def test_zero_timesteps():
    with pytest.raises(ValueError, match="0 timesteps"):
        layers.LSTM(2)(np.zeros((1, 0, 3), "float32"))


def test_predict_batch_size_invalid():
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.LSTM(2)(inp))
    with pytest.raises(ValueError, match=r"`batch_size` must be a positive integer; received batch_size=0"):
        model.predict(X, batch_size=0)
