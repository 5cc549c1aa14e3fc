"""Keras 3.15.1's surface continued: initializer fan axes, keras.random, keras.tree, the IoU metrics and the
utils/saving helpers, against Keras itself."""
import collections
import inspect
import warnings

import numpy as np
import pytest

import rnnlab
from tests.support.reference import require

_FAN_CASES = [  # (shape, input_axes, output_axes)
    ((30, 40, 50), [0, 1], [2]),
    ((30, 40, 50), [-1], [0, 1]),
    ((120, 25, 20), [0], [1, 2]),
    ((120, 25, 20), None, None),
    ((120, 25, 20), [0], None),  # only one of them: Keras falls back to the kernel layout
]


def _keras_initializers(keras, input_axes, output_axes):
    K = keras.initializers
    yield from (cls(seed=4, input_axes=input_axes, output_axes=output_axes) for cls in (
        K.GlorotUniform, K.GlorotNormal, K.HeUniform, K.HeNormal, K.LecunUniform, K.LecunNormal))
    yield K.VarianceScaling(scale=3.0, mode="fan_avg", distribution="untruncated_normal", seed=4,
                            input_axes=input_axes, output_axes=output_axes)
    yield K.VarianceScaling(scale=0.5, mode="fan_out", distribution="normal", input_axes=input_axes,
                            output_axes=output_axes)


def test_variance_scaling_fan_axes_match_keras():
    keras = require("keras")
    for shape, input_axes, output_axes in _FAN_CASES:
        for theirs in _keras_initializers(keras, input_axes, output_axes):
            config = keras.initializers.serialize(theirs)
            ours = rnnlab.initializers.deserialize(config)
            assert type(ours).__name__ == type(theirs).__name__
            assert ours.get_config() == theirs.get_config(), config
            assert rnnlab.initializers.serialize(ours)["config"] == config["config"]
            a, b = ours(shape), np.asarray(theirs(shape))
            assert a.shape == b.shape == shape and a.dtype == np.float32
            # same scale as Keras's draw (60000 values each: the ratio's standard error is about 0.4%)
            assert abs(a.std() / b.std() - 1) < 0.03, (config, a.std(), b.std())
            if theirs.distribution != "untruncated_normal":  # same support: the uniform limit, the truncation
                assert abs(a.max() / b.max() - 1) < 0.03 and abs(a.min() / b.min() - 1) < 0.03, config


def test_keras_file_with_fan_axes_loads(tmp_path):
    keras = require("keras")
    init = keras.initializers.HeNormal(seed=2, input_axes=[0], output_axes=[1])
    model = keras.Sequential([keras.Input((5, 3)), keras.layers.LSTM(4, kernel_initializer=init),
                              keras.layers.Dense(2, kernel_initializer=keras.initializers.VarianceScaling(
                                  scale=2.0, input_axes=[-1], output_axes=[0]))])
    path = tmp_path / "axes.keras"
    model.save(path)
    loaded = rnnlab.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert loaded.layers[0].get_config()["kernel_initializer"]["config"] == init.get_config()
    assert loaded.layers[1].get_config()["kernel_initializer"]["config"]["output_axes"] == [0]


_DRAWS = [  # (function name, args, kwargs): 20000 values each
    ("normal", ((100, 200),), {"mean": 1.5, "stddev": 2.0}),
    ("uniform", ((100, 200),), {"minval": -2.0, "maxval": 3.0, "dtype": "float64"}),
    ("truncated_normal", ((100, 200),), {"mean": -1.0, "stddev": 0.5}),
    ("randint", ((100, 200), 3, 11), {}),
    ("randint", ((20000,), -5, 5), {"dtype": "int64"}),
    ("gamma", ((100, 200),), {"alpha": 2.5}),
    ("binomial", ((100, 200),), {"counts": 12, "probabilities": 0.3}),
    ("beta", ((100, 200),), {"alpha": 2.0, "beta": 5.0}),
]


