"""Native (C) time loops: compiled when rnnlab is built, one variant per SIMD level, the best one loaded at run time.

The C source (``rnn_kernels.c``, one compilation unit that includes its parts; see its first comment) is compiled by
``setup.py`` when the package is built (``pip install``, ``pip wheel``, ``pip install -e .``) into one extension
module per variant: ``_rnnlab_kernels_avx512`` (AVX-512), ``_rnnlab_kernels_avx2`` (AVX2 + FMA) and
``_rnnlab_kernels_baseline`` (portable C, the only one off x86-64).  :func:`library` loads the best variant the CPU
supports, so a wheel built on one x86-64 machine runs at full speed on any other.

Nothing is compiled at run time: a first-use build (a compiler run by the first call, its library cached on disk)
would need a private cache, checksums, a lock and a remembered failure to be safe, and the build at install makes it
needless.  A source checkout builds the modules in place with ``python setup.py build_ext --inplace`` (``pip install
-e .`` does it too).

``RNNLAB_NATIVE=0`` asks for the NumPy kernels; ``RNNLAB_NATIVE=avx2`` (or another variant's name) forces a variant.
When no native variant can run and the user did not ask for NumPy, the first call that wanted the native kernels
warns once (:class:`NativeFallbackWarning`), naming the reason; :func:`runtime_info` tells it at any time.
"""
from __future__ import annotations

import ctypes
import importlib
import os
import warnings

#: Every variant setup.py may build, best first.
VARIANTS = ("avx512", "avx2", "baseline")
_MODULE = "rnnlab.kernels.native._rnnlab_kernels_{}"
_STATE: dict = {}  # "lib", "variant", "reason" once resolved; "threads" set by set_num_threads; "warned"


class NativeFallbackWarning(RuntimeWarning):
    """The native kernels could not be used, and the user did not ask for NumPy: the NumPy kernels run instead."""


