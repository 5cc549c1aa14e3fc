"""rnnlab.metrics against Keras 3's metrics and its compile-time resolution of "accuracy"."""
import re

import numpy as np
import pytest

from rnnlab import metrics as M

METRICS = [
    ("mse", lambda: M.MeanSquaredError(), "MeanSquaredError", {}, "reg"),
    ("mae", lambda: M.MeanAbsoluteError(), "MeanAbsoluteError", {}, "reg"),
    ("accuracy", lambda: M.Accuracy(), "Accuracy", {}, "exact"),
    ("binary_accuracy", lambda: M.BinaryAccuracy(), "BinaryAccuracy", {}, "bin"),
    ("binary_accuracy_t0.3", lambda: M.BinaryAccuracy(threshold=0.3), "BinaryAccuracy", {"threshold": 0.3}, "bin"),
    ("categorical_accuracy", lambda: M.CategoricalAccuracy(), "CategoricalAccuracy", {}, "cat"),
    ("sparse_categorical_accuracy", lambda: M.SparseCategoricalAccuracy(), "SparseCategoricalAccuracy", {},
     "sparse"),
    ("sparse_categorical_accuracy_trailing1", lambda: M.SparseCategoricalAccuracy(), "SparseCategoricalAccuracy",
     {}, "sparse1"),
    ("rmse", lambda: M.RootMeanSquaredError(), "RootMeanSquaredError", {}, "reg"),
    ("top_k_k2", lambda: M.TopKCategoricalAccuracy(k=2), "TopKCategoricalAccuracy", {"k": 2}, "cat_ties"),
    ("sparse_top_k_k2", lambda: M.SparseTopKCategoricalAccuracy(k=2), "SparseTopKCategoricalAccuracy", {"k": 2},
     "sparse_ties"),
    ("sparse_top_k_trailing1", lambda: M.SparseTopKCategoricalAccuracy(), "SparseTopKCategoricalAccuracy", {},
     "sparse1"),
]
IDS = [m[0] for m in METRICS]


def batch(kind, shape, rng):
    c = shape[-1]
    if kind == "reg":
        return rng.normal(size=shape).astype(np.float32), rng.normal(size=shape).astype(np.float32)
    if kind == "exact":
        return rng.integers(0, 3, size=shape), rng.integers(0, 3, size=shape)
    if kind == "bin":
        return (rng.uniform(size=shape) > 0.5).astype(np.float32), rng.uniform(size=shape).astype(np.float32)
    yp = rng.uniform(size=shape).astype(np.float32)
    if kind.endswith("_ties"):  # few distinct scores: ties at the top-k boundary (they count as in)
        yp = np.round(yp * 2).astype(np.float32) / 2
        kind = kind[:-len("_ties")]
    ids = rng.integers(0, c, size=shape[:-1])
    if kind == "cat":
        return np.eye(c, dtype=np.float32)[ids], yp
    if kind == "sparse1":
        return ids[..., None], yp
    return ids, yp


@pytest.mark.parametrize("case", METRICS, ids=IDS)
@pytest.mark.parametrize("shape", [(8, 4), (4, 6, 3), (8, 1)], ids=["2d", "3d", "2d_unit"])
@pytest.mark.parametrize("weighting", ["none", "per_sample", "per_entry", "mixed"])
def test_matches_keras_over_batches(keras, rng, case, shape, weighting):
    _, make, kname, kwargs, kind = case
    ours, theirs = make(), getattr(keras.metrics, kname)(**kwargs)
    for step in range(3):
        yt, yp = batch(kind, shape, rng)
        if weighting == "none" or (weighting == "mixed" and step == 1):
            sw = None
        elif weighting == "per_entry" and len(shape) == 3:
            sw = rng.uniform(0, 2, size=shape[:-1]).astype(np.float32)
        else:
            sw = rng.uniform(0, 2, size=shape[:1]).astype(np.float32)
        ours.update_state(yt, yp, sample_weight=sw)
        theirs.update_state(yt, yp, sample_weight=sw)
        assert abs(ours.result() - float(theirs.result())) <= 1e-6, (step, ours.result(), float(theirs.result()))
    assert ours.name == theirs.name
    ours.reset_state()
    theirs.reset_state()
    assert ours.result() == float(theirs.result()) == 0.0


