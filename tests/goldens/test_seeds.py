"""The two seed notebooks, run on rnnlab after the import swap, and the relations they show.

The seeds (``shared/seeds/*.txt``, next to the repository) are Jupyter notebooks saved as text. Their code cells are
copied below verbatim, comments and all. Each test swaps the TensorFlow imports for rnnlab by plain string replacement,
executes the cells in order in one namespace (as a notebook kernel would), and records every ``Model.predict`` call the
cells make, so the arrays the notebooks only print can be checked:

- LSTM: ``o == h`` when ``return_sequences=False``; ``h == o[:, -1]`` when ``return_sequences=True``; ``c`` has shape
  ``(1, M)`` and is the LSTM cell state, recomputed here from the model's own ``get_weights()`` by a small NumPy loop
  that does not use rnnlab;
- GRU with ``return_state=True`` returns exactly two arrays ``[o, h]``;
- ``Bidirectional(LSTM(M))`` returns ``2 * M`` features; the stacked LSTM returns ``(1, M)``.

A last test runs the same cells on the real TensorFlow/Keras (the reference the project mirrors) with the original
imports, copies rnnlab's weights into each Keras model and compares the predictions. Without TensorFlow it is skipped,
unless ``CI`` is set, where a missing reference framework is a failure (``tests/conftest.py``).
"""

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

# ---------------------------------------------------------------------------------------------------------------------
# The seed code cells, verbatim: (execution count, source). Markdown and cell outputs are left out.
# ---------------------------------------------------------------------------------------------------------------------

SEED_000_FILE = "000_0a846093b8a4aace.txt"
SEED_000_CELLS = [
    (16, """\
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
import numpy as np
"""),
    (17, """\
T = 8 # time steps number
D = 2 # number of features(x, y)
M = 3 # LSTM units
"""),
    (18, """\
x = np.random.randn(1, T, D)
"""),
    (19, """\
inputs = keras.Input(shape=(T, D))
outputs = layers.LSTM(M, return_state = False, return_sequences = False)(inputs)
model = keras.Model(inputs=inputs, outputs=outputs)
"""),
    (20, """\
model.predict(x) # last hidden state
"""),
    (21, """\
outputs = layers.LSTM(M, return_state = False, return_sequences = True)(inputs)
model = keras.Model(inputs=inputs, outputs=outputs)
"""),
    (22, """\
model.predict(x) # hidden state for each time step
"""),
    (23, """\
outputs = layers.LSTM(M, return_state = True, return_sequences = False)(inputs)
model = keras.Model(inputs=inputs, outputs=outputs)
"""),
    (24, """\
model.predict(x) # output, hidden state and cell state (output = hidden state) for last time step
"""),
    (25, """\
outputs = layers.LSTM(M, return_state = True, return_sequences = True)(inputs)
model = keras.Model(inputs=inputs, outputs=outputs)
"""),
    (26, """\
model.predict(x) # returns the hidden state for each input time step, then separately, the hidden state output for 
                #last time step and cell state for last time step
"""),
    (27, """\
outputs = layers.Bidirectional(layers.LSTM(M, return_state = False, return_sequences = False))(inputs)
model = keras.Model(inputs=inputs, outputs=outputs)
"""),
    (28, """\
model.predict(x) # 2xh
"""),
    (29, """\
outputs_layer_1 = layers.LSTM(M, return_state = False, return_sequences = True)(inputs)
outputs_layer_2 = layers.LSTM(M, return_state = False, return_sequences = False)(outputs_layer_1)
model = keras.Model(inputs=inputs, outputs=outputs_layer_2)
"""),
    (30, """\
model.predict(x)
"""),
]

SEED_001_FILE = "001_1758fad4b58f62ee.txt"
SEED_001_CELLS = [
    (1, """\
import tensorflow as tf
from tensorflow.keras.models import Model
from tensorflow.keras.layers import Input, LSTM, GRU
import numpy as np
"""),
    (2, """\
print(tf.__version__)
"""),
    (3, """\
T = 8 # sequence length
D = 2 # input dimensionality
M = 3 # hidden layer size
"""),
    (4, """\
# random single sentence of (T=8) words (of) vectors (of Dimensionality 2)
X = np.random.randn(1, T, D)
"""),
    (5, """\
def lstm(return_sequences):
    input_ = Input(shape=(T, D))
    rnn = LSTM(M, return_state=True, return_sequences=return_sequences)
    x = rnn(input_)
    
    model = Model(inputs=input_, outputs=x)
    o, h, c = model.predict(X)
    print("o:", o) # output state
    print("h:", h) # hidden state
    print("c:", c) # cell state
"""),
    (6, """\
def gru(return_sequences=False):
    input_ = Input(shape=(T, D))
    rnn = GRU(M, return_state=True, return_sequences=return_sequences)
    x = rnn(input_)
    
    model = Model(inputs=input_, outputs=x)
    o, h = model.predict(X)
    print("o:", o)
    print("h:", h)
"""),
    (7, """\
X
"""),
    (8, """\
lstm(return_sequences=False)
# should see that 'h'idden is actually the 'o'utput
"""),
    (9, """\
lstm(return_sequences=True)
# same as before, except that sequence lenght is of asize T (8)
# see that 'h' is the same as last element of 'o' 
# thus, 'h' and 'c' represent the last state of LSTM (ie last timestep)
"""),
    (10, """\
gru(return_sequences=True)
"""),
    (11, """\
gru(return_sequences=True)
"""),
]
SEEDS_DIR = Path(__file__).resolve().parents[3] / "shared" / "seeds"

