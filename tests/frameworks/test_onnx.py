"""ONNX export and import (``rnnlab.convert.to_onnx`` / ``from_onnx``).

* rnnlab -> ONNX -> onnxruntime: LSTM, GRU (reset_after True and False), SimpleRNN; go_backwards,
  Bidirectional (every merge mode), stacks, Dense on top, return_sequences both ways, return_state,
  initial_state inputs, right-padded masks (Masking, Embedding(mask_zero)), non-default activations.  Every other
  mask pattern, and Keras-written files, against Keras itself: test_onnx_masks.py.  The checker passes and
  onnxruntime's outputs equal rnnlab's to 1e-5.  Every exported file also comes back through ``from_onnx``.
* torch.onnx.export (nn.LSTM/GRU/RNN + Linear) -> from_onnx -> the same outputs as torch.
* Unknown operators, damaged files and constructs without an exact ONNX form raise ValueError.
"""
import warnings

import numpy as np
import pytest

import rnnlab
from rnnlab import layers as L
from tests.support.reference import random_weights, require

ATOL = 1e-5
B, T, F, H = 3, 6, 5, 4


@pytest.fixture(scope="module")
def onnx():
    return require("onnx")


@pytest.fixture(scope="module")
def ort():
    return require("onnxruntime")


def randomize(model, seed=0):
    model.set_weights(random_weights(model.get_weights(), np.random.default_rng(seed)))
    return model


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0


def run_ort(ort, path, inputs):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: v for i, v in zip(sess.get_inputs(), inputs)})


