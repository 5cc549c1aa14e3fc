"""A model's execution plan: ``model(x)`` and ``model.predict(x)`` on one plain array run the layers' own calls
in a precomputed order. These tests hold it to the general graph walk: the same numbers bit for bit, the same
errors, fresh weights on every call, and the general path for everything the plan does not cover."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers

FINITE = r"Argument `inputs` must contain only finite values; received 1 NaN or Inf value\(s\)"


def _randomize(model, rng):
    """Every weight random, biases included (zero biases hide bugs)."""
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])


def _random_chain(rng, dtype):
    """A random stack of recurrent, Dense, TimeDistributed and Dropout layers; returns ``(layers, in_shape)``."""
    steps, features = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    chain, sequence = [], True
    for i in range(int(rng.integers(1, 5))):
        units = int(rng.integers(1, 5))
        choice = rng.integers(0, 7) if sequence else rng.integers(5, 7)
        if choice < 3:
            cls = (layers.LSTM, layers.GRU, layers.SimpleRNN)[choice]
            keep = bool(rng.integers(0, 2))
            chain.append(cls(units, return_sequences=keep, go_backwards=bool(rng.integers(0, 2)), dtype=dtype))
            sequence = keep
        elif choice == 3:
            chain.append(layers.Bidirectional(layers.GRU(units, return_sequences=True, dtype=dtype)))
        elif choice == 4:
            chain.append(layers.TimeDistributed(layers.Dense(units, activation="tanh", dtype=dtype)))
        elif choice == 5:
            chain.append(layers.Dense(units, activation="sigmoid", dtype=dtype))
        else:
            chain.append(layers.Dropout(0.5, dtype=dtype))
    return chain, (steps, features)


def _build(rng, dtype, sequential, free_steps=False):
    chain, (steps, features) = _random_chain(rng, dtype)
    shape = (None if free_steps else steps, features)
    if sequential:
        model = rnnlab.Sequential([rnnlab.Input(shape=shape, dtype=dtype)] + chain)
    else:
        inp = rnnlab.Input(shape=shape, dtype=dtype)
        out = inp
        for layer in chain:
            out = layer(out)
        model = rnnlab.Model(inp, out)
    _randomize(model, rng)
    return model, (steps, features)


def _general(model, x):
    """The general graph walk (what ``model(x)`` did before it had a plan)."""
    return model.call(x)


def _forbid_general_path(model, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the general path ran where the plan should have")

    monkeypatch.setattr(model, "_run_graph", refuse)


def _count_general_path(model, monkeypatch):
    calls = []
    original = model._run_graph

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "_run_graph", spy)
    return calls


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sequential", [False, True])
def test_plan_matches_the_general_path_exactly(seed, dtype, sequential, monkeypatch):
    rng = np.random.default_rng(seed)
    model, (steps, features) = _build(rng, dtype, sequential, free_steps=seed % 3 == 0)
    assert model._plan() is not None
    x = rng.normal(size=(int(rng.integers(1, 4)), steps, features)).astype(dtype)
    expected = _general(model, x)
    _forbid_general_path(model, monkeypatch)
    for got in (model(x), model.predict(x, verbose=0), model.predict(x, verbose=0, batch_size=len(x)),
                model.predict_on_batch(x)):
        assert type(got) is np.ndarray and got.dtype == expected.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("cls", [layers.LSTM, layers.GRU])
def test_seed_model_plan_equals_the_bare_layer(cls, monkeypatch):
    rng = np.random.default_rng(1)
    inp = rnnlab.Input(shape=(8, 2))
    lstm = cls(3, return_sequences=True)
    model = rnnlab.Model(inp, lstm(inp))
    _randomize(model, rng)
    x = rng.normal(size=(1, 8, 2)).astype("float32")
    _forbid_general_path(model, monkeypatch)
    np.testing.assert_array_equal(model(x), lstm(x))
    np.testing.assert_array_equal(model.predict(x, verbose=0), lstm(x))


def test_outputs_are_fresh_arrays_the_caller_owns():
    rng = np.random.default_rng(2)
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.Dense(2)(layers.LSTM(3, return_sequences=True)(inp)))
    _randomize(model, rng)
    x1, x2 = rng.normal(size=(2, 1, 4, 2)).astype("float32")
    for run in (model, lambda x: model.predict(x, verbose=0)):
        first = run(x1)
        kept = first.copy()
        second = run(x2)
        assert second is not first and not np.shares_memory(first, second)
        np.testing.assert_array_equal(first, kept)  # a later call does not overwrite an earlier result
        first[...] = 0.0  # and writing into a result does not change the next one
        np.testing.assert_array_equal(run(x1), kept)


def test_weight_changes_are_seen_by_the_next_call():
    rng = np.random.default_rng(3)
    inp = rnnlab.Input(shape=(5, 2))
    model = rnnlab.Model(inp, layers.Dense(3)(layers.GRU(4, return_sequences=True)(inp)))
    _randomize(model, rng)
    x = rng.normal(size=(2, 5, 2)).astype("float32")
    before = model(x)
    _randomize(model, rng)  # set_weights
    after = model(x)
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(after, _general(model, x))
    np.testing.assert_array_equal(model.predict(x, verbose=0), after)
    for weight in model.weights:  # edits in place, through the variable and through its array
        weight.value *= 0.5
    halved = model(x)
    assert not np.allclose(halved, after)
    np.testing.assert_array_equal(halved, _general(model, x))
    model.layers[-1].weights[1].assign(np.ones(3))
    np.testing.assert_array_equal(model.predict(x, verbose=0), _general(model, x))


def test_sequential_add_and_pop_rebuild_the_plan():
    rng = np.random.default_rng(4)
    model = rnnlab.Sequential([rnnlab.Input(shape=(4, 2)), layers.LSTM(3, return_sequences=True)])
    x = rng.normal(size=(2, 4, 2)).astype("float32")
    assert model(x).shape == (2, 4, 3)
    model.add(layers.Dense(5))
    _randomize(model, rng)
    assert model(x).shape == (2, 4, 5)
    np.testing.assert_array_equal(model(x), _general(model, x))
    model.pop()
    assert model.predict(x, verbose=0).shape == (2, 4, 3)
    np.testing.assert_array_equal(model(x), model.layers[0](x))


def test_deferred_sequential_builds_then_plans(monkeypatch):
    rng = np.random.default_rng(5)
    model = rnnlab.Sequential([layers.GRU(3), layers.Dense(2)])
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    first = model.predict_on_batch(x)  # builds from the data
    np.testing.assert_array_equal(first, _general(model, x))
    _forbid_general_path(model, monkeypatch)
    np.testing.assert_array_equal(model(x), first)


def test_nested_model_runs_inside_the_plan(monkeypatch):
    rng = np.random.default_rng(6)
    inner_in = rnnlab.Input(shape=(5, 3))
    inner = rnnlab.Model(inner_in, layers.LSTM(4, return_sequences=True)(inner_in))
    inp = rnnlab.Input(shape=(5, 3))
    model = rnnlab.Model(inp, layers.GRU(2)(inner(inp)))
    _randomize(model, rng)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    expected = _general(model, x)
    _forbid_general_path(model, monkeypatch)
    _forbid_general_path(inner, monkeypatch)
    np.testing.assert_array_equal(model(x), expected)


# ----------------------------------------------------------------------------- what stays on the general path
def _no_plan_and_general_path(model, x, monkeypatch):
    assert model._plan() is None
    calls = _count_general_path(model, monkeypatch)
    out = model(x)
    model.predict(x, verbose=0)
    assert len(calls) == 2
    return out


def test_masking_keeps_the_general_path(monkeypatch):
    rng = np.random.default_rng(7)
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.LSTM(3)(layers.Masking(0.0)(inp)))
    _randomize(model, rng)
    x = rng.normal(size=(2, 4, 2)).astype("float32")
    x[0, 2:] = 0.0
    out = _no_plan_and_general_path(model, x, monkeypatch)
    np.testing.assert_allclose(out[0], model.layers[-1](x[:1, :2])[0], rtol=1e-6)  # padding skipped


def test_embedding_mask_zero_keeps_the_general_path(monkeypatch):
    inp = rnnlab.Input(shape=(4,), dtype="int32")
    model = rnnlab.Model(inp, layers.GRU(2)(layers.Embedding(5, 3, mask_zero=True)(inp)))
    ids = np.array([[1, 2, 0, 0], [3, 4, 1, 2]])
    out = _no_plan_and_general_path(model, ids, monkeypatch)
    assert out.shape == (2, 2)


def test_multiple_inputs_and_outputs_keep_the_general_path(monkeypatch):
    rng = np.random.default_rng(8)
    inp = rnnlab.Input(shape=(4, 2))
    seq, h, c = layers.LSTM(3, return_sequences=True, return_state=True)(inp)
    two_out = rnnlab.Model(inp, [seq, h])
    assert two_out._plan() is None
    x = rng.normal(size=(2, 4, 2)).astype("float32")
    calls = _count_general_path(two_out, monkeypatch)
    outs = two_out(x)
    assert isinstance(outs, list) and len(outs) == 2 and len(calls) == 1
    np.testing.assert_array_equal(outs[1], outs[0][:, -1])
    wrapped = rnnlab.Model(inp, [layers.Dense(2)(seq)])  # one output, but in a list: the result is a list
    assert wrapped._plan() is None and isinstance(wrapped(x), list)
    from_state = rnnlab.Model(inp, layers.Dense(2)(h))  # a node with several outputs feeds the next one
    assert from_state._plan() is None
    h_value = two_out(x)[1]
    np.testing.assert_array_equal(from_state(x), from_state.layers[-1](h_value))
    h0, c0 = rnnlab.Input(shape=(3,)), rnnlab.Input(shape=(3,))
    with_state = rnnlab.Model([inp, h0, c0], layers.LSTM(3)(inp, initial_state=[h0, c0]))
    assert with_state._plan() is None
    zeros = np.zeros((2, 3), "float32")
    np.testing.assert_allclose(with_state([x, zeros, zeros]), with_state.layers[-1](x), rtol=1e-6)


def test_training_true_and_call_arguments_take_the_general_path(monkeypatch):
    rng = np.random.default_rng(9)
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.Dropout(0.5)(layers.LSTM(8, return_sequences=True)(inp)))
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    assert model._plan() is not None
    calls = _count_general_path(model, monkeypatch)
    inference = model(x)
    assert not calls
    dropped = model(x, training=True)
    assert len(calls) == 1 and np.any(dropped == 0) and not np.array_equal(dropped, inference)
    np.testing.assert_array_equal(model(x, training=False), inference)
    lstm = layers.LSTM(3, return_sequences=True)
    fixed = rnnlab.Model(inp, lstm(inp, training=False))  # a node recorded with call arguments
    assert fixed._plan() is None


def test_stateful_layer_keeps_the_general_path(monkeypatch):
    rng = np.random.default_rng(10)
    inp = rnnlab.Input(batch_shape=(2, 3, 2))
    model = rnnlab.Model(inp, layers.GRU(3, stateful=True)(inp))
    x = rng.normal(size=(2, 3, 2)).astype("float32")
    first = _no_plan_and_general_path(model, x, monkeypatch)
    model.reset_states()
    np.testing.assert_array_equal(model(x), first)
    assert not np.array_equal(model(x), first)  # the state carried over


def test_other_input_forms_are_converted_by_the_general_path(monkeypatch):
    rng = np.random.default_rng(11)
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.LSTM(3)(inp))
    x = rng.normal(size=(2, 4, 2))  # float64 into a float32 model
    expected = model(x.astype("float32"))
    calls = _count_general_path(model, monkeypatch)
    for form in (x, x.tolist(), [x], x.astype("float32").view(np.ndarray)[..., ::1]):
        out = model(form)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)
    assert len(calls) == 3  # the float32 array (even a view) takes the plan


def test_predict_batches_run_by_the_plan(monkeypatch, capsys):
    rng = np.random.default_rng(13)
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.Dense(2)(layers.LSTM(3, return_sequences=True)(inp)))
    _randomize(model, rng)
    big = rng.normal(size=(40, 4, 2))  # float64 and more than one batch: converted once, then batched
    expected = np.concatenate([_general(model, big[:32]), _general(model, big[32:])])
    _forbid_general_path(model, monkeypatch)
    np.testing.assert_array_equal(model.predict(big, verbose=0), expected)
    # Batches of 2 or more rows give bit-identical rows in the native kernel (a row alone splits its sums in two
    # halves for speed, so a batch of one may differ in the last bit, as with any BLAS).
    np.testing.assert_array_equal(model.predict(big.tolist(), batch_size=7), expected)
    assert "6/6" in capsys.readouterr().out
    np.testing.assert_array_equal(model.predict(big[:3]), expected[:3])


# ----------------------------------------------------------------------------- errors
def _message(fn):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    return info.type, str(info.value)


FIRST_LAYERS = [
    lambda: layers.LSTM(3, return_sequences=True),
    lambda: layers.GRU(3),
    lambda: layers.SimpleRNN(2),
    lambda: layers.Bidirectional(layers.LSTM(2)),
    lambda: layers.Dense(3),
    lambda: layers.TimeDistributed(layers.Dense(2)),
    lambda: layers.Dropout(0.2),
]


@pytest.mark.parametrize("make", FIRST_LAYERS)
@pytest.mark.parametrize("sequential", [False, True])
def test_bad_inputs_raise_the_same_errors(make, sequential):
    inp = rnnlab.Input(shape=(4, 2))
    if sequential:
        model = rnnlab.Sequential([inp, make()])
    else:
        model = rnnlab.Model(inp, make()(inp))
    good = np.random.default_rng(12).normal(size=(2, 4, 2)).astype("float32")
    model(good)
    nan = good.copy()
    nan[1, 2, 0] = np.nan
    wrong_shape = good[:, :, :1].copy()
    for bad, kind, match in ((nan, ValueError, FINITE), (np.inf * good, ValueError, "finite"),
                             (wrong_shape, ValueError, r"must have shape \(None, 4, 2\)"),
                             (good[0], ValueError, "must have shape"),
                             (np.array([["a"]]), TypeError, "`inputs`")):
        expected = _message(lambda: _general(model, bad))
        assert expected[0] is kind
        for call in (lambda: model(bad), lambda: model.predict(bad, verbose=0), lambda: model.predict_on_batch(bad)):
            with pytest.raises(kind, match=match):
                call()
            assert _message(call) == expected


def test_nested_model_first_refuses_non_finite_input():
    inner_in = rnnlab.Input(shape=(4, 2))
    inner = rnnlab.Model(inner_in, layers.Dropout(0.1)(inner_in))
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.LSTM(2)(inner(inp)))
    x = np.zeros((1, 4, 2), "float32")
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=FINITE):
        model(x)
    with pytest.raises(ValueError, match=FINITE):
        model.predict(x, verbose=0)


def test_identity_model_checks_its_input():
    inp = rnnlab.Input(shape=(3,))
    model = rnnlab.Model(inp, inp)
    x = np.ones((2, 3), "float32")
    assert model._plan() is not None
    np.testing.assert_array_equal(model(x), x)
    x[0, 0] = np.inf
    with pytest.raises(ValueError, match=FINITE):
        model(x)


def test_predict_arguments_are_still_checked():
    inp = rnnlab.Input(shape=(4, 2))
    model = rnnlab.Model(inp, layers.GRU(2)(inp))
    x = np.zeros((2, 4, 2), "float32")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="Argument `batch_size` must be a positive integer"):
            model.predict(x, batch_size=bad, verbose=0)
    with pytest.raises(ValueError, match="Argument `verbose`"):
        model.predict(x, verbose=3)
    np.testing.assert_array_equal(model.predict(x, verbose=0, batch_size=1), model(x))
