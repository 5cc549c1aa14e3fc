"""User-written layers and cells, written once with ``keras.layers.Layer`` and ``keras.ops`` and run on real Keras
and on rnnlab (the module ``keras`` is either one, as after the README's import swap): the same predictions, and
the same weights after three Adam steps."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import rnnlab

ROOT = pathlib.Path(__file__).resolve().parents[2]


def definitions(keras):
    """The user code: custom cells and layers, as a Keras user writes them."""
    ops, layers = keras.ops, keras.layers
    register = keras.saving.register_keras_serializable(package="user_layers")

    @register
    class MinimalRNNCell(layers.Layer):
        """The cell that opens Keras's RNN documentation: ``h = x W + h_prev U``."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                          name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = ops.matmul(inputs, self.kernel)
            output = h + ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register
    class GRULikeCell(layers.Layer):
        """A hand-written GRU: update gate z, reset gate r, candidate n."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units
            self.output_size = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 3 * self.units), name="w")
            self.u = self.add_weight(shape=(self.units, 3 * self.units), name="u")
            self.b = self.add_weight(shape=(3 * self.units,), initializer="random_normal", name="b")

        def call(self, inputs, states):
            h = states[0] if isinstance(states, (list, tuple)) else states
            n = self.units
            xw = ops.matmul(inputs, self.w) + self.b
            hu = ops.matmul(h, self.u)
            z = ops.sigmoid(xw[:, :n] + hu[:, :n])
            r = ops.sigmoid(xw[:, n:2 * n] + hu[:, n:2 * n])
            cand = ops.tanh(xw[:, 2 * n:] + r * hu[:, 2 * n:])
            new_h = (1.0 - z) * h + z * cand
            return new_h, [new_h]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register
    class TwoStateCell(layers.Layer):
        """A minimal LSTM-like cell with states [h, c]."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1] + self.units, 2 * self.units), name="kernel")
            self.bias = self.add_weight(shape=(2 * self.units,), initializer="random_normal", name="bias")

        def call(self, inputs, states):
            h, c = states
            gates = ops.matmul(ops.concatenate([inputs, h], axis=-1), self.kernel) + self.bias
            f, g = ops.split(gates, 2, axis=-1)
            c_new = ops.sigmoid(f) * c + (1.0 - ops.sigmoid(f)) * ops.tanh(g)
            h_new = ops.tanh(c_new)
            return h_new, [h_new, c_new]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register
    class AdditiveAttentionPool(layers.Layer):
        """Bahdanau-style scores over time, then the weighted sum of the sequence."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal", name="b")
            self.v = self.add_weight(shape=(self.units, 1), name="v")

        def call(self, inputs):
            scores = ops.matmul(ops.tanh(ops.matmul(inputs, self.w) + self.b), self.v)  # (B, T, 1)
            alpha = ops.softmax(scores, axis=1)
            return ops.sum(alpha * inputs, axis=1)  # (B, D)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register
    class MaskedGain(layers.Layer):
        """Scales features and zeroes padded steps; passes the mask on to the next layer."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def build(self, input_shape):
            self.gain = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="gain")

        def call(self, inputs, mask=None):
            out = inputs * self.gain
            if mask is not None:
                out = out * ops.expand_dims(ops.cast(mask, out.dtype), -1)
            return out

        def compute_mask(self, inputs, mask=None):
            return mask

    @register
    class PenalisedProjection(layers.Layer):
        """A projection whose kernel carries an L2 penalty (added to the loss fit minimises and reports)."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                          regularizer=keras.regularizers.L2(0.05))

        def call(self, inputs):
            return ops.tanh(ops.matmul(inputs, self.kernel))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return {"PenalisedProjection": PenalisedProjection, "MinimalRNNCell": MinimalRNNCell, "GRULikeCell": GRULikeCell, "TwoStateCell": TwoStateCell,
            "AdditiveAttentionPool": AdditiveAttentionPool, "MaskedGain": MaskedGain}


def model_minimal_cell(keras, d):
    inp = keras.Input((6, 3))
    seq = keras.layers.RNN(d["MinimalRNNCell"](4), return_sequences=True)(inp)
    out = keras.layers.Dense(2)(keras.layers.RNN(d["MinimalRNNCell"](3), go_backwards=True)(seq))
    return keras.Model(inp, out), np.random.default_rng(1).normal(size=(5, 6, 3))


def model_gru_like_bidirectional(keras, d):
    inp = keras.Input((5, 3))
    h = keras.layers.Bidirectional(keras.layers.RNN(d["GRULikeCell"](4)))(inp)
    return keras.Model(inp, keras.layers.Dense(1)(h)), np.random.default_rng(2).normal(size=(4, 5, 3))


def model_attention_over_lstm(keras, d):
    inp = keras.Input((7, 3))
    h = keras.layers.LSTM(5, return_sequences=True)(inp)
    out = keras.layers.Dense(2)(d["AdditiveAttentionPool"](4)(h))
    return keras.Model(inp, out), np.random.default_rng(3).normal(size=(4, 7, 3))


def model_mask_aware(keras, d):
    inp = keras.Input((6,), dtype="int32")
    e = keras.layers.Embedding(10, 4, mask_zero=True)(inp)
    h = keras.layers.LSTM(3)(d["MaskedGain"]()(e))
    ids = np.random.default_rng(4).integers(1, 10, size=(5, 6))
    ids[0, 4:] = 0
    ids[2, 2:] = 0
    return keras.Model(inp, keras.layers.Dense(1)(h)), ids


def model_two_state_cell(keras, d):
    inp = keras.Input((5, 3))
    out, h, c = keras.layers.RNN(d["TwoStateCell"](4), return_state=True, return_sequences=True)(inp)
    return keras.Model(inp, [out, keras.layers.Dense(2)(h), c]), np.random.default_rng(5).normal(size=(4, 5, 3))


def model_regularized_weight(keras, d):
    inp = keras.Input((6, 3))
    h = d["PenalisedProjection"](5)(keras.layers.GRU(4, return_sequences=True)(inp))
    return keras.Model(inp, keras.layers.Dense(1)(keras.layers.SimpleRNN(3)(h))), \
        np.random.default_rng(14).normal(size=(4, 6, 3))


def model_user_cell_masked_initial_state(keras, d):
    """A user's cell with a mask (left padding and a gap) and an initial state from a second input."""
    inp, h0 = keras.Input((6, 3)), keras.Input((4,))
    seq = keras.layers.RNN(d["GRULikeCell"](4), return_sequences=True)(keras.layers.Masking(0.0)(inp),
                                                                       initial_state=[h0])
    out = keras.layers.Dense(1)(keras.layers.RNN(d["MinimalRNNCell"](2))(seq))
    rng = np.random.default_rng(13)
    x = rng.normal(size=(4, 6, 3))
    x[0, :2] = 0.0
    x[2, 3] = 0.0
    return keras.Model([inp, h0], out), [x, rng.normal(size=(4, 4))]


