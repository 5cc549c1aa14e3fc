"""``rnnlab demo``: what a recurrent layer returns, and how the pieces relate.

The demo follows the two seed notebooks the project started from. It feeds one random sequence ``x`` of shape
``(1, T, D)`` through

1. ``LSTM`` with the four combinations of ``return_sequences`` and ``return_state``,
2. ``GRU`` with ``return_state=True``,
3. ``Bidirectional(LSTM)``,
4. two stacked ``LSTM`` layers,

prints the outputs ``o``, ``h`` and ``c`` with their shapes, and checks every relation between them numerically: the
shapes, ``o == h``, ``h == o[:, -1]``, and that ``h`` and ``c`` are what a plain NumPy loop over the LSTM equations
computes from the layer's own weights. Each check prints a line starting with a tick (holds) or a cross (fails);
:func:`run` returns 0 when all hold and 1 otherwise.

Weights are drawn from ``np.random.default_rng(seed)`` and set with ``model.set_weights``, so a given ``--seed`` always
prints the same numbers.
"""

import sys

import numpy as np

T = 8  # time steps
D = 2  # features per step
M = 3  # units (size of h and c)

EXPLANATION = (
    "o = output: the hidden state at every step (return_sequences=True) or at the last step only",
    "h = hidden state after the last step (returned with return_state=True)",
    "c = cell state after the last step: the LSTM's internal memory (a GRU has none, so it returns [o, h])",
)


# ---------------------------------------------------------------------------------------------------------------------
# The LSTM equations, written out (what the check lines compare against)
# ---------------------------------------------------------------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm(x, kernel, recurrent_kernel, bias):
    """A plain NumPy LSTM with Keras' weight layout; returns ``(h at every step, last h, last c)``.

    ``kernel`` is ``(D, 4M)``, ``recurrent_kernel`` ``(M, 4M)``, ``bias`` ``(4M,)``; the four column blocks are the
    input gate i, forget gate f, candidate cell g and output gate o::

        i, f, g, o = split(x_t @ kernel + h @ recurrent_kernel + bias, 4)
        c = sigmoid(f) * c + sigmoid(i) * tanh(g)      # forget some memory, write some new
        h = sigmoid(o) * tanh(c)                       # expose part of the memory as h
    """
    x = np.asarray(x, np.float64)
    kernel, recurrent_kernel, bias = (np.asarray(w, np.float64) for w in (kernel, recurrent_kernel, bias))
    units = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    hs = []
    for t in range(x.shape[1]):
        i, f, g, o = np.split(x[:, t] @ kernel + h @ recurrent_kernel + bias, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1), h, c


# ---------------------------------------------------------------------------------------------------------------------
# Printing and checking
# ---------------------------------------------------------------------------------------------------------------------


def _marks(stream):
    """Tick and cross, or ASCII stand-ins where the output encoding cannot show them."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "✓✗".encode(encoding)
        return "✓", "✗"
    except (UnicodeEncodeError, LookupError):
        return "[ok]", "[FAIL]"


def _agree(a, b):
    """Numerical agreement used by every check (float32 outputs against float64 NumPy)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))


class _Report:
    def __init__(self, stream):
        self.stream = stream
        self.tick, self.cross = _marks(stream)
        self.passed = 0
        self.failed = 0

    def say(self, text=""):
        print(text, file=self.stream)

    def show(self, name, array):
        array = np.asarray(array)
        body = np.array2string(array, precision=4, suppress_small=True, floatmode="fixed")
        lines = body.splitlines()
        if len(lines) == 1:
            self.say(f"   {name} {array.shape}: {body}")
        else:
            self.say(f"   {name} {array.shape}:")
            for line in lines:
                self.say(f"      {line}")

    def check(self, holds, statement):
        holds = bool(holds)
        if holds:
            self.passed += 1
        else:
            self.failed += 1
        self.say(f"   {self.tick if holds else self.cross} {statement}")
        return holds


def _predict(model, x):
    return model.predict(x, verbose=0)


