"""The fast-path seam: every registered kernel agrees with the reference loop (1e-6) on random configurations."""
import numpy as np
import pytest

import rnnlab
from rnnlab import fastpath, layers


def _randomize(model, rng):
    model.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in model.get_weights()])


# Every fast kernel registered for the forward loop: a new kernel is checked here without editing this file.
FAST_KERNELS = [k.name for k in fastpath.kernels("rnn_sequence") if k.name != "reference"]


def _selected(layer, x, collect_gates=False):
    """The kernel a call of ``layer`` on ``x`` runs on."""
    layer(x)
    return fastpath.select("rnn_sequence", layer.make_call(x, collect_gates=collect_gates)).name


def _run_both(fn, kernel):
    with fastpath.reference_only():
        ref = fn()
    with fastpath.force(kernel):
        fast = fn()
    return ref, fast


def test_native_kernels_are_available_here():
    """The C kernels were built with the package (CI has a compiler), so the agreement tests below exercise them,
    through the extension module's CPython entry point."""
    from rnnlab.kernels import native

    assert native.library() is not None, native.runtime_info()["reason"]
    assert native.extension() is not None


def _assert_close(ref, fast, tol=1e-6):
    ref = ref if isinstance(ref, (list, tuple)) else [ref]
    fast = fast if isinstance(fast, (list, tuple)) else [fast]
    assert len(ref) == len(fast)
    for a, b in zip(ref, fast):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=tol, rtol=0)