def test_mean_as_loss_tracker_matches_keras(keras):
    ours, theirs = M.Mean(name="loss"), keras.metrics.Mean(name="loss")
    for value, n in [(0.9, 32), (0.7, 32), (0.4, 8)]:
        ours.update_state(value, sample_weight=n)
        theirs.update_state(value, sample_weight=n)
    assert abs(ours.result() - float(theirs.result())) <= 1e-6
    assert abs(ours.result() - (0.9 * 32 + 0.7 * 32 + 0.4 * 8) / 72) <= 1e-12
    values = np.array([1.0, 3.0, 5.0, 7.0])
    ours, theirs = M.Mean(), keras.metrics.Mean()
    ours.update_state(values, sample_weight=[1, 1, 0, 0])
    theirs.update_state(values, sample_weight=[1, 1, 0, 0])
    ours.update_state(values)
    theirs.update_state(values)
    assert abs(ours.result() - float(theirs.result())) <= 1e-6


def test_result_is_float_and_zero_before_updates():
    m = M.BinaryAccuracy()
    assert m.result() == 0.0 and isinstance(m.result(), float)
    assert m(np.array([[1.0], [0.0]]), np.array([[0.9], [0.6]])) == 0.5


def test_keras_mask_on_y_pred_zeroes_weights():
    class Masked(np.ndarray):
        _keras_mask = None

    yt = np.array([[1, 2, 0], [0, 0, 1]])
    yp = np.eye(3)[[[1, 2, 2], [0, 1, 1]]].astype(np.float32)  # right, right, wrong / right, wrong, right
    masked = yp.view(Masked)
    masked._keras_mask = np.array([[True, True, False], [True, False, True]])
    m = M.SparseCategoricalAccuracy()
    m.update_state(yt, masked)
    assert m.result() == 1.0


def test_weight_shape_mismatch_raises():
    m = M.MeanSquaredError()
    with pytest.raises(ValueError, match="sample_weight"):
        m.update_state(np.zeros((4, 2)), np.zeros((4, 2)), sample_weight=np.ones(3))


# ---------------------------------------------------------------------------------------------------------
# get(): the strings compile(metrics=[...]) accepts
# ---------------------------------------------------------------------------------------------------------

ACC_SHAPES = [
    ((8,), (8, 1)),       # binary, flat targets
    ((8, 1), (8, 1)),     # binary
    ((8, 5, 1), (8, 5, 1)),
    ((8,), (8, 4)),       # sparse
    ((8, 1), (8, 4)),     # sparse, trailing 1
    ((8, 5), (8, 5, 4)),  # sparse sequences
    ((8, 4), (8, 4)),     # one-hot
    ((8, 5, 4), (8, 5, 4)),
]


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy"])
@pytest.mark.parametrize("shapes", ACC_SHAPES, ids=[f"{a}-{b}" for a, b in ACC_SHAPES])
def test_accuracy_resolution_matches_keras(keras, identifier, shapes):
    from keras.src.trainers import compile_utils

    yt_shape, yp_shape = shapes
    expected = compile_utils.get_metric(identifier, np.zeros(yt_shape), np.zeros(yp_shape))
    eager = M.get(identifier, output_shape=yp_shape, y_true_shape=yt_shape)
    assert type(eager).__name__ == type(expected).__name__
    assert eager.name == expected.name == identifier
    lazy = M.get(identifier)
    assert isinstance(lazy, M.AutoAccuracy) and lazy.name == identifier
    lazy.update_state(np.zeros(yt_shape), np.zeros(yp_shape))
    assert type(lazy.resolved).__name__ == type(expected).__name__


def test_accuracy_ignores_the_loss_like_keras3(keras):
    """Keras 3 picks CategoricalAccuracy for a 3-unit binary_crossentropy model (multi-label): shapes decide."""
    from keras.src.trainers import compile_utils

    expected = compile_utils.get_metric("accuracy", np.zeros((4, 3)), np.zeros((4, 3)))
    ours = M.get("accuracy", loss="binary_crossentropy", output_shape=(4, 3), y_true_shape=(4, 3))
    assert type(ours).__name__ == type(expected).__name__ == "CategoricalAccuracy"
    assert isinstance(M.get("accuracy", loss="categorical_crossentropy", output_shape=(4, 1)), M.BinaryAccuracy)