# The import swap, applied mechanically, longest pattern first.
IMPORT_SWAP = [
    ("from tensorflow.keras import layers", "from rnnlab import layers"),
    ("from tensorflow import keras", "import rnnlab as keras"),
    ("tensorflow.keras.models", "rnnlab.models"),
    ("tensorflow.keras.layers", "rnnlab.layers"),
    ("import tensorflow as tf", "import rnnlab as tf"),
]

T, D, M = 8, 2, 3  # as set in both notebooks


def swap_imports(code):
    for old, new in IMPORT_SWAP:
        code = code.replace(old, new)
    return code


def keep_imports(code):
    return code


# ---------------------------------------------------------------------------------------------------------------------
# Running a notebook
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class PredictCall:
    model: object
    x: np.ndarray
    result: object


@dataclass
class SeedRun:
    namespace: dict
    stdout: str
    calls: list = field(default_factory=list)


def run_cells(cells, model_cls, transform):
    """Execute ``cells`` in one namespace, recording each ``model_cls.predict`` call and everything printed."""
    calls = []
    original = model_cls.predict

    def recording_predict(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        x = args[0] if args else kwargs["x"]
        calls.append(PredictCall(self, np.array(x), result))
        return result

    namespace = {"__name__": "__seed__"}
    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setattr(model_cls, "predict", recording_predict)
        for number, code in cells:
            exec(compile(transform(code), f"<seed cell In [{number}]>", "exec"), namespace)
    return SeedRun(namespace, stdout.getvalue(), calls)


@pytest.fixture(scope="module")
def seed000():
    import rnnlab

    return run_cells(SEED_000_CELLS, rnnlab.Model, swap_imports)


@pytest.fixture(scope="module")
def seed001():
    import rnnlab

    return run_cells(SEED_001_CELLS, rnnlab.Model, swap_imports)


# ---------------------------------------------------------------------------------------------------------------------
# Independent NumPy references (Keras equations, float64, no rnnlab code)
# ---------------------------------------------------------------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def lstm_reference(x, kernel, recurrent_kernel, bias):
    """Keras LSTM: gates in order i, f, c, o; sigmoid gates, tanh candidate and output. Returns (all h, h, c)."""
    x = np.asarray(x, np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(w, np.float64) for w in (kernel, recurrent_kernel, bias))
    batch, steps, features = x.shape
    units = recurrent_kernel.shape[0]
    assert kernel.shape == (features, 4 * units)
    assert recurrent_kernel.shape == (units, 4 * units)
    assert bias.shape == (4 * units,)
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    hs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1), h, c


def gru_reference(x, kernel, recurrent_kernel, bias):
    """Keras 3 GRU (reset_after=True): gates in order z, r, h; bias has shape (2, 3M). Returns (all h, h)."""
    x = np.asarray(x, np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(w, np.float64) for w in (kernel, recurrent_kernel, bias))
    batch, steps, features = x.shape
    units = recurrent_kernel.shape[0]
    assert kernel.shape == (features, 3 * units)
    assert recurrent_kernel.shape == (units, 3 * units)
    assert bias.shape == (2, 3 * units)
    h = np.zeros((batch, units))
    hs = []
    for t in range(steps):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=-1)
        hz, hr, hh = np.split(h @ recurrent_kernel + bias[1], 3, axis=-1)
        z = sigmoid(xz + hz)
        r = sigmoid(xr + hr)
        h = z * h + (1.0 - z) * np.tanh(xh + r * hh)
        hs.append(h)
    return np.stack(hs, axis=1), h


def assert_close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=1e-5, atol=1e-6)


def outputs_of(call, count):
    """The arrays a multi-output predict returned, as a list of ``count`` float32 arrays."""
    assert isinstance(call.result, (list, tuple)), type(call.result)
    assert len(call.result) == count
    arrays = list(call.result)
    for a in arrays:
        assert isinstance(a, np.ndarray) and a.dtype == np.float32, (type(a), getattr(a, "dtype", None))
    return arrays


