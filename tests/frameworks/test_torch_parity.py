"""Numerical parity of rnnlab against PyTorch through ``rnnlab.weight_layouts``.

Both directions are checked:

* random PyTorch module weights -> ``torch_to_keras`` -> rnnlab ``set_weights``
  -> rnnlab outputs equal PyTorch outputs (sequence, h_n, c_n);
* random Keras weights -> ``keras_to_torch`` -> PyTorch module -> PyTorch
  outputs equal Keras (and rnnlab) outputs.

Every PyTorch bias (``bias_ih`` AND ``bias_hh``) is random and bounded away
from zero, so a conversion that drops or misplaces one of them cannot pass.
Gate orders: Keras LSTM i,f,c,o / torch i,f,g,o; Keras GRU z,r,h / torch r,z,n.
"""

import numpy as np
import pytest

import rnnlab
from tests.support.reference import assert_parity, randomize, random_weights, to_numpy

ATOL32 = 1e-5
ATOL64 = 1e-10
B, T, F, H = 3, 7, 5, 4
KINDS = ["lstm", "gru", "simple_rnn"]
N_STATES = {"lstm": 2, "gru": 1, "simple_rnn": 1}
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@pytest.fixture(scope="module")
def wl():
    from rnnlab import weight_layouts
    return weight_layouts


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def torch_module(torch, kind, input_size=F, hidden=H, nonlinearity="tanh", **kw):
    nn = torch.nn
    if kind == "lstm":
        return nn.LSTM(input_size, hidden, batch_first=True, **kw)
    if kind == "gru":
        return nn.GRU(input_size, hidden, batch_first=True, **kw)
    if kind == "simple_rnn":
        return nn.RNN(input_size, hidden, batch_first=True,
                      nonlinearity=nonlinearity, **kw)
    raise ValueError(kind)


def randomize_torch(torch, module, rng, dtype=np.float32):
    """Random U(-0.5, 0.5) values (|v| >= 0.05) for every parameter, biases
    included; bias_ih and bias_hh are independent draws."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            (v,) = random_weights([p.detach().numpy()], rng, dtype=dtype)
            p.copy_(torch.from_numpy(v))
    for name, p in module.named_parameters():
        if name.startswith("bias"):
            assert np.all(np.abs(p.detach().numpy()) >= 0.05), name


def torch_params(module, layer=0, reverse=False):
    """Parameters of one layer/direction of a torch RNN, with the suffix
    stripped: {"weight_ih", "weight_hh", ("bias_ih", "bias_hh")}."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    out = {}
    for base in PARAM_NAMES:
        p = getattr(module, base + suffix, None)
        if p is not None:
            out[base] = p.detach().numpy().copy()
    if "bias_ih" in out:
        assert not np.allclose(out["bias_ih"], out["bias_hh"])
    return out


