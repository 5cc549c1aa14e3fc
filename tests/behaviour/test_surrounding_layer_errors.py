"""Bad input to the layers around the recurrent ones: each a ValueError/TypeError naming the layer or the argument."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers


@pytest.mark.parametrize("make,shape,match", [
    (lambda: layers.Conv1D(2, 3), (2, 5), "expected ndim=3, found ndim=2"),
    (lambda: layers.RepeatVector(2), (2, 3, 4), "expected ndim=2"),
    (lambda: layers.MaxPooling1D(2), (2, 4), "MaxPooling1D"),
    (lambda: layers.Permute((2, 1)), (2, 3, 4, 5), "expected ndim=3"),
    (lambda: layers.Conv1D(2, 6), (2, 5, 3), r"kernel_size.*larger than the input's spatial size \(5,\)"),
    (lambda: layers.Conv1D(2, 3, dilation_rate=3), (2, 6, 3), r"kernel_size.*dilation_rate=\(3,\)"),
    (lambda: layers.MaxPooling1D(7), (2, 5, 3), r"pool_size.*larger than the input's spatial size \(5,\)"),
    (lambda: layers.Cropping1D((3, 3)), (2, 5, 3), "cropping"),
    (lambda: layers.Conv1D(4, 2, groups=2), (2, 5, 3), "groups=2"),
    (lambda: layers.Reshape((4, 4)), (2, 5, 3), "Reshape.*target_shape"),
    (lambda: layers.BatchNormalization(axis=3), (2, 5, 3), "axis"),
])
def test_wrong_input_shapes(make, shape, match):
    layer = make()
    x = np.zeros(shape, "float32")
    with pytest.raises(ValueError, match=match):
        layer(x)
    with pytest.raises(ValueError, match=match):  # the same check when building a model
        layer(rnnlab.Input(shape[1:]))


def test_input_with_other_channels_after_build():
    layer = layers.Conv1D(2, 2)
    layer(np.zeros((1, 4, 3), "float32"))
    with pytest.raises(ValueError, match="must have 3 channels"):
        layer(np.zeros((1, 4, 5), "float32"))


@pytest.mark.parametrize("make,match", [
    (lambda: layers.Conv1D(2, 3, padding="full"), "padding"),
    (lambda: layers.MaxPooling1D(2, padding="causal"), "padding"),
    (lambda: layers.Conv1D(2, 3, data_format="nhwc"), "data_format"),
    (lambda: layers.Conv1D(0, 3), "filters"),
    (lambda: layers.Conv1D(3, 3, groups=2), "filters.*groups"),
    (lambda: layers.Conv1D(2, 3, strides=2, dilation_rate=2), "strides"),
    (lambda: layers.Conv1D(2, (3, 3)), "kernel_size"),
    (lambda: layers.Conv1D(2, 3, lora_rank=2), "lora_rank"),
    (lambda: layers.Conv1D(2, 3, kernel_regularizer="l3"), "kernel_regularizer"),
    (lambda: layers.RepeatVector(0), "`n`"),
    (lambda: layers.UpSampling1D(1.5), "`size`"),
    (lambda: layers.Permute((1, 3)), "dims"),
    (lambda: layers.Reshape((2, -1, -1)), "target_shape"),
    (lambda: layers.Cropping1D(-1), "cropping"),
    (lambda: layers.ReLU(max_value=-1), "max_value"),
    (lambda: layers.LeakyReLU(-0.1), "negative_slope"),
    (lambda: layers.Softmax(axis="last"), "axis"),
    (lambda: layers.PReLU(shared_axes=[0]), "shared_axes"),
    (lambda: layers.Dot(axes=(1, 2, 3)), "axes"),
    (lambda: layers.Concatenate(axis=1.5), "axis"),
    (lambda: layers.BatchNormalization(renorm=True), "renorm"),
    (lambda: layers.LayerNormalization(rms_scaling=True), "rms_scaling"),
    (lambda: layers.GaussianNoise(2.0), "stddev"),
    (lambda: layers.GaussianDropout(1.0), "rate"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("make,inputs,match", [
    (lambda: layers.Add(), [(2, 5, 3), (2, 5, 4)], "incompatible shapes"),
    (lambda: layers.Subtract(), [(2, 3)] * 3, "exactly 2 inputs"),
    (lambda: layers.Concatenate(), [(2, 5, 3), (2, 4, 3)], "matching shapes except for the concatenation axis"),
    (lambda: layers.Concatenate(axis=0), [(2, 3), (2, 3)], "not the batch axis"),
    (lambda: layers.Dot(axes=1), [(2, 5, 3), (2, 4, 3)], "incompatible input shapes"),
    (lambda: layers.Multiply(), [(2, 3), (3, 3)], "different batch sizes"),
])
def test_incompatible_merge_shapes(make, inputs, match):
    with pytest.raises(ValueError, match=match):
        make()([np.zeros(s, "float32") for s in inputs])
    with pytest.raises(ValueError, match=match):
        make()([rnnlab.Input(batch_shape=s) for s in inputs])


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Add()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="list of inputs"):
        layers.Concatenate()(rnnlab.Input((3,)))


def test_softmax_mask_must_broadcast():
    with pytest.raises(ValueError, match="mask.*broadcastable"):
        layers.Softmax()(np.zeros((2, 3, 4), "float32"), mask=np.ones((2, 3), bool))


def test_noise_is_seedable_and_off_at_inference():
    x = np.ones((4, 6, 5), "float32")
    for make in (lambda: layers.GaussianNoise(0.5, seed=1), lambda: layers.GaussianDropout(0.4, seed=1),
                 lambda: layers.SpatialDropout1D(0.5, seed=1)):
        np.testing.assert_array_equal(make()(x), x)
        np.testing.assert_array_equal(make()(x, training=True), make()(x, training=True))
        assert not np.array_equal(make()(x, training=True), x)
    dropped = layers.SpatialDropout1D(0.5, seed=2)(x, training=True)
    assert np.all((dropped == 0).all(axis=1) | (dropped != 0).all(axis=1))  # whole channels, every step alike
