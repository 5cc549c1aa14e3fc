"""Matrix decompositions and what is built on them: ``qr``, ``svd``, ``eigh``, ``pinv``, ``lstsq`` and
``matrix_rank``. They work on the last two axes (leading axes are a batch); integers become ``floatx()``.

These are forward only: their gradients are not standard enough to write once for every case (repeated
singular values or eigenvalues make them undefined), so given a float array on the training record they refuse,
naming ``ops.stop_gradient``. ``linalg.norm`` with ``ord`` 2, -2 or "nuc" has its own gradient.
"""
from __future__ import annotations

import numpy as np

from rnnlab.ops.checks import refuse_gradient
from rnnlab.ops.elementwise import _float_operand


def _matrix(x, op, argument="x"):
    refuse_gradient(op, **{argument: x})
    _, v = _float_operand(x)
    if v.ndim < 2:
        raise ValueError(f"ops.{op}: argument `{argument}` must be a matrix or a batch of them (shape (..., m, n)); "
                         f"received shape {v.shape}.")
    return v


def qr(x, mode="reduced"):
    """``(q, r)`` with ``q`` orthonormal columns and ``r`` upper triangular: ``mode="reduced"`` gives
    ``(m, k)`` and ``(k, n)`` with ``k = min(m, n)``, "complete" gives ``(m, m)`` and ``(m, n)``."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"ops.qr: argument `mode` must be 'reduced' or 'complete'; received mode={mode!r}.")
    q, r = np.linalg.qr(_matrix(x, "qr"), mode=mode)
    return q, r


def svd(x, full_matrices=True, compute_uv=True):
    """``(u, s, vh)`` with ``x = u @ diag(s) @ vh`` and the singular values ``s`` in decreasing order; only
    ``s`` with ``compute_uv=False``."""
    v = _matrix(x, "svd")
    if not compute_uv:
        return np.linalg.svd(v, compute_uv=False)
    u, s, vh = np.linalg.svd(v, full_matrices=bool(full_matrices))
    return u, s, vh


def eigh(x):
    """``(w, v)``: the eigenvalues of each symmetric matrix in increasing order, and the eigenvectors as
    columns. Only the lower triangle is read."""
    v = _matrix(x, "eigh")
    if v.shape[-1] != v.shape[-2]:
        raise ValueError(f"ops.eigh: argument `x` must be square (shape (..., n, n)); received shape {v.shape}.")
    w, vectors = np.linalg.eigh(v)
    return w, vectors


def _cutoff(s, rcond, shape):
    """Singular values at or below this are treated as 0: ``rcond`` (default ``10 max(m, n) eps``, as
    TensorFlow's ``pinv``) times the largest."""
    if rcond is None:
        rcond = 10 * max(shape[-2:]) * np.finfo(s.dtype).eps
    return np.asarray(rcond, dtype=s.dtype) * np.max(s, axis=-1, keepdims=True, initial=0)


def pinv(x, rcond=None):
    """The Moore-Penrose pseudo-inverse ``(..., n, m)``, from the singular values above ``rcond`` times the
    largest."""
    v = _matrix(x, "pinv")
    u, s, vh = np.linalg.svd(v, full_matrices=False)
    keep = s > _cutoff(s, rcond, v.shape)
    s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)
    return (np.swapaxes(vh, -1, -2) * s_inv[..., None, :]) @ np.swapaxes(u, -1, -2)


def lstsq(a, b, rcond=None):
    """The least-squares solution ``x`` of ``a @ x = b`` for a 2-D ``a`` (m, n) and ``b`` (m,) or (m, k), from
    the singular values of ``a`` at least ``rcond`` times the largest (default ``eps max(m, n)``)."""
    av = _matrix(a, "lstsq", "a")
    refuse_gradient("lstsq", b=b)
    _, bv = _float_operand(b)
    if av.ndim != 2 or bv.ndim not in (1, 2) or bv.shape[0] != av.shape[0]:
        raise ValueError(f"ops.lstsq: `a` must be 2-D (m, n) and `b` (m,) or (m, k); received a of shape "
                         f"{av.shape} and b of shape {bv.shape}.")
    bv = bv.astype(av.dtype, copy=False)
    column = bv[:, None] if bv.ndim == 1 else bv
    u, s, vh = np.linalg.svd(av, full_matrices=False)
    eps = np.finfo(av.dtype).eps
    rcond = eps * max(av.shape) if rcond is None else (eps if rcond < 0 else rcond)
    keep = s >= rcond * s[0] if s.size else s.astype(bool)
    s_inv = np.where(keep, 1 / np.where(keep, s, 1), 0)[:, None]
    x = vh.T @ (s_inv * (u.T @ column))
    return x[:, 0] if bv.ndim == 1 else x


def matrix_rank(x, tol=None):
    """The number of singular values above ``tol`` (default ``max(s) max(m, n) eps``): int32."""
    v = _matrix(x, "matrix_rank")
    s = np.linalg.svd(v, compute_uv=False)
    if tol is None:
        tol = np.max(s, axis=-1, keepdims=True, initial=0) * max(v.shape[-2:]) * np.finfo(s.dtype).eps
    return np.sum(s > tol, axis=-1).astype("int32")


__all__ = ["qr", "svd", "eigh", "pinv", "lstsq", "matrix_rank"]
