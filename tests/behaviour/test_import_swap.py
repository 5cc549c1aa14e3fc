"""Under ``import rnnlab as tf``, ``tf.keras`` is rnnlab, and TensorFlow's own API (``tf.data``,
``tf.GradientTape``, ``tf.config.list_physical_devices``, ...) is refused by name with an ``AttributeError`` that
says rnnlab implements the Keras API.  (``tests/frameworks/test_keras_programs.py`` checks that each refused name is
TensorFlow's.)"""
import pkgutil

import pytest

import rnnlab
import rnnlab as tf
from rnnlab import tensorflow_names

TABLES = [(module, prefix, name) for module, (prefix, table) in tensorflow_names._TABLES.items() for name in table]


@pytest.mark.parametrize("module,prefix,name", TABLES, ids=[f"{p}.{n}" for _, p, n in TABLES])
def test_tensorflow_names_are_refused_by_name(module, prefix, name):
    owner = {"rnnlab": rnnlab, "rnnlab.config": rnnlab.config, "rnnlab.random": rnnlab.random}[module]
    with pytest.raises(AttributeError) as info:
        getattr(owner, name)
    message = str(info.value)
    assert message.startswith(f"module {module!r} has no attribute {name!r}: {prefix}.{name} is ")
    assert "rnnlab implements the Keras API (tf.keras)" in message
    assert not hasattr(owner, name)
    assert getattr(owner, name, "default") == "default"


def test_the_tables_never_shadow_rnnlab():
    submodules = {m.name for m in pkgutil.iter_modules(rnnlab.__path__)}
    for module, (_, table) in tensorflow_names._TABLES.items():
        owner = {"rnnlab": rnnlab, "rnnlab.config": rnnlab.config, "rnnlab.random": rnnlab.random}[module]
        defined = set(vars(owner)) | (submodules if owner is rnnlab else set())
        assert not defined & set(table), defined & set(table)


def test_keras_names_still_resolve():
    assert tf.keras is rnnlab and tf.keras.layers.LSTM is rnnlab.layers.LSTM
    assert tf.config.floatx() == "float32" and tf.keras.utils.set_random_seed is rnnlab.utils.set_random_seed
    assert tf.preprocessing.sequence.pad_sequences is rnnlab.utils.pad_sequences  # a lazy submodule
    from rnnlab import demo  # a submodule not yet imported: `from` import still finds it

    assert demo.__name__ == "rnnlab.demo"


def test_other_missing_names_keep_pythons_message():
    with pytest.raises(AttributeError, match=r"^module 'rnnlab' has no attribute 'layres'$"):
        tf.layres


def test_the_messages_say_what_to_use():
    with pytest.raises(AttributeError, match=r"tf\.data is TensorFlow.s input pipeline.*PyDataset.*"
                                             r"timeseries_dataset_from_array"):
        tf.data.Dataset.from_tensor_slices(([1.0], [2.0]))
    with pytest.raises(AttributeError, match=r"tf\.GradientTape.*model\.fit"):
        tf.GradientTape()
    with pytest.raises(AttributeError, match=r"tf\.reduce_mean is a TensorFlow op.*rnnlab\.ops\.mean"):
        tf.reduce_mean([1.0])
    with pytest.raises(AttributeError, match='write dtype="float32"'):
        tf.keras.Input((3,), dtype=tf.float32)
    with pytest.raises(AttributeError, match=r"tf\.random\.set_seed.*rnnlab\.utils\.set_random_seed"):
        tf.random.set_seed(0)
    with pytest.raises(AttributeError, match=r"tf\.config\.list_physical_devices.*CPU"):
        tf.config.list_physical_devices("GPU")
