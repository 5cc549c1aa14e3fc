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


def with_nans(a):
    """``a`` (3, 4) with NaNs in its second column and at one more entry."""
    holes = np.zeros((3, 4), dtype=bool)
    holes[:, 1] = holes[2, 0] = True
    return ops.where(holes, np.nan, a)  # where() sends no gradient to the holes


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
    # NumPy functions (not ufuncs) on Tensors run as the ops of the same name (Tensor.__array_function__)
    "numpy_functions": (lambda a, b: np.sum(np.clip(a, -1.0, 1.5) * np.where(a > 0, a, 0.1 * a), axis=1,
                                            keepdims=True) + np.concatenate([b, np.tanh(b)], axis=-1)[:, :4],
                        lambda: [arr(3, 4), arr(3, 2)]),
    "numpy_functions_shapes": (lambda a: np.mean(np.stack([np.transpose(a), np.flip(np.transpose(a), 0)]), axis=0)
                               + np.max(np.reshape(a, (4, 3)), axis=1, keepdims=True),
                               lambda: [arr(3, 4)]),
    "numpy_ufuncs": (lambda a: np.tanh(np.exp(a) * a) + np.square(a), lambda: [arr(3, 4)]),
    "numpy_ufuncs_long_tail": (lambda a, b: np.hypot(a, b) + np.arctan2(a, b) * np.logaddexp(a, b) + np.cbrt(np.fmax(a, b)) + np.deg2rad(np.fmod(a, b)), lambda: [arr(3, 4), pos(4)]),
    "reused_input": (lambda a: a * a + a, lambda: [arr(5)]),
    # selection
    "where_broadcast": (lambda a, b: ops.where(a > 0, a, b), lambda: [arr(3, 4), arr(4)]),
    "maximum_broadcast": (ops.maximum, lambda: [arr(3, 4), arr(3, 1)]),
    "minimum_broadcast": (ops.minimum, lambda: [arr(3, 4), arr(4)]),
    "clip_scalar_bounds": (lambda a: ops.clip(a, -1.0, 1.0), lambda: [arr(3, 4)]),
    "clip_array_bounds": (ops.clip, lambda: [arr(3, 4), arr(4) / 2 - 1.5, arr(3, 1) / 2 + 1.5]),
    "sort_axis0": (lambda a: ops.sort(a, axis=0), lambda: [arr(3, 4)]),
    "sort_flat": (lambda a: ops.sort(a, axis=None), lambda: [arr(3, 2)]),
    "tril": (lambda a: ops.tril(a, k=-1), lambda: [arr(2, 3, 4)]),
    "triu": (lambda a: ops.triu(a, k=1), lambda: [arr(3, 4)]),
    **{f"elementwise_{name}": (getattr(ops, name), lambda: [RNG.uniform(-0.9, 0.9, (3, 4))])
       for name in ["tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arctanh", "exp2"]},
    "log2": (ops.log2, lambda: [pos(3, 4)]),
    "log10": (ops.log10, lambda: [pos(3, 4)]),
    # reductions
    "sum_axis": (lambda a: ops.sum(a, axis=1), lambda: [arr(2, 3, 4)]),
    "sum_all_keepdims": (lambda a: ops.sum(a, keepdims=True), lambda: [arr(2, 3)]),
    "mean_axes": (lambda a: ops.mean(a, axis=(0, 2)), lambda: [arr(2, 3, 4)]),
    "max_axis": (lambda a: ops.max(a, axis=-1), lambda: [arr(3, 5)]),
    "min_keepdims": (lambda a: ops.min(a, axis=0, keepdims=True), lambda: [arr(3, 5)]),
    "max_pair_tie": (lambda a: ops.max(a * np.array([1.0, 1.0, 0.0]) + 1.0, axis=-1), lambda: [arr(2, 3)]),
    "prod_axis": (lambda a: ops.prod(a, axis=1), lambda: [arr(3, 4)]),
    "prod_with_zero": (lambda a: ops.prod(a * np.array([[0.0, 1, 1], [1, 1, 1]]), axis=(0, 1)), lambda: [arr(2, 3)]),
    "cumsum": (lambda a: ops.cumsum(a, axis=1), lambda: [arr(3, 4)]),
    "cumsum_flat": (ops.cumsum, lambda: [arr(3, 4)]),
    "cumprod": (lambda a: ops.cumprod(a, axis=0), lambda: [arr(4, 3)]),
    "cumprod_with_zero": (lambda a: ops.cumprod(a * np.array([1.0, 0.0, 1.0, 1.0])), lambda: [arr(4)]),
    "logsumexp": (lambda a: ops.logsumexp(a, axis=-1), lambda: [arr(3, 4)]),
    "var": (lambda a: ops.var(a, axis=0), lambda: [arr(4, 3)]),
    "std_keepdims": (lambda a: ops.std(a, axis=(0, 1), keepdims=True), lambda: [arr(3, 4, 2)]),
    "moments": (lambda a: ops.moments(a, axes=[0]), lambda: [arr(5, 3)]),
    # shapes
    "reshape": (lambda a: ops.reshape(a, (-1, 2)), lambda: [arr(3, 4)]),
    "transpose": (lambda a: ops.transpose(a, (2, 0, 1)), lambda: [arr(2, 3, 4)]),
    "transpose_T": (lambda a: a.T @ a, lambda: [arr(3, 4)]),
    "swapaxes": (lambda a: ops.swapaxes(a, 0, 2), lambda: [arr(2, 3, 4)]),
    "moveaxis": (lambda a: ops.moveaxis(a, 0, -1), lambda: [arr(2, 3, 4)]),
    "expand_squeeze": (lambda a: ops.squeeze(ops.expand_dims(a, (0, 2)), axis=0), lambda: [arr(3, 4)]),
    "broadcast_to": (lambda a: ops.broadcast_to(a, (2, 3, 4)), lambda: [arr(3, 1)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b, a], axis=1), lambda: [arr(3, 2), arr(3, 4)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), lambda: [arr(3, 4), arr(3, 4)]),
    "split_indices": (lambda a: ops.split(a, [1, 3], axis=1), lambda: [arr(2, 5)]),
    "split_sections": (lambda a: ops.split(a, 2), lambda: [arr(4, 3)]),
    "unstack": (lambda a: ops.unstack(a, axis=1), lambda: [arr(2, 3)]),
    "take_repeated": (lambda a: ops.take(a, np.array([[0, 2], [2, -1]]), axis=1), lambda: [arr(3, 4)]),
    "take_flat": (lambda a: ops.take(a, np.array([5, 0, 5])), lambda: [arr(2, 3)]),
    "take_along_axis": (lambda a: ops.take_along_axis(a, np.array([[0, 2, 2]]), axis=1), lambda: [arr(3, 4)]),
    "slice": (lambda a: ops.slice(a, (1, 0), (2, -1)), lambda: [arr(3, 4)]),
    "slice_update": (lambda a, u: ops.slice_update(a, (1, 1), u), lambda: [arr(3, 4), arr(2, 2)]),
    "tile": (lambda a: ops.tile(a, (2, 1, 3)), lambda: [arr(3, 2)]),
    "repeat_counts": (lambda a: ops.repeat(a, np.array([1, 0, 3]), axis=0), lambda: [arr(3, 2)]),
    "repeat_flat": (lambda a: ops.repeat(a, 2), lambda: [arr(2, 2)]),
    "pad_constant": (lambda a: ops.pad(a, ((1, 0), (2, 1)), constant_values=3.0), lambda: [arr(3, 4)]),
    "pad_reflect": (lambda a: ops.pad(a, ((2, 1), (1, 2)), mode="reflect"), lambda: [arr(3, 4)]),
    "pad_symmetric": (lambda a: ops.pad(a, 2, mode="symmetric"), lambda: [arr(3, 4)]),
    "flip": (lambda a: ops.flip(a, axis=(0, 1)), lambda: [arr(3, 4)]),
    "copy": (ops.copy, lambda: [arr(3)]),
    # products
    "dot_nd": (ops.dot, lambda: [arr(2, 3, 4), arr(5, 4, 2)]),
    "dot_vec": (ops.dot, lambda: [arr(4), arr(4, 3)]),
    "dot_scalar": (ops.dot, lambda: [arr(3), arr()]),
    "tensordot_int": (lambda a, b: ops.tensordot(a, b, axes=2), lambda: [arr(2, 3, 4), arr(3, 4, 5)]),
    "tensordot_pairs": (lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, 0])), lambda: [arr(2, 3, 4), arr(4, 5, 2)]),
    "einsum_batched": (lambda a, b: ops.einsum("bij,bjk->bik", a, b), lambda: [arr(2, 3, 4), arr(2, 4, 5)]),
    "einsum_ellipsis_broadcast": (lambda a, b: ops.einsum("...ij,...j->...i", a, b), lambda: [arr(2, 3, 4), arr(1, 4)]),
    "einsum_diagonal_trace": (lambda a: ops.einsum("ii", a), lambda: [arr(3, 3)]),
    "einsum_three_operands": (lambda a, b, c: ops.einsum("ij,jk,k->i", a, b, c), lambda: [arr(2, 3), arr(3, 4), arr(4)]),
    "outer": (ops.outer, lambda: [arr(3), arr(2, 2)]),
    "inner": (ops.inner, lambda: [arr(2, 4), arr(3, 4)]),
    "vdot": (ops.vdot, lambda: [arr(2, 3), arr(3, 2)]),
    "norm_vector": (lambda a: ops.norm(a, axis=-1), lambda: [arr(3, 4)]),
    "norm_vector_ord3": (lambda a: ops.norm(a, ord=3, axis=0, keepdims=True), lambda: [arr(3, 4)]),
    "norm_fro": (ops.norm, lambda: [arr(3, 4)]),
    "norm_matrix_1": (lambda a: ops.norm(a, ord=1, axis=(1, 2)), lambda: [arr(2, 3, 4)]),
    "norm_matrix_inf": (lambda a: ops.norm(a, ord=np.inf), lambda: [arr(3, 4)]),
    "norm_spectral": (lambda a: ops.norm(a, ord=2), lambda: [arr(3, 4)]),
    "norm_nuclear": (lambda a: ops.norm(a, ord="nuc", axis=(0, 2)), lambda: [arr(3, 2, 4)]),
    # maths
    "erf": (ops.erf, lambda: [arr(3, 4)]),
    "top_k_values": (lambda a: ops.top_k(a, 2)[0], lambda: [arr(3, 5)]),
    "segment_sum": (lambda a: ops.segment_sum(a, np.array([0, 2, 1, 0, 1]), num_segments=3), lambda: [arr(5, 2)]),
    # nn
    "relu": (ops.relu, lambda: [arr(3, 4)]),
    **{f"nn_{name}": (getattr(ops, name), lambda: [arr(3, 4)])
       for name in ["hard_tanh", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "celu", "squareplus",
                    "soft_shrink", "hard_shrink"]},
    "celu_alpha": (lambda a: ops.celu(a, alpha=0.5), lambda: [arr(3, 4)]),
    "relu6": (ops.relu6, lambda: [arr(3, 4) * 4]),
    "sigmoid": (ops.sigmoid, lambda: [arr(3, 4) * 5]),
    "softplus": (ops.softplus, lambda: [arr(3, 4) * 5]),
    "softsign": (ops.softsign, lambda: [arr(3, 4)]),
    "silu": (ops.silu, lambda: [arr(3, 4)]),
    "gelu_tanh": (ops.gelu, lambda: [arr(3, 4)]),
    "gelu_exact": (lambda a: ops.gelu(a, approximate=False), lambda: [arr(3, 4)]),
    "elu_alpha": (lambda a: ops.elu(a, alpha=0.7), lambda: [arr(3, 4)]),
    "selu": (ops.selu, lambda: [arr(3, 4)]),
    "leaky_relu": (lambda a: ops.leaky_relu(a, negative_slope=0.1), lambda: [arr(3, 4)]),
    "hard_sigmoid": (ops.hard_sigmoid, lambda: [arr(3, 4) * 2]),
    "hard_silu": (ops.hard_silu, lambda: [arr(3, 4) * 2]),
    "log_sigmoid": (ops.log_sigmoid, lambda: [arr(3, 4) * 5]),
    "softmax": (ops.softmax, lambda: [arr(3, 4)]),
    "softmax_axes": (lambda a: ops.softmax(a, axis=(0, 2)), lambda: [arr(2, 3, 4)]),
    "log_softmax_axis0": (lambda a: ops.log_softmax(a, axis=0), lambda: [arr(3, 4)]),
    "normalize_l2": (ops.normalize, lambda: [arr(3, 4)]),
    "normalize_l1": (lambda a: ops.normalize(a, axis=0, order=1), lambda: [arr(3, 4)]),
    "binary_crossentropy": (ops.binary_crossentropy, lambda: [RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.1, 0.9, (3, 4))]),
    "binary_crossentropy_logits": (lambda t, z: ops.binary_crossentropy(t, z, from_logits=True), lambda: [RNG.uniform(0, 1, (3, 4)), arr(3, 4)]),
    "categorical_crossentropy": (ops.categorical_crossentropy, lambda: [RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.1, 0.9, (3, 4))]),
    "categorical_crossentropy_logits": (lambda t, z: ops.categorical_crossentropy(t, z, from_logits=True, axis=0), lambda: [RNG.uniform(0, 1, (3, 4)), arr(3, 4)]),
    "sparse_categorical_crossentropy": (lambda p: ops.sparse_categorical_crossentropy(np.array([0, 3, 1]), p), lambda: [RNG.uniform(0.1, 0.9, (3, 4))]),
    "sparse_categorical_crossentropy_logits": (lambda z: ops.sparse_categorical_crossentropy(np.array([[2], [0]]), z, from_logits=True), lambda: [arr(2, 3)]),
    "conv1d_same_strided": (lambda x, k: ops.conv(x, k, strides=2, padding="same"), lambda: [arr(2, 7, 3), arr(3, 3, 2)]),
    "conv1d_dilated_channels_first": (lambda x, k: ops.conv(x, k, data_format="channels_first", dilation_rate=2), lambda: [arr(2, 3, 7), arr(2, 3, 2)]),
    "conv2d_valid": (ops.conv, lambda: [arr(2, 5, 4, 2), arr(3, 2, 2, 3)]),
    "conv2d_same_channels_first": (lambda x, k: ops.conv(x, k, strides=(2, 1), padding="same", data_format="channels_first"), lambda: [arr(1, 2, 5, 4), arr(2, 3, 2, 2)]),
    "depthwise_conv2d": (lambda x, k: ops.depthwise_conv(x, k, padding="same"), lambda: [arr(2, 4, 4, 2), arr(3, 3, 2, 2)]),
    "depthwise_conv1d_strided": (lambda x, k: ops.depthwise_conv(x, k, strides=2), lambda: [arr(2, 7, 2), arr(3, 2, 3)]),
    # joins, diagonals, rotations
    "hstack": (lambda a, b: ops.hstack([a, b, a]), lambda: [arr(2, 3), arr(2, 1)]),
    "vstack_vectors": (lambda a, b: ops.vstack([a, b]), lambda: [arr(3), arr(3)]),
    "dstack": (lambda a, b: ops.dstack([a, b]), lambda: [arr(2, 3), arr(2, 3, 2)]),
    "append_flat": (ops.append, lambda: [arr(2, 3), arr(4)]),
    "array_split": (lambda a: ops.array_split(a, 3, axis=1), lambda: [arr(2, 7)]),
    "hsplit_vsplit_dsplit": (lambda a: ops.hsplit(a, 2) + ops.vsplit(a, [1]) + ops.dsplit(a, 2), lambda: [arr(2, 4, 2)]),
    "diagonal_offset_axes": (lambda a: ops.diagonal(a, offset=-1, axis1=2, axis2=0), lambda: [arr(3, 2, 4)]),
    "diag_vector": (lambda a: ops.diag(a, k=1), lambda: [arr(3)]),
    "diag_matrix": (lambda a: ops.diag(a, k=1), lambda: [arr(3, 4)]),
    "diagflat": (lambda a: ops.diagflat(a, k=-2), lambda: [arr(2, 2)]),
    "trace": (lambda a: ops.trace(a, offset=1, axis1=1, axis2=2), lambda: [arr(2, 3, 4)]),
    "roll_flat": (lambda a: ops.roll(a, 5), lambda: [arr(3, 4)]),
    "roll_axes": (lambda a: ops.roll(a, (1, -2), axis=(0, 1)), lambda: [arr(3, 4)]),
    "fliplr_flipud": (lambda a: ops.fliplr(a) * ops.flipud(a), lambda: [arr(3, 3)]),
    "rot90": (lambda a: ops.rot90(a, k=3, axes=(1, 2)), lambda: [arr(2, 3, 4)]),
    "meshgrid": (lambda a, b: ops.meshgrid(a, b), lambda: [arr(3), arr(2)]),
    "diff": (lambda a: ops.diff(a, n=2, axis=0), lambda: [arr(5, 3)]),
    # selection
    "select": (lambda a, b: ops.select([a > 0.5, a < -0.5], [a * a, b], default=b * 2), lambda: [arr(3, 4), arr(3, 4)]),
    "nan_to_num": (ops.nan_to_num, lambda: [arr(2, 3)]),
    "fmax_fmin": (lambda a, b: ops.fmax(a, b) + ops.fmin(a, b) * 2, lambda: [arr(3, 4), arr(4)]),
    "threshold": (lambda a: ops.threshold(a, 0.3, -1.0), lambda: [arr(3, 4)]),
    # scatter, bincount, vectorize
    "scatter": (lambda v: ops.scatter(np.array([[0, 1], [2, 3], [0, 1]]), v, (3, 4)), lambda: [arr(3)]),
    "scatter_update": (lambda a, u: ops.scatter_update(a, np.array([[1], [0]]), u), lambda: [arr(3, 2), arr(2, 2)]),
    "scatter_update_add": (lambda a, u: ops.scatter_update(a, np.array([[1, 1], [1, 1]]), u, reduction="add"), lambda: [arr(3, 2), arr(2)]),
    "bincount_weights": (lambda w: ops.bincount(np.array([[0, 2, 2], [1, 1, 0]]), weights=w), lambda: [arr(2, 3)]),
    "vectorize_signature": (lambda m, v: ops.vectorize(lambda a, b: ops.tanh(a @ b), signature="(m,n),(n)->(m)")(m, v), lambda: [arr(2, 3, 4), arr(4)]),
    # elementwise and binary maths
    "arccosh": (ops.arccosh, lambda: [RNG.uniform(1.2, 3.0, (3, 4))]),
    "sinc": (ops.sinc, lambda: [arr(3, 4)]),
    "fabs": (ops.fabs, lambda: [arr(3, 4)]),
    "cbrt": (ops.cbrt, lambda: [arr(3, 4)]),
    "deg2rad_rad2deg": (lambda a: ops.deg2rad(a) * ops.rad2deg(a), lambda: [arr(3, 4)]),
    "i0": (lambda a: ops.i0(a * 5), lambda: [arr(3, 4)]),
    "erfc": (ops.erfc, lambda: [arr(3, 4)]),
    "erfinv": (ops.erfinv, lambda: [RNG.uniform(-0.95, 0.95, (3, 4))]),
    "arctan2": (ops.arctan2, lambda: [arr(3, 4), arr(4)]),
    "hypot": (ops.hypot, lambda: [arr(3, 4), arr(3, 1)]),
    "logaddexp": (ops.logaddexp, lambda: [arr(3, 4) * 3, arr(4)]),
    "logaddexp2": (ops.logaddexp2, lambda: [arr(3, 4) * 3, arr(3, 1)]),
    "fmod": (ops.fmod, lambda: [arr(3, 4) * 3, pos(4)]),
    "heaviside": (lambda a, b: ops.heaviside(a * np.array([1.0, 0.0, 1.0]), b), lambda: [arr(2, 3), arr(2, 3)]),
    "divide_no_nan": (lambda a, b: ops.divide_no_nan(a, b * np.array([1.0, 0.0, 1.0])), lambda: [arr(2, 3), pos(3)]),
    "ldexp": (lambda a: ops.ldexp(a, np.array([[-1, 0, 2]])), lambda: [arr(2, 3)]),
    "nextafter": (lambda a: ops.nextafter(a, np.zeros(3)), lambda: [arr(2, 3)]),
    # statistics and nan reductions
    "median": (lambda a: ops.median(a, axis=1), lambda: [arr(3, 4)]),
    "quantile_linear": (lambda a: ops.quantile(a, np.array([0.1, 0.5, 0.9]), axis=(0, 2), keepdims=True), lambda: [arr(2, 3, 4)]),
    "quantile_midpoint": (lambda a: ops.quantile(a, 0.3, method="midpoint"), lambda: [arr(3, 4)]),
    "percentile_nearest": (lambda a: ops.percentile(a, 60, axis=0, method="nearest"), lambda: [arr(5, 3)]),
    "average_weights": (lambda a, w: ops.average(a, axis=1, weights=w), lambda: [arr(3, 4), pos(3, 4)]),
    "average_weights_1d": (lambda a, w: ops.average(a, axis=0, weights=w), lambda: [arr(3, 4), pos(3)]),
    "ptp": (lambda a: ops.ptp(a, axis=1), lambda: [arr(3, 4)]),
    **{f"{name}_nans": ((lambda name: lambda a: getattr(ops, name)(with_nans(a), axis=1))(name), lambda: [arr(3, 4)])
       for name in ["nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanprod", "nanmedian"]},
    "nanquantile": (lambda a: ops.nanquantile(with_nans(a), np.array([0.3, 0.7]), axis=1), lambda: [arr(3, 4)]),
    "nancumsum_nancumprod": (lambda a: ops.nancumsum(with_nans(a), axis=1) + ops.nancumprod(with_nans(a), axis=1), lambda: [arr(3, 4)]),
    # nn
    "glu": (lambda a: ops.glu(a, axis=0), lambda: [arr(4, 3)]),
    "sparsemax": (lambda a: ops.sparsemax(a * 0.3), lambda: [arr(3, 5)]),  # supports of 2 and more
    "psnr": (lambda a, b: ops.psnr(a, b, 2.0), lambda: [arr(3, 4), arr(3, 4)]),
    "layer_normalization": (lambda a, g, b: ops.layer_normalization(a, g, b, axis=(1, 2)), lambda: [arr(2, 3, 4), arr(3, 4), arr(3, 4)]),
    "layer_normalization_axis0": (lambda a, g: ops.layer_normalization(a, g, axis=0), lambda: [arr(3, 4), arr(3)]),
    "layer_normalization_rms_scaling": (lambda a, g: ops.layer_normalization(a, g, rms_scaling=True), lambda: [arr(3, 4), arr(4)]),
    "rms_normalization": (lambda a, s: ops.rms_normalization(a, s), lambda: [arr(3, 4), arr(4)]),
    "batch_normalization": (lambda a, m, v, o, s: ops.batch_normalization(a, m, v, axis=1, offset=o, scale=s), lambda: [arr(2, 3, 4), arr(3), pos(3), arr(3), arr(3)]),
    "dot_product_attention": (lambda q, k, v, b: ops.dot_product_attention(q, k, v, bias=b, is_causal=True), lambda: [arr(2, 3, 2, 4), arr(2, 3, 2, 4), arr(2, 3, 2, 4), arr(1, 2, 3, 3)]),
    "dot_product_attention_gqa_mask": (lambda q, k, v: ops.dot_product_attention(q, k, v, mask=np.array([[[[True, False, True]]]])), lambda: [arr(1, 2, 4, 3), arr(1, 3, 2, 3), arr(1, 3, 2, 3)]),
    "max_pool2d_same": (lambda a: ops.max_pool(a, (2, 3), strides=(2, 1), padding="same"), lambda: [arr(2, 5, 4, 2)]),
    "max_pool1d_channels_first": (lambda a: ops.max_pool(a, 2, data_format="channels_first"), lambda: [arr(2, 3, 6)]),
    "average_pool2d_same": (lambda a: ops.average_pool(a, 3, strides=2, padding="same"), lambda: [arr(1, 5, 5, 2)]),
    "average_pool1d": (lambda a: ops.average_pool(a, 2, strides=1), lambda: [arr(2, 5, 3)]),
    "depth_to_space": (lambda a: ops.depth_to_space(a, 2), lambda: [arr(1, 2, 3, 8)]),
    "space_to_depth_channels_first": (lambda a: ops.space_to_depth(a, 2, data_format="channels_first"), lambda: [arr(1, 3, 4, 2)]),
    # linalg
    "inv": (lambda a: ops.inv(a + 3 * np.eye(3)), lambda: [arr(2, 3, 3)]),
    "det": (ops.det, lambda: [arr(2, 3, 3)]),
    "slogdet": (lambda a: ops.slogdet(a)[1], lambda: [arr(3, 3)]),
    "logdet": (lambda a: ops.logdet(a @ ops.transpose(a) + np.eye(3)), lambda: [arr(3, 3)]),
    "solve_matrix": (lambda a, b: ops.solve(a + 3 * np.eye(3), b), lambda: [arr(3, 3), arr(3, 2)]),
    "solve_vector_batched": (lambda a, b: ops.solve(a + 3 * np.eye(3), b), lambda: [arr(2, 3, 3), arr(2, 3)]),
    "solve_triangular_lower": (lambda a, b: ops.solve_triangular(a + 3 * np.eye(3), b, lower=True), lambda: [arr(3, 3), arr(3, 2)]),
    "solve_triangular_upper_vector": (lambda a, b: ops.solve_triangular(a + 3 * np.eye(3), b), lambda: [arr(3, 3), arr(3)]),
    "cholesky": (lambda a: ops.cholesky(a @ ops.swapaxes(a, -1, -2) + np.eye(3)), lambda: [arr(2, 3, 3)]),
    "cholesky_upper": (lambda a: ops.cholesky(a @ ops.transpose(a) + np.eye(3), upper=True), lambda: [arr(3, 3)]),
    "cholesky_inverse": (lambda a: ops.cholesky_inverse(ops.tril(a) + 3 * np.eye(3)), lambda: [arr(3, 3)]),
    "segment_max_min": (lambda a: ops.segment_max(a, np.array([1, 0, 1, 0]), num_segments=3) + ops.segment_min(a, np.array([1, 0, 1, 0]), num_segments=3), lambda: [arr(4, 2)]),
    "segment_prod": (lambda a: ops.segment_prod(a * np.array([[1.0], [0.0], [1.0], [1.0]]), np.array([0, 0, 1, 0])), lambda: [arr(4, 2)]),
    # core
    "scan_cumulative": (lambda a, h0: ops.scan(lambda h, x: (ops.tanh(h + x), h * x), h0, a), lambda: [arr(4, 3), arr(3)]),
    "scan_reverse_nested": (lambda a, b: ops.scan(lambda c, xs: (c * xs[0] + xs[1], c), np.ones(2), (a, b), reverse=True)[1], lambda: [arr(4, 2), arr(4, 2)]),
    "fori_loop": (lambda a: ops.fori_loop(0, 3, lambda i, v: ops.sin(v) * (i + 1), a), lambda: [arr(3)]),
    "while_loop": (lambda a: ops.while_loop(lambda v, i: i < 3, lambda v, i: (v * v + 0.5, i + 1), (a, 0))[0], lambda: [arr(3) * 0.5]),
    "map": (lambda a: ops.map(lambda r: ops.sum(r * r), a), lambda: [arr(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_gradient_matches_finite_differences(name):
    fn, make = CASES[name]
    assert op_gradcheck(fn, make()) < 1e-6


def test_stop_gradient_blocks_the_flow():
    from rnnlab.ops.tensor import Tensor, backward
    a = arr(3)
    leaf = Tensor(a)
    out = leaf * ops.stop_gradient(leaf * 2.0)
    grad = backward([out], [np.ones(3)])(leaf)
    np.testing.assert_allclose(grad, 2.0 * a)  # only the first factor's path


def test_replaced_entries_get_no_gradient():
    """nan_to_num passes the gradient where it kept the entry, and none where it replaced a NaN or infinity."""
    from rnnlab.ops.tensor import Tensor, backward
    leaf = Tensor(np.array([1.5, np.nan, np.inf, -np.inf]))
    out = ops.nan_to_num(leaf) * 2.0
    np.testing.assert_array_equal(backward([out], [np.ones(4)])(leaf), [2.0, 0.0, 0.0, 0.0])


def test_numpy_function_without_an_op_is_refused_not_silently_detached():
    """np.<function> of a Tensor with no rnnlab.ops function of that name (or with arguments the op does not take)
    raises with the way out, where it used to return a plain array whose gradient was silently lost; shape queries
    answer from the value."""
    from rnnlab.ops.tensor import Tensor

    t = Tensor(arr(3, 4))
    assert np.shape(t) == (3, 4) and np.ndim(t) == 2 and np.size(t) == 12
    with pytest.raises(TypeError, match="numpy.linalg.norm cannot follow gradients.*np.asarray"):
        np.linalg.norm(t)
    with pytest.raises(TypeError, match="numpy.clip on an rnnlab Tensor runs as rnnlab.ops.clip"):
        np.clip(t, a_min=0.0, a_max=1.0)  # NumPy's keyword names; ops.clip takes x_min, x_max
