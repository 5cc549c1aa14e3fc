"""StringLookup, IntegerLookup and TextVectorization: refusals that name the layer and the argument, callables
(in code, never from a file unless the caller hands them over), and rnnlab's own .keras round trip of an
adapted vocabulary (no TensorFlow needed)."""
import json
import zipfile

import numpy as np
import pytest

import rnnlab
from rnnlab import layers

L = layers


@pytest.mark.parametrize("make, argument", [
    (lambda: L.StringLookup(max_tokens=1), "max_tokens"),
    (lambda: L.StringLookup(num_oov_indices=-1), "num_oov_indices"),
    (lambda: L.StringLookup(output_mode="onehot"), "output_mode"),
    (lambda: L.StringLookup(invert=True, output_mode="count"), "invert"),
    (lambda: L.StringLookup(sparse=True, output_mode="count"), "sparse"),
    (lambda: L.StringLookup(salt=3), "salt"),
    (lambda: L.StringLookup(oov_method="modulo"), "oov_method"),
    (lambda: L.StringLookup(idf_weights=[1.0]), "idf_weights"),
    (lambda: L.StringLookup(pad_to_max_tokens=True, output_mode="count"), "pad_to_max_tokens"),
    (lambda: L.StringLookup(encoding="latin-1"), "encoding"),
    (lambda: L.StringLookup(vocabulary=["a", "a"]), "vocabulary"),
    (lambda: L.StringLookup(vocabulary=["a", "[UNK]"], invert=True), "oov_token"),
    (lambda: L.StringLookup(vocabulary=["a", "m"], mask_token="m"), "mask_token"),
    (lambda: L.StringLookup(vocabulary=["a", "b"], max_tokens=2), "max_tokens"),
    (lambda: L.StringLookup(vocabulary=[]), "vocabulary"),
    (lambda: L.IntegerLookup(vocabulary_dtype="int32"), "vocabulary_dtype"),
    (lambda: L.TextVectorization(standardize="upper"), "standardize"),
    (lambda: L.TextVectorization(split="comma"), "split"),
    (lambda: L.TextVectorization(ngrams="2"), "ngrams"),
    (lambda: L.TextVectorization(ngrams=2, split=None), "ngrams"),
    (lambda: L.TextVectorization(output_mode="count", output_sequence_length=4), "output_sequence_length"),
    (lambda: L.TextVectorization(output_sequence_length=-1), "output_sequence_length"),
    (lambda: L.TextVectorization(output_mode="one_hot"), "one_hot"),
    (lambda: L.TextVectorization(ragged=True), "ragged"),
    (lambda: L.TextVectorization(sparse=True), "sparse"),
    (lambda: L.TextVectorization(vocabulary=["a"], output_mode="tf_idf"), "idf_weights"),
])
def test_bad_arguments_name_the_layer_and_argument(make, argument):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    message = str(info.value)
    assert argument in message
    assert "Lookup" in message or "TextVectorization" in message


def test_bad_inputs_are_refused_clearly():
    sl = L.StringLookup(vocabulary=["a", "b"], name="words")
    with pytest.raises(TypeError, match=r"StringLookup layer 'words'.*`inputs`.*numeric"):
        sl(np.array([1, 2]))
    il = L.IntegerLookup(vocabulary=[1, 2], name="ids")
    with pytest.raises(TypeError, match=r"IntegerLookup layer 'ids'.*`inputs`.*integers"):
        il(np.array(["a"]))
    with pytest.raises(ValueError, match=r"'ids'.*finite"):
        il(np.array([1.0, np.nan]))
    inverse = L.StringLookup(vocabulary=["a"], invert=True)
    with pytest.raises(TypeError, match="integer indices"):
        inverse(np.array(["a"]))
    tv = L.TextVectorization(vocabulary=["a"], name="vec")
    with pytest.raises(ValueError, match=r"'vec'.*\(batch,\) or \(batch, 1\)"):
        tv(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match=r"'vec'.*strings"):
        tv([b"ok", 3])
    with pytest.raises(ValueError, match="UTF-8"):
        tv(np.array([b"\xff"]))
    strict = L.StringLookup(vocabulary=["a"], num_oov_indices=0)
    with pytest.raises(ValueError, match=r"num_oov_indices=0.*\['zz'\]"):
        strict(np.array(["a", "zz"]))


def test_state_errors():
    with pytest.raises(RuntimeError, match="vocabulary before it is called"):
        L.StringLookup(output_mode="multi_hot")(np.array([["a"]]))
    fixed = L.StringLookup(vocabulary=["a", "b"], output_mode="multi_hot")
    with pytest.raises(RuntimeError, match="cannot change"):
        fixed.set_vocabulary(["a", "b", "c"])
    with pytest.raises(ValueError, match="Cannot adapt"):
        L.TextVectorization(vocabulary=["a"]).adapt(["a b"])
    with pytest.raises(ValueError, match="`steps`"):
        L.StringLookup().adapt(np.array(["a"]), steps=2)


