"""The metrics added for Keras's wider surface: values over weighted batches, configs and (de)serialization
against Keras 3; names in compile(metrics=[...])."""
import numpy as np
import pytest

from rnnlab import metrics as M
from tests.support.reference import require

B, C = 6, 4


def _data(kind, rng):
    if kind == "binary":
        return rng.integers(0, 2, (B, C)).astype(np.float32), rng.uniform(0, 1, (B, C)).astype(np.float32)
    if kind == "one_hot":
        return np.eye(C, dtype=np.float32)[rng.integers(0, C, B)], rng.dirichlet(np.ones(C), B).astype(np.float32)
    if kind == "sparse":
        return rng.integers(0, C, (B,)), rng.dirichlet(np.ones(C), B).astype(np.float32)
    if kind == "positive":
        return rng.uniform(0.1, 3, (B, C)).astype(np.float32), rng.uniform(0.1, 3, (B, C)).astype(np.float32)
    return rng.normal(size=(B, C)).astype(np.float32), rng.normal(size=(B, C)).astype(np.float32)


CASES = [
    ("Hinge", {}, "binary"), ("SquaredHinge", {}, "binary"), ("CategoricalHinge", {}, "one_hot"),
    ("KLDivergence", {}, "one_hot"), ("Poisson", {}, "positive"), ("LogCoshError", {}, "real"),
    ("MeanAbsolutePercentageError", {}, "real"), ("MeanSquaredLogarithmicError", {}, "positive"),
    ("CosineSimilarity", {}, "real"), ("CosineSimilarity", {"axis": 0}, "real"),
    ("BinaryCrossentropy", {"label_smoothing": 0.1}, "binary"), ("BinaryCrossentropy", {"from_logits": True}, "real"),
    ("CategoricalCrossentropy", {}, "one_hot"), ("CategoricalCrossentropy", {"from_logits": True}, "one_hot"),
    ("SparseCategoricalCrossentropy", {}, "sparse"), ("R2Score", {}, "real"),
    ("R2Score", {"class_aggregation": "variance_weighted_average", "num_regressors": 2}, "real"),
    ("R2Score", {"class_aggregation": None}, "real"), ("PearsonCorrelation", {}, "real"),
    ("ConcordanceCorrelation", {"axis": 0}, "real"), ("TruePositives", {}, "binary"),
    ("TrueNegatives", {"thresholds": [0.2, 0.6]}, "binary"), ("FalsePositives", {}, "binary"),
    ("FalseNegatives", {"thresholds": 0.3}, "binary"), ("PrecisionAtRecall", {"recall": 0.6}, "binary"),
    ("RecallAtPrecision", {"precision": 0.5, "num_thresholds": 50}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.4}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7, "class_id": 2}, "binary"),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name, kwargs, kind", CASES, ids=IDS)
def test_values_over_weighted_batches_and_config_match_keras(name, kwargs, kind):
    keras = require("keras")
    rng = np.random.default_rng(2)
    ours, theirs = getattr(M, name)(**kwargs), getattr(keras.metrics, name)(**kwargs)
    for batch in range(3):
        y_true, y_pred = _data(kind, rng)
        if kind == "one_hot" and kwargs.get("from_logits"):
            y_pred = rng.normal(size=y_pred.shape).astype(np.float32)
        weights = None if batch == 0 else rng.uniform(0, 2, (B,)).astype(np.float32)
        if kwargs.get("axis") == 0 and weights is not None:
            weights = rng.uniform(0, 2, (C,)).astype(np.float32)
        ours.update_state(y_true, y_pred, sample_weight=weights)
        theirs.update_state(y_true, y_pred, sample_weight=weights)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), rtol=2e-5, atol=1e-6)
    assert ours.get_config() == theirs.get_config()
    assert ours.name == theirs.name
    config = keras.metrics.serialize(theirs)
    assert M.serialize(ours) == config
    rebuilt = M.deserialize(config)
    assert type(rebuilt) is type(ours) and rebuilt.get_config() == ours.get_config()
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), atol=1e-7)


def test_sum_matches_keras():
    keras = require("keras")
    rng = np.random.default_rng(4)
    ours, theirs = M.Sum(), keras.metrics.Sum()
    for weights in (None, rng.uniform(size=(3,)), rng.uniform(size=(3, 2))):
        values = rng.normal(size=(3, 2, 5))
        ours.update_state(values, sample_weight=weights)
        theirs.update_state(values, sample_weight=weights)
    np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-5)
    assert ours.get_config() == theirs.get_config()


def test_metric_functions_match_keras():
    keras = require("keras")
    rng = np.random.default_rng(6)
    y_true, y_pred = rng.normal(size=(B, C)).astype(np.float32), rng.normal(size=(B, C)).astype(np.float32)
    for name in ("pearson_correlation", "concordance_correlation"):
        for axis in (-1, 0):
            np.testing.assert_allclose(getattr(M, name)(y_true, y_pred, axis=axis),
                                       getattr(keras.metrics, name)(y_true, y_pred, axis=axis), rtol=1e-5,
                                       atol=1e-6)
    for name in ("hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "poisson", "log_cosh", "huber",
                 "binary_crossentropy", "categorical_crossentropy", "binary_focal_crossentropy",
                 "categorical_focal_crossentropy", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
                 "sparse_categorical_crossentropy"):
        assert getattr(M, name) is getattr(__import__("rnnlab").losses, name)
    assert M.serialize(M.hinge) == keras.metrics.serialize(keras.metrics.hinge)
    assert M.deserialize(keras.metrics.serialize(keras.metrics.hinge)) is M.hinge


def test_metrics_by_name_in_compile_match_keras():
    keras = require("keras")
    import rnnlab

    rng = np.random.default_rng(8)
    x = rng.normal(size=(16, 5, 3)).astype(np.float32)
    y = rng.integers(0, 2, (16, 1)).astype(np.float32)
    names = ["hinge", "squared_hinge", "binary_crossentropy", "kl_divergence", "poisson", "log_cosh_error", "mape", "r2_score",
             "true_positives", "false_negatives", "pearson_correlation", "BinaryCrossentropy"]
    results = []
    weights = None
    for lib in (keras, rnnlab):
        inputs = lib.Input((5, 3))
        model = lib.Model(inputs, lib.layers.Dense(1, activation="sigmoid")(lib.layers.GRU(4)(inputs)))
        model.compile(optimizer="sgd", loss="mse", metrics=names)
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        results.append(model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True))
    assert set(results[1]) == set(results[0])
    for key, expected in results[0].items():
        np.testing.assert_allclose(results[1][key], expected, rtol=1e-4, atol=1e-5, err_msg=key)
