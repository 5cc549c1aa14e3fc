"""Every rnnlab.ops op against Keras 3.15.1's eager ``keras.ops`` (TensorFlow backend): the same values and the
same result dtype on random inputs, mixed integer/float and Python-scalar arguments included.

Each case is ``fn(ops, *inputs)``: it is run once with ``keras.ops`` and once with ``rnnlab.ops`` on the same
NumPy inputs, so the call is written once."""
import numpy as np
import pytest

import rnnlab.ops as rops
from tests.support.reference import require

RNG = np.random.default_rng(1234)


def f32(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype("float32")


def f64(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


def i32(*shape, low=-5, high=6):
    return RNG.integers(low, high, shape).astype("int32")


def boolean(*shape):
    return RNG.uniform(size=shape) > 0.5


def prob(*shape):
    return RNG.uniform(0.05, 0.95, shape).astype("float32")


def labels(*shape, classes=4):
    return RNG.integers(0, classes, shape).astype("int32")


def channels_first(o, x, k, **kwargs):
    if o is rops:
        return o.conv(x, k, data_format="channels_first", **kwargs)
    last = o.conv(o.moveaxis(x, 1, -1), k, data_format="channels_last", **kwargs)
    return o.moveaxis(last, -1, 1)


CASES = {
    # arithmetic, elementwise and comparisons (the core): dtypes of mixed arguments
    "add_f32_i32": (lambda o, a, b: o.add(a, b), lambda: [f32(3, 4), i32(4)]),
    "multiply_i32_pyfloat": (lambda o, a: o.multiply(a, 2.5), lambda: [i32(3, 4)]),
    "subtract_f64_pyint": (lambda o, a: o.subtract(a, 3), lambda: [f64(3)]),
    "divide_i32_i32": (lambda o, a, b: o.divide(a, b), lambda: [i32(3, 4), i32(4, low=1)]),
    "power_f32": (lambda o, a, b: o.power(a, b), lambda: [f32(3, 4, low=0.5), f32(3, 4)]),
    "matmul_batched": (lambda o, a, b: o.matmul(a, b), lambda: [f32(2, 3, 4), f32(4, 5)]),
    "exp_i32": (lambda o, a: o.exp(a), lambda: [i32(3, 4)]),
    "tanh_f64": (lambda o, a: o.tanh(a), lambda: [f64(3, 4)]),
    "sqrt_f32": (lambda o, a: o.sqrt(a), lambda: [f32(3, 4, low=0.1)]),
    "rsqrt_f32": (lambda o, a: o.rsqrt(a), lambda: [f32(3, 4, low=0.1)]),
    **{f"elementwise_{name}": ((lambda name: lambda o, a: getattr(o, name)(a))(name), lambda: [f32(3, 4, low=-0.9, high=0.9)])
       for name in ["tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arctanh", "exp2", "floor", "ceil",
                    "trunc", "round"]},
    "log2_i32": (lambda o, a: o.log2(a), lambda: [i32(3, 4, low=1)]),
    "log10_f64": (lambda o, a: o.log10(a), lambda: [f64(3, 4, low=0.1)]),
    "floor_i32": (lambda o, a: o.floor(a), lambda: [i32(3, 4)]),
    "ceil_f64": (lambda o, a: o.ceil(a), lambda: [f64(3, 4)]),
    "round_halves": (lambda o, a: o.round(a), lambda: [np.array([0.5, 1.5, 2.5, -0.5, 1.25], "float32")]),
    "round_decimals": (lambda o, a: o.round(a, 1), lambda: [f32(3, 4)]),
    "round_i32_negative_decimals": (lambda o, a: o.round(a * 37, -1), lambda: [i32(3, 4)]),
    "trunc_i32": (lambda o, a: o.trunc(a), lambda: [i32(3, 4)]),
    "sort": (lambda o, a: o.sort(a), lambda: [f32(3, 4)]),
    "sort_axis_none": (lambda o, a: o.sort(a, axis=None), lambda: [i32(3, 4)]),
    "argsort": (lambda o, a: o.argsort(a, axis=0), lambda: [f32(3, 4)]),
    "argsort_none": (lambda o, a: o.argsort(a, axis=None), lambda: [f32(3, 4)]),
    "tril": (lambda o, a: o.tril(a), lambda: [f32(3, 4)]),
    "tril_negative": (lambda o, a: o.tril(a, -1), lambda: [f32(2, 3, 4)]),
    "triu": (lambda o, a: o.triu(a, 2), lambda: [i32(4, 3)]),
    "greater_i32_pyfloat": (lambda o, a: o.greater(a, 0.5), lambda: [i32(3, 4)]),
    # selection
    "where_f32_i32": (lambda o, c, a, b: o.where(c, a, b), lambda: [boolean(3, 4), f32(3, 4), i32(4)]),
    "where_pyscalars": (lambda o, c: o.where(c, 1, 2.0), lambda: [boolean(5)]),
    "where_i32_pyint": (lambda o, c, a: o.where(c, a, 0), lambda: [boolean(3, 1), i32(3, 4)]),
    "maximum_f32_pyint": (lambda o, a: o.maximum(a, 1), lambda: [f32(3, 4)]),
    "maximum_i32_f32": (lambda o, a, b: o.maximum(a, b), lambda: [i32(3, 4), f32(4)]),
    "minimum_f64_f32": (lambda o, a, b: o.minimum(a, b), lambda: [f64(3, 4), f32(3, 1)]),
    "clip_f32": (lambda o, a: o.clip(a, -0.5, 0.5), lambda: [f32(3, 4)]),
    "clip_i32": (lambda o, a: o.clip(a, 0, 3), lambda: [i32(3, 4)]),
    "clip_bool": (lambda o, a: o.clip(a, 0, 1), lambda: [boolean(5)]),
    # reductions
    "sum_axes": (lambda o, a: o.sum(a, axis=(0, 2)), lambda: [f32(2, 3, 4)]),
    "sum_int8": (lambda o, a: o.sum(a.astype("int8"), axis=1), lambda: [i32(3, 4)]),
    "sum_bool_keepdims": (lambda o, a: o.sum(a, keepdims=True), lambda: [boolean(3, 4)]),
    "sum_uint8": (lambda o, a: o.sum(np.abs(a).astype("uint8")), lambda: [i32(3, 4)]),
    "mean_i32": (lambda o, a: o.mean(a), lambda: [i32(3, 4)]),
    "mean_keepdims": (lambda o, a: o.mean(a, axis=1, keepdims=True), lambda: [f32(3, 4)]),
    "mean_f64": (lambda o, a: o.mean(a, axis=-1), lambda: [f64(3, 4)]),
    "max_axis": (lambda o, a: o.max(a, axis=0), lambda: [f32(3, 4)]),
    "max_bool": (lambda o, a: o.max(a, axis=1), lambda: [boolean(3, 4)]),
    "max_initial": (lambda o, a: o.max(a, axis=1, initial=0.5), lambda: [f32(3, 4)]),
    "min_i32_keepdims": (lambda o, a: o.min(a, axis=-1, keepdims=True), lambda: [i32(3, 4)]),
    "amax": (lambda o, a: o.amax(a, axis=1), lambda: [f32(3, 4)]),
    "amin": (lambda o, a: o.amin(a, axis=0), lambda: [f32(3, 4)]),
    "prod_int16": (lambda o, a: o.prod(a.astype("int16"), axis=0), lambda: [i32(3, 4, low=-2, high=3)]),
    "prod_f32": (lambda o, a: o.prod(a, axis=1), lambda: [f32(3, 4)]),
    "argmax_axis": (lambda o, a: o.argmax(a, axis=1), lambda: [f32(3, 4)]),
    "argmax_flat_keepdims": (lambda o, a: o.argmax(a, keepdims=True), lambda: [f32(3, 4)]),
    "argmin_i32": (lambda o, a: o.argmin(a, axis=0), lambda: [i32(5, 4)]),
    "cumsum_bool": (lambda o, a: o.cumsum(a), lambda: [boolean(3, 4)]),
    "cumsum_axis": (lambda o, a: o.cumsum(a, axis=0), lambda: [i32(3, 4)]),
    "cumprod_f32": (lambda o, a: o.cumprod(a, axis=1), lambda: [f32(3, 4)]),
    "logsumexp": (lambda o, a: o.logsumexp(a, axis=-1), lambda: [f32(3, 4)]),
    "logsumexp_all_keepdims": (lambda o, a: o.logsumexp(a, keepdims=True), lambda: [f64(3, 4)]),
    "var_i32": (lambda o, a: o.var(a), lambda: [i32(3, 4)]),
    "var_axis": (lambda o, a: o.var(a, axis=0), lambda: [f32(5, 4)]),
    "std_keepdims": (lambda o, a: o.std(a, axis=1, keepdims=True), lambda: [f32(3, 4)]),
    "std_i32": (lambda o, a: o.std(a), lambda: [i32(3, 4)]),
    "any_axis": (lambda o, a: o.any(a, axis=0), lambda: [i32(3, 4, low=0, high=2)]),
    "all_bool": (lambda o, a: o.all(a, axis=1, keepdims=True), lambda: [boolean(3, 4)]),
    "count_nonzero": (lambda o, a: o.count_nonzero(a, axis=1), lambda: [i32(3, 4, low=-1, high=2)]),
    # shapes
    "reshape": (lambda o, a: o.reshape(a, (-1, 6)), lambda: [f32(2, 3, 4)]),
    "transpose": (lambda o, a: o.transpose(a, (1, 2, 0)), lambda: [f32(2, 3, 4)]),
    "transpose_default": (lambda o, a: o.transpose(a), lambda: [i32(2, 3, 4)]),
    "swapaxes": (lambda o, a: o.swapaxes(a, 0, -1), lambda: [f32(2, 3, 4)]),
    "moveaxis": (lambda o, a: o.moveaxis(a, [0, 1], [-1, 0]), lambda: [f32(2, 3, 4)]),
    "expand_dims_tuple": (lambda o, a: o.expand_dims(a, (0, -1)), lambda: [f32(2, 3)]),
    "squeeze_axis": (lambda o, a: o.squeeze(a, axis=2), lambda: [f32(2, 3, 1, 1)]),
    "squeeze_all": (lambda o, a: o.squeeze(a), lambda: [f32(1, 3, 1)]),
    "broadcast_to": (lambda o, a: o.broadcast_to(a, (2, 3, 4)), lambda: [f32(3, 1)]),
    "concatenate_mixed": (lambda o, a, b: o.concatenate([a, b], axis=1), lambda: [f32(2, 3), i32(2, 2)]),
    "stack_mixed": (lambda o, a, b: o.stack([a, b], axis=-1), lambda: [i32(2, 3), f64(2, 3)]),
    "split_sections": (lambda o, a: o.split(a, 2, axis=1), lambda: [f32(3, 4)]),
    "split_indices": (lambda o, a: o.split(a, [1, 3]), lambda: [f32(5, 2)]),
    "unstack": (lambda o, a: o.unstack(a, axis=1), lambda: [f32(2, 3)]),
    "take_axis": (lambda o, a: o.take(a, np.array([[0, 2], [-1, 1]]), axis=1), lambda: [f32(3, 4)]),
    "take_flat": (lambda o, a: o.take(a, np.array([5, 0, -2])), lambda: [i32(3, 4)]),
    "take_along_axis": (lambda o, a: o.take_along_axis(a, np.array([[0, 3, 3]]), axis=1), lambda: [f32(2, 4)]),
    "take_along_axis_none": (lambda o, a: o.take_along_axis(a, np.array([4, 0]), axis=None), lambda: [f32(2, 3)]),
    "slice": (lambda o, a: o.slice(a, (1, 0, 2), (2, 3, 2)), lambda: [f32(3, 4, 5)]),
    "slice_update": (lambda o, a, u: o.slice_update(a, (1, 2), u), lambda: [f32(4, 5), f32(2, 3)]),
    "tile": (lambda o, a: o.tile(a, (2, 1, 3)), lambda: [f32(3, 2)]),
    "tile_int": (lambda o, a: o.tile(a, 2), lambda: [i32(3, 2)]),
    "repeat_int": (lambda o, a: o.repeat(a, 2, axis=1), lambda: [f32(2, 3)]),
    "repeat_counts": (lambda o, a: o.repeat(a, np.array([1, 0, 3])), lambda: [f32(3)]),
    "repeat_flat": (lambda o, a: o.repeat(a, 3), lambda: [i32(2, 2)]),
    "pad_constant": (lambda o, a: o.pad(a, ((1, 2), (0, 1)), constant_values=1.5), lambda: [f32(2, 3)]),
    "pad_int_pairs": (lambda o, a: o.pad(a, [[2, 2], [0, 1]]), lambda: [i32(2, 3)]),
    "pad_reflect": (lambda o, a: o.pad(a, ((2, 1), (1, 2)), mode="reflect"), lambda: [f32(3, 4)]),
    "pad_symmetric": (lambda o, a: o.pad(a, ((1, 1), (2, 0)), mode="symmetric"), lambda: [f32(3, 4)]),
    "flip": (lambda o, a: o.flip(a, axis=1), lambda: [f32(3, 4)]),
    "flip_all": (lambda o, a: o.flip(a), lambda: [i32(3, 4)]),
    "ravel": (lambda o, a: o.ravel(a), lambda: [f32(3, 4)]),
    # products
    "dot_nd": (lambda o, a, b: o.dot(a, b), lambda: [f32(2, 3, 4), f32(5, 4, 2)]),
    "dot_vec_mat": (lambda o, a, b: o.dot(a, b), lambda: [f32(4), f32(4, 3)]),
    "dot_int_float": (lambda o, a, b: o.dot(a, b), lambda: [i32(3, 4), f32(4)]),
    "tensordot_int": (lambda o, a, b: o.tensordot(a, b, axes=2), lambda: [f32(2, 3, 4), f32(3, 4, 5)]),
    "tensordot_pairs": (lambda o, a, b: o.tensordot(a, b, axes=([0, 2], [2, 0])), lambda: [f32(2, 3, 4), f32(4, 5, 2)]),
    "einsum_batched": (lambda o, a, b: o.einsum("bij,bjk->bik", a, b), lambda: [f32(2, 3, 4), f32(2, 4, 5)]),
    "einsum_ellipsis": (lambda o, a, b: o.einsum("...ij,jk->...ik", a, b), lambda: [f32(2, 3, 4), f32(4, 5)]),
    "einsum_trace": (lambda o, a: o.einsum("ii", a), lambda: [f32(3, 3)]),
    "einsum_implicit": (lambda o, a, b: o.einsum("ij,jk", a, b), lambda: [f32(2, 3), f32(3, 4)]),
    "outer": (lambda o, a, b: o.outer(a, b), lambda: [f32(3), f32(2, 2)]),
    "inner": (lambda o, a, b: o.inner(a, b), lambda: [f32(2, 4), f32(3, 4)]),
    "vdot": (lambda o, a, b: o.vdot(a, b), lambda: [f32(2, 3), f32(3, 2)]),
    # linalg
    "norm_default": (lambda o, a: o.norm(a), lambda: [f32(3, 4)]),
    "norm_vector_axis": (lambda o, a: o.norm(a, axis=-1, keepdims=True), lambda: [f32(2, 3, 4)]),
    "norm_vector_ord1": (lambda o, a: o.norm(a, ord=1, axis=0), lambda: [f32(3, 4)]),
    "norm_vector_ord3": (lambda o, a: o.norm(a, ord=3, axis=1), lambda: [f64(3, 4)]),
    "norm_vector_inf": (lambda o, a: o.norm(a, ord=np.inf, axis=1), lambda: [f32(3, 4)]),
    "norm_vector_0": (lambda o, a: o.norm(a, ord=0, axis=1), lambda: [i32(3, 4, low=-1, high=2)]),
    "norm_fro_i32": (lambda o, a: o.norm(a, ord="fro"), lambda: [i32(3, 4)]),
    "norm_matrix_1": (lambda o, a: o.norm(a, ord=1, axis=(1, 2)), lambda: [f32(2, 3, 4)]),
    "norm_matrix_inf_keepdims": (lambda o, a: o.norm(a, ord=np.inf, axis=(0, 1), keepdims=True), lambda: [f32(3, 4, 2)]),
    "norm_spectral": (lambda o, a: o.norm(a, ord=2), lambda: [f32(3, 4)]),
    "norm_nuclear": (lambda o, a: o.norm(a, ord="nuc", axis=(2, 0)), lambda: [f64(3, 2, 4)]),
    # creation
    "zeros": (lambda o: o.zeros((2, 3)), lambda: []),
    "ones_int": (lambda o: o.ones(4, dtype="int32"), lambda: []),
    "full_pyint": (lambda o: o.full((2, 2), 3), lambda: []),
    "full_dtype": (lambda o: o.full((2,), 1.5, dtype="float64"), lambda: []),
    "full_like_i32": (lambda o, a: o.full_like(a, 2), lambda: [i32(2, 3)]),
    "zeros_like_f64": (lambda o, a: o.zeros_like(a), lambda: [f64(2, 3)]),
    "ones_like_dtype": (lambda o, a: o.ones_like(a, dtype="int32"), lambda: [boolean(3)]),
    "eye_k": (lambda o: o.eye(3, 4, k=1), lambda: []),
    "identity": (lambda o: o.identity(3, dtype="int32"), lambda: []),
    "tri": (lambda o: o.tri(3, 4, k=-1), lambda: []),
    "arange_int": (lambda o: o.arange(5), lambda: []),
    "arange_start_stop": (lambda o: o.arange(2, 9, 3), lambda: []),
    "arange_float": (lambda o: o.arange(0, 2, 0.5), lambda: []),
    "arange_dtype": (lambda o: o.arange(1, 4, dtype="float64"), lambda: []),
    "linspace": (lambda o: o.linspace(0, 1, 5), lambda: []),
    "linspace_no_endpoint": (lambda o: o.linspace(0.0, 10.0, 4, endpoint=False), lambda: []),
    "linspace_int": (lambda o: o.linspace(0, 10, 4, dtype="int32"), lambda: []),
    # math
    "erf": (lambda o, a: o.erf(a), lambda: [f32(3, 4)]),
    "erf_f64": (lambda o, a: o.erf(a), lambda: [f64(3, 4)]),
    "top_k": (lambda o, a: o.top_k(a, 2), lambda: [f32(3, 5)]),
    "in_top_k": (lambda o, t, p: o.in_top_k(t, p, 2), lambda: [labels(4, classes=5), f32(4, 5)]),
    "segment_sum": (lambda o, a: o.segment_sum(a, np.array([0, 2, 1, 0, 1]), num_segments=3), lambda: [f32(5, 2)]),
    "segment_sum_sorted": (lambda o, a: o.segment_sum(a, np.array([0, 0, 1, 3]), sorted=True), lambda: [f32(4)]),
    "segment_max": (lambda o, a: o.segment_max(a, np.array([1, 0, 1, 0]), num_segments=2), lambda: [f32(4, 3)]),
    # nn
    **{f"nn_{name}": ((lambda name: lambda o, a: getattr(o, name)(a))(name), lambda: [f32(3, 4, low=-8, high=8)])
       for name in ["relu", "relu6", "sigmoid", "softplus", "softsign", "silu", "swish", "gelu", "elu", "selu",
                    "leaky_relu", "hard_sigmoid", "hard_silu", "hard_swish", "log_sigmoid", "softmax",
                    "log_softmax", "hard_tanh", "tanh_shrink", "sparse_plus", "sparse_sigmoid", "celu",
                    "squareplus", "soft_shrink", "hard_shrink"]},
    "celu_alpha": (lambda o, a: o.celu(a, alpha=0.5), lambda: [f32(3, 4)]),
    "squareplus_b": (lambda o, a: o.squareplus(a, b=2), lambda: [f32(3, 4)]),
    "soft_shrink_threshold": (lambda o, a: o.soft_shrink(a, threshold=1.0), lambda: [f32(3, 4)]),
    "gelu_exact": (lambda o, a: o.gelu(a, approximate=False), lambda: [f32(3, 4)]),
    "elu_alpha": (lambda o, a: o.elu(a, alpha=0.5), lambda: [f32(3, 4)]),
    "leaky_relu_slope": (lambda o, a: o.leaky_relu(a, negative_slope=0.05), lambda: [f32(3, 4)]),
    "sigmoid_f64": (lambda o, a: o.sigmoid(a), lambda: [f64(3, 4, low=-30, high=30)]),
    "softmax_axis0": (lambda o, a: o.softmax(a, axis=0), lambda: [f32(3, 4)]),
    "softmax_tuple": (lambda o, a: o.softmax(a, axis=(1, 2)), lambda: [f32(2, 3, 4)]),
    "log_softmax_f64": (lambda o, a: o.log_softmax(a, axis=1), lambda: [f64(3, 4)]),
    "one_hot": (lambda o, a: o.one_hot(a, 4), lambda: [np.array([[0, 3], [-1, 2]])]),
    "one_hot_axis_dtype": (lambda o, a: o.one_hot(a, 3, axis=0, dtype="int32"), lambda: [labels(4, classes=3)]),
    "multi_hot": (lambda o, a: o.multi_hot(a, 5), lambda: [labels(3, 2, classes=5)]),
    "moments": (lambda o, a: o.moments(a, axes=[0, 1]), lambda: [f32(3, 4, 2)]),
    "moments_keepdims": (lambda o, a: o.moments(a, axes=[1], keepdims=True), lambda: [f32(3, 4)]),
    "normalize_l2": (lambda o, a: o.normalize(a), lambda: [f32(3, 4)]),
    "normalize_l1_axis0": (lambda o, a: o.normalize(a, axis=0, order=1), lambda: [f32(3, 4)]),
    "binary_crossentropy": (lambda o, t, p: o.binary_crossentropy(t, p), lambda: [labels(3, 4, classes=2).astype("float32"), prob(3, 4)]),
    "binary_crossentropy_clipped": (lambda o, t, p: o.binary_crossentropy(t, p), lambda: [prob(2, 2), np.array([[0.0, 1.0], [1e-9, 0.5]], "float32")]),
    "binary_crossentropy_logits": (lambda o, t, z: o.binary_crossentropy(t, z, from_logits=True), lambda: [prob(3, 4), f32(3, 4, low=-6, high=6)]),
    "categorical_crossentropy": (lambda o, t, p: o.categorical_crossentropy(t, p), lambda: [prob(3, 4), prob(3, 4)]),
    "categorical_crossentropy_logits_axis0": (lambda o, t, z: o.categorical_crossentropy(t, z, from_logits=True, axis=0), lambda: [prob(3, 4), f32(3, 4)]),
    "sparse_categorical_crossentropy": (lambda o, t, p: o.sparse_categorical_crossentropy(t, p), lambda: [labels(3), prob(3, 4)]),
    "sparse_categorical_crossentropy_logits": (lambda o, t, z: o.sparse_categorical_crossentropy(t, z, from_logits=True), lambda: [labels(2, 3, 1), f32(2, 3, 4)]),
    "conv1d_valid": (lambda o, x, k: o.conv(x, k), lambda: [f32(2, 7, 3), f32(3, 3, 4)]),
    "conv1d_same_strided": (lambda o, x, k: o.conv(x, k, strides=2, padding="same"), lambda: [f32(2, 8, 3), f32(4, 3, 2)]),
    "conv1d_dilated_same": (lambda o, x, k: o.conv(x, k, padding="same", dilation_rate=2), lambda: [f32(2, 7, 3), f32(3, 3, 2)]),
    # TensorFlow on CPU has no channels_first convolution: Keras runs channels_last between two transposes
    "conv1d_channels_first": (lambda o, x, k: channels_first(o, x, k, strides=1, padding="valid"), lambda: [f32(2, 3, 7), f32(2, 3, 4)]),
    "conv2d_valid": (lambda o, x, k: o.conv(x, k), lambda: [f32(2, 6, 5, 3), f32(3, 2, 3, 4)]),
    "conv2d_same_strided": (lambda o, x, k: o.conv(x, k, strides=(2, 1), padding="same"), lambda: [f32(2, 5, 6, 2), f32(3, 3, 2, 3)]),
    "conv2d_dilated": (lambda o, x, k: o.conv(x, k, dilation_rate=(1, 2)), lambda: [f32(1, 6, 7, 2), f32(2, 3, 2, 3)]),
    "conv2d_channels_first_same": (lambda o, x, k: channels_first(o, x, k, strides=2, padding="same"), lambda: [f32(2, 3, 5, 5), f32(3, 3, 3, 2)]),
    "conv2d_f64": (lambda o, x, k: o.conv(x, k, padding="same"), lambda: [f64(1, 4, 4, 2), f64(2, 2, 2, 3)]),
    "depthwise_conv2d_same": (lambda o, x, k: o.depthwise_conv(x, k, padding="same"), lambda: [f32(2, 5, 5, 3), f32(3, 3, 3, 2)]),
    "depthwise_conv1d_strided": (lambda o, x, k: o.depthwise_conv(x, k, strides=2), lambda: [f32(2, 9, 2), f32(3, 2, 3)]),
    # core
    "cast": (lambda o, a: o.cast(a, "int32"), lambda: [f32(3, 4, low=-5, high=5)]),
    "cast_bool": (lambda o, a: o.cast(a, "float16"), lambda: [boolean(3)]),
    "convert_to_tensor_floats": (lambda o: o.convert_to_tensor([1.5, 2.0]), lambda: []),
    "convert_to_tensor_int": (lambda o: o.convert_to_tensor(3), lambda: []),
    "convert_to_tensor_dtype": (lambda o, a: o.convert_to_tensor(a, dtype="float64"), lambda: [i32(3)]),
    "stop_gradient": (lambda o, a: o.stop_gradient(a), lambda: [f32(3)]),
    "scan": (lambda o, a: o.scan(lambda c, x: (c + x, c * x), o.zeros(3), a), lambda: [f32(4, 3)]),
    "scan_reverse": (lambda o, a: o.scan(lambda c, x: (c * 0.5 + x, c), o.zeros(3), a, reverse=True), lambda: [f32(4, 3)]),
    "fori_loop": (lambda o, a: o.fori_loop(0, 3, lambda i, v: v * 2.0 + 1.0, a), lambda: [f32(3)]),
    "while_loop": (lambda o, a: o.while_loop(lambda v, i: i < 3, lambda v, i: (v * 0.5, i + 1), (a, 0))[0], lambda: [f32(3)]),
    "cond": (lambda o, a: o.cond(o.sum(a) > 0, lambda: a * 2.0, lambda: a - 1.0), lambda: [f32(3)]),
    "switch": (lambda o, a: o.switch(5, [lambda x: x + 1, lambda x: x * 2], a), lambda: [f32(3)]),
    "map": (lambda o, a: o.map(lambda r: o.sum(r * r), a), lambda: [f32(3, 4)]),
}


@pytest.fixture(scope="module")
def kops():
    require("keras")
    import keras
    return keras.ops


def _leaves(out):
    if isinstance(out, (list, tuple)):
        return [leaf for item in out for leaf in _leaves(item)]
    return [np.asarray(out)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_matches_keras(kops, name):
    fn, make = CASES[name]
    inputs = make()
    expected = _leaves(fn(kops, *[np.copy(a) for a in inputs]))
    actual = _leaves(fn(rops, *[np.copy(a) for a in inputs]))
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert a.dtype == e.dtype, f"{name}: dtype {a.dtype}, Keras {e.dtype}"
        assert a.shape == e.shape, f"{name}: shape {a.shape}, Keras {e.shape}"
        tol = 1e-6 if e.dtype.itemsize <= 4 else 1e-12
        np.testing.assert_allclose(a.astype("float64"), e.astype("float64"), rtol=tol, atol=tol, err_msg=name)


def test_the_table_names_every_op_of_the_families():
    """Each public op of rnnlab.ops appears in a case above (by the name it is called with)."""
    import inspect
    source = inspect.getsource(__import__(__name__, fromlist=["CASES"]))
    covered = {n for n in dir(rops) if f".{n}(" in source or f'"{n}"' in source}
    skip = {"Tensor", "dtype", "shape", "is_tensor", "result_type", "standardize_dtype", "is_float_dtype",
            "is_int_dtype", "convert_to_numpy", "empty", "empty_like", "array", "copy", "ndim", "size", "get_item",
            "getitem", "nonzero", "vectorized_map", "true_divide", "floor_divide", "mod", "negative", "reciprocal",
            "absolute", "abs", "sign", "sin", "cos", "log", "log1p", "expm1", "square", "equal", "not_equal",
            "less", "less_equal", "greater_equal", "logical_and", "logical_or", "logical_xor", "logical_not",
            "isnan", "isinf", "isfinite"}
    public = {n for n in dir(rops) if not n.startswith("_") and callable(getattr(rops, n))
              and not isinstance(getattr(rops, n), type(np))}
    assert sorted(public - covered - skip) == []