def _mask(rng, batch, steps):
    mask = rng.random((batch, steps)) > 0.3
    mask[0, steps // 2:] = False  # right padding
    if batch > 1:
        mask[1, :2] = False  # left padding
    if batch > 2:
        mask[2] = False  # fully masked row
    return mask


@pytest.mark.parametrize("kernel", FAST_KERNELS)
@pytest.mark.parametrize("seed", range(12))
def test_fused_kernel_matches_reference_on_random_configs(seed, kernel):
    """Random layer kind, flags, mask, direction, initial state: fused and reference paths agree."""
    rng = np.random.default_rng(seed)
    kind = ["LSTM", "GRU"][seed % 2]
    batch, steps, dim, units = rng.integers(1, 5), rng.integers(1, 9), rng.integers(1, 6), rng.integers(1, 7)
    kwargs = dict(return_sequences=bool(rng.integers(2)), return_state=bool(rng.integers(2)),
                  go_backwards=bool(rng.integers(2)))
    if kind == "GRU":
        kwargs["reset_after"] = bool(rng.integers(2))
        kwargs["use_bias"] = bool(rng.integers(2))
    layer = getattr(layers, kind)(int(units), **kwargs)
    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    layer(x)
    _randomize(layer, rng)
    mask = _mask(rng, batch, steps) if seed % 3 else None
    n_states = 2 if kind == "LSTM" else 1
    init = [rng.normal(size=(batch, units)).astype("float32") for _ in range(n_states)] if seed % 4 == 1 else None
    ref, fast = _run_both(lambda: layer(x, mask=mask, initial_state=init), kernel)
    _assert_close(ref, fast)


@pytest.mark.parametrize("kernel", FAST_KERNELS)
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_fused_kernel_matches_reference_in_bidirectional_and_stacks(merge_mode, kernel):
    """Bidirectional (masked) over a stack of LSTM and GRU layers: both paths agree."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    x[0, 4:] = 0.0
    x[1, :2] = 0.0
    inp = rnnlab.Input(shape=(6, 4))
    h = layers.Masking()(inp)
    h = layers.LSTM(5, return_sequences=True)(h)
    out = layers.Bidirectional(layers.GRU(3, return_sequences=True, return_state=True), merge_mode=merge_mode)(h)
    model = rnnlab.Model(inp, out)
    _randomize(model, rng)
    ref, fast = _run_both(lambda: model.predict(x, verbose=0), kernel)
    _assert_close(ref, fast)


@pytest.mark.parametrize("kernel", FAST_KERNELS)
def test_fused_kernel_matches_reference_when_stateful(kernel):
    """Three consecutive batches through a stateful LSTM: both paths carry the same state."""
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=(2, 5, 3)).astype("float32") for _ in range(3)]

    def run():
        layer = layers.LSTM(4, stateful=True, return_sequences=True)
        layer(batches[0])
        layer.set_weights([np.random.default_rng(11).uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()])
        layer.reset_states()
        return [layer(b) for b in batches]

    ref, fast = _run_both(run, kernel)
    _assert_close(ref, fast)


def test_float64_fused_kernel_matches_reference_to_1e_12():
    rng = np.random.default_rng(5)
    layer = layers.GRU(4, return_sequences=True, dtype="float64")
    x = rng.normal(size=(2, 6, 3))
    layer(x)
    _randomize(layer, rng)
    ref, fast = _run_both(lambda: layer(x), "numpy_fused")
    assert ref.dtype == fast.dtype == np.float64
    _assert_close(ref, fast, tol=1e-12)


def test_select_prefers_a_supporting_kernel_and_falls_back_to_reference():
    """select() picks the best kernel whose supports() accepts the call; unsupported calls get the reference."""
    x = np.ones((1, 3, 2), "float32")
    assert _selected(layers.LSTM(3), x) == "native"
    assert _selected(layers.LSTM(3, dtype="float64"), x.astype("float64")) == "numpy_fused"
    assert _selected(layers.LSTM(3, activation="relu"), x) == "reference"
    assert _selected(layers.LSTM(3), x, collect_gates=True) == "reference"
    with fastpath.reference_only():
        assert _selected(layers.LSTM(3), x) == "reference"
    why = layers.LSTM(3, dtype="float64").explain_kernels(x.astype("float64"))
    assert why.selected == "numpy_fused" and dict(why.declined)["native"] == "dtype float64"


def test_kernels_declare_what_they_support():
    """Each fast kernel names the cells it runs; explain() gives a reason for every kernel that declined."""
    for op in fastpath.OPERATIONS:
        for kernel in fastpath.kernels(op):
            if kernel.name != "reference":
                assert kernel.cells, f"{op}/{kernel.name} must declare the cells it runs"
    layer = layers.SimpleRNN(2)
    why = layer.explain_kernels(np.ones((1, 3, 2), "float32"))
    assert why.selected == "reference"
    assert all(reason and "SimpleRNN" in reason for _, reason in why.declined)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("size", [(2, 30, 8, 16), (16, 12, 16, 64), (13, 7, 5, 70), (7, 9, 40, 33)],
                         ids=["small", "six-row-tiles", "ragged", "odd"])
@pytest.mark.parametrize("threads", [1, 2, 3], ids=["1thread", "2threads", "3threads"])
@pytest.mark.parametrize("packed", [0, 1], ids=["in_place", "packed"])
@pytest.mark.parametrize("split", [0, 1], ids=["units", "rows"])
@pytest.mark.parametrize("ahead", [0, 1], ids=["input_in_step", "input_ahead"])
def test_native_kernel_strategies_match_reference(kind, size, threads, packed, split, ahead, monkeypatch):
    """The C loop with units or rows shared among 1-3 threads, weights packed or read in place, the input part
    computed in each step or ahead for chunks of steps: every combination agrees with the reference, with a mask,
    initial state and either direction."""
    from rnnlab.kernels import native, native_loops

    monkeypatch.setattr(fastpath.options, "threads", threads)
    monkeypatch.setattr(fastpath.options, "packed", packed)
    native.library().rnnlab_set_threads(3)
    native.library().rnnlab_test_split(split)
    native.library().rnnlab_test_precompute(ahead)
    try:
        batch, steps, dim, units = size
        rng = np.random.default_rng(batch + threads)
        for go_backwards in (False, True):
            layer = getattr(layers, kind)(units, return_sequences=True, return_state=True, go_backwards=go_backwards)
            x = rng.normal(size=(batch, steps, dim)).astype("float32")
            layer(x)
            # Weights of a trained network's scale: with +-0.8 and 64 units, float32 rounding alone (reference loop
            # against a float64 evaluation) already moves outputs by ~4e-6, which no 1e-6 comparison can resolve.
            layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
            mask = _mask(rng, batch, steps)
            init = [rng.normal(size=(batch, units)).astype("float32") for _ in layer.cell.state_size] \
                if kind == "LSTM" else [rng.normal(size=(batch, units)).astype("float32")]
            for call in (lambda: layer(x), lambda: layer(x, mask=mask), lambda: layer(x, initial_state=init),
                         lambda: layer(x, initial_state=init, mask=mask)):
                ref, fast = _run_both(call, "native")
                _assert_close(ref, fast, tol=1e-6)
    finally:
        native.library().rnnlab_test_precompute(-1)
        native.library().rnnlab_test_split(-1)
        native.library().rnnlab_set_threads(native.thread_count())


# The child programs below start with this: a layer of random weights, its input and states, and its output on
# one thread (the reference each threaded call must equal).
_RANDOM_LAYER = r"""
import numpy as np
from rnnlab import layers
from rnnlab.kernels import native_loops


def random_layer(kind, seed, batch, steps, features, units):
    rng = np.random.default_rng(seed)
    layer = getattr(layers, kind)(units, return_sequences=True)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    layer(x)
    layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
    states = [np.zeros((batch, units), "float32") for _ in range(2 if kind == "LSTM" else 1)]
    return layer, x, states, native_loops.native_layer(layer.cell, x, states, None, False, True, threads=1)[1]
"""


_CLAIM_RACE_PROGRAM = _RANDOM_LAYER + r"""
import sys
from rnnlab.kernels import native

kind, threads, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lib = native.library()
lib.rnnlab_set_threads(threads)
lib.rnnlab_test_split(1)  # rows claimed in slices
layer, x, states, ref = random_layer(kind, seed=threads, batch=7, steps=9, features=40, units=33)
for i in range(calls):
    out = native_loops.native_layer(layer.cell, x, states, None, False, True, threads=threads)[1]
    if not np.array_equal(out, ref):
        sys.exit(f"call {i}: outputs differ from the one-thread call")
print("done", calls)
"""


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("threads", [2, 3, 4])
def test_row_slices_claimed_by_racing_threads_finish_each_call(kind, threads):
    """More threads than cores race for the last segment of a slice of rows (7 rows, 9 steps: 3 slices, 2
    segments each).  A thread that claimed a slice just after another finished it used to run it again and count
    it finished twice, so the caller waited forever (about one call in a few thousand with 3 threads on 2 cores).
    Thousands of calls in a child process, which a hang fails by its timeout: each call ends, with the one-thread
    call's outputs."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _CLAIM_RACE_PROGRAM, kind, str(threads), "5000"],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind} with {threads} threads: a call did not finish within 120 s (threads deadlocked)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["done", "5000"], done.stdout


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("phase", [0, 3])
def test_native_threads_hand_over_to_one_thread_mid_call(kind, phase, monkeypatch):
    """When the threads keep losing their cores, the caller's thread finishes the call alone from the next step
    (forced here after a given step's barrier): the result is the reference's."""
    from rnnlab.kernels import native, native_loops

    lib = native.library()
    monkeypatch.setattr(fastpath.options, "threads", 2)
    lib.rnnlab_set_threads(2)
    lib.rnnlab_test_solo_at(phase)
    lib.rnnlab_test_split(0)  # the per-step barrier belongs to the unit split
    try:
        rng = np.random.default_rng(phase)
        layer = getattr(layers, kind)(40, return_sequences=True, return_state=True)
        x = rng.normal(size=(9, 8, 12)).astype("float32")
        layer(x)
        layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
        mask = _mask(rng, 9, 8)
        ref, fast = _run_both(lambda: layer(x, mask=mask), "native")
        _assert_close(ref, fast)
    finally:
        lib.rnnlab_test_solo_at(-1)
        lib.rnnlab_test_split(-1)
        lib.rnnlab_set_threads(native.thread_count())


def test_native_plain_call_refuses_non_finite_inputs():
    """The plain call goes straight to C, which checks for NaN/Inf first: the standard error, nothing computed."""
    layer = layers.LSTM(4, return_sequences=True)
    x = np.ones((2, 5, 3), "float32")
    layer(x)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1, 3, 2] = bad
        with pytest.raises(ValueError, match="inputs"):
            layer(y)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("return_sequences,return_state,go_backwards", [
    (True, True, False), (False, True, True), (True, False, True), (False, False, False)])
