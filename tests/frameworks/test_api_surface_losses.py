"""The losses beyond the classic ones (hinge, cosine, focal, Dice, Tversky) and Keras's lower-case loss functions:
values, gradients and configs against Keras 3 (TF autodiff for the gradients)."""
import numpy as np
import pytest

from rnnlab import losses as L
from tests.support.reference import require

B, T, C = 4, 3, 5

CASES = [
    ("Hinge", {}, "plus_minus"),
    ("Hinge", {}, "binary"),
    ("SquaredHinge", {}, "binary"),
    ("CategoricalHinge", {}, "one_hot"),
    ("CosineSimilarity", {}, "real"),
    ("CosineSimilarity", {"axis": 1}, "real"),
    ("BinaryFocalCrossentropy", {}, "binary"),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5, "from_logits": True,
                                 "label_smoothing": 0.1}, "binary"),
    ("CategoricalFocalCrossentropy", {}, "one_hot"),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2, "gamma": 3.0, "alpha": 0.6},
     "one_hot"),
    ("Dice", {}, "binary"),
    ("Dice", {"axis": (1, 2)}, "binary"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7}, "binary"),
    ("Tversky", {"axis": (1, 2)}, "binary"),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


def _data(kind, kwargs, rng):
    shape = (B, T, C)
    y_true = {"plus_minus": lambda: rng.choice([-1.0, 1.0], shape),
              "binary": lambda: rng.integers(0, 2, shape).astype(float),
              "one_hot": lambda: np.eye(C)[rng.integers(0, C, (B, T))],
              "real": lambda: rng.normal(size=shape)}[kind]()
    logits = kwargs.get("from_logits") or kind in ("plus_minus", "real")
    y_pred = rng.normal(size=shape) * 2 if logits else rng.uniform(0.05, 0.95, shape)
    return y_true, y_pred


def _weights(name, kwargs, rng):
    if name in ("Dice", "Tversky"):  # per-sample values of shape (B,) with axis=(1, 2), one value otherwise
        return rng.uniform(0.5, 2.0, (B,)) if kwargs.get("axis") else None
    if kwargs.get("axis") == 1:
        return rng.uniform(0.5, 2.0, (B, C))
    return rng.uniform(0.5, 2.0, (B, T))


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_value_gradient_and_config_match_keras(name, kwargs, kind):
    keras = require("keras")
    tf = require("tensorflow")
    rng = np.random.default_rng(7)
    y_true, y_pred = (a.astype(np.float32) for a in _data(kind, kwargs, rng))
    for sample_weight in (None, _weights(name, kwargs, rng)):
        ours = getattr(L, name)(**kwargs)
        theirs = getattr(keras.losses, name)(**kwargs)
        variable = tf.Variable(y_pred)
        with tf.GradientTape() as tape:
            expected = theirs(y_true, variable, sample_weight=sample_weight)
        expected_grad = tape.gradient(expected, variable).numpy()
        value, grad = ours.value_and_grad(y_true, y_pred, sample_weight=sample_weight)
        np.testing.assert_allclose(value, float(expected), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)
        assert ours.get_config() == theirs.get_config()
        rebuilt = getattr(L, name).from_config(theirs.get_config())  # Keras's CosineSimilarity forgets its axis
        weights = None if name == "CosineSimilarity" else sample_weight
        expected = type(theirs).from_config(theirs.get_config())(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(rebuilt(y_true, y_pred, sample_weight=weights), float(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_float64_gradient_matches_finite_differences(name, kwargs, kind):
    rng = np.random.default_rng(3)
    y_true, y_pred = _data(kind, kwargs, rng)
    weights = _weights(name, kwargs, rng)
    loss = getattr(L, name)(**kwargs)
    _, grad = loss.value_and_grad(y_true, y_pred, sample_weight=weights)
    eps = 1e-6
    numeric = np.zeros_like(y_pred)
    for idx in np.ndindex(y_pred.shape):
        old = y_pred[idx]
        y_pred[idx] = old + eps
        up = loss(y_true, y_pred, sample_weight=weights)
        y_pred[idx] = old - eps
        down = loss(y_true, y_pred, sample_weight=weights)
        y_pred[idx] = old
        numeric[idx] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
             "mean_squared_logarithmic_error", "huber", "log_cosh", "kl_divergence", "poisson", "hinge",
             "squared_hinge", "categorical_hinge", "cosine_similarity", "binary_crossentropy",
             "categorical_crossentropy", "binary_focal_crossentropy", "categorical_focal_crossentropy", "dice",
             "tversky"]


def test_lower_case_functions_match_keras():
    keras = require("keras")
    import inspect

    rng = np.random.default_rng(11)
    y_true = rng.uniform(0, 1, (B, T, C)).astype(np.float32)
    y_pred = rng.uniform(0.05, 0.95, (B, T, C)).astype(np.float32)
    for name in FUNCTIONS:
        theirs, ours = getattr(keras.losses, name), getattr(L, name)
        assert str(inspect.signature(ours)) == str(inspect.signature(theirs)), name
        expected = np.asarray(theirs(y_true, y_pred))
        got = ours(y_true, y_pred)
        assert got.shape == expected.shape and got.dtype == np.float32, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=name)
    ids = rng.integers(0, C, (B, T))
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(ids, y_pred),
                               keras.losses.sparse_categorical_crossentropy(ids, y_pred), rtol=1e-5)
    assert keras.metrics.hinge is keras.losses.hinge  # one function in both namespaces, as in rnnlab
    import rnnlab.metrics

    assert rnnlab.metrics.hinge is L.hinge


def test_compile_with_a_loss_function_trains_as_keras():
    """``compile(loss=keras.losses.squared_hinge)`` trains with its gradient: one SGD step gives Keras's weights."""
    keras = require("keras")
    import rnnlab

    rng = np.random.default_rng(5)
    x = rng.normal(size=(8, 4, 3)).astype(np.float32)
    y = rng.integers(0, 2, (8, 2)).astype(np.float32)
    models = []
    for lib in (keras, rnnlab):
        inputs = lib.Input((4, 3))
        model = lib.Model(inputs, lib.layers.Dense(2)(lib.layers.SimpleRNN(5)(inputs)))
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss=lib.losses.squared_hinge)
        models.append(model)
    models[1].set_weights([w + rng.normal(size=w.shape).astype(np.float32) * 0.1 for w in models[0].get_weights()])
    models[0].set_weights(models[1].get_weights())
    loss_k = models[0].train_on_batch(x, y)
    loss_r = models[1].train_on_batch(x, y)
    np.testing.assert_allclose(loss_r, loss_k, rtol=1e-5)
    for a, b in zip(models[1].get_weights(), models[0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_deserialize_round_trips_keras_configs():
    keras = require("keras")
    for name, kwargs, _ in CASES:
        config = keras.losses.serialize(getattr(keras.losses, name)(**kwargs))
        rebuilt = L.deserialize(config)
        assert type(rebuilt) is getattr(L, name) and rebuilt.get_config() == config["config"]
    assert L.deserialize("hinge") is L.hinge
    assert L.deserialize(keras.losses.serialize(keras.losses.hinge)) is L.hinge
