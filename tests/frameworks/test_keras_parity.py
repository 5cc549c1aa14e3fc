"""Numerical parity of rnnlab against Keras 3 (TensorFlow backend).

Recipe used throughout: build the same layer/model in Keras and in rnnlab,
put RANDOM weights (biases included) into the Keras object, copy them with
``rnnlab_obj.set_weights(keras_obj.get_weights())``, run both on the same
random input and compare every returned array (outputs and all states) to
1e-5 in float32 (1e-10 in float64).  Keras is the oracle: a failure here means
rnnlab disagrees with Keras.
"""

import numpy as np
import pytest

import rnnlab
from tests.support.reference import assert_parity, flatten, randomize, random_weights, to_numpy

ATOL32 = 1e-5
ATOL64 = 1e-10

B, T, F, U = 4, 6, 3, 4  # batch, timesteps, features, units

RNN_KINDS = ["lstm", "gru", "gru_v1", "simple_rnn"]
N_STATES = {"lstm": 2, "gru": 1, "gru_v1": 1, "simple_rnn": 1}


# ---------------------------------------------------------------------------
# builders: every builder takes the framework module ``K`` (keras or rnnlab)
# ---------------------------------------------------------------------------

def rnn_layer(K, kind, units=U, **kw):
    L = K.layers
    if kind == "lstm":
        return L.LSTM(units, **kw)
    if kind == "gru":
        return L.GRU(units, reset_after=True, **kw)
    if kind == "gru_v1":
        return L.GRU(units, reset_after=False, **kw)
    if kind == "simple_rnn":
        return L.SimpleRNN(units, **kw)
    raise ValueError(kind)


def rnn_cell(K, kind, units=U, **kw):
    L = K.layers
    if kind == "lstm":
        return L.LSTMCell(units, **kw)
    if kind == "gru":
        return L.GRUCell(units, reset_after=True, **kw)
    if kind == "gru_v1":
        return L.GRUCell(units, reset_after=False, **kw)
    if kind == "simple_rnn":
        return L.SimpleRNNCell(units, **kw)
    raise ValueError(kind)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else out


def seq(rng, b=B, t=T, f=F, dtype="float32"):
    return rng.standard_normal((b, t, f)).astype(dtype)


def states_for(rng, kind, b=B, units=U, dtype="float32"):
    return [rng.uniform(-0.8, 0.8, (b, units)).astype(dtype)
            for _ in range(N_STATES[kind])]


def paired_layers(keras, make, x, rng, **call_kw):
    """Build ``make(keras)`` and ``make(rnnlab)`` by calling them on ``x``,
    put random weights into the Keras layer and copy them into rnnlab."""
    kl = make(keras)
    kl(x, **call_kw)
    randomize(kl, rng)
    rl = make(rnnlab)
    rl(x, **call_kw)
    rl.set_weights(kl.get_weights())
    return kl, rl


def paired_models(keras, build, rng):
    """Build the same functional/Sequential model in both frameworks, put
    random weights into the Keras one and copy them into rnnlab."""
    km = build(keras)
    randomize(km, rng)
    rm = build(rnnlab)
    rm.set_weights(km.get_weights())
    return km, rm


def check_layer(keras, make, x, rng, atol=ATOL32, flat=False, **call_kw):
    kl, rl = paired_layers(keras, make, x, rng, **call_kw)
    assert_parity(rl(x, **call_kw), kl(x, **call_kw), atol=atol, flat=flat)
    return kl, rl


def check_model(keras, build, inputs, rng, atol=ATOL32, use_predict=True):
    km, rm = paired_models(keras, build, rng)
    expected = km(inputs)
    actual = rm.predict(inputs, verbose=0) if use_predict else rm(inputs)
    assert_parity(actual, expected, atol=atol)
    return km, rm


# ---------------------------------------------------------------------------
# weights layout, names, count_params
# ---------------------------------------------------------------------------

def _seq_input(rng):
    return seq(rng)


def _int_input(rng):
    return rng.integers(0, 10, (B, T)).astype("int32")


LAYER_CONFIGS = {
    "lstm": (lambda K: K.layers.LSTM(U), _seq_input),
    "lstm_nobias": (lambda K: K.layers.LSTM(U, use_bias=False), _seq_input),
    "gru": (lambda K: K.layers.GRU(U), _seq_input),
    "gru_v1": (lambda K: K.layers.GRU(U, reset_after=False), _seq_input),
    "gru_nobias": (lambda K: K.layers.GRU(U, use_bias=False), _seq_input),
    "simple_rnn": (lambda K: K.layers.SimpleRNN(U), _seq_input),
    "simple_rnn_nobias": (lambda K: K.layers.SimpleRNN(U, use_bias=False), _seq_input),
    "bidi_lstm": (lambda K: K.layers.Bidirectional(K.layers.LSTM(U)), _seq_input),
    "bidi_gru_v1": (lambda K: K.layers.Bidirectional(
        K.layers.GRU(U, reset_after=False)), _seq_input),
    "bidi_backward_layer": (lambda K: K.layers.Bidirectional(
        K.layers.LSTM(U), backward_layer=K.layers.GRU(3, go_backwards=True)),
        _seq_input),
    "rnn_lstmcell": (lambda K: K.layers.RNN(K.layers.LSTMCell(U)), _seq_input),
    "rnn_grucell": (lambda K: K.layers.RNN(K.layers.GRUCell(U)), _seq_input),
    "rnn_simplecell": (lambda K: K.layers.RNN(K.layers.SimpleRNNCell(U)), _seq_input),
    "rnn_stacked_cells": (lambda K: K.layers.RNN(
        [K.layers.LSTMCell(U), K.layers.GRUCell(3)]), _seq_input),
    "dense": (lambda K: K.layers.Dense(5), _seq_input),
    "dense_nobias": (lambda K: K.layers.Dense(5, use_bias=False), _seq_input),
    "time_distributed": (lambda K: K.layers.TimeDistributed(K.layers.Dense(5)),
                         _seq_input),
    "embedding": (lambda K: K.layers.Embedding(10, 3), _int_input),
}