def test_random_draws_match_keras_distributions():
    keras = require("keras")
    for name in ("normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout", "categorical", "gamma",
                 "beta", "binomial"):
        assert inspect.signature(getattr(rnnlab.random, name)) == inspect.signature(getattr(keras.random, name))
    for name, args, kwargs in _DRAWS:
        ours = getattr(rnnlab.random, name)(*args, seed=7, **kwargs)
        theirs = np.asarray(getattr(keras.random, name)(*args, seed=7, **kwargs))
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, name
        assert ours.min() >= theirs.min() - 0.3 * theirs.std() and ours.max() <= theirs.max() + 0.3 * theirs.std()
        if name in ("uniform", "randint", "truncated_normal"):  # bounded: the same bounds
            assert ours.min() >= kwargs.get("minval", args[1] if len(args) > 1 else -np.inf)
        # 20000 draws: standard error of the mean is std/141, of the std about std/200
        assert abs(ours.mean() - theirs.mean()) < 0.03 * theirs.std() + 1e-9, (name, ours.mean(), theirs.mean())
        assert abs(ours.std() / theirs.std() - 1) < 0.03, (name, ours.std(), theirs.std())
        np.testing.assert_array_equal(ours, getattr(rnnlab.random, name)(*args, seed=7, **kwargs))


def test_random_categorical_dropout_and_shuffle_match_keras():
    keras = require("keras")
    logits = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]], np.float32))
    ours = rnnlab.random.categorical(logits, 20000, seed=3)
    theirs = np.asarray(keras.random.categorical(logits, 20000, seed=3))
    assert ours.shape == theirs.shape == (2, 20000) and ours.dtype == theirs.dtype
    for row in range(2):
        np.testing.assert_allclose(np.bincount(ours[row], minlength=3) / 20000,
                                   np.bincount(theirs[row], minlength=3) / 20000, atol=0.02)
    x = np.random.default_rng(0).normal(size=(400, 50)).astype(np.float32)
    for noise_shape in (None, (None, 1), (1, 50)):
        ours = rnnlab.random.dropout(x, 0.3, noise_shape=noise_shape, seed=2)
        theirs = np.asarray(keras.random.dropout(x, 0.3, noise_shape=noise_shape, seed=2))
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        kept = ours != 0
        np.testing.assert_allclose(ours[kept], x[kept] / 0.7, rtol=1e-6)  # kept values scaled as Keras's
        np.testing.assert_allclose(theirs[theirs != 0], x[theirs != 0] / 0.7, rtol=1e-6)
        decisions = 20000 if noise_shape is None else 400 if noise_shape[0] is None else 50
        bound = 5 * np.sqrt(0.21 / decisions)  # five standard errors of the kept fraction
        assert abs(kept.mean() - 0.7) < bound and abs((theirs != 0).mean() - 0.7) < bound, noise_shape
        if noise_shape == (None, 1):
            assert (kept == kept[:, :1]).all()
    y = np.arange(72).reshape(2, 12, 3)
    ours, theirs = rnnlab.random.shuffle(y, axis=1, seed=1), np.asarray(keras.random.shuffle(y, axis=1, seed=1))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(np.sort(ours, axis=1), y)
    for shuffled in (ours, theirs):  # whole slices y[:, i, :] move together
        assert (shuffled[1] - shuffled[0] == 36).all() and (np.diff(shuffled, axis=2) == 1).all()
    assert not np.array_equal(ours, y)


def test_seed_semantics_follow_keras():
    keras = require("keras")
    R = rnnlab.random
    assert R.SeedGenerator(5).get_config()["seed"] == keras.random.SeedGenerator(5).get_config()["seed"]
    first, second = R.SeedGenerator(42), R.SeedGenerator(42)
    a, b = R.normal((5,), seed=first), R.normal((5,), seed=first)
    assert not np.array_equal(a, b)  # the state advances
    np.testing.assert_array_equal(a, R.normal((5,), seed=second))  # the same seed, the same sequence
    np.testing.assert_array_equal(b, R.normal((5,), seed=second))
    assert not np.array_equal(R.uniform((5,)), R.uniform((5,)))  # seed=None: fresh values
    rnnlab.utils.set_random_seed(3)
    c = R.uniform((5,))
    rnnlab.utils.set_random_seed(3)
    np.testing.assert_array_equal(c, R.uniform((5,)))
    for bad in ("seed", 1.5):
        with pytest.raises(ValueError, match="seed"):
            R.normal((2,), seed=bad)
    with pytest.raises(ValueError, match="dtype"):
        R.uniform((2,), dtype="int32")
    with pytest.raises(ValueError, match="dtype"):
        R.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="logits"):
        R.categorical(np.zeros(3), 2)


Point = collections.namedtuple("Point", ["x", "y"])
_STRUCTURES = [
    [(1, 2), [3], {"b": 4, "a": (5, None)}],
    {"z": [1, {"q": 2, "p": 3}], "a": Point(4, [5, 6]), "m": collections.OrderedDict([("k", 7), ("c", 8)])},
    (1,), [], None, 7, "text", [[[]], ()], collections.deque([1, (2, 3)]),
    {"shape": (None, 4), "shapes": [(2, 3), [None]], "name": "s"},
]


