"""Float64 finite differences against the hand-written backward of every layer around the recurrent ones (shape,
merge, activation, convolution, pooling, normalization, noise), with masks where the layer reads one, and
through a functional graph whose merge layers take lists and send lists of gradients back."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from tests.support.gradcheck import gradcheck

F64 = "float64"
TOL = 1e-6


def _mask(batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, -2:] = False
    mask[1, :1] = False
    return mask


# (layer factory, input shape, call keyword arguments)
SINGLE = {
    "activation_tanh": (lambda: layers.Activation("tanh", dtype=F64), (3, 5, 4), {}),
    "activation_softmax": (lambda: layers.Activation("softmax", dtype=F64), (3, 5, 4), {}),
    "identity": (lambda: layers.Identity(dtype=F64), (3, 5, 4), {}),
    "repeat_vector": (lambda: layers.RepeatVector(3, dtype=F64), (3, 4), {}),
    "flatten": (lambda: layers.Flatten(dtype=F64), (3, 5, 4), {}),
    "flatten_channels_first": (lambda: layers.Flatten(data_format="channels_first", dtype=F64), (3, 5, 4), {}),
    "reshape": (lambda: layers.Reshape((2, -1), dtype=F64), (3, 5, 4), {}),
    "permute": (lambda: layers.Permute((2, 1), dtype=F64), (3, 5, 4), {}),
    "cropping": (lambda: layers.Cropping1D((1, 2), dtype=F64), (3, 6, 2), {}),
    "zero_padding": (lambda: layers.ZeroPadding1D((2, 1), dtype=F64), (3, 5, 2), {}),
    "zero_padding_cf": (lambda: layers.ZeroPadding1D(1, data_format="channels_first", dtype=F64), (3, 5, 2), {}),
    "up_sampling": (lambda: layers.UpSampling1D(3, dtype=F64), (3, 4, 2), {}),
    "relu_full": (lambda: layers.ReLU(max_value=0.8, negative_slope=0.1, threshold=0.2, dtype=F64), (3, 5, 4), {}),
    "leaky_relu": (lambda: layers.LeakyReLU(0.2, dtype=F64), (3, 5, 4), {}),
    "prelu_shared": (lambda: layers.PReLU(shared_axes=[1], dtype=F64), (3, 5, 4), {}),
    "prelu": (lambda: layers.PReLU(dtype=F64), (3, 5, 4), {}),
    "elu": (lambda: layers.ELU(0.6, dtype=F64), (3, 5, 4), {}),
    "softmax_axes": (lambda: layers.Softmax(axis=[1, 2], dtype=F64), (3, 5, 4), {}),
    "softmax_mask": (lambda: layers.Softmax(axis=-1, dtype=F64), (3, 5, 4),
                     {"mask": np.array([[1, 1, 0, 1]] * 5, bool)}),
    "conv_valid": (lambda: layers.Conv1D(4, 3, activation="tanh", dtype=F64), (2, 7, 3), {}),
    "conv_same_strided": (lambda: layers.Conv1D(4, 4, strides=3, padding="same", dtype=F64), (2, 8, 3), {}),
    "conv_causal_dilated": (lambda: layers.Conv1D(3, 3, padding="causal", dilation_rate=2, dtype=F64), (2, 7, 2), {}),
    "conv_groups_cf": (lambda: layers.Conv1D(4, 2, groups=2, data_format="channels_first", dtype=F64),
                       (2, 4, 6), {}),
    "max_pool_same": (lambda: layers.MaxPooling1D(3, strides=2, padding="same", dtype=F64), (2, 7, 3), {}),
    "max_pool_cf": (lambda: layers.MaxPooling1D(2, data_format="channels_first", dtype=F64), (2, 3, 6), {}),
    "avg_pool_same": (lambda: layers.AveragePooling1D(3, strides=2, padding="same", dtype=F64), (2, 7, 3), {}),
    "avg_pool_overlap": (lambda: layers.AveragePooling1D(3, strides=1, dtype=F64), (2, 6, 3), {}),
    "global_max": (lambda: layers.GlobalMaxPooling1D(dtype=F64), (3, 5, 4), {}),
    "global_max_cf_keepdims": (lambda: layers.GlobalMaxPooling1D(data_format="channels_first", keepdims=True,
                                                                 dtype=F64), (3, 5, 4), {}),
    "global_avg_mask": (lambda: layers.GlobalAveragePooling1D(dtype=F64), (3, 5, 4), {"mask": _mask(3, 5)}),
    "global_avg_cf_keepdims": (lambda: layers.GlobalAveragePooling1D(data_format="channels_first", keepdims=True,
                                                                     dtype=F64), (3, 5, 4), {}),
    "batchnorm_training": (lambda: layers.BatchNormalization(dtype=F64), (4, 5, 3), {"training": True}),
    "batchnorm_training_mask": (lambda: layers.BatchNormalization(dtype=F64), (4, 5, 3),
                                {"training": True, "mask": _mask(4, 5)}),
    "batchnorm_axis1_no_center": (lambda: layers.BatchNormalization(axis=1, center=False, dtype=F64), (4, 5, 3),
                                  {"training": True}),
    "batchnorm_inference": (lambda: layers.BatchNormalization(dtype=F64), (4, 5, 3), {"training": False}),
    "layernorm": (lambda: layers.LayerNormalization(dtype=F64), (3, 5, 4), {}),
    "layernorm_axes": (lambda: layers.LayerNormalization(axis=[1, 2], center=False, dtype=F64), (3, 5, 4), {}),
    "spatial_dropout": (lambda: layers.SpatialDropout1D(0.4, seed=3, dtype=F64), (3, 5, 4), {"training": True}),
    "gaussian_noise": (lambda: layers.GaussianNoise(0.5, seed=3, dtype=F64), (3, 5, 4), {"training": True}),
    "gaussian_dropout": (lambda: layers.GaussianDropout(0.3, seed=3, dtype=F64), (3, 5, 4), {"training": True}),
}


def _reseed(layer):
    """Noise layers draw again on each call: reseed their generator so every pass draws the same noise."""
    if getattr(layer, "seed", None) is None:
        return lambda: None

    def reseed():
        layer._rng = rnnlab.random.make_rng(layer.seed)

    return reseed


@pytest.mark.parametrize("case", list(SINGLE))
def test_layer_gradients(case):
    make, shape, kwargs = SINGLE[case]
    rng = np.random.default_rng(7)
    layer = make()
    x = rng.normal(size=shape)
    layer(x, **kwargs)
    weights = [rng.uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()]
    if isinstance(layer, layers.BatchNormalization):
        weights[-1] = np.abs(weights[-1]) + 0.5
    layer.set_weights(weights)
    assert gradcheck(layer, (x,), kwargs, rng, before_call=_reseed(layer)) <= TOL


MERGES = {
    "add": lambda: layers.Add(dtype=F64), "subtract": lambda: layers.Subtract(dtype=F64),
    "multiply": lambda: layers.Multiply(dtype=F64), "average": lambda: layers.Average(dtype=F64),
    "maximum": lambda: layers.Maximum(dtype=F64), "minimum": lambda: layers.Minimum(dtype=F64),
    "concatenate": lambda: layers.Concatenate(axis=1, dtype=F64),
    "dot": lambda: layers.Dot(axes=(1, 1), dtype=F64), "dot_normalize": lambda: layers.Dot(axes=2, normalize=True,
                                                                                            dtype=F64),
}


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("case", list(MERGES))
def test_merge_gradients(case, masked):
    """Merges take a list and give a list of gradients; masks change Multiply/Maximum/Minimum's values."""
    rng = np.random.default_rng(8)
    layer = MERGES[case]()
    n = 2 if case in ("subtract", "dot", "dot_normalize") else 3
    xs = [rng.normal(size=(3, 5, 4)) for _ in range(n)]
    if case in ("add", "multiply", "maximum"):
        xs[-1] = rng.normal(size=(3, 4))  # broadcast along time
    kwargs = {"mask": [_mask(3, 5)] * (n - 1) + [None if xs[-1].ndim == 2 else ~_mask(3, 5)]} if masked else {}
    assert gradcheck(layer, (xs,), kwargs, rng) <= TOL


