"""The data utilities against real Keras, and fit/evaluate/predict on data objects.

- ``pad_sequences``, ``to_categorical``, ``normalize`` and ``timeseries_dataset_from_array`` against Keras 3, and
  the Keras 2 paths (``preprocessing.sequence``, ``np_utils``, ``TimeseriesGenerator``) against tf_keras.  Inputs
  and arguments are random; outputs must be equal, dtype included.
- A ``PyDataset``, a generator and the timeseries dataset train, evaluate and predict as the same arrays do, and
  as Keras does on the same weights; the data set is read one batch at a time.
- Bad input raises a ``ValueError``/``TypeError`` that names the argument.
"""
import random
import tracemalloc
import warnings

import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from tests.support.reference import require


@pytest.fixture(scope="module")
def tf_keras(tf):
    """TF-Keras 2 (the reference for the Keras 2 paths), imported lazily."""
    return require("tf_keras")


def _assert_same(actual, expected):
    """Equal values, shapes and dtypes (a Keras tensor is read as NumPy first)."""
    expected = np.asarray(expected.numpy() if hasattr(expected, "numpy") else expected)
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_array_equal(actual, expected)


# ------------------------------------------------------------------------------------------------ pad_sequences
def _random_sequences(rng, item_shape):
    """1 to 7 sequences of 0 to 9 steps, as lists or arrays, of ints or floats."""
    count = int(rng.integers(1, 8))
    lengths = rng.integers(0, 10, count)
    lengths[rng.integers(count)] = max(1, lengths.max())  # at least one non-empty sequence
    floats = bool(rng.integers(2))
    out = []
    for n in lengths:
        values = rng.normal(0, 20, (n,) + item_shape) if floats else rng.integers(-9, 60, (n,) + item_shape)
        out.append(values if rng.integers(2) else values.tolist())
    return out


