"""Build of rnnlab's native LSTM/GRU kernels, at install time (everything else is in pyproject.toml).

Why a setuptools extension: pyproject.toml already builds with setuptools, the kernels are one C file with no
dependency but libm and pthreads, and setuptools needs no other build tool (meson-python and scikit-build-core would
add meson/ninja or CMake to every source build for one compile command each).

One source, several variants (rnnlab/kernels/native/rnn_kernels.c compiled with each set of flags below into its own
extension module); rnnlab/kernels/native/__init__.py loads the best one the CPU supports. Every variant is optional:
a variant the compiler cannot build (an old compiler without AVX-512, no compiler at all) is skipped with a message,
the package still installs, and rnnlab says at run time that it falls back to NumPy (rnnlab.runtime_info()).
"""
import os
import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NATIVE = "rnnlab/kernels/native"
PARTS = ["rnn_kernels.h", "simd.h", "pool.h", "product.h", "forward.c", "backward.c", "gemm.c", "pyext.c"]

# -ffp-contract=fast lets the compiler fuse a*b+c into FMA instructions (ISO C mode forbids it otherwise).
# No OpenMP: the kernels bring their own small thread pool and make no BLAS call (rnnlab/kernels/native/pool.h).
COMMON = ["-O3", "-pthread", "-fno-math-errno", "-ffp-contract=fast", "-std=gnu99"]

# (variant, flags), best first. The names and the CPU features each needs are also in
# rnnlab/kernels/native/__init__.py (VARIANTS) and pyext.c (runnable_variants).
X86_VARIANTS = [
    ("avx512", ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma",
                "-mprefer-vector-width=512"]),  # full-width registers
    ("avx2", ["-mavx2", "-mfma"]),
    ("baseline", []),  # the x86-64 baseline (SSE2)
]


def _variants():
    if platform.machine().lower() in ("x86_64", "amd64", "i686", "i386") and sys.platform != "win32":
        return X86_VARIANTS
    return [("baseline", [])]  # portable C: the compiler's default for the target (NEON on aarch64)


def _extension(variant, flags):
    module = f"_rnnlab_kernels_{variant}"  # the prefix threadpoolctl's controller matches (native/threadpool.py)
    return Extension(
        f"rnnlab.kernels.native.{module}",
        sources=[f"{NATIVE}/rnn_kernels.c"],
        depends=[f"{NATIVE}/{part}" for part in PARTS],
        define_macros=[("RNNLAB_PYEXT", "1"), ("RNNLAB_MODULE", module), ("RNNLAB_VARIANT", variant)],
        extra_compile_args=COMMON + flags,
        extra_link_args=["-pthread"],
        libraries=["m"],
        optional=True,
    )


class OptionalBuildExt(build_ext):
    """build_ext where no failure stops the install: each variant gets its own temporary folder (they compile the
    same source file), and a variant that fails is reported and left out."""

    def run(self):
        if sys.platform == "win32":  # the kernels' thread pool is POSIX threads
            self._skip("all variants", "the native kernels need POSIX threads (pthreads)")
            return
        try:
            super().run()
        except Exception as exc:  # no compiler, or one that cannot be set up: NumPy kernels at run time
            self._skip("all variants", exc)

    def build_extension(self, ext):
        temp = self.build_temp
        self.build_temp = os.path.join(temp, ext.name.rsplit(".", 1)[-1])
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(ext.name, exc)
        finally:
            self.build_temp = temp

    @staticmethod
    def _skip(what, why):
        print(f"rnnlab: not building the native kernels ({what}): {why}. rnnlab installs and runs on its NumPy "
              "kernels there; rnnlab.runtime_info() says which kernels run.", file=sys.stderr)


setup(
    ext_modules=[_extension(name, flags) for name, flags in _variants()],
    cmdclass={"build_ext": OptionalBuildExt},
)
