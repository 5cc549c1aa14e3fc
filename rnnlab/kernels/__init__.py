"""Fast kernels registered on the fast-path seam (:mod:`rnnlab.fastpath`); importing this package registers them."""
from rnnlab.kernels import numpy_fused  # noqa: F401
