"""Bad arguments to rnnlab.ops: a ValueError or TypeError that names the op, the argument and what it received."""
import numpy as np
import pytest

import rnnlab.ops as ops
from rnnlab.ops.tensor import Tensor

A34, A5 = np.ones((3, 4)), np.ones(5)


def test_incompatible_shapes_name_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"^ops\.add: cannot broadcast x1 of shape \(3, 4\) with x2 of shape \(5,\)"):
        ops.add(A34, A5)


def test_the_same_message_from_an_operator_on_the_record():
    with pytest.raises(ValueError, match=r"ops\.multiply: cannot broadcast x1 of shape \(3, 4\) with x2 of shape \(5,\)"):
        Tensor(A34) * A5


CASES = [
    (lambda: ops.subtract(A34, A5), ValueError, r"ops\.subtract: cannot broadcast .*\(3, 4\).*\(5,\)"),
    (lambda: ops.less(A34, A5), ValueError, r"ops\.less: cannot broadcast"),
    (lambda: ops.maximum(A34, A5), ValueError, r"ops\.maximum: cannot broadcast x1 of shape \(3, 4\)"),
    (lambda: ops.where(np.ones(2) > 0, A34, 0.0), ValueError, r"ops\.where: .*condition of shape \(2,\), x1 of shape \(3, 4\)"),
    (lambda: ops.where(A34 > 0, A34), ValueError, r"ops\.where: `x1` and `x2` must both be given"),
    (lambda: ops.clip(A34, np.zeros(5), 1.0), ValueError, r"ops\.clip: cannot broadcast x of shape \(3, 4\)"),
    (lambda: ops.matmul(A34, np.ones((5, 2))), ValueError, r"ops\.matmul: cannot multiply x1 of shape \(3, 4\) with x2 of shape \(5, 2\)"),
    (lambda: ops.dot(A34, A5), ValueError, r"ops\.dot: cannot multiply x1 of shape \(3, 4\) with x2 of shape \(5,\)"),
    (lambda: ops.einsum("ij,jk->ik", A34, A34), ValueError, r"ops\.einsum: subscripts 'ij,jk->ik' do not fit .*\(3, 4\)"),
    (lambda: ops.tensordot(A34, A5, axes=1), ValueError, r"ops\.tensordot: cannot contract x1 of shape \(3, 4\)"),
    (lambda: ops.concatenate([A34, np.ones((2, 5))]), ValueError, r"ops\.concatenate: cannot concatenate xs of shapes \[\(3, 4\), \(2, 5\)\]"),
    (lambda: ops.stack([A34, A5]), ValueError, r"ops\.stack: cannot stack x of shapes"),
    (lambda: ops.reshape(A34, (5, -1)), ValueError, r"ops\.reshape: cannot reshape x of shape \(3, 4\) \(size 12\)"),
    (lambda: ops.transpose(A34, (0, 0)), ValueError, r"ops\.transpose: argument `axes` must be a permutation"),
    (lambda: ops.squeeze(A34, axis=0), ValueError, r"ops\.squeeze: cannot squeeze axis=0 of x with shape \(3, 4\)"),
    (lambda: ops.sum(A34, axis=2), ValueError, r"ops\.sum: argument `axis` must be an int in \[-2, 2\)"),
    (lambda: ops.mean(A34, axis=(1, -1)), ValueError, r"ops\.mean: argument `axis` repeats an axis"),
    (lambda: ops.max(np.ones((0, 3))), ValueError, r"ops\.max: cannot compute the max of an empty tensor"),
    (lambda: ops.broadcast_to(A34, (2, 5)), ValueError, r"ops\.broadcast_to: cannot broadcast x of shape \(3, 4\) to shape \(2, 5\)"),
    (lambda: ops.split(A34, 3, axis=1), ValueError, r"ops\.split: x of shape \(3, 4\) cannot be split into 3 equal parts"),
    (lambda: ops.unstack(A34, num=4), ValueError, r"ops\.unstack: num=4 does not match the size 3"),
    (lambda: ops.take(A34, np.array([4]), axis=1), ValueError, r"ops\.take: indices must lie in \[-4, 4\)"),
    (lambda: ops.take(A34, np.array([0.5])), TypeError, r"indices must be integers"),
    (lambda: ops.take_along_axis(A34, np.array([0, 1]), axis=1), ValueError, r"ops\.take_along_axis: indices \(shape \(2,\)\) must have the rank"),
    (lambda: ops.slice(A34, (2, 0), (2, 4)), ValueError, r"ops\.slice: the block at start_indices=\[2, 0\] with shape \[2, 4\] does not fit"),
    (lambda: ops.slice(A34, (0,), (1,)), ValueError, r"ops\.slice: start_indices and shape need one entry per axis"),
    (lambda: ops.pad(A34, 1, mode="edge"), ValueError, r"ops\.pad: argument `mode` must be one of \['constant', 'reflect', 'symmetric'\]; received mode='edge'"),
    (lambda: ops.pad(A34, 1, mode="reflect", constant_values=2), ValueError, r"ops\.pad: `constant_values` can only be given with mode='constant'"),
    (lambda: ops.pad(A34, ((1, 2, 3),)), ValueError, r"ops\.pad: argument `pad_width` must be"),
    (lambda: ops.norm(A34, ord="fro", axis=0), ValueError, r"ops\.norm: invalid `ord` for a vector norm"),
    (lambda: ops.norm(A34, ord=3), ValueError, r"ops\.norm: invalid `ord` for a matrix norm"),
    (lambda: ops.norm(np.ones((2, 3, 4))), ValueError, r"ops\.norm: `axis` must name one axis .* or two"),
    (lambda: ops.linspace(0, 1, -1), ValueError, r"ops\.linspace: argument `num` must be a non-negative integer"),
    (lambda: ops.zeros((2,), dtype="complex64"), TypeError, r"Argument `dtype` must be one of"),
    (lambda: ops.top_k(A34, 5), ValueError, r"ops\.top_k: argument `k` must lie in \[0, 4\]"),
    (lambda: ops.segment_sum(A5, np.array([0, 1, 3, 1, 0])), ValueError, r"ops\.segment_sum: segment_ids must lie in \[0, 3\)"),
    (lambda: ops.segment_sum(A5, np.array([0, 1]), num_segments=2), ValueError, r"ops\.segment_sum: segment_ids \(shape \(2,\)\) must match"),
    (lambda: ops.one_hot(np.array([1]), 3, sparse=True), ValueError, r"ops\.one_hot: sparse=True is not supported"),
    (lambda: ops.moments(A34, axes=[0], synchronized=True), ValueError, r"ops\.moments: synchronized=True"),
    (lambda: ops.normalize(A34, order=0), ValueError, r"ops\.normalize: argument `order` must be an int >= 1; received order=0"),
    (lambda: ops.binary_crossentropy(A34, A5), ValueError, r"ops\.binary_crossentropy: .*target\.shape=\(3, 4\), output\.shape=\(5,\)"),
    (lambda: ops.categorical_crossentropy(A34, np.ones((3, 5))), ValueError, r"ops\.categorical_crossentropy: .*same shape"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 1]), A34), ValueError, r"ops\.sparse_categorical_crossentropy: `target` must have the shape"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 1, 4]), A34), ValueError, r"labels must lie in \[0, 4\)"),
    (lambda: ops.sparse_categorical_crossentropy(np.array([0, 1, 2]), A34, axis=0), ValueError, r"only axis=-1 is supported"),
    (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((2, 2, 4))), ValueError, r"ops\.conv: the kernel's input channels \(2\) must equal the inputs' channels \(3\)"),
    (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((2, 3, 4)), padding="causal"), ValueError, r"ops\.conv: argument `padding` must be 'valid' or 'same'; received padding='causal'"),
    (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((2, 3, 4)), data_format="NWC"), ValueError, r"ops\.conv: argument `data_format`"),
    (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((2, 3, 4)), strides=0), ValueError, r"ops\.conv: argument `strides` must be a positive int"),
    (lambda: ops.conv(np.ones((1, 5, 3)), np.ones((2, 3, 4)), strides=2, dilation_rate=2), ValueError, r"`strides` > 1 together with `dilation_rate` > 1"),
    (lambda: ops.conv(np.ones((1, 2, 3)), np.ones((3, 3, 4))), ValueError, r"ops\.conv: the convolution of inputs of shape \(1, 2, 3\) .* has an empty output"),
    (lambda: ops.conv(np.ones((5, 3)), np.ones((3, 4))), ValueError, r"ops\.conv: expected inputs \(batch, spatial\.\.\., channels\)"),
    (lambda: ops.scan(lambda c, x: (c, x), 0.0), ValueError, r"ops\.scan: give `xs` to scan over or `length`"),
    (lambda: ops.scan(lambda c, x: (c, x), 0.0, [A34, A5]), ValueError, r"ops\.scan: every array in `xs` must have 3 entries"),
    (lambda: ops.scan(lambda c, x: (c, x), 0.0, A34, unroll=0), ValueError, r"ops\.scan: argument `unroll` must be a positive int"),
    # the long tail
    (lambda: ops.hypot(A34, A5), ValueError, r"ops\.hypot: cannot broadcast x1 of shape \(3, 4\) with x2 of shape \(5,\)"),
    (lambda: ops.fmax(A34, A5), ValueError, r"ops\.fmax: cannot broadcast x1 of shape \(3, 4\)"),
    (lambda: ops.ldexp(A34, 1.5), TypeError, r"ops\.ldexp: argument `x2` \(the exponent\) must have an integer dtype"),
    (lambda: ops.array_split(A34, [1, 2]), ValueError, r"ops\.array_split: argument `indices_or_sections` must be a positive int"),
    (lambda: ops.array_split(A34, 2, axis=3), ValueError, r"ops\.array_split: argument `axis` must lie in \[-2, 2\)"),
    (lambda: ops.hstack([]), ValueError, r"ops\.hstack: needs at least one array"),
    (lambda: ops.diagonal(A5), ValueError, r"ops\.diagonal: x must have at least 2 axes; received x of shape \(5,\)"),
    (lambda: ops.diagonal(A34, axis1=1, axis2=-1), ValueError, r"ops\.diagonal: `axis1` and `axis2` must differ"),
    (lambda: ops.diag(np.ones((2, 2, 2))), ValueError, r"ops\.diag: x must be 1-D or 2-D"),
    (lambda: ops.roll(A34, (1, 2), axis=0), ValueError, r"ops\.roll: `shift` and `axis` must have as many entries"),
    (lambda: ops.rot90(A5), ValueError, r"ops\.rot90: `array` must have at least 2 axes"),
    (lambda: ops.rot90(A34, axes=(0, 0)), ValueError, r"ops\.rot90: argument `axes`"),
    (lambda: ops.fliplr(A5), ValueError, r"ops\.fliplr: x must have at least 2 axes"),
    (lambda: ops.meshgrid(A5, A5, indexing="yx"), ValueError, r"ops\.meshgrid: argument `indexing` must be 'xy' or 'ij'"),
    (lambda: ops.diff(A34, n=-1), ValueError, r"ops\.diff: argument `n` must be a non-negative int; received n=-1"),
    (lambda: ops.select([A34 > 0], [A34, A34]), ValueError, r"ops\.select: `condlist` and `choicelist` must have the same length"),
    (lambda: ops.searchsorted(A34, A5), ValueError, r"ops\.searchsorted: `sorted_sequence` must be 1-D"),
    (lambda: ops.searchsorted(A5, A5, side="middle"), ValueError, r"ops\.searchsorted: argument `side` must be 'left' or 'right'"),
    (lambda: ops.digitize(A5, [2.0, 1.0]), ValueError, r"ops\.digitize: `bins` must be increasing"),
    (lambda: ops.unravel_index(np.array([12]), (3, 4)), ValueError, r"ops\.unravel_index: indices must lie in \[0, 12\)"),
    (lambda: ops.unravel_index(A5, (5,)), TypeError, r"ops\.unravel_index: `indices` must be integers"),
    (lambda: ops.argpartition(A5, 5), ValueError, r"ops\.argpartition: argument `kth` must lie in \[-5, 5\)"),
    (lambda: ops.bincount(np.array([1, -1])), ValueError, r"ops\.bincount: x must hold non-negative integers"),
    (lambda: ops.bincount(A5), ValueError, r"ops\.bincount: x must be a 1-D or 2-D array of non-negative integers"),
    (lambda: ops.bincount(np.array([1, 2]), weights=A5), ValueError, r"ops\.bincount: `weights` must have the shape of x"),
    (lambda: ops.bincount(np.array([1]), sparse=True), ValueError, r"ops\.bincount: sparse=True is not supported"),
    (lambda: ops.histogram(A5, bins=2.5), TypeError, r"ops\.histogram: argument `bins` must be an int"),
    (lambda: ops.histogram(A5, range=(2, 1)), ValueError, r"ops\.histogram: argument `range` must be a tuple \(low, high\)"),
    (lambda: ops.histogram(A34), ValueError, r"ops\.histogram: x must be 1-D"),
    (lambda: ops.scatter(np.array([[3, 0]]), np.ones(1), (3, 4)), ValueError, r"ops\.scatter: `indices` column 0 must lie in \[0, 3\)"),
    (lambda: ops.scatter(np.array([[0, 0]]), np.ones(2), (3, 4)), ValueError, r"ops\.scatter: `values` must have shape indices\.shape\[:-1\] \+ shape\[2:\] = \(1,\)"),
    (lambda: ops.scatter(np.array([[0.5]]), np.ones(1), (3,)), TypeError, r"ops\.scatter: `indices` must be an integer array"),
    (lambda: ops.scatter_update(A34, np.array([[0, 0]]), np.ones(1), reduction="sum"), ValueError, r"ops\.scatter_update: argument `reduction` must be one of \[None, 'add', 'max', 'min', 'mul'\]"),
    (lambda: ops.vectorize(3), ValueError, r"ops\.vectorize: argument `pyfunc` must be callable"),
    (lambda: ops.vectorize(ops.add, signature="(n),(n)")(A5, A5), ValueError, r"ops\.vectorize: `signature` must look like"),
    (lambda: ops.quantile(A34, 1.5), ValueError, r"ops\.quantile: `q` must be a scalar or a 1-D array of quantiles in \[0, 1\]"),
    (lambda: ops.percentile(A34, 50, method="weird"), ValueError, r"ops\.percentile: argument `method` must be one of"),
    (lambda: ops.median(A34, axis=2), ValueError, r"ops\.median: argument `axis` must be an int in \[-2, 2\)"),
    (lambda: ops.average(A34, axis=1, weights=np.ones(3)), ValueError, r"ops\.average: `weights` must have the shape of x, or be 1-D"),
    (lambda: ops.glu(np.ones((2, 3))), ValueError, r"ops\.glu: the size of `axis` must be even"),
    (lambda: ops.psnr(A34, A5, 1.0), ValueError, r"ops\.psnr: `x1` and `x2` must have the same shape"),
    (lambda: ops.layer_normalization(A34, center=True), TypeError, r"ops\.layer_normalization: unexpected keyword arguments \['center'\]"),
    (lambda: ops.batch_normalization(np.ones((2, 3, 4)), A5, A5, axis=1), ValueError, r"ops\.batch_normalization: `mean` must be 1-D with the size of axis 1 of x \(3\)"),
    (lambda: ops.dot_product_attention(A34, A34, A34), ValueError, r"ops\.dot_product_attention: query, key and value must be 4-D"),
    (lambda: ops.dot_product_attention(*[np.ones((1, 2, 2, 3))] * 3, flash_attention=True), ValueError, r"ops\.dot_product_attention: flash_attention=True is not supported"),
    (lambda: ops.dot_product_attention(np.ones((1, 2, 3, 2)), np.ones((1, 2, 2, 2)), np.ones((1, 2, 2, 2))), ValueError, r"ops\.dot_product_attention: key and value must have the same shape and a number of heads that divides"),
    (lambda: ops.max_pool(np.ones((1, 3, 2)), 4), ValueError, r"ops\.max_pool: a pool of size \(4,\) does not fit"),
    (lambda: ops.average_pool(np.ones((1, 4, 2)), 2, padding="full"), ValueError, r"ops\.average_pool: argument `padding` must be 'valid' or 'same'"),
    (lambda: ops.max_pool(np.ones((1, 4, 2)), 0), ValueError, r"ops\.max_pool: argument `pool_size` must be a positive int"),
    (lambda: ops.depth_to_space(np.ones((1, 2, 2, 6)), 2), ValueError, r"ops\.depth_to_space: the channels \(6\) must be divisible by block_size\^2 \(4\)"),
    (lambda: ops.space_to_depth(np.ones((1, 3, 2, 1)), 2), ValueError, r"ops\.space_to_depth: height and width \(3, 2\) must be divisible"),
    (lambda: ops.space_to_depth(np.ones((1, 4, 4, 1)), 1), ValueError, r"ops\.space_to_depth: argument `block_size` must be an int of at least 2"),
    (lambda: ops.inv(A34), ValueError, r"ops\.inv: argument `x` must be a square matrix or a batch of them"),
    (lambda: ops.inv(np.zeros((2, 2))), ValueError, r"ops\.inv: Singular matrix"),
    (lambda: ops.cholesky(-np.eye(2)), ValueError, r"ops\.cholesky: .*symmetric and positive definite"),
    (lambda: ops.solve(np.eye(3), A5), ValueError, r"ops\.solve: `b` must be a vector \(\.\.\., n\) or a matrix"),
    (lambda: ops.qr(A34, mode="r"), ValueError, r"ops\.qr: argument `mode` must be 'reduced' or 'complete'"),
    (lambda: ops.svd(A5), ValueError, r"ops\.svd: argument `x` must be a matrix or a batch of them"),
    (lambda: ops.eigh(A34), ValueError, r"ops\.eigh: argument `x` must be square"),
    (lambda: ops.lstsq(A34, np.ones(5)), ValueError, r"ops\.lstsq: `a` must be 2-D \(m, n\) and `b` \(m,\) or \(m, k\)"),
]