def test_tree_functions_match_keras():
    keras = require("keras")
    T, KT = rnnlab.tree, keras.tree
    for structure in _STRUCTURES:
        assert T.is_nested(structure) == KT.is_nested(structure)
        assert T.flatten(structure) == KT.flatten(structure), structure
        assert T.flatten_with_path(structure) == KT.flatten_with_path(structure)
        flat = [f"v{i}" for i in range(len(KT.flatten(structure)))]
        ours, theirs = T.pack_sequence_as(structure, flat), KT.pack_sequence_as(structure, flat)
        assert ours == theirs and type(ours) is type(theirs) and repr(ours) == repr(theirs)
        tag = lambda leaf: ("leaf", leaf)  # noqa: E731
        assert repr(T.map_structure(tag, structure)) == repr(KT.map_structure(tag, structure))
        assert repr(T.map_structure(tag, structure, none_is_leaf=False)) == \
            repr(KT.map_structure(tag, structure, none_is_leaf=False))
        assert repr(T.map_structure(lambda a, b: (a, b), structure, structure)) == \
            repr(KT.map_structure(lambda a, b: (a, b), structure, structure))
        assert repr(T.lists_to_tuples(structure)) == repr(KT.lists_to_tuples(structure))
        assert repr(T.map_shape_structure(tag, structure)) == repr(KT.map_shape_structure(tag, structure))
        for top_down in (True, False):
            ours_seen, theirs_seen = [], []
            T.traverse(lambda node: ours_seen.append(repr(node)), structure, top_down=top_down)
            KT.traverse(lambda node: theirs_seen.append(repr(node)), structure, top_down=top_down)
            assert ours_seen == theirs_seen
            replace = lambda node: T.MAP_TO_NONE if node == 3 else (  # noqa: E731
                "two" if node == 2 else None)
            kreplace = lambda node: KT.MAP_TO_NONE if node == 3 else ("two" if node == 2 else None)  # noqa: E731
            assert repr(T.traverse(replace, structure, top_down)) == repr(KT.traverse(kreplace, structure, top_down))
    shallow, deep = [0, {"a": 0, "b": 0}], [[1, 2], {"b": (3, 4), "a": 5}]
    assert T.map_structure_up_to(shallow, str, deep) == KT.map_structure_up_to(shallow, str, deep)
    assert T.map_structure_up_to(shallow, lambda a, b: a + b, [1, {"a": 2, "b": 3}], [10, {"a": 20, "b": 30}]) == \
        KT.map_structure_up_to(shallow, lambda a, b: a + b, [1, {"a": 2, "b": 3}], [10, {"a": 20, "b": 30}])
    for tree in (T, KT):  # Keras 3.15 takes a None in the shallow structure for an empty node
        with pytest.raises(ValueError, match="same nested structure"):
            tree.map_structure_up_to([None, 0], str, deep)


def test_tree_mismatches_are_refused_like_keras():
    keras = require("keras")
    T, KT = rnnlab.tree, keras.tree
    pairs = [([1, 2], (1, 2)), ([1, 2], [1, 2, 3]), ({"a": 1}, {"b": 1}), ([1, [2]], [1, 2]), (Point(1, 2), (1, 2)),
             ({"a": 1}, collections.OrderedDict(a=5)), ([(1, 2)], [(3, 4)]), (None, 1), ([1], [None])]
    for a, b in pairs:
        try:
            KT.assert_same_structure(a, b)
            keras_same = True
        except (ValueError, TypeError):
            keras_same = False
        if keras_same:
            T.assert_same_structure(a, b)
        else:
            with pytest.raises(ValueError, match="same nested structure"):
                T.assert_same_structure(a, b)
        try:
            KT.assert_same_paths(a, b)
            T.assert_same_paths(a, b)
        except ValueError:
            with pytest.raises(ValueError, match="same paths"):
                T.assert_same_paths(a, b)
    with pytest.raises(ValueError, match="flat_sequence"):
        T.pack_sequence_as([1, (2, 3)], [1, 2])
    with pytest.raises(ValueError, match="flat_sequence"):
        T.pack_sequence_as([1, (2, 3)], [1, 2, 3, 4])


def _fresh_names(keras):
    """Both sessions' default names start again (metric names count the metrics made before, as layer names)."""
    keras.backend.clear_session()
    rnnlab.utils.clear_session()


