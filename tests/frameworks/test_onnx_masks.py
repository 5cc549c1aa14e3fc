"""Masked models to ONNX: exact for every mask pattern, against Keras 3.15, rnnlab and onnxruntime.

Each model is built twice from one function: by real Keras (random weights, biases included), saved as a
``.keras`` file -- whose graph holds the ``NotEqual``/``Any`` operations Keras writes for masks -- and by rnnlab
with the same weights.  Both are exported (the file through ``convert_file``, what ``rnnlab convert`` runs; the
rnnlab model through ``to_onnx``), and onnxruntime, rnnlab's own ONNX interpreter and rnnlab's model must all
give Keras's outputs to 1e-5, on one batch that holds every mask pattern: no padding, right padding, left
padding, gaps, a single real step, both ends only, and a fully masked row.
"""
import numpy as np
import pytest

import rnnlab
from tests.support.reference import random_weights, require, to_numpy

ATOL = 1e-5
F, H = 5, 4
KINDS = ["lstm", "gru", "gru_reset_before", "simple_rnn"]
N_STATES = {"lstm": 2, "gru": 1, "gru_reset_before": 1, "simple_rnn": 1}
#: one row per pattern; 1 = a real step
PATTERNS = np.array([
    [1, 1, 1, 1, 1, 1, 1],  # no padding
    [1, 1, 1, 1, 0, 0, 0],  # right padding
    [0, 0, 0, 1, 1, 1, 1],  # left padding
    [1, 0, 1, 1, 0, 0, 1],  # gaps
    [0, 0, 0, 0, 1, 0, 0],  # one real step
    [1, 0, 0, 0, 0, 0, 1],  # both ends only
    [0, 0, 0, 0, 0, 0, 0],  # fully masked
], bool)


@pytest.fixture(scope="module")
def K():
    keras = require("keras")
    assert str(keras.__version__).startswith("3."), keras.__version__
    return keras


@pytest.fixture(scope="module")
def ort():
    require("onnx")
    return require("onnxruntime")


# ------------------------------------------------------------------------------ models, built by either library
def _recurrent(lib, kind, units=H, **kw):
    L = lib.layers
    if kind == "lstm":
        return L.LSTM(units, **kw)
    if kind == "gru":
        return L.GRU(units, **kw)
    if kind == "gru_reset_before":
        return L.GRU(units, reset_after=False, **kw)
    return L.SimpleRNN(units, **kw)


def masking_model(lib, kind):
    """Masking feeding every way a recurrent layer uses a mask: a sequence that repeats outputs at masked steps,
    Bidirectional (zeros there) in a stack, go_backwards, return_state, a last output."""
    L = lib.layers
    x = lib.Input((None, F))
    masked = L.Masking()(x)
    seq = _recurrent(lib, kind, return_sequences=True)(masked)
    bi = L.Bidirectional(_recurrent(lib, kind, return_sequences=True))(seq)
    back = _recurrent(lib, kind, return_sequences=True, go_backwards=True)(bi)
    last, *states = _recurrent(lib, kind, 3, return_state=True)(back)
    bi_last = L.Bidirectional(_recurrent(lib, kind, return_state=True), merge_mode=None)(masked)  # [fw, bw, *states]
    back_last = _recurrent(lib, kind, go_backwards=True)(masked)
    return lib.Model(x, [seq, bi, back, L.Dense(2)(last), *states, *bi_last, back_last])


def explicit_mask_model(lib, kind):
    """A boolean mask input passed as mask=, with zero_output_for_mask and with initial states (a fully masked
    row keeps them)."""
    L = lib.layers
    x, mask = lib.Input((None, F)), lib.Input((None,), dtype="bool")
    init = [lib.Input((H,)) for _ in range(N_STATES[kind])]
    zero_seq = _recurrent(lib, kind, return_sequences=True, zero_output_for_mask=True)(x, mask=mask)
    zero_last = _recurrent(lib, kind, zero_output_for_mask=True, go_backwards=True)(x, mask=mask)
    seq, *states = _recurrent(lib, kind, return_sequences=True, return_state=True)(x, mask=mask, initial_state=init)
    return lib.Model([x, mask, *init], [zero_seq, zero_last, seq, *states])


def embedding_model(lib):
    L = lib.layers
    ids = lib.Input((None,), dtype="int32")
    y = L.Bidirectional(L.GRU(H, return_sequences=True), merge_mode="sum")(L.Embedding(10, F, mask_zero=True)(ids))
    y = L.TimeDistributed(L.Dense(3))(L.Dropout(0.5)(y))  # they pass the mask on
    return lib.Model(ids, [y, L.Dense(2, activation="sigmoid")(L.LSTM(3)(y))])


# ------------------------------------------------------------------------------------------ checks
def run_ort(ort, path, inputs):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: v for i, v in zip(sess.get_inputs(), inputs)})


