"""Which kernels run is never silent (rnnlab.runtime_info, `rnnlab info --runtime`, a warning on a fallback the user
did not ask for), and the native kernels' threads are set by rnnlab.config and by threadpoolctl."""
import warnings

import numpy as np
import pytest

import rnnlab
from rnnlab import fastpath, layers
from rnnlab.cli import main
from rnnlab.kernels import native
from tests.support.reference import require

KERNELS = {"native-avx512", "native-avx2", "native-baseline", "numpy"}


def test_runtime_info_fields():
    info = rnnlab.runtime_info()
    assert info["kernel"] in KERNELS
    assert info["kernel"] == f"native-{native.library().variant}" and info["reason"] is None
    assert info["threads"] == native.get_num_threads() >= 1
    assert info["compiled_at_first_use"] is False
    assert info["runnable_variants"][-1] == "baseline"
    assert set(info["compiled_variants"]) <= set(native.VARIANTS)


def test_cli_prints_runtime_info(capsys):
    assert main(["info", "--runtime"]) == 0
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    info = rnnlab.runtime_info()
    assert printed["kernel"] == info["kernel"] and printed["threads"] == str(info["threads"])
    assert printed["reason"] == str(info["reason"])
    assert main(["info", "--runtime", "model.keras"]) == 2  # one or the other
    assert main(["info"]) == 2


@pytest.fixture
def fresh_state(monkeypatch):
    """The native library not chosen yet, as in a new process (restored afterwards)."""
    monkeypatch.setattr(native, "_STATE", {})
    monkeypatch.delenv("RNNLAB_NATIVE", raising=False)
    return monkeypatch


def _lstm_outputs():
    rng = np.random.default_rng(0)
    layer = layers.LSTM(5, return_sequences=True)
    x = rng.normal(size=(3, 4, 2)).astype("float32")
    layer(x)
    layer.set_weights([rng.uniform(-0.5, 0.5, w.shape) for w in layer.get_weights()])
    return layer, x


def test_fallback_warns_once_with_the_reason(fresh_state):
    """No variant loads (as in an install without a compiler): the first call warns, naming why, later calls do
    not, and the NumPy kernels give the reference's numbers."""
    def not_built(name):
        raise ImportError(f"No module named {name!r}")

    fresh_state.setattr(native, "load_variant", not_built)
    fresh_state.setattr(native, "compiled_variants", lambda: ())
    with pytest.warns(native.NativeFallbackWarning, match="installed without its compiled kernels"):
        layer, x = _lstm_outputs()
        out = layer(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x)
    info = rnnlab.runtime_info()
    assert info["kernel"] == "numpy" and "without its compiled kernels" in info["reason"]
    assert layer.explain_kernels(x).selected != "native"
    with fastpath.reference_only():
        np.testing.assert_allclose(out, layer(x), atol=1e-6)


def test_a_variant_the_cpu_lacks_is_refused_with_a_warning(fresh_state):
    """RNNLAB_NATIVE names a variant this CPU cannot run: it is not loaded (it would kill the process), and the
    warning says so."""
    fresh_state.setattr(native, "runnable_variants", lambda: ("baseline",))
    fresh_state.setenv("RNNLAB_NATIVE", "avx2")
    with pytest.warns(native.NativeFallbackWarning, match="RNNLAB_NATIVE=avx2 asks for a variant this CPU cannot"):
        assert native.library() is None


def test_asking_for_numpy_is_silent(fresh_state):
    fresh_state.setenv("RNNLAB_NATIVE", "0")
    layer, x = _lstm_outputs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x)
    info = rnnlab.runtime_info()
    assert info["kernel"] == "numpy" and "RNNLAB_NATIVE=0" in info["reason"]


def test_forcing_a_runnable_variant(fresh_state):
    fresh_state.setenv("RNNLAB_NATIVE", "baseline")
    assert native.library().variant == "baseline"
    assert rnnlab.runtime_info()["kernel"] == "native-baseline"


def test_set_num_threads(monkeypatch):
    lib = native.library()
    before = rnnlab.config.get_num_threads()
    try:
        rnnlab.config.set_num_threads(1)
        assert rnnlab.config.get_num_threads() == 1 == lib.rnnlab_get_threads()
        assert rnnlab.runtime_info()["threads"] == 1
    finally:
        rnnlab.config.set_num_threads(before)
    assert lib.rnnlab_get_threads() == before
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="set_num_threads expects a positive integer"):
            rnnlab.config.set_num_threads(bad)


def test_threadpoolctl_limits_the_pool():
    """threadpoolctl sees rnnlab's pool (its registered controller) and limits it within threadpool_limits."""
    threadpoolctl = require("threadpoolctl")
    lib = native.library()
    rnnlab.config.set_num_threads(2)
    try:
        found = [c for c in threadpoolctl.threadpool_info() if c["user_api"] == "rnnlab"]
        assert any(c["filepath"] == lib.extension.__file__ and c["num_threads"] == 2 for c in found)
        with threadpoolctl.threadpool_limits(limits=1):
            assert rnnlab.config.get_num_threads() == 1
        assert rnnlab.config.get_num_threads() == 2
        with threadpoolctl.threadpool_limits(limits=1, user_api="rnnlab"):
            assert rnnlab.config.get_num_threads() == 1
    finally:
        rnnlab.config.set_num_threads(native.thread_count())