def _iou_cases(keras):
    yield "IoU", dict(num_classes=4, target_class_ids=[0, 2, 3]), "sparse"
    yield "IoU", dict(num_classes=4, target_class_ids=[1], ignore_class=2, dtype="float32"), "sparse"
    yield "MeanIoU", dict(num_classes=4), "sparse"
    yield "MeanIoU", dict(num_classes=4, ignore_class=-1, dtype="float64"), "sparse"
    yield "MeanIoU", dict(num_classes=4, sparse_y_true=False, sparse_y_pred=False, dtype="float32"), "one_hot"
    yield "OneHotIoU", dict(num_classes=4, target_class_ids=[0, 3], dtype="float32"), "one_hot"
    yield "OneHotMeanIoU", dict(num_classes=4), "one_hot"
    yield "OneHotMeanIoU", dict(num_classes=4, sparse_y_pred=True, ignore_class=1, dtype="float32"), "one_hot_sparse"
    yield "BinaryIoU", dict(target_class_ids=[1], threshold=0.3, dtype="float32"), "binary"
    yield "BinaryIoU", dict(), "binary"


def _iou_batch(rng, kind):
    labels = rng.integers(-1, 5, size=(6, 5))  # some outside [0, 4)
    scores = rng.normal(size=(6, 5, 4)).astype(np.float32)
    if kind == "sparse":
        return labels, rng.integers(0, 4, size=(6, 5)).astype(np.float32)
    if kind == "binary":
        return rng.integers(0, 2, size=(6, 5)), rng.uniform(size=(6, 5)).astype(np.float32)
    one_hot = np.eye(4, dtype=np.float32)[np.clip(labels, 0, 3)]
    return one_hot, (scores.argmax(-1) if kind == "one_hot_sparse" else scores)


def test_iou_metrics_match_keras_over_weighted_batches():
    keras = require("keras")
    rng = np.random.default_rng(5)
    for class_name, kwargs, kind in _iou_cases(keras):
        _fresh_names(keras)
        ours, theirs = getattr(rnnlab.metrics, class_name)(**kwargs), getattr(keras.metrics, class_name)(**kwargs)
        assert ours.get_config() == theirs.get_config(), class_name
        for step in range(4):
            y_true, y_pred = _iou_batch(rng, kind)
            weight = [None, rng.uniform(0, 3, size=(6, 5)), rng.integers(0, 3, size=6)[:, None] * np.ones((6, 5)),
                      rng.integers(0, 4, size=(6, 5))][step]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Keras's (and rnnlab's) float-weights-into-int warning
                ours.update_state(y_true, y_pred, sample_weight=weight)
                theirs.update_state(y_true, y_pred, sample_weight=weight)
            np.testing.assert_allclose(ours.total_cm, np.asarray(theirs.total_cm), rtol=1e-5, err_msg=class_name)
            np.testing.assert_allclose(ours.result(), float(theirs.result()), rtol=1e-5, err_msg=class_name)
        ours.reset_state()
        theirs.reset_state()
        assert ours.result() == float(theirs.result()) == 0.0
        clone = rnnlab.metrics.deserialize(keras.metrics.serialize(theirs))
        assert type(clone).__name__ == class_name and clone.get_config() == theirs.get_config()
    with pytest.raises(ValueError, match="target_class_ids"):
        rnnlab.metrics.IoU(num_classes=2, target_class_ids=[2])
    with pytest.raises(ValueError, match="num_classes"):
        rnnlab.metrics.MeanIoU(num_classes=0)


def _keras_split_as_arrays(split):
    rows = list(split.as_numpy_iterator())
    if isinstance(rows[0], tuple):
        return tuple(np.stack(column) for column in zip(*rows))
    return np.stack(rows)


def test_split_dataset_matches_keras():
    keras = require("keras")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20, 3, 2)).astype(np.float32), rng.integers(0, 5, size=20)
    for dataset in (x, (x, y), [x, y]):
        for sizes in [dict(left_size=0.3), dict(right_size=7), dict(left_size=5, right_size=0.5),
                      dict(left_size=0.25, right_size=0.5), dict(left_size=12, shuffle=True, seed=4),
                      dict(right_size=0.45, shuffle=True, seed=11)]:
            ours = rnnlab.utils.split_dataset(dataset, **sizes)
            theirs = [_keras_split_as_arrays(part) for part in keras.utils.split_dataset(dataset, **sizes)]
            for our_part, their_part in zip(ours, theirs):
                if isinstance(dataset, np.ndarray):
                    np.testing.assert_array_equal(our_part, their_part)
                else:
                    assert isinstance(our_part, tuple) and len(our_part) == len(their_part) == 2
                    for a, b in zip(our_part, their_part):
                        np.testing.assert_array_equal(a, b)
    for bad in [dict(), dict(left_size=0), dict(left_size=20), dict(left_size=1.5), dict(left_size="3"),
                dict(left_size=0.6, right_size=0.6), dict(left_size=15, right_size=10), dict(left_size=0.01)]:
        with pytest.raises((ValueError, TypeError)) as theirs:
            keras.utils.split_dataset(x, **bad)
        with pytest.raises(theirs.type, match="size"):
            rnnlab.utils.split_dataset(x, **bad)
    with pytest.raises(ValueError, match="same number of samples"):
        rnnlab.utils.split_dataset((x, y[:5]), left_size=0.5)
    with pytest.raises(TypeError, match="dataset"):
        rnnlab.utils.split_dataset({"x": x}, left_size=0.5)