def check_roundtrip(onnx, ort, model, inputs, tmp_path, opset=17):
    """Export, check, run in onnxruntime and back in rnnlab; everything must equal rnnlab's outputs."""
    from rnnlab.convert import from_onnx, to_onnx

    path = tmp_path / "model.onnx"
    proto = to_onnx(model, path, opset=opset)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert proto.opset_import[0].version == opset
    expected = as_list(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))
    got = run_ort(ort, path, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        assert maxdiff(g, e) <= ATOL
    back = as_list(from_onnx(path)(*inputs))
    for g, e in zip(back, expected):
        assert g.shape == e.shape and maxdiff(g, e) <= ATOL
    return proto


def recurrent(kind, units=H, **kw):
    if kind == "lstm":
        return L.LSTM(units, **kw)
    if kind == "gru":
        return L.GRU(units, **kw)
    if kind == "gru_reset_before":
        return L.GRU(units, reset_after=False, **kw)
    return L.SimpleRNN(units, **kw)


KINDS = ["lstm", "gru", "gru_reset_before", "simple_rnn"]
N_STATES = {"lstm": 2, "gru": 1, "gru_reset_before": 1, "simple_rnn": 1}


@pytest.fixture
def x(rng):
    return rng.normal(size=(B, T, F)).astype(np.float32)


@pytest.fixture
def x_padded(x):
    """Right-padded sequences (lengths 4, 1, 0... and 6) for Masking."""
    xm = np.concatenate([x, x[:1]])
    xm[0, 4:] = 0
    xm[1, 1:] = 0
    xm[2] = 0
    return xm


# ------------------------------------------------------------------------------------------ rnnlab -> ONNX
LAYOUTS = {
    "sequence": lambda k: [recurrent(k, return_sequences=True)],
    "last": lambda k: [recurrent(k)],
    "backwards_sequence": lambda k: [recurrent(k, return_sequences=True, go_backwards=True)],
    "backwards_last": lambda k: [recurrent(k, go_backwards=True)],
    "bidirectional_concat": lambda k: [L.Bidirectional(recurrent(k, return_sequences=True))],
    "bidirectional_sum_last": lambda k: [L.Bidirectional(recurrent(k), merge_mode="sum")],
    "bidirectional_ave": lambda k: [L.Bidirectional(recurrent(k, return_sequences=True), merge_mode="ave")],
    "bidirectional_mul_last": lambda k: [L.Bidirectional(recurrent(k), merge_mode="mul")],
    "stack_dense": lambda k: [recurrent(k, return_sequences=True), L.Bidirectional(recurrent(k, 3)),
                              L.Dense(2, activation="softmax")],
    "sequence_dense": lambda k: [recurrent(k, return_sequences=True), L.Dropout(0.5),
                                 L.TimeDistributed(L.Dense(2, activation="tanh"))],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kind", KINDS)
def test_export_matches_onnxruntime(onnx, ort, tmp_path, x, kind, layout):
    model = randomize(rnnlab.Sequential([L.Input((None, F))] + LAYOUTS[layout](kind)))
    proto = check_roundtrip(onnx, ort, model, [x], tmp_path)
    op = {"lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU", "simple_rnn": "RNN"}[kind]
    nodes = [n for n in proto.graph.node if n.op_type == op]
    assert nodes, f"no standard {op} operator in the graph"
    if kind.startswith("gru"):
        lbr = [a.i for a in nodes[0].attribute if a.name == "linear_before_reset"]
        assert lbr == [0 if kind == "gru_reset_before" else 1]


@pytest.mark.parametrize("kind", KINDS)
def test_export_return_state_and_initial_state(onnx, ort, tmp_path, rng, x, kind):
    n = N_STATES[kind]
    inp = rnnlab.Input((None, F), name="seq")
    states = [rnnlab.Input((H,), name=f"s{i}") for i in range(2 * n)]
    y, *fw_states = recurrent(kind, return_sequences=True, return_state=True)(inp, initial_state=states[:n])
    merged, *bi_states = L.Bidirectional(recurrent(kind, return_state=True), merge_mode=None)(y, initial_state=states)
    model = randomize(rnnlab.Model([inp] + states, [y] + fw_states + [merged] + bi_states))
    init = [rng.uniform(-0.9, 0.9, (B, H)).astype(np.float32) for _ in states]
    proto = check_roundtrip(onnx, ort, model, [x] + init, tmp_path)
    assert [i.name for i in proto.graph.input] == ["seq"] + [f"s{i}" for i in range(2 * n)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["sequence", "last", "backwards_sequence", "backwards_last",
                                   "bidirectional_sequence", "bidirectional_last", "stack_state"])
def test_export_masks_right_padded(onnx, ort, tmp_path, x_padded, kind, where):
    """Masks become sequence_lens; where Keras repeats the previous output, the graph does too."""
    layer = {
        "sequence": lambda: recurrent(kind, return_sequences=True),
        "last": lambda: recurrent(kind),
        "backwards_sequence": lambda: recurrent(kind, return_sequences=True, go_backwards=True),
        "backwards_last": lambda: recurrent(kind, go_backwards=True),
        "bidirectional_sequence": lambda: L.Bidirectional(recurrent(kind, return_sequences=True)),
        "bidirectional_last": lambda: L.Bidirectional(recurrent(kind)),
        "stack_state": None,
    }[where]
    if layer is None:
        stack = [recurrent(kind, return_sequences=True), recurrent(kind, 3, return_state=True)]
    else:
        stack = [layer(), L.Dense(2)]
    model = randomize(rnnlab.Sequential([L.Input((None, F)), L.Masking()] + stack))
    proto = check_roundtrip(onnx, ort, model, [x_padded], tmp_path)
    rec = [n for n in proto.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    assert all(len(n.input) > 4 and n.input[4] for n in rec), "sequence_lens not used"


def test_export_embedding_mask_zero(onnx, ort, tmp_path):
    ids = np.array([[3, 4, 1, 0, 0], [2, 0, 0, 0, 0], [5, 6, 7, 8, 9]], np.int64)
    model = randomize(rnnlab.Sequential([L.Input((None,), dtype="int64"), L.Embedding(10, F, mask_zero=True),
                                         L.Bidirectional(L.LSTM(H, return_sequences=True)), L.GRU(3),
                                         L.Dense(2, activation="sigmoid")]))
    proto = check_roundtrip(onnx, ort, model, [ids], tmp_path)
    assert "Gather" in {n.op_type for n in proto.graph.node}


ACTIVATIONS = [
    ("lstm", {"recurrent_activation": "hard_sigmoid"}),
    ("lstm", {"activation": "relu", "recurrent_activation": "linear"}),
    ("gru", {"activation": "softsign", "recurrent_activation": "hard_sigmoid_tf2"}),
    ("gru_reset_before", {"activation": "elu"}),
    ("simple_rnn", {"activation": "leaky_relu"}),
    ("simple_rnn", {"activation": "softplus"}),
]


@pytest.mark.parametrize("kind,kwargs", ACTIVATIONS)
def test_export_recurrent_activations(onnx, ort, tmp_path, x, kind, kwargs):
    model = randomize(rnnlab.Sequential([L.Input((None, F)),
                                         L.Bidirectional(recurrent(kind, return_sequences=True, **kwargs))]))
    proto = check_roundtrip(onnx, ort, model, [x], tmp_path)
    node = next(n for n in proto.graph.node if n.op_type in ("LSTM", "GRU", "RNN"))
    assert "activations" in {a.name for a in node.attribute}


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "elu", "selu", "softplus", "softsign", "gelu", "silu",
                                        "hard_silu", "mish", "log_softmax", "relu6", "leaky_relu", "exponential"])
def test_export_dense_activations(onnx, ort, tmp_path, x, activation):
    model = randomize(rnnlab.Sequential([L.Input((None, F)), L.LSTM(H), L.Dense(3, activation=activation)]))
    check_roundtrip(onnx, ort, model, [x], tmp_path)


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_export_opsets(onnx, ort, tmp_path, x_padded, opset):
    model = randomize(rnnlab.Sequential([L.Input((None, F)), L.Masking(), L.GRU(H, return_sequences=True),
                                         L.Bidirectional(L.LSTM(H)), L.Dense(2)]))
    check_roundtrip(onnx, ort, model, [x_padded], tmp_path, opset=opset)


def test_export_refusals(onnx, tmp_path):
    from rnnlab.convert import to_onnx

    def seq(*layer_list, batch=None):
        return randomize(rnnlab.Sequential([L.Input(batch_shape=(batch, None, F))] + list(layer_list)))

    cases = {
        "stateful": seq(L.LSTM(H, stateful=True), batch=2),
        "StackedRNNCells": seq(L.RNN([L.LSTMCell(H), L.LSTMCell(H)])),
        "activation 'gelu' is not among": seq(L.LSTM(H, activation="gelu")),
        "different activation_alpha": seq(L.LSTM(H, activation="leaky_relu", recurrent_activation="hard_sigmoid")),
        "differ in kind or units": seq(L.Bidirectional(L.LSTM(H), backward_layer=L.LSTM(H + 1, go_backwards=True))),
        "has no ONNX export": seq(L.Dense(3, activation="hard_shrink")),
    }
    for message, model in cases.items():
        with pytest.raises(ValueError, match=message):
            to_onnx(model, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="opset"):
        to_onnx(seq(L.LSTM(H)), opset=9)
    with pytest.raises(ValueError, match="built"):
        to_onnx(rnnlab.Sequential([L.LSTM(H)]))
    assert not (tmp_path / "x.onnx").exists()


# ------------------------------------------------------------------------------------------ torch -> ONNX -> rnnlab
def torch_export(torch, module, args, path, names, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, input_names=names, **kwargs)


def _randomize_torch(torch, module, rng):
    with torch.no_grad():
        for p in module.parameters():
            (v,) = random_weights([p.detach().numpy()], rng)
            p.copy_(torch.from_numpy(v))
    return module.eval()


TORCH_CASES = [("LSTM", {}), ("GRU", {}), ("RNN", {"nonlinearity": "relu"}), ("RNN", {"nonlinearity": "tanh"})]


@pytest.mark.parametrize("cls,kwargs", TORCH_CASES)
def test_import_torch_export_with_linear_head(onnx, torch, rng, tmp_path, cls, kwargs):
    from rnnlab.convert import from_onnx

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(torch.nn, cls)(F, H, num_layers=2, bidirectional=True, batch_first=True, **kwargs)
            self.fc = torch.nn.Linear(2 * H, 3)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.fc(y), self.fc(y[:, -1])

    net = _randomize_torch(torch, Net(), rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    torch_export(torch, net, (torch.from_numpy(x),), tmp_path / "t.onnx", ["x"],
                 dynamic_axes={"x": {0: "batch", 1: "time"}})
    model = from_onnx(tmp_path / "t.onnx")
    assert len(model.layers) == 4  # 2 layers x 2 directions, as rnnlab recurrent layers
    expected_class = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN"}[cls]
    assert all(type(layer).__name__ == expected_class for layer in model.layers)
    x2 = rng.normal(size=(B + 1, T + 2, F)).astype(np.float32)  # other batch and length: dynamic axes work
    for inp in (x, x2):
        with torch.no_grad():
            expected = [o.numpy() for o in net(torch.from_numpy(inp))]
        got = model(inp)
        assert len(got) == 2
        for g, e in zip(got, expected):
            assert g.shape == e.shape and maxdiff(g, e) <= ATOL


def test_import_torch_export_states_and_time_major(onnx, torch, rng, tmp_path):
    from rnnlab.convert import from_onnx

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(F, H, num_layers=2)  # time-major

        def forward(self, x, h0, c0):
            y, (h, c) = self.rnn(x, (h0, c0))
            return y, h, c

    net = _randomize_torch(torch, Net(), rng)
    args = [rng.normal(size=(T, B, F)).astype(np.float32), rng.normal(size=(2, B, H)).astype(np.float32),
            rng.normal(size=(2, B, H)).astype(np.float32)]
    torch_export(torch, net, tuple(torch.from_numpy(a) for a in args), tmp_path / "s.onnx", ["x", "h0", "c0"])
    model = from_onnx(tmp_path / "s.onnx")
    assert model.input_names == ["x", "h0", "c0"]
    with torch.no_grad():
        expected = [o.numpy() for o in net(*(torch.from_numpy(a) for a in args))]
    for g, e in zip(model(*args), expected):
        assert maxdiff(g, e) <= ATOL
    for g, e in zip(model({"x": args[0], "h0": args[1], "c0": args[2]}), expected):
        assert maxdiff(g, e) <= ATOL

    gru = _randomize_torch(torch, torch.nn.GRU(F, H, bias=False, batch_first=True), rng)
    x = args[0].swapaxes(0, 1).copy()
    torch_export(torch, gru, (torch.from_numpy(x),), tmp_path / "g.onnx", ["x"])
    with torch.no_grad():
        y, h = gru(torch.from_numpy(x))
    got = from_onnx(tmp_path / "g.onnx")(x)
    assert maxdiff(got[0], y.numpy()) <= ATOL and maxdiff(got[1], h.numpy()) <= ATOL


# ------------------------------------------------------------------------------------------ import: hand-made graphs
def _graph(onnx, nodes, inputs, outputs, initializers=(), opset=17):
    h = onnx.helper
    graph = h.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def _lstm_graph(onnx, rng, layout=0, **attrs):
    h, nh = onnx.helper, onnx.numpy_helper
    w = rng.uniform(-0.5, 0.5, (2, 4 * H, F)).astype(np.float32)
    r = rng.uniform(-0.5, 0.5, (2, 4 * H, H)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, (2, 8 * H)).astype(np.float32)
    node = h.make_node("LSTM", ["X", "W", "R", "B", "L"], ["Y", "Yh", "Yc"], hidden_size=H,
                       direction="bidirectional", layout=layout, **attrs)
    x_shape = ["t", "b", F] if layout == 0 else ["b", "t", F]
    return _graph(onnx, [node], [h.make_tensor_value_info("X", onnx.TensorProto.FLOAT, x_shape),
                                 h.make_tensor_value_info("L", onnx.TensorProto.INT32, ["b"])],
                  [h.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, ["a", "b", "c", H]),
                   h.make_tensor_value_info("Yh", onnx.TensorProto.FLOAT, ["d", "e", H]),
                   h.make_tensor_value_info("Yc", onnx.TensorProto.FLOAT, ["d", "e", H])],
                  [nh.from_array(w, "W"), nh.from_array(r, "R"), nh.from_array(b, "B")], opset=14)


@pytest.mark.parametrize("layout", [0, 1])
def test_import_sequence_lens_against_onnxruntime(onnx, ort, rng, tmp_path, layout):
    """ONNX's own semantics (zeros past the length, reverse direction inside the length) against onnxruntime;
    layout=1 runs only in rnnlab (onnxruntime does not implement it) and must equal layout 0 transposed."""
    from rnnlab.convert import from_onnx

    x = rng.normal(size=(T, B, F)).astype(np.float32)
    lens = np.array([T, 2, 0], np.int32)
    proto0 = _lstm_graph(onnx, np.random.default_rng(5), layout=0)
    (tmp_path / "l.onnx").write_bytes(proto0.SerializeToString())
    expected = run_ort(ort, tmp_path / "l.onnx", [x, lens])
    if layout == 0:
        got = from_onnx(proto0)(x, lens)
    else:
        got = from_onnx(_lstm_graph(onnx, np.random.default_rng(5), layout=1))(x.swapaxes(0, 1), lens)
        got = [got[0].transpose(1, 2, 0, 3), got[1].swapaxes(0, 1), got[2].swapaxes(0, 1)]
    for g, e in zip(got, expected):
        assert g.shape == e.shape and maxdiff(g, e) <= ATOL


def test_import_refusals(onnx, rng):
    from rnnlab.convert import from_onnx

    for attrs, message in [({"clip": 3.0}, "clip"), ({"input_forget": 1}, "input_forget"),
                           ({"activations": ["Sigmoid", "Tanh", "Relu"] * 2}, "Keras's LSTM uses one"),
                           ({"activations": ["Affine", "Tanh", "Tanh"] * 2}, "default differs"),
                           ({"activations": ["HardSigmoid", "Tanh", "Tanh", "LeakyRelu", "Tanh", "Tanh"],
                             "activation_alpha": [0.3, 0.7, 0.7, 0.1, 0.7, 0.7]}, "ambiguous")]:
        with pytest.raises(ValueError, match=message):
            from_onnx(_lstm_graph(onnx, rng, **attrs))


def test_import_unknown_operator(onnx):
    from rnnlab.convert import from_onnx

    h = onnx.helper
    vi = [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3]),
          h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])]
    model = _graph(onnx, [h.make_node("Hardmax", ["x"], ["y"])], vi[:1], vi[1:])
    with pytest.raises(ValueError, match="Hardmax"):
        from_onnx(model)
    custom = _graph(onnx, [h.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], vi[:1], vi[1:])
    custom.opset_import.append(h.make_opsetid("com.example", 1))
    with pytest.raises(ValueError, match="Frobnicate"):
        from_onnx(custom)


