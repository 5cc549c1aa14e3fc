"""Streaming: ``layer.step(x_t, states)`` and ``model.stream()`` give the full-sequence outputs, step by step.

Every comparison is against the ordinary full-sequence call, to 1e-6: single layers and stacks, with
``initial_state``, with masks, across a state exported and imported in the middle of a stream, and per-sample
resets.  Layers that read the sequence backwards refuse to stream with a clear ValueError.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from rnnlab.inspect import Stream

T, D, U = 9, 3, 4
ATOL = 1e-6


def randomize(model_or_layer, rng, scale=0.7):
    model_or_layer.set_weights([rng.normal(0, scale, w.shape) for w in model_or_layer.get_weights()])


LAYERS = {
    "lstm": lambda **kw: layers.LSTM(U, **kw),
    "gru": lambda **kw: layers.GRU(U, **kw),
    "gru_v1": lambda **kw: layers.GRU(U, reset_after=False, **kw),
    "simple_rnn": lambda **kw: layers.SimpleRNN(U, **kw),
    "stack": lambda **kw: layers.RNN([layers.LSTMCell(U), layers.GRUCell(3), layers.SimpleRNNCell(U)], **kw),
}


# ---------------------------------------------------------------------------------------------------------------------
# layer.step
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_layer_step_equals_full_sequence(kind, with_initial_state, rng):
    layer = LAYERS[kind](return_sequences=True, return_state=True)
    x = rng.normal(size=(3, T, D)).astype("float32")
    layer(x)
    randomize(layer, rng)
    initial = None
    if with_initial_state:
        initial = [rng.normal(size=(3, s)).astype("float32") for s in layer.cell.flat_state_sizes]
    full = layer(x, initial_state=initial)
    flat_final = [a for s in full[1:] for a in (s if isinstance(s, (list, tuple)) else [s])]
    states = initial
    outputs = []
    for t in range(T):
        y, states = layer.step(x[:, t], states)
        outputs.append(y)
    np.testing.assert_allclose(np.stack(outputs, 1), full[0], atol=ATOL)
    for got, want in zip(states, flat_final):
        np.testing.assert_allclose(got, want, atol=ATOL)


def test_layer_step_resumes_from_exported_state(rng):
    layer = layers.LSTM(U, return_sequences=True)
    x = rng.normal(size=(2, T, D))
    full = layer(x)
    states = None
    for t in range(4):
        _, states = layer.step(x[:, t], states)
    saved = [np.array(s) for s in states]  # export as plain arrays ...
    outputs = []
    states = [s.copy() for s in saved]  # ... and import them again
    for t in range(4, T):
        y, states = layer.step(x[:, t], states)
        outputs.append(y)
    np.testing.assert_allclose(np.stack(outputs, 1), full[:, 4:], atol=ATOL)


def test_layer_step_go_backwards_runs_in_processing_order(rng):
    layer = layers.GRU(U, return_sequences=True, go_backwards=True)
    x = rng.normal(size=(2, T, D))
    full = layer(x)  # in processing order: full[:, 0] is after reading x[:, -1]
    states, outputs = None, []
    for t in reversed(range(T)):
        y, states = layer.step(x[:, t], states)
        outputs.append(y)
    np.testing.assert_allclose(np.stack(outputs, 1), full, atol=ATOL)


def test_stateful_layer_step_keeps_its_states(rng):
    layer = layers.LSTM(U, stateful=True, return_sequences=True)
    x = rng.normal(size=(2, T, D))
    full = layer(x)
    layer.reset_states()
    outputs = [layer.step(x[:, t])[0] for t in range(T)]
    np.testing.assert_allclose(np.stack(outputs, 1), full, atol=ATOL)
    np.testing.assert_allclose(layer.states[0], full[:, -1], atol=ATOL)


def test_layer_step_builds_an_unbuilt_layer(rng):
    layer = layers.SimpleRNN(U)
    y, states = layer.step(rng.normal(size=(2, D)))
    assert y.shape == (2, U) and layer.built and len(states) == 1


# ---------------------------------------------------------------------------------------------------------------------
# model.stream()
# ---------------------------------------------------------------------------------------------------------------------


def stacked_model(rng, masking=False):
    inputs = rnnlab.Input((None, D))  # any length: the prefixes of a sequence run too
    x = layers.Masking()(inputs) if masking else inputs
    seq = layers.LSTM(U, return_sequences=True, name="lstm")(x)
    seq = layers.RNN([layers.GRUCell(3), layers.SimpleRNNCell(U)], return_sequences=True, name="stack")(seq)
    per_step = layers.TimeDistributed(layers.Dense(2), name="per_step")(seq)
    last, h, c = layers.LSTM(3, return_state=True, name="last")(seq)
    model = rnnlab.Model(inputs, [per_step, last, c])
    randomize(model, rng)
    return model


def padded_input(rng, batch=3):
    x = rng.normal(size=(batch, T, D)).astype("float32")
    x[0, -3:] = 0  # trailing padding
    x[1, :2] = 0  # leading padding
    x[2, 4] = 0  # a hole
    return x


@pytest.mark.parametrize("masking", [False, True])
def test_stream_equals_full_sequence(masking, rng):
    model = stacked_model(rng, masking)
    x = padded_input(rng) if masking else rng.normal(size=(3, T, D)).astype("float32")
    per_step, last, c = model(x)
    stream = model.stream()
    assert isinstance(stream, Stream)
    outs = [stream.step(x[:, t]) for t in range(T)]
    assert stream.steps_taken == T
    np.testing.assert_allclose(np.stack([o[0] for o in outs], 1), per_step, atol=ATOL)
    # outputs without a time axis: what the model returns for the sequence so far; the last step is the full one
    np.testing.assert_allclose(outs[-1][1], last, atol=ATOL)
    np.testing.assert_allclose(outs[-1][2], c, atol=ATOL)
    for t in (0, 2, 5):  # ... and at step t, the output for the sequence up to t
        np.testing.assert_allclose(outs[t][1], model(x[:, :t + 1])[1], atol=ATOL)


def test_stream_export_and_import_mid_stream(rng):
    model = stacked_model(rng, masking=True)
    x = padded_input(rng)
    per_step = model(x)[0]
    stream = model.stream()
    for t in range(5):
        stream.step(x[:, t])
    state = stream.get_state()
    assert set(state) == {"lstm", "stack", "last"}
    assert len(state["lstm"]["states"]) == 2 and len(state["stack"]["states"]) == 2
    assert all(isinstance(a, np.ndarray) for v in state.values() for a in v["states"] + [v["output"]])
    resumed = model.stream()
    resumed.set_state(state)
    outs = [resumed.step(x[:, t])[0] for t in range(5, T)]
    np.testing.assert_allclose(np.stack(outs, 1), per_step[:, 5:], atol=ATOL)
    # the exported arrays are copies: stepping the first stream does not change them
    before = {k: [s.copy() for s in v["states"]] for k, v in state.items()}
    stream.step(x[:, 5])
    for k in state:
        for a, b in zip(state[k]["states"], before[k]):
            np.testing.assert_array_equal(a, b)


def test_stream_set_state_as_initial_state(rng):
    inputs = rnnlab.Input((T, D))
    h0, c0 = rnnlab.Input((U,)), rnnlab.Input((U,))
    out = layers.LSTM(U, return_sequences=True, name="lstm")(inputs, initial_state=[h0, c0])
    model = rnnlab.Model([inputs, h0, c0], out)
    randomize(model, rng)
    x = rng.normal(size=(2, T, D))
    s0 = [rng.normal(size=(2, U)), rng.normal(size=(2, U))]
    full = model([x, *s0])
    # 1. the model input that feeds initial_state applies at the first step
    stream = model.stream()
    outs = [stream.step([x[:, t], *s0]) for t in range(T)]
    np.testing.assert_allclose(np.stack(outs, 1), full, atol=ATOL)
    stream.reset()
    np.testing.assert_allclose(stream.feed([x, *s0]), full, atol=ATOL)  # the states are given whole, not per step
    # 2. the same states imported as a list of arrays, for a model without those inputs
    plain_in = rnnlab.Input((T, D))
    plain = rnnlab.Model(plain_in, layers.LSTM(U, return_sequences=True, name="plain")(plain_in))
    plain.set_weights(model.get_weights())
    stream = plain.stream()
    stream.set_state({"plain": s0})
    np.testing.assert_allclose(stream.feed(x), full, atol=ATOL)


def test_stream_reset_all_and_one_sample(rng):
    model = stacked_model(rng)
    a = rng.normal(size=(2, T, D)).astype("float32")
    b = rng.normal(size=(2, T, D)).astype("float32")
    stream = model.stream()
    stream.feed(a)
    stream.reset()
    assert stream.get_state() == {} and stream.steps_taken == 0
    np.testing.assert_allclose(stream.feed(b)[0], model(b)[0], atol=ATOL)
    # per sample: sample 1 starts a new sequence while sample 0 goes on
    stream.reset()
    mid = 4
    for t in range(mid):
        stream.step(a[:, t])
    stream.reset(sample=1)
    mixed = np.concatenate([a[:1, mid:], b[1:, :T - mid]], 0)
    outs = stream.feed(mixed)[0]
    np.testing.assert_allclose(outs[0], model(a[:1])[0][0, mid:], atol=ATOL)  # sample 0 continued
    np.testing.assert_allclose(outs[1], model(b[1:, :T - mid])[0][0], atol=ATOL)  # sample 1 started over
    stream.reset(sample=[True, False])
    with pytest.raises(ValueError, match="sample"):
        stream.reset(sample=5)


def test_stream_after_reset_takes_another_batch_size(rng):
    model = stacked_model(rng)
    stream = model.stream()
    stream.step(rng.normal(size=(3, D)))
    with pytest.raises(ValueError, match="batch of 3.*reset"):
        stream.step(rng.normal(size=(2, D)))
    stream.reset()
    assert stream.step(rng.normal(size=(2, D)))[0].shape == (2, 2)


def test_stream_embedding_and_sequential(rng):
    model = rnnlab.Sequential([rnnlab.Input((T,), dtype="int32"), layers.Embedding(12, D, mask_zero=True),
                               layers.GRU(U, return_sequences=True), layers.Dense(3)])
    randomize(model, rng)
    ids = rng.integers(1, 12, size=(3, T))
    ids[0, -2:] = 0
    ids[1, :3] = 0
    full = model(ids)
    stream = model.stream()
    outs = [stream.step(ids[:, t]) for t in range(T)]  # one token id per sample and step
    np.testing.assert_allclose(np.stack(outs, 1), full, atol=ATOL)


def test_forward_part_of_a_bidirectional_model_streams(rng):
    inputs = rnnlab.Input((T, D))
    seq = layers.LSTM(U, return_sequences=True, name="lstm")(inputs)
    out = layers.Bidirectional(layers.GRU(3), name="bi")(seq)
    model = rnnlab.Model(inputs, out)
    randomize(model, rng)
    with pytest.raises(ValueError, match="'bi' \\(Bidirectional\\) cannot run one time step at a time"):
        model.stream()
    forward_part = rnnlab.Model(inputs, seq)
    x = rng.normal(size=(2, T, D))
    np.testing.assert_allclose(forward_part.stream().feed(x), forward_part(x), atol=ATOL)


# ---------------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------------


def test_bidirectional_layer_refuses_to_step(rng):
    bidi = layers.Bidirectional(layers.LSTM(U))
    bidi(rng.normal(size=(1, T, D)))
    with pytest.raises(ValueError, match="Bidirectional.*backward layer reads the sequence from the last step"):
        bidi.step(rng.normal(size=(1, D)))
    y, _ = bidi.forward_layer.step(rng.normal(size=(1, D)))  # the suggested way out works
    assert y.shape == (1, U)


def test_go_backwards_model_refuses_to_stream():
    inputs = rnnlab.Input((T, D))
    model = rnnlab.Model(inputs, layers.LSTM(U, go_backwards=True, name="rev")(inputs))
    with pytest.raises(ValueError, match="'rev' has go_backwards=True, so it cannot stream"):
        model.stream()


def test_wrong_x_t_shape(rng):
    layer = layers.LSTM(U)
    layer(rng.normal(size=(1, T, D)))
    with pytest.raises(ValueError, match=r"x_t.*one time step of shape \(batch, 3\); received shape \(1, 9, 3\)"):
        layer.step(rng.normal(size=(1, T, D)))
    with pytest.raises(ValueError, match=r"\(batch, 3\); received shape \(1, 5\)"):
        layer.step(rng.normal(size=(1, 5)))
    with pytest.raises(ValueError, match=r"expects 2 initial state tensor\(s\)"):
        layer.step(rng.normal(size=(1, D)), [np.zeros((1, U))])  # an LSTM needs [h, c]
    stream = stacked_model(rng).stream()
    with pytest.raises(ValueError, match=r"one time step of shape \(batch, 3\).*received shape \(2, 9, 3\).*feed"):
        stream.step(rng.normal(size=(2, T, D)))
    with pytest.raises(ValueError, match=r"received shape \(2, 4\)"):
        stream.step(rng.normal(size=(2, 4)))
    with pytest.raises(TypeError, match="x_t"):
        stream.step(np.array([["a", "b", "c"]]))


def test_set_state_errors(rng):
    stream = stacked_model(rng).stream()
    with pytest.raises(ValueError, match="'nope'.*recurrent layers are"):
        stream.set_state({"nope": [np.zeros((1, U))]})
    with pytest.raises(ValueError, match=r"expects 2 initial state tensor\(s\)"):
        stream.set_state({"lstm": [np.zeros((1, U))]})
    with pytest.raises(TypeError, match="dict by layer name"):
        stream.set_state([np.zeros((1, U))])
    stream.step(rng.normal(size=(2, D)))
    with pytest.raises(ValueError, match="batch of 1.*batch of 2"):
        stream.set_state({"lstm": [np.zeros((1, U)), np.zeros((1, U))]})


def test_stream_needs_a_built_model():
    with pytest.raises(ValueError, match="not built"):
        rnnlab.Sequential([layers.LSTM(U)]).stream()
    with pytest.raises(TypeError, match="layer.step"):
        Stream(layers.LSTM(U))
