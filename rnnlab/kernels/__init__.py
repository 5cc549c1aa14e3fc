"""Fast kernels registered on the fast-path seam (:mod:`rnnlab.fastpath`); importing this package registers them."""
from rnnlab.kernels import native_loops, numpy_fused, training  # noqa: F401