def test_accuracy_in_a_real_keras_history(keras, rng):
    """The history key is the string given ("accuracy"), whatever class computes it."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=16)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    acc = M.get("accuracy", loss="sparse_categorical_crossentropy")
    acc.update_state(y, model.predict(x, verbose=0))
    assert acc.name == "accuracy" and isinstance(acc.resolved, M.SparseCategoricalAccuracy)
    assert abs(acc.result() - logs["accuracy"]) <= 1e-6


def test_get_other_identifiers(keras):
    for name, cls in [("mse", M.MeanSquaredError), ("mean_squared_error", M.MeanSquaredError),
                      ("mae", M.MeanAbsoluteError), ("mean_absolute_error", M.MeanAbsoluteError),
                      ("binary_accuracy", M.BinaryAccuracy), ("categorical_accuracy", M.CategoricalAccuracy),
                      ("sparse_categorical_accuracy", M.SparseCategoricalAccuracy)]:
        obj = M.get(name)
        assert isinstance(obj, cls)
        from keras.src.trainers import compile_utils
        assert obj.name == compile_utils.get_metric(name, np.zeros((2, 3)), np.zeros((2, 3))).name == name
    inst = M.BinaryAccuracy(threshold=0.2)
    assert M.get(inst) is inst
    assert isinstance(M.get(M.CategoricalAccuracy), M.CategoricalAccuracy)
    custom = M.get(lambda yt, yp: np.abs(yt - yp))
    custom.update_state(np.zeros((2, 2)), np.ones((2, 2)))
    assert custom.result() == 1.0


def test_unknown_metric_names_the_argument():
    with pytest.raises(ValueError) as info:
        M.get("accuracyy")
    assert "`metrics`" in str(info.value) and "'accuracyy'" in str(info.value)
    with pytest.raises(ValueError, match="`metrics`"):
        M.get(None)
    with pytest.raises(ValueError, match="`metrics`"):
        M.get(3)


def test_directions():
    assert M.MeanSquaredError()._direction == "down"
    assert M.MeanAbsoluteError()._direction == "down"
    for m in (M.Accuracy(), M.BinaryAccuracy(), M.CategoricalAccuracy(), M.SparseCategoricalAccuracy(),
              M.get("accuracy")):
        assert m._direction == "up"
    assert M.Mean()._direction is None


# ---------------------------------------------------------------------------------------------------------
# counts at thresholds (Precision, Recall, AUC) and F-scores, over batches with sample weights
# ---------------------------------------------------------------------------------------------------------

LABEL_WEIGHTS = [0.5, 2.0, 1.0, 0.25]
COUNT_METRICS = [
    ("precision", "Precision", {}),
    ("precision_thresholds", "Precision", {"thresholds": [0.3, 0.5, 0.65]}),
    ("precision_even", "Precision", {"thresholds": [0.0, 0.5, 1.0]}),  # evenly spaced: Keras's bucketed count
    ("precision_top_k", "Precision", {"top_k": 2}),
    ("precision_class_id", "Precision", {"class_id": 1, "thresholds": 0.25}),
    ("precision_top_k_class_id", "Precision", {"top_k": 2, "class_id": 3}),
    ("recall", "Recall", {}),
    ("recall_thresholds", "Recall", {"thresholds": [0.2, 0.75]}),
    ("recall_even", "Recall", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}),
    ("recall_top_k", "Recall", {"top_k": 1}),
    ("recall_class_id", "Recall", {"class_id": 0}),
    ("auc", "AUC", {}),
    ("auc_pr", "AUC", {"curve": "PR"}),
    ("auc_pr_majoring", "AUC", {"curve": "pr", "summation_method": "majoring"}),
    ("auc_minoring", "AUC", {"summation_method": "minoring"}),
    ("auc_prgain", "AUC", {"curve": "PRGAIN"}),
    ("auc_7", "AUC", {"num_thresholds": 7}),
    ("auc_thresholds", "AUC", {"thresholds": [0.8, 0.1, 0.35]}),
    ("auc_thresholds_even", "AUC", {"thresholds": [0.25, 0.5, 0.75]}),
    ("auc_label_weights", "AUC", {"label_weights": LABEL_WEIGHTS}),
    ("auc_multi_label", "AUC", {"multi_label": True}),
    ("auc_multi_label_pr", "AUC", {"multi_label": True, "num_labels": 4, "curve": "PR",
                                   "label_weights": LABEL_WEIGHTS}),
    ("auc_multi_label_thresholds", "AUC", {"multi_label": True, "thresholds": [0.3, 0.6]}),
    ("auc_from_logits", "AUC", {"from_logits": True}),
    ("f1", "F1Score", {}),
    ("f1_micro", "F1Score", {"average": "micro"}),
    ("f1_macro", "F1Score", {"average": "macro", "threshold": 0.5}),
    ("f1_weighted", "F1Score", {"average": "weighted"}),
    ("f1_threshold", "F1Score", {"threshold": 0.4}),
    ("fbeta_macro", "FBetaScore", {"beta": 2.0, "average": "macro"}),
]


def count_batch(rng, n=16, classes=4, logits=False):
    """Binary multi-label targets; scores with exact threshold values (0, 0.25, 0.5, 1) among them."""
    y_true = (rng.uniform(size=(n, classes)) > 0.6).astype(np.float32)
    if logits:
        return y_true, (rng.normal(size=(n, classes)) * 3).astype(np.float32)
    y_pred = rng.uniform(size=(n, classes)).astype(np.float32)
    y_pred.flat[:6] = [0.0, 0.25, 0.5, 1.0, 0.5, 0.75]
    return y_true, y_pred


@pytest.mark.parametrize("case", COUNT_METRICS, ids=[c[0] for c in COUNT_METRICS])
def test_threshold_metrics_match_keras_over_batches(keras, rng, case):
    _, cls_name, kwargs = case
    ours, theirs = getattr(M, cls_name)(**kwargs), getattr(keras.metrics, cls_name)(**kwargs)
    weightings = [rng.uniform(0, 2, size=16).astype(np.float32), None, rng.uniform(0, 2, size=16)]
    # Keras's F-scores take one weight per sample only; with class_id the weights must fit the one column
    if cls_name not in ("F1Score", "FBetaScore") and "class_id" not in kwargs:
        weightings.append(rng.uniform(0, 2, size=(16, 4)).astype(np.float32))
    for step, sw in enumerate(weightings):
        y_true, y_pred = count_batch(rng, logits=kwargs.get("from_logits", False))
        ours.update_state(y_true, y_pred, sample_weight=sw)
        theirs.update_state(y_true, y_pred, sample_weight=sw)
        expected = np.asarray(theirs.result())
        got = ours.result()
        assert np.shape(got) == expected.shape and isinstance(got, float) == (expected.ndim == 0)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6, err_msg=f"step {step}")
    # unnamed metrics are numbered per process (auc, auc_1...), in each framework on its own
    assert re.sub(r"_\d+$", "", ours.name) == re.sub(r"_\d+$", "", theirs.name)
    config = {**ours.get_config(), "name": theirs.name}
    assert config == {k: np.asarray(v).tolist() if k == "label_weights" and v is not None else v
                      for k, v in theirs.get_config().items()}
    assert getattr(M, cls_name).from_config(config).get_config() == config
    ours.reset_state()
    theirs.reset_state()
    if cls_name == "AUC" or cls_name.startswith("F"):
        assert np.all(np.asarray(ours.result()) == 0) and np.all(np.asarray(theirs.result()) == 0)


@pytest.mark.parametrize("cls_name", ["Precision", "Recall", "AUC"])
def test_binary_shapes_match_keras(keras, rng, cls_name):
    """A (batch,) target against a (batch, 1) output, and sequences (batch, time, 1) with (batch, time) weights."""
    ours, theirs = getattr(M, cls_name)(), getattr(keras.metrics, cls_name)()
    for yt_shape, yp_shape, sw_shape in [((16,), (16, 1), (16,)), ((4, 5, 1), (4, 5, 1), (4, 5)),
                                         ((16, 1), (16,), None)]:
        y_true = (rng.uniform(size=yt_shape) > 0.5).astype(np.float32)
        y_pred = rng.uniform(size=yp_shape).astype(np.float32)
        sw = None if sw_shape is None else rng.uniform(0, 2, size=sw_shape).astype(np.float32)
        ours.update_state(y_true, y_pred, sample_weight=sw)
        theirs.update_state(y_true, y_pred, sample_weight=sw)
        assert abs(ours.result() - float(theirs.result())) <= 1e-6


def test_auc_thresholds_are_keras(keras):
    for kwargs in ({}, {"num_thresholds": 5}, {"thresholds": [0.7, 0.2]}):
        np.testing.assert_array_equal(M.AUC(**kwargs).thresholds, keras.metrics.AUC(**kwargs).thresholds)


def test_new_metric_names_are_keras_names(keras):
    """Each string compile(metrics=[...]) resolves in Keras resolves in rnnlab to the same class and name."""
    from keras.src.trainers import compile_utils

    for name in ("auc", "AUC", "precision", "Precision", "recall", "Recall", "f1_score", "F1Score", "f_beta_score",
                 "root_mean_squared_error", "RootMeanSquaredError", "top_k_categorical_accuracy",
                 "TopKCategoricalAccuracy", "sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy"):
        expected = compile_utils.get_metric(name, np.zeros((2, 3)), np.zeros((2, 3)))
        ours = M.get(name)
        assert ours.name == expected.name == name
        if not isinstance(expected, keras.metrics.MeanMetricWrapper) or type(expected).__name__ != \
                "MeanMetricWrapper":  # Keras may hand back the top-k function, wrapped: same values
            assert type(ours).__name__ == type(expected).__name__, name


@pytest.mark.parametrize("make, exc, pattern", [
    (lambda: M.Precision(thresholds=1.5), ValueError, r"thresholds.*\[0, 1\].*1\.5"),
    (lambda: M.Precision(thresholds=[]), ValueError, r"thresholds"),
    (lambda: M.Recall(top_k=0), ValueError, r"top_k.*>= 1.*0"),
    (lambda: M.Recall(class_id=-1), ValueError, r"class_id.*-1"),
    (lambda: M.AUC(num_thresholds=1), ValueError, r"num_thresholds.*> 1.*1"),
    (lambda: M.AUC(curve="ROCK"), ValueError, r"curve.*'ROC'.*'ROCK'"),
    (lambda: M.AUC(summation_method="trapezoid"), ValueError, r"summation_method.*'trapezoid'"),
    (lambda: M.AUC(num_labels=3), ValueError, r"num_labels.*multi_label"),
    (lambda: M.AUC(multi_label="yes"), TypeError, r"multi_label"),
    (lambda: M.F1Score(average="mean"), ValueError, r"average.*'mean'"),
    (lambda: M.F1Score(threshold=0), ValueError, r"threshold.*float.*0"),
    (lambda: M.F1Score(threshold=1.5), ValueError, r"threshold.*\(0, 1\].*1\.5"),
    (lambda: M.FBetaScore(beta=2), ValueError, r"beta.*float.*2"),
    (lambda: M.FBetaScore(beta=-1.0), ValueError, r"beta.*> 0"),
    (lambda: M.TopKCategoricalAccuracy(k=0), ValueError, r"`k`.*>= 1.*0"),
    (lambda: M.SparseTopKCategoricalAccuracy(k=2.5), ValueError, r"`k`.*2\.5"),
])
def test_bad_metric_arguments(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_bad_metric_inputs(rng):
    y_true, y_pred = count_batch(rng)
    with pytest.raises(ValueError, match=r"class_id.*5.*4 classes"):
        M.Precision(class_id=5).update_state(y_true, y_pred)
    with pytest.raises(ValueError, match=r"top_k.*6.*4"):
        M.Recall(top_k=6).update_state(y_true, y_pred)
    with pytest.raises(ValueError, match=r"sample_weight.*\(3,\)"):
        M.AUC().update_state(y_true, y_pred, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"rank 2.*multi_label"):
        M.AUC(multi_label=True).update_state(y_true[:, :1, None], y_pred[:, :1, None])
    with pytest.raises(ValueError, match=r"2D inputs"):
        M.F1Score().update_state(y_true[:, 0], y_pred[:, 0])
    with pytest.raises(ValueError, match=r"sample_weight.*\(16,\)"):
        M.F1Score().update_state(y_true, y_pred, sample_weight=np.ones((16, 4)))
    with pytest.raises(ValueError, match=r"y_true.*y_pred"):
        M.SparseTopKCategoricalAccuracy().update_state(np.zeros(5), y_pred)
