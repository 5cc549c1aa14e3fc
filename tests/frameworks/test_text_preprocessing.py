"""StringLookup, IntegerLookup and TextVectorization against Keras 3.15.1 on the TensorFlow backend.

Random corpora (ASCII and non-ASCII letters, punctuation, unicode and ASCII whitespace, empty strings, a small
alphabet so that many tokens tie in count) go through the same layer in Keras and in rnnlab: the vocabularies
after ``adapt()`` must be equal list for list, the outputs equal element for element with the same dtype, and
``get_config()`` equal key for key.  ``.keras`` files cross both ways, vocabulary assets included.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import rnnlab  # noqa: E402
from rnnlab import layers  # noqa: E402
from tests.support.reference import randomize, require  # noqa: E402

WORDS = ["the", "The", "cat", "CAT", "sat", "on", "mat", "dog!", "don't", "e-mail", "x_y", "naïve", "Über", "café",
         "ÉCOLE", "straße", "日本", "😀", "a.b", "(c)", "[d]", "q?", "#tag", "@me", "~", "", "\u00a0nb", "x\u3000y"]
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", " , ", "\v", "\x1c", "\u00a0"]


@pytest.fixture(scope="module")
def K():
    keras = require("keras")
    assert keras.__version__ == "3.15.1", keras.__version__
    return keras


def corpus(rng, n, max_words=7, separators=SEPARATORS):
    """``n`` random strings: words from WORDS joined by random separators; some empty, some padded."""
    out = []
    for _ in range(n):
        k = int(rng.integers(0, max_words + 1))
        text = ""
        for i in range(k):
            text += (separators[rng.integers(len(separators))] if i else "") + WORDS[rng.integers(len(WORDS))]
        if rng.random() < 0.2:
            text = " " + text + "\t"
        out.append(text)
    return out


def keras_out(value):
    """A Keras/TensorFlow output as NumPy; TensorFlow strings (bytes) as ``str``."""
    arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    if arr.dtype == object:
        arr = np.vectorize(lambda b: b.decode("utf-8") if isinstance(b, bytes) else b, otypes=[object])(arr)
    return arr


def assert_same(ours, theirs, what):
    theirs = keras_out(theirs)
    assert isinstance(ours, np.ndarray), what
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != Keras {theirs.shape}"
    if theirs.dtype == object:
        assert ours.tolist() == theirs.tolist(), what
        return
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} != Keras {theirs.dtype}"
    if theirs.dtype.kind == "f":
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=what)


def assert_config(ours, theirs):
    theirs = dict(theirs)
    assert theirs.pop("dtype")["config"]["name"] == ours.pop("dtype")
    theirs.pop("name"), ours.pop("name")
    assert ours == theirs


def vocab(v):
    return [x.item() if isinstance(x, np.generic) else x for x in v]


# ----------------------------------------------------------------------------------------------- TextVectorization

TV_CASES = [
    {},
    dict(max_tokens=9),
    dict(max_tokens=9, output_sequence_length=5),
    dict(output_sequence_length=0),
    dict(standardize="lower"),
    dict(standardize="strip_punctuation", output_sequence_length=12),
    dict(standardize=None),
    dict(split="character", output_sequence_length=15),
    dict(split="character", standardize=None, max_tokens=20),
    dict(split=None),
    dict(split=None, standardize="lower", output_sequence_length=3),
    dict(ngrams=2),
    dict(ngrams=(3, 1), max_tokens=30, output_sequence_length=10),
    dict(ngrams=(2,)),
    dict(output_mode="multi_hot"),
    dict(output_mode="multi_hot", max_tokens=8, pad_to_max_tokens=True),
    dict(output_mode="count", ngrams=2),
    dict(output_mode="count", split="character", max_tokens=12),
    dict(output_mode="tf_idf"),
    dict(output_mode="tf_idf", max_tokens=10, pad_to_max_tokens=True),
    dict(output_mode="multi_hot", split=None),
    dict(output_mode="one_hot", split=None),
    dict(output_mode="binary"),
]


@pytest.mark.parametrize("case", range(len(TV_CASES)))
def test_text_vectorization_matches_keras(K, case):
    kwargs = TV_CASES[case]
    rng = np.random.default_rng(100 + case)
    train, test = corpus(rng, 40), corpus(rng, 9) + ["", "zzz unseen words"]
    theirs = K.layers.TextVectorization(**kwargs)
    ours = layers.TextVectorization(**kwargs)
    theirs.adapt(train)
    ours.adapt(train)
    assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
    assert ours.get_vocabulary(include_special_tokens=False) == \
        vocab(theirs.get_vocabulary(include_special_tokens=False))
    assert ours.vocabulary_size() == theirs.vocabulary_size()
    assert_config(ours.get_config(), theirs.get_config())
    batches = [np.array(test), np.array(test)[:, None], np.array(test, dtype=object)]
    single = np.array(test[1])  # a single string
    if "split" in kwargs and kwargs["split"] is None and kwargs.get("output_sequence_length") is not None:
        with pytest.raises(ValueError, match="output_sequence_length"):
            ours(single)  # Keras fails too: it slices a scalar
    elif kwargs.get("output_mode") != "one_hot":
        batches.append(single)
    for x in batches:
        assert_same(ours(x), theirs(x), f"{kwargs} on shape {x.shape}")
    assert_same(ours(list(test)), theirs(np.array(test)), f"{kwargs} on a list")


def test_text_vectorization_given_vocabulary_and_set_vocabulary(K, tmp_path):
    rng = np.random.default_rng(1)
    test = np.array(corpus(rng, 12))
    words = ["the", "cat", "dog", "über", "naïve", "日本"]
    for kwargs in (dict(vocabulary=words), dict(vocabulary=["", "[UNK]"] + words, output_sequence_length=4),
                   dict(vocabulary=words, output_mode="tf_idf", idf_weights=list(rng.uniform(0.1, 2, 6))),
                   dict(vocabulary=words, output_mode="count", max_tokens=10, pad_to_max_tokens=True)):
        theirs, ours = K.layers.TextVectorization(**kwargs), layers.TextVectorization(**kwargs)
        assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
        assert_config(ours.get_config(), theirs.get_config())
        assert_same(ours(test), theirs(test), str(kwargs))
    path = tmp_path / "vocab.txt"
    path.write_text("cat\nthe\r\nüber\n", encoding="utf-8")
    theirs, ours = K.layers.TextVectorization(), layers.TextVectorization()
    theirs.set_vocabulary(str(path))
    ours.set_vocabulary(str(path))
    assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
    assert_same(ours(test), theirs(test), "vocabulary file")


def test_text_vectorization_adapts_on_batches(K):
    """A generator of batches (Keras reads any iterable that is not an array or list), with `steps`."""
    rng = np.random.default_rng(2)
    batches = [np.array(corpus(rng, 8)) for _ in range(5)]
    theirs, ours = K.layers.TextVectorization(output_mode="tf_idf"), layers.TextVectorization(output_mode="tf_idf")
    theirs.adapt(iter(batches), steps=3)
    ours.adapt(iter(batches), steps=3)
    assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
    x = np.concatenate(batches)
    assert_same(ours(x), theirs(x), "tf_idf after adapting on 3 batches")


# ----------------------------------------------------------------------------------------------- lookups

def token_array(rng, shape, alphabet):
    return np.array(alphabet)[rng.integers(0, len(alphabet), shape)]


STRING_CASES = [
    {},
    dict(mask_token="m"),
    dict(num_oov_indices=0),
    dict(num_oov_indices=4, mask_token="m", oov_token="?"),
    dict(max_tokens=5),
    dict(output_mode="one_hot", mask_token="m"),
    dict(output_mode="multi_hot", mask_token="m", num_oov_indices=2),
    dict(output_mode="count", max_tokens=12, pad_to_max_tokens=True),
    dict(output_mode="tf_idf"),
    dict(output_mode="tf_idf", max_tokens=9, pad_to_max_tokens=True, mask_token="m"),
]


@pytest.mark.parametrize("case", range(len(STRING_CASES)))
def test_string_lookup_matches_keras(K, case):
    kwargs = STRING_CASES[case]
    rng = np.random.default_rng(200 + case)
    alphabet = ["a", "b", "c", "é", "日", "m", "", "[UNK]", "aa", "B", "x y"]
    train = token_array(rng, (30, 4), alphabet)
    theirs, ours = K.layers.StringLookup(**kwargs), layers.StringLookup(**kwargs)
    theirs.adapt(train)
    ours.adapt(train)
    assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
    assert_config(ours.get_config(), theirs.get_config())
    unseen = alphabet + ["zz", "q", "long unseen token with more than sixty-four bytes in it, to hash in blocks"]
    if kwargs.get("num_oov_indices") == 0:
        unseen = [t for t in unseen if t in ours.get_vocabulary() or t == kwargs.get("mask_token")]
    for shape in ((7,), (6, 3), (3, 1), (2, 3, 4), ()):
        x = token_array(rng, shape, unseen)
        assert_same(ours(x), theirs(x), f"{kwargs} on shape {shape}")


@pytest.mark.parametrize("kwargs", [dict(), dict(mask_token="m"), dict(num_oov_indices=3, mask_token="m")])
def test_string_lookup_invert_and_vocabulary_forms(K, kwargs):
    rng = np.random.default_rng(3)
    words = ["b", "a", "é", "日本"]
    forward_t = K.layers.StringLookup(vocabulary=words, **kwargs)
    forward_o = layers.StringLookup(vocabulary=words, **kwargs)
    inverse_t = K.layers.StringLookup(vocabulary=words, invert=True, **kwargs)
    inverse_o = layers.StringLookup(vocabulary=words, invert=True, **kwargs)
    for t, o in ((forward_t, forward_o), (inverse_t, inverse_o)):
        assert o.get_vocabulary() == vocab(t.get_vocabulary())
        assert_config(o.get_config(), t.get_config())
    x = token_array(rng, (5, 3), words + ["zz"])
    assert_same(forward_o(x), forward_t(x), "forward")
    ids = rng.integers(0, forward_o.vocabulary_size() + 2, (5, 3))
    assert_same(inverse_o(ids), inverse_t(ids), "invert")
    # special tokens given at the start are recognised, not added twice
    full = forward_o.get_vocabulary()
    assert layers.StringLookup(vocabulary=full, **kwargs).get_vocabulary() == \
        vocab(K.layers.StringLookup(vocabulary=full, **kwargs).get_vocabulary())


INTEGER_CASES = [
    {},
    dict(mask_token=0),
    dict(num_oov_indices=3, mask_token=0),
    dict(num_oov_indices=3, oov_method="farmhash"),
    dict(output_mode="multi_hot", max_tokens=6),
    dict(output_mode="count", num_oov_indices=2, mask_token=0),
    dict(output_mode="tf_idf", oov_token=-7),
]


@pytest.mark.parametrize("case", range(len(INTEGER_CASES)))
def test_integer_lookup_matches_keras(K, case):
    kwargs = INTEGER_CASES[case]
    rng = np.random.default_rng(300 + case)
    train = rng.integers(-3, 9, (25, 3))
    theirs, ours = K.layers.IntegerLookup(**kwargs), layers.IntegerLookup(**kwargs)
    theirs.adapt(train)
    ours.adapt(train)
    assert ours.get_vocabulary() == vocab(theirs.get_vocabulary())
    assert_config(ours.get_config(), theirs.get_config())
    for shape in ((9,), (4, 5), (3, 1)):
        x = rng.integers(-20, 40, shape)
        assert_same(ours(x), theirs(x), f"{kwargs} on shape {shape}")
    if kwargs.get("output_mode", "int") == "int":
        ids = rng.integers(0, ours.vocabulary_size() + 2, (6,))
        inv_t = K.layers.IntegerLookup(vocabulary=theirs.get_vocabulary(), invert=True, **kwargs)
        inv_o = layers.IntegerLookup(vocabulary=ours.get_vocabulary(), invert=True, **kwargs)
        assert_same(inv_o(ids), inv_t(ids), "invert")


# ----------------------------------------------------------------------------------------------- .keras files

def text_model(api, vectorizer, recurrent):
    inp = api.Input(shape=(1,), dtype="string")
    x = vectorizer(inp)
    if recurrent:
        x = api.layers.Embedding(vectorizer.vocabulary_size(), 5, mask_zero=True)(x)
        x = api.layers.LSTM(4)(x)
    out = api.layers.Dense(3, activation="softmax")(x)
    return api.Model(inp, out)


# "\x1c" is not whitespace to TensorFlow, so it stays inside tokens, but Python's splitlines() (which Keras uses
# to read vocabulary.txt back) breaks lines at it: such a vocabulary cannot cross a file (see the test below).
FILE_SEPARATORS = [s for s in SEPARATORS if s != "\x1c"]
FILE_CASES = [dict(output_sequence_length=7), dict(max_tokens=12, output_sequence_length=5, ngrams=2),
              dict(vocabulary=["the", "cat", "über"], output_sequence_length=4), dict(output_mode="multi_hot"),
              dict(output_mode="tf_idf", max_tokens=15, pad_to_max_tokens=True)]


@pytest.mark.parametrize("case", range(len(FILE_CASES)))
def test_text_models_cross_keras_files_both_ways(K, tmp_path, case):
    """Input(dtype="string") -> TextVectorization -> (Embedding -> LSTM ->) Dense, saved by one, loaded by the
    other: the same vocabulary and the same predictions."""
    kwargs = FILE_CASES[case]
    rng = np.random.default_rng(400 + case)
    train, test = corpus(rng, 30, separators=FILE_SEPARATORS), np.array(corpus(rng, 8))[:, None]
    vec = K.layers.TextVectorization(**kwargs)
    if "vocabulary" not in kwargs:
        vec.adapt(train)
    keras_model = text_model(K, vec, kwargs.get("output_mode", "int") == "int")
    randomize(keras_model, rng)
    expected = np.asarray(keras_model(test))
    keras_model.save(tmp_path / "keras.keras")
    ours = rnnlab.models.load_model(tmp_path / "keras.keras")
    assert ours.layers[1].get_vocabulary() == vocab(vec.get_vocabulary())
    np.testing.assert_allclose(ours.predict(test, verbose=0), expected, atol=1e-6)
    ours.save(tmp_path / "rnnlab.keras")
    back = K.models.load_model(tmp_path / "rnnlab.keras")
    assert vocab(back.layers[1].get_vocabulary()) == ours.layers[1].get_vocabulary()
    np.testing.assert_allclose(np.asarray(back(test)), expected, atol=1e-6)


def test_a_vocabulary_that_splitlines_breaks_fails_to_load_in_both(K, tmp_path):
    """Keras writes vocabulary.txt with "\\n".join and reads it with splitlines(): a token holding "\\x1c" comes
    back as two lines, and Keras itself refuses its own file. rnnlab refuses it with a message naming the layer."""
    vec = K.layers.TextVectorization()
    vec.adapt(["cat\x1cdog", "cat", "dog"])
    model = K.Model(*(lambda i: (i, vec(i)))(K.Input(shape=(1,), dtype="string")))
    model.save(tmp_path / "k.keras")
    with pytest.raises(ValueError, match="repeated term"):
        K.models.load_model(tmp_path / "k.keras")
    with pytest.raises(ValueError, match="text_vectorization.*repeats the term"):
        rnnlab.models.load_model(tmp_path / "k.keras")


def test_lookup_models_cross_keras_files_both_ways(K, tmp_path):
    rng = np.random.default_rng(5)
    s_in, i_in = K.Input(shape=(3,), dtype="string"), K.Input(shape=(3,), dtype="int64")
    sl, il = K.layers.StringLookup(output_mode="count", mask_token=""), K.layers.IntegerLookup(num_oov_indices=2)
    sl.adapt(token_array(rng, (20, 3), ["a", "b", "c", "", "é"]))
    il.adapt(rng.integers(0, 6, (20, 3)))
    emb = K.layers.Embedding(il.vocabulary_size(), 2)(il(i_in))
    merged = K.layers.Dense(2)(sl(s_in))
    out = K.layers.Dense(1)(K.layers.LSTM(2)(emb))
    model = K.Model([s_in, i_in], [merged, out])
    randomize(model, rng)
    xs = [token_array(rng, (4, 3), ["a", "b", "c", "", "é", "zz"]), rng.integers(0, 9, (4, 3))]
    expected = [np.asarray(o) for o in model(xs)]
    model.save(tmp_path / "k.keras")
    ours = rnnlab.models.load_model(tmp_path / "k.keras")
    for o, e in zip(ours.predict(xs, verbose=0), expected):
        np.testing.assert_allclose(o, e, atol=1e-6)
    ours.save(tmp_path / "r.keras")
    for o, e in zip(K.models.load_model(tmp_path / "r.keras")(xs), expected):
        np.testing.assert_allclose(np.asarray(o), e, atol=1e-6)


@pytest.mark.parametrize("recurrent", [True, False])
def test_training_through_text_vectorization_matches_keras(K, recurrent):
    """Three fit() steps on raw strings (TensorFlow tensors for Keras, which refuses NumPy strings in fit) give
    the same losses and weights: the vectorizer passes no gradient and changes nothing.  The recurrent model
    (int ids -> Embedding -> LSTM) trains with SGD: Keras on TensorFlow applies Adam/RMSprop to an Embedding's
    sparse gradient row by row (repeated ids give a different second moment), which rnnlab's dense update does
    not reproduce for int inputs either; the bag-of-words model (multi_hot -> Dense) trains with Adam."""
    tf = require("tensorflow")
    rng = np.random.default_rng(6)
    texts = corpus(rng, 24)
    y = rng.integers(0, 3, 24)
    models = []
    for api in (K, rnnlab):
        kwargs = dict(output_sequence_length=6) if recurrent else dict(output_mode="multi_hot")
        vec = api.layers.TextVectorization(max_tokens=25, **kwargs)
        vec.adapt(texts)
        models.append(text_model(api, vec, recurrent))
    weights = randomize(models[0], rng)
    models[1].set_weights(weights)
    for api, m in zip((K, rnnlab), models):
        opt = api.optimizers.SGD(0.1, momentum=0.5) if recurrent else api.optimizers.Adam(0.01)
        m.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    x = np.array(texts)[:, None]
    hist_t = models[0].fit(tf.constant(x), y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"]
    hist_o = models[1].fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(hist_o, hist_t, atol=1e-5)
    for a, b in zip(models[1].get_weights(), models[0].get_weights()):  # after three steps
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_farmhash_fingerprint_matches_tensorflow(K):
    """The OOV hash, on every length class of the algorithm (0-16, 17-32, 33-64 and 64-byte blocks)."""
    tf = require("tensorflow")
    from rnnlab.layers.preprocessing.farmhash import fingerprint64

    rng = np.random.default_rng(7)
    data = [bytes(rng.integers(0, 256, n).astype(np.uint8)) for n in list(range(200)) + [255, 256, 257, 1000]]
    buckets = 2 ** 62  # to_hash_bucket_fast is fingerprint64 % buckets
    expected = tf.strings.to_hash_bucket_fast(data, buckets).numpy()
    assert [fingerprint64(d) % buckets for d in data] == expected.tolist()