# ------------------------------------------------------------------------------------------------ threads
def thread_count() -> int:
    """Threads the native kernels may use by default: ``$RNNLAB_NUM_THREADS``, else ``$OMP_NUM_THREADS``, else the
    CPUs this process may run on."""
    for name in ("RNNLAB_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int) -> None:
    """Let the native kernels use at most ``n`` threads (the caller's included) from now on."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer number of threads; received {n!r}.")
    _STATE["threads"] = n
    lib = _STATE.get("lib")
    if lib is not None:
        lib.rnnlab_set_threads(n)


def get_num_threads() -> int:
    """The threads the native kernels may use: :func:`set_num_threads`'s value, or threadpoolctl's limit while one
    is in force, else :func:`thread_count`."""
    lib = _STATE.get("lib")
    if lib is not None:
        return int(lib.rnnlab_get_threads())
    return _STATE.get("threads") or thread_count()


# ------------------------------------------------------------------------------------------------ variants
def runnable_variants() -> tuple:
    """The variants this CPU can run, best first: the baseline module's cpuid check (which also asks whether the
    operating system saves the wide registers), else the flags in ``/proc/cpuinfo``, else the baseline alone."""
    try:
        return tuple(importlib.import_module(_MODULE.format("baseline")).runnable_variants())
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    found = ["baseline"]
    if {"avx2", "fma"} <= set(flags):
        found.insert(0, "avx2")
        if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= set(flags):
            found.insert(0, "avx512")
    return tuple(found)


def compiled_variants() -> tuple:
    """The variants built into this installation (whether or not this CPU can run them)."""
    import importlib.util

    return tuple(v for v in VARIANTS if importlib.util.find_spec(_MODULE.format(v)) is not None)


def load_variant(name: str):
    """The kernel library of variant ``name``, declared for ctypes (its CPython entry point as ``.extension``).
    Raises ValueError for an unknown name, ImportError when it was not built.  Does not check the CPU: running a
    variant the CPU lacks kills the process (see :func:`runnable_variants`)."""
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; received {name!r}.")
    module = importlib.import_module(_MODULE.format(name))
    lib = _declare(ctypes.CDLL(module.__file__))
    lib.extension = module
    lib.variant = name
    return lib


def _declare(lib):
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.rnn_forward_f32.argtypes = [i, i, i, i, i, p, p, p, p, p, p, p, p, p, i, i, i, i]
    lib.rnn_forward_f32.restype = i
    lib.rnn_vector_width.argtypes = []
    lib.rnn_vector_width.restype = i
    lib.gru_sequence_f32.argtypes = [i, i, i, p, p, p, p, i, i]
    lib.gru_sequence_f32.restype = None
    lib.rnn_train_forward_f32.argtypes = [i, i, i, i, i, p, p, p, p, p, p, p, p, p, i, i, i, p, p, p, p]
    lib.rnn_train_forward_f32.restype = i
    lib.rnn_train_backward_f32.argtypes = [i, i, i, i, p, p, p, p, p, p, i, p, p, p, p, p, p, i, i]
    lib.rnn_train_backward_f32.restype = i
    i64 = ctypes.c_int64
    lib.rnn_gemm_f32.argtypes = [i, p, i64, i64, i, p, i64, i64, i, i, p, i64, i64, p, p, i]
    lib.rnn_gemm_f32.restype = i
    for name in ("rnnlab_set_threads", "rnnlab_test_solo_at", "rnnlab_test_split", "rnnlab_test_precompute",
                 "rnnlab_test_block_order"):
        getattr(lib, name).argtypes = [i]
        getattr(lib, name).restype = None
    lib.rnnlab_get_threads.argtypes = []
    lib.rnnlab_get_threads.restype = i
    lib.rnnlab_test_call_expected.argtypes = []
    lib.rnnlab_test_call_expected.restype = i
    return lib


def _choose():
    """``(lib, variant, reason)``: the library to use, its variant, and why none is used (None when one is)."""
    wanted = os.environ.get("RNNLAB_NATIVE", "1").strip().lower()
    if wanted == "0":
        return None, None, "RNNLAB_NATIVE=0 asks for the NumPy kernels"
    runnable = runnable_variants()
    if wanted in VARIANTS:
        if wanted not in runnable:
            return None, None, f"RNNLAB_NATIVE={wanted} asks for a variant this CPU cannot run (it runs {runnable})"
        candidates = [wanted]
    elif wanted in ("", "1"):
        candidates = [v for v in VARIANTS if v in runnable]
    else:
        return None, None, f"RNNLAB_NATIVE={wanted!r} is not 0, 1 or one of {VARIANTS}"
    failures = []
    for variant in candidates:
        try:
            return load_variant(variant), variant, None
        except (ImportError, OSError, AttributeError) as exc:
            failures.append(f"{variant}: {exc}")
    if not compiled_variants():
        return None, None, ("rnnlab was installed without its compiled kernels (no C compiler when it was built; "
                            "a source checkout needs `python setup.py build_ext --inplace`)")
    return None, None, "no compiled variant could be loaded (" + "; ".join(failures) + ")"


def _resolve():
    if "lib" not in _STATE:
        lib, variant, reason = _choose()
        if lib is not None:
            lib.rnnlab_set_threads(_STATE.get("threads") or thread_count())
            from rnnlab.kernels.native import threadpool

            threadpool.register()
        _STATE.update(lib=lib, variant=variant, reason=reason)
    return _STATE["lib"]


def library():
    """The loaded kernel library (the best variant this CPU runs), or ``None``: then the NumPy kernels run, and
    unless ``RNNLAB_NATIVE=0`` asked for that, the first call warns with the reason."""
    lib = _STATE["lib"] if "lib" in _STATE else _resolve()
    if lib is None and not _STATE.get("warned") and os.environ.get("RNNLAB_NATIVE", "1").strip() != "0":
        _STATE["warned"] = True
        warnings.warn(f"rnnlab runs its NumPy kernels, 4-6x slower than its native ones (same results): "
                      f"{_STATE['reason']}. Set RNNLAB_NATIVE=0 to choose the NumPy kernels and silence this "
                      "warning.", NativeFallbackWarning, stacklevel=2)
    return lib


def extension():
    """The CPython entry point of the kernel library, or ``None`` (then the ctypes functions are used)."""
    lib = library()
    return None if lib is None else lib.extension


def runtime_info() -> dict:
    """Which kernels run, as a dict: ``"kernel"`` (``"native-avx512"``, ``"native-avx2"``, ``"native-baseline"``
    or ``"numpy"``), ``"threads"`` (what the native kernels may use), ``"reason"`` (why the native kernels are not
    used, or None), ``"compiled_at_first_use"`` (always False: rnnlab never compiles at run time),
    ``"compiled_variants"`` and ``"runnable_variants"`` (this CPU's)."""
    lib = _resolve()
    return {
        "kernel": "numpy" if lib is None else f"native-{_STATE['variant']}",
        "threads": get_num_threads(),
        "reason": _STATE["reason"],
        "compiled_at_first_use": False,
        "compiled_variants": list(compiled_variants()),
        "runnable_variants": list(runnable_variants()),
    }