@pytest.mark.parametrize("name", sorted(LAYER_CONFIGS))
def test_weight_shapes_and_count_params(keras, rng, name):
    """Layer weights line up with Keras: same number, order and shapes (both
    ``layer.weights`` and ``get_weights()``) and the same ``count_params()``."""
    make, make_input = LAYER_CONFIGS[name]
    x = make_input(rng)
    kl, rl = make(keras), make(rnnlab)
    kl(x)
    rl(x)
    assert [tuple(w.shape) for w in rl.weights] == [tuple(w.shape) for w in kl.weights]
    assert [w.shape for w in rl.get_weights()] == [w.shape for w in kl.get_weights()]
    assert rl.count_params() == kl.count_params()


@pytest.mark.parametrize("name", sorted(LAYER_CONFIGS))
def test_weight_names_match_keras(keras, rng, name):
    """Every layer weight has the same (short) name as in Keras, e.g.
    kernel / recurrent_kernel / bias / embeddings, in the same order."""
    make, make_input = LAYER_CONFIGS[name]
    x = make_input(rng)
    kl, rl = make(keras), make(rnnlab)
    kl(x)
    rl(x)
    assert [w.name for w in rl.weights] == [w.name for w in kl.weights]


@pytest.mark.parametrize("name", sorted(LAYER_CONFIGS))
def test_set_get_weights_roundtrip(keras, rng, name):
    """``set_weights(keras.get_weights())`` stores exactly Keras's arrays:
    ``get_weights()`` returns them back unchanged, in Keras order."""
    make, make_input = LAYER_CONFIGS[name]
    x = make_input(rng)
    kl, rl = paired_layers(keras, make, x, rng)
    got, want = rl.get_weights(), kl.get_weights()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_model_count_params(keras, rng):
    """``Model.count_params()`` and ``Model.get_weights()`` shapes equal Keras
    for a model mixing Embedding, Bidirectional, GRU, TimeDistributed, Dense."""
    def build(K):
        inp = K.Input(shape=(T,), dtype="int32")
        h = K.layers.Embedding(12, 5, mask_zero=True)(inp)
        h = K.layers.Bidirectional(K.layers.LSTM(U, return_sequences=True))(h)
        h = K.layers.GRU(3, return_sequences=True, reset_after=False)(h)
        h = K.layers.TimeDistributed(K.layers.Dense(2))(h)
        return K.Model(inp, h)

    km, rm = build(keras), build(rnnlab)
    assert rm.count_params() == km.count_params()
    assert [w.shape for w in rm.get_weights()] == [w.shape for w in km.get_weights()]


# ---------------------------------------------------------------------------
# return_sequences x return_state, go_backwards, activations, bias options
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_return_modes_eager(keras, rng, kind, return_sequences, return_state):
    """Eager call: output and every state match Keras for each combination of
    return_sequences and return_state (structure included)."""
    x = seq(rng)
    kl, rl = check_layer(keras, lambda K: rnn_layer(
        K, kind, return_sequences=return_sequences, return_state=return_state),
        x, rng)
    out, kout = rl(x), kl(x)
    if return_state:
        # Keras 3's RNN.call returns ``output, *states``: a tuple
        assert isinstance(kout, tuple)
        assert type(out) is tuple and len(out) == 1 + N_STATES[kind]
    else:
        assert isinstance(out, np.ndarray)


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_return_modes_functional(keras, rng, kind, return_sequences, return_state):
    """Functional Model(Input -> RNN) + predict match Keras for each
    combination of return_sequences and return_state."""
    def build(K):
        inp = K.Input(shape=(T, F))
        out = rnn_layer(K, kind, return_sequences=return_sequences,
                        return_state=return_state)(inp)
        return K.Model(inp, as_list(out))

    check_model(keras, build, seq(rng), rng)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_go_backwards(keras, rng, kind, return_sequences):
    """go_backwards=True processes the sequence in reverse and (like Keras)
    returns the sequence output in processing (reversed) order."""
    x = seq(rng)
    check_layer(keras, lambda K: rnn_layer(
        K, kind, go_backwards=True, return_sequences=return_sequences,
        return_state=True), x, rng)


ACTIVATION_CASES = [
    ("lstm", "relu", "hard_sigmoid"),
    ("lstm", "softsign", "sigmoid"),
    ("lstm", "elu", "softsign"),
    ("lstm", "tanh", "hard_sigmoid"),
    ("gru", "relu", "hard_sigmoid"),
    ("gru", "elu", "softsign"),
    ("gru_v1", "softsign", "hard_sigmoid"),
    ("gru_v1", "relu", "sigmoid"),
    ("simple_rnn", "relu", None),
    ("simple_rnn", "elu", None),
    ("simple_rnn", "softsign", None),
    ("simple_rnn", "hard_sigmoid", None),
    ("simple_rnn", "sigmoid", None),
]


@pytest.mark.parametrize("kind,activation,recurrent_activation", ACTIVATION_CASES)
def test_non_default_activations(keras, rng, kind, activation, recurrent_activation):
    """Non-default activation / recurrent_activation strings (relu, elu,
    softsign, hard_sigmoid = Keras 3's relu6(x+3)/6, ...) match Keras."""
    kw = {"activation": activation, "return_sequences": True, "return_state": True}
    if recurrent_activation is not None:
        kw["recurrent_activation"] = recurrent_activation
    check_layer(keras, lambda K: rnn_layer(K, kind, **kw), seq(rng), rng)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_use_bias_false(keras, rng, kind):
    """use_bias=False: no bias weight, and outputs/states still match Keras."""
    x = seq(rng)
    kl, rl = check_layer(keras, lambda K: rnn_layer(
        K, kind, use_bias=False, return_sequences=True, return_state=True),
        x, rng)
    assert len(rl.get_weights()) == len(kl.get_weights()) == 2