def test_native_plain_call_takes_the_general_path_for_arrays_it_cannot_read(kind, return_sequences, return_state,
                                                                            go_backwards):
    """``layer(x)`` goes straight to C only for a float32 C-contiguous (B, T, D) array and float32 C-contiguous
    weights; anything else (a strided or float64 x, a float64 or Fortran-ordered weight someone put in a variable)
    is refused by the C entry point without computing, and the general path gives the reference result."""
    rng = np.random.default_rng(11)
    cls = {"lstm": layers.LSTM, "gru": layers.GRU}[kind]
    layer = cls(5, return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards)
    x = rng.uniform(-1, 1, (3, 7, 4)).astype("float32")
    layer(x)
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype("float32") for w in layer.get_weights()])

    def reference(inputs):
        with fastpath.reference_only():
            return layer(np.ascontiguousarray(inputs, dtype="float32"))

    expected = reference(x)
    _assert_close(expected, layer(x))
    wide = rng.uniform(-1, 1, (3, 7, 8)).astype("float32")
    strided = wide[:, :, ::2]
    assert not strided.flags.c_contiguous
    _assert_close(reference(strided), layer(strided))
    _assert_close(reference(x.astype("float64")), layer(x.astype("float64")), tol=1e-6)
    cell = layer.cell
    kernel = cell.kernel.value
    cell.kernel.value = np.asfortranarray(kernel)
    _assert_close(expected, layer(x))
    cell.kernel.value = kernel.astype("float64")  # not what rnnlab stores, but a user might put it there
    _assert_close(expected, layer(x))
    cell.kernel.value = kernel
    _assert_close(expected, layer(x))
    with pytest.raises(ValueError, match="shape"):  # fewer features than the kernel's rows: refused, not misread
        layer(x[:, :, :3].copy())