def load_torch_params(torch, module, params, layer=0, reverse=False):
    """Copy a keras_to_torch() dict into one layer/direction of ``module``."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    with torch.no_grad():
        for base in PARAM_NAMES:
            target = getattr(module, base + suffix, None)
            if target is None:
                # a bias-free torch module: a converter may only emit zeros
                if base in params:
                    assert not np.any(params[base]), base
                continue
            value = np.asarray(params[base])
            assert value.shape == tuple(target.shape), (base, value.shape)
            target.copy_(torch.from_numpy(value.astype(value.dtype)))


def rnnlab_layer(kind, units=H, activation=None, **kw):
    L = rnnlab.layers
    if activation is not None:
        kw["activation"] = activation
    if kind == "lstm":
        return L.LSTM(units, **kw)
    if kind == "gru":
        return L.GRU(units, reset_after=True, **kw)
    if kind == "simple_rnn":
        return L.SimpleRNN(units, **kw)
    raise ValueError(kind)


def keras_layer(keras, kind, units=H, **kw):
    L = keras.layers
    if kind == "lstm":
        return L.LSTM(units, **kw)
    if kind == "gru":
        return L.GRU(units, reset_after=True, **kw)
    if kind == "simple_rnn":
        return L.SimpleRNN(units, **kw)
    raise ValueError(kind)


def run_torch(torch, module, x, h0=None, c0=None):
    """Run a batch_first torch RNN; returns (output, h_n, c_n or None)."""
    xt = torch.from_numpy(x)
    with torch.no_grad():
        if isinstance(module, torch.nn.LSTM):
            if h0 is None:
                out, (hn, cn) = module(xt)
            else:
                out, (hn, cn) = module(xt, (torch.from_numpy(h0), torch.from_numpy(c0)))
            return out.numpy(), hn.numpy(), cn.numpy()
        out, hn = module(xt) if h0 is None else module(xt, torch.from_numpy(h0))
        return out.numpy(), hn.numpy(), None


def torch_states(kind, hn, cn, index):
    """rnnlab/Keras state list for torch layer-direction ``index``."""
    return [hn[index], cn[index]] if kind == "lstm" else [hn[index]]


def rnnlab_initial(kind, h0, c0, index):
    return [h0[index], c0[index]] if kind == "lstm" else [h0[index]]


def random_h0(rng, kind, n, dtype="float32"):
    h0 = rng.uniform(-0.9, 0.9, (n, B, H)).astype(dtype)
    c0 = rng.uniform(-0.9, 0.9, (n, B, H)).astype(dtype) if kind == "lstm" else None
    return h0, c0


# ---------------------------------------------------------------------------
# layouts
# ---------------------------------------------------------------------------

def test_gate_order_lstm(wl):
    """Keras LSTM gate blocks i,f,c,o land in torch's i,f,g,o rows (same
    order); kernels are transposed."""
    blocks = [np.full((F, H), g, "float32") for g in (1, 2, 3, 4)]
    rblocks = [np.full((H, H), 10 + g, "float32") for g in (1, 2, 3, 4)]
    bias = np.repeat(np.array([21, 22, 23, 24], "float32"), H)
    out = wl.keras_to_torch("lstm", [np.concatenate(blocks, 1),
                                     np.concatenate(rblocks, 1), bias])
    assert out["weight_ih"].shape == (4 * H, F)
    assert out["weight_hh"].shape == (4 * H, H)
    np.testing.assert_array_equal(out["weight_ih"][:, 0].reshape(4, H)[:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(out["weight_hh"][:, 0].reshape(4, H)[:, 0], [11, 12, 13, 14])
    np.testing.assert_array_equal(out["bias_ih"] + out["bias_hh"], bias)


def test_gate_order_gru(wl):
    """Keras GRU blocks z,r,h become torch r,z,n; bias row 0 -> bias_ih,
    row 1 -> bias_hh."""
    k = np.concatenate([np.full((F, H), g, "float32") for g in (1, 2, 3)], 1)
    rk = np.concatenate([np.full((H, H), 10 + g, "float32") for g in (1, 2, 3)], 1)
    bias = np.stack([np.repeat(np.array([21, 22, 23], "float32"), H),
                     np.repeat(np.array([31, 32, 33], "float32"), H)])
    out = wl.keras_to_torch("gru", [k, rk, bias])
    assert out["weight_ih"].shape == (3 * H, F)
    np.testing.assert_array_equal(out["weight_ih"][:, 0].reshape(3, H)[:, 0], [2, 1, 3])
    np.testing.assert_array_equal(out["weight_hh"][:, 0].reshape(3, H)[:, 0], [12, 11, 13])
    np.testing.assert_array_equal(out["bias_ih"].reshape(3, H)[:, 0], [22, 21, 23])
    np.testing.assert_array_equal(out["bias_hh"].reshape(3, H)[:, 0], [32, 31, 33])


@pytest.mark.parametrize("kind", KINDS)
def test_roundtrip_keras_torch_keras(wl, rng, kind):
    """keras -> torch -> keras returns the original Keras arrays."""
    g = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    bshape = (2, g * H) if kind == "gru" else (g * H,)
    w = random_weights([np.zeros((F, g * H)), np.zeros((H, g * H)), np.zeros(bshape)], rng)
    back = wl.torch_to_keras(kind, wl.keras_to_torch(kind, w))
    assert len(back) == 3
    for a, b in zip(back, w):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-7)


@pytest.mark.parametrize("kind", KINDS)
def test_roundtrip_torch_keras_torch(torch, wl, rng, kind):
    """torch -> keras -> torch keeps the weights exactly; the biases are kept
    exactly for GRU and up to their sum (Keras has one bias) otherwise."""
    m = torch_module(torch, kind)
    randomize_torch(torch, m, rng)
    p = torch_params(m)
    k = wl.torch_to_keras(kind, p)
    if kind == "gru":
        assert k[2].shape == (2, 3 * H)
    else:
        np.testing.assert_allclose(k[2], p["bias_ih"] + p["bias_hh"], rtol=0, atol=1e-7)
    back = wl.keras_to_torch(kind, k)
    np.testing.assert_array_equal(back["weight_ih"], p["weight_ih"])
    np.testing.assert_array_equal(back["weight_hh"], p["weight_hh"])
    if kind == "gru":
        np.testing.assert_array_equal(back["bias_ih"], p["bias_ih"])
        np.testing.assert_array_equal(back["bias_hh"], p["bias_hh"])
    else:
        np.testing.assert_allclose(back["bias_ih"] + back["bias_hh"],
                                   p["bias_ih"] + p["bias_hh"], rtol=0, atol=1e-6)


def test_torch_to_keras_accepts_layer_suffixes(torch, wl, rng):
    """torch_to_keras accepts PyTorch's own key names (weight_ih_l0, ...)."""
    m = torch_module(torch, "lstm")
    randomize_torch(torch, m, rng)
    raw = {k: v.detach().numpy() for k, v in m.named_parameters()}
    for a, b in zip(wl.torch_to_keras("lstm", raw),
                    wl.torch_to_keras("lstm", torch_params(m))):
        np.testing.assert_array_equal(a, b)


