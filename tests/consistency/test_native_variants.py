"""Every compiled variant of the native kernels (AVX-512, AVX2+FMA, portable baseline; setup.py) against the reference
loop, each forced in turn; and the choice among them (the best one this CPU runs).

A variant this CPU cannot run is only checked to be compiled: running it would kill the process (illegal
instruction).  The dispatch test checks that it is skipped.
"""
import platform

import numpy as np
import pytest

from rnnlab import fastpath, layers
from rnnlab.kernels import native
from tests.support.gradcheck import flat, pack

X86 = platform.machine().lower() in ("x86_64", "amd64")
WIDTH = {"avx512": 16, "avx2": 8, "baseline": 4}


def test_every_variant_is_compiled():
    """The build compiled every variant of the platform (all three on x86-64, the baseline elsewhere)."""
    expected = native.VARIANTS if X86 else ("baseline",)
    assert native.compiled_variants() == expected


def test_the_best_runnable_variant_is_chosen(monkeypatch):
    """Dispatch takes the first variant, in order of preference, that is compiled and that this CPU runs: never
    one the CPU lacks (AVX-512 on this development machine)."""
    runnable = native.runnable_variants()
    assert runnable[-1] == "baseline" and set(runnable) <= set(native.VARIANTS)
    best = next(v for v in native.VARIANTS if v in runnable and v in native.compiled_variants())
    monkeypatch.setattr(native, "_STATE", {})
    monkeypatch.delenv("RNNLAB_NATIVE", raising=False)
    lib = native.library()
    assert lib.variant == best and native.runtime_info()["kernel"] == f"native-{best}"
    assert lib.rnn_vector_width() == WIDTH[best]


@pytest.mark.skipif(not X86, reason="/proc/cpuinfo flags are read on x86-64 Linux")
def test_cpu_check_agrees_with_the_operating_system(monkeypatch):
    """The baseline module's cpuid check and the /proc/cpuinfo reading (the fallback) agree."""
    from_cpuid = native.runnable_variants()
    import importlib

    real = importlib.import_module

    def without_baseline(name, *args):
        if name.endswith("_baseline"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_baseline)
    assert native.runnable_variants() == from_cpuid


def _reference_and_native(fn):
    with fastpath.reference_only():
        ref = fn()
    with fastpath.force("native"):
        fast = fn()
    return flat(ref), flat(fast)


def _training(layer, x, kwargs, probe):
    grads = {}
    outputs, backward = layer.forward_backward(x, grads=grads, training=True, **kwargs)
    d_x, _ = backward(pack(outputs, iter(probe)))
    return flat(outputs), [grads[w] for w in layer.weights], d_x


@pytest.mark.parametrize("variant", native.VARIANTS)
def test_variant_matches_reference(variant, monkeypatch):
    """Forced variant: LSTM and GRU outputs and states agree with the reference loop to 1e-6 (masks, go_backwards,
    rows or units shared among threads, the CPython entry point and the ctypes route), and a training call's
    outputs and gradients to float32 precision (2e-4 relative, as tests/consistency/test_fused_training.py)."""
    if variant not in native.compiled_variants():
        pytest.skip(f"{variant} is not built on {platform.machine()}")
    if variant not in native.runnable_variants():
        pytest.skip(f"this CPU cannot run {variant} (it is compiled: test_every_variant_is_compiled)")
    lib = native.load_variant(variant)
    assert lib.extension.variant() == variant and lib.rnn_vector_width() == WIDTH[variant]
    monkeypatch.setitem(native._STATE, "lib", lib)
    saved_threads = lib.rnnlab_get_threads()  # the same pool as the default library's when the variants coincide
    lib.rnnlab_set_threads(3)
    try:
        for seed in range(12):
            rng = np.random.default_rng(seed)
            batch, steps, dim, units = (int(v) for v in (rng.integers(1, 14), rng.integers(1, 9),
                                                         rng.integers(1, 40), rng.integers(1, 70)))
            monkeypatch.setattr(fastpath.options, "threads", int(rng.integers(0, 4)))
            monkeypatch.setattr(lib, "extension", lib.extension if seed % 3 else None)  # ctypes route too
            lib.rnnlab_test_split(int(rng.integers(-1, 2)))
            for kind in ("LSTM", "GRU"):
                layer = getattr(layers, kind)(units, return_sequences=True, return_state=True,
                                              go_backwards=bool(seed % 2))
                x = rng.normal(size=(batch, steps, dim)).astype("float32")
                layer(x)
                layer.set_weights([rng.uniform(-0.3, 0.3, w.shape) for w in layer.get_weights()])
                mask = rng.random((batch, steps)) > 0.3
                assert layer.explain_kernels(x).selected == "native"
                for kwargs in ({}, {"mask": mask}):
                    ref, fast = _reference_and_native(lambda: layer(x, **kwargs))
                    for r, f in zip(ref, fast, strict=True):
                        np.testing.assert_allclose(f, r, atol=1e-6, rtol=0)
                if seed % 4 == 0:
                    probe = [rng.normal(size=np.shape(o)).astype("float32") for o in ref]
                    with fastpath.reference_only():
                        expected = _training(layer, x, {"mask": mask}, probe)
                    assert layer.explain_kernels(x, training=True).selected == "fused_training"
                    got = _training(layer, x, {"mask": mask}, probe)
                    for e, g in zip(flat(expected), flat(got), strict=True):
                        scale = max(float(np.abs(e).max()), 1e-3)
                        assert float(np.abs(np.asarray(g) - e).max()) / scale <= 2e-4
    finally:
        lib.rnnlab_test_split(-1)
        lib.rnnlab_set_threads(saved_threads)
