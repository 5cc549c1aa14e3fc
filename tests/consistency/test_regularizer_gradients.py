"""Float64 finite differences against every regularizer's ``gradient`` and against a training step's weight
gradients with weight and activity regularizers (the penalties' gradients join the loss's)."""
import numpy as np
import pytest

import rnnlab
from rnnlab import regularizers
from tests.support.gradcheck import numeric_gradient

REGULARIZERS = {
    "l1": regularizers.L1(0.3),
    "l2": regularizers.L2(0.2),
    "l1l2": regularizers.L1L2(l1=0.1, l2=0.4),
    "orthogonal_rows": regularizers.OrthogonalRegularizer(0.5),
    "orthogonal_columns": regularizers.OrthogonalRegularizer(0.7, mode="columns"),
}


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_gradient_matches_finite_differences(name, rng):
    reg = REGULARIZERS[name]
    x = rng.normal(size=(5, 4))  # away from 0, where |x| has no derivative
    x[np.abs(x) < 0.05] = 0.3
    analytic = reg.gradient(x)
    assert analytic.shape == x.shape and analytic.dtype == np.float64
    numeric = numeric_gradient(x, lambda: float(reg(x)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_regularizer_values_follow_their_formulas(rng):
    x = rng.normal(size=(4, 3))
    assert np.isclose(regularizers.L1(0.3)(x), np.float32(0.3) * np.abs(x).sum())
    assert np.isclose(regularizers.L2(0.2)(x), 0.2 * (x ** 2).sum())
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosines = unit @ unit.T
    off = np.abs(cosines[~np.eye(4, dtype=bool)]).sum()
    assert np.isclose(regularizers.OrthogonalRegularizer(0.5)(x), np.float32(0.5) * 0.5 * off / 6)


def _model(dtype):
    R = rnnlab.regularizers
    inp = rnnlab.Input((5, 3), dtype=dtype)
    h = rnnlab.layers.GRU(4, return_sequences=True, kernel_regularizer=R.L1L2(0.02, 0.03),
                          recurrent_regularizer=R.OrthogonalRegularizer(0.3), bias_regularizer=R.L2(0.1),
                          activity_regularizer=R.L2(0.05), dtype=dtype)(inp)
    h = rnnlab.layers.LSTM(3, kernel_regularizer=R.OrthogonalRegularizer(0.2, mode="columns"),
                           activity_regularizer=R.L1(0.04), dtype=dtype)(h)
    out = rnnlab.layers.Dense(2, kernel_regularizer="l1", bias_regularizer="l2", activity_regularizer="l2",
                              dtype=dtype)(h)
    return rnnlab.Model(inp, out)


def test_training_gradients_include_regularizers(rng):
    """The gradient the optimizer receives is d(loss + sum(model.losses)) / d weight, checked entry by entry."""
    model = _model("float64")
    model.set_weights([rng.normal(scale=0.5, size=w.shape) for w in model.get_weights()])
    model.compile(optimizer=rnnlab.optimizers.SGD(1.0), loss="mse")
    x, y = rng.normal(size=(3, 5, 3)), rng.normal(size=(3, 2))

    def total_loss():
        value = model._loss_fns[0](y, model(x))
        return value + sum(float(v) for v in model.losses)

    captured = {}
    model.optimizer.apply = lambda grads, variables: captured.update(zip([v.path for v in variables], grads))
    model.train_on_batch(x, y)
    assert len(captured) == len(model.trainable_weights)
    for w in model.trainable_weights:
        numeric = numeric_gradient(w.value, total_loss)
        np.testing.assert_allclose(captured[w.path], numeric, rtol=1e-5, atol=1e-7, err_msg=w.path)
