"""PyTorch <-> rnnlab conversion (``rnnlab.convert``) and the NumPy-only ``.safetensors`` reader/writer.

* PyTorch module (random weights, ``bias_ih`` and ``bias_hh`` distinct and non-zero) -> rnnlab -> PyTorch,
  for nn.LSTM / nn.GRU / nn.RNN (tanh, relu), num_layers 1-3, uni- and bidirectional, with a Linear head:
  every hop gives the same outputs (1e-5).
* The same through ``.safetensors`` files read in a subprocess where torch is never imported.
* The safetensors format: round trips, interop with the ``safetensors`` package and torch, and strict rejection
  of damaged files.
* Refusals: every construct without an exact PyTorch equivalent raises ValueError.
"""
import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rnnlab
from rnnlab import layers as L
from rnnlab.convert import safetensors as st
from tests.support.reference import random_weights, require

ATOL = 1e-5
B, T, F, H, OUT = 3, 6, 5, 4, 3
CASES = [(kind, n, bi) for kind in ("lstm", "gru", "rnn_tanh", "rnn_relu") for n in (1, 2, 3) for bi in (False, True)]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------------------------------ helpers
def make_torch(torch, kind, num_layers, bidirectional, rng, head=True, return_sequences=False, bias=True):
    """A module with Keras semantics: recurrent stack, then Linear on the final hidden state(s) (or on every
    step with return_sequences); random U(-0.5, 0.5) weights with |v| >= 0.05."""
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            kw = {}
            if kind.startswith("rnn"):
                cls, kw["nonlinearity"] = nn.RNN, kind.split("_")[1]
            else:
                cls = {"lstm": nn.LSTM, "gru": nn.GRU}[kind]
            self.rnn = cls(F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, bias=bias, **kw)
            self.fc = nn.Linear(H * (2 if bidirectional else 1), OUT) if head else None

        def forward(self, x):
            y, state = self.rnn(x)
            h = state[0] if isinstance(state, tuple) else state
            if return_sequences:
                out = y
            else:
                out = torch.cat([h[-2], h[-1]], -1) if bidirectional else h[-1]
            return self.fc(out) if self.fc is not None else out

    net = Net().eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            (v,) = random_weights([p.detach().numpy()], rng)
            p.copy_(torch.from_numpy(v))
    return net


def assert_distinct_biases(state_dict):
    """bias_ih and bias_hh are both non-zero and differ: a converter dropping either cannot pass."""
    names = [k for k in state_dict if "bias_ih" in k]
    for k in names:
        b_ih, b_hh = np.asarray(state_dict[k]), np.asarray(state_dict[k.replace("bias_ih", "bias_hh")])
        assert np.all(b_ih != 0) and np.all(b_hh != 0)
        assert not np.allclose(b_ih, b_hh), k


def torch_out(torch, net, x):
    with torch.no_grad():
        out = net(torch.from_numpy(x))
    return [o.numpy() for o in out] if isinstance(out, tuple) else out.numpy()


def sd_numpy(net):
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture
def x(rng):
    return rng.normal(size=(B, T, F)).astype(np.float32)