@pytest.mark.parametrize("op", ["unique", "histogram", "svd", "qr", "eigh", "pinv", "matrix_rank"])
def test_a_forward_only_op_refuses_an_array_on_the_record(op):
    """Ops without a gradient refuse a float Tensor (a layer input or weight while it trains), naming the op,
    the argument and the way out, rather than silently training without that gradient."""
    x = Tensor(np.random.default_rng(0).normal(size=(3, 3)) if op not in ("unique", "histogram") else A5)
    with pytest.raises(TypeError, match=rf"ops\.{op} has no gradient in rnnlab, and argument `x` is on the training "
                                        r"record .* Pass ops\.stop_gradient\(x\)"):
        getattr(ops, op)(x)
    getattr(ops, op)(ops.stop_gradient(x))  # the way out works


def test_scatter_update_reductions_without_gradient_refuse_the_record():
    with pytest.raises(TypeError, match=r"ops\.scatter_update\(reduction='max'\) has no gradient .* `updates`"):
        ops.scatter_update(A34, np.array([[0, 0]]), Tensor(np.ones(1)), reduction="max")


def test_integer_results_pass_no_gradient_on_the_record():
    """Positions, flags and counts carry no gradient, as in Keras: on a Tensor they give plain arrays."""
    x = Tensor(np.array([0.5, -1.0, 2.0]))
    for out in (ops.argpartition(x, 1), ops.searchsorted(np.array([0.0, 1.0]), x), ops.digitize(x, [0.0]),
                ops.isin(x, x), ops.signbit(x), ops.isclose(x, x), ops.nanargmax(x)):
        assert not isinstance(out, Tensor)


@pytest.mark.parametrize("index", range(len(CASES)))
def test_bad_argument_is_refused_clearly(index):
    call, error, pattern = CASES[index]
    with pytest.raises(error, match=pattern):
        call()
