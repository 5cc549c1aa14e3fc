"""Square-matrix linear algebra with gradients: ``inv``, ``det``, ``slogdet``, ``logdet``, ``solve``,
``solve_triangular``, ``cholesky`` and ``cholesky_inverse``.

Every op works on the last two axes (leading axes are a batch). Integers become ``floatx()``. The
vector-Jacobian products are the standard ones (Giles, "An extended collection of matrix derivative results"):
with ``Y = inv(A)``, ``dA = -Y^T G Y^T``; ``det`` gives ``g det(A) A^-T``; ``solve`` gives ``dB = A^-T G`` and
``dA = -dB X^T``; ``cholesky`` follows Murray (2016) and returns the symmetric gradient, as TensorFlow does.
"""
from __future__ import annotations

import contextlib

import numpy as np

from rnnlab.ops.arithmetic import matmul
from rnnlab.ops.elementwise import _float_operand
from rnnlab.ops.shapes import swapaxes
from rnnlab.ops.tensor import operand, record, record_many


def _t(m):
    return np.swapaxes(m, -1, -2)


def _square(x, op, argument="x"):
    """``x`` on the record and its float array, refusing anything but (batches of) square matrices."""
    x, v = _float_operand(x)
    if v.ndim < 2 or v.shape[-1] != v.shape[-2]:
        raise ValueError(f"ops.{op}: argument `{argument}` must be a square matrix or a batch of them (shape "
                         f"(..., n, n)); received shape {v.shape}.")
    return x, v


@contextlib.contextmanager
def _linalg_errors(op):
    """NumPy's ``LinAlgError`` (a singular or non-definite matrix) as a ValueError naming the op."""
    try:
        yield
    except np.linalg.LinAlgError as exc:
        need = ", symmetric and positive definite" if op == "cholesky" else ""
        raise ValueError(f"ops.{op}: {exc} (the matrix must be invertible{need}).") from None


def inv(x):
    """The inverse of each square matrix; ``dA = -Y^T G Y^T``."""
    x, v = _square(x, "inv")
    with _linalg_errors("inv"):
        y = np.linalg.inv(v)
    return record(y, (x,), lambda g: (-_t(y) @ g @ _t(y),))


def det(x):
    """The determinant of each square matrix; its gradient is ``g det(A) A^-T``."""
    x, v = _square(x, "det")
    d = np.linalg.det(v)

    def vjp(g):
        with _linalg_errors("det"):
            return ((g * d)[..., None, None] * _t(np.linalg.inv(v)),)

    return record(d, (x,), vjp)


def slogdet(x):
    """``(sign, log|det|)`` of each square matrix; the second has gradient ``g A^-T``, the sign none."""
    x, v = _square(x, "slogdet")
    sign, logabs = np.linalg.slogdet(v)

    def vjp(gs):
        with _linalg_errors("slogdet"):
            return (gs[1][..., None, None] * _t(np.linalg.inv(v)),)

    outs = record_many([sign, logabs], (x,), vjp)
    return tuple(outs)


def logdet(x):
    """``log(det(x))`` of each (symmetric positive definite) matrix, NaN where the determinant is negative;
    its gradient is ``g A^-T``."""
    x, v = _square(x, "logdet")
    sign, logabs = np.linalg.slogdet(v)
    y = np.where(sign > 0, logabs, np.where(sign == 0, -np.inf, np.nan)).astype(v.dtype)

    def vjp(g):
        with _linalg_errors("logdet"):
            return (g[..., None, None] * _t(np.linalg.inv(v)),)

    return record(y, (x,), vjp)


def _right_side(a, b, op):
    """``b`` on the record, its array in ``a``'s dtype as a matrix, and whether it was a vector."""
    b, bv = _float_operand(b)
    bv = bv.astype(a.dtype, copy=False)
    vector = bv.ndim == a.ndim - 1
    rows = bv.shape[-1] if vector else (bv.shape[-2] if bv.ndim >= 2 else None)
    if bv.ndim < 1 or rows != a.shape[-1]:
        raise ValueError(f"ops.{op}: `b` must be a vector (..., n) or a matrix (..., n, k) matching `a` of shape "
                         f"{a.shape}; received b of shape {bv.shape}.")
    return b, (bv[..., None] if vector else bv), vector


def solve(a, b):
    """``x`` with ``a @ x = b`` for square ``a`` (``b`` a matrix, or a vector when it has one axis fewer)."""
    a, av = _square(a, "solve", "a")
    b, bv, vector = _right_side(av, b, "solve")
    with _linalg_errors("solve"):
        xv = np.linalg.solve(av, bv)  # (..., n, k)

    def vjp(g):
        g = g[..., None] if vector else g
        db = np.linalg.solve(_t(av), g)  # A^-T G
        return -db @ _t(xv), (db[..., 0] if vector else db)

    return record(xv[..., 0] if vector else xv, (a, b), vjp)


def solve_triangular(a, b, lower=False):
    """``x`` with ``T @ x = b`` where ``T`` is the lower (``lower=True``) or upper triangle of ``a``; the other
    triangle is not read and gets no gradient."""
    a, av = _square(a, "solve_triangular", "a")
    b, bv, vector = _right_side(av, b, "solve_triangular")
    keep = np.tri(av.shape[-1], dtype=bool) if lower else np.tri(av.shape[-1], dtype=bool).T
    t = np.where(keep, av, 0)
    with _linalg_errors("solve_triangular"):
        xv = np.linalg.solve(t, bv)

    def vjp(g):
        g = g[..., None] if vector else g
        db = np.linalg.solve(_t(t), g)
        return np.where(keep, -db @ _t(xv), 0), (db[..., 0] if vector else db)

    return record(xv[..., 0] if vector else xv, (a, b), vjp)


def cholesky(x, upper=False):
    """The lower triangular ``L`` with ``L @ L^T = x`` (its transpose with ``upper=True``) for a symmetric
    positive definite ``x``, of which only the lower triangle is read. The gradient is the symmetric one
    (TensorFlow's): ``S = L^-T Phi(L^T G) L^-1`` symmetrised, ``Phi`` keeping the lower triangle with a halved
    diagonal."""
    x, v = _square(x, "cholesky")
    with _linalg_errors("cholesky"):
        lower = np.linalg.cholesky(v)
    n = v.shape[-1]

    def vjp(g):
        g = _t(g) if upper else g
        phi = np.tril(_t(lower) @ g)  # (..., n, n)
        phi[..., np.arange(n), np.arange(n)] *= 0.5
        inv_lower = np.linalg.inv(lower)
        s = _t(inv_lower) @ phi @ inv_lower
        return (0.5 * (s + _t(s)),)

    return record(_t(lower) if upper else lower, (x,), vjp)


def cholesky_inverse(x, upper=False):
    """The inverse of ``L @ L^T`` from its Cholesky factor ``x`` (lower, or upper ``U`` with ``U^T @ U`` when
    ``upper=True``); the gradient flows through the product and the inverse."""
    x = operand(x)
    _square(x, "cholesky_inverse")
    product = matmul(swapaxes(x, -1, -2), x) if upper else matmul(x, swapaxes(x, -1, -2))
    return inv(product)


__all__ = ["inv", "det", "slogdet", "logdet", "solve", "solve_triangular", "cholesky", "cholesky_inverse"]