@pytest.mark.parametrize("dtype", ["int32", "int64", "int16", "float32", "float64"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_pad_sequences_matches_keras(keras, padding, truncating, dtype):
    """12 random draws per combination (240 in all): sequences of scalars or of 2-vectors, maxlen None or
    shorter/longer than the longest, value 0, -1, 7 or 2.5."""
    rng = np.random.default_rng([len(dtype), padding == "pre", truncating == "pre"])
    for _ in range(12):
        item_shape = () if rng.integers(3) else (2,)
        sequences = _random_sequences(rng, item_shape)
        maxlen = None if rng.integers(3) == 0 else int(rng.integers(1, 13))
        value = [0.0, -1, 7, 2.5][int(rng.integers(4))]
        kwargs = dict(maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value)
        _assert_same(rnnlab.utils.pad_sequences(sequences, **kwargs), keras.utils.pad_sequences(sequences, **kwargs))


def test_pad_sequences_defaults_strings_and_arrays_match_keras(keras):
    rng = np.random.default_rng(0)
    sequences = [rng.integers(1, 100, n).tolist() for n in (3, 0, 7, 1)]
    _assert_same(rnnlab.utils.pad_sequences(sequences), keras.utils.pad_sequences(sequences))  # int32, pre, pre
    imdb_like = np.empty(3, dtype=object)  # keras.datasets.imdb gives an object array of lists
    imdb_like[:] = [rng.integers(1, 50, n).tolist() for n in (5, 12, 2)]
    _assert_same(rnnlab.utils.pad_sequences(imdb_like, maxlen=8), keras.utils.pad_sequences(imdb_like, maxlen=8))
    matrix = rng.integers(0, 9, (4, 6))  # a 2-D array is a list of equal sequences
    _assert_same(rnnlab.utils.pad_sequences(matrix, maxlen=4), keras.utils.pad_sequences(matrix, maxlen=4))
    words = [["a", "bb"], ["ccc"], []]
    for kwargs in (dict(dtype=object, value="<pad>"), dict(dtype="<U5", value="-"),
                   dict(dtype=object, value="_", padding="post", maxlen=1)):
        _assert_same(rnnlab.utils.pad_sequences(words, **kwargs), keras.utils.pad_sequences(words, **kwargs))
    ragged_floats = [[0.5, 1.5], [2.7]]  # cast to int32 as NumPy casts
    _assert_same(rnnlab.utils.pad_sequences(ragged_floats), keras.utils.pad_sequences(ragged_floats))
    # maxlen=0: (n, 0); Keras agrees with truncating="post" (it fails with "pre")
    _assert_same(rnnlab.utils.pad_sequences([[1, 2], [3]], maxlen=0, truncating="post"),
                 keras.utils.pad_sequences([[1, 2], [3]], maxlen=0, truncating="post"))
    assert rnnlab.utils.pad_sequences([[1, 2], [3]], maxlen=0).shape == (2, 0)


def test_keras2_pad_sequences_matches_tf_keras(tf_keras):
    """rnnlab.preprocessing.sequence.pad_sequences against tf_keras's, 40 random draws."""
    from rnnlab.preprocessing.sequence import pad_sequences

    rng = np.random.default_rng(2)
    for _ in range(40):
        sequences = _random_sequences(rng, ())
        kwargs = dict(maxlen=int(rng.integers(1, 12)), padding=["pre", "post"][int(rng.integers(2))],
                      truncating=["pre", "post"][int(rng.integers(2))], dtype=["int32", "float32"][int(rng.integers(2))])
        _assert_same(pad_sequences(sequences, **kwargs),
                     tf_keras.preprocessing.sequence.pad_sequences(sequences, **kwargs))


# ------------------------------------------------------------------------------------------------ to_categorical
_LABEL_SHAPES = [(), (1,), (7,), (7, 1), (3, 4), (3, 4, 1), (2, 3, 2)]


@pytest.mark.parametrize("shape", _LABEL_SHAPES, ids=str)
def test_to_categorical_matches_keras(keras, tf_keras, shape):
    """Keras 3 (float64) and Keras 2 (float32, and an explicit dtype) outputs, 6 draws per shape: ints, floats
    that are whole numbers, lists, num_classes None or larger than needed."""
    rng = np.random.default_rng(len(shape) * 10 + sum(shape))
    for draw in range(6):
        ids = rng.integers(0, 6, shape)
        x = ids.astype("float32") if draw % 3 == 1 else (ids.tolist() if draw % 3 == 2 else ids)
        num_classes = None if draw < 3 else int(ids.max(initial=0)) + 1 + draw
        _assert_same(rnnlab.utils.to_categorical(x, num_classes), keras.utils.to_categorical(x, num_classes))
        _assert_same(rnnlab.utils.np_utils.to_categorical(x, num_classes),
                     tf_keras.utils.to_categorical(x, num_classes))
        _assert_same(rnnlab.utils.to_categorical(x, num_classes, dtype="int32"),
                     tf_keras.utils.to_categorical(x, num_classes, dtype="int32"))


# ------------------------------------------------------------------------------------------------ normalize
@pytest.mark.parametrize("order", [1, 2, 3, np.inf])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_normalize_matches_keras(keras, tf_keras, dtype, order):
    """Arrays of rank 1 to 3 with some all-zero rows, along every axis.  Keras 3 for axis != 0 (it divides by the
    wrong axis for axis=0), and Keras 2 for every axis."""
    rng = np.random.default_rng([len(dtype), int(min(order, 9))])
    for shape in [(5,), (4, 3), (3, 4, 2)]:
        x = rng.normal(0, 3, shape)
        x[0] = 0  # all-zero slices: their zero norms leave them unchanged
        x[..., 0] = 0
        x = x.astype(dtype)
        for axis in range(-len(shape), len(shape)):
            ours = rnnlab.utils.normalize(x, axis=axis, order=order)
            if axis % len(shape) != 0 or len(shape) == 1:
                _assert_same(ours, keras.utils.normalize(x, axis=axis, order=order))
            _assert_same(ours, tf_keras.utils.normalize(x, axis=axis, order=order))
            _assert_same(rnnlab.utils.np_utils.normalize(x, axis=axis, order=order), ours)


def test_normalize_list_is_float32_as_keras(keras):
    x = [[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]
    ours, theirs = rnnlab.utils.normalize(x), keras.utils.normalize(x).numpy()
    assert ours.dtype == theirs.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------------ timeseries
def _keras_batches(dataset):
    out = []
    for batch in dataset:
        out.append(tuple(b.numpy() for b in batch) if isinstance(batch, tuple) else (batch.numpy(),))
    return out


def _our_batches(dataset):
    return [batch if isinstance(batch, tuple) else (batch,) for batch in dataset]


def _random_timeseries_args(rng):
    n = int(rng.integers(12, 60))
    features = [(), (1,), (3,)][int(rng.integers(3))]
    data = rng.normal(size=(n,) + features).astype(["float32", "float64"][int(rng.integers(2))])
    if rng.integers(4) == 0:
        data = rng.integers(0, 100, (n,) + features)  # int64
    targets = None if rng.integers(4) == 0 else (np.arange(n) * 10 if rng.integers(2) else rng.normal(size=(n, 2)))
    start = None if rng.integers(2) else int(rng.integers(0, n // 3))
    end = None if rng.integers(2) else int(rng.integers(n // 2, n))
    kwargs = dict(sequence_length=int(rng.integers(1, 6)), sequence_stride=int(rng.integers(1, 4)),
                  sampling_rate=int(rng.integers(1, 3)), batch_size=[None, 1, 4, 7, 128][int(rng.integers(5))],
                  start_index=start, end_index=end)
    return data, targets, kwargs


def test_timeseries_dataset_matches_keras(keras):
    """60 random series and argument sets (lengths, strides, rates, batch sizes incl. None, start/end indices,
    targets or none, float32/float64/int64): the same batches in the same order, dtype included, and the same
    len()."""
    rng = np.random.default_rng(3)
    for _ in range(60):
        data, targets, kwargs = _random_timeseries_args(rng)
        ours = rnnlab.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        theirs = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        ours_batches, theirs_batches = _our_batches(ours), _keras_batches(theirs)
        assert len(ours) == len(theirs) == len(ours_batches) == len(theirs_batches), kwargs
        for a, b in zip(ours_batches, theirs_batches):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                _assert_same(np.asarray(x), y)


def test_timeseries_dataset_shuffled_has_keras_windows(keras):
    """shuffle=True: the same set of (window, target) pairs as Keras, in batches of the same sizes; the order
    comes from `seed` (so it repeats for a seed) and changes from pass to pass, as tf.data's reshuffling does."""
    rng = np.random.default_rng(4)
    for trial in range(10):
        data = rng.normal(size=(int(rng.integers(30, 80)), 2)).astype("float32")
        targets = np.arange(len(data))
        kwargs = dict(sequence_length=int(rng.integers(2, 6)), sequence_stride=int(rng.integers(1, 3)),
                      sampling_rate=int(rng.integers(1, 3)), batch_size=int(rng.integers(3, 9)), shuffle=True, seed=trial)
        ours = rnnlab.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        theirs = keras.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        first, second, theirs = _our_batches(ours), _our_batches(ours), _keras_batches(theirs)
        assert [len(b[1]) for b in first] == [len(b[1]) for b in theirs]

        def pairs(batches):
            return sorted((int(t), w.tobytes()) for x, y in batches for w, t in zip(x, y))

        assert pairs(first) == pairs(second) == pairs(theirs)
        assert [b[1].tolist() for b in first] != [b[1].tolist() for b in second]  # a new order each pass
        again = rnnlab.utils.timeseries_dataset_from_array(data, targets, **kwargs)
        assert [b[1].tolist() for b in _our_batches(again)] == [b[1].tolist() for b in first]


def test_timeseries_dataset_lists_get_tensorflow_dtypes(keras):
    """Python lists: Keras's dataset yields float32/int32 (TensorFlow's types for them), and so does rnnlab's."""
    data, targets = [[0.5, 1.0], [2.0, 3.5], [4.0, 5.0], [6.5, 7.0]], [1, 2, 3, 4]
    ours = _our_batches(rnnlab.utils.timeseries_dataset_from_array(data, targets, 2, batch_size=2))
    theirs = _keras_batches(keras.utils.timeseries_dataset_from_array(data, targets, 2, batch_size=2))
    for a, b in zip(ours, theirs):
        for x, y in zip(a, b):
            _assert_same(x, y)


def test_timeseries_dataset_keras2_path_take_and_tf_data_refusal():
    ds = rnnlab.preprocessing.timeseries_dataset_from_array(np.arange(20.0), np.arange(20), 4, batch_size=3)
    assert len(ds) == 6
    assert [len(y) for _, y in ds.take(2)] == [3, 3] and len(ds.take(2)) == 2 and len(ds.take(-1)) == 6
    x, y = next(ds.as_numpy_iterator())
    np.testing.assert_array_equal(x[1], [1.0, 2.0, 3.0, 4.0])
    for method in ("prefetch", "map", "cache", "batch", "shuffle", "repeat", "unbatch"):
        with pytest.raises(AttributeError, match=rf"`{method}` is a tf.data.Dataset method"):
            getattr(ds, method)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ds.nonsense  # noqa: B018  (any other missing attribute is an ordinary AttributeError)


# ------------------------------------------------------------------------------------------------ TimeseriesGenerator
def test_timeseries_generator_matches_tf_keras(tf_keras):
    """40 random argument sets (length, sampling_rate, stride, start/end, reverse, batch_size, 1-D/2-D data, list
    data): every batch equals TF-Keras 2's, dtype included; shuffle=True draws the same rows from the same
    np.random.seed."""
    from rnnlab.preprocessing.sequence import TimeseriesGenerator

    rng = np.random.default_rng(5)
    checked = 0
    for trial in range(40):
        n = int(rng.integers(15, 70))
        data = rng.normal(size=(n, 2)).astype("float32") if trial % 3 else np.arange(n)
        targets = rng.normal(size=(n, 1)) if trial % 2 else np.arange(n) * 3
        if trial % 7 == 0:
            data, targets = data.tolist(), targets.tolist()
        length = int(rng.integers(1, 8))
        kwargs = dict(length=length, sampling_rate=int(rng.integers(1, 4)), stride=int(rng.integers(1, 4)),
                      start_index=int(rng.integers(0, 4)), reverse=bool(rng.integers(2)),
                      batch_size=int(rng.integers(1, 10)), shuffle=trial % 5 == 0)
        if rng.integers(2):
            kwargs["end_index"] = int(rng.integers(length + kwargs["start_index"], n))
        ours = TimeseriesGenerator(data, targets, **kwargs)
        theirs = tf_keras.preprocessing.sequence.TimeseriesGenerator(data, targets, **kwargs)
        assert len(ours) == len(theirs)
        for i in range(len(ours)):
            np.random.seed(trial * 100 + i)
            ours_batch = ours[i]
            np.random.seed(trial * 100 + i)
            theirs_batch = theirs[i]
            for a, b in zip(ours_batch, theirs_batch):
                _assert_same(a, b)
            checked += 1
    assert checked >= 150


def test_timeseries_generator_trains_and_refuses_bad_arguments():
    from rnnlab.preprocessing.sequence import TimeseriesGenerator

    series = np.sin(np.arange(200) / 5.0)[:, None].astype("float32")
    gen = TimeseriesGenerator(series, series, length=8, batch_size=16)
    assert isinstance(gen, rnnlab.utils.Sequence)
    model = rnnlab.Sequential([rnnlab.Input((8, 1)), layers.LSTM(4), layers.Dense(1)])
    model.compile("adam", "mse")
    assert len(model.fit(gen, epochs=2, verbose=0).history["loss"]) == 2
    with pytest.raises(IndexError, match=r"index 99 is out of range: it has 12 batches"):
        gen[99]
    with pytest.raises(ValueError, match="`data` and `targets` must have the same length; received 200 and 10"):
        TimeseriesGenerator(series, series[:10], length=8)
    with pytest.raises(ValueError, match=r"`length` must be a positive integer; received length=0"):
        TimeseriesGenerator(series, series, length=0)
    with pytest.raises(ValueError, match=r"`start_index` \+ `length` \(205\) must not exceed `end_index` \(199\)"):
        TimeseriesGenerator(series, series, length=5, start_index=200)


# ------------------------------------------------------------------------------------------------ bad input
_SEQS = [[1, 2], [3]]


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: rnnlab.utils.pad_sequences(_SEQS, padding="middle"), ValueError, r"`padding` must be 'pre' or 'post'"),
    (lambda: rnnlab.utils.pad_sequences(_SEQS, truncating=1), ValueError, r"`truncating` must be 'pre' or 'post'"),
    (lambda: rnnlab.utils.pad_sequences(_SEQS, maxlen=-1), ValueError, r"`maxlen` must be None or a non-negative"),
    (lambda: rnnlab.utils.pad_sequences(_SEQS, maxlen=2.5), ValueError, r"`maxlen`.*received maxlen=2.5"),
    (lambda: rnnlab.utils.pad_sequences(5), ValueError, r"`sequences` must be a list of sequences.*received int"),
    (lambda: rnnlab.utils.pad_sequences([[1], 7]), ValueError, r"`sequences` must hold sequences.*item 1 is int"),
    (lambda: rnnlab.utils.pad_sequences([]), ValueError, r"`sequences` is empty, so `maxlen` cannot be inferred"),
    (lambda: rnnlab.utils.pad_sequences([["a"]], value="x"), ValueError, r"`value` is a string .* `dtype` is 'int32'"),
    (lambda: rnnlab.utils.pad_sequences([[[1, 2]], [[1, 2, 3]]]), ValueError, r"item 1 has steps of shape \(3,\)"),
    (lambda: rnnlab.utils.to_categorical([0, 3, -1]), ValueError, r"`x` must hold class ids in \[0, 4\).*\[-1\]"),
    (lambda: rnnlab.utils.to_categorical([0, 5], num_classes=3), ValueError, r"class ids in \[0, 3\).*\[5\]"),
    (lambda: rnnlab.utils.to_categorical([1], num_classes=2.0), ValueError, r"`num_classes` must be None or a pos"),
    (lambda: rnnlab.utils.to_categorical(["cat"]), TypeError, r"`x` must hold integer class ids"),
    (lambda: rnnlab.utils.to_categorical([]), ValueError, r"`x` is empty, so `num_classes` cannot be inferred"),
    (lambda: rnnlab.utils.normalize(np.array(["a"])), TypeError, r"`x` must be a numeric array; received dtype"),
    (lambda: rnnlab.utils.set_random_seed(-1), ValueError, r"`seed` must be an integer in \[0, 2\*\*32\)"),
    (lambda: rnnlab.utils.set_random_seed("1"), ValueError, r"`seed` must be an integer"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 0), ValueError,
     r"`sequence_length` must be a positive integer; received sequence_length=0"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, sampling_rate=9), ValueError,
     r"`sampling_rate` must be lower than the length of `data` \(9\)"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, sequence_stride=0), ValueError,
     r"`sequence_stride` must be a positive integer"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, start_index=9), ValueError,
     r"`start_index` must be lower than the length of `data` \(9\)"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, start_index=-1), ValueError,
     r"`start_index` must be an integer >= 0 or None"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, end_index=9), ValueError,
     r"`end_index` must be lower than the length of `data` \(9\)"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, start_index=5, end_index=4),
     ValueError, r"`end_index` must be higher than `start_index` \(5\)"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, batch_size=0), ValueError,
     r"`batch_size` must be a positive integer or None"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), None, 2, format="torch"), ValueError,
     r"`format` must be 'tf' or 'grain'"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(np.zeros(9), np.zeros(3), 2, start_index=4), ValueError,
     r"`targets` has 3 items, too few"),
    (lambda: rnnlab.utils.timeseries_dataset_from_array(5, None, 2), TypeError, r"`data` must be an array"),
])
def test_bad_arguments_name_the_argument(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ------------------------------------------------------------------------------------------------ training on data objects
_X = np.random.default_rng(10).normal(size=(44, 5, 3)).astype("float32")
_Y = (_X[:, :, 0].sum(axis=1, keepdims=True) > 0).astype("float32")
_W = np.random.default_rng(11).uniform(0.5, 2.0, len(_X)).astype("float32")


def _dataset_class(base):
    class Batches(base):
        """(x, y[, sample_weight]) batches of 8 rows of _X, counting and logging what fit asks of it."""

        def __init__(self, weighted=False, size=8, **kwargs):
            super().__init__(**kwargs)
            self.weighted, self.size, self.log = weighted, size, []

        def __len__(self):
            return -(-len(_X) // self.size)

        def __getitem__(self, i):
            self.log.append(i)
            rows = slice(i * self.size, (i + 1) * self.size)
            return (_X[rows], _Y[rows], _W[rows]) if self.weighted else (_X[rows], _Y[rows])

        def on_epoch_begin(self):
            self.log.append("begin")

        def on_epoch_end(self):
            self.log.append("end")

    return Batches


def _model(framework=rnnlab, seed=0):
    """GRU(4) -> Dense(1, sigmoid) with random weights drawn from `seed` (biases included)."""
    inp = framework.Input((5, 3))
    model = framework.Model(inp, framework.layers.Dense(1, activation="sigmoid")(framework.layers.GRU(4)(inp)))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=framework.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _same_weights(a, b, atol=0.0):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=atol)


@pytest.mark.parametrize("weighted", [False, True], ids=["xy", "xy_weights"])
def test_fit_on_pydataset_equals_fit_on_arrays(weighted):
    Batches = _dataset_class(rnnlab.utils.PyDataset)
    on_arrays, on_dataset = _model(), _model()
    history = on_arrays.fit(_X, _Y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                            sample_weight=_W if weighted else None)
    data = Batches(weighted)
    assert on_dataset.fit(data, epochs=3, shuffle=False, verbose=0).history == history.history
    _same_weights(on_arrays, on_dataset)
    assert on_arrays.evaluate(_X, _Y, batch_size=8, verbose=0) == on_dataset.evaluate(Batches(), verbose=0)
    np.testing.assert_array_equal(on_arrays.predict(_X, batch_size=8, verbose=0), on_dataset.predict(Batches(),
                                                                                                      verbose=0))
    # Keras's hook order: on_epoch_end once before the first epoch, then begin ... end around each
    hooks = [h for h in data.log if isinstance(h, str)]
    assert hooks == ["end"] + ["begin", "end"] * 3
    assert [i for i in data.log if not isinstance(i, str)] == list(range(6)) * 3


@pytest.mark.parametrize("workers, queue", [(3, 2), (2, 10)])
def test_pydataset_workers_make_batches_on_threads_in_order(workers, queue):
    """workers > 1: batches are made on other threads, at most max_queue_size ahead, and fit sees them in order."""
    import threading

    Batches = _dataset_class(rnnlab.utils.PyDataset)

    class Threaded(Batches):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.threads = set()

        def __getitem__(self, i):
            self.threads.add(threading.get_ident())
            return super().__getitem__(i)

    on_arrays, on_dataset = _model(), _model()
    history = on_arrays.fit(_X, _Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    data = Threaded(workers=workers, max_queue_size=queue)
    assert on_dataset.fit(data, epochs=2, shuffle=False, verbose=0).history == history.history
    _same_weights(on_arrays, on_dataset)
    assert threading.get_ident() not in data.threads and data.threads
    np.testing.assert_array_equal(on_arrays.predict(_X, batch_size=8, verbose=0),
                                  on_dataset.predict(Threaded(workers=workers), verbose=0))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(use_multiprocessing=True), ValueError, "use_multiprocessing=True"),
    (dict(use_multiprocessing="yes"), TypeError, "use_multiprocessing"),
    (dict(workers=-1), ValueError, "workers"),
    (dict(max_queue_size=0), ValueError, "max_queue_size"),
])
def test_pydataset_arguments_are_checked(kwargs, error, message):
    with pytest.raises(error, match=message):
        rnnlab.utils.PyDataset(**kwargs)


