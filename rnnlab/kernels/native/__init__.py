"""Native (C) time loops, compiled on first use with the system C compiler and cached on disk.

The C source ships with rnnlab (``rnn_kernels.c``). The first time a fast path is wanted, rnnlab compiles it
with ``cc -O3 -march=native`` into a shared library in the cache directory
(``$RNNLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnlab`` or ``~/.cache/rnnlab``), keyed by a hash of the source,
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

_SOURCE = pathlib.Path(__file__).with_name("rnn_kernels.c")
_STATE: dict = {}


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


def _flag_sets():
    # -ffp-contract=fast lets the compiler fuse a*b+c into FMA instructions (ISO C mode forbids it otherwise).
    base = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-ffp-contract=fast", "-std=c99"]
    machine = platform.machine()
    native = []
    if machine in ("x86_64", "AMD64"):
        native = ["-march=native", "-mprefer-vector-width=512"]  # full-width registers where AVX-512 exists
    elif machine in ("aarch64", "arm64"):
        native = ["-mcpu=native"]
    # No OpenMP: NumPy's BLAS threads spin between calls and would fight extra threads for the cores (measured:
    # 2-thread loops ran up to 20x slower beside them), so each loop runs on the calling thread.
    return [base + native, base]


def _build(cc):
    source = _SOURCE.read_bytes()
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


def _declare(lib):
    p, i, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
    lib.lstm_sequence_f32.argtypes = [i, i, i, p, p, p, p, i, i]
    lib.lstm_step_f32.argtypes = [i, i, p, p, p, p, p, i, p, i64]
    lib.gru_sequence_f32.argtypes = [i, i, i, p, p, p, p, p, i, i, i]
    lib.gru_step_f32.argtypes = [i, i, p, i64, p, p, p, p, p, i, p, i64, i]
    for fn in (lib.lstm_sequence_f32, lib.lstm_step_f32, lib.gru_sequence_f32, lib.gru_step_f32):
        fn.restype = None
    return lib


def library():
    """The loaded kernel library, or ``None`` when native kernels are unavailable or disabled."""
    if "lib" in _STATE:
        return _STATE["lib"]
    lib = None
    if os.environ.get("RNNLAB_NATIVE", "1") != "0":
        cc = _compiler()
        try:
            path = _build(cc) if cc else None
            lib = _declare(ctypes.CDLL(str(path))) if path else None
        except OSError:
            lib = None
    _STATE["lib"] = lib
    return lib