def single_output(call):
    assert isinstance(call.result, np.ndarray), type(call.result)
    assert call.result.dtype == np.float32
    return call.result


# ---------------------------------------------------------------------------------------------------------------------
# The embedded cells and the swap
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename, cells", [(SEED_000_FILE, SEED_000_CELLS), (SEED_001_FILE, SEED_001_CELLS)])
def test_embedded_cells_are_the_seed_cells_verbatim(filename, cells):
    path = SEEDS_DIR / filename
    if not path.exists():
        pytest.skip(f"{path} is not present (the seeds live next to the repository, not in it)")
    text = path.read_text(encoding="utf-8")
    assert re.findall(r"^In \[(\d+)\]:$", text, flags=re.M) == [str(n) for n, _ in cells]
    for number, code in cells:
        assert f"In [{number}]:\n{code}\n" in text or text.endswith(f"In [{number}]:\n{code}")


def test_import_swap_is_mechanical():
    assert swap_imports(SEED_000_CELLS[0][1]) == (
        "import rnnlab as tf\nimport rnnlab as keras\nfrom rnnlab import layers\nimport numpy as np\n"
    )
    assert swap_imports(SEED_001_CELLS[0][1]) == (
        "import rnnlab as tf\nfrom rnnlab.models import Model\nfrom rnnlab.layers import Input, LSTM, GRU\n"
        "import numpy as np\n"
    )
    for _, code in SEED_000_CELLS + SEED_001_CELLS:
        assert "tensorflow" not in swap_imports(code)


# ---------------------------------------------------------------------------------------------------------------------
# Seed 000: LSTM return_sequences x return_state, Bidirectional, stacked
# ---------------------------------------------------------------------------------------------------------------------


def test_seed000_runs_and_predict_prints_progress(seed000):
    ns = seed000.namespace
    assert (ns["T"], ns["D"], ns["M"]) == (T, D, M)
    assert ns["x"].shape == (1, T, D)
    assert len(seed000.calls) == 6  # cells 20, 22, 24, 26, 28, 30
    for call in seed000.calls:
        np.testing.assert_array_equal(call.x, ns["x"])
    # predict() with the default verbose prints a Keras-like progress line ("1/1 ...") for each call
    assert seed000.stdout.count("1/1") >= len(seed000.calls), seed000.stdout


def test_seed000_lstm_last_hidden_state(seed000):
    call = seed000.calls[0]  # LSTM(M, return_state=False, return_sequences=False)
    o = single_output(call)
    assert o.shape == (1, M)
    _, h, _ = lstm_reference(call.x, *call.model.get_weights())
    assert_close(o, h)


def test_seed000_lstm_hidden_state_for_each_step(seed000):
    call = seed000.calls[1]  # LSTM(M, return_state=False, return_sequences=True)
    o = single_output(call)
    assert o.shape == (1, T, M)
    hs, _, _ = lstm_reference(call.x, *call.model.get_weights())
    assert_close(o, hs)


def test_seed000_lstm_state_output_equals_hidden(seed000):
    call = seed000.calls[2]  # LSTM(M, return_state=True, return_sequences=False)
    o, h, c = outputs_of(call, 3)
    assert o.shape == h.shape == c.shape == (1, M)
    np.testing.assert_array_equal(o, h)  # "output = hidden state"
    _, h_ref, c_ref = lstm_reference(call.x, *call.model.get_weights())
    assert_close(h, h_ref)
    assert_close(c, c_ref)  # c is the cell state
    assert not np.allclose(c, h)


def test_seed000_lstm_sequences_and_state(seed000):
    call = seed000.calls[3]  # LSTM(M, return_state=True, return_sequences=True)
    o, h, c = outputs_of(call, 3)
    assert o.shape == (1, T, M)
    assert h.shape == c.shape == (1, M)
    np.testing.assert_array_equal(h, o[:, -1])
    hs_ref, _, c_ref = lstm_reference(call.x, *call.model.get_weights())
    assert_close(o, hs_ref)
    assert_close(c, c_ref)


def test_seed000_bidirectional_lstm(seed000):
    call = seed000.calls[4]  # Bidirectional(LSTM(M)) -> "2xh"
    o = single_output(call)
    assert o.shape == (1, 2 * M)
    weights = call.model.get_weights()
    assert len(weights) == 6  # forward kernel, recurrent kernel, bias, then the backward layer's
    _, h_forward, _ = lstm_reference(call.x, *weights[:3])
    _, h_backward, _ = lstm_reference(call.x[:, ::-1], *weights[3:])
    assert_close(o, np.concatenate([h_forward, h_backward], axis=-1))


