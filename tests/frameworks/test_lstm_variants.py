"""The two LSTM variants that prove the cell protocol open: a projection (PyTorch's ``proj_size``) and peepholes
(the ONNX LSTM operator's ``P``).

* pure step functions: float64 finite differences of ``lstm_step_backward`` with each variant;
* whole layers: float64 finite differences (tests/support/gradcheck.py), every weight random, biases included;
* projection: outputs, states and gradients against ``torch.nn.LSTM(proj_size=P)`` (1-2 layers, bidirectional),
  and PyTorch modules, state dicts and safetensors both ways;
* peepholes: float32 outputs against a float64 NumPy loop written here, export to the ONNX LSTM with ``P``
  checked in onnxruntime;
* both: no fast kernel claims them (``fastpath.explain``), ``trace()`` shows them, configs and refusals.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import activations, fastpath, layers
from rnnlab.cells import LSTMCell, lstm_step, lstm_step_backward
from tests.support.gradcheck import gradcheck
from tests.support.reference import require

F64 = "float64"
B, T, D, U, P = 3, 6, 5, 4, 2
VARIANTS = {"projection": dict(proj_size=P), "peepholes": dict(use_peepholes=True),
            "both": dict(proj_size=P, use_peepholes=True)}


def _randomize(obj, rng, scale=0.6):
    obj.set_weights([rng.uniform(-scale, scale, w.shape).astype(w.dtype) for w in obj.get_weights()])


def _mask(batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, steps - 2:] = False
    mask[1, :2] = False
    return mask


# ----------------------------------------------------------------------------------------- the pure step
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("dropout", [False, True], ids=["nodrop", "recdrop"])
def test_step_backward_matches_finite_differences(variant, dropout):
    rng = np.random.default_rng(1)
    kw = VARIANTS[variant]
    rows = kw.get("proj_size", U)
    arrays = {
        "xw": rng.normal(size=(B, 4 * U)), "h_prev": rng.normal(size=(B, rows)), "c_prev": rng.normal(size=(B, U)),
        "recurrent_kernel": rng.normal(scale=0.5, size=(rows, 4 * U)),
        "projection_kernel": rng.normal(size=(U, P)) if "proj_size" in kw else None,
        "peephole_weights": rng.normal(size=(3 * U,)) if kw.get("use_peepholes") else None,
    }
    masks = rng.uniform(0.5, 1.5, size=(4, B, rows)) if dropout else None
    probe_h, probe_c = rng.normal(size=(B, rows)), rng.normal(size=(B, U))

    def run():
        return lstm_step(arrays["xw"], arrays["h_prev"], arrays["c_prev"], arrays["recurrent_kernel"],
                         activations.tanh, activations.sigmoid, masks, projection_kernel=arrays["projection_kernel"],
                         peephole_weights=arrays["peephole_weights"])

    def loss():
        h, c, _ = run()
        return float((h * probe_h).sum() + (c * probe_c).sum())

    h, c, gates = run()
    grads = lstm_step_backward(probe_h, probe_c, gates, arrays["h_prev"], arrays["c_prev"],
                               arrays["recurrent_kernel"], activations.tanh, activations.sigmoid, masks,
                               projection_kernel=arrays["projection_kernel"],
                               peephole_weights=arrays["peephole_weights"])
    analytic = {"xw": grads.dxw, "h_prev": grads.dh_prev, "c_prev": grads.dc_prev,
                "recurrent_kernel": grads.drecurrent_kernel, "projection_kernel": grads.dprojection_kernel,
                "peephole_weights": grads.dpeephole_weights}
    for name, array in arrays.items():
        if array is None:
            assert analytic[name] is None
            continue
        numeric = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            old = array[idx]
            array[idx] = old + 1e-6
            up = loss()
            array[idx] = old - 1e-6
            down = loss()
            array[idx] = old
            numeric[idx] = (up - down) / 2e-6
        err = np.abs(numeric - analytic[name]).max() / max(np.abs(numeric).max(), 1e-3)
        assert err < 1e-7, (name, err)


# ----------------------------------------------------------------------------------------- whole layers
FLAGS = [dict(), dict(return_sequences=True, return_state=True), dict(return_state=True, go_backwards=True)]


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("flags", FLAGS, ids=["last", "seq_state", "state_back"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layer_gradients(variant, flags, masked):
    rng = np.random.default_rng(2)
    layer = layers.LSTM(U, dtype=F64, **VARIANTS[variant], **flags)
    x = rng.normal(size=(B, T, D))
    layer(x)
    _randomize(layer, rng)
    kwargs = {"mask": _mask(B, T)} if masked else {}
    assert gradcheck(layer, (x,), kwargs, rng) <= 1e-6


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_layer_gradients_initial_state_bidirectional_and_dropout(variant):
    rng = np.random.default_rng(3)
    kw = VARIANTS[variant]
    x = rng.normal(size=(B, T, D))
    layer = layers.LSTM(U, dtype=F64, return_sequences=True, **kw)
    layer(x)
    _randomize(layer, rng)
    init = [rng.normal(size=(B, kw.get("proj_size", U))), rng.normal(size=(B, U))]
    assert gradcheck(layer, (x,), {"initial_state": init}, rng) <= 1e-6

    bi = layers.Bidirectional(layers.LSTM(U, dtype=F64, return_sequences=True, **kw))
    bi(x)
    _randomize(bi, rng)
    assert gradcheck(bi, (x,), {"mask": _mask(B, T)}, rng) <= 1e-6

    drop = layers.LSTM(U, dtype=F64, dropout=0.3, recurrent_dropout=0.3, seed=4, **kw)
    drop(x)
    _randomize(drop, rng)

    def reseed():
        drop.cell._rng = np.random.default_rng(5)

    assert gradcheck(drop, (x,), {"training": True}, rng, before_call=reseed) <= 1e-6


# ----------------------------------------------------------------------------------------- the cell and layer
def test_shapes_weights_and_config():
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    proj = layers.LSTM(U, proj_size=P, return_sequences=True, return_state=True)
    y, h, c = proj(x)
    assert y.shape == (B, T, P) and h.shape == (B, P) and c.shape == (B, U)
    assert [w.shape for w in proj.get_weights()] == [(D, 4 * U), (P, 4 * U), (4 * U,), (U, P)]
    peep = layers.LSTM(U, use_peepholes=True, use_bias=False)
    peep(x)
    assert [w.shape for w in peep.get_weights()] == [(D, 4 * U), (U, 4 * U), (3 * U,)]
    # a plain LSTM's config has only Keras's keys; a variant's round-trips
    assert "proj_size" not in layers.LSTM(U).get_config() and "use_peepholes" not in layers.LSTM(U).get_config()
    assert "proj_size" not in LSTMCell(U).get_config()
    for layer in (proj, peep):
        clone = layers.LSTM.from_config(layer.get_config())
        clone(x)
        clone.set_weights(layer.get_weights())
        np.testing.assert_array_equal(np.asarray(rnnlab.nest.flatten(clone(x))[0]),
                                      np.asarray(rnnlab.nest.flatten(layer(x))[0]))
    assert layers.LSTM(U, proj_size=P).compute_output_shape((B, T, D)) == (B, P)


def test_cell_in_rnn_and_step():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = layers.RNN(LSTMCell(U, proj_size=P, use_peepholes=True), return_sequences=True)
    y = layer(x)
    assert y.shape == (B, T, P)
    states = None
    for t in range(T):
        out, states = layer.step(x[:, t], states)
        np.testing.assert_allclose(out, y[:, t], atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(proj_size=U), "proj_size"), (dict(proj_size=0), "proj_size"), (dict(proj_size=1.5), "proj_size"),
    (dict(proj_size=True), "proj_size"),
])
def test_bad_proj_size(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.LSTM(U, **kwargs)


def test_bad_use_peepholes():
    with pytest.raises(TypeError, match="use_peepholes"):
        layers.LSTM(U, use_peepholes="yes")


# ----------------------------------------------------------------------------------------- fast paths
def test_variants_run_on_the_reference_path_and_say_so():
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    plain = layers.LSTM(U)
    plain(x)
    assert plain.explain_kernels(x).selected != "reference"
    assert plain.explain_kernels(x, training=True).selected != "reference"
    for kw in VARIANTS.values():
        layer = layers.LSTM(U, **kw)
        layer(x)
        seq = layer.explain_kernels(x)
        train = layer.explain_kernels(x, training=True)
        assert seq.selected == "reference" and train.selected == "reference"
        every = {k.name for op in ("rnn_sequence", "rnn_train") for k in fastpath.kernels(op)} - {"reference"}
        assert set(seq.declined_names) | set(train.declined_names) == every  # every fast kernel declined
        # each kernel declines directly, naming the variant (not only because another was preferred)
        for why in (seq, train):
            for name, reason in why.declined:
                assert reason.startswith("cell LSTM (") and "projection" in reason or "peepholes" in reason, \
                    (name, reason)
        # and forcing a fast kernel still gives the reference result
        for name in every:
            with fastpath.force(name):
                np.testing.assert_array_equal(layer(x), _reference(layer, x))


def _reference(layer, x):
    with fastpath.reference_only():
        return layer(x)


# ----------------------------------------------------------------------------------------- inspection
def test_trace_shows_both_variants():
    from rnnlab.inspect import trace

    x = np.random.default_rng(0).normal(size=(B, T, D)).astype("float32")
    inputs = rnnlab.Input(shape=(T, D))
    a = layers.LSTM(U, proj_size=P, return_sequences=True, name="proj")(inputs)
    out = layers.LSTM(U, use_peepholes=True, name="peep")(a)
    model = rnnlab.Model(inputs, out)
    tr = trace(model, x)
    proj, peep = tr["proj"].forward, tr["peep"].forward
    assert proj.gate_names == ("i", "f", "c_hat", "o") == peep.gate_names
    assert proj.h.shape == (B, T, P) and proj.c.shape == (B, T, U) and proj.gates["o"].shape == (B, T, U)
    assert peep.h.shape == (B, T, U)
    np.testing.assert_allclose(proj.outputs, model.layers[1](x), atol=1e-6)
    np.testing.assert_allclose(peep.h[:, -1], model(x), atol=1e-6)


# ----------------------------------------------------------------------------------------- projection vs PyTorch
def _torch_lstm(torch, num_layers, bidirectional, dtype):
    torch.manual_seed(num_layers * 10 + bidirectional)
    module = torch.nn.LSTM(D, U, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                           proj_size=P).to(dtype)
    with torch.no_grad():
        for p in module.parameters():  # every bias random and away from zero
            p.uniform_(-0.7, 0.7)
    return module


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_projection_matches_torch_outputs_states_and_gradients(num_layers, bidirectional):
    torch = require("torch")
    from rnnlab.convert.torch_format import from_torch, to_torch_module
    from rnnlab.weight_layouts import keras_to_torch

    rng = np.random.default_rng(7)
    dirs = 2 if bidirectional else 1
    # float32: outputs and final states to 1e-5
    module = _torch_lstm(torch, num_layers, bidirectional, torch.float32)
    x = rng.normal(size=(B, T, D)).astype("float32")
    with torch.no_grad():
        y_t, (h_t, c_t) = module(torch.from_numpy(x))
    seq_model = from_torch(module, return_sequences=True)
    np.testing.assert_allclose(seq_model(x), y_t.numpy(), atol=1e-5)
    last = from_torch(module)
    expected_last = torch.cat([h_t[-2], h_t[-1]], -1) if bidirectional else h_t[-1]
    np.testing.assert_allclose(last(x), expected_last.numpy(), atol=1e-5)
    assert last(x).shape == (B, P * dirs)
    # final h and c of the last layer (each direction), from the same weights in a layer with return_state
    top = seq_model.layers[-1]
    subs = [top.forward_layer, top.backward_layer] if bidirectional else [top]
    feed = x  # what the last layer reads
    for lay in [lay for lay in seq_model.layers if isinstance(lay, (layers.LSTM, layers.Bidirectional))][:-1]:
        feed = lay(feed)
    for d, sub in enumerate(subs):
        clone = layers.LSTM(U, proj_size=P, return_state=True, go_backwards=sub.go_backwards)
        clone(feed)
        clone.set_weights(sub.get_weights())
        _, h, c = clone(feed)
        np.testing.assert_allclose(h, h_t[(num_layers - 1) * dirs + d].numpy(), atol=1e-5)
        np.testing.assert_allclose(c, c_t[(num_layers - 1) * dirs + d].numpy(), atol=1e-5)
    # back to torch: the same weights (the summed bias in bias_ih), the same outputs
    back = to_torch_module(seq_model)
    for key, value in module.state_dict().items():
        if not key.startswith("bias"):
            np.testing.assert_array_equal(back.state_dict()["rnn." + key].numpy(), value.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x)).numpy(), y_t.numpy(), atol=1e-5)

    # float64: gradients of every weight and of the input to 1e-5 relative
    module64 = _torch_lstm(torch, num_layers, bidirectional, torch.float64)
    x64 = rng.normal(size=(B, T, D))
    probe = rng.normal(size=(B, T, P * dirs))
    xt = torch.from_numpy(x64.copy()).requires_grad_(True)
    y64, _ = module64(xt)
    (y64 * torch.from_numpy(probe)).sum().backward()
    model = from_torch(module64, return_sequences=True)
    assert model.dtype == F64 or model.layers[-1].dtype == F64
    grads = {}
    outputs, backward = model.forward_backward(x64, grads=grads)
    np.testing.assert_allclose(outputs, y64.detach().numpy(), atol=1e-10)
    dx, _ = backward(probe)
    assert _rel(dx, xt.grad.numpy()) < 1e-5
    recurrent = [lay for lay in model.layers if isinstance(lay, (layers.LSTM, layers.Bidirectional))]
    for k, lay in enumerate(recurrent):
        for sub, suffix in zip([lay.forward_layer, lay.backward_layer] if bidirectional else [lay],
                               ("", "_reverse")):
            ours = keras_to_torch("lstm", [grads[w] for w in sub.weights])
            for name in ("weight_ih", "weight_hh", "bias_ih", "weight_hr"):
                theirs = getattr(module64, f"{name}_l{k}{suffix}").grad.numpy()
                assert _rel(ours[name], theirs) < 1e-5, (name, k, suffix)
            assert _rel(ours["bias_ih"], getattr(module64, f"bias_hh_l{k}{suffix}").grad.numpy()) < 1e-5


def test_projection_state_dicts_and_safetensors_both_ways(tmp_path):
    torch = require("torch")
    from rnnlab.convert.safetensors import load_safetensors, save_safetensors
    from rnnlab.convert.torch_format import (from_torch, from_torch_state_dict, infer_torch_spec,
                                             to_torch_state_dict)

    module = _torch_lstm(torch, 2, True, torch.float32)
    state = {f"rnn.{k}": v.numpy() for k, v in module.state_dict().items()}
    state["fc.weight"] = np.random.default_rng(0).normal(size=(3, 2 * P)).astype("float32")
    state["fc.bias"] = np.random.default_rng(1).normal(size=(3,)).astype("float32")
    spec = infer_torch_spec(state)
    assert (spec.kind, spec.hidden_size, spec.proj_size, spec.num_layers, spec.bidirectional) == \
        ("lstm", U, P, 2, True)
    assert "proj_size=2" in spec.describe()
    model = from_torch_state_dict(state, {"proj_size": P})
    back = to_torch_state_dict(model)
    assert sorted(back) == sorted(state)
    for key in state:  # the same weights; the bias is summed into bias_ih (bias_hh zero)
        if "bias_hh" in key:
            np.testing.assert_allclose(back[key.replace("_hh", "_ih")] + back[key],
                                       state[key.replace("_hh", "_ih")] + state[key], atol=1e-6)
        elif "bias_ih" not in key:
            np.testing.assert_array_equal(back[key], state[key])
    path = tmp_path / "proj.safetensors"
    save_safetensors(back, path)
    again = from_torch(path)
    x = np.random.default_rng(2).normal(size=(B, T, D)).astype("float32")
    np.testing.assert_array_equal(again(x), model(x))
    for key, value in load_safetensors(path).items():
        np.testing.assert_array_equal(value, back[key])
    with pytest.raises(ValueError, match="proj_size"):
        from_torch_state_dict(state, {"proj_size": 1})


def test_torch_refuses_peepholes_and_mixed_projections():
    require("torch")
    from rnnlab.convert.torch_format import to_torch_module, to_torch_state_dict

    model = rnnlab.Sequential([rnnlab.Input(shape=(T, D)), layers.LSTM(U, use_peepholes=True, name="peep")])
    with pytest.raises(ValueError, match="'peep'.*use_peepholes"):
        to_torch_state_dict(model)
    with pytest.raises(ValueError, match="use_peepholes"):
        to_torch_module(model)
    mixed = rnnlab.Sequential([rnnlab.Input(shape=(T, D)), layers.LSTM(U, proj_size=P, return_sequences=True),
                               layers.LSTM(U)])
    with pytest.raises(ValueError, match="proj_size"):
        to_torch_state_dict(mixed)


# ----------------------------------------------------------------------------------------- peepholes
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _peephole_numpy(x, kernel, recurrent_kernel, bias, peephole, h0=None, c0=None):
    """The ONNX LSTM operator's equations with input P, written as a plain float64 loop (Keras gate order
    i, f, c, o in the kernels; peepholes i, f, o)."""
    x, kernel, recurrent_kernel, bias, peephole = (np.asarray(a, np.float64) for a in
                                                    (x, kernel, recurrent_kernel, bias, peephole))
    units = recurrent_kernel.shape[0]
    p_i, p_f, p_o = peephole[:units], peephole[units:2 * units], peephole[2 * units:]
    h = np.zeros((x.shape[0], units)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((x.shape[0], units)) if c0 is None else np.asarray(c0, np.float64)
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        zi, zf, zc, zo = np.split(z, 4, axis=1)
        i = _sigmoid(zi + p_i * c)
        f = _sigmoid(zf + p_f * c)
        c = f * c + i * np.tanh(zc)
        o = _sigmoid(zo + p_o * c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_peepholes_match_a_float64_numpy_loop(go_backwards):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = layers.LSTM(U, use_peepholes=True, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(x)
    _randomize(layer, rng, scale=0.9)
    init = [rng.normal(size=(B, U)).astype("float32"), rng.normal(size=(B, U)).astype("float32")]
    y, h, c = layer(x, initial_state=init)
    ry, rh, rc = _peephole_numpy(x[:, ::-1] if go_backwards else x, *layer.get_weights(), *init)
    for ours, ref in ((y, ry), (h, rh), (c, rc)):
        assert np.abs(ours - ref).max() < 1e-5


def test_peepholes_differ_from_the_plain_lstm():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(B, T, D)).astype("float32")
    peep = layers.LSTM(U, use_peepholes=True)
    peep(x)
    _randomize(peep, rng)
    plain = layers.LSTM(U)
    plain(x)
    plain.set_weights(peep.get_weights()[:3])
    assert np.abs(peep(x) - plain(x)).max() > 1e-3


@pytest.mark.parametrize("flags", [dict(), dict(return_sequences=True, return_state=True),
                                   dict(go_backwards=True), "bidirectional", "initial_state", "no_bias"])
def test_peepholes_export_to_onnx_lstm_with_p(tmp_path, flags):
    onnx = require("onnx")
    ort = require("onnxruntime")
    from rnnlab.convert import to_onnx

    rng = np.random.default_rng(13)
    x = rng.normal(size=(B, T, D)).astype("float32")
    inputs = rnnlab.Input(shape=(T, D))
    feeds = {"x": x}
    if flags == "bidirectional":
        out = layers.Bidirectional(layers.LSTM(U, use_peepholes=True, return_sequences=True))(inputs)
        model_inputs = inputs
    elif flags == "initial_state":
        h0, c0 = rnnlab.Input(shape=(U,)), rnnlab.Input(shape=(U,))
        out = layers.LSTM(U, use_peepholes=True, return_state=True)(inputs, initial_state=[h0, c0])
        model_inputs = [inputs, h0, c0]
        feeds.update(h0=rng.normal(size=(B, U)).astype("float32"), c0=rng.normal(size=(B, U)).astype("float32"))
    else:
        kw = dict(use_bias=False) if flags == "no_bias" else flags
        out = layers.LSTM(U, use_peepholes=True, **kw)(inputs)
        model_inputs = inputs
    model = rnnlab.Model(model_inputs, out)
    _randomize(model, rng, scale=0.9)
    path = tmp_path / "peep.onnx"
    to_onnx(model, path, input_names=list(feeds))
    graph = onnx.load(str(path)).graph
    lstm = [n for n in graph.node if n.op_type == "LSTM"]
    assert len(lstm) == 1 and len(lstm[0].input) == 8 and lstm[0].input[7]  # P given
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, feeds)
    ours = rnnlab.nest.flatten(model([feeds[k] for k in feeds] if len(feeds) > 1 else x))
    assert len(theirs) == len(ours)
    for a, b in zip(ours, theirs):
        assert np.abs(np.asarray(a) - b).max() < 1e-5


def test_onnx_refuses_projection(tmp_path):
    require("onnx")
    from rnnlab.convert import to_onnx

    model = rnnlab.Sequential([rnnlab.Input(shape=(T, D)), layers.LSTM(U, proj_size=P, name="projected")])
    with pytest.raises(ValueError, match="'projected'.*proj_size=2"):
        to_onnx(model, tmp_path / "p.onnx")
    bi = rnnlab.Sequential([rnnlab.Input(shape=(T, D)), layers.Bidirectional(layers.LSTM(U, proj_size=P))])
    with pytest.raises(ValueError, match="proj_size"):
        to_onnx(bi, tmp_path / "b.onnx")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_train_and_save(variant, tmp_path):
    rng = np.random.default_rng(14)
    x = rng.normal(size=(16, T, D)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype("float32")
    model = rnnlab.Sequential([rnnlab.Input(shape=(T, D)), layers.LSTM(U, **VARIANTS[variant]), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "variant.keras"
    model.save(path)
    again = rnnlab.models.load_model(path)
    assert again.layers[0].get_config() == model.layers[0].get_config()
    np.testing.assert_array_equal(again(x), model(x))


@pytest.mark.parametrize("kwargs", [dict(proj_size=2), dict(use_peepholes=True),
                                    dict(proj_size=2, use_peepholes=True)])
def test_report_and_statistics_explain_the_variants(kwargs):
    """The HTML report recomputes each step's state update from the traced gates: for a projection it must
    include the projection (h has proj_size features), and every relation must match the layer."""
    from rnnlab.inspect import report, statistics, trace

    rng = np.random.default_rng(8)
    inp = rnnlab.Input((5, 3))
    model = rnnlab.Model(inp, layers.LSTM(4, **kwargs)(inp))
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    x = rng.normal(size=(2, 5, 3))
    html = report.build_report(model, x, plots=True)
    assert html.count("matches the layer") == 2 and "does not match" not in html
    assert ("projection_kernel" in html) == ("proj_size" in kwargs)
    stats = statistics(trace(model, x))
    assert len(stats.units.rows) == 4  # one row per cell unit; h's projected features are reported beside them


@pytest.mark.parametrize("bidirectional", [False, True])
def test_peepholes_round_trip_through_onnx(tmp_path, bidirectional):
    """An exported peephole LSTM imports back as a peephole LSTM with the same weights and outputs."""
    require("onnx")
    from rnnlab.convert import from_onnx, to_onnx

    rng = np.random.default_rng(17)
    x = rng.normal(size=(B, T, D)).astype("float32")
    inputs = rnnlab.Input(shape=(T, D))
    layer = layers.LSTM(U, use_peepholes=True, return_sequences=True)
    out = layers.Bidirectional(layer)(inputs) if bidirectional else layer(inputs)
    model = rnnlab.Model(inputs, out)
    _randomize(model, rng, scale=0.9)
    path = tmp_path / "peep.onnx"
    to_onnx(model, path)
    back = from_onnx(path)
    lstms = [l for l in back.layers if isinstance(l, layers.LSTM)]
    assert len(lstms) == (2 if bidirectional else 1) and all(l.use_peepholes for l in lstms)
    ours = layer if not bidirectional else model.layers[1].forward_layer
    np.testing.assert_array_equal(lstms[0].cell.peephole_weights.value, ours.cell.peephole_weights.value)
    np.testing.assert_allclose(np.asarray(back.predict(x)), np.asarray(model(x)), atol=1e-5)
