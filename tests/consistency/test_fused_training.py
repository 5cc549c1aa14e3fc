"""The fused training kernel (rnnlab/kernels/fused_training.py) against the general training path.

On random configurations (weights, biases, masks, go_backwards, initial states, output structures, GRU
variants, input dropout), the fused kernel -- its NumPy loop and, for float32, the whole-sequence C kernels --
must give the general path's outputs and gradients: to 1e-6 in float64, to float32 precision in float32.  The C
kernels are also run with every thread count and work split, and their weight-gradient product is checked against
NumPy.  A float64 finite-difference check covers the fused path on its own.
"""
import numpy as np
import pytest

import rnnlab
from rnnlab import fastpath, layers
from rnnlab.kernels import native
from rnnlab.kernels import fused_training as fused
from tests.support.gradcheck import flat, gradcheck, pack

HAS_NATIVE = native.library() is not None
PATHS = ["numpy", pytest.param("native", marks=pytest.mark.skipif(not HAS_NATIVE, reason="no C compiler"))]


def _mask(rng, batch, steps):
    mask = rng.random((batch, steps)) > 0.3
    mask[0, -2:] = False  # right padding
    mask[1, :2] = False  # left padding
    return mask


def _random_config(seed):
    """A random layer configuration and call arguments (deterministic in ``seed``)."""
    rng = np.random.default_rng(seed)
    kind = ["lstm", "gru", "gru_nobias", "lstm_nobias"][seed % 4]
    flags = dict(return_sequences=bool(rng.integers(2)), return_state=bool(rng.integers(2)),
                 go_backwards=bool(rng.integers(2)), zero_output_for_mask=bool(rng.integers(2)))
    dropout = float(rng.choice([0.0, 0.0, 0.3]))
    return rng, kind, flags, dict(masked=bool(rng.integers(2)), initial_state=bool(rng.integers(2)),
                                  dropout=dropout)


def _layer(kind, units, dtype, **kwargs):
    if kind.startswith("lstm"):
        return layers.LSTM(units, use_bias=kind == "lstm", dtype=dtype, **kwargs)
    return layers.GRU(units, use_bias=kind == "gru", dtype=dtype, **kwargs)


def _run(layer, x, kwargs, probe, path, seed, monkeypatch, need_input_grad=True):
    """Outputs, gradients (by weight path), d_inputs and d_initial_state of one training call on ``path``."""
    grads = {}
    layer.cell._rng = np.random.default_rng(seed)  # the same dropout masks on every path
    with monkeypatch.context() as m:
        if path == "numpy":
            m.setattr(fused, "_sequence_library", lambda *args: None)
        if path == "reference":
            with fastpath.reference_only():
                outputs, backward = layer.forward_backward(x, grads=grads, training=True, **kwargs)
        else:
            assert layer.explain_kernels(x, training=True).selected == "fused_training"
            outputs, backward = layer.forward_backward(x, grads=grads, training=True, **kwargs)
        if probe is None:
            probe = [np.random.default_rng(seed + 1).normal(size=np.shape(o)).astype(x.dtype) for o in flat(outputs)]
        d_x, d_other = backward(pack(outputs, iter(probe)), need_input_grad=need_input_grad)
    named = {w.path: grads[w] for w in layer.weights if w in grads}
    return [np.array(o) for o in flat(outputs)], named, d_x, d_other.get("initial_state"), probe


def _assert_close(actual, expected, tol, what):
    scale = max(float(np.abs(expected).max()), 1e-3)
    err = float(np.abs(np.asarray(actual) - expected).max()) / scale
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol}"


# The C loop is float32 only (float64 always runs the NumPy loop), so native pairs with float32 alone.
DTYPE_PATHS = [("float64", "numpy"), ("float32", "numpy"),
               pytest.param("float32", "native", marks=pytest.mark.skipif(not HAS_NATIVE, reason="no C compiler"))]


