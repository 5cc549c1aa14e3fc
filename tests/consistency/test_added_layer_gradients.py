"""Float64 finite differences against the training gradients of Lambda, Normalization, Rescaling,
UnitNormalization, RMSNormalization, GroupNormalization, ActivityRegularization and AlphaDropout (hand-written
backward, or the record of rnnlab.ops for Lambda and the ops-written normalizations)."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers, ops
from tests.support.gradcheck import gradcheck

F64 = "float64"
TOL = 1e-6


def _normalization(**kwargs):
    """Statistics given as arguments (an adapted layer's are non-trainable weights, which gradcheck would
    perturb too); the forward and backward are the same for both."""
    rng = np.random.default_rng(1)
    return layers.Normalization(mean=rng.normal(size=(5, 4)), variance=rng.uniform(0.2, 3.0, size=(5, 4)),
                                dtype=F64, **kwargs)


SINGLE = {
    "lambda_ops": (lambda: layers.Lambda(lambda x: ops.tanh(x) * ops.mean(x, axis=1, keepdims=True), dtype=F64),
                   (3, 5, 4), {}),
    "lambda_arguments_ufunc": (lambda: layers.Lambda(lambda x, power: np.square(x) ** power,
                                                     arguments={"power": 1.5}, dtype=F64), (3, 5, 4), {}),
    "lambda_slice": (lambda: layers.Lambda(lambda x: x[:, -1, :] * 2.0, dtype=F64), (3, 5, 4), {}),
    "normalization_axes": (lambda: _normalization(axis=(1, 2)), (3, 5, 4), {}),
    "normalization_invert": (lambda: _normalization(axis=(1, 2), invert=True), (3, 5, 4), {}),
    "normalization_given": (lambda: layers.Normalization(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 0.5, 2.0],
                                                         dtype=F64), (3, 5, 4), {}),
    "rescaling": (lambda: layers.Rescaling([0.5, -2.0, 1.5, 3.0], offset=0.25, dtype=F64), (3, 5, 4), {}),
    "unit_normalization": (lambda: layers.UnitNormalization(axis=[1, 2], dtype=F64), (3, 5, 4), {}),
    "rms_normalization": (lambda: layers.RMSNormalization(epsilon=1e-3, dtype=F64), (3, 5, 4), {}),
    "rms_normalization_axes": (lambda: layers.RMSNormalization(axis=[1, 2], dtype=F64), (3, 5, 4), {}),
    "group_normalization": (lambda: layers.GroupNormalization(groups=2, dtype=F64), (3, 5, 4), {}),
    "group_normalization_axis1": (lambda: layers.GroupNormalization(groups=5, axis=1, center=False, dtype=F64),
                                  (3, 5, 4), {}),
    "instance_normalization": (lambda: layers.GroupNormalization(groups=-1, scale=False, dtype=F64), (3, 5, 4), {}),
    "activity_regularization": (lambda: layers.ActivityRegularization(0.1, 0.2, dtype=F64), (3, 5, 4), {}),
    "alpha_dropout": (lambda: layers.AlphaDropout(0.3, seed=4, dtype=F64), (3, 5, 4), {"training": True}),
    "alpha_dropout_noise_shape": (lambda: layers.AlphaDropout(0.4, noise_shape=(None, 1, 4), seed=5, dtype=F64),
                                  (3, 5, 4), {"training": True}),
}


def _reseed(layer):
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
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape) if w.trainable else w.value for w in layer.weights])
    assert gradcheck(layer, (x,), kwargs, rng, before_call=_reseed(layer)) <= TOL


def test_lambda_in_a_model_passes_gradients_to_weights_before_it():
    """A Lambda between two Dense layers: the first Dense's weights get their gradient through the Lambda's
    record, and so does the model input."""
    rng = np.random.default_rng(3)
    x = rnnlab.Input((5, 3), dtype=F64)
    h = layers.Dense(4, dtype=F64)(x)
    h = layers.Lambda(lambda t, mask=None: ops.sum(ops.sin(t), axis=1), output_shape=(4,), dtype=F64)(h)
    model = rnnlab.Model(x, layers.Dense(2, dtype=F64)(h))
    model.set_weights([rng.uniform(-0.7, 0.7, w.shape) for w in model.weights])
    assert gradcheck(model, (rng.normal(size=(3, 5, 3)),), {"training": True}, rng) <= TOL