@pytest.mark.parametrize("unit_forget_bias", [True, False])
def test_unit_forget_bias_initialisation(keras, rng, unit_forget_bias):
    """unit_forget_bias sets the initial LSTM bias exactly like Keras (forget
    gate block = 1, others = 0, gate order i,f,c,o); with only the kernels
    copied, the freshly-initialised biases give the same outputs as Keras."""
    x = seq(rng)

    def make(K):
        return K.layers.LSTM(U, unit_forget_bias=unit_forget_bias,
                             return_sequences=True, return_state=True)

    kl, rl = make(keras), make(rnnlab)
    kl(x)
    rl(x)
    k_bias, r_bias = kl.get_weights()[2], rl.get_weights()[2]
    expected = np.zeros(4 * U, "float32")
    if unit_forget_bias:
        expected[U:2 * U] = 1.0
    np.testing.assert_array_equal(k_bias, expected)  # oracle sanity
    np.testing.assert_array_equal(r_bias, k_bias)
    # copy only the kernels; keep each framework's own initial bias
    kern = random_weights(kl.get_weights()[:2], rng)
    kl.set_weights(kern + [k_bias])
    rl.set_weights(kern + [r_bias])
    assert_parity(rl(x), kl(x))


def test_lstm_default_recurrent_activation_is_sigmoid(keras, rng):
    """Defaults mirror Keras 3: LSTM/GRU use tanh + sigmoid, GRU uses
    reset_after=True (bias shape (2, 3*units))."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.LSTM(U, return_state=True), x, rng)
    kl, rl = check_layer(keras, lambda K: K.layers.GRU(U, return_state=True), x, rng)
    assert rl.get_weights()[2].shape == (2, 3 * U)


# ---------------------------------------------------------------------------
# initial_state
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_initial_state_eager(keras, rng, kind, go_backwards):
    """Eager ``layer(x, initial_state=[...])`` with random states matches Keras
    (outputs and final states)."""
    x = seq(rng)
    init = states_for(rng, kind)
    check_layer(keras, lambda K: rnn_layer(
        K, kind, return_sequences=True, return_state=True,
        go_backwards=go_backwards), x, rng, initial_state=init)


@pytest.mark.parametrize("kind", ["gru", "simple_rnn"])
def test_initial_state_bare_tensor_eager(keras, rng, kind):
    """A single-state RNN also accepts ``initial_state=h`` (not a list)."""
    x = seq(rng)
    (h,) = states_for(rng, kind)
    check_layer(keras, lambda K: rnn_layer(K, kind, return_state=True),
                x, rng, initial_state=h)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_initial_state_functional(keras, rng, kind, return_sequences):
    """Functional graph with the initial states given as a list of Inputs:
    Model([x, h(, c)]) matches Keras."""
    n = N_STATES[kind]

    def build(K):
        inp = K.Input(shape=(T, F))
        st = [K.Input(shape=(U,)) for _ in range(n)]
        out = rnn_layer(K, kind, return_sequences=return_sequences,
                        return_state=True)(inp, initial_state=st)
        return K.Model([inp] + st, as_list(out))

    check_model(keras, build, [seq(rng)] + states_for(rng, kind), rng)


# ---------------------------------------------------------------------------
# Bidirectional
# ---------------------------------------------------------------------------

MERGE_MODES = ["concat", "sum", "mul", "ave", None]


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("merge_mode", MERGE_MODES, ids=str)
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_bidirectional_merge_modes(keras, rng, kind, merge_mode,
                                   return_sequences, return_state):
    """Bidirectional: every merge mode x return_sequences x return_state
    matches Keras (merge_mode=None returns [fw, bw, *fw_states, *bw_states])."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.Bidirectional(
        rnn_layer(K, kind, return_sequences=return_sequences,
                  return_state=return_state), merge_mode=merge_mode), x, rng)


@pytest.mark.parametrize("merge_mode", ["concat", None], ids=str)
def test_bidirectional_functional(keras, rng, merge_mode):
    """Bidirectional inside a functional Model (with return_state, so several
    outputs) matches Keras through predict."""
    def build(K):
        inp = K.Input(shape=(T, F))
        out = K.layers.Bidirectional(
            K.layers.GRU(U, return_sequences=True, return_state=True,
                         reset_after=False), merge_mode=merge_mode)(inp)
        return K.Model(inp, as_list(out))

    check_model(keras, build, seq(rng), rng)


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", None], ids=str)
def test_bidirectional_backward_layer(keras, rng, merge_mode, return_state):
    """``backward_layer=`` is used as given (different activation and, for
    concat/None, different units), weights ordered forward then backward."""
    x = seq(rng)
    bw_units = U if merge_mode == "sum" else 3

    def make(K):
        fw = K.layers.LSTM(U, return_sequences=True, return_state=return_state)
        bw = K.layers.LSTM(bw_units, return_sequences=True,
                           return_state=return_state, go_backwards=True,
                           activation="relu", recurrent_activation="hard_sigmoid")
        return K.layers.Bidirectional(fw, backward_layer=bw, merge_mode=merge_mode)

    check_layer(keras, make, x, rng)


def test_bidirectional_backward_layer_other_type(keras, rng):
    """A GRU backward_layer with an LSTM forward layer (state lists of
    different lengths) matches Keras, return_state included."""
    x = seq(rng)

    def make(K):
        return K.layers.Bidirectional(
            K.layers.LSTM(U, return_state=True),
            backward_layer=K.layers.GRU(3, return_state=True, go_backwards=True))

    check_layer(keras, make, x, rng)


@pytest.mark.parametrize("merge_mode", ["concat", "ave", None], ids=str)
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_bidirectional_initial_state_eager(keras, rng, kind, merge_mode):
    """Bidirectional ``initial_state`` is split half/half: first half to the
    forward layer, second half to the backward layer."""
    x = seq(rng)
    init = states_for(rng, kind) + states_for(rng, kind)
    check_layer(keras, lambda K: K.layers.Bidirectional(
        rnn_layer(K, kind, return_sequences=True, return_state=True),
        merge_mode=merge_mode), x, rng, initial_state=init)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_bidirectional_initial_state_functional(keras, rng, kind):
    """Bidirectional with a list of state Inputs in a functional graph
    (half forward, half backward) matches Keras."""
    n = 2 * N_STATES[kind]

    def build(K):
        inp = K.Input(shape=(T, F))
        st = [K.Input(shape=(U,)) for _ in range(n)]
        out = K.layers.Bidirectional(
            rnn_layer(K, kind, return_state=True))(inp, initial_state=st)
        return K.Model([inp] + st, as_list(out))

    init = states_for(rng, kind) + states_for(rng, kind)
    check_model(keras, build, [seq(rng)] + init, rng)


