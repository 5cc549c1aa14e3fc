"""Float64 finite differences against the vector-Jacobian products recorded by rnnlab.ops."""
import numpy as np

from tests.support.gradcheck import numeric_gradient


def op_gradcheck(fn, arrays, rng=None, eps=1e-6):
    """Worst relative error between numeric and recorded gradients of ``sum(R * fn(*arrays))``.

    ``arrays`` are float64 arrays; each is put on the record as a leaf Tensor. ``fn`` may return one array or
    a list of them.
    """
    from rnnlab.ops.tensor import Tensor, backward, unwrap

    rng = rng or np.random.default_rng(0)
    outs = fn(*arrays)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    probes = [rng.normal(size=np.shape(unwrap(o))) for o in outs]

    def loss():
        res = fn(*arrays)
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        return sum(float((np.asarray(unwrap(r), dtype=np.float64) * p).sum()) for r, p in zip(res, probes))

    leaves = [Tensor(a) for a in arrays]
    res = fn(*leaves)
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    grad_of = backward(res, probes)
    worst = 0.0
    for leaf, a in zip(leaves, arrays):
        analytic = grad_of(leaf)
        analytic = np.zeros_like(a) if analytic is None else analytic
        assert analytic.shape == a.shape, (analytic.shape, a.shape)
        numeric = numeric_gradient(a, loss, eps)
        err = np.abs(analytic - numeric).max() / max(1.0, np.abs(numeric).max())
        if not np.isfinite(err):
            return float("inf")  # a NaN gradient must fail: max() would pass over it
        worst = max(worst, float(err))
    return worst
