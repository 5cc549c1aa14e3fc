"""Bad input that Keras programs meet, each with a clear error: a generator that yields the wrong structure, an
unknown regularizer name, a tf.data call after the import swap.  (A steps_per_epoch that overruns a finite
generator warns as Keras does: ``tests/frameworks/test_data_utils.py`` checks it against Keras.)"""
import itertools

import numpy as np
import pytest

import rnnlab
import rnnlab as tf
from rnnlab import layers

X, Y = np.zeros((8, 5, 3), "float32"), np.zeros((8, 1), "float32")


def _model():
    model = rnnlab.Sequential([rnnlab.Input((5, 3)), layers.LSTM(4), layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def _forever(*batches):
    yield from itertools.cycle(batches)


@pytest.mark.parametrize("batches,error,message", [
    ([(X, Y, None, Y)], ValueError, r"Batch 0 of `x` \(a generator\): a batch must be x, \(x,\), \(x, y\) or "
                                    r"\(x, y, sample_weight\); received a tuple of 4 items"),
    (["text"], TypeError, r"Batch 0 of `x` \(a generator\): a batch must be .*; received str"),
    ([None], TypeError, r"Batch 0 of `x` \(a generator\): a batch must be .*; received NoneType"),
    ([(X, Y[:4])], ValueError, r"Batch 0 .*`x` and `y` must have the same number of samples; received x sizes \[8\] "
                               r"and y sizes \[4\]"),
    ([(X[:, :, :2], Y)], ValueError, r"Batch 0 .*must have shape \(None, 5, 3\) .*received shape \(8, 5, 2\)"),
    ([(X, Y), X], ValueError, r"Batch 1 of `x` \(a generator\): it has no targets"),
    ([(X, np.full((8, 1), "y"))], TypeError, r"Batch 0 .*`y` \(output 0\) must be numeric"),
], ids=["four-items", "string", "none", "rows", "features", "no-targets-later", "text-targets"])
def test_a_generator_of_the_wrong_structure_is_refused_by_batch(batches, error, message):
    with pytest.raises(error, match=message):
        _model().fit(_forever(*batches), steps_per_epoch=3, verbose=0)


def test_an_unknown_regularizer_name_is_refused():
    with pytest.raises(ValueError, match=r"`kernel_regularizer` must be a regularizer name, one of \['l1', 'l1l2', "
                                         r"'l2', .*received kernel_regularizer='l3'"):
        layers.LSTM(3, kernel_regularizer="l3")
    with pytest.raises(ValueError, match=r"`recurrent_regularizer` .*received recurrent_regularizer='l1_l2' \(Keras 3 "
                                         r"spells it \"l1l2\""):
        layers.GRU(3, recurrent_regularizer="l1_l2")


def test_a_tf_data_call_names_tf_data():
    with pytest.raises(AttributeError, match=r"tf\.data is TensorFlow's input pipeline"):
        tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    dataset = rnnlab.utils.timeseries_dataset_from_array(np.zeros((20, 3)), None, sequence_length=4)
    with pytest.raises(AttributeError, match=r"`prefetch` is a tf\.data\.Dataset method"):
        dataset.prefetch(2)


def test_class_weight_must_be_a_dict():
    with pytest.raises(TypeError, match=r"`class_weight` must be a dict mapping class ids to weights; received list"):
        _model().fit(X, Y, class_weight=[1.0, 2.0], verbose=0)