def test_gru_reset_after_false_has_no_torch_equivalent(keras, wl, rng):
    """keras_to_torch refuses a reset_after=False GRU (bias shape (3*units,))
    with ValueError instead of silently converting it."""
    kl = keras.layers.GRU(H, reset_after=False)
    kl(rng.standard_normal((B, T, F)).astype("float32"))
    w = randomize(kl, rng)
    assert w[2].shape == (3 * H,)
    with pytest.raises(ValueError):
        wl.keras_to_torch("gru", w)


# ---------------------------------------------------------------------------
# torch weights -> rnnlab
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "h0"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_weights_into_rnnlab(torch, wl, rng, kind, bias, with_h0):
    """Random torch nn.LSTM/GRU/RNN weights -> torch_to_keras -> rnnlab give
    torch's output sequence and final h (and c), with and without h0/c0."""
    m = torch_module(torch, kind, bias=bias)
    randomize_torch(torch, m, rng)
    x = rng.standard_normal((B, T, F)).astype("float32")
    h0, c0 = random_h0(rng, kind, 1) if with_h0 else (None, None)
    out, hn, cn = run_torch(torch, m, x, h0, c0)

    layer = rnnlab_layer(kind, use_bias=bias, return_sequences=True, return_state=True)
    layer(x)
    weights = wl.torch_to_keras(kind, torch_params(m))
    assert len(weights) == (3 if bias else 2)
    layer.set_weights(weights)
    init = rnnlab_initial(kind, h0, c0, 0) if with_h0 else None
    assert_parity(layer(x, initial_state=init), [out] + torch_states(kind, hn, cn, 0))


@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "h0"])
def test_torch_relu_rnn_into_rnnlab(torch, wl, rng, with_h0):
    """nn.RNN(nonlinearity="relu") equals rnnlab SimpleRNN(activation="relu")."""
    m = torch_module(torch, "simple_rnn", nonlinearity="relu")
    randomize_torch(torch, m, rng)
    x = rng.standard_normal((B, T, F)).astype("float32")
    h0, _ = random_h0(rng, "simple_rnn", 1) if with_h0 else (None, None)
    out, hn, _ = run_torch(torch, m, x, h0)
    layer = rnnlab_layer("simple_rnn", activation="relu", return_sequences=True,
                         return_state=True)
    layer(x)
    layer.set_weights(wl.torch_to_keras("simple_rnn", torch_params(m)))
    assert_parity(layer(x, initial_state=[h0[0]] if with_h0 else None), [out, hn[0]])