# ---------------------------------------------------------------------------
# stacks
# ---------------------------------------------------------------------------

STACK_KINDS = {
    "lstm": ["lstm", "lstm", "lstm"],
    "gru": ["gru", "gru_v1", "gru"],
    "simple_rnn": ["simple_rnn"] * 3,
    "mixed": ["lstm", "gru", "simple_rnn"],
}


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("stack", sorted(STACK_KINDS))
def test_stacks_sequential(keras, rng, stack, depth):
    """Sequential stacks of 1, 2 and 3 recurrent layers (return_sequences on
    all but the last) followed by Dense match Keras."""
    kinds = STACK_KINDS[stack][:depth]

    def build(K):
        layers = [K.Input(shape=(T, F))]
        for i, kind in enumerate(kinds):
            layers.append(rnn_layer(K, kind, units=U + i,
                                    return_sequences=i < depth - 1))
        layers.append(K.layers.Dense(2))
        return K.Sequential(layers)

    check_model(keras, build, seq(rng), rng)


@pytest.mark.parametrize("depth", [2, 3])
def test_stacks_functional_bidirectional(keras, rng, depth):
    """Functional stacks of Bidirectional layers (sequence outputs all the way
    through) match Keras."""
    def build(K):
        inp = K.Input(shape=(T, F))
        h = inp
        for i in range(depth):
            h = K.layers.Bidirectional(
                rnn_layer(K, ["lstm", "gru", "simple_rnn"][i],
                          return_sequences=True),
                merge_mode=["concat", "sum", "ave"][i])(h)
        return K.Model(inp, h)

    check_model(keras, build, seq(rng), rng)


# ---------------------------------------------------------------------------
# RNN(cell) and stacked cells
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_rnn_wrapping_cell(keras, rng, kind, return_sequences, return_state):
    """RNN(LSTMCell / GRUCell / SimpleRNNCell) matches Keras for every
    return_sequences x return_state combination."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.RNN(
        rnn_cell(K, kind), return_sequences=return_sequences,
        return_state=return_state), x, rng)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_rnn_cell_equals_layer(keras, rng, kind):
    """RNN(Cell) with go_backwards and initial_state equals Keras, and the
    same weights give the same result through the dedicated layer class."""
    x = seq(rng)
    init = states_for(rng, kind)
    kl, rl = check_layer(keras, lambda K: K.layers.RNN(
        rnn_cell(K, kind, activation="softsign"), return_sequences=True,
        return_state=True, go_backwards=True), x, rng, initial_state=init)
    layer = rnn_layer(rnnlab, kind, activation="softsign", return_sequences=True,
                      return_state=True, go_backwards=True)
    layer(x)
    layer.set_weights(kl.get_weights())
    assert_parity(layer(x, initial_state=init), kl(x, initial_state=init))


STACKED_CELLS = {
    "lstm_gru": lambda K: [K.layers.LSTMCell(U), K.layers.GRUCell(3)],
    "simple_lstm_gruv1": lambda K: [K.layers.SimpleRNNCell(3), K.layers.LSTMCell(U),
                                    K.layers.GRUCell(2, reset_after=False)],
}


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("cells", sorted(STACKED_CELLS))
def test_rnn_stacked_cells(keras, rng, cells, return_sequences, return_state):
    """RNN([cell, cell, ...]) (StackedRNNCells) matches Keras; with
    return_state the per-cell nested states are compared after flattening."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.RNN(
        STACKED_CELLS[cells](K), return_sequences=return_sequences,
        return_state=return_state), x, rng, flat=True)


def test_rnn_stacked_cells_initial_state(keras, rng):
    """RNN([LSTMCell, GRUCell]) with nested per-cell initial_state
    [[h1, c1], h2] matches Keras."""
    x = seq(rng)
    init = [[rng.uniform(-1, 1, (B, U)).astype("float32"),
             rng.uniform(-1, 1, (B, U)).astype("float32")],
            rng.uniform(-1, 1, (B, 3)).astype("float32")]
    check_layer(keras, lambda K: K.layers.RNN(
        STACKED_CELLS["lstm_gru"](K), return_sequences=True, return_state=True),
        x, rng, flat=True, initial_state=init)


def test_rnn_stacked_cells_functional(keras, rng):
    """RNN([LSTMCell, GRUCell], return_state=True) in a functional Model;
    outputs compared after flattening the nested states."""
    def build(K):
        inp = K.Input(shape=(T, F))
        out = K.layers.RNN(STACKED_CELLS["lstm_gru"](K), return_state=True)(inp)
        return K.Model(inp, as_list(out))

    km, rm = paired_models(keras, build, rng)
    x = seq(rng)
    assert_parity(rm.predict(x, verbose=0), km(x), flat=True)


