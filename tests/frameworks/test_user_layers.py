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

    return {"MinimalRNNCell": MinimalRNNCell, "GRULikeCell": GRULikeCell, "TwoStateCell": TwoStateCell,
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


MODELS = {f.__name__[len("model_"):]: f for f in [model_minimal_cell, model_gru_like_bidirectional,
                                                  model_attention_over_lstm, model_mask_aware,
                                                  model_two_state_cell]}


def _targets(outputs, rng):
    return [rng.normal(size=np.shape(o)).astype("float32") for o in outputs]


#: Models whose Adam steps are compared with Keras on its torch backend: Keras's TensorFlow backend gives an
#: Embedding's gradient to Adam as sparse rows (IndexedSlices) and updates them differently; Keras's torch
#: backend and rnnlab take the dense, mathematical step (README, "Where Keras's TensorFlow backend differs").
ON_TORCH_BACKEND = {"mask_aware"}


def _adam_steps_on_keras_torch(name, weights, x, y, tmp_path):
    """Weights after three Adam steps in Keras on its torch backend (a child process: the backend is fixed at
    import)."""
    np.savez(tmp_path / "in.npz", x=x, *weights)
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
    x = x.astype("int32") if x.dtype.kind == "i" else x.astype("float32")
    want, got = theirs.predict(x, verbose=0), ours.predict(x, verbose=0)
    want, got = (want if isinstance(want, list) else [want]), (got if isinstance(got, list) else [got])
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=1e-5)
    ys = _targets(want, rng)
    y = ys if len(ys) > 1 else ys[0]
    ours.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    for _ in range(3):
        ours.train_on_batch(x, y)
    if name in ON_TORCH_BACKEND:
        expected = _adam_steps_on_keras_torch(name, weights, x, ys, tmp_path)
    else:
        theirs.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        for _ in range(3):
            theirs.train_on_batch(x, y)
        expected = theirs.get_weights()
    for w, g in zip(expected, ours.get_weights()):
        np.testing.assert_allclose(g, w, atol=2e-5)