def test_source_inputs_and_keras_tensors_match_keras():
    keras = require("keras")
    found = []
    for lib in (rnnlab, keras):
        a, b, c = lib.Input((3,)), lib.Input((3,)), lib.Input((3,))
        x = lib.layers.Dense(2)(b)
        y = lib.layers.Add()([x, lib.layers.Dense(2)(a), lib.layers.Dense(2)(x)])
        inputs = [a, b, c]
        found.append(([inputs.index(t) for t in lib.utils.get_source_inputs(y)],
                      [inputs.index(t) for t in lib.utils.get_source_inputs(a)],
                      lib.utils.is_keras_tensor(y), lib.utils.is_keras_tensor(np.ones(2))))
        assert lib.utils.get_source_inputs(np.ones(2)) is not None
    assert found[0] == found[1]


def test_serialize_keras_object_matches_keras_and_refuses_code():
    keras = require("keras")
    _fresh_names(keras)
    pairs = [(rnnlab.initializers.HeNormal(seed=1), keras.initializers.HeNormal(seed=1)),
             (rnnlab.losses.MeanSquaredError(), keras.losses.MeanSquaredError()),
             (rnnlab.regularizers.L1L2(0.1, 0.2), keras.regularizers.L1L2(0.1, 0.2)),
             (rnnlab.metrics.MeanIoU(3), keras.metrics.MeanIoU(3)),
             (rnnlab.constraints.MaxNorm(2.0), keras.constraints.MaxNorm(2.0)),
             (rnnlab.activations.relu, keras.activations.relu),
             (rnnlab.losses.mean_squared_error, keras.losses.mean_squared_error),
             (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(6, dtype=np.float32).reshape(2, 3)),
             ([1, (2.5, "a"), {"k": None}], [1, (2.5, "a"), {"k": None}])]
    for ours, theirs in pairs:
        config = keras.saving.serialize_keras_object(theirs)
        assert rnnlab.saving.serialize_keras_object(ours) == config
        back = rnnlab.utils.deserialize_keras_object(config)
        if hasattr(theirs, "get_config"):
            assert type(back).__name__ == type(theirs).__name__ and back.get_config() == theirs.get_config()
        elif callable(theirs):
            assert back is ours
        else:
            np.testing.assert_array_equal(np.asarray(back, dtype=object), np.asarray(theirs, dtype=object))
    for layer in (keras.layers.Dense(3, activation="tanh"), keras.layers.LSTM(4, return_sequences=True)):
        built = rnnlab.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
        assert type(built).__name__ == type(layer).__name__
        assert {k: built.get_config()[k] for k in ("units", "activation")} == \
            {k: layer.get_config()[k] for k in ("units", "activation")}
    optimizer = rnnlab.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(keras.optimizers.Adam(learning_rate=0.01)))
    assert type(optimizer).__name__ == "Adam" and np.isclose(optimizer.get_config()["learning_rate"], 0.01)
    lambda_config = keras.saving.serialize_keras_object(lambda x: x + 1)
    with pytest.raises(ValueError, match="lambda"):
        rnnlab.saving.deserialize_keras_object(lambda_config, safe_mode=False)
    with pytest.raises(ValueError, match="lambda"):
        rnnlab.saving.serialize_keras_object(lambda x: x)
    with pytest.raises(TypeError, match="Could not locate class 'Evil'"):
        rnnlab.saving.deserialize_keras_object({"module": "os", "class_name": "Evil", "config": {},
                                                "registered_name": None})
    with pytest.raises(ValueError, match="Unknown function 'system'"):
        rnnlab.saving.deserialize_keras_object({"module": "os", "class_name": "function", "config": "system",
                                                "registered_name": "function"})
