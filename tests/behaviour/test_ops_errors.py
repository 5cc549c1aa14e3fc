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
]


@pytest.mark.parametrize("index", range(len(CASES)))
def test_bad_argument_is_refused_clearly(index):
    call, error, pattern = CASES[index]
    with pytest.raises(error, match=pattern):
        call()
