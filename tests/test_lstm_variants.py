"""The two LSTM variants that prove the cell protocol open: a projection (PyTorch's ``proj_size``) and peepholes
(the ONNX LSTM operator's ``P``).

* pure step functions: float64 finite differences of ``lstm_step_backward`` with each variant;
* whole layers: float64 finite differences (tests/gradcheck.py), every weight random, biases included;
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
from tests.gradcheck import gradcheck

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
    ctx = dict(mask=None, collect_gates=False, dropout=None)
    assert fastpath.explain("rnn_sequence", cell=plain.loop_cell, **ctx).selected != "reference"
    assert fastpath.explain("rnn_train", cell=plain.loop_cell, dtype=np.float32, training=True).selected != \
        "reference"
    for kw in VARIANTS.values():
        layer = layers.LSTM(U, **kw)
        layer(x)
        seq = fastpath.explain("rnn_sequence", cell=layer.loop_cell, **ctx)
        train = fastpath.explain("rnn_train", cell=layer.loop_cell, dtype=np.float32, training=True)
        assert seq.selected == "reference" and train.selected == "reference"
        every = {k.name for op in ("rnn_sequence", "rnn_train") for k in fastpath.kernels(op)} - {"reference"}
        assert set(seq.declined) | set(train.declined) == every  # every fast kernel declined
        # each kernel declines directly, too (not only because another was preferred)
        for op, context in (("rnn_sequence", ctx), ("rnn_train", dict(dtype=np.float32, training=True))):
            for kernel in fastpath.kernels(op):
                if kernel.name != "reference":
                    assert not kernel.supports(cell=layer.loop_cell, **context), kernel.name
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