def test_validation_data_as_a_dataset_equals_arrays():
    Batches = _dataset_class(rnnlab.utils.PyDataset)
    a, b = _model(), _model()
    ha = a.fit(_X, _Y, batch_size=8, epochs=2, shuffle=False, verbose=0, validation_data=(_X, _Y))
    hb = b.fit(Batches(), epochs=2, shuffle=False, verbose=0, validation_data=Batches())
    assert ha.history == hb.history


def test_fit_on_pydataset_matches_keras(keras):
    """The same weights and batches in Keras 3 and rnnlab: a PyDataset (with sample weights), then a generator with
    steps_per_epoch; losses and weights agree, and the PyDataset hooks are called in the same order."""
    ours_data = _dataset_class(rnnlab.utils.PyDataset)(weighted=True)
    theirs_data = _dataset_class(keras.utils.PyDataset)(weighted=True)
    ours, theirs = _model(rnnlab), _model(keras)
    h_ours = ours.fit(ours_data, epochs=3, shuffle=False, verbose=0)
    h_theirs = theirs.fit(theirs_data, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=2e-5)
    np.testing.assert_allclose(h_ours.history["accuracy"], h_theirs.history["accuracy"], rtol=1e-6)
    _same_weights(ours, theirs, atol=2e-5)
    assert [h for h in ours_data.log if isinstance(h, str)] == [h for h in theirs_data.log if isinstance(h, str)]
    np.testing.assert_allclose(ours.evaluate(ours_data, verbose=0), theirs.evaluate(theirs_data, verbose=0),
                               rtol=2e-5)
    np.testing.assert_allclose(ours.predict(ours_data, verbose=0), theirs.predict(theirs_data, verbose=0), atol=2e-5)

    def batches():
        while True:
            for i in range(0, len(_X), 8):
                yield _X[i:i + 8], _Y[i:i + 8]

    h_ours = ours.fit(batches(), steps_per_epoch=4, epochs=3, verbose=0)  # epochs read on through the stream
    h_theirs = theirs.fit(batches(), steps_per_epoch=4, epochs=3, verbose=0, shuffle=False)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=2e-5)
    _same_weights(ours, theirs, atol=5e-5)