# ---------------------------------------------------------------------------
# stateful
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_stateful_functional(keras, rng, kind, return_sequences):
    """stateful=True with a fixed batch_size Input: three consecutive batches
    carry the state like Keras; after reset_states() the next batch starts
    from zeros again (equals the first result)."""
    layers = {}

    def build(K):
        inp = K.Input(shape=(T, F), batch_size=B)
        layer = rnn_layer(K, kind, stateful=True, return_state=True,
                          return_sequences=return_sequences)
        layers[K.__name__] = layer
        return K.Model(inp, as_list(layer(inp)))

    km, rm = paired_models(keras, build, rng)
    kl, rl = layers["keras"], layers["rnnlab"]
    kl.reset_states()
    rl.reset_states()
    batches = [seq(rng) for _ in range(3)]
    first = None
    for i, xb in enumerate(batches):
        ko, ro = km(xb), rm(xb)
        assert_parity(ro, ko)
        if i == 0:
            first = to_numpy(ro)
    # the carried state really matters: a 2nd pass over batch 0 differs
    kl.reset_states()
    rl.reset_states()
    ko, ro = km(batches[0]), rm(batches[0])
    assert_parity(ro, ko)
    for a, b in zip(flatten(to_numpy(ro)), flatten(first)):
        np.testing.assert_allclose(a, b, atol=ATOL32, rtol=0)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_stateful_eager(keras, rng, kind):
    """Eager stateful layer: three consecutive calls match Keras and differ
    from a stateless run; reset_states() restarts from zeros."""
    batches = [seq(rng) for _ in range(3)]

    def make(K):
        return rnn_layer(K, kind, stateful=True, return_state=True)

    kl, rl = paired_layers(keras, make, batches[0], rng)
    kl.reset_states()
    rl.reset_states()
    outs = []
    for xb in batches:
        ko, ro = kl(xb), rl(xb)
        assert_parity(ro, ko)
        outs.append(to_numpy(ro))
    rl.reset_states()
    kl.reset_states()
    ro = rl(batches[1])
    assert_parity(ro, kl(batches[1]))
    assert np.max(np.abs(ro[0] - outs[1][0])) > 1e-3  # state was carried


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_stateful_bidirectional(keras, rng, kind):
    """Bidirectional(stateful RNN): both directions carry their state across
    three batches like Keras, and Bidirectional.reset_states() clears it."""
    batches = [seq(rng) for _ in range(3)]

    # return_state=False: Keras 3.15's Bidirectional.compute_mask crashes for
    # stateful + return_state (generator * int), so the oracle cannot do it;
    # the carried states still show in every output step.
    def make(K):
        return K.layers.Bidirectional(rnn_layer(
            K, kind, stateful=True, return_sequences=True))

    kl, rl = paired_layers(keras, make, batches[0], rng)
    kl.reset_states()
    rl.reset_states()
    carried = None
    for xb in batches:
        carried = rl(xb)
        assert_parity(carried, kl(xb))
    kl.reset_states()
    rl.reset_states()
    fresh = rl(batches[2])
    assert_parity(fresh, kl(batches[2]))
    assert np.max(np.abs(fresh - carried)) > 1e-3  # state was carried before


# ---------------------------------------------------------------------------
# Dense, TimeDistributed, Dropout, Embedding
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax"],
                         ids=str)
@pytest.mark.parametrize("rank", [2, 3])
def test_dense(keras, rng, rank, activation):
    """Dense on 2-D (batch, features) and 3-D (batch, time, features) input,
    with several activations, matches Keras."""
    x = rng.standard_normal((B, F) if rank == 2 else (B, T, F)).astype("float32")
    check_layer(keras, lambda K: K.layers.Dense(5, activation=activation), x, rng)


