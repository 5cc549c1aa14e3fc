"""Fast kernels registered on the fast-path seam (:mod:`rnnlab.fastpath`); importing this package registers them."""
from rnnlab.kernels import fused_training, native_loops, numpy_loop  # noqa: F401