def test_fit_on_timeseries_dataset_matches_keras(keras):
    """Keras's weather-forecasting pattern: fit and evaluate on timeseries_dataset_from_array, the same weights."""
    series = np.random.default_rng(12).normal(size=(90, 3)).astype("float32")
    target = (series[:, 0] > 0).astype("float32")
    kwargs = dict(sequence_length=5, sampling_rate=2, batch_size=16, end_index=80)
    ours, theirs = _model(rnnlab), _model(keras)
    h_ours = ours.fit(rnnlab.utils.timeseries_dataset_from_array(series, target, **kwargs), epochs=2, verbose=0)
    h_theirs = theirs.fit(keras.utils.timeseries_dataset_from_array(series, target, **kwargs), epochs=2, verbose=0,
                          shuffle=False)
    np.testing.assert_allclose(h_ours.history["loss"], h_theirs.history["loss"], rtol=2e-5)
    _same_weights(ours, theirs, atol=2e-5)
    test_kwargs = dict(kwargs, start_index=40, end_index=None)
    np.testing.assert_allclose(
        ours.evaluate(rnnlab.utils.timeseries_dataset_from_array(series, target, **test_kwargs), verbose=0),
        theirs.evaluate(keras.utils.timeseries_dataset_from_array(series, target, **test_kwargs), verbose=0),
        rtol=2e-5)
    unlabelled = dict(kwargs, batch_size=7)
    np.testing.assert_allclose(
        ours.predict(rnnlab.utils.timeseries_dataset_from_array(series, None, **unlabelled), verbose=0),
        theirs.predict(keras.utils.timeseries_dataset_from_array(series, None, **unlabelled), verbose=0), atol=2e-5)