def test_import_damaged_files(onnx, tmp_path, x):
    from rnnlab.convert import from_onnx, to_onnx

    model = randomize(rnnlab.Sequential([L.Input((None, F)), L.GRU(H), L.Dense(2)]))
    data = to_onnx(model).SerializeToString()
    bad = {
        "empty.onnx": b"",
        "garbage.onnx": b"\xff\xfe not a protobuf \x00\x01" * 10,
        "truncated.onnx": data[: len(data) // 2],
    }
    for name, content in bad.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError):
            from_onnx(tmp_path / name)
    # a structurally valid protobuf whose graph uses a tensor nobody produces
    h = onnx.helper
    dangling = _graph(onnx, [h.make_node("Relu", ["nowhere"], ["y"])],
                      [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
                      [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])])
    with pytest.raises(ValueError):
        from_onnx(dangling)
    with pytest.raises(ValueError, match="never produced"):
        from_onnx(dangling, check=False)
    with pytest.raises(ValueError, match="No such file"):
        from_onnx(tmp_path / "missing.onnx")
    # wrong input shape at call time
    with pytest.raises(ValueError, match="shape"):
        from_onnx(data)(x[..., :3])


def test_convert_and_describe_onnx(onnx, ort, torch, rng, tmp_path, x):
    from rnnlab.convert import convert_file, describe_file, save_safetensors

    net = torch.nn.GRU(F, H, num_layers=2, batch_first=True, bidirectional=True)
    save_safetensors(net.state_dict(), tmp_path / "g.safetensors")
    model = convert_file(tmp_path / "g.safetensors", tmp_path / "g.onnx")
    got = run_ort(ort, tmp_path / "g.onnx", [x])[0]
    with torch.no_grad():
        _, h = net(torch.from_numpy(x))
    assert maxdiff(got, np.concatenate([h[-2].numpy(), h[-1].numpy()], -1)) <= ATOL
    assert maxdiff(got, model.predict(x, verbose=0)) <= ATOL
    text = describe_file(tmp_path / "g.onnx")
    assert "GRU" in text and "hidden_size=4" in text and "direction=bidirectional" in text
    assert f"{sum(p.numel() for p in net.parameters()):,}" in text
    with pytest.raises(ValueError, match="not a Keras layer stack"):
        convert_file(tmp_path / "g.onnx", tmp_path / "g2.safetensors")