MODELS = {f.__name__[len("model_"):]: f for f in [model_minimal_cell, model_gru_like_bidirectional,
                                                  model_attention_over_lstm, model_mask_aware,
                                                  model_two_state_cell, model_user_cell_masked_initial_state,
                                                  model_regularized_weight]}


def _targets(outputs, rng):
    return [rng.normal(size=np.shape(o)).astype("float32") for o in outputs]


#: Models whose Adam steps are compared with Keras on its torch backend: Keras's TensorFlow backend gives an
#: Embedding's gradient to Adam as sparse rows (IndexedSlices) and updates them differently; Keras's torch
#: backend and rnnlab take the dense, mathematical step (README, "Where Keras's TensorFlow backend differs").
ON_TORCH_BACKEND = {"mask_aware"}


def _adam_steps_on_keras_torch(name, weights, x, y, tmp_path):
    """Weights after three Adam steps in Keras on its torch backend (a child process: the backend is fixed at
    import)."""
    np.savez(tmp_path / "in.npz", x=x, *weights)  # (one array x here)
    np.savez(tmp_path / "y.npz", *y)
    script = f"""
import sys, numpy as np, keras
sys.path.insert(0, {str(ROOT)!r})
from tests.frameworks.test_user_layers import MODELS, definitions
model, _ = MODELS[{name!r}](keras, definitions(keras))
data, ys = np.load({str(tmp_path / "in.npz")!r}), np.load({str(tmp_path / "y.npz")!r})
model.set_weights([data[f"arr_{{i}}"] for i in range(len(data.files) - 1)])
y = [ys[f"arr_{{i}}"] for i in range(len(ys.files))]
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
for _ in range(3):
    model.train_on_batch(data["x"], y if len(y) > 1 else y[0])
np.savez({str(tmp_path / "out.npz")!r}, *model.get_weights())
"""
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    return [out[f"arr_{i}"] for i in range(len(out.files))]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_user_layers_match_keras_predictions_and_adam_steps(keras, name, tmp_path):
    theirs, x = MODELS[name](keras, definitions(keras))
    ours, _ = MODELS[name](rnnlab, definitions(rnnlab))
    rng = np.random.default_rng(11)
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    ours.set_weights(weights)
    x = [a.astype("float32") for a in x] if isinstance(x, list) else \
        x.astype("int32") if x.dtype.kind == "i" else x.astype("float32")
    assert ours.output_shape == theirs.output_shape  # a user layer's shape is inferred from its call, as Keras
    want, got = theirs.predict(x, verbose=0), ours.predict(x, verbose=0)
    want, got = (want if isinstance(want, list) else [want]), (got if isinstance(got, list) else [got])
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=1e-5)
    ys = _targets(want, rng)
    y = ys if len(ys) > 1 else ys[0]
    ours.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    our_losses = [ours.train_on_batch(x, y) for _ in range(3)]
    if name in ON_TORCH_BACKEND:
        expected = _adam_steps_on_keras_torch(name, weights, x, ys, tmp_path)
    else:
        theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        their_losses = [theirs.train_on_batch(x, y) for _ in range(3)]
        total = [np.ravel(v)[0] for v in our_losses], [np.ravel(v)[0] for v in their_losses]
        np.testing.assert_allclose(*total, rtol=1e-5)  # the total loss, penalties included
        expected = theirs.get_weights()
    for w, g in zip(expected, ours.get_weights()):
        np.testing.assert_allclose(g, w, atol=2e-5)


