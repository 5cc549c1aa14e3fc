"""Native (C) time loops, compiled on first use with the system C compiler and cached on disk.

The C source ships with rnnlab: ``rnn_kernels.c``, one compilation unit that includes its parts (``*.h``, and
``forward.c``, ``backward.c``, ``gemm.c``, ``pyext.c``; see its first comment). The first time a fast path is wanted,
rnnlab compiles it with ``cc -O3 -march=native`` into a shared library in the cache directory
(``$RNNLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnlab`` or ``~/.cache/rnnlab``), keyed by a hash of every part,
the flags and the CPU; later processes just load it (a few milliseconds). Without a C compiler, or with
``RNNLAB_NATIVE=0``, nothing is compiled and the NumPy kernels are used: results are the same.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile

_SOURCE = pathlib.Path(__file__).with_name("rnn_kernels.c")  # the unit the compiler is given
_STATE: dict = {}


def _source_bytes() -> bytes:
    """Every part of the C source (names and contents): what the cached library's key must change with."""
    parts = sorted(p for p in _SOURCE.parent.iterdir() if p.suffix in (".c", ".h"))
    return b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in parts)


def thread_count() -> int:
    """Threads the native kernels may use: ``$RNNLAB_NUM_THREADS``, else ``$OMP_NUM_THREADS``, else the CPUs
    this process may run on."""
    for name in ("RNNLAB_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.strip().isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def cache_dir() -> pathlib.Path:
    base = os.environ.get("RNNLAB_CACHE_DIR")
    if base:
        return pathlib.Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache") / "rnnlab"


def _cpu_key() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compiler():
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _python_include():
    """Flags to build the CPython entry point of ``rnn_kernels.c`` (None without Python's headers)."""
    import sysconfig

    include = sysconfig.get_paths().get("include")
    if include and os.path.exists(os.path.join(include, "Python.h")):
        return ["-DRNNLAB_PYEXT", f"-I{include}"]
    return None


def _flag_sets():
    # -ffp-contract=fast lets the compiler fuse a*b+c into FMA instructions (ISO C mode forbids it otherwise).
    base = ["-O3", "-fPIC", "-shared", "-pthread", "-fno-math-errno", "-ffp-contract=fast", "-std=gnu99"]
    machine = platform.machine()
    native = []
    if machine in ("x86_64", "AMD64"):
        native = ["-march=native", "-mprefer-vector-width=512"]  # full-width registers where AVX-512 exists
    elif machine in ("aarch64", "arm64"):
        native = ["-mcpu=native"]
    # No OpenMP: the kernels bring their own small thread pool and make no BLAS calls, so they never wait on
    # threads that spin for someone else (measured: OpenMP loops beside NumPy's BLAS threads ran up to 20x slower).
    sets = [base + native, base]
    extra = _python_include()
    return [flags + extra for flags in sets] + sets if extra else sets


def _build(cc):
    source = _source_bytes()
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for flags in _flag_sets():
        key = hashlib.sha256(source + " ".join([cc] + flags).encode() + _cpu_key().encode()
                             + sys.version.encode()).hexdigest()[:16]
        target = directory / f"rnn_kernels-{key}.so"
        if target.exists():
            return target
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=directory)
        os.close(fd)
        try:
            proc = subprocess.run([cc, *flags, str(_SOURCE), "-o", tmp, "-lm"], capture_output=True, timeout=120)
            if proc.returncode == 0:
                os.replace(tmp, target)  # atomic: concurrent builders agree on the result
                return target
        except (OSError, subprocess.SubprocessError):
            pass
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return None


def _declare(lib, path):
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
    for name in ("rnnlab_set_threads", "rnnlab_test_solo_at", "rnnlab_test_split", "rnnlab_test_precompute"):
        getattr(lib, name).argtypes = [i]
        getattr(lib, name).restype = None
    lib.rnnlab_set_threads(thread_count())
    lib.extension = _load_extension(path) if hasattr(lib, "PyInit_rnn_kernels") else None
    return lib


def library():
    """The loaded kernel library (built and cached on first use), or ``None`` without a compiler, when the build
    fails, or with ``RNNLAB_NATIVE=0``."""
    if "lib" in _STATE:
        return _STATE["lib"]
    lib = None
    if os.environ.get("RNNLAB_NATIVE", "1") != "0":
        cc = _compiler()
        try:
            path = _build(cc) if cc else None
            lib = _declare(ctypes.CDLL(str(path)), path) if path else None
        except OSError:
            lib = None
    _STATE["lib"] = lib
    return lib


def _load_extension(path):
    """The library's CPython entry point (``forward``: buffers in, no ctypes conversions), or None."""
    import importlib.util

    try:
        spec = importlib.util.spec_from_file_location("rnn_kernels", str(path))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except (ImportError, OSError):
        return None


def extension():
    """The CPython entry point of the kernel library, or ``None`` (then the ctypes functions are used)."""
    lib = library()
    return None if lib is None else lib.extension