# ------------------------------------------------------------------------------------------ torch <-> rnnlab
@pytest.mark.parametrize("kind,num_layers,bidirectional", CASES)
def test_torch_rnnlab_torch(torch, rng, x, kind, num_layers, bidirectional):
    from rnnlab.convert import from_torch, to_torch_module, to_torch_state_dict

    net = make_torch(torch, kind, num_layers, bidirectional, rng)
    assert_distinct_biases(sd_numpy(net))
    expected = torch_out(torch, net, x)

    model = from_torch(net)  # module: nonlinearity read from nn.RNN
    assert len([layer for layer in model.layers if not isinstance(layer, L.Dense)]) == num_layers
    assert maxdiff(model.predict(x, verbose=0), expected) <= ATOL
    assert maxdiff(model(x), expected) <= ATOL

    # back: state dict under torch's names, loaded into a fresh module of the same structure
    state = to_torch_state_dict(model)
    assert set(state) == set(net.state_dict())
    fresh = make_torch(torch, kind, num_layers, bidirectional, np.random.default_rng(1))
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    assert maxdiff(torch_out(torch, fresh, x), expected) <= ATOL
    # ... and as a live module built by rnnlab
    assert maxdiff(torch_out(torch, to_torch_module(model), x), expected) <= ATOL
    # GRU keeps both biases; LSTM/RNN store their sum in bias_ih
    original = sd_numpy(net)
    for k in (k for k in state if "bias_ih" in k):
        if kind == "gru":
            np.testing.assert_allclose(state[k], original[k], atol=0)
        else:
            np.testing.assert_allclose(state[k], original[k] + original[k.replace("bias_ih", "bias_hh")], atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_relu"])
def test_return_sequences_and_state_dict_input(torch, rng, x, kind):
    """A plain state dict of NumPy arrays (no module), return_sequences=True, Linear on every step."""
    from rnnlab.convert import from_torch_state_dict, infer_torch_spec

    net = make_torch(torch, kind, 2, True, rng, return_sequences=True)
    state = sd_numpy(net)
    spec = infer_torch_spec(state, nonlinearity="relu" if kind == "rnn_relu" else "tanh")
    assert (spec.num_layers, spec.bidirectional, spec.hidden_size, spec.input_size) == (2, True, H, F)
    assert spec.head == (2 * H, OUT, True) and spec.rnn_prefix == "rnn." and spec.head_prefix == "fc."
    model = from_torch_state_dict(state, spec, return_sequences=True)
    assert maxdiff(model.predict(x, verbose=0), torch_out(torch, net, x)) <= ATOL


def test_bare_module_no_bias_and_return_state(torch, rng, x):
    """A bare nn.LSTM state dict (keys without prefix), bias=False; return_state through to_torch_module."""
    from rnnlab.convert import from_torch, to_torch_module, to_torch_state_dict

    lstm = torch.nn.LSTM(F, H, num_layers=2, batch_first=True, bias=False)
    model = from_torch(lstm.state_dict())
    with torch.no_grad():
        y, (h, c) = lstm(torch.from_numpy(x))
    assert maxdiff(model.predict(x, verbose=0), h[-1].numpy()) <= ATOL
    assert sorted(to_torch_state_dict(model, rnn_prefix="")) == sorted(lstm.state_dict())

    inp = rnnlab.Input((None, F))
    out = L.LSTM(H, return_state=True)(inp)
    m = rnnlab.Model(inp, out)
    m.set_weights(random_weights(m.get_weights(), rng))
    got = torch_out(torch, to_torch_module(m), x)
    for a, b in zip(got, m.predict(x, verbose=0)):
        assert maxdiff(a, b) <= ATOL


def test_torch_state_dict_file_formats(torch, rng, x, tmp_path):
    """.pt and .safetensors files written by torch-side tools load with from_torch(path)."""
    from rnnlab.convert import from_torch

    net = make_torch(torch, "gru", 2, False, rng)
    expected = torch_out(torch, net, x)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    assert maxdiff(from_torch(tmp_path / "w.pt").predict(x, verbose=0), expected) <= ATOL
    st.save_safetensors(net.state_dict(), tmp_path / "w.safetensors")  # torch tensors accepted
    assert maxdiff(from_torch(str(tmp_path / "w.safetensors")).predict(x, verbose=0), expected) <= ATOL


# ------------------------------------------------------------------------------------------ without torch
_NO_TORCH_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from rnnlab.convert import from_torch, to_torch_state_dict, save_safetensors

    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        model = from_torch(job["path"], nonlinearity=job["nonlinearity"])
        x = np.load(job["x"])
        np.save(job["out"], model.predict(x, verbose=0))
        save_safetensors(to_torch_state_dict(model), job["back"], metadata={"format": "pt"})
    assert "torch" not in sys.modules, "torch was imported"
    assert "safetensors" not in sys.modules, "the safetensors package was imported"
    print("NO-TORCH-OK", len(jobs))
""")


def test_safetensors_files_without_torch(torch, rng, x, tmp_path):
    """torch -> .safetensors (written by torch/safetensors-side tools) -> rnnlab in a process that never imports
    torch -> .safetensors -> back into torch: the same outputs at every hop."""
    np.save(tmp_path / "x.npy", x)
    try:
        from safetensors.torch import load_file as ref_load
        from safetensors.torch import save_file as ref_save
    except ImportError:  # the reference package is optional: rnnlab's own writer stands in
        ref_save = ref_load = None
    jobs, nets = [], {}
    for kind, n, bi in [("lstm", 3, True), ("gru", 1, True), ("rnn_tanh", 2, False), ("rnn_relu", 2, True)]:
        name = f"{kind}_{n}_{bi}"
        net = make_torch(torch, kind, n, bi, rng)
        assert_distinct_biases(sd_numpy(net))
        nets[name] = (net, kind, n, bi)
        path = str(tmp_path / f"{name}.safetensors")
        if ref_save is not None:
            ref_save({k: v.contiguous() for k, v in net.state_dict().items()}, path)
        else:
            st.save_safetensors(net.state_dict(), path)
        jobs.append({"path": path, "nonlinearity": "relu" if kind == "rnn_relu" else "tanh",
                     "x": str(tmp_path / "x.npy"),
                     "out": str(tmp_path / f"{name}.npy"), "back": str(tmp_path / f"{name}_back.safetensors")})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH_SCRIPT, str(tmp_path / "jobs.json")], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "NO-TORCH-OK 4" in proc.stdout
    for job, (name, (net, kind, n, bi)) in zip(jobs, nets.items()):
        expected = torch_out(torch, net, x)
        assert maxdiff(np.load(job["out"]), expected) <= ATOL, name
        back = ref_load(job["back"]) if ref_load is not None else st.load_safetensors(job["back"])
        fresh = make_torch(torch, kind, n, bi, np.random.default_rng(2))
        fresh.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in back.items()}, strict=True)
        assert maxdiff(torch_out(torch, fresh, x), expected) <= ATOL, name


# ------------------------------------------------------------------------------------------ safetensors format
def test_safetensors_roundtrip_dtypes(tmp_path):
    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(2, 3), "f64": np.linspace(0, 1, 5),
        "f16": np.array([1.5, -2.25], np.float16), "i64": np.array([[1, -2]], np.int64),
        "i32": np.array([7], np.int32), "u8": np.arange(3, dtype=np.uint8), "b": np.array([True, False]),
        "scalar": np.array(3.5, np.float32), "empty": np.zeros((0, 4), np.float32),
    }
    path = tmp_path / "a.safetensors"
    st.save_safetensors(arrays, path, metadata={"format": "pt", "note": "x"})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert (8 + n) % 8 == 0  # data buffer aligned
    loaded = st.load_safetensors(path)
    assert set(loaded) == set(arrays)
    for k, v in arrays.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(loaded[k], v)
    header, meta = st.read_header(path)
    assert meta == {"format": "pt", "note": "x"} and header["f32"] == ("F32", (2, 3))
    loaded["f32"][0, 0] = 9  # writable copies
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]  # atomic write left nothing behind


def test_safetensors_interop_with_reference_package(tmp_path):
    ref = require("safetensors.numpy")
    arrays = {"w": np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32),
              "b": np.arange(4, dtype=np.float64), "i": np.array([1, 2, 3], np.int64)}
    ref.save_file(arrays, str(tmp_path / "ref.safetensors"), metadata={"k": "v"})
    ours = st.load_safetensors(tmp_path / "ref.safetensors")
    assert st.read_header(tmp_path / "ref.safetensors")[1] == {"k": "v"}
    st.save_safetensors(arrays, tmp_path / "ours.safetensors")
    theirs = ref.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in arrays.items():
        np.testing.assert_array_equal(ours[k], v)
        np.testing.assert_array_equal(theirs[k], v)


def test_safetensors_bf16_from_torch(torch, tmp_path):
    t = torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16)
    st.save_safetensors({"t": t}, tmp_path / "b.safetensors")
    assert st.read_header(tmp_path / "b.safetensors")[0]["t"] == ("BF16", (3,))
    got = st.load_safetensors(tmp_path / "b.safetensors")["t"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, t.float().numpy())


def _file(header, data=b"", raw_header=None, pad=True):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
DAMAGED = {
    "too short": b"\x01\x02",
    "header length past end": struct.pack("<Q", 1000) + b"{}",
    "huge header length": struct.pack("<Q", 2 ** 40) + b"{}",
    "not json": _file(None, raw_header=b"{not json"),
    "not an object": _file(None, raw_header=b"[1, 2]"),
    "not utf-8": _file(None, raw_header=b'{"\xff": 1}'),
    "duplicate names": _file(None, bytes(16), raw_header=b'{"a": ' + json.dumps(F32_2).encode() + b', "a": '
                             + json.dumps({"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}).encode() + b"}"),
    "missing key": _file({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)),
    "extra key": _file({"a": dict(F32_2, extra=1)}, bytes(8)),
    "unknown dtype": _file({"a": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, bytes(2)),
    "negative dim": _file({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8)),
    "float dim": _file({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}}, bytes(8)),
    "size mismatch": _file({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)),
    "out of range": _file({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, bytes(8)),
    "reversed offsets": _file({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}, bytes(8)),
    "overlap": _file({"a": F32_2, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
    "gap": _file({"a": F32_2, "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}, bytes(16)),
    "trailing bytes": _file({"a": F32_2}, bytes(12)),
    "bad metadata": _file({"__metadata__": {"k": 1}, "a": F32_2}, bytes(8)),
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_safetensors_rejects_damaged_files(tmp_path, name):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(DAMAGED[name])
    with pytest.raises(ValueError):
        st.load_safetensors(path)
    with pytest.raises(ValueError):
        st.read_header(path)


def test_safetensors_valid_minimal_and_write_errors(tmp_path):
    assert st.deserialize(_file({"a": F32_2}, struct.pack("<2f", 1, 2)))["a"].tolist() == [1.0, 2.0]
    assert st.deserialize(_file({}, pad=False)) == {}
    with pytest.raises(ValueError, match="reserved"):
        st.serialize({"__metadata__": np.zeros(1)})
    with pytest.raises(ValueError):
        st.serialize({"a": np.array(["text"])})
    with pytest.raises(ValueError):
        st.serialize({"a": np.zeros(2)}, metadata={"k": 1})
    with pytest.raises(ValueError, match="No such file"):
        st.load_safetensors(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------------ refusals
def _built(*layer_list, features=F):
    model = rnnlab.Sequential([L.Input((None, features))] + list(layer_list))
    model.set_weights(random_weights(model.get_weights(), np.random.default_rng(0)))
    return model


REFUSED_MODELS = {
    "gru reset_after=False": lambda: _built(L.GRU(H, reset_after=False)),
    "lstm relu activation": lambda: _built(L.LSTM(H, activation="relu")),
    "gru hard_sigmoid gate": lambda: _built(L.GRU(H, recurrent_activation="hard_sigmoid")),
    "simple_rnn sigmoid": lambda: _built(L.SimpleRNN(H, activation="sigmoid")),
    "bidirectional sum": lambda: _built(L.Bidirectional(L.LSTM(H), merge_mode="sum")),
    "bidirectional None": lambda: _built(L.Bidirectional(L.LSTM(H), merge_mode=None)),
    "masking": lambda: _built(L.Masking(), L.LSTM(H)),
    "embedding mask": lambda: rnnlab.Sequential([L.Input((None,)), L.Embedding(10, F, mask_zero=True), L.LSTM(H)]),
    "go_backwards": lambda: _built(L.LSTM(H, go_backwards=True)),
    "mixed kinds": lambda: _built(L.LSTM(H, return_sequences=True), L.GRU(H)),
    "mixed units": lambda: _built(L.LSTM(H, return_sequences=True), L.LSTM(H + 1)),
    "stateful": lambda: rnnlab.Sequential([L.Input(batch_shape=(2, None, F)), L.LSTM(H, stateful=True)]),
    "two heads": lambda: _built(L.LSTM(H), L.Dense(3), L.Dense(2)),
    "no recurrent layer": lambda: _built(L.Dense(3)),
    "peepholes": lambda: _built(L.LSTM(H, use_peepholes=True)),
}


@pytest.mark.parametrize("name", sorted(REFUSED_MODELS))
def test_refuses_models_without_exact_torch_equivalent(name):
    from rnnlab.convert import to_torch_state_dict

    model = REFUSED_MODELS[name]()
    with pytest.raises(ValueError) as info:
        to_torch_state_dict(model)
    assert len(str(info.value)) > 30  # says why


def test_refuses_torch_inputs_without_rnnlab_equivalent(torch):
    from rnnlab.convert import from_torch, from_torch_state_dict

    proj = torch.nn.LSTM(F, H, proj_size=2, batch_first=True)  # converts (tests/frameworks/test_lstm_variants.py)...
    bad = dict(proj.state_dict(), weight_hr_l0=torch.zeros(2, H + 1))  # ... unless its shapes disagree
    with pytest.raises(ValueError, match="weight_hr_l0"):
        from_torch_state_dict(bad)
    good = {k: v.numpy() for k, v in torch.nn.GRU(F, H).state_dict().items()}
    with pytest.raises(ValueError, match="tanh"):
        from_torch_state_dict(good, nonlinearity="relu")  # nn.GRU has no nonlinearity
    with pytest.raises(ValueError, match="nonlinearity"):
        from_torch_state_dict({k: v.numpy() for k, v in torch.nn.RNN(F, H).state_dict().items()}, nonlinearity="gelu")
    with pytest.raises(ValueError, match="spec"):
        from_torch_state_dict(good, {"kind": "lstm"})
    with pytest.raises(ValueError, match="lacks"):
        from_torch_state_dict({k: v for k, v in good.items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match="shape"):
        from_torch_state_dict(dict(good, weight_hh_l0=np.zeros((3 * H, H + 1), np.float32)))
    with pytest.raises(ValueError, match="Linear"):
        from_torch_state_dict(dict(good, **{"a.weight": np.zeros((2, H)), "b.weight": np.zeros((2, H))}))
    with pytest.raises(ValueError, match="no recurrent"):
        from_torch_state_dict({"fc.weight": np.zeros((2, 3))})


# ------------------------------------------------------------------------------------------ files
def test_convert_and_describe_files(torch, rng, x, tmp_path):
    from rnnlab.convert import convert_file, describe_file, from_torch

    net = make_torch(torch, "lstm", 2, True, rng)
    expected = torch_out(torch, net, x)
    st.save_safetensors(net.state_dict(), tmp_path / "in.safetensors")
    convert_file(tmp_path / "in.safetensors", tmp_path / "out.pt")
    convert_file(tmp_path / "out.pt", tmp_path / "again.safetensors")
    model = from_torch(tmp_path / "again.safetensors")
    assert maxdiff(model.predict(x, verbose=0), expected) <= ATOL
    convert_file(tmp_path / "in.safetensors", tmp_path / "w.weights.npz")
    text = describe_file(tmp_path / "in.safetensors")
    assert "nn.LSTM(input_size=5, hidden_size=4, num_layers=2, bidirectional=True) + nn.Linear(8, 3)" in text
    n_params = sum(p.numel() for p in net.parameters())
    assert f"Total parameters: {n_params:,}" in text
    assert "rnn.weight_ih_l1_reverse" in text
    assert "Arrays:" in describe_file(tmp_path / "w.weights.npz")
    with pytest.raises(ValueError, match="extension"):
        convert_file(tmp_path / "in.safetensors", tmp_path / "out.xyz")
    with pytest.raises(ValueError, match="No such file"):
        describe_file(tmp_path / "missing.safetensors")


def test_convert_file_through_keras_formats(torch, rng, x, tmp_path):
    """.safetensors -> .keras (rnnlab.saving) -> .safetensors / .weights.h5: the same model at every hop."""
    require("h5py")
    from rnnlab.convert import convert_file, describe_file, from_torch

    net = make_torch(torch, "gru", 2, True, rng)
    expected = torch_out(torch, net, x)
    st.save_safetensors(net.state_dict(), tmp_path / "in.safetensors")
    convert_file(tmp_path / "in.safetensors", tmp_path / "m.keras")
    assert maxdiff(rnnlab.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), expected) <= ATOL
    convert_file(tmp_path / "m.keras", tmp_path / "out.safetensors")
    assert maxdiff(from_torch(tmp_path / "out.safetensors").predict(x, verbose=0), expected) <= ATOL
    for k, v in st.load_safetensors(tmp_path / "out.safetensors").items():  # GRU keeps both biases exactly
        np.testing.assert_array_equal(v, net.state_dict()[k].numpy())
    convert_file(tmp_path / "m.keras", tmp_path / "m.weights.h5")
    n_params = sum(p.numel() for p in net.parameters())
    for name in ("m.keras", "m.weights.h5"):
        assert f"Total parameters: {n_params:,}" in describe_file(tmp_path / name)
