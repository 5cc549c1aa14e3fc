"""rnnlab.metrics against Keras 3's metrics and its compile-time resolution of "accuracy"."""
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