def test_dense_no_bias(keras, rng):
    """Dense(use_bias=False) matches Keras."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.Dense(5, use_bias=False), x, rng)


@pytest.mark.parametrize("activation", [None, "relu"], ids=str)
def test_time_distributed_dense(keras, rng, activation):
    """TimeDistributed(Dense) applied to a 3-D sequence matches Keras, eager
    and after an LSTM in a functional model."""
    x = seq(rng)
    check_layer(keras, lambda K: K.layers.TimeDistributed(
        K.layers.Dense(5, activation=activation)), x, rng)

    def build(K):
        inp = K.Input(shape=(T, F))
        h = K.layers.LSTM(U, return_sequences=True)(inp)
        return K.Model(inp, K.layers.TimeDistributed(
            K.layers.Dense(2, activation=activation))(h))

    check_model(keras, build, x, rng)


def test_dropout_is_identity_at_inference(keras, rng):
    """Dropout returns its input unchanged at inference (eager default,
    training=False, and inside predict)."""
    x = seq(rng)
    d = rnnlab.layers.Dropout(0.5)
    np.testing.assert_array_equal(d(x), x)
    np.testing.assert_array_equal(d(x, training=False), x)

    def build(K):
        inp = K.Input(shape=(T, F))
        h = K.layers.Dropout(0.5)(inp)
        h = K.layers.LSTM(U, return_sequences=True)(h)
        h = K.layers.Dropout(0.3)(h)
        h = K.layers.GRU(U)(h)
        h = K.layers.Dropout(0.9)(h)
        return K.Model(inp, K.layers.Dense(2)(h))

    check_model(keras, build, x, rng)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_recurrent_dropout_args_inactive_at_inference(keras, rng, kind):
    """dropout= / recurrent_dropout= on recurrent layers have no effect at
    inference, exactly as in Keras."""
    x = seq(rng)
    check_layer(keras, lambda K: rnn_layer(
        K, kind, dropout=0.4, recurrent_dropout=0.4, return_sequences=True,
        return_state=True), x, rng)


def _token_batch(rng):
    """Token ids with 0 = padding: right padding, left padding, a gap and a
    fully padded row."""
    ids = rng.integers(1, 10, (5, T)).astype("int32")
    ids[0, 4:] = 0
    ids[1, :2] = 0
    ids[2, 2:4] = 0
    ids[3, :] = 0
    return ids


@pytest.mark.parametrize("return_state", [False, True], ids=["nostate", "state"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
def test_embedding_mask_zero_lstm(keras, rng, return_sequences, return_state):
    """Embedding(mask_zero=True) -> LSTM: the padding mask reaches the LSTM
    exactly as in Keras (right/left padding, gaps, fully padded row)."""
    def build(K):
        inp = K.Input(shape=(T,), dtype="int32")
        h = K.layers.Embedding(10, F, mask_zero=True)(inp)
        out = K.layers.LSTM(U, return_sequences=return_sequences,
                            return_state=return_state)(h)
        return K.Model(inp, as_list(out))

    check_model(keras, build, _token_batch(rng), rng)


def test_embedding_mask_zero_bidirectional_sequential(keras, rng):
    """Sequential Embedding(mask_zero) -> Bidirectional(GRU seq) -> GRU ->
    Dense matches Keras (mask propagated through Bidirectional)."""
    def build(K):
        return K.Sequential([
            K.Input(shape=(T,), dtype="int32"),
            K.layers.Embedding(10, F, mask_zero=True),
            K.layers.Bidirectional(K.layers.GRU(U, return_sequences=True)),
            K.layers.GRU(3),
            K.layers.Dense(2, activation="softmax"),
        ])

    check_model(keras, build, _token_batch(rng), rng)


def test_embedding_lookup(keras, rng):
    """Embedding without masking is a plain row lookup equal to Keras."""
    ids = rng.integers(0, 10, (B, T)).astype("int32")
    check_layer(keras, lambda K: K.layers.Embedding(10, 5), ids, rng)


# ---------------------------------------------------------------------------
# masking
# ---------------------------------------------------------------------------

MASK_PATTERNS = {
    # rows: fully valid first, then the pattern-specific rows
    "right_pad": [[1] * T, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]],
    "left_pad": [[1] * T, [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 1]],
    "gaps": [[1] * T, [1, 0, 1, 0, 1, 1], [1, 1, 0, 0, 1, 0], [0, 1, 1, 0, 0, 1]],
    "full_row": [[1] * T, [0] * T, [1, 1, 1, 0, 0, 0], [0] * T],
}


def masked_seq(rng, pattern):
    """Random input whose masked timesteps are all-zero (Masking(0.0))."""
    mask = np.array(MASK_PATTERNS[pattern], dtype=bool)
    x = rng.uniform(0.1, 1.0, (len(mask), T, F)) * rng.choice([-1, 1], (len(mask), T, F))
    x = (x * mask[:, :, None]).astype("float32")
    return x, mask


MASK_LAYERS = {
    "lstm": lambda K, **kw: K.layers.LSTM(U, **kw),
    "gru": lambda K, **kw: K.layers.GRU(U, **kw),
    "gru_v1": lambda K, **kw: K.layers.GRU(U, reset_after=False, **kw),
    "simple_rnn": lambda K, **kw: K.layers.SimpleRNN(U, **kw),
    "lstm_backwards": lambda K, **kw: K.layers.LSTM(U, go_backwards=True, **kw),
    "bidi_lstm": lambda K, **kw: K.layers.Bidirectional(K.layers.LSTM(U, **kw)),
    "bidi_gru_sum": lambda K, **kw: K.layers.Bidirectional(
        K.layers.GRU(U, **kw), merge_mode="sum"),
}


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("pattern", sorted(MASK_PATTERNS))
@pytest.mark.parametrize("layer", sorted(MASK_LAYERS))
def test_masking_with_states(keras, rng, layer, pattern, return_sequences):
    """Masking(mask_value=0.0) -> RNN/Bidirectional with return_state: masked
    steps keep the previous output/state (Bidirectional zeroes masked
    sequence outputs) like Keras, for right/left padding, gaps and fully
    masked rows."""
    def build(K):
        inp = K.Input(shape=(T, F))
        h = K.layers.Masking(mask_value=0.0)(inp)
        out = MASK_LAYERS[layer](K, return_sequences=return_sequences,
                                 return_state=True)(h)
        return K.Model(inp, as_list(out))

    x, _ = masked_seq(rng, pattern)
    check_model(keras, build, x, rng)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("layer", ["lstm", "gru", "bidi_lstm"])
def test_masking_sequential_all_patterns(keras, rng, layer, return_sequences):
    """Sequential Masking -> RNN (no return_state) on a batch mixing all mask
    patterns matches Keras."""
    def build(K):
        return K.Sequential([
            K.Input(shape=(T, F)),
            K.layers.Masking(mask_value=0.0),
            MASK_LAYERS[layer](K, return_sequences=return_sequences),
        ])

    xs = [masked_seq(rng, p)[0] for p in sorted(MASK_PATTERNS)]
    check_model(keras, build, np.concatenate(xs), rng)


@pytest.mark.parametrize("pattern", sorted(MASK_PATTERNS))
def test_masking_propagates_through_stack(keras, rng, pattern):
    """The mask propagates from Masking through LSTM(return_sequences) into a
    second GRU and a TimeDistributed(Dense), matching Keras."""
    def build(K):
        inp = K.Input(shape=(T, F))
        h = K.layers.Masking(mask_value=0.0)(inp)
        h = K.layers.LSTM(U, return_sequences=True)(h)
        h = K.layers.GRU(U, return_sequences=True)(h)
        seq_out = K.layers.TimeDistributed(K.layers.Dense(2))(h)
        last = K.layers.SimpleRNN(3)(h)
        return K.Model(inp, [seq_out, last])

    x, _ = masked_seq(rng, pattern)
    check_model(keras, build, x, rng)


def test_masking_nonzero_mask_value(keras, rng):
    """Masking(mask_value=v) masks timesteps whose features all equal v."""
    x, mask = masked_seq(rng, "gaps")
    x[~mask] = 0.5

    def build(K):
        inp = K.Input(shape=(T, F))
        h = K.layers.Masking(mask_value=0.5)(inp)
        return K.Model(inp, as_list(K.layers.LSTM(U, return_sequences=True,
                                                  return_state=True)(h)))

    check_model(keras, build, x, rng)


def test_masking_layer_output(keras, rng):
    """The Masking layer itself zeroes masked timesteps like Keras."""
    x, mask = masked_seq(rng, "gaps")
    x[~mask] = 0.0
    x[0, 2, 1] = 0.0  # a single zero feature does not mask the step
    check_layer(keras, lambda K: K.layers.Masking(mask_value=0.0), x, rng)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("pattern", ["right_pad", "gaps", "full_row"])
@pytest.mark.parametrize("layer", ["lstm", "gru", "simple_rnn",
                                   "lstm_backwards", "bidi_lstm"])
def test_explicit_mask_eager(keras, rng, layer, pattern, return_sequences):
    """Eager ``layer(x, mask=m)`` with a boolean (batch, time) mask matches
    Keras; masked steps carry non-zero data, so only the mask hides them."""
    mask = np.array(MASK_PATTERNS[pattern], dtype=bool)
    x = seq(rng, b=len(mask))
    check_layer(keras, lambda K: MASK_LAYERS[layer](
        K, return_sequences=return_sequences, return_state=True),
        x, rng, mask=mask)


def test_explicit_mask_with_initial_state(keras, rng):
    """mask= together with initial_state=: a fully masked row returns its
    initial state unchanged, as in Keras."""
    mask = np.array(MASK_PATTERNS["full_row"], dtype=bool)
    x = seq(rng, b=len(mask))
    init = states_for(rng, "lstm", b=len(mask))
    kl, rl = check_layer(keras, lambda K: K.layers.LSTM(
        U, return_sequences=True, return_state=True), x, rng,
        mask=mask, initial_state=init)
    out = rl(x, mask=mask, initial_state=init)
    np.testing.assert_allclose(out[1][1], init[0][1], atol=ATOL32, rtol=0)
    np.testing.assert_allclose(out[2][1], init[1][1], atol=ATOL32, rtol=0)


# ---------------------------------------------------------------------------
# models, predict, aliases
# ---------------------------------------------------------------------------

def _classifier(K):
    return K.Sequential([
        K.Input(shape=(T, F)),
        K.layers.Masking(mask_value=0.0),
        K.layers.Bidirectional(K.layers.LSTM(U, return_sequences=True)),
        K.layers.Dropout(0.2),
        K.layers.GRU(U),
        K.layers.Dense(3, activation="softmax"),
    ])


@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_sequential_predict_batching(keras, rng, batch_size):
    """Sequential.predict gives the same result as Keras for batch sizes that
    do and do not divide the number of samples."""
    km, rm = paired_models(keras, _classifier, rng)
    x = np.concatenate([masked_seq(rng, p)[0] for p in ("gaps", "right_pad")])[:7]
    expected = to_numpy(km.predict(x, batch_size=batch_size, verbose=0))
    assert_parity(rm.predict(x, batch_size=batch_size, verbose=0), expected)
    assert_parity(rm(x), expected)


def test_functional_multi_output_predict(keras, rng):
    """A functional model with several outputs returns a list from predict,
    in Keras's order, each output matching Keras."""
    def build(K):
        inp = K.Input(shape=(T, F))
        seq_out, h, c = K.layers.LSTM(U, return_sequences=True,
                                      return_state=True)(inp)
        dense = K.layers.Dense(2)(h)
        return K.Model(inp, [dense, seq_out, c])

    km, rm = paired_models(keras, build, rng)
    x = seq(rng, b=5)
    out = rm.predict(x, batch_size=2, verbose=0)
    assert isinstance(out, list) and len(out) == 3
    assert_parity(out, km.predict(x, batch_size=2, verbose=0))