def test_callables_run_in_code_and_are_refused_in_files(tmp_path):
    def shout(strings):  # a NumPy object array of str in, the same shape out
        return np.vectorize(lambda s: s.upper(), otypes=[object])(strings)

    def commas(strings):  # one token list per string
        return [s.split(",") for s in strings]

    custom = L.TextVectorization(standardize=shout, split=commas)
    custom.adapt(["a,b", "b,c"])
    assert custom.get_vocabulary() == ["", "[UNK]", "B", "C", "A"]
    np.testing.assert_array_equal(custom(["c,a,z"]), [[3, 4, 1]])
    inp = rnnlab.Input(shape=(1,), dtype="string")
    model = rnnlab.Model(inp, custom(inp))
    with pytest.raises(ValueError, match="Python callable as `standardize`"):
        model.save(tmp_path / "m.keras")


def _model_with(vectorizer):
    inp = rnnlab.Input(shape=(1,), dtype="string")
    x = L.Embedding(vectorizer.vocabulary_size() + 2, 3)(vectorizer(inp))
    return rnnlab.Model(inp, L.Dense(2)(L.LSTM(2)(x)))


def _rewrite_config(path, edit):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    edit(config["config"]["layers"][1]["config"])
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_adapted_vocabulary_round_trips_through_assets(tmp_path):
    vec = L.TextVectorization(max_tokens=12, output_sequence_length=5)
    vec.adapt(["Tea, then café!", "tea or coffee", "日本 tea"])
    model = _model_with(vec)
    x = np.array([["tea café"], ["coffee 日本 unknown"]])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assets = sorted(n for n in zf.namelist() if n.startswith("assets/"))
        assert assets == ["assets/layers/text_vectorization/_lookup_layer/vocabulary.txt",
                          "assets/layers/text_vectorization/vocabulary.txt"]  # where Keras puts them
        assert zf.read(assets[1]).decode() == "\n".join(vec.get_vocabulary())
    back = rnnlab.models.load_model(tmp_path / "m.keras")
    assert back.layers[1].get_vocabulary() == vec.get_vocabulary()
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)


def test_files_cannot_smuggle_code_or_paths(tmp_path):
    vec = L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=3)
    _model_with(vec).save(tmp_path / "m.keras")
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("a\nb\n")
    path_file = tmp_path / "path.keras"
    (tmp_path / "m.keras").rename(path_file)
    _rewrite_config(path_file, lambda c: c.update(vocabulary=str(vocab_file)))
    with pytest.raises(ValueError, match="safe_mode"):
        rnnlab.models.load_model(path_file)
    loaded = rnnlab.models.load_model(path_file, safe_mode=False)
    assert loaded.layers[1].get_vocabulary() == ["", "[UNK]", "a", "b"]

    fn_file = tmp_path / "fn.keras"
    _model_with(L.TextVectorization(vocabulary=["a"], output_sequence_length=2)).save(fn_file)
    fn = {"module": "builtins", "class_name": "function", "config": "shout", "registered_name": "shout"}
    _rewrite_config(fn_file, lambda c: c.update(standardize=fn))
    with pytest.raises(ValueError, match="custom function 'shout'"):
        rnnlab.models.load_model(fn_file)
    model = rnnlab.models.load_model(fn_file, custom_objects={"shout": np.char.upper})  # the program's function
    assert model.layers[1].get_config()["standardize"] is np.char.upper


def test_lookup_layers_have_no_weights_and_no_gradient():
    vec = L.TextVectorization(vocabulary=["a", "b"], output_sequence_length=3)
    model = _model_with(vec)
    assert vec.count_params() == 0 and vec.weights == []
    out, backward = vec.forward_backward(np.array([["a b"]]), grads={})
    np.testing.assert_array_equal(out, [[2, 3, 0]])
    assert backward(np.ones((1, 3))) == (None, {})
    assert model.count_params() == 6 * 3 + (4 * 2 * (3 + 2) + 4 * 2) + (2 * 2 + 2)  # Embedding, LSTM, Dense


def test_adapt_reads_a_py_dataset_batch_by_batch():
    """An rnnlab PyDataset (or any iterable of batches) is read one batch at a time; the counts add up to those
    of the whole data, so the vocabulary is the one adapt() learns from the concatenated batches."""
    rng = np.random.default_rng(0)
    words = np.array(["a", "b", "c", "d", "é"])
    parts = [np.array([" ".join(rng.choice(words, 4)) for _ in range(3)]) for _ in range(4)]

    class Batches(rnnlab.utils.PyDataset):
        def __len__(self):
            return len(parts)

        def __getitem__(self, index):
            return parts[index]

    batched, whole = L.TextVectorization(output_mode="tf_idf"), L.TextVectorization(output_mode="tf_idf")
    batched.adapt(Batches())
    whole.adapt(np.concatenate(parts))
    assert batched.get_vocabulary() == whole.get_vocabulary()
    np.testing.assert_array_equal(batched(parts[0]), whole(parts[0]))
    first_two = L.TextVectorization()
    first_two.adapt(iter(parts), steps=2)
    only = L.TextVectorization()
    only.adapt(np.concatenate(parts[:2]))
    assert first_two.get_vocabulary() == only.get_vocabulary()
