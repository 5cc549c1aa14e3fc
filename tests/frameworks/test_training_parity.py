"""Training against the reference frameworks: loss gradients vs PyTorch autograd, fit vs Keras's loss curve."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers, weight_layouts


def _rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()
                 / max(np.abs(np.asarray(b, np.float64)).max(), 1e-6))


def _torch_params(module, suffix):
    return {name: getattr(module, f"{name}_{suffix}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def _check_rnn_grads(torch, kind, torch_params, rnnlab_cell_grads):
    """Compare torch .grad of one layer/direction with rnnlab's gradients of (kernel, recurrent, bias)."""
    dk, dr, db = rnnlab_cell_grads
    as_torch = weight_layouts.keras_to_torch(kind, [dk, dr])
    assert _rel(as_torch["weight_ih"], torch_params["weight_ih"].grad.numpy()) <= 1e-5
    assert _rel(as_torch["weight_hh"], torch_params["weight_hh"].grad.numpy()) <= 1e-5
    if kind == "gru":  # two bias rows map one to one
        b_ih, b_hh = db[0], db[1]
    else:  # both torch biases are added into the single Keras bias: each gets the same gradient
        b_ih = b_hh = db
    assert _rel(weight_layouts.reorder_gates(b_ih, kind, "keras", "torch"), torch_params["bias_ih"].grad.numpy()) <= 1e-5
    assert _rel(weight_layouts.reorder_gates(b_hh, kind, "keras", "torch"), torch_params["bias_hh"].grad.numpy()) <= 1e-5


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_loss_gradients_match_pytorch(torch, kind, bidirectional, num_layers):
    """MSE loss on a Dense head over an (optionally bidirectional, stacked) RNN: every weight's and the
    input's gradient match torch autograd to 1e-5 relative in float32, with random biases everywhere."""
    rng = np.random.default_rng(num_layers * 10 + bidirectional)
    batch, steps, dim, units = 4, 7, 3, 5
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[kind]
    tmod = cls(dim, units, num_layers=num_layers, bidirectional=bidirectional, batch_first=True)
    head = torch.nn.Linear(units * (2 if bidirectional else 1), 2)
    with torch.no_grad():
        for p in list(tmod.parameters()) + list(head.parameters()):
            p.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(p.shape)).astype("float32")))
    rl_cls = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[kind]
    inp = rnnlab.Input(shape=(steps, dim))
    h = inp
    for i in range(num_layers):
        layer = rl_cls(units, return_sequences=True)
        h = layers.Bidirectional(layer)(h) if bidirectional else layer(h)
    out = layers.Dense(2)(h)
    model = rnnlab.Model(inp, out)
    weights = []
    for i in range(num_layers):
        for suffix in ([f"l{i}", f"l{i}_reverse"] if bidirectional else [f"l{i}"]):
            params = {k: v.detach().numpy() for k, v in _torch_params(tmod, suffix).items()}
            weights += weight_layouts.torch_to_keras(kind, params)
    weights += [head.weight.detach().numpy().T, head.bias.detach().numpy()]
    model.set_weights(weights)

    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    target = rng.normal(size=(batch, steps, 2)).astype("float32")
    xt = torch.from_numpy(x).requires_grad_(True)
    y_t = head(tmod(xt)[0])
    loss_t = ((y_t - torch.from_numpy(target)) ** 2).mean()
    loss_t.backward()

    model.compile(optimizer="sgd", loss="mse")
    grads = {}
    outputs, backward = model.forward_backward(x, training=True, grads=grads)
    value, d_out = rnnlab.losses.get("mse").value_and_grad(target, outputs)
    assert abs(value - loss_t.item()) <= 1e-5 * max(1.0, abs(loss_t.item()))
    dx, _ = backward(d_out)
    assert _rel(dx, xt.grad.numpy()) <= 1e-5
    per_layer = [grads[w] for w in model.weights]
    pos = 0
    for i in range(num_layers):
        for suffix in ([f"l{i}", f"l{i}_reverse"] if bidirectional else [f"l{i}"]):
            _check_rnn_grads(torch, kind, _torch_params(tmod, suffix), per_layer[pos:pos + 3])
            pos += 3
    assert _rel(per_layer[pos], head.weight.grad.numpy().T) <= 1e-5
    assert _rel(per_layer[pos + 1], head.bias.grad.numpy()) <= 1e-5


def _paired_models(keras, rng, kind):
    def build(K, L):
        inp = K.Input(shape=(6, 3))
        rnn = getattr(L, kind)(5, return_sequences=(kind != "SimpleRNN"))(inp)
        if kind != "SimpleRNN":
            rnn = getattr(L, "GRU")(4)(rnn)
        return K.Model(inp, L.Dense(3, activation="softmax")(rnn))

    km = build(keras, keras.layers)
    rm = build(rnnlab, rnnlab.layers)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in km.get_weights()]
    km.set_weights(weights)
    rm.set_weights(weights)
    return km, rm


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_train_on_batch_follows_keras_for_20_steps(keras, kind):
    """SGD(momentum) train_on_batch x 20 on the same batches: the same losses (1e-4) and final weights."""
    rng = np.random.default_rng(0)
    km, rm = _paired_models(keras, rng, kind)
    km.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])
    rm.compile(optimizer=rnnlab.optimizers.SGD(0.1, momentum=0.5), loss="sparse_categorical_crossentropy",
               metrics=["accuracy"])
    for step in range(20):
        x = rng.normal(size=(8, 6, 3)).astype("float32")
        y = rng.integers(0, 3, size=(8,))
        k_loss, k_acc = km.train_on_batch(x, y)
        r_loss, r_acc = rm.train_on_batch(x, y)
        assert abs(k_loss - r_loss) <= 1e-4, step
        assert abs(k_acc - r_acc) <= 1e-6, step
    for a, b in zip(km.get_weights(), rm.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_fit_follows_keras_loss_curve(keras):
    """fit(shuffle=False) with SGD and a validation split: epoch losses and val_losses match Keras to 1e-4."""
    rng = np.random.default_rng(1)
    km, rm = _paired_models(keras, rng, "LSTM")
    x = rng.normal(size=(40, 6, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=40)]
    km.compile(optimizer=keras.optimizers.SGD(0.2), loss="categorical_crossentropy", metrics=["accuracy"])
    rm.compile(optimizer=rnnlab.optimizers.SGD(0.2), loss="categorical_crossentropy", metrics=["accuracy"])
    kh = km.fit(x, y, batch_size=8, epochs=5, shuffle=False, validation_split=0.25, verbose=0)
    rh = rm.fit(x, y, batch_size=8, epochs=5, shuffle=False, validation_split=0.25, verbose=0)
    assert set(kh.history) == set(rh.history)
    for key in kh.history:
        np.testing.assert_allclose(rh.history[key], kh.history[key], atol=1e-4, err_msg=key)
    np.testing.assert_allclose(rm.evaluate(x, y, verbose=0), km.evaluate(x, y, verbose=0), atol=1e-4)
