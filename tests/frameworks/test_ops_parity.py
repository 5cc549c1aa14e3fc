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


def vectorize(o):
    return o.vectorize if o is rops else np.vectorize


def channels_first_pool(o, pool, x, **kwargs):
    if o is rops:
        return pool(x, data_format="channels_first", **kwargs)
    return o.moveaxis(pool(o.moveaxis(x, 1, -1), **kwargs), -1, 1)  # TensorFlow on CPU pools channels_last only


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
    # joins, diagonals, rotations
    "hstack_mixed": (lambda o, a, b: o.hstack([a, b]), lambda: [f32(2, 3), i32(2, 2)]),
    "hstack_vectors": (lambda o, a, b: o.hstack([a, b]), lambda: [f32(3), f32(2)]),
    "vstack": (lambda o, a, b: o.vstack([a, b]), lambda: [f32(2, 3), f32(1, 3)]),
    "dstack": (lambda o, a, b: o.dstack([a, b]), lambda: [f32(2, 3), f32(2, 3)]),
    "dstack_vectors": (lambda o, a, b: o.dstack([a, b]), lambda: [i32(3), i32(3)]),
    "append_flat": (lambda o, a, b: o.append(a, b), lambda: [f32(2, 3), i32(4)]),
    "append_axis": (lambda o, a, b: o.append(a, b, axis=1), lambda: [f32(2, 3), f32(2, 1)]),
    "array_split": (lambda o, a: o.array_split(a, 3, axis=1), lambda: [f32(2, 7)]),
    "hsplit": (lambda o, a: o.hsplit(a, 2), lambda: [f32(3, 4)]),
    "hsplit_vector": (lambda o, a: o.hsplit(a, [1, 3]), lambda: [f32(5)]),
    "vsplit": (lambda o, a: o.vsplit(a, 2), lambda: [f32(4, 3)]),
    "dsplit": (lambda o, a: o.dsplit(a, [1]), lambda: [f32(2, 2, 3)]),
    "diag_vector": (lambda o, a: o.diag(a, k=1), lambda: [f32(3)]),
    "diag_matrix": (lambda o, a: o.diag(a, k=-1), lambda: [f32(3, 4)]),
    "diagonal": (lambda o, a: o.diagonal(a), lambda: [f32(3, 4)]),
    "diagonal_axes_offset": (lambda o, a: o.diagonal(a, offset=1, axis1=2, axis2=0), lambda: [f32(3, 2, 4)]),
    "diagflat": (lambda o, a: o.diagflat(a, k=-1), lambda: [i32(2, 2)]),
    "trace": (lambda o, a: o.trace(a), lambda: [f32(3, 4)]),
    "trace_int8": (lambda o, a: o.trace(a.astype("int8"), offset=1, axis1=1, axis2=2), lambda: [i32(2, 3, 3)]),
    "roll_flat": (lambda o, a: o.roll(a, 2), lambda: [f32(3, 4)]),
    "roll_axis": (lambda o, a: o.roll(a, -1, axis=1), lambda: [i32(3, 4)]),
    "roll_axes": (lambda o, a: o.roll(a, (1, 2), axis=(0, 1)), lambda: [f32(3, 4)]),
    "fliplr": (lambda o, a: o.fliplr(a), lambda: [f32(3, 4)]),
    "flipud": (lambda o, a: o.flipud(a), lambda: [f32(3, 4)]),
    "rot90": (lambda o, a: o.rot90(a), lambda: [f32(3, 4)]),
    "rot90_k3_axes": (lambda o, a: o.rot90(a, k=3, axes=(1, 2)), lambda: [f32(2, 3, 4)]),
    "meshgrid_xy": (lambda o, a, b: o.meshgrid(a, b), lambda: [f32(3), f32(2)]),
    "meshgrid_ij": (lambda o, a, b, c: o.meshgrid(a, b, c, indexing="ij"), lambda: [f32(3), f32(2), f32(4)]),
    "diff": (lambda o, a: o.diff(a), lambda: [f32(3, 5)]),
    "diff_n2_axis0": (lambda o, a: o.diff(a, n=2, axis=0), lambda: [i32(5, 3)]),
    "diff_bool": (lambda o, a: o.diff(a), lambda: [boolean(6)]),
    # selection and comparison
    "select": (lambda o, a, b: o.select([a > 0.5, a < -0.5], [a, b], default=1.0), lambda: [f32(3, 4), f32(3, 4)]),
    "select_int": (lambda o, a: o.select([a > 0], [a * 2]), lambda: [i32(5)]),
    "nan_to_num": (lambda o, a: o.nan_to_num(a, nan=1.5), lambda: [np.array([np.nan, np.inf, -np.inf, 2.0], "float32")]),
    "nan_to_num_all": (lambda o, a: o.nan_to_num(a, nan=0.0, posinf=9.0, neginf=-9.0), lambda: [np.array([np.nan, np.inf, -np.inf, 2.0])]),
    "nan_to_num_int": (lambda o, a: o.nan_to_num(a), lambda: [i32(4)]),
    "fmax_nan": (lambda o, a, b: o.fmax(a, b), lambda: [np.array([np.nan, 1.0, np.nan, -2.0], "float32"), np.array([0.5, np.nan, np.nan, 3.0], "float32")]),
    "fmin_i32_pyfloat": (lambda o, a: o.fmin(a, 0.5), lambda: [i32(4)]),
    "fmax_i32": (lambda o, a, b: o.fmax(a, b), lambda: [i32(3, 4), i32(4)]),
    "isclose": (lambda o, a, b: o.isclose(a, a + b * 1e-5), lambda: [f32(3, 4), f32(3, 4)]),
    "isclose_nan": (lambda o, a: o.isclose(a, a, equal_nan=True), lambda: [np.array([np.nan, 1.0, np.inf], "float32")]),
    "isclose_int": (lambda o, a, b: o.isclose(a, b), lambda: [i32(6, low=0, high=2), i32(6, low=0, high=2)]),
    "allclose": (lambda o, a: o.allclose(a, a + 1e-9), lambda: [f32(3, 4)]),
    "allclose_false": (lambda o, a: o.allclose(a, a + 0.1, atol=0.05), lambda: [f32(3)]),
    # searching and counting
    "searchsorted": (lambda o, s, v: o.searchsorted(s, v), lambda: [np.sort(f32(6)), f32(5)]),
    "searchsorted_right": (lambda o, s, v: o.searchsorted(s, v, side="right"), lambda: [np.array([1, 2, 2, 5], "int32"), np.array([2, 0, 6], "int32")]),
    "digitize": (lambda o, a: o.digitize(a, [-1.0, 0.0, 0.5, 1.5]), lambda: [f32(3, 4)]),
    "digitize_int": (lambda o, a: o.digitize(a, [0, 2, 4]), lambda: [i32(6)]),
    "isin": (lambda o, a, b: o.isin(a, b), lambda: [i32(3, 4), i32(5)]),
    "isin_invert": (lambda o, a, b: o.isin(a, b, invert=True), lambda: [i32(6), i32(3)]),
    "unravel_index": (lambda o, a: o.unravel_index(a, (3, 4)), lambda: [np.array([0, 5, 11, 7], "int32")]),
    "unravel_index_2d": (lambda o, a: o.unravel_index(a, (2, 3, 2)), lambda: [np.array([[0, 5], [11, 7]], "int32")]),
    "argpartition_partitions": (lambda o, a: o.sort(o.take_along_axis(a, o.argpartition(a, 2), axis=-1)[..., :3], axis=-1), lambda: [i32(3, 6, low=-50, high=50)]),
    "unique": (lambda o, a: o.unique(a), lambda: [i32(10)]),
    "unique_all": (lambda o, a: o.unique(a, return_index=True, return_inverse=True, return_counts=True), lambda: [i32(3, 4)]),
    "unique_unsorted": (lambda o, a: o.unique(a, sorted=False, return_inverse=True), lambda: [i32(8)]),
    "unique_size": (lambda o, a: o.unique(a, size=9, fill_value=-7, return_counts=True), lambda: [np.array([3, 1, 3, 2], "int32")]),
    "unique_axis": (lambda o, a: o.unique(a, axis=0), lambda: [np.array([[1, 2], [0, 5], [1, 2], [0, 1]], "int32")]),
    "bincount": (lambda o, a: o.bincount(a, minlength=7), lambda: [labels(10, classes=5)]),
    "bincount_weights": (lambda o, a, w: o.bincount(a, weights=w), lambda: [labels(8, classes=4), f32(8)]),
    "bincount_2d": (lambda o, a: o.bincount(a), lambda: [labels(2, 5, classes=4)]),
    "histogram": (lambda o, a: o.histogram(a, bins=5), lambda: [f32(20)]),
    "histogram_range": (lambda o, a: o.histogram(a, bins=4, range=(-1.0, 1.0)), lambda: [f64(20)]),
    "scatter": (lambda o, v: o.scatter(np.array([[0, 1], [2, 3], [0, 1]]), v, (3, 4)), lambda: [f32(3)]),
    "scatter_slices": (lambda o, v: o.scatter(np.array([[1], [0]]), v, (3, 2)), lambda: [f32(2, 2)]),
    "scatter_update": (lambda o, a, u: o.scatter_update(a, np.array([[0, 1], [2, 0]]), u), lambda: [f32(3, 4), f32(2)]),
    "scatter_update_add": (lambda o, a, u: o.scatter_update(a, np.array([[1], [1]]), u, reduction="add"), lambda: [f32(3, 2), f32(2, 2)]),
    "scatter_update_max": (lambda o, a, u: o.scatter_update(a, np.array([[1], [0]]), u, reduction="max"), lambda: [f32(3, 2), f32(2, 2)]),
    "scatter_update_min": (lambda o, a, u: o.scatter_update(a, np.array([[2, 1]]), u, reduction="min"), lambda: [i32(3, 2), i32(1)]),
    "scatter_update_mul": (lambda o, a, u: o.scatter_update(a, np.array([[0], [0]]), u, reduction="mul"), lambda: [f32(2, 3), f32(2, 3)]),
    # Keras's TensorFlow backend has no vectorize (its JAX and NumPy backends follow NumPy's): NumPy is the reference
    "vectorize": (lambda o, a, b: vectorize(o)(lambda p, q: p * q + 1.0)(a, b), lambda: [f32(3, 2), f32(2)]),
    "vectorize_signature": (lambda o, a, b: vectorize(o)(lambda m, v: m @ v, signature="(m,n),(n)->(m)")(a, b), lambda: [f32(4, 3, 2), f32(2)]),
    "vectorize_excluded": (lambda o, a: vectorize(o)(lambda p, q: p * q, excluded={1})(a, 3.0), lambda: [f32(3)]),
    # elementwise and binary maths
    **{f"elementwise_{name}_f32": ((lambda name: lambda o, a: getattr(o, name)(a))(name), lambda: [f32(3, 4)])
       for name in ["cbrt", "deg2rad", "rad2deg", "fabs", "sinc", "signbit", "i0", "erfc"]},
    **{f"elementwise_{name}_i32": ((lambda name: lambda o, a: getattr(o, name)(a))(name), lambda: [i32(3, 4)])
       for name in ["cbrt", "deg2rad", "rad2deg", "fabs", "sinc", "signbit", "i0"]},
    "cbrt_i64": (lambda o, a: o.cbrt(a.astype("int64")), lambda: [i32(5)]),
    "i0_f64": (lambda o, a: o.i0(a * 10), lambda: [f64(3, 4)]),
    "sinc_zero": (lambda o, a: o.sinc(a), lambda: [np.array([0.0, 0.5, -1.5], "float32")]),
    "arccosh": (lambda o, a: o.arccosh(a), lambda: [f32(3, 4, low=1.0, high=5.0)]),
    "erfc_f64": (lambda o, a: o.erfc(a * 3), lambda: [f64(3, 4)]),
    "erfinv": (lambda o, a: o.erfinv(a), lambda: [f32(3, 4, low=-0.999, high=0.999)]),
    "erfinv_f64": (lambda o, a: o.erfinv(a), lambda: [np.array([-0.9999999, -0.5, 0.0, 0.3, 0.99, 1.0, -1.0])]),
    "arctan2": (lambda o, a, b: o.arctan2(a, b), lambda: [f32(3, 4), f32(4)]),
    "arctan2_i32": (lambda o, a, b: o.arctan2(a, b), lambda: [i32(3, 4), i32(3, 4)]),
    "hypot": (lambda o, a, b: o.hypot(a, b), lambda: [f32(3, 4), f32(3, 1)]),
    "hypot_i64": (lambda o, a, b: o.hypot(a, b), lambda: [i32(4).astype("int64"), i32(4)]),
    "logaddexp": (lambda o, a, b: o.logaddexp(a, b), lambda: [f32(3, 4) * 20, f32(4)]),
    "logaddexp2_i32": (lambda o, a, b: o.logaddexp2(a, b), lambda: [i32(3, 4), i32(3, 4)]),
    "fmod": (lambda o, a, b: o.fmod(a, b), lambda: [f32(3, 4) * 5, f32(4, low=0.5, high=2)]),
    "fmod_i32": (lambda o, a, b: o.fmod(a, b), lambda: [i32(3, 4), i32(4, low=1)]),
    "heaviside": (lambda o, a: o.heaviside(a, 0.5), lambda: [np.array([-1.0, 0.0, 2.0], "float32")]),
    "heaviside_i32": (lambda o, a, b: o.heaviside(a, b), lambda: [i32(6, low=-1, high=2), i32(6)]),
    "divide_no_nan": (lambda o, a, b: o.divide_no_nan(a, b), lambda: [f32(4), np.array([0.0, 2.0, -0.5, 0.0], "float32")]),
    "divide_no_nan_i32": (lambda o, a, b: o.divide_no_nan(a, b), lambda: [i32(5), i32(5, low=-1, high=2)]),
    "ldexp": (lambda o, a, b: o.ldexp(a, b), lambda: [f32(3, 4), i32(4, low=-3, high=4)]),
    "nextafter": (lambda o, a, b: o.nextafter(a, b), lambda: [f32(3, 4), f32(3, 4)]),
    "nextafter_f64": (lambda o, a, b: o.nextafter(a, b), lambda: [f64(4), f64(4)]),
    # statistics and nan reductions
    "median": (lambda o, a: o.median(a), lambda: [f32(3, 4)]),
    "median_axis_keepdims": (lambda o, a: o.median(a, axis=1, keepdims=True), lambda: [f32(3, 5)]),
    "median_i32": (lambda o, a: o.median(a, axis=0), lambda: [i32(4, 3)]),
    "quantile_vector_q": (lambda o, a: o.quantile(a, np.array([0.1, 0.5, 0.95]), axis=0), lambda: [f32(6, 3)]),
    "quantile_methods": (lambda o, a: [o.quantile(a, 0.3, axis=1, method=m) for m in ["lower", "higher", "midpoint", "nearest", "linear"]], lambda: [f32(3, 7)]),
    "quantile_axes_keepdims": (lambda o, a: o.quantile(a, np.array([0.25, 0.75]), axis=(0, 2), keepdims=True), lambda: [f32(2, 3, 4)]),
    "quantile_nan": (lambda o, a: o.quantile(a, 0.5, axis=1), lambda: [np.array([[1.0, np.nan, 2.0], [0.5, 1.5, 3.0]], "float32")]),
    "percentile": (lambda o, a: o.percentile(a, 30, axis=-1), lambda: [f32(3, 5)]),
    "percentile_vector": (lambda o, a: o.percentile(a, np.array([10.0, 90.0])), lambda: [f64(4, 5)]),
    "average": (lambda o, a: o.average(a, axis=1), lambda: [f32(3, 4)]),
    "average_weights": (lambda o, a, w: o.average(a, weights=w), lambda: [f32(3, 4), f32(3, 4, low=0.1)]),
    "average_weights_axis": (lambda o, a, w: o.average(a, axis=0, weights=w), lambda: [f32(3, 4), f32(3, low=0.1)]),
    "average_i32": (lambda o, a: o.average(a), lambda: [i32(3, 4)]),
    "ptp": (lambda o, a: o.ptp(a, axis=0), lambda: [f32(3, 4)]),
    "ptp_i32_keepdims": (lambda o, a: o.ptp(a, axis=1, keepdims=True), lambda: [i32(3, 4)]),
    **{f"{name}_with_nans": ((lambda name: lambda o, a: getattr(o, name)(a, axis=1))(name),
                             lambda: [np.where(RNG.uniform(size=(3, 5)) < 0.3, np.nan, f32(3, 5)).astype("float32")])
       for name in ["nansum", "nanmean", "nanmax", "nanmin", "nanstd", "nanvar", "nanprod", "nanargmax", "nanargmin",
                    "nanmedian"]},
    "nanmax_all_nan_row": (lambda o, a: o.nanmax(a, axis=1), lambda: [np.array([[np.nan, np.nan], [1.0, np.nan]], "float32")]),
    "nanargmin_all_nan_row": (lambda o, a: o.nanargmin(a, axis=1), lambda: [np.array([[np.nan, np.nan], [1.0, np.nan]], "float32")]),
    "nanmean_keepdims_f64": (lambda o, a: o.nanmean(a, keepdims=True), lambda: [np.array([[np.nan, 2.0], [1.0, 4.0]])]),
    "nansum_i32": (lambda o, a: o.nansum(a, axis=0), lambda: [i32(3, 4)]),
    "nanmean_i32": (lambda o, a: o.nanmean(a), lambda: [i32(3, 4)]),
    "nancumsum": (lambda o, a: o.nancumsum(a, axis=1), lambda: [np.array([[1.0, np.nan, 2.0], [np.nan, 0.5, 1.5]], "float32")]),
    "nancumprod": (lambda o, a: o.nancumprod(a), lambda: [np.array([[1.5, np.nan, 2.0], [np.nan, 0.5, 1.5]], "float32")]),
    "nanquantile": (lambda o, a: o.nanquantile(a, np.array([0.2, 0.8]), axis=0), lambda: [np.array([[1.0, np.nan], [2.0, 5.0], [np.nan, 3.0], [0.5, 1.0]], "float32")]),
    "nanpercentile": (lambda o, a: o.nanpercentile(a, 40, axis=1, keepdims=True), lambda: [np.array([[1.0, np.nan, 7.0, 2.0], [2.0, 5.0, 1.0, 0.0]], "float32")]),
    # nn
    "glu": (lambda o, a: o.glu(a), lambda: [f32(3, 4)]),
    "glu_axis0": (lambda o, a: o.glu(a, axis=0), lambda: [f32(4, 3)]),
    "sparsemax": (lambda o, a: o.sparsemax(a), lambda: [f32(3, 5)]),
    "sparsemax_axis0": (lambda o, a: o.sparsemax(a * 3, axis=0), lambda: [f32(4, 3)]),
    "sparsemax_wide_support": (lambda o, a: o.sparsemax(a * 0.2), lambda: [f32(3, 5)]),
    "threshold": (lambda o, a: o.threshold(a, 0.3, -1.0), lambda: [f32(3, 4)]),
    "psnr": (lambda o, a, b: o.psnr(a, b, 1.0), lambda: [prob(3, 4), prob(3, 4)]),
    "layer_normalization": (lambda o, a, g, b: o.layer_normalization(a, g, b), lambda: [f32(3, 4), f32(4), f32(4)]),
    "layer_normalization_axes": (lambda o, a, g: o.layer_normalization(a, gamma=g, axis=(1, 2), epsilon=1e-3), lambda: [f32(2, 3, 4), f32(3, 4)]),
    "layer_normalization_axis0": (lambda o, a, b: o.layer_normalization(a, beta=b, axis=0), lambda: [f32(3, 4), f32(3)]),
    "layer_normalization_f16": (lambda o, a: o.layer_normalization(a.astype("float16")), lambda: [f32(3, 4)]),
    "rms_normalization": (lambda o, a, s: o.rms_normalization(a, s), lambda: [f32(3, 4), f32(4)]),
    "rms_normalization_axis": (lambda o, a: o.rms_normalization(a, axis=(0, 1), epsilon=1e-4), lambda: [f64(2, 3, 4)]),
    "batch_normalization": (lambda o, a, m, v, b, s: o.batch_normalization(a, m, v, axis=-1, offset=b, scale=s), lambda: [f32(3, 4), f32(4), prob(4), f32(4), f32(4)]),
    "batch_normalization_axis1": (lambda o, a, m, v: o.batch_normalization(a, m, v, axis=1, epsilon=0.01), lambda: [f32(2, 3, 4), f32(3), prob(3)]),
    "dot_product_attention": (lambda o, q, k, v: o.dot_product_attention(q, k, v), lambda: [f32(2, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 5, 2, 4)]),
    "dot_product_attention_mask_causal_bias": (lambda o, q, k, v, b, m: o.dot_product_attention(q, k, v, bias=b, mask=m, is_causal=True, scale=0.3), lambda: [f32(2, 4, 2, 3), f32(2, 4, 2, 3), f32(2, 4, 2, 3), f32(2, 2, 4, 4), boolean(2, 1, 4, 4) | np.eye(4, dtype=bool)]),
    "dot_product_attention_gqa": (lambda o, q, k, v: o.dot_product_attention(q, k, v), lambda: [f32(1, 3, 4, 2), f32(1, 5, 2, 2), f32(1, 5, 2, 2)]),
    "max_pool1d": (lambda o, a: o.max_pool(a, 2), lambda: [f32(2, 7, 3)]),
    "max_pool2d_same_strided": (lambda o, a: o.max_pool(a, (3, 2), strides=(2, 1), padding="same"), lambda: [f32(2, 5, 4, 3)]),
    "average_pool1d_same": (lambda o, a: o.average_pool(a, 3, strides=2, padding="same"), lambda: [f32(2, 8, 3)]),
    "average_pool2d": (lambda o, a: o.average_pool(a, (2, 2)), lambda: [f32(2, 5, 4, 2)]),
    "max_pool2d_channels_first": (lambda o, a: channels_first_pool(o, o.max_pool, a, pool_size=2, strides=1), lambda: [f32(2, 3, 4, 5)]),
    "depth_to_space": (lambda o, a: o.depth_to_space(a, 2), lambda: [f32(2, 3, 2, 8)]),
    "space_to_depth": (lambda o, a: o.space_to_depth(a, 2), lambda: [f32(2, 4, 6, 3)]),
    "depth_to_space_channels_first": (lambda o, a: o.depth_to_space(a, 2, data_format="channels_first"), lambda: [f32(1, 8, 2, 3)]),
    # linalg
    "inv": (lambda o, a: o.inv(a), lambda: [f32(2, 3, 3) + 3 * np.eye(3, dtype="float32")]),
    "det": (lambda o, a: o.det(a), lambda: [f32(2, 3, 3)]),
    "slogdet": (lambda o, a: o.slogdet(a), lambda: [f64(2, 3, 3)]),
    "logdet": (lambda o, a: o.logdet(a @ np.swapaxes(a, -1, -2) + np.eye(3)), lambda: [f64(2, 3, 3)]),
    "solve_matrix": (lambda o, a, b: o.solve(a, b), lambda: [f32(3, 3) + 3 * np.eye(3, dtype="float32"), f32(3, 2)]),
    "solve_vector_batched": (lambda o, a, b: o.solve(a, b), lambda: [f64(2, 3, 3) + 3 * np.eye(3), f64(2, 3)]),
    "solve_triangular_lower": (lambda o, a, b: o.solve_triangular(a, b, lower=True), lambda: [f32(3, 3) + 3 * np.eye(3, dtype="float32"), f32(3, 2)]),
    "solve_triangular_upper_vector": (lambda o, a, b: o.solve_triangular(a, b), lambda: [f64(3, 3) + 3 * np.eye(3), f64(3)]),
    "cholesky": (lambda o, a: o.cholesky(a @ np.swapaxes(a, -1, -2) + np.eye(3, dtype="float32")), lambda: [f32(2, 3, 3)]),
    "cholesky_upper": (lambda o, a: o.cholesky(a @ a.T + np.eye(3), upper=True), lambda: [f64(3, 3)]),
    "cholesky_inverse": (lambda o, a: o.cholesky_inverse(np.tril(a) + 3 * np.eye(3)), lambda: [f64(3, 3)]),
    "cholesky_inverse_upper": (lambda o, a: o.cholesky_inverse(np.triu(a) + 3 * np.eye(3), upper=True), lambda: [f64(3, 3)]),
    "qr": (lambda o, a: [o.abs(t) for t in o.qr(a)], lambda: [f64(4, 3)]),
    "qr_complete": (lambda o, a: [o.abs(t) for t in o.qr(a, mode="complete")][1], lambda: [f64(4, 3)]),
    "svd_values": (lambda o, a: o.svd(a, compute_uv=False), lambda: [f64(2, 4, 3)]),
    "svd_reconstructs": (lambda o, a: o.matmul(o.svd(a, full_matrices=False)[0] * o.svd(a, full_matrices=False)[1][:, None, :], o.svd(a, full_matrices=False)[2]), lambda: [f64(2, 4, 3)]),
    "svd_full_shapes": (lambda o, a: [o.zeros_like(t) for t in o.svd(a)], lambda: [f64(4, 3)]),
    "eigh": (lambda o, a: o.eigh(a + a.T)[0], lambda: [f64(4, 4)]),
    "eigh_vectors": (lambda o, a: o.abs(o.eigh(a + a.T)[1]), lambda: [f64(3, 3)]),
    "pinv": (lambda o, a: o.pinv(a), lambda: [f64(4, 3)]),
    "lstsq": (lambda o, a, b: o.lstsq(a, b), lambda: [f64(5, 3), f64(5, 2)]),
    "lstsq_vector": (lambda o, a, b: o.lstsq(a, b), lambda: [f64(5, 3), f64(5)]),
    "matrix_rank": (lambda o, a: o.matrix_rank(a @ a.T), lambda: [f64(4, 2)]),
    # math
    "segment_min": (lambda o, a: o.segment_min(a, np.array([1, 0, 1, 0]), num_segments=2), lambda: [f32(4, 3)]),
    "segment_prod": (lambda o, a: o.segment_prod(a, np.array([0, 0, 1, 2]), sorted=True), lambda: [f32(4, 2)]),
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
