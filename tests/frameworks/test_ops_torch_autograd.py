"""Random compositions of rnnlab.ops give torch autograd's gradients.

A seeded generator builds expression graphs of 5 to 15 ops on float64 arrays of shape (3, 4), mixing in new
leaves of broadcastable shapes ((4,), (3, 1), (1, 4), ()) and weights (4, 4). Each op is written twice below,
with rnnlab.ops and with torch, and the gradients of ``sum(R * output)`` w.r.t. every leaf must agree to 1e-8."""
import numpy as np
import pytest

import rnnlab.ops as ops
from rnnlab.ops.tensor import Tensor, backward
from tests.support.reference import require

SHAPE = (3, 4)
BROADCAST_SHAPES = [(4,), (3, 1), (1, 4), ()]


def _ops_table(torch):
    """name -> (arity, rnnlab function, torch function); every function maps (3, 4) arrays (and leaves of
    broadcastable shapes) to a (3, 4) array."""
    F = torch.nn.functional
    return {
        "tanh": (1, ops.tanh, torch.tanh),
        "sigmoid": (1, ops.sigmoid, torch.sigmoid),
        "softplus": (1, ops.softplus, F.softplus),
        "silu": (1, ops.silu, F.silu),
        "gelu": (1, ops.gelu, lambda a: F.gelu(a, approximate="tanh")),
        "gelu_exact": (1, lambda a: ops.gelu(a, approximate=False), F.gelu),
        "elu": (1, ops.elu, F.elu),
        "selu": (1, ops.selu, F.selu),
        "leaky_relu": (1, ops.leaky_relu, lambda a: F.leaky_relu(a, 0.2)),
        "relu": (1, ops.relu, F.relu),
        "log_sigmoid": (1, ops.log_sigmoid, F.logsigmoid),
        "softsign": (1, ops.softsign, F.softsign),
        "sin": (1, ops.sin, torch.sin),
        "exp_tanh": (1, lambda a: ops.exp(ops.tanh(a)), lambda a: torch.exp(torch.tanh(a))),
        "log_1p_square": (1, lambda a: ops.log1p(ops.square(a)), lambda a: torch.log1p(a * a)),
        "sqrt_1p_square": (1, lambda a: ops.sqrt(1.0 + a * a), lambda a: torch.sqrt(1.0 + a * a)),
        "abs": (1, ops.abs, torch.abs),
        "erf": (1, ops.erf, torch.erf),
        "softmax_rows": (1, ops.softmax, lambda a: torch.softmax(a, -1)),
        "softmax_cols": (1, lambda a: ops.softmax(a, axis=0), lambda a: torch.softmax(a, 0)),
        "log_softmax": (1, ops.log_softmax, lambda a: torch.log_softmax(a, -1)),
        "cumsum": (1, lambda a: ops.cumsum(a, axis=1), lambda a: torch.cumsum(a, 1)),
        "cumprod": (1, lambda a: ops.cumprod(a, axis=0), lambda a: torch.cumprod(a, 0)),
        "flip": (1, lambda a: ops.flip(a, axis=0), lambda a: torch.flip(a, (0,))),
        "centre": (1, lambda a: a - ops.mean(a, axis=0, keepdims=True), lambda a: a - a.mean(0, keepdims=True)),
        "standardise": (1, lambda a: (a - ops.mean(a, axis=1, keepdims=True)) / (ops.std(a, axis=1, keepdims=True) + 1.0),
                        lambda a: (a - a.mean(1, keepdims=True)) / (a.std(1, unbiased=False, keepdim=True) + 1.0)),
        "minus_logsumexp": (1, lambda a: a - ops.logsumexp(a, axis=1, keepdims=True),
                            lambda a: a - torch.logsumexp(a, 1, keepdim=True)),
        "times_max": (1, lambda a: a * ops.max(a, axis=0, keepdims=True), lambda a: a * a.amax(0, keepdim=True)),
        "times_min": (1, lambda a: a * ops.min(a, axis=1, keepdims=True), lambda a: a * a.amin(1, keepdim=True)),
        "times_prod": (1, lambda a: a * ops.prod(ops.tanh(a), axis=1, keepdims=True),
                       lambda a: a * torch.tanh(a).prod(1, keepdim=True)),
        "over_norm": (1, lambda a: a / (1.0 + ops.norm(a, axis=1, keepdims=True)),
                      lambda a: a / (1.0 + torch.linalg.vector_norm(a, dim=1, keepdim=True))),
        "normalize": (1, ops.normalize, lambda a: a * torch.rsqrt((a * a).sum(-1, keepdim=True))),
        "plus_var": (1, lambda a: a + ops.var(a), lambda a: a + a.var(unbiased=False)),
        "reshape_transpose": (1, lambda a: ops.reshape(ops.transpose(ops.reshape(a, (3, 2, 2)), (0, 2, 1)), SHAPE),
                              lambda a: a.reshape(3, 2, 2).permute(0, 2, 1).reshape(SHAPE)),
        "swap_back": (1, lambda a: ops.swapaxes(ops.swapaxes(a, 0, 1) * 2.0, 0, 1), lambda a: a * 2.0),
        "concat_slice": (1, lambda a: ops.concatenate([a[:, 2:], a[:, :2]], axis=1),
                         lambda a: torch.cat([a[:, 2:], a[:, :2]], 1)),
        "stack_sum": (1, lambda a: ops.sum(ops.stack([a, ops.square(a)], axis=0), axis=0), lambda a: a + a * a),
        "split_join": (1, lambda a: ops.concatenate(ops.split(a, 2, axis=1)[::-1], axis=1),
                       lambda a: torch.cat(torch.split(a, 2, 1)[::-1], 1)),
        "take_cols": (1, lambda a: ops.take(a, np.array([3, 0, 0, 2]), axis=1), lambda a: a[:, [3, 0, 0, 2]]),
        "take_along": (1, lambda a: ops.take_along_axis(a, np.array([[1, 1, 0, 3]]), axis=1),
                       lambda a: torch.take_along_dim(a, torch.tensor([[1, 1, 0, 3]]), 1)),
        "pad_slice": (1, lambda a: ops.slice(ops.pad(a, ((1, 0), (0, 2))), (0, 1), SHAPE),
                      lambda a: F.pad(a, (0, 2, 1, 0))[0:3, 1:5]),
        "tile_slice": (1, lambda a: ops.tile(a, (1, 2))[:, 3:7], lambda a: a.repeat(1, 2)[:, 3:7]),
        "repeat_slice": (1, lambda a: ops.repeat(a, 2, axis=1)[:, 2:6], lambda a: a.repeat_interleave(2, 1)[:, 2:6]),
        "clip": (1, lambda a: ops.clip(a, -0.8, 0.8), lambda a: torch.clamp(a, -0.8, 0.8)),
        "square_gram": (1, lambda a: ops.matmul(ops.matmul(a, a.T), a) / 10.0, lambda a: a @ a.T @ a / 10.0),
        "scan_rows": (1, lambda a: ops.scan(lambda c, x: (ops.tanh(c + x), c * x), ops.zeros(4, "float64"), a)[1],
                      None),  # torch side written out below
        "add": (2, ops.add, torch.add),
        "subtract": (2, ops.subtract, torch.subtract),
        "multiply": (2, ops.multiply, torch.multiply),
        "divide": (2, lambda a, b: ops.divide(a, 1.0 + b * b), lambda a, b: a / (1.0 + b * b)),
        "maximum": (2, ops.maximum, torch.maximum),
        "minimum": (2, ops.minimum, torch.minimum),
        "where": (2, lambda a, b: ops.where(a > b, a * 2.0, b), lambda a, b: torch.where(a > b, a * 2.0, b)),
        "power": (2, lambda a, b: ops.power(1.0 + a * a, ops.tanh(b)), lambda a, b: torch.pow(1.0 + a * a, torch.tanh(b))),
        "matmul_weight": (2, lambda a, w: ops.matmul(a, w), lambda a, w: a @ w),
        "einsum_weight": (2, lambda a, w: ops.einsum("ij,kj->ik", a, w), lambda a, w: torch.einsum("ij,kj->ik", a, w)),
        "tensordot_weight": (2, lambda a, w: ops.tensordot(a, w, axes=1), lambda a, w: torch.tensordot(a, w, dims=1)),
        "dot_weight": (2, ops.dot, lambda a, w: a @ w),
        "bce_logits": (2, lambda a, b: ops.binary_crossentropy(ops.broadcast_to(ops.sigmoid(b), SHAPE), a, from_logits=True),
                       lambda a, b: F.binary_cross_entropy_with_logits(a, torch.sigmoid(b).expand(SHAPE), reduction="none")),
        "cce_probs": (2, lambda a, b: ops.expand_dims(ops.categorical_crossentropy(ops.softmax(b + a), ops.sigmoid(a)), -1) * a,
                      lambda a, b: -(torch.softmax(b + a, -1) * torch.log(torch.sigmoid(a) / torch.sigmoid(a).sum(-1, keepdim=True))).sum(-1, keepdim=True) * a),
    }