def subclassed_forecaster(keras, d):
    """A subclassed model: layers as attributes, a call that chains them."""

    class Forecaster(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.encoder = keras.layers.LSTM(6, return_sequences=True)
            self.pool = d["AdditiveAttentionPool"](4)
            self.head = keras.layers.Dense(1)

        def call(self, inputs, training=False):
            return self.head(self.pool(self.encoder(inputs)))

    return Forecaster()


def test_subclassed_model_matches_keras(keras):
    x = np.random.default_rng(6).normal(size=(6, 5, 3)).astype("float32")
    y = np.random.default_rng(7).normal(size=(6, 1)).astype("float32")
    theirs, ours = subclassed_forecaster(keras, definitions(keras)), subclassed_forecaster(rnnlab, definitions(rnnlab))
    theirs(x), ours(x)
    weights = [np.random.default_rng(8).uniform(-0.5, 0.5, size=w.shape).astype("float32")
               for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    assert [type(layer).__name__ for layer in ours.layers] == [type(layer).__name__ for layer in theirs.layers]
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    for model, k in ((theirs, keras), (ours, rnnlab)):
        model.compile(optimizer=k.optimizers.Adam(0.01), loss="mse")
    want = theirs.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for w, g in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(g, w, atol=2e-5)


def penalty_model(keras):
    """A layer that adds an activity penalty with add_loss: fit minimises, and reports, loss + penalty."""

    class ActivityPenalty(keras.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs):
            self.add_loss(self.rate * keras.ops.mean(keras.ops.square(inputs)))
            return inputs

    inp = keras.Input((5, 3))
    h = ActivityPenalty(0.5)(keras.layers.GRU(4)(inp))
    return keras.Model(inp, keras.layers.Dense(1)(h))


def test_add_loss_is_minimised_and_reported_as_in_keras(keras):
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(8, 5, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    theirs, ours = penalty_model(keras), penalty_model(rnnlab)
    weights = [rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    for model, k in ((theirs, keras), (ours, rnnlab)):
        model.compile(optimizer=k.optimizers.Adam(0.02), loss="mse")
    want = theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for w, g in zip(theirs.get_weights(), ours.get_weights()):
        np.testing.assert_allclose(g, w, atol=2e-5)
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    ours.predict(x, verbose=0)
    assert len(ours.losses) == 1  # the latest call's penalty, as Keras keeps it


@pytest.mark.parametrize("name", ["attention_over_lstm", "gru_like_bidirectional", "two_state_cell"])
def test_custom_layers_files_both_ways_with_keras(keras, name, tmp_path):
    """A .keras file with user layers: Keras's loads in rnnlab and rnnlab's in Keras, through the classes each
    program registered (register_keras_serializable) or passed (custom_objects)."""
    d_keras, d_ours = definitions(keras), definitions(rnnlab)
    theirs, x = MODELS[name](keras, d_keras)
    x = x.astype("float32")
    rng = np.random.default_rng(12)
    theirs.set_weights([rng.uniform(-0.5, 0.5, size=w.shape).astype("float32") for w in theirs.get_weights()])
    want = theirs.predict(x, verbose=0)
    theirs.save(tmp_path / "keras.keras")
    ours = rnnlab.models.load_model(tmp_path / "keras.keras")  # registered classes
    for w, g in zip(want if isinstance(want, list) else [want], rnnlab.nest.flatten(ours.predict(x, verbose=0))):
        np.testing.assert_allclose(g, w, atol=1e-5)
    passed = rnnlab.models.load_model(tmp_path / "keras.keras", custom_objects=d_ours)
    np.testing.assert_allclose(rnnlab.nest.flatten(passed.predict(x, verbose=0))[0],
                               rnnlab.nest.flatten(want)[0], atol=1e-5)
    ours.save(tmp_path / "ours.keras")
    back = keras.models.load_model(tmp_path / "ours.keras")
    for w, g in zip(want if isinstance(want, list) else [want], back.predict(x, verbose=0)
                    if isinstance(want, list) else [back.predict(x, verbose=0)]):
        np.testing.assert_allclose(g, w, atol=1e-5)


def test_unknown_custom_class_in_a_file_is_refused_by_name(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="elsewhere")
    class NeverDefinedHere(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    inp = keras.Input((4, 2))
    keras.Model(inp, keras.layers.LSTM(2)(NeverDefinedHere()(inp))).save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="NeverDefinedHere"):
        rnnlab.models.load_model(tmp_path / "m.keras")
