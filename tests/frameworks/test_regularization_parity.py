"""Regularizers, constraints, masked sequence losses and empty data against Keras 3.15 (TensorFlow backend).

Each model is written once, as a function of the library (``keras`` or ``rnnlab``), built in both with the same
random weights (biases included), and trained for three epochs with the same data: the history's losses agree
to 1e-5 and the weights to 2e-5.  ``evaluate`` and ``model.losses`` agree too, and the models round-trip through
``.keras`` files both ways with their regularizers and constraints.
"""
import warnings

import numpy as np
import pytest

import rnnlab

BATCH, STEPS, FEATURES, VOCAB = 4, 6, 3, 11
LOSS_TOL, WEIGHT_TOL = 1e-5, 2e-5


# ------------------------------------------------------------------------------------------------- the models
def _dense(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((FEATURES,))
    h = L.Dense(5, activation="tanh", kernel_regularizer=R.L1(0.02), bias_regularizer=R.L2(0.03),
                activity_regularizer=R.L1L2(l1=0.01, l2=0.02), kernel_constraint=C.MaxNorm(0.9),
                bias_constraint=C.NonNeg())(inp)
    out = L.Dense(2, kernel_regularizer="l2", kernel_constraint=C.UnitNorm(axis=1))(h)
    return lib.Model(inp, out)


def _lstm(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((STEPS, FEATURES))
    h = L.LSTM(4, kernel_regularizer="l2", recurrent_regularizer=R.OrthogonalRegularizer(0.1),
               bias_regularizer=R.L1(0.02), activity_regularizer=R.L2(0.05), kernel_constraint=C.UnitNorm(),
               recurrent_constraint=C.MinMaxNorm(0.2, 0.8, rate=0.5), bias_constraint="non_neg")(inp)
    return lib.Model(inp, L.Dense(2)(h))


def _gru(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((STEPS, FEATURES))
    h = L.GRU(4, kernel_regularizer=R.OrthogonalRegularizer(0.2, mode="columns"), recurrent_regularizer="l1",
              bias_regularizer=R.L1L2(0.01, 0.01), kernel_constraint=C.MaxNorm(0.7, axis=1),
              recurrent_constraint="non_neg", bias_constraint=C.MinMaxNorm(0.1, 0.5))(inp)
    return lib.Model(inp, L.Dense(2)(h))


def _simple_rnn(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((STEPS, FEATURES))
    h = L.SimpleRNN(4, return_sequences=True, kernel_regularizer=R.L1(0.03), recurrent_regularizer=R.L2(0.02),
                    bias_regularizer="l2", recurrent_constraint=C.UnitNorm(axis=1),
                    bias_constraint=C.MaxNorm(0.3))(inp)
    return lib.Model(inp, L.Dense(2, activity_regularizer="l1")(h))


def _embedding(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((STEPS,), dtype="int32")
    e = L.Embedding(VOCAB, 4, embeddings_regularizer=R.L2(0.05), embeddings_constraint=C.MaxNorm(1.0, axis=1),
                    activity_regularizer=R.L1(0.01))(inp)
    return lib.Model(inp, L.Dense(2)(L.LSTM(3)(e)))


def _bidirectional(lib):
    R, C, L = lib.regularizers, lib.constraints, lib.layers
    inp = lib.Input((STEPS, FEATURES))
    inner = L.LSTM(3, return_sequences=True, kernel_regularizer=R.L2(0.03), recurrent_regularizer="l1",
                   recurrent_constraint=C.MaxNorm(0.8), bias_constraint="non_neg")
    h = L.Bidirectional(inner, activity_regularizer=R.L2(0.02))(inp)
    return lib.Model(inp, L.TimeDistributed(L.Dense(2))(h))


CASES = {"dense": _dense, "lstm": _lstm, "gru": _gru, "simple_rnn": _simple_rnn, "embedding": _embedding,
         "bidirectional": _bidirectional}


def _data(case, rng, n=3 * BATCH):
    if case == "dense":
        x = rng.normal(size=(n, FEATURES))
    elif case == "embedding":
        x = rng.integers(0, VOCAB, size=(n, STEPS))
    else:
        x = rng.normal(size=(n, STEPS, FEATURES))
    y_shape = (n, STEPS, 2) if case in ("simple_rnn", "bidirectional") else (n, 2)
    x = x.astype("int32") if case == "embedding" else x.astype("float32")
    return x, rng.normal(size=y_shape).astype("float32")


def _pair(keras, build, rng):
    """The same model in rnnlab and Keras, with the same random weights (biases included)."""
    rm = build(rnnlab)
    rm.set_weights([rng.normal(scale=0.4, size=w.shape).astype("float32") for w in rm.get_weights()])
    km = build(keras)
    km.set_weights(rm.get_weights())
    return rm, km


def _max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64)))) for u, v in zip(a, b))


