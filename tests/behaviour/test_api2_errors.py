"""Errors of the keras.random, keras.tree, IoU, split_dataset and serialization helpers: each names the argument,
what was expected and what was received."""
import numpy as np
import pytest

import rnnlab


def test_random_draws_refuse_bad_arguments():
    R = rnnlab.random
    with pytest.raises(ValueError, match="seed"):
        R.SeedGenerator(seed=1.5)
    with pytest.raises(ValueError, match="rate"):
        R.dropout(np.ones(3), 1.5)
    with pytest.raises(ValueError, match="noise_shape"):
        R.dropout(np.ones((2, 3)), 0.5, noise_shape=(2,))
    with pytest.raises(ValueError, match="axis"):
        R.shuffle(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="minval"):
        R.randint((2,), 3, 3)
    with pytest.raises(ValueError, match="shape"):
        R.normal((2, -1))
    with pytest.raises(TypeError, match="shape"):
        R.uniform("big")


def test_random_seed_generator_state_and_config():
    generator = rnnlab.random.SeedGenerator(9, name="gen")
    assert generator.get_config() == {"seed": 9, "name": "gen"}
    assert list(generator.next()) == [9, 0] and list(generator.state) == [9, 1]
    clone = rnnlab.random.SeedGenerator.from_config(generator.get_config())
    assert list(clone.state) == [9, 0]
    # draws with the same int seed repeat; negative int seeds are valid, as in Keras
    np.testing.assert_array_equal(rnnlab.random.normal((3,), seed=-4), rnnlab.random.normal((3,), seed=-4))


def test_tree_refuses_mismatches():
    with pytest.raises(ValueError, match="same nested structure"):
        rnnlab.tree.map_structure(lambda a, b: a, [1, 2], [1, [2]])
    with pytest.raises(ValueError, match="at least one structure"):
        rnnlab.tree.map_structure(len)
    with pytest.raises(ValueError, match="same paths"):
        rnnlab.tree.assert_same_paths({"a": 1}, {"b": 1})
    with pytest.warns(DeprecationWarning, match="check_types"):
        rnnlab.tree.assert_same_structure([1], [2], check_types=True)


def test_iou_refuses_bad_arguments():
    with pytest.raises(ValueError, match="target_class_ids"):
        rnnlab.metrics.IoU(3, target_class_ids=[-1])
    with pytest.raises(TypeError, match="target_class_ids"):
        rnnlab.metrics.IoU(3, target_class_ids=["a"])
    metric = rnnlab.metrics.MeanIoU(3)
    with pytest.raises(ValueError, match="same number of entries"):
        metric.update_state([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="sample_weight"):
        metric.update_state([0, 1, 2], [0, 1, 2], sample_weight=[1, 2])


def test_split_and_serialization_refusals():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="preferred_backend"):
        rnnlab.utils.split_dataset(x, left_size=0.5, preferred_backend="torch")
    with pytest.raises(ValueError, match="NumPy arrays"):
        rnnlab.utils.split_dataset((x, [1] * 10), left_size=0.5)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        rnnlab.saving.deserialize_keras_object({}, module_objects={})
    with pytest.raises(TypeError, match="Cannot serialize"):
        rnnlab.saving.serialize_keras_object(object())
    with pytest.raises(TypeError, match="custom_objects"):
        rnnlab.saving.deserialize_keras_object({"class_name": "Dense", "config": {}}, custom_objects=[1])