def test_graph_routes_list_gradients_to_each_input():
    """A functional graph with merges, shared inputs and masks: gradients reach both model inputs and every
    weight (the graph passes lists to merges and routes their lists of gradients back)."""
    rng = np.random.default_rng(9)
    a, b = rnnlab.Input((6, 3), dtype=F64), rnnlab.Input((6, 3), dtype=F64)
    x = layers.Conv1D(4, 2, padding="causal", dtype=F64)(a)  # drops the mask
    ya, yb = layers.Dense(4, dtype=F64)(a), layers.Dense(4, dtype=F64)(b)  # pass the masks on
    m = layers.multiply([ya, yb, layers.Dense(4, dtype=F64)(a)], dtype=F64)
    h = layers.LSTM(3, return_sequences=True, dtype=F64)(layers.concatenate([m, layers.add([x, yb], dtype=F64)],
                                                                            dtype=F64))
    h = layers.BatchNormalization(dtype=F64)(layers.maximum([h, layers.Dense(3, dtype=F64)(ya)], dtype=F64))
    out = layers.dot([layers.GlobalAveragePooling1D(dtype=F64)(h), layers.Flatten(dtype=F64)(
        layers.MaxPooling1D(2, dtype=F64)(layers.Dense(1, dtype=F64)(h)))], axes=1, normalize=True, dtype=F64)
    model = rnnlab.Model([a, b], [out, layers.subtract([x, ya], dtype=F64)])
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) + (0.6 if "variance" in w.name else 0)
                       for w in model.weights])
    xa, xb = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 6, 3))
    masks = [_mask(3, 6), ~_mask(3, 6)]  # given to the model (a Masking layer would flip under finite differences)
    assert gradcheck(model, ([xa, xb],), {"training": True, "mask": masks}, rng) <= TOL


def test_batchnorm_moving_statistics_wait_for_the_trainer():
    """In a training step the moving statistics change only when the trainer applies the step's updates, once
    per call, each from the value the previous one left (a layer used twice moves twice)."""
    rng = np.random.default_rng(10)
    bn = layers.BatchNormalization(momentum=0.5, dtype=F64)
    x1, x2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    bn(x1)
    grads = {}
    bn.forward_backward(x1, training=True, grads=grads)
    bn.forward_backward(x2, training=True, grads=grads)
    np.testing.assert_array_equal(bn.moving_mean.value, np.zeros(3))
    rnnlab.engine.layer.apply_state_updates(grads)
    expected = (0.5 * 0 + 0.5 * x1.mean(0)) * 0.5 + 0.5 * x2.mean(0)
    np.testing.assert_allclose(bn.moving_mean.value, expected, atol=1e-12)
    bn(x1, training=True)  # outside a training step, Keras's call updates at once
    np.testing.assert_allclose(bn.moving_mean.value, expected * 0.5 + 0.5 * x1.mean(0), atol=1e-12)
