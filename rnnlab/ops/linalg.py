"""``keras.ops.linalg``: ``norm`` here, and the solvers (:mod:`rnnlab.ops.solvers`: ``inv``, ``det``, ``solve``,
``solve_triangular``, ``cholesky``...) and decompositions (:mod:`rnnlab.ops.decompositions`: ``qr``, ``svd``,
``eigh``, ``pinv``, ``lstsq``...) gathered under Keras's namespace.

Vector and matrix norms are written with recorded ops (sums, absolute values, maxima), so their gradient is
theirs; the spectral norms (``ord`` 2, -2 and "nuc" on two axes) take their gradient from the singular vectors.
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend
from rnnlab.ops import reductions
from rnnlab.ops.arithmetic import multiply, power
from rnnlab.ops.dtypes import as_array, cast, result_type
from rnnlab.ops.elementwise import absolute, sqrt
from rnnlab.ops.shapes import expand_dims, moveaxis
from rnnlab.ops.tensor import operand, record


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - Keras's name
    """The ``ord`` norm of ``x`` over ``axis``: one axis gives vector norms (None/2, 1, inf, -inf, 0, any
    number p: ``sum(|x|^p)^(1/p)``), two axes matrix norms (None/"fro", "nuc", 1, -1, 2, -2, inf, -inf).
    ``axis=None`` means every axis, so it needs an input of rank 1 or 2 as in Keras. Integers give ``floatx()``."""
    x = operand(x)
    v = as_array(x)
    axes = tuple(range(v.ndim)) if axis is None else ((axis,) if np.isscalar(axis) else tuple(axis))
    if any(not -v.ndim <= a < v.ndim for a in axes):
        raise ValueError(f"ops.norm: every axis must lie in [-{v.ndim}, {v.ndim}) for x of shape {v.shape}; "
                         f"received axis={axis!r}.")
    dtype = backend.floatx() if v.dtype == np.int64 else result_type(v, 1.0)
    x = cast(x, dtype)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, tuple(a % v.ndim for a in axes), keepdims)
    raise ValueError(f"ops.norm: `axis` must name one axis (vector norm) or two (matrix norm); received "
                     f"axis={axis!r} for x of shape {v.shape}.")


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return sqrt(reductions.sum(multiply(x, x), axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"ops.norm: invalid `ord` for a vector norm: received ord={ord!r}.")
    if ord == np.inf:
        return reductions.max(absolute(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return reductions.min(absolute(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        v = as_array(x)
        return np.sum(v != 0, axis=axis, keepdims=keepdims).astype(v.dtype)
    p = float(ord)
    return power(reductions.sum(power(absolute(x), p), axis=axis, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord is None or ord == "fro":
        return sqrt(reductions.sum(multiply(x, x), axis=axes, keepdims=keepdims))
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (row, col) if ord in (1, -1) else (col, row)  # sum down columns (1) or along rows (inf)
        if not keepdims and other > summed:
            other -= 1
        pick = reductions.max if ord > 0 else reductions.min
        return pick(reductions.sum(absolute(x), axis=summed, keepdims=keepdims), axis=other, keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        out = _singular_norm(moveaxis(x, axes, (-2, -1)), ord)
        return expand_dims(out, tuple(sorted(axes))) if keepdims else out
    raise ValueError(f"ops.norm: invalid `ord` for a matrix norm: received ord={ord!r}.")


def _singular_norm(x, ord):
    """The largest (2), smallest (-2) or summed ("nuc") singular values of the last two axes; the gradient is
    ``u v^T`` of the chosen singular vectors."""
    v = as_array(x)
    u, s, vt = np.linalg.svd(v, full_matrices=False)
    if ord == "nuc":
        return record(s.sum(axis=-1), (x,), lambda g: (g[..., None, None] * (u @ vt),))
    k = 0 if ord == 2 else -1  # singular values come sorted, largest first
    outer = u[..., :, k, None] * vt[..., None, k, :]  # (..., m, n)
    return record(s[..., k], (x,), lambda g: (g[..., None, None] * outer,))


from rnnlab.ops.decompositions import *  # noqa: F401,F403,E402 - Keras's linalg namespace
from rnnlab.ops.decompositions import __all__ as _decompositions  # noqa: E402
from rnnlab.ops.solvers import *  # noqa: F401,F403,E402
from rnnlab.ops.solvers import __all__ as _solvers  # noqa: E402

__all__ = ["norm"] + [n for n in _solvers + _decompositions if n not in ("slogdet", "logdet")]