@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "h0"])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_bidirectional(torch, wl, rng, kind, with_h0):
    """torch bidirectional=True equals rnnlab Bidirectional(merge_mode="concat"):
    the output is [forward, backward] on the last axis, h_n[0]/h_n[1] are the
    forward/backward final states, h0 is split forward/backward."""
    m = torch_module(torch, kind, bidirectional=True)
    randomize_torch(torch, m, rng)
    x = rng.standard_normal((B, T, F)).astype("float32")
    h0, c0 = random_h0(rng, kind, 2) if with_h0 else (None, None)
    out, hn, cn = run_torch(torch, m, x, h0, c0)

    layer = rnnlab.layers.Bidirectional(
        rnnlab_layer(kind, return_sequences=True, return_state=True),
        merge_mode="concat")
    layer(x)
    layer.set_weights(wl.torch_to_keras(kind, torch_params(m))
                      + wl.torch_to_keras(kind, torch_params(m, reverse=True)))
    init = (rnnlab_initial(kind, h0, c0, 0) + rnnlab_initial(kind, h0, c0, 1)
            if with_h0 else None)
    expected = [out] + torch_states(kind, hn, cn, 0) + torch_states(kind, hn, cn, 1)
    assert_parity(layer(x, initial_state=init), expected)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bidi"])
@pytest.mark.parametrize("kind", KINDS)
def test_torch_two_layers_vs_stacked_layers(torch, wl, rng, kind, bidirectional):
    """torch num_layers=2 (optionally bidirectional) equals two stacked rnnlab
    layers in a functional Model with per-layer initial-state Inputs; final
    states of every layer/direction match h_n/c_n."""
    dirs = 2 if bidirectional else 1
    m = torch_module(torch, kind, num_layers=2, bidirectional=bidirectional)
    randomize_torch(torch, m, rng)
    x = rng.standard_normal((B, T, F)).astype("float32")
    h0, c0 = random_h0(rng, kind, 2 * dirs)
    out, hn, cn = run_torch(torch, m, x, h0, c0)

    ns = N_STATES[kind]
    inp = rnnlab.Input(shape=(T, F))
    state_inputs = [rnnlab.Input(shape=(H,)) for _ in range(2 * dirs * ns)]
    feed, weights, outputs = [x], [], []
    h = inp
    for layer_idx in range(2):
        rnn = rnnlab_layer(kind, return_sequences=True, return_state=True)
        if bidirectional:
            rnn = rnnlab.layers.Bidirectional(rnn)
        sl = state_inputs[layer_idx * dirs * ns:(layer_idx + 1) * dirs * ns]
        res = rnn(h, initial_state=sl)
        h, states = res[0], list(res[1:])
        outputs.extend(states)
        for d in range(dirs):
            feed.extend(rnnlab_initial(kind, h0, c0, layer_idx * dirs + d))
            weights += wl.torch_to_keras(kind, torch_params(m, layer_idx, reverse=d == 1))
    model = rnnlab.Model([inp] + state_inputs, [h] + outputs)
    model.set_weights(weights)

    expected = [out]
    for idx in range(2 * dirs):
        expected += torch_states(kind, hn, cn, idx)
    assert_parity(model.predict(feed, verbose=0), expected)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_two_layers_vs_stacked_cells(torch, wl, rng, kind):
    """torch num_layers=2 equals rnnlab RNN([Cell, Cell]) (StackedRNNCells);
    nested per-cell final states flatten to h_n[0], (c_n[0]), h_n[1], (c_n[1])."""
    m = torch_module(torch, kind, num_layers=2)
    randomize_torch(torch, m, rng)
    x = rng.standard_normal((B, T, F)).astype("float32")
    h0, c0 = random_h0(rng, kind, 2)
    out, hn, cn = run_torch(torch, m, x, h0, c0)

    cell = rnnlab.layers.LSTMCell if kind == "lstm" else rnnlab.layers.GRUCell
    layer = rnnlab.layers.RNN([cell(H), cell(H)], return_sequences=True,
                              return_state=True)
    layer(x)
    layer.set_weights(wl.torch_to_keras(kind, torch_params(m, 0))
                      + wl.torch_to_keras(kind, torch_params(m, 1)))
    if kind == "lstm":
        init = [[h0[0], c0[0]], [h0[1], c0[1]]]
    else:
        init = [h0[0], h0[1]]
    expected = [out] + torch_states(kind, hn, cn, 0) + torch_states(kind, hn, cn, 1)
    assert_parity(layer(x, initial_state=init), expected, flat=True)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_float64(torch, wl, rng, kind):
    """A float64 torch module (.double()) equals a dtype="float64" rnnlab
    layer to 1e-10, initial states included."""
    m = torch_module(torch, kind).double()
    randomize_torch(torch, m, rng, dtype=np.float64)
    x = rng.standard_normal((B, T, F))
    h0, c0 = random_h0(rng, kind, 1, dtype="float64")
    out, hn, cn = run_torch(torch, m, x, h0, c0)
    layer = rnnlab_layer(kind, dtype="float64", return_sequences=True,
                         return_state=True)
    layer(x)
    layer.set_weights(wl.torch_to_keras(kind, torch_params(m)))
    assert_parity(layer(x, initial_state=rnnlab_initial(kind, h0, c0, 0)),
                  [out] + torch_states(kind, hn, cn, 0), atol=ATOL64)