def _torch_scan_rows(torch, a):
    carry, ys = torch.zeros(4, dtype=torch.float64), []
    for x in a:
        carry, y = torch.tanh(carry + x), carry * x
        ys.append(y)
    return torch.stack(ys)


def _build_graph(seed, table):
    """A random program: a list of (op name, argument refs); refs index the values made so far, or name a new
    leaf ("leaf", shape)."""
    rng = np.random.default_rng(seed)
    names = sorted(table)
    program, count = [], rng.integers(5, 16)
    for _ in range(count):
        name = names[rng.integers(len(names))]
        arity = table[name][0]
        made = len(program) + 1  # value 0 is the first leaf (3, 4)
        args = [("value", int(rng.integers(made)))]
        if arity == 2:
            if name.endswith("_weight"):
                args.append(("leaf", (4, 4)))
            elif rng.uniform() < 0.5:
                args.append(("leaf", BROADCAST_SHAPES[rng.integers(len(BROADCAST_SHAPES))]))
            else:
                args.append(("value", int(rng.integers(made))))
        program.append((name, args))
    return program


def _run(program, table, leaves, which, torch=None):
    values, leaf_iter = [leaves[0]], iter(leaves[1:])
    for name, args in program:
        resolved = [values[i] if kind == "value" else next(leaf_iter) for kind, i in args]
        if which == "torch" and name == "scan_rows":
            values.append(_torch_scan_rows(torch, *resolved))
        else:
            values.append(table[name][1 if which == "rnnlab" else 2](*resolved))
    return values[-1]