def test_generator_with_steps_per_epoch_equals_arrays():
    """A looping generator read for 3 epochs of 6 steps trains as the arrays do; a shorter steps_per_epoch reads on
    through the stream (epoch 2 starts where epoch 1 stopped)."""
    def batches(log):
        while True:
            for i in range(0, len(_X), 8):
                log.append(i)
                yield _X[i:i + 8], _Y[i:i + 8]

    on_arrays, on_generator = _model(), _model()
    h_arrays = on_arrays.fit(_X, _Y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    h_generator = on_generator.fit(batches([]), steps_per_epoch=6, epochs=3, verbose=0)
    assert h_arrays.history == h_generator.history
    _same_weights(on_arrays, on_generator)
    log = []
    _model().fit(batches(log), steps_per_epoch=4, epochs=3, verbose=0)
    assert log == [0, 8, 16, 24, 32, 40, 0, 8, 16, 24, 32, 40]
    assert _model().predict(batches([]), steps=2, verbose=0).shape == (16, 1)
    assert np.isfinite(_model().evaluate(batches([]), steps=3, verbose=0)).all()


def _finite(count):
    for i in range(count):
        yield _X[i * 8:(i + 1) * 8], _Y[i * 8:(i + 1) * 8]


def _ran_out_warnings(caught):
    return sum(str(w.message).startswith("Your input ran out of data") for w in caught)


@pytest.mark.parametrize("count,steps,epochs", [(5, 3, 4), (6, 3, 4), (3, None, 3), (1, None, 2)],
                         ids=["overrun-mid-epoch", "overrun-at-epoch-start", "no-steps", "one-batch"])
def test_finite_generator_overrun_matches_keras(keras, count, steps, epochs):
    """A finite generator read past its end, as Keras 3.15.1 reads it: it warns that the input ran out and carries
    on, each new pass giving again the first two batches that Keras keeps from the stream's start.  Losses, weights
    and the number of warnings agree; an epoch that gets no batch reports no loss in rnnlab (Keras reports 0.0)."""
    histories, models, warned = [], [], []
    for framework in (rnnlab, keras):
        model = _model(framework)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(_finite(count), steps_per_epoch=steps, epochs=epochs, verbose=0, shuffle=False)
        histories.append(history.history["loss"])
        models.append(model)
        warned.append(_ran_out_warnings(caught))
    ours, theirs = histories
    empty = [k for k, loss in enumerate(theirs) if loss == 0.0]  # Keras's epochs without a batch
    assert len(ours) + len(empty) == len(theirs) == epochs
    np.testing.assert_allclose(ours, [loss for k, loss in enumerate(theirs) if k not in empty], rtol=2e-5)
    _same_weights(*models, atol=2e-5)
    assert warned[0] == warned[1]


def test_finite_validation_generator_matches_keras(keras):
    """A finite generator as validation_data: Keras reads it whole once, then its first two batches each epoch."""
    results = []
    for framework in (rnnlab, keras):
        model = _model(framework)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(_X, _Y, batch_size=8, epochs=3, verbose=0, shuffle=False,
                                validation_data=_finite(4))
        results.append((history.history, _ran_out_warnings(caught)))
    (ours, ours_warned), (theirs, theirs_warned) = results
    assert set(ours) == set(theirs) and ours_warned == theirs_warned
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, err_msg=key)


