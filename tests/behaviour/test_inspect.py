"""``rnnlab.inspect.trace``, statistics and plots.

Trace consistency: the traced gates, run through the cell equations written out here (as in the docstrings of
rnnlab/cells/*.py), rebuild ``c_t`` and ``h_t`` and so the layer's outputs and final states, to 1e-6.  The
recursion below starts from the traced initial state and carries its own rebuilt state from step to step, so
every step's gates must be right for the last output to match.
"""
import subprocess
import sys

import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from rnnlab.activations import get as get_activation
from rnnlab.inspect import CellTrace, LayerTrace, ModelTrace, statistics, trace
from rnnlab.inspect.stats import Table, saturation

T, D, U = 7, 3, 4


def randomize(model_or_layer, rng, scale=0.7):
    """Random weights everywhere, biases included (all-zero biases hide bugs)."""
    model_or_layer.set_weights([rng.normal(0, scale, w.shape) for w in model_or_layer.get_weights()])


def make_layer(kind, units=U, **kwargs):
    if kind == "lstm":
        return layers.LSTM(units, **kwargs)
    if kind == "gru":
        return layers.GRU(units, **kwargs)
    if kind == "gru_v1":
        return layers.GRU(units, reset_after=False, **kwargs)
    return layers.SimpleRNN(units, **kwargs)