def test_api_aliases(keras, rng):
    """rnnlab.layers.Input / rnnlab.models.Model / rnnlab.models.Sequential
    are usable like the top-level names and give the same numbers."""
    x = seq(rng)

    def build_functional(K):
        inp = K.layers.Input(shape=(T, F))
        out = K.layers.GRU(U, return_sequences=True)(inp)
        return K.models.Model(inp, K.layers.Dense(2)(out))

    def build_sequential(K):
        return K.models.Sequential([K.layers.Input(shape=(T, F)),
                                    K.layers.SimpleRNN(U), K.layers.Dense(2)])

    check_model(keras, build_functional, x, rng)
    check_model(keras, build_sequential, x, rng, use_predict=False)
    assert rnnlab.Input is rnnlab.layers.Input
    assert rnnlab.Model is rnnlab.models.Model
    assert rnnlab.Sequential is rnnlab.models.Sequential


# ---------------------------------------------------------------------------
# float64
# ---------------------------------------------------------------------------

FLOAT64_LAYERS = {
    "lstm": lambda K: K.layers.LSTM(U, dtype="float64", return_sequences=True,
                                    return_state=True),
    "gru": lambda K: K.layers.GRU(U, dtype="float64", return_sequences=True,
                                  return_state=True),
    "gru_v1": lambda K: K.layers.GRU(U, reset_after=False, dtype="float64",
                                     return_state=True),
    "simple_rnn": lambda K: K.layers.SimpleRNN(U, dtype="float64",
                                               return_state=True),
    "bidi_lstm": lambda K: K.layers.Bidirectional(
        K.layers.LSTM(U, return_sequences=True, return_state=True,
                      dtype="float64"), dtype="float64"),
    "rnn_lstmcell": lambda K: K.layers.RNN(
        K.layers.LSTMCell(U, dtype="float64"), return_sequences=True,
        return_state=True, dtype="float64"),
    # RNN([cells]) in float64: see test_float64_stacked_cells_numpy_reference
    "dense": lambda K: K.layers.Dense(5, dtype="float64", activation="tanh"),
    "time_distributed": lambda K: K.layers.TimeDistributed(
        K.layers.Dense(5, dtype="float64"), dtype="float64"),
}


@pytest.mark.parametrize("name", sorted(FLOAT64_LAYERS))
def test_float64_layers(keras, rng, name):
    """dtype="float64" layers compute in float64 (float64 outputs and
    weights) and match Keras float64 to 1e-10."""
    x = seq(rng, dtype="float64")
    kl, rl = check_layer(keras, FLOAT64_LAYERS[name], x, rng, atol=ATOL64)
    assert all(w.dtype == np.float64 for w in rl.get_weights())


def test_float64_masked_model(keras, rng):
    """A float64 functional model Masking -> LSTM -> Bidirectional(GRU)
    matches Keras float64 to 1e-10 (all mask patterns in one batch)."""
    def build(K):
        inp = K.Input(shape=(T, F), dtype="float64")
        h = K.layers.Masking(0.0, dtype="float64")(inp)
        seq_out, h1, c1 = K.layers.LSTM(U, return_sequences=True, return_state=True,
                                        dtype="float64")(h)
        bi = K.layers.Bidirectional(K.layers.GRU(3, dtype="float64"),
                                    dtype="float64")(seq_out)
        return K.Model(inp, [seq_out, h1, c1, bi])

    x = np.concatenate([masked_seq(rng, p)[0] for p in sorted(MASK_PATTERNS)])
    # model(x), not predict: Keras's predict() casts float64 numpy inputs to
    # floatx (float32) in its data adapter, so it is not a float64 oracle.
    check_model(keras, build, x.astype("float64"), rng, atol=ATOL64,
                use_predict=False)


def test_float64_initial_state_model(keras, rng):
    """A float64 functional model with initial-state Inputs matches Keras
    float64 to 1e-10."""
    def build(K):
        inp = K.Input(shape=(T, F), dtype="float64")
        h0 = K.Input(shape=(U,), dtype="float64")
        c0 = K.Input(shape=(U,), dtype="float64")
        out = K.layers.LSTM(U, return_sequences=True, return_state=True,
                            dtype="float64")(inp, initial_state=[h0, c0])
        return K.Model([inp, h0, c0], as_list(out))

    init = states_for(rng, "lstm", dtype="float64")
    check_model(keras, build, [seq(rng, dtype="float64")] + init, rng,
                atol=ATOL64, use_predict=False)