def as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_everywhere(K, ort, build, inputs, tmp_path, rng, keras_ops):
    """Keras's outputs from: the Keras-written file (holding ``keras_ops`` mask operations) and the rnnlab-built
    model, each in rnnlab, exported and run in onnxruntime and in rnnlab's ONNX interpreter."""
    from rnnlab.convert import convert_file, from_onnx, to_onnx

    km = build(K)
    km.set_weights(random_weights(km.get_weights(), rng))
    km.save(tmp_path / "keras.keras")
    expected = [np.asarray(e) for e in as_list(to_numpy(km(inputs if len(inputs) > 1 else inputs[0],
                                                           training=False)))]
    from_file = convert_file(tmp_path / "keras.keras", tmp_path / "file.onnx")  # what `rnnlab convert` runs
    assert sum(type(layer).__name__ == "KerasOp" for layer in from_file.layers) == keras_ops
    built = build(rnnlab)
    built.set_weights(km.get_weights())
    to_onnx(built, tmp_path / "built.onnx")
    for model, path in ((from_file, tmp_path / "file.onnx"), (built, tmp_path / "built.onnx")):
        results = {"rnnlab": as_list(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)),
                   "onnxruntime": run_ort(ort, path, inputs),
                   "from_onnx": as_list(from_onnx(path)(*inputs))}
        for source, got in results.items():
            assert len(got) == len(expected), source
            for i, (g, e) in enumerate(zip(got, expected)):
                assert g.shape == e.shape and np.isfinite(g).all(), (source, path.name, i)
                err = float(np.max(np.abs(g.astype(np.float64) - e))) if e.size else 0.0
                assert err <= ATOL, f"{source} ({path.name}), output {i}: max error {err:.2e}"


@pytest.mark.parametrize("kind", KINDS)
def test_masking_every_pattern(K, ort, tmp_path, rng, kind):
    x = rng.normal(size=(len(PATTERNS), PATTERNS.shape[1], F)).astype(np.float32)
    x[~PATTERNS] = 0.0  # Masking's padding
    check_everywhere(K, ort, lambda lib: masking_model(lib, kind), [x], tmp_path, rng, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_mask_every_pattern(K, ort, tmp_path, rng, kind):
    """Masked steps hold ordinary values here: only the mask says they are padding."""
    batch = len(PATTERNS)
    x = rng.normal(size=(batch, PATTERNS.shape[1], F)).astype(np.float32)
    init = [rng.uniform(-0.9, 0.9, (batch, H)).astype(np.float32) for _ in range(N_STATES[kind])]
    check_everywhere(K, ort, lambda lib: explicit_mask_model(lib, kind), [x, PATTERNS.copy(), *init], tmp_path,
                     rng, 0)


def test_embedding_mask_zero_every_pattern(K, ort, tmp_path, rng):
    ids = np.where(PATTERNS, rng.integers(1, 10, PATTERNS.shape), 0).astype(np.int32)
    check_everywhere(K, ort, embedding_model, [ids], tmp_path, rng, 1)


def test_masked_bidirectional_without_zero_outputs_is_refused(tmp_path):
    """Keras's Bidirectional always zeroes masked outputs when returning sequences; a changed one has no exact
    graph here, so the export names the layer instead of computing something else."""
    from rnnlab.convert import to_onnx

    L = rnnlab.layers
    bi = L.Bidirectional(L.LSTM(H, return_sequences=True), name="bi")
    model = rnnlab.Sequential([L.Input((None, F)), L.Masking(), bi])
    bi.forward_layer.zero_output_for_mask = False
    with pytest.raises(ValueError, match="Layer 'bi' .*zero_output_for_mask"):
        to_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_every_keras_mask_operation(ort, rng, tmp_path):
    """Each operation a saved Keras graph may hold (KerasOp.ALL), with tensor and number operands, reductions
    over one, several and all axes: onnxruntime and rnnlab's interpreter give rnnlab's values exactly, and a
    mask built from them drives an LSTM."""
    from rnnlab.convert import from_onnx, to_onnx
    from rnnlab.saving.keras_ops import KerasOp

    def op(kind, name, *args, **config):
        return KerasOp(kind, {"name": name, **config})(*args)

    x, ids = rnnlab.Input((None, 3)), rnnlab.Input((None,), dtype="int32")
    mask = rnnlab.Input((None,), dtype="bool")
    not_zero = op("NotEqual", "not_zero", x, 0.0)
    real = op("Any", "real", not_zero, axis=-1, keepdims=False)
    outputs = [real, op("All", "all_kept", not_zero, axis=[1, 2], keepdims=True),
               op("Any", "any_at_all", not_zero, axis=None, keepdims=False),
               op("Equal", "half", ids, 0.5), op("NotEqual", "not_two", ids, 2)]
    both = op("LogicalAnd", "both", real, mask)
    outputs += [both, op("LogicalOr", "or_true", outputs[-1], True), op("LogicalNot", "neither", both)]
    outputs.append(rnnlab.layers.LSTM(2, return_sequences=True)(x, mask=outputs[-1]))
    model = rnnlab.Model([x, ids, mask], outputs)
    model.set_weights(random_weights(model.get_weights(), rng))
    xv = rng.normal(size=(3, 4, 3)).astype(np.float32)
    xv[0, 1], xv[1, :, 0] = 0.0, 0.0
    inputs = [xv, rng.integers(0, 3, (3, 4)).astype(np.int32), rng.random((3, 4)) > 0.3]
    expected = [np.asarray(e) for e in model(inputs)]
    to_onnx(model, tmp_path / "ops.onnx")
    for got in (run_ort(ort, tmp_path / "ops.onnx", inputs), from_onnx(tmp_path / "ops.onnx")(*inputs)):
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype and g.shape == e.shape
            assert np.array_equal(g, e) if e.dtype == bool else np.max(np.abs(g - e)) <= ATOL