def _randomize(model, rng):
    """Give every weight a reproducible random value (biases too, so nothing starts at zero)."""
    weights = [rng.uniform(-0.6, 0.6, np.shape(w)).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def _as_list(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


# ---------------------------------------------------------------------------------------------------------------------
# The walk-through
# ---------------------------------------------------------------------------------------------------------------------


def _lstm_section(report, keras, layers, x, rng, number, return_sequences, return_state):
    title = f"LSTM({M}, return_sequences={return_sequences}, return_state={return_state})"
    returns = "[o, h, c]" if return_state else "o"
    report.say(f"{number}. {title} -> {returns}")
    inputs = keras.Input(shape=(T, D))
    outputs = layers.LSTM(M, return_sequences=return_sequences, return_state=return_state)(inputs)
    model = keras.Model(inputs=inputs, outputs=outputs)
    weights = _randomize(model, rng)
    result = _as_list(_predict(model, x))
    hs_ref, h_ref, c_ref = numpy_lstm(x, *weights)

    if len(result) != (3 if return_state else 1):
        report.check(False, f"returns {returns}, got {len(result)} arrays")
        return
    if return_state:
        report.check(True, "returns 3 arrays [o, h, c]")
    o = result[0]
    report.show("o", o)
    if return_state:
        report.show("h", result[1])
        report.show("c", result[2])

    o_shape = (1, T, M) if return_sequences else (1, M)
    report.check(np.shape(o) == o_shape, f"o has shape {o_shape}" + (" = (batch, T, units)" if return_sequences
                                                                       else " = (batch, units)"))
    if return_sequences:
        report.check(_agree(o, hs_ref), "o[:, t] is the hidden state after step t, for every t (NumPy LSTM loop agrees)")
    else:
        report.check(_agree(o, h_ref), "o is the hidden state after the last step (NumPy LSTM loop agrees)")
    if not return_state:
        return
    h, c = result[1], result[2]
    report.check(np.shape(h) == np.shape(c) == (1, M), f"h and c have shape {(1, M)} = (batch, units)")
    if return_sequences:
        report.check(_agree(h, np.asarray(o)[:, -1]), "h == o[:, -1]: h is the last step of the sequence o")
    else:
        report.check(_agree(o, h), "o == h: without return_sequences the output is the last hidden state")
    report.check(_agree(c, c_ref), "c is the LSTM cell state after the last step (NumPy LSTM loop agrees)")


def _gru_section(report, keras, layers, x, rng, number):
    report.say(f"{number}. GRU({M}, return_sequences=True, return_state=True) -> [o, h]")
    inputs = keras.Input(shape=(T, D))
    outputs = layers.GRU(M, return_sequences=True, return_state=True)(inputs)
    model = keras.Model(inputs=inputs, outputs=outputs)
    _randomize(model, rng)
    result = _as_list(_predict(model, x))
    if not report.check(len(result) == 2, "GRU returns 2 arrays [o, h]: it has no cell state c"):
        return
    o, h = result
    report.show("o", o)
    report.show("h", h)
    report.check(np.shape(o) == (1, T, M) and np.shape(h) == (1, M), f"o has shape {(1, T, M)}, h has shape {(1, M)}")
    report.check(_agree(h, np.asarray(o)[:, -1]), "GRU h == o[:, -1]: h is the last step of the sequence o")


def _bidirectional_section(report, keras, layers, x, rng, number):
    report.say(f"{number}. Bidirectional(LSTM({M})) -> o = [forward h | backward h]")
    inputs = keras.Input(shape=(T, D))
    outputs = layers.Bidirectional(layers.LSTM(M))(inputs)
    model = keras.Model(inputs=inputs, outputs=outputs)
    weights = _randomize(model, rng)
    o = _predict(model, x)
    report.show("o", o)
    report.check(np.shape(o) == (1, 2 * M), f"o has 2 * M = {2 * M} features: shape {(1, 2 * M)}")
    if len(weights) != 6:
        report.check(False, f"get_weights() gives 6 arrays (forward then backward LSTM), got {len(weights)}")
        return
    _, h_forward, _ = numpy_lstm(x, *weights[:3])
    _, h_backward, _ = numpy_lstm(x[:, ::-1], *weights[3:])
    o = np.asarray(o)
    report.check(_agree(o[:, :M], h_forward), f"o[:, :{M}] is a forward LSTM's last h (NumPy LSTM loop agrees)")
    report.check(_agree(o[:, M:], h_backward),
                 f"o[:, {M}:] is the last h of an LSTM reading x backwards (NumPy loop on x[:, ::-1] agrees)")


def _stacked_section(report, keras, layers, x, rng, number):
    report.say(f"{number}. Stacked: LSTM({M}, return_sequences=True) -> LSTM({M}) -> o")
    inputs = keras.Input(shape=(T, D))
    sequence = layers.LSTM(M, return_sequences=True)(inputs)
    outputs = layers.LSTM(M)(sequence)
    model = keras.Model(inputs=inputs, outputs=outputs)
    weights = _randomize(model, rng)
    o = _predict(model, x)
    report.show("o", o)
    report.check(np.shape(o) == (1, M), f"stacked o has shape {(1, M)}: the second layer returns its last h")
    if len(weights) != 6:
        report.check(False, f"get_weights() gives 6 arrays (two LSTM layers), got {len(weights)}")
        return
    hs_1, _, _ = numpy_lstm(x, *weights[:3])
    _, h_2, _ = numpy_lstm(hs_1, *weights[3:])
    report.check(_agree(o, h_2), "the second LSTM reads the first one's sequence o (two NumPy LSTM loops agree)")


def run(seed=0, stream=None):
    """Print the walk-through to ``stream`` (standard output by default); return 0 if every relation holds, else 1."""
    import rnnlab as keras
    from rnnlab import layers

    stream = sys.stdout if stream is None else stream
    report = _Report(stream)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1, T, D)).astype(np.float32)

    report.say(f"rnnlab {keras.__version__} demo: what recurrent layers return (seed {seed})")
    report.say()
    for line in EXPLANATION:
        report.say(f"  {line}")
    report.say()
    report.say(f"Input x has shape {x.shape} = (batch, T time steps, D features); every layer has M = {M} units.")
    report.show("x", x)
    report.say()

    sections = [
        lambda n: _lstm_section(report, keras, layers, x, rng, n, return_sequences=False, return_state=False),
        lambda n: _lstm_section(report, keras, layers, x, rng, n, return_sequences=True, return_state=False),
        lambda n: _lstm_section(report, keras, layers, x, rng, n, return_sequences=False, return_state=True),
        lambda n: _lstm_section(report, keras, layers, x, rng, n, return_sequences=True, return_state=True),
        lambda n: _gru_section(report, keras, layers, x, rng, n),
        lambda n: _bidirectional_section(report, keras, layers, x, rng, n),
        lambda n: _stacked_section(report, keras, layers, x, rng, n),
    ]
    for number, section in enumerate(sections, start=1):
        try:
            section(number)
        except BrokenPipeError:  # the reader went away (rnnlab demo | head): not a failed relation
            raise
        except Exception as exc:  # a broken layer is reported as a failed check; the tour goes on
            report.check(False, f"section {number} raised {type(exc).__name__}: {exc}")
        report.say()

    total = report.passed + report.failed
    if report.failed:
        report.say(f"{report.cross} {report.failed} of {total} relations FAILED")
        return 1
    report.say(f"{report.tick} all {total} relations hold")
    return 0
