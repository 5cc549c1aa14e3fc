"""Every op's recorded backward against float64 central finite differences, broadcasting cases included."""
import numpy as np
import pytest

import rnnlab.ops as ops
from tests.support.opcheck import op_gradcheck

RNG = np.random.default_rng(7)


def arr(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def pos(*shape):
    return RNG.uniform(0.5, 2.0, size=shape)


CASES = {
    # name: (function of the arrays, arrays)
    "add_broadcast": (ops.add, lambda: [arr(3, 4), arr(4)]),
    "subtract_broadcast": (ops.subtract, lambda: [arr(2, 1, 4), arr(3, 1)]),
    "multiply_broadcast": (ops.multiply, lambda: [arr(3, 4), arr(3, 1)]),
    "divide": (ops.divide, lambda: [arr(3, 4), pos(4)]),
    "power": (ops.power, lambda: [pos(3, 4), arr(3, 4)]),
    "power_scalar": (lambda a: ops.power(a, 3), lambda: [arr(5)]),
    "negative": (ops.negative, lambda: [arr(3)]),
    "mod": (ops.mod, lambda: [pos(6) * 3, pos(6)]),
    "matmul_2d": (ops.matmul, lambda: [arr(3, 4), arr(4, 5)]),
    "matmul_batched_broadcast": (ops.matmul, lambda: [arr(2, 3, 4), arr(4, 5)]),
    "matmul_vec_left": (ops.matmul, lambda: [arr(4), arr(2, 4, 5)]),
    "matmul_vec_right": (ops.matmul, lambda: [arr(2, 3, 4), arr(4)]),
    "matmul_vec_vec": (ops.matmul, lambda: [arr(4), arr(4)]),
    "getitem_slice": (lambda a: a[:, 1:3], lambda: [arr(3, 4)]),
    "getitem_fancy_repeat": (lambda a: a[np.array([0, 2, 0])], lambda: [arr(3, 4)]),
    "getitem_newaxis": (lambda a: a[None, ..., -1], lambda: [arr(3, 4)]),
    "exp": (ops.exp, lambda: [arr(3, 4)]),
    "log": (ops.log, lambda: [pos(3, 4)]),
    "log1p": (ops.log1p, lambda: [pos(3, 4)]),
    "expm1": (ops.expm1, lambda: [arr(3, 4)]),
    "sqrt": (ops.sqrt, lambda: [pos(3, 4)]),
    "rsqrt": (ops.rsqrt, lambda: [pos(3, 4)]),
    "square": (ops.square, lambda: [arr(3, 4)]),
    "reciprocal": (ops.reciprocal, lambda: [pos(3, 4)]),
    "absolute": (ops.absolute, lambda: [arr(3, 4)]),
    "sin": (ops.sin, lambda: [arr(3, 4)]),
    "cos": (ops.cos, lambda: [arr(3, 4)]),
    "tanh": (ops.tanh, lambda: [arr(3, 4)]),
    "operators": (lambda a, b: (a @ b + 1.0) * 2 - a[:, :1] / (b[0] * b[0] + 1.0), lambda: [arr(3, 4), arr(4, 3)]),
    "numpy_ufuncs": (lambda a: np.tanh(np.exp(a) * a) + np.square(a), lambda: [arr(3, 4)]),
    "reused_input": (lambda a: a * a + a, lambda: [arr(5)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_gradient_matches_finite_differences(name):
    fn, make = CASES[name]
    assert op_gradcheck(fn, make()) < 1e-6