@pytest.mark.parametrize("dtype,path", DTYPE_PATHS)
@pytest.mark.parametrize("seed", range(16))
def test_fused_matches_general_path(seed, dtype, path, monkeypatch):
    rng, kind, flags, opts = _random_config(seed)
    batch, steps, features, units = int(rng.integers(2, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 5)), \
        int(rng.integers(1, 6))
    layer = _layer(kind, units, dtype, dropout=opts["dropout"], **flags)
    x = rng.normal(size=(batch, steps, features)).astype(dtype)
    layer(x)
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape).astype(dtype) for w in layer.get_weights()])
    kwargs = {}
    if opts["masked"] and steps > 2:
        kwargs["mask"] = _mask(rng, batch, steps)
    if opts["initial_state"]:
        kwargs["initial_state"] = [rng.normal(size=(batch, s)).astype(dtype) for s in layer.cell.flat_state_sizes]
    ref_out, ref_grads, ref_dx, ref_d0, probe = _run(layer, x, kwargs, None, "reference", seed, monkeypatch)
    out, grads, dx, d0, _ = _run(layer, x, kwargs, probe, path, seed, monkeypatch)
    tol = 1e-6 if dtype == "float64" else 2e-4
    for a, e in zip(out, ref_out):
        _assert_close(a, e, tol, "outputs")
    assert sorted(grads) == sorted(ref_grads)
    for name in ref_grads:
        assert grads[name].dtype == np.dtype(dtype), name
        _assert_close(grads[name], ref_grads[name], tol, name)
    _assert_close(dx, ref_dx, tol, "d_inputs")
    assert (d0 is None) == (ref_d0 is None)
    for a, e in zip(d0 or [], ref_d0 or []):
        _assert_close(a, e, tol, "d_initial_state")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fused_long_sequence_float32(kind, path, monkeypatch):
    """Many steps and wider layers (gradients travel through long products) in float32."""
    rng = np.random.default_rng(7)
    layer = _layer(kind, 16, "float32", return_sequences=True)
    x = rng.normal(size=(4, 40, 8)).astype(np.float32)
    layer(x)
    layer.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()])
    mask = _mask(rng, 4, 40)
    ref_out, ref_grads, ref_dx, _, probe = _run(layer, x, {"mask": mask}, None, "reference", 0, monkeypatch)
    out, grads, dx, _, _ = _run(layer, x, {"mask": mask}, probe, path, 0, monkeypatch)
    _assert_close(out[0], ref_out[0], 1e-5, "outputs")
    for name in ref_grads:
        _assert_close(grads[name], ref_grads[name], 2e-4, name)
    _assert_close(dx, ref_dx, 2e-4, "d_inputs")


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_nobias"])
def test_fused_finite_differences(kind):
    """float64 finite differences of the fused path with a mask, go_backwards and initial states."""
    rng = np.random.default_rng(11)
    layer = _layer(kind, 3, "float64", return_sequences=True, return_state=True, go_backwards=True)
    x = rng.normal(size=(3, 5, 2))
    layer(x)
    layer.set_weights([rng.uniform(-0.7, 0.7, w.shape) for w in layer.get_weights()])
    assert layer.explain_kernels(x, training=True).selected == "fused_training"
    init = [rng.normal(size=(3, s)) for s in layer.cell.flat_state_sizes]
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    mask[1, :2] = False
    mask[2, 2] = False
    assert gradcheck(layer, (x,), {"initial_state": init, "mask": mask}, rng) <= 1e-6


def test_input_gradient_can_be_skipped(monkeypatch):
    rng = np.random.default_rng(3)
    layer = _layer("lstm", 4, "float64", return_sequences=True)
    x = rng.normal(size=(2, 5, 3))
    layer(x)
    _, grads, dx, _, probe = _run(layer, x, {}, None, "numpy", 3, monkeypatch)
    _, grads_skip, dx_skip, _, _ = _run(layer, x, {}, probe, "numpy", 3, monkeypatch, need_input_grad=False)
    assert dx is not None and dx_skip is None
    for name in grads:
        np.testing.assert_array_equal(grads_skip[name], grads[name])


@pytest.mark.parametrize("layer_fn", [
    lambda: layers.GRU(3, reset_after=False),
    lambda: layers.LSTM(3, recurrent_dropout=0.2),
    lambda: layers.LSTM(3, activation="relu"),
    lambda: layers.SimpleRNN(3),
    lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2)]),
])
def test_unsupported_calls_take_the_general_path(layer_fn):
    layer = layer_fn()
    layer(np.zeros((1, 2, 2), np.float32))
    assert layer.explain_kernels(np.zeros((1, 2, 2), np.float32), training=True).selected == "reference"