# tiny float64 NumPy reference (Keras equations), used where Keras's own
# float64 path is not clean: RNN([cells], dtype="float64") wraps the cells in
# a StackedRNNCells that keeps the float32 policy, so Keras casts the step
# inputs to float32 (errors ~1e-8).

def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _np_lstm_step(x, h, c, kernel, rkernel, bias):
    z = x @ kernel + h @ rkernel + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h = _sigmoid(o) * np.tanh(c)
    return h, c


def _np_gru_step(x, h, kernel, rkernel, bias):  # reset_after=True
    u = h.shape[-1]
    xz = x @ kernel + bias[0]
    hz = h @ rkernel + bias[1]
    z = _sigmoid(xz[:, :u] + hz[:, :u])
    r = _sigmoid(xz[:, u:2 * u] + hz[:, u:2 * u])
    hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
    return z * h + (1.0 - z) * hh


def _np_stacked_lstm_gru(x, weights, gru_units):
    lk, lr, lb, gk, gr, gb = weights
    b = x.shape[0]
    h1 = np.zeros((b, lr.shape[0]))
    c1 = np.zeros_like(h1)
    h2 = np.zeros((b, gru_units))
    outs = []
    for t in range(x.shape[1]):
        h1, c1 = _np_lstm_step(x[:, t], h1, c1, lk, lr, lb)
        h2 = _np_gru_step(h1, h2, gk, gr, gb)
        outs.append(h2)
    return np.stack(outs, axis=1), [h1, c1, h2]


def test_float64_stacked_cells_numpy_reference(keras, rng):
    """RNN([LSTMCell, GRUCell], dtype="float64") matches a float64 NumPy
    implementation of the Keras equations to 1e-10 (and Keras itself, when
    its StackedRNNCells is also given dtype="float64", agrees)."""
    x = seq(rng, dtype="float64")

    def make(K, stacked=False):
        cells = [K.layers.LSTMCell(U, dtype="float64"),
                 K.layers.GRUCell(3, dtype="float64")]
        if stacked:
            cells = K.layers.StackedRNNCells(cells, dtype="float64")
        return K.layers.RNN(cells, return_sequences=True, return_state=True,
                            dtype="float64")

    kl = make(keras, stacked=True)
    kl(x)
    weights = randomize(kl, rng)
    rl = make(rnnlab)
    rl(x)
    rl.set_weights(weights)
    seq_ref, states_ref = _np_stacked_lstm_gru(x, weights, 3)
    got = rl(x)
    assert_parity(got, [seq_ref] + states_ref, atol=ATOL64, flat=True)
    # oracle cross-check: the NumPy reference is Keras's float64 result
    assert_parity(to_numpy(kl(x)), [seq_ref] + states_ref, atol=ATOL64, flat=True,
                  check_numpy=False)


# ---------------------------------------------------------------------------
# Keras quirk: mask + initial_state in a graph
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("layer", ["lstm", "gru", "bidi_lstm"])
def test_masking_with_initial_state_inputs_functional(keras, rng, layer):
    """Keras 3 semantics: when a symbolic call also passes initial_state
    tensors, Layer.__call__ sees two tensor arguments and does NOT forward the
    Masking mask (keras/src/layers/layer.py, "Populate mask argument(s)"), so
    the RNN runs unmasked.  rnnlab must reproduce the Keras outputs."""
    n = N_STATES[layer.replace("bidi_", "")] * (2 if layer.startswith("bidi") else 1)

    def build(K):
        inp = K.Input(shape=(T, F))
        st = [K.Input(shape=(U,)) for _ in range(n)]
        h = K.layers.Masking(mask_value=0.0)(inp)
        out = MASK_LAYERS[layer](K, return_sequences=True,
                                 return_state=True)(h, initial_state=st)
        return K.Model([inp] + st, as_list(out))

    x, _ = masked_seq(rng, "full_row")
    init = [rng.uniform(-1, 1, (len(x), U)).astype("float32") for _ in range(n)]
    km, rm = paired_models(keras, build, rng)
    expected = km([x] + init)
    # oracle sanity: Keras's result is the unmasked computation
    rnn = km.layers[-1]
    assert_parity(to_numpy(rnn(x, initial_state=init)), expected,
                  check_numpy=False)
    assert_parity(rm.predict([x] + init, verbose=0), expected)


# ---------------------------------------------------------------------------
# rnnlab's plain reference time loop (default-activation LSTM/GRU normally run
# through a fused kernel) must agree with Keras as well
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("kind", RNN_KINDS)
def test_reference_time_loop_matches_keras(keras, rng, kind, masked):
    """With rnnlab.fastpath.reference_only() (no fused kernels) the default
    LSTM/GRU/SimpleRNN still match Keras, masks and initial states included."""
    fastpath = pytest.importorskip("rnnlab.fastpath")
    mask = np.array(MASK_PATTERNS["full_row"], dtype=bool) if masked else None
    x = seq(rng, b=4)
    init = states_for(rng, kind)
    kw = {"initial_state": init}
    if masked:
        kw["mask"] = mask
    kl, rl = paired_layers(keras, lambda K: rnn_layer(
        K, kind, return_sequences=True, return_state=True), x, rng, **kw)
    expected = kl(x, **kw)
    with fastpath.reference_only():
        assert_parity(rl(x, **kw), expected)
    assert_parity(rl(x, **kw), expected)


# ---------------------------------------------------------------------------
# reference loading (tests/support/reference.py)
# ---------------------------------------------------------------------------

_MISSING = "rnnlab_parity_no_such_reference_module"


def test_require_skips_locally_when_missing(monkeypatch):
    """require() skips when a reference framework is missing and CI is unset."""
    from tests.support.reference import require
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require(_MISSING)
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception):
        require(_MISSING)


def test_require_fails_on_ci_when_missing(monkeypatch):
    """require() FAILS (never skips) when a reference is missing and CI is set."""
    from tests.support.reference import require
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        require(_MISSING)


def test_require_returns_module():
    """require() returns the imported module when it is available."""
    from tests.support.reference import require
    assert require("numpy") is np