def test_seed000_stacked_lstm(seed000):
    call = seed000.calls[5]  # LSTM(M, return_sequences=True) -> LSTM(M)
    o = single_output(call)
    assert o.shape == (1, M)
    weights = call.model.get_weights()
    assert len(weights) == 6
    hs_1, _, _ = lstm_reference(call.x, *weights[:3])
    _, h_2, _ = lstm_reference(hs_1, *weights[3:])
    assert_close(o, h_2)


# ---------------------------------------------------------------------------------------------------------------------
# Seed 001: o, h, c of an LSTM; o, h of a GRU
# ---------------------------------------------------------------------------------------------------------------------


def test_seed001_runs_and_prints(seed001):
    import rnnlab

    ns = seed001.namespace
    assert seed001.stdout.splitlines()[0] == rnnlab.__version__  # print(tf.__version__)
    assert ns["X"].shape == (1, T, D)
    assert callable(ns["lstm"]) and callable(ns["gru"])
    assert len(seed001.calls) == 4  # lstm(False), lstm(True), gru(True), gru(True)
    for call in seed001.calls:
        np.testing.assert_array_equal(call.x, ns["X"])
    lines = seed001.stdout.splitlines()
    assert sum(line.startswith("o: ") for line in lines) == 4
    assert sum(line.startswith("h: ") for line in lines) == 4
    assert sum(line.startswith("c: ") for line in lines) == 2  # only the LSTM has a cell state
    assert seed001.stdout.count("1/1") >= len(seed001.calls)


def test_seed001_lstm_hidden_is_output(seed001):
    call = seed001.calls[0]  # lstm(return_sequences=False)
    o, h, c = outputs_of(call, 3)
    assert o.shape == h.shape == c.shape == (1, M)
    np.testing.assert_array_equal(h, o)  # "'h'idden is actually the 'o'utput"
    _, h_ref, c_ref = lstm_reference(call.x, *call.model.get_weights())
    assert_close(h, h_ref)
    assert_close(c, c_ref)


def test_seed001_lstm_hidden_is_last_output(seed001):
    call = seed001.calls[1]  # lstm(return_sequences=True)
    o, h, c = outputs_of(call, 3)
    assert o.shape == (1, T, M)
    assert h.shape == c.shape == (1, M)
    np.testing.assert_array_equal(h, o[:, -1])  # "'h' is the same as last element of 'o'"
    hs_ref, _, c_ref = lstm_reference(call.x, *call.model.get_weights())
    assert_close(o, hs_ref)
    assert_close(c, c_ref)  # "'h' and 'c' represent the last state of LSTM"


@pytest.mark.parametrize("index", [2, 3])
def test_seed001_gru_returns_output_and_hidden_only(seed001, index):
    call = seed001.calls[index]  # gru(return_sequences=True)
    o, h = outputs_of(call, 2)  # exactly [o, h]: a GRU has no cell state
    assert o.shape == (1, T, M)
    assert h.shape == (1, M)
    np.testing.assert_array_equal(h, o[:, -1])
    hs_ref, h_ref = gru_reference(call.x, *call.model.get_weights())
    assert_close(o, hs_ref)
    assert_close(h, h_ref)


# ---------------------------------------------------------------------------------------------------------------------
# The same notebooks on the reference framework
# ---------------------------------------------------------------------------------------------------------------------


def test_seeds_match_tensorflow_keras(seed000, seed001, keras):
    # the `keras` fixture (tests/conftest.py) imports TensorFlow/Keras 3 lazily: skipped without them, failed on CI
    for cells, ours in [(SEED_000_CELLS, seed000), (SEED_001_CELLS, seed001)]:
        theirs = run_cells(cells, keras.Model, keep_imports)  # original imports: from tensorflow import keras, ...
        assert len(theirs.calls) == len(ours.calls)
        for their_call, our_call in zip(theirs.calls, ours.calls):
            their_model = their_call.model
            our_weights = our_call.model.get_weights()
            assert [w.shape for w in their_model.get_weights()] == [w.shape for w in our_weights]
            their_model.set_weights(our_weights)
            expected = their_model.predict(our_call.x, verbose=0)
            if isinstance(expected, (list, tuple)):
                assert isinstance(our_call.result, (list, tuple)) and len(our_call.result) == len(expected)
                pairs = list(zip(our_call.result, expected))
            else:
                pairs = [(our_call.result, expected)]
            for actual, wanted in pairs:
                assert actual.shape == wanted.shape and actual.dtype == wanted.dtype
                np.testing.assert_allclose(actual, wanted, rtol=1e-5, atol=1e-6)