# ---------------------------------------------------------------------------
# keras weights -> torch
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("with_h0", [False, True], ids=["zero_h0", "h0"])
@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", KINDS)
def test_keras_weights_into_torch(keras, torch, wl, rng, kind, use_bias, with_h0):
    """Random Keras weights -> keras_to_torch -> torch module: torch's output
    and final states equal Keras's and rnnlab's (same weights)."""
    x = rng.standard_normal((B, T, F)).astype("float32")
    kl = keras_layer(keras, kind, use_bias=use_bias, return_sequences=True,
                     return_state=True)
    kl(x)
    w = randomize(kl, rng)
    h0, c0 = random_h0(rng, kind, 1) if with_h0 else (None, None)
    init = rnnlab_initial(kind, h0, c0, 0) if with_h0 else None
    expected = to_numpy(kl(x, initial_state=init))

    m = torch_module(torch, kind, bias=use_bias)
    params = wl.keras_to_torch(kind, w)
    assert {"weight_ih", "weight_hh"} <= set(params)
    if use_bias:
        assert {"bias_ih", "bias_hh"} <= set(params)
    load_torch_params(torch, m, params)
    out, hn, cn = run_torch(torch, m, x, h0, c0)
    assert_parity([out] + torch_states(kind, hn, cn, 0), expected,
                  check_numpy=False)

    rl = rnnlab_layer(kind, use_bias=use_bias, return_sequences=True,
                      return_state=True)
    rl(x)
    rl.set_weights(w)
    assert_parity(rl(x, initial_state=init), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_keras_bidirectional_into_torch(keras, torch, wl, rng, kind):
    """Keras Bidirectional weights (forward list then backward list) converted
    per direction drive a torch bidirectional module to Keras's output and
    states."""
    x = rng.standard_normal((B, T, F)).astype("float32")
    kl = keras.layers.Bidirectional(
        keras_layer(keras, kind, return_sequences=True, return_state=True))
    kl(x)
    w = randomize(kl, rng)
    n = len(w) // 2
    m = torch_module(torch, kind, bidirectional=True)
    load_torch_params(torch, m, wl.keras_to_torch(kind, w[:n]))
    load_torch_params(torch, m, wl.keras_to_torch(kind, w[n:]), reverse=True)
    out, hn, cn = run_torch(torch, m, x)
    expected = to_numpy(kl(x))
    assert_parity([out] + torch_states(kind, hn, cn, 0) + torch_states(kind, hn, cn, 1),
                  expected, check_numpy=False)