def test_native_entry_point_checks_every_array_before_computing():
    """The C entry point reads only what the sizes say it may: an array of another dtype, not C-contiguous or of
    another size than the sizes say gives None and leaves the outputs untouched; a missing required array is a
    TypeError; and a computed call agrees with the reference."""
    from rnnlab.kernels import native

    ext = native.extension()
    rng = np.random.default_rng(5)
    B, T, D, M = 2, 6, 3, 4
    x = rng.uniform(-1, 1, (B, T, D)).astype("float32")
    W = rng.uniform(-0.5, 0.5, (D, 4 * M)).astype("float32")
    U = rng.uniform(-0.5, 0.5, (M, 4 * M)).astype("float32")
    b = rng.uniform(-0.5, 0.5, 4 * M).astype("float32")

    def call(**change):
        arrays = dict(x=x, W=W, U=U, b=b, h=np.zeros((B, M), "float32"), c=np.zeros((B, M), "float32"),
                      prev=np.zeros((B, M), "float32"), out=np.full((B, T, M), 7.0, "float32"), mask=None)
        arrays.update(change)
        a = arrays
        result = ext.forward(0, B, T, D, M, a["x"], a["W"], a["U"], a["b"], a["h"], a["c"], a["prev"], a["out"],
                             a["mask"], False, False, 0, -1)
        return result, a["out"]

    ok, out = call()
    assert ok is True
    layer = layers.LSTM(M, return_sequences=True)
    layer(x)
    layer.set_weights([W, U, b])
    with fastpath.reference_only():
        _assert_close(layer(x), out)
    for change in (dict(x=x.astype("float64")), dict(x=x[:1]), dict(W=W[:, :-1].copy()), dict(U=U.T.copy().T),
                   dict(W=np.concatenate([W, W])), dict(prev=np.zeros((B + 1, M), "float32")),
                   dict(b=b.astype("float16")), dict(out=np.full((B, T - 1, M), 7.0, "float32")),
                   dict(mask=np.ones((B, T), "float32")), dict(mask=np.ones((B, T - 1), "uint8")),
                   dict(h=np.zeros((B, M), "int32")), dict(x=b"not floats")):
        ok, out = call(**change)
        assert ok is None, sorted(change)
        if out.shape == (B, T, M):
            assert (out == 7.0).all(), sorted(change)  # nothing computed
    readonly = np.zeros((B, M), "float32")
    readonly.flags.writeable = False
    assert call(h=readonly)[0] is None
    for missing in ("x", "W", "U", "h", "c", "prev"):
        with pytest.raises(TypeError, match="may not be None"):
            call(**{missing: None})
    with pytest.raises(TypeError):
        call(x=object())  # no buffer at all