def sample_mask(rng, batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, -2:] = False  # trailing padding
    mask[1, :2] = False  # leading padding
    mask[-1, steps // 2] = False  # a hole in the middle
    return mask


def rebuild(part, check_gates=True):
    """Run the cell equations on the traced gates: ``(h, c, outputs)`` in processing order, float64.

    ``outputs`` follows Keras's mask semantics: a masked step keeps the state and repeats the previous output.
    """
    act = get_activation(part.activation)
    rec = get_activation(part.recurrent_activation) if part.recurrent_activation else None
    order = part.processing_order
    h = part.h0.astype(np.float64)
    c = part.c0.astype(np.float64) if part.c0 is not None else None
    prev_out = np.zeros_like(h)
    hs, cs, outs = [], [], []
    u = part.units
    for t in order:
        g = {k: v[:, t].astype(np.float64) for k, v in part.gates.items()}
        pre = part.pre_activations[:, t].astype(np.float64)
        if part.cell_type == "LSTM":
            if check_gates:  # the gates are the activations of their pre-activations
                np.testing.assert_allclose(g["i"], rec(pre[:, :u]), atol=1e-6)
                np.testing.assert_allclose(g["f"], rec(pre[:, u:2 * u]), atol=1e-6)
                np.testing.assert_allclose(g["c_hat"], act(pre[:, 2 * u:3 * u]), atol=1e-6)
                np.testing.assert_allclose(g["o"], rec(pre[:, 3 * u:]), atol=1e-6)
            c_new = g["f"] * c + g["i"] * g["c_hat"]  # c_t = f * c_{t-1} + i * c_hat
            h_new = g["o"] * act(c_new)  # h_t = o * tanh(c_t)
        elif part.cell_type == "GRU":
            if check_gates:
                np.testing.assert_allclose(g["z"], rec(pre[:, :u]), atol=1e-6)
                np.testing.assert_allclose(g["r"], rec(pre[:, u:2 * u]), atol=1e-6)
                np.testing.assert_allclose(g["h_hat"], act(pre[:, 2 * u:]), atol=1e-6)
            h_new = g["z"] * h + (1 - g["z"]) * g["h_hat"]  # h_t = z * h_{t-1} + (1 - z) * h_hat
            c_new = None
        else:
            h_new = act(g["a"])  # h_t = tanh(a_t)
            c_new = None
        keep = part.mask[:, t, None]
        out = np.where(keep, h_new, prev_out)
        h = np.where(keep, h_new, h)
        if c is not None:
            c = np.where(keep, c_new, c)
        prev_out = out
        hs.append(h)
        cs.append(c)
        outs.append(out)
    return np.stack(hs, 1), (np.stack(cs, 1) if c is not None else None), np.stack(outs, 1)


# ---------------------------------------------------------------------------------------------------------------------
# Trace consistency: single layers
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1", "simple_rnn"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_rebuilt_states_reproduce_layer_outputs(kind, go_backwards, masked, rng):
    layer = make_layer(kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(4, T, D)).astype("float32")
    mask = sample_mask(rng, 4, T) if masked else None
    layer(x)
    randomize(layer, rng)
    initial = [rng.normal(size=(4, U)).astype("float32") for _ in layer.cell.flat_state_sizes]
    expected = layer(x, initial_state=initial, mask=mask)  # (o, h[, c]); o in processing order
    tr = trace(layer, x, mask, initial_state=initial)
    part = tr[layer.name]
    assert isinstance(part, LayerTrace) and isinstance(part.forward if not go_backwards else part.backward,
                                                       CellTrace)
    h, c, outs = rebuild(part)
    order = part.processing_order
    np.testing.assert_allclose(outs, expected[0], atol=1e-6)  # rebuilt outputs == the layer's outputs
    np.testing.assert_allclose(h[:, -1], expected[1], atol=1e-6)
    np.testing.assert_allclose(part.h[:, order], h, atol=1e-6)  # the traced states are the rebuilt ones
    if kind == "lstm":
        np.testing.assert_allclose(c[:, -1], expected[2], atol=1e-6)
        np.testing.assert_allclose(part.c[:, order], c, atol=1e-6)
    np.testing.assert_allclose(part.outputs[:, order], expected[0], atol=1e-6)
    np.testing.assert_array_equal(part.mask, np.ones((4, T), bool) if mask is None else mask)
    np.testing.assert_array_equal(tr.outputs[0], part.outputs[:, order])  # from the traced run itself


def test_trace_values_come_from_the_run_that_made_the_outputs(rng):
    inputs = rnnlab.Input((T, D))
    model = rnnlab.Model(inputs, layers.LSTM(U, return_sequences=True, name="lstm")(inputs))
    randomize(model, rng)
    x = rng.normal(size=(2, T, D))
    tr = trace(model, x)
    np.testing.assert_allclose(tr.outputs, model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_array_equal(tr["lstm"].h, tr.outputs)  # the same arrays, not a second computation
    assert tr.inputs is x


@pytest.mark.parametrize("merge_mode", ["concat", "sum", None])
def test_bidirectional_trace_lines_up_with_outputs(merge_mode, rng):
    bidi = layers.Bidirectional(layers.LSTM(U, return_sequences=True, return_state=True), merge_mode=merge_mode)
    x = rng.normal(size=(3, T, D)).astype("float32")
    mask = sample_mask(rng, 3, T)
    bidi(x)
    randomize(bidi, rng)
    y = bidi(x, mask=mask)
    tr = trace(bidi, x, mask)
    lt = tr[bidi.name]
    assert lt.directions == ["forward", "backward"] and lt.class_name == "Bidirectional"
    fw, bw = lt.forward, lt.backward
    assert lt["forward"] is fw and lt["backward"] is bw and tr[bidi.name, "backward"] is bw
    assert tr[f"{bidi.name}/forward"] is fw
    assert not fw.go_backwards and bw.go_backwards
    np.testing.assert_array_equal(bw.processing_order, np.arange(T)[::-1])
    # Bidirectional zeroes the sequence output at masked steps; each direction's h is in time order.
    fw_seq = np.where(mask[..., None], fw.h, 0)
    bw_seq = np.where(mask[..., None], bw.h, 0)
    if merge_mode == "concat":
        np.testing.assert_allclose(y[0], np.concatenate([fw_seq, bw_seq], -1), atol=1e-6)
    elif merge_mode == "sum":
        np.testing.assert_allclose(y[0], fw_seq + bw_seq, atol=1e-6)
    else:
        np.testing.assert_allclose(y[0], fw_seq, atol=1e-6)
        np.testing.assert_allclose(y[1], bw_seq, atol=1e-6)
    np.testing.assert_allclose(fw.outputs, fw_seq, atol=1e-6)
    np.testing.assert_allclose(bw.outputs, bw_seq, atol=1e-6)
    # final states: the forward one ends at the last time step, the backward one at the first
    states = y[1:] if merge_mode is not None else y[2:]
    (fw_h, fw_c, _), (bw_h, bw_c, _) = rebuild(fw), rebuild(bw)  # processing order: [:, -1] is the last step
    for got, want in zip(states, [fw_h[:, -1], fw_c[:, -1], bw_h[:, -1], bw_c[:, -1]]):
        np.testing.assert_allclose(got, want, atol=1e-6)
    for part in (fw, bw):  # each direction rebuilds from its own gates
        h, _, _ = rebuild(part)
        np.testing.assert_allclose(part.h[:, part.processing_order], h, atol=1e-6)


def test_stacked_cells_trace_lines_up(rng):
    rnn = layers.RNN([layers.LSTMCell(U), layers.GRUCell(3), layers.SimpleRNNCell(2)], return_sequences=True,
                     return_state=True)
    x = rng.normal(size=(3, T, D)).astype("float32")
    mask = sample_mask(rng, 3, T)
    rnn(x)
    randomize(rnn, rng)
    y = rnn(x, mask=mask)
    lt = trace(rnn, x, mask)[rnn.name]
    assert list(lt.parts) == ["forward/0", "forward/1", "forward/2"]
    cells = lt.cells()
    assert [p.cell_type for p in cells] == ["LSTM", "GRU", "SimpleRNN"] and lt[1] is cells[1]
    assert lt["forward", 2] is cells[2]
    for k, part in enumerate(cells):
        h, c, outs = rebuild(part)
        np.testing.assert_allclose(part.h, h, atol=1e-6)
        if k < 2:  # a lower cell passes on its raw output: its h wherever the step counted
            np.testing.assert_allclose(part.outputs[mask], part.h[mask], atol=1e-6)
            # and the next cell's gates are computed from it: rebuild the next cell's pre-activations
            nxt = rnn.cell.cells[k + 1]
            prev_h = np.concatenate([cells[k + 1].h0[:, None], cells[k + 1].h[:, :-1]], 1)
            if k == 0:  # GRU, reset_after=True: pre[:, :2U] = x W + b_in + h_prev U + b_rec
                u = nxt.units
                xw = part.outputs @ nxt.kernel.value + nxt.bias.value[0]
                rh = prev_h @ nxt.recurrent_kernel.value + nxt.bias.value[1]
                np.testing.assert_allclose(cells[1].pre_activations[..., :2 * u], (xw + rh)[..., :2 * u],
                                           atol=1e-5)
    np.testing.assert_allclose(cells[-1].outputs, y[0], atol=1e-6)
    flat_final = [s for s in y[1:]]
    flat_final = [a for s in flat_final for a in (s if isinstance(s, (list, tuple)) else [s])]
    np.testing.assert_allclose(flat_final[0], rebuild(cells[0])[0][:, -1], atol=1e-6)
    np.testing.assert_allclose(flat_final[1], rebuild(cells[0])[1][:, -1], atol=1e-6)


def test_model_trace_of_stacked_layers_with_embedding_mask(rng):
    ids = rnnlab.Input((T,), dtype="int32")
    emb = layers.Embedding(10, D, mask_zero=True)(ids)
    first = layers.LSTM(U, return_sequences=True, name="first")(emb)
    second = layers.GRU(3, name="second")(first)
    model = rnnlab.Model(ids, layers.Dense(2)(second))
    randomize(model, rng)
    x = rng.integers(1, 10, size=(3, T))
    x[0, -3:] = 0
    tr = trace(model, x)
    assert tr.layers == ["first", "second"]
    np.testing.assert_array_equal(tr["first"].mask, x != 0)
    np.testing.assert_array_equal(tr["second"].mask, x != 0)  # the mask propagates through the stack
    np.testing.assert_allclose(tr.outputs, model.predict(x, verbose=0), atol=1e-6)
    # the second layer read the first layer's output sequence
    gru = model.get_layer("second").cell
    xw = tr["first"].outputs @ gru.kernel.value + gru.bias.value[0]
    h_prev = np.concatenate([tr["second"].h0[:, None], tr["second"].h[:, :-1]], 1)
    pre_z = xw[..., :3] + (h_prev @ gru.recurrent_kernel.value + gru.bias.value[1])[..., :3]
    np.testing.assert_allclose(tr["second"].z, 1 / (1 + np.exp(-pre_z)), atol=1e-5)
    h, _, outs = rebuild(tr["second"].forward)
    np.testing.assert_allclose(outs[:, -1], model.get_layer("second")(tr["first"].outputs, mask=x != 0), atol=1e-6)


def test_trace_of_seed_notebook_models(rng):
    x = rng.normal(size=(1, 8, 2))
    inputs = rnnlab.Input(shape=(8, 2))
    o, h, c = layers.LSTM(3, return_state=True, return_sequences=True)(inputs)
    model = rnnlab.Model(inputs, [o, h, c])
    tr = trace(model, x)
    o_, h_, c_ = tr.outputs
    lt = tr[tr.layers[0]]
    np.testing.assert_allclose(lt.h, o_, atol=1e-7)
    np.testing.assert_allclose(lt.h[:, -1], h_, atol=1e-7)  # h == o[:, -1]
    np.testing.assert_allclose(lt.c[:, -1], c_, atol=1e-7)  # c is the last cell state


def test_trace_leaves_stateful_state_alone(rng):
    layer = layers.LSTM(U, stateful=True, return_sequences=True)
    x = rng.normal(size=(2, T, D))
    layer(x)
    before = [s.copy() for s in layer.states]
    tr = trace(layer, x)
    for a, b in zip(before, layer.states):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(tr[layer.name].h0, before[0])  # it started from the stored state
    assert "run" not in vars(layer)  # the interception is gone


def test_to_dict_and_arrays(rng):
    inputs = rnnlab.Input((T, D))
    y = layers.Bidirectional(layers.GRU(U, return_sequences=True), name="bi")(inputs)
    y = layers.SimpleRNN(2, name="srnn")(y)
    model = rnnlab.Model(inputs, y)
    tr = trace(model, rng.normal(size=(2, T, D)))
    assert isinstance(tr, ModelTrace) and len(tr) == 2 and list(tr) == ["bi", "srnn"]
    d = tr.to_dict()
    assert type(d) is dict and set(d) == {"bi", "srnn"} and set(d["bi"]) == {"forward", "backward"}
    assert set(d["bi"]["forward"]) == {"z", "r", "h_hat", "pre_activations", "h", "outputs", "mask", "h0",
                                       "processing_order"}
    assert set(d["srnn"]["forward"]) >= {"a", "h", "mask"}
    for part in d.values():
        for fields in part.values():
            assert all(type(v) is np.ndarray for v in fields.values())
    assert d["bi"]["backward"]["z"].shape == (2, T, U)
    flat = tr.to_arrays()
    assert flat["srnn/forward/a"].shape == (2, T, 2)
    np.testing.assert_array_equal(flat["bi/backward/h"], tr["bi"].backward.h)
    assert tr["srnn"].a is tr["srnn"].forward.gates["a"]
    assert "bi/forward" in repr(tr)


def test_trace_index_errors_name_the_choices(rng):
    inputs = rnnlab.Input((T, D))
    model = rnnlab.Model(inputs, layers.Bidirectional(layers.LSTM(U), name="bi")(inputs))
    tr = trace(model, rng.normal(size=(1, T, D)))
    with pytest.raises(KeyError, match="traced layers"):
        tr["nope"]
    with pytest.raises(AttributeError, match="select one first"):
        tr["bi"].h
    with pytest.raises(AttributeError, match="its gates are"):
        tr["bi"].forward.z
    with pytest.raises(KeyError, match="no part"):
        tr["bi"]["sideways"]


# ---------------------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------------------


def test_trace_model_without_recurrent_layer():
    inputs = rnnlab.Input((T, D))
    model = rnnlab.Model(inputs, layers.TimeDistributed(layers.Dense(2))(inputs))
    with pytest.raises(ValueError, match="no recurrent layer to trace.*time_distributed"):
        trace(model, np.zeros((1, T, D)))


def test_trace_rejects_non_layers_and_non_recurrent_layers():
    with pytest.raises(TypeError, match="model_or_layer"):
        trace("model.keras", np.zeros((1, T, D)))
    with pytest.raises(ValueError, match="not a recurrent layer"):
        trace(layers.Dense(3), np.zeros((1, T, D)))


def test_trace_wrong_input_shape_is_a_clear_error():
    inputs = rnnlab.Input((T, D))
    model = rnnlab.Model(inputs, layers.LSTM(U)(inputs))
    with pytest.raises(ValueError, match="must have shape"):
        trace(model, np.zeros((1, T, D + 1)))
    with pytest.raises(ValueError, match="mask"):
        trace(model, np.zeros((1, T, D)), mask=np.ones((1, T + 1), bool))


# ---------------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------------


def test_saturation_shares():
    assert saturation(np.array([0.0, 0.01, 0.5, 0.97, 0.99]), eps=0.05) == (0.4, 0.4)
    assert saturation(np.array([-0.99, 0.0, 0.3])) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert all(np.isnan(saturation(np.array([2.0, 0.1]))))  # unbounded


def test_statistics_tables(rng):
    inputs = rnnlab.Input((T, D))
    y = layers.LSTM(U, return_sequences=True, name="lstm")(inputs)
    y = layers.GRU(3, name="gru")(y)
    model = rnnlab.Model(inputs, y)
    randomize(model, rng, scale=1.5)
    x = rng.normal(size=(3, T, D))
    mask = sample_mask(rng, 3, T)
    tr = trace(model, x, mask)
    st = statistics(tr)
    gates = st.gates.records()
    f_row = next(r for r in gates if r["layer"] == "lstm" and r["gate"] == "f")
    f = tr["lstm"].f[mask]  # only the steps that counted
    assert f_row["mean"] == pytest.approx(f.mean())
    assert f_row["near_0"] == pytest.approx(np.mean(f < 0.05))
    assert f_row["near_1"] == pytest.approx(np.mean(f > 0.95))
    assert f_row["saturated"] == pytest.approx(f_row["near_0"] + f_row["near_1"])
    units = st.units.to_dict()
    lstm_rows = units["layer"] == "lstm"
    np.testing.assert_allclose(units["forget_mean"][lstm_rows], tr["lstm"].f[mask].mean(0))
    np.testing.assert_allclose(units["mean_abs_h"][lstm_rows], np.abs(tr["lstm"].h[mask]).mean(0), rtol=1e-6)
    gru_rows = units["layer"] == "gru"
    np.testing.assert_allclose(units["forget_mean"][gru_rows], tr["gru"].z[mask].mean(0), rtol=1e-6)  # float32 sums; the GRU's keep gate
    norms = st.norms.records()
    c_row = next(r for r in norms if r["layer"] == "lstm" and r["state"] == "c")
    series = np.linalg.norm(tr["lstm"].c, axis=-1).mean(0)
    assert c_row["first"] == pytest.approx(series[0]) and c_row["last"] == pytest.approx(series[-1])
    assert c_row["growth"] == pytest.approx(series[-1] / series[0])
    np.testing.assert_allclose(st.norm_series["lstm/forward"]["c"], series, rtol=1e-6)
    assert len(st.norms) == 3  # lstm h, lstm c, gru h
    text = st.to_text()
    assert "Gate activations and saturation" in text and "forget_mean" in text
    assert "<table>" in st.to_html()
    assert set(st.to_dict()) == {"gates", "units", "norms", "norm_series"}


def test_statistics_simple_rnn_pre_activation_has_no_saturation(rng):
    layer = layers.SimpleRNN(U, return_sequences=True)
    st = statistics(trace(layer, rng.normal(size=(2, T, D))))
    a_row = next(r for r in st.gates.records() if r["gate"] == "a")
    assert np.isnan(a_row["near_0"]) and np.isnan(a_row["near_1"])
    assert np.isnan(st.units.column("forget_mean")).all()  # a SimpleRNN has no forget gate
    assert "-" in st.gates.to_text()
    with pytest.raises(ValueError, match="eps"):
        statistics(trace(layer, rng.normal(size=(2, T, D))), eps=0.7)


def test_table_basics():
    table = Table("t", ("name", "value"), [("a", 1.0), ("b", float("nan"))])
    assert table.to_dict()["name"].tolist() == ["a", "b"]
    assert "-" in table.to_text() and "1.000" in str(table)
    with pytest.raises(KeyError, match="columns"):
        table.column("nope")


# ---------------------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------------------


def test_import_and_trace_do_not_import_matplotlib():
    code = ("import sys, numpy as np, rnnlab\n"
            "from rnnlab import inspect\n"
            "layer = rnnlab.layers.LSTM(2, return_sequences=True)\n"
            "tr = inspect.trace(layer, np.ones((1, 3, 2)))\n"
            "inspect.statistics(tr)\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def plotted(request):
    from tests.support.reference import require

    require("matplotlib")
    rng = np.random.default_rng(5)
    inputs = rnnlab.Input((T, D))
    y = layers.Masking()(inputs)
    y = layers.LSTM(U, return_sequences=True, name="lstm")(y)
    y = layers.Bidirectional(layers.GRU(3, return_sequences=True), name="bi")(y)
    model = rnnlab.Model(inputs, y)
    randomize(model, rng)
    x = rng.normal(size=(2, T, D))
    x[1, -2:] = 0
    return trace(model, x)


def test_plots_return_figures(plotted, tmp_path):
    from matplotlib.figure import Figure

    from rnnlab.inspect import plot_bidirectional, plot_gates, plot_state_norms, plot_states

    figures = [plot_gates(plotted["lstm"]), plot_gates(plotted["bi"]["backward"], sample=1, gates=["z"],
                                                       states=False),
               plot_states(plotted["lstm"], units=[0, 2]), plot_states(plotted["bi"].forward, units=1),
               plot_bidirectional(plotted["bi"], sample=1), plot_state_norms(plotted),
               plot_state_norms(statistics(plotted))]
    for k, fig in enumerate(figures):
        assert isinstance(fig, Figure)
        path = tmp_path / f"{k}.png"
        fig.savefig(path)
        assert path.stat().st_size > 1000
    assert len(figures[0].axes) == 2 * 6  # i, f, c_hat, o, h, c, each with a colorbar
    assert len(figures[4].axes) == 2 * 2 * 4  # forward and backward: z, r, h_hat, h


def test_plot_errors(plotted):
    from rnnlab.inspect import plot_bidirectional, plot_gates, plot_states

    with pytest.raises(ValueError, match="sample"):
        plot_gates(plotted["lstm"], sample=5)
    with pytest.raises(ValueError, match="Unknown gate"):
        plot_gates(plotted["lstm"], gates=["z"])
    with pytest.raises(ValueError, match="plot_bidirectional"):
        plot_gates(plotted["bi"])
    with pytest.raises(ValueError, match="Bidirectional"):
        plot_bidirectional(plotted["lstm"])
    with pytest.raises(ValueError, match="units"):
        plot_states(plotted["lstm"], units=[7])
    with pytest.raises(TypeError, match="CellTrace"):
        plot_gates(np.zeros((2, 3)))