def test_generator_running_out_says_what_happens_next():
    with pytest.warns(UserWarning, match=r"ran out of data: `x` \(a generator\) gave 1 of the 2 batches that "
                                         r"`steps_per_epoch` asks for; it is read once, so a new pass gives only "
                                         r"the 2 batches kept from its start"):
        _model().fit(_finite(3), steps_per_epoch=2, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"Argument `x` \(a generator\) gave no batches"):
        _model().fit(_finite(0), verbose=0)


def test_iterables_dicts_and_multi_input_batches():
    """Any iterable of batches (a new pass each epoch) and dicts of named inputs, for a two-input model."""
    a, b = rnnlab.Input((5, 3), name="a"), rnnlab.Input((5, 3), name="b")
    _, h, c = layers.LSTM(3, return_state=True)(b)  # an encoder reads b, a decoder reads a from its state
    model = rnnlab.Model([a, b], layers.Dense(1)(layers.LSTM(3)(a, initial_state=[h, c])))
    model.compile("sgd", "mse")
    weights = model.get_weights()

    class Loader:  # a DataLoader-like iterable: __iter__ and __len__ only
        def __iter__(self):
            for i in range(0, 40, 10):
                yield {"a": _X[i:i + 10], "b": _X[i:i + 10, ::-1]}, _Y[i:i + 10]

        def __len__(self):
            return 4

    h_loader = model.fit(Loader(), epochs=2, verbose=0)
    after_loader = model.get_weights()
    model.set_weights(weights)
    model.compile("sgd", "mse")
    h_arrays = model.fit({"a": _X[:40], "b": _X[:40, ::-1]}, _Y[:40], batch_size=10, epochs=2, shuffle=False, verbose=0)
    assert h_loader.history == h_arrays.history
    for w1, w2 in zip(after_loader, model.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    assert model.predict(Loader(), verbose=0).shape == (40, 1)


@pytest.mark.parametrize("make, kwargs, error, pattern", [
    (lambda B: B(), dict(y=_Y), ValueError, r"`y` must not be given when `x` is a PyDataset: its batches hold the "
                                            r"targets"),
    (lambda B: B(), dict(sample_weight=_W), ValueError, r"`sample_weight` must not be given when `x` is a PyDataset"),
    (lambda B: B(), dict(validation_split=0.2), ValueError, r"`validation_split` must not be given when `x` is a "
                                                            r"PyDataset: only arrays can be split"),
    (lambda B: B(), dict(steps_per_epoch=0), ValueError, r"`steps_per_epoch` must be None or a positive integer"),
    (lambda B: iter([_X[:8]]), {}, ValueError,
     r"Batch 0 of `x` \(an iterator\): it has no targets: fit\(\) needs batches \(inputs, targets\)"),
    (lambda B: (b for b in [(_X[:8], _Y[:8], _W[:8], _W[:8])]), {}, ValueError,
     r"Batch 0 of `x` \(a generator\): a batch must be x, \(x,\), \(x, y\) or \(x, y, sample_weight\); received a "
     r"tuple of 4 items"),
    (lambda B: (s for s in ["text"]), {}, TypeError, r"Batch 0 of `x` \(a generator\): a batch must be .*received str"),
    (lambda B: (b for b in [(_X[:8, :, :2], _Y[:8])]), {}, ValueError,
     r"Batch 0 of `x` \(a generator\): Input 0 of model .* must have shape"),
    (lambda B: (b for b in []), {}, ValueError, r"`x` \(a generator\) gave no batches"),
    (lambda B: type("Empty", (rnnlab.utils.PyDataset,), {"__len__": lambda self: 0})(), {}, ValueError,
     r"`x` \(a PyDataset\) has no batches: its length is 0"),
    (lambda B: type("Endless", (rnnlab.utils.PyDataset,), {"num_batches": None, "__getitem__": lambda s, i: None})(),
     {}, ValueError, r"without an end \(num_batches is None\): pass `steps_per_epoch`"),
    (lambda B: object(), {}, TypeError, r"`x` must be arrays .* or a data object .*; received object"),
    (lambda B: B(), dict(validation_data=object()), ValueError, r"`validation_data` must be a tuple"),
])
def test_bad_data_objects_get_clear_errors(make, kwargs, error, pattern):
    Batches = _dataset_class(rnnlab.utils.PyDataset)
    with pytest.raises(error, match=pattern):
        _model().fit(make(Batches), verbose=0, **kwargs)


def test_predict_refuses_objects_that_are_not_data():
    with pytest.raises(TypeError, match=r"`x` must be arrays .*; received object"):
        _model().predict(object(), verbose=0)


def test_pydataset_is_read_one_batch_at_a_time():
    """10 million samples made on demand: fit, evaluate and predict ask for only the batches they use and hold
    only those (the issue's program grew to 22 GB through np.asarray)."""
    class TenMillion(rnnlab.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.asked = []

        def __len__(self):
            return 10_000_000 // 32

        def __getitem__(self, i):
            self.asked.append(i)
            rng = np.random.default_rng(i)
            x = rng.normal(size=(32, 5, 3)).astype("float32")
            return x, (x[:, :, 0].sum(axis=1, keepdims=True) > 0).astype("float32")

    data, model = TenMillion(), _model()
    tracemalloc.start()
    try:
        model.fit(data, steps_per_epoch=3, epochs=2, verbose=0, shuffle=False)
        model.evaluate(data, steps=2, verbose=0)
        assert model.predict(data, steps=2, verbose=0).shape == (64, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.asked == [0, 1, 2, 3, 4, 5, 0, 1, 0, 1]
    assert peak < 20 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
    shuffled = TenMillion()
    model.fit(shuffled, steps_per_epoch=2, verbose=0)  # shuffle=True: a random order, still batch by batch
    assert len(shuffled.asked) == 2 and all(0 <= i < len(shuffled) for i in shuffled.asked)


def test_fit_shuffles_pydataset_batches():
    Batches = _dataset_class(rnnlab.utils.PyDataset)
    data = Batches()
    _model().fit(data, epochs=3, verbose=0)  # shuffle=True, Keras's default
    epochs = [[i for i in data.log if not isinstance(i, str)][k * 6:(k + 1) * 6] for k in range(3)]
    assert all(sorted(e) == list(range(6)) for e in epochs)
    assert epochs[0] != list(range(6)) or epochs[1] != list(range(6))


# ------------------------------------------------------------------------------------------------ seeds and names
def test_set_random_seed_seeds_python_numpy_and_rnnlab():
    def draw():
        inp = rnnlab.Input((5, 3))
        model = rnnlab.Model(inp, layers.Dense(1)(layers.Dropout(0.5)(layers.LSTM(4)(inp))))
        model.compile("sgd", "mse")
        model.fit(_X, _Y, epochs=1, verbose=0)  # shuffling and dropout draw from rnnlab's generator
        return random.random(), np.random.rand(), [w.copy() for w in model.get_weights()]

    rnnlab.utils.set_random_seed(7)
    first = draw()
    rnnlab.utils.set_random_seed(7)
    second = draw()
    assert first[:2] == second[:2]
    for a, b in zip(first[2], second[2]):
        np.testing.assert_array_equal(a, b)
    rnnlab.utils.set_random_seed(8)
    assert draw()[0] != first[0]


def test_keras_names_and_keras2_paths():
    import rnnlab as keras
    from rnnlab.preprocessing.sequence import TimeseriesGenerator, pad_sequences
    from rnnlab.utils import np_utils

    assert keras.utils.Sequence is keras.utils.PyDataset
    assert pad_sequences is keras.utils.pad_sequences is keras.preprocessing.sequence.pad_sequences
    assert keras.preprocessing.timeseries_dataset_from_array is keras.utils.timeseries_dataset_from_array
    assert issubclass(TimeseriesGenerator, keras.utils.PyDataset)
    assert keras.utils.to_categorical([1, 0]).dtype == np.float64  # Keras 3
    assert np_utils.to_categorical([1, 0]).dtype == np.float32  # Keras 2
    assert keras.utils.np_utils.normalize is keras.utils.normalize

    class Plain(keras.utils.PyDataset):  # no super().__init__(): Keras's defaults still read
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full((1, 1), i)

    assert Plain().workers == 1 and Plain().max_queue_size == 10
    assert [int(b[0, 0]) for b in Plain()] == [0, 1]
