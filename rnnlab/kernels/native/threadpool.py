"""rnnlab's thread pool under threadpoolctl: ``threadpool_limits(1)`` limits it as it limits BLAS and OpenMP.

threadpoolctl finds the libraries a process has loaded by their file names and drives each through a controller
class; :func:`register` adds rnnlab's (``threadpoolctl.register``, its documented way for other libraries) once the
kernel library is loaded.  threadpoolctl stays optional: without it nothing happens.
"""
from __future__ import annotations

_REGISTERED = []


def register() -> None:
    """Register :class:`RnnlabController` with threadpoolctl, if it is installed (once per process)."""
    if _REGISTERED:
        return
    try:
        import threadpoolctl
    except ImportError:
        return

    class RnnlabController(threadpoolctl.LibController):
        """The pool of rnnlab's native kernels (``rnnlab.config.set_num_threads`` sets the same limit)."""

        user_api = "rnnlab"
        internal_api = "rnnlab"
        # the extension modules setup.py builds: _rnnlab_kernels_avx512, _avx2, _baseline
        filename_prefixes = ("_rnnlab_kernels_",)
        check_symbols = ("rnnlab_set_threads", "rnnlab_get_threads")

        def get_num_threads(self):
            return self.dynlib.rnnlab_get_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.rnnlab_set_threads(int(num_threads))

        def get_version(self):
            from rnnlab.version import __version__

            return __version__

    threadpoolctl.register(RnnlabController)
    _REGISTERED.append(RnnlabController)