@pytest.mark.parametrize("path", PATHS)
def test_stateful_training_updates_states_like_the_general_path(path, monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3)).astype(np.float32)
    results = []
    for run in ("reference", path):
        inp = rnnlab.Input(batch_shape=(2, 4, 3))
        layer = layers.LSTM(5, stateful=True, return_sequences=True, seed=1)
        model = rnnlab.Model(inp, layer(inp))
        model.set_weights([np.random.default_rng(0).uniform(-0.5, 0.5, w.shape).astype(np.float32)
                           for w in model.get_weights()])
        model.compile(optimizer=rnnlab.optimizers.SGD(0.1), loss="mse")
        with monkeypatch.context() as m:
            if run == "numpy":
                m.setattr(fused, "_sequence_library", lambda *args: None)
            if run == "reference":
                m.setattr(fastpath, "_FORCED", ["reference"])
            for _ in range(2):
                model.train_on_batch(x, np.ones((2, 4, 5), np.float32))
        results.append(([s.copy() for s in layer.states], model.get_weights()))
    for a, e in zip(results[1][0] + results[1][1], results[0][0] + results[0][1]):
        np.testing.assert_allclose(a, e, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_train_on_batch_matches_general_path(kind, monkeypatch):
    """A model step on the fused path (C where available) lands on the general path's weights."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 6, 3)).astype(np.float32)
    y = rng.normal(size=(4, 6, 8)).astype(np.float32)
    weights = None
    results = []
    for path in ("reference", "fused"):
        inp = rnnlab.Input(shape=(6, 3))
        model = rnnlab.Model(inp, _layer(kind, 8, "float32", return_sequences=True)(inp))
        weights = weights or [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
        model.set_weights(weights)
        model.compile(optimizer=rnnlab.optimizers.SGD(0.5), loss="mse")
        with monkeypatch.context() as m:
            if path == "reference":
                m.setattr(fastpath, "_FORCED", ["reference"])
            losses = [model.train_on_batch(x, y) for _ in range(3)]
        results.append((losses, model.get_weights()))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5)
    for a, e in zip(results[1][1], results[0][1]):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-6)


native_only = pytest.mark.skipif(not HAS_NATIVE, reason="no C compiler")


@native_only
@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_nobias"])
@pytest.mark.parametrize("size", [(2, 5, 3, 4), (7, 9, 5, 70), (13, 4, 9, 33), (6, 3, 2, 130)],
                         ids=["tiny", "ragged-group", "odd", "three-groups"])
@pytest.mark.parametrize("threads", [1, 2, 3], ids=["1thread", "2threads", "3threads"])
@pytest.mark.parametrize("split", [0, 1], ids=["units", "rows"])
def test_native_training_strategies_match_general_path(kind, size, threads, split, monkeypatch):
    """The native forward (saving its gates), backward and weight-gradient product with units or rows shared among
    1-3 threads, on sizes with partial SIMD blocks, partial groups of units and ragged row tiles: outputs and every
    gradient agree with the general path, with a mask, initial states and either direction."""
    from rnnlab.kernels import native_loops

    lib = native.library()
    monkeypatch.setattr(fastpath.options, "threads", threads)
    lib.rnnlab_set_threads(3)
    lib.rnnlab_test_split(split)
    try:
        batch, steps, features, units = size
        rng = np.random.default_rng(batch * 100 + threads)
        for go_backwards, zero_output in ((False, False), (True, True)):
            layer = _layer(kind, units, "float32", return_sequences=True, return_state=True,
                           go_backwards=go_backwards, zero_output_for_mask=zero_output)
            x = rng.normal(size=(batch, steps, features)).astype(np.float32)
            layer(x)
            layer.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()])
            kwargs = {"initial_state": [rng.normal(size=(batch, s)).astype(np.float32)
                                        for s in layer.cell.flat_state_sizes]}
            if steps > 2:
                kwargs["mask"] = _mask(rng, batch, steps)
            ref_out, ref_grads, ref_dx, ref_d0, probe = _run(layer, x, kwargs, None, "reference", 0, monkeypatch)
            out, grads, dx, d0, _ = _run(layer, x, kwargs, probe, "native", 0, monkeypatch)
            for a, e in zip(out, ref_out):
                _assert_close(a, e, 1e-5, "outputs")
            assert sorted(grads) == sorted(ref_grads)
            for name in ref_grads:
                _assert_close(grads[name], ref_grads[name], 2e-5, name)
            _assert_close(dx, ref_dx, 2e-5, "d_inputs")
            for a, e in zip(d0, ref_d0):
                _assert_close(a, e, 2e-5, "d_initial_state")
    finally:
        lib.rnnlab_test_split(-1)
        lib.rnnlab_set_threads(native.thread_count())


@native_only
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("phase", [0, 3, 7])
def test_native_training_hands_over_to_one_thread_mid_call(kind, phase, monkeypatch):
    """When threads keep losing their cores, the caller's thread finishes alone after a barrier (forced here at
    the forward's or the backward's barrier ``phase``): the gradients are still the general path's."""
    from rnnlab.kernels import native_loops

    lib = native.library()
    monkeypatch.setattr(fastpath.options, "threads", 2)
    lib.rnnlab_set_threads(2)
    lib.rnnlab_test_solo_at(phase)
    lib.rnnlab_test_split(0)
    try:
        rng = np.random.default_rng(phase)
        layer = _layer(kind, 150, "float32", return_sequences=True)
        x = rng.normal(size=(5, 8, 6)).astype(np.float32)
        layer(x)
        layer.set_weights([rng.uniform(-0.2, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
        kwargs = {"mask": _mask(rng, 5, 8)}
        ref_out, ref_grads, ref_dx, _, probe = _run(layer, x, kwargs, None, "reference", 0, monkeypatch)
        out, grads, dx, _, _ = _run(layer, x, kwargs, probe, "native", 0, monkeypatch)
        _assert_close(out[0], ref_out[0], 1e-5, "outputs")
        for name in ref_grads:
            _assert_close(grads[name], ref_grads[name], 2e-5, name)
        _assert_close(dx, ref_dx, 2e-5, "d_inputs")
    finally:
        lib.rnnlab_test_solo_at(-1)
        lib.rnnlab_test_split(-1)
        lib.rnnlab_set_threads(native.thread_count())


@native_only
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("r1,r2,k,n", [(1, 0, 1, 1), (5, 0, 300, 70), (7, 13, 129, 64), (16, 40, 257, 200),
                                       (3, 2, 128, 130)])
def test_native_weight_gradient_product_matches_numpy(r1, r2, k, n, threads):
    """``[A1 A2]^T @ B`` and B's column sums on the native kernel (K in chunks of 128 with a remainder; partial
    panels of columns; ragged row tiles) against float64 NumPy."""
    lib = native.library()
    lib.rnnlab_set_threads(3)
    try:
        rng = np.random.default_rng(r1 + k + n)
        a1 = rng.normal(size=(k, 1, r1)).astype(np.float32)
        a2 = rng.normal(size=(k, 1, r2)).astype(np.float32) if r2 else None
        b = rng.normal(size=(k, 1, n)).astype(np.float32)
        out = np.full((r1 + r2, n), np.nan, np.float32)
        colsum = np.full(n, np.nan, np.float32)
        fused._gemm(lib, out, a1, a2, b, colsum, threads)
        a = a1[:, 0] if a2 is None else np.concatenate([a1[:, 0], a2[:, 0]], axis=1)
        expected = a.astype(np.float64).T @ b[:, 0].astype(np.float64)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5 * np.sqrt(k))
        np.testing.assert_allclose(colsum, b[:, 0].astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5 * np.sqrt(k))
    finally:
        lib.rnnlab_set_threads(native.thread_count())


@native_only
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("batch,steps,width,features", [(1, 1, 1, 1), (3, 7, 200, 5), (4, 50, 130, 70),
                                                        (2, 97, 256, 130)])
def test_native_input_gradient_product_matches_numpy(batch, steps, width, features, threads):
    """``dz @ W^T`` on the native kernel (rows shared among threads when the columns are few; ragged tiles,
    partial panels, K in chunks of 128 with a remainder) against float64 NumPy."""
    lib = native.library()
    lib.rnnlab_set_threads(3)
    try:
        rng = np.random.default_rng(batch + steps + width)
        dz = rng.normal(size=(batch, steps, width)).astype(np.float32)
        kernel = rng.normal(size=(features, width)).astype(np.float32)
        dx = fused._input_grad(lib, dz, kernel, threads)
        expected = dz.astype(np.float64) @ kernel.T.astype(np.float64)
        np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-5 * np.sqrt(width))
    finally:
        lib.rnnlab_set_threads(native.thread_count())


@pytest.mark.parametrize("path", PATHS)
def test_backward_of_an_overwritten_call_is_refused(path, monkeypatch):
    """Two training calls in flight get separate buffers and both backpropagate; once a call's backward has run,
    the next call reuses its buffers, and the first backward function is then refused with a clear RuntimeError
    instead of returning gradients of the wrong call."""
    rng = np.random.default_rng(3)
    layer = _layer("lstm", 4, "float32", return_sequences=True)
    x = rng.normal(size=(2, 5, 3)).astype(np.float32)
    layer(x)
    with monkeypatch.context() as m:
        if path == "numpy":
            m.setattr(fused, "_sequence_library", lambda *args: None)
        out1, backward1 = layer.forward_backward(x, grads={}, training=True)
        out2, backward2 = layer.forward_backward(x, grads={}, training=True)  # the first call's buffers are busy
        dx1, _ = backward1(np.ones_like(out1))
        dx2, _ = backward2(np.ones_like(out2))
        np.testing.assert_array_equal(dx1, dx2)
        out3, backward3 = layer.forward_backward(x, grads={}, training=True)  # reuses the second call's buffers
        with pytest.raises(RuntimeError, match="earlier training call"):
            backward2(np.ones_like(out2))
        dx3, _ = backward3(np.ones_like(out3))
    np.testing.assert_array_equal(dx3, dx1)