def test_native_kernel_from_several_python_threads_at_once():
    """The kernel releases the GIL and its thread pool serves one caller at a time (others run on their own
    thread): concurrent calls from Python threads all give the reference result."""
    import threading

    rng = np.random.default_rng(3)
    layer = layers.GRU(48, return_sequences=True)
    xs = [rng.normal(size=(16, 20, 24)).astype("float32") for _ in range(6)]
    layer(xs[0])
    layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
    with fastpath.reference_only():
        expected = [layer(x) for x in xs]
    results = [None] * len(xs)

    def work(i):
        for _ in range(5):
            results[i] = layer(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        _assert_close(want, got)


def test_native_kernel_in_a_forked_child():
    """A child forked after the thread pool started gets a fresh pool (threads do not survive fork)."""
    import multiprocessing

    rng = np.random.default_rng(4)
    layer = layers.LSTM(64, return_sequences=True)
    x = rng.normal(size=(32, 10, 64)).astype("float32")
    expected = layer(x)  # large enough to start the pool
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply(layer, (x,))
    _assert_close(expected, got, tol=0)


_FORK_DURING_CALLS_PROGRAM = r"""
import os, sys, threading
import numpy as np
from rnnlab import config, layers
from rnnlab.kernels import native_loops

rng = np.random.default_rng(0)
layer = layers.LSTM(64, return_sequences=True)
x = rng.normal(size=(16, 20, 32)).astype("float32")
layer(x)
layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
states = [np.zeros((16, 64), "float32")] * 2
ref = native_loops.native_layer(layer.cell, x, states, None, False, True, threads=1)[1]
stop = []


def calls():  # another thread of the program keeps the pool busy while the main thread forks
    while not stop:
        native_loops.native_layer(layer.cell, x, states, None, False, True, threads=2)


thread = threading.Thread(target=calls)
thread.start()
failed = 0
for _ in range(int(sys.argv[1])):
    pid = os.fork()
    if pid == 0:
        config.set_num_threads(2)
        out = native_loops.native_layer(layer.cell, x, states, None, False, True, threads=2)[1]
        os._exit(0 if np.array_equal(out, ref) else 3)
    failed += os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
stop.append(1)
thread.join()
print("failed", failed)
"""


def test_fork_while_another_thread_runs_the_kernels():
    """A program forks while another of its threads is inside a threaded kernel call.  The pool's locks used to be
    copied into the child held by a thread the child does not have, so the child's set_num_threads waited forever
    (most runs of 200 forks).  Now fork waits for the call and the child starts with its locks free: every child
    sets its threads and runs a threaded call to the one-thread result."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _FORK_DURING_CALLS_PROGRAM, "150"], capture_output=True,
                              text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("a forked child did not finish within 120 s (a lock copied held into the child)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["failed", "0"], done.stdout


def test_a_registered_kernel_is_used_by_layers():
    """A kernel registered on the seam is what a layer call runs (and unregistering restores the old one)."""
    calls = []
    ref = next(k for k in fastpath.kernels("rnn_sequence") if k.name == "reference").fn

    def spy(call):
        calls.append(call.cell)
        return ref(call)

    fastpath.register("rnn_sequence", "spy", spy, priority=100)
    try:
        layer = layers.SimpleRNN(2)
        layer(np.ones((1, 3, 2), "float32"))
    finally:
        fastpath.unregister("rnn_sequence", "spy")
    assert calls and calls[0] is layer.cell
    with pytest.raises(ValueError):
        fastpath.unregister("rnn_sequence", "reference")


@pytest.mark.parametrize("shape", [(3,), (2, 5, 7), (16384,), (8, 100, 128), 70000])
def test_aligned_buffers(shape):
    """The kernels' buffers: the requested shape and dtype, on a 64-byte boundary once they are large enough for it
    to matter (64 KiB); smaller ones are plain arrays."""
    from rnnlab import backend

    a = backend.empty_aligned(shape, np.float32)
    assert a.shape == (shape if isinstance(shape, tuple) else (shape,)) and a.dtype == np.float32
    assert a.flags.c_contiguous and a.flags.writeable
    if a.nbytes >= backend.ALIGNED_MIN_BYTES:
        assert a.ctypes.data % 64 == 0
    else:
        assert a.base is None


def _built_layer(kind, size, seed, scale):
    """``(rng, layer, x, weights)``: a ``kind`` layer (``return_sequences``, ``return_state``) built on random
    inputs ``x`` of ``size`` ``(B, T, D, units)``, and random float32 weights in ``[-scale, scale]`` for it."""
    batch, steps, dim, units = size
    rng = np.random.default_rng(seed)
    layer = getattr(layers, kind)(units, return_sequences=True, return_state=True)
    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    layer(x)
    return rng, layer, x, [rng.uniform(-scale, scale, w.shape).astype("float32") for w in layer.get_weights()]


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("size", [(2, 13, 5, 16), (5, 40, 7, 70), (9, 7, 33, 48)])
def test_native_results_do_not_depend_on_strategy_or_batch(kind, size, monkeypatch):
    """For batches of two rows or more, every strategy (rows or units shared, 1-3 threads, the input part in each
    step or ahead in chunks, the blocks of units in order or in reverse every other step) sums in one order: the
    outputs are the same bits, and a row's outputs are the same bits whichever batch it comes in."""
    from rnnlab.kernels import native, native_loops

    lib = native.library()
    batch, steps, dim, units = size
    rng, layer, x, weights = _built_layer(kind, size, seed=batch, scale=0.3)
    layer.set_weights(weights)
    mask = _mask(rng, batch, steps)
    lib.rnnlab_set_threads(3)
    results = []
    try:
        for threads, split, ahead, order in [(1, -1, 0, 0), (1, -1, 1, 1), (2, 0, 0, 1), (2, 0, 1, 0), (2, 1, 0, 1),
                                             (3, 1, 1, 0), (3, 0, 0, 1), (0, -1, -1, -1)]:
            monkeypatch.setattr(fastpath.options, "threads", threads)
            lib.rnnlab_test_split(split)
            lib.rnnlab_test_precompute(ahead)
            lib.rnnlab_test_block_order(order)
            results.append([np.array(o) for o in layer(x, mask=mask)])
        lib.rnnlab_test_split(-1)
        lib.rnnlab_test_precompute(-1)
        lib.rnnlab_test_block_order(-1)
        monkeypatch.setattr(fastpath.options, "threads", 0)
        halves = [[np.array(o) for o in layer(x[part], mask=mask[part])] for part in (slice(0, 2), slice(2, None))
                  if batch >= 4]  # a batch of one row sums alone, in its own order
    finally:
        lib.rnnlab_test_split(-1)
        lib.rnnlab_test_precompute(-1)
        lib.rnnlab_test_block_order(-1)
        lib.rnnlab_set_threads(native.thread_count())
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    if halves:
        for a, b, c in zip(results[0], halves[0], halves[1]):
            np.testing.assert_array_equal(a, np.concatenate([b, c]))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_native_input_ahead_in_several_chunks(kind, go_backwards, monkeypatch):
    """A sequence longer than one chunk of steps computed ahead (here 85 steps: 300 = 85 + 85 + 85 + 45), in either
    direction, with a mask: the same bits as the input part computed in each step, and the reference's values."""
    from rnnlab.kernels import native, native_loops

    lib = native.library()
    rng = np.random.default_rng(int(go_backwards))
    layer = getattr(layers, kind)(64, return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(3, 300, 4)).astype("float32")
    layer(x)
    layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
    mask = _mask(rng, 3, 300)
    monkeypatch.setattr(fastpath.options, "threads", 1)
    outputs = []
    try:
        for ahead in (0, 1):
            lib.rnnlab_test_precompute(ahead)
            outputs.append([np.array(o) for o in layer(x, mask=mask)])
    finally:
        lib.rnnlab_test_precompute(-1)
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)
    ref, _ = _run_both(lambda: layer(x, mask=mask), "native")
    _assert_close(ref, outputs[1], tol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("split", [0, 1], ids=["units", "rows"])
def test_native_last_output_with_masked_last_steps(kind, split, monkeypatch):
    """``return_sequences=False`` with ``zero_output_for_mask``: rows whose last steps are masked return zeros while
    their state carries on, on 2 threads sharing rows (each thread's own state arrays, written back) or units."""
    from rnnlab.kernels import native, native_loops

    lib = native.library()
    rng = np.random.default_rng(split)
    layer = getattr(layers, kind)(48, return_state=True, zero_output_for_mask=True)
    x = rng.normal(size=(8, 9, 40)).astype("float32")
    layer(x)
    layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
    mask = _mask(rng, 8, 9)
    mask[::2, -1] = False
    monkeypatch.setattr(fastpath.options, "threads", 2)
    lib.rnnlab_set_threads(2)
    lib.rnnlab_test_split(split)
    try:
        ref, fast = _run_both(lambda: layer(x, mask=mask), "native")
    finally:
        lib.rnnlab_test_split(-1)
        lib.rnnlab_set_threads(native.thread_count())
    assert not np.asarray(fast[0])[::2].any()
    _assert_close(ref, fast)


_PACED_PROGRAM = _RANDOM_LAYER + r"""
import sys, time
from rnnlab.kernels import native

kind, calls = sys.argv[1], int(sys.argv[2])
lib = native.library()
lib.rnnlab_set_threads(2)
layer, x, states, ref = random_layer(kind, seed=5, batch=8, steps=12, features=48, units=64)
expected_seen = 0
for i in range(calls):
    # a steady pace, then another, then back: gaps of 8 and 12 ms, long beside this machine's timer jitter of about
    # a millisecond (with 3 and 5 ms, jitter alone sometimes broke the quarter within which two gaps must agree)
    time.sleep(0.008 + 0.004 * (i // 20 % 2))
    out = native_loops.native_layer(layer.cell, x, states, None, False, True, threads=0 if i % 2 else 2)[1]
    expected_seen += lib.rnnlab_test_call_expected()
    if not np.array_equal(out, ref):
        sys.exit(f"call {i}: outputs differ from the one-thread call")
time.sleep(0.3)                                   # the pace stops: the pool threads go back to sleep
out = native_loops.native_layer(layer.cell, x, states, None, False, True, threads=2)[1]
if not np.array_equal(out, ref):
    sys.exit("the call after the pace stopped differs from the one-thread call")
print("done", calls, expected_seen)
"""


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_calls_at_a_regular_pace_wake_the_pool_ahead_and_match_one_thread(kind):
    """Calls that come at a regular pace (a stream) make the pool's threads wake just before the next call is due
    (pool.h, note_call_start / await_expected_call), on forced and automatic thread counts alike.  In a child
    process, which a hang fails by its timeout: the pace is detected, and every call gives the one-thread
    call's outputs, including one after the pace has stopped."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _PACED_PROGRAM, kind, "200"],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind}: paced calls did not finish within 120 s (the pool's threads deadlocked)")
    assert done.returncode == 0, done.stderr[-2000:]
    word, calls, expected_seen = done.stdout.split()
    assert (word, calls) == ("done", "200")
    assert int(expected_seen) > 100, f"the regular pace was detected on only {expected_seen} of 200 calls"


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("size", [(1, 9, 6, 64), (1, 5, 3, 37), (3, 6, 4, 80)])
def test_native_block_order_changes_no_bit_of_inference_or_training(kind, size):
    """Every other step may take the blocks of units in reverse order (the panels read last are still in L1):
    blocks are independent within a step, so outputs, states and the gradients of a training step are the same
    bits either way, one row or several, and agree with the reference loop."""
    from rnnlab.kernels import native

    lib = native.library()
    batch, steps, dim, units = size
    rng, layer, x, weights = _built_layer(kind, size, seed=units, scale=0.4)
    probe = [rng.normal(size=(batch, steps, units)).astype("float32")] + \
        [rng.normal(size=(batch, units)).astype("float32") for _ in range(2 if kind == "LSTM" else 1)]

    def run():
        layer.set_weights(weights)
        outputs = [np.array(o) for o in layer(x)]
        grads = {}
        assert layer.explain_kernels(x, training=True).selected == "fused_training"
        _, backward = layer.forward_backward(x, grads=grads, training=True)
        d_x, _ = backward(probe, need_input_grad=True)
        return outputs + [np.array(grads[w]) for w in layer.trainable_weights] + [np.array(d_x)]

    try:
        found = {}
        for order in (0, 1):
            lib.rnnlab_test_block_order(order)
            found[order] = run()
    finally:
        lib.rnnlab_test_block_order(-1)
    for a, b in zip(found[0], found[1]):
        np.testing.assert_array_equal(a, b)
    with fastpath.reference_only():
        layer.set_weights(weights)
        _assert_close([np.array(o) for o in layer(x)], found[1][:len(layer(x))])