def _as_floats(losses):
    return [float(np.asarray(v)) for v in losses]


# ------------------------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_with_regularizers_and_constraints_matches_keras(keras, case, rng):
    rm, km = _pair(keras, CASES[case], rng)
    x, y = _data(case, rng)
    for m, lib in ((rm, rnnlab), (km, keras)):
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    # model.losses after a call: the activity losses of that call, then the weight penalties, in Keras's order
    rm(x), km(x)
    r_losses, k_losses = _as_floats(rm.losses), _as_floats(km.losses)
    assert len(r_losses) == len(k_losses) and len(r_losses) >= 2
    np.testing.assert_allclose(r_losses, k_losses, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0), rtol=LOSS_TOL)

    rh = rm.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    kh = km.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(rh.history["loss"], kh.history["loss"], rtol=LOSS_TOL)
    assert _max_diff(rm.get_weights(), km.get_weights()) <= WEIGHT_TOL
    np.testing.assert_allclose(rm.evaluate(x, y, batch_size=5, verbose=0),
                               km.evaluate(x, y, batch_size=5, verbose=0), rtol=LOSS_TOL)


def test_constraints_hold_after_training(rng):
    """What the issue saw: a non_neg kernel stays non-negative, and the l2 penalty changes training."""
    def build(**kwargs):
        inp = rnnlab.Input((STEPS, FEATURES))
        model = rnnlab.Model(inp, rnnlab.layers.Dense(1)(rnnlab.layers.LSTM(4, **kwargs)(inp)))
        model.compile("adam", "mse")
        return model

    x, y = rng.normal(size=(8, STEPS, FEATURES)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    plain, constrained = build(), build(kernel_regularizer="l2", kernel_constraint="non_neg")
    constrained.set_weights(plain.get_weights())
    plain.fit(x, y, epochs=2, verbose=0)
    constrained.fit(x, y, epochs=2, verbose=0)
    assert constrained.layers[1].cell.kernel.value.min() >= 0
    assert plain.layers[1].cell.kernel.value.min() < 0


def _masked_model(lib, masking):
    L = lib.layers
    if masking:
        inp = lib.Input((STEPS, FEATURES))
        h = L.Masking(0.0)(inp)
    else:
        inp = lib.Input((STEPS,), dtype="int32")
        h = L.Embedding(VOCAB, 4, mask_zero=True)(inp)
    h = L.LSTM(5, return_sequences=True)(h)
    return lib.Model(inp, L.TimeDistributed(L.Dense(2))(h))


def _padded(rng, masking, n=3 * BATCH):
    lengths = rng.integers(1, STEPS + 1, size=n)
    lengths[0] = STEPS
    if masking:
        x = rng.normal(size=(n, STEPS, FEATURES)).astype("float32")
    else:
        x = rng.integers(1, VOCAB, size=(n, STEPS)).astype("int32")
    for i, length in enumerate(lengths):
        x[i, length:] = 0
    return x, rng.normal(size=(n, STEPS, 2)).astype("float32")


@pytest.mark.parametrize("masking", [False, True], ids=["embedding_mask_zero", "masking"])
def test_masked_sequence_loss_and_metrics_match_keras(keras, masking, rng):
    """The output's mask weighs the loss (normalised over the unmasked steps of each batch) and the metrics, in
    fit, evaluate and train_on_batch, as Keras 3 does."""
    rm, km = _pair(keras, lambda lib: _masked_model(lib, masking), rng)
    x, y = _padded(rng, masking)
    for m, lib in ((rm, rnnlab), (km, keras)):
        # tf.keras applies Adam to an Embedding's gradient slice by slice (see the README): SGD there
        optimizer = lib.optimizers.Adam(0.01) if masking else lib.optimizers.SGD(0.1)
        m.compile(optimizer=optimizer, loss="mse", metrics=["mae"], weighted_metrics=["mse"])
    np.testing.assert_allclose(rm.evaluate(x, y, batch_size=5, verbose=0),
                               km.evaluate(x, y, batch_size=5, verbose=0), rtol=LOSS_TOL)
    rh = rm.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    kh = km.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    for key in ("loss", "mae", "mse"):
        np.testing.assert_allclose(rh.history[key], kh.history[key], rtol=LOSS_TOL, err_msg=key)
    assert _max_diff(rm.get_weights(), km.get_weights()) <= WEIGHT_TOL
    np.testing.assert_allclose(rm.train_on_batch(x[:BATCH], y[:BATCH]), km.train_on_batch(x[:BATCH], y[:BATCH]),
                               rtol=LOSS_TOL)
    assert _max_diff(rm.get_weights(), km.get_weights()) <= WEIGHT_TOL


def test_zero_samples_report_nothing_as_keras(keras, rng):
    """fit and evaluate on arrays of 0 rows: Keras warns that the input ran out of data, reports no loss (the
    History has epochs and no keys; evaluate gives [] or {}); rnnlab does the same."""
    rm, km = _pair(keras, _lstm, rng)
    x, y = _data("lstm", rng)
    results = []
    for m, lib in ((rm, rnnlab), (km, keras)):
        m.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = m.fit(x[:0], y[:0], epochs=2, verbose=0)
            evaluated = (m.evaluate(x[:0], y[:0], verbose=0), m.evaluate(x[:0], y[:0], verbose=0, return_dict=True))
            with_val = m.fit(x, y, epochs=1, verbose=0, shuffle=False, validation_data=(x[:0], y[:0])).history
        ran_out = [w for w in caught if str(w.message).startswith("Your input ran out of data")]
        results.append((history.history, history.epoch, evaluated, sorted(with_val), len(ran_out)))
    assert results[0] == results[1]
    assert results[0][:3] == ({}, [0, 1], ([], {}))


def test_keras_files_keep_regularizers_and_constraints_both_ways(keras, rng, tmp_path):
    """Keras saves -> rnnlab loads (same regularizers, constraints and training), and back."""
    for case in ("dense", "lstm", "bidirectional", "embedding"):
        rm, km = _pair(keras, CASES[case], rng)
        x, _ = _data(case, rng)
        path = tmp_path / f"{case}_keras.keras"
        km.save(path)
        loaded = rnnlab.models.load_model(path)
        back = tmp_path / f"{case}_rnnlab.keras"
        loaded.save(back)
        reloaded = keras.models.load_model(back)
        for a, b, c in zip(km.layers, loaded.layers, reloaded.layers):
            ka, kb, kc = a.get_config(), b.get_config(), c.get_config()
            for key in [k for k in ka if k.endswith(("_regularizer", "_constraint"))]:
                assert kb[key] == ka[key] == kc[key], (case, a.name, key)
        np.testing.assert_allclose(_as_floats(loaded.losses), _as_floats(km.losses), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), reloaded.predict(x, verbose=0), atol=1e-5)