@pytest.mark.parametrize("seed", range(40))
def test_random_composition_matches_torch_autograd(seed):
    torch = require("torch")
    table = _ops_table(torch)
    program = _build_graph(seed, table)
    rng = np.random.default_rng(1000 + seed)
    arrays = [rng.uniform(-1.5, 1.5, SHAPE)] + [rng.uniform(-1.5, 1.5, shape) for _, args in program
                                                for kind, shape in args if kind == "leaf"]
    probe = rng.normal(size=SHAPE)

    leaves = [Tensor(a.copy()) for a in arrays]
    out = _run(program, table, leaves, "rnnlab")
    grad_of = backward([out], [probe])
    ours = [grad_of(t) if grad_of(t) is not None else np.zeros_like(a) for t, a in zip(leaves, arrays)]

    t_leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    t_out = _run(program, table, t_leaves, "torch", torch)
    (t_out * torch.tensor(probe)).sum().backward()
    theirs = [t.grad.numpy() if t.grad is not None else np.zeros_like(a) for t, a in zip(t_leaves, arrays)]

    np.testing.assert_allclose(np.asarray(out.value if isinstance(out, Tensor) else out), t_out.detach().numpy(),
                               rtol=1e-10, atol=1e-10)
    for i, (g, r) in enumerate(zip(ours, theirs)):
        scale = max(1.0, float(np.abs(r).max()))
        assert np.abs(g - r).max() <= 1e-8 * scale, (
            f"seed {seed}, leaf {i}: program {[n for n, _ in program]}; worst {np.abs(g - r).max():.3e}")
