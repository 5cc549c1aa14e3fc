"""What Keras programs meet beyond the layers, against Keras 3.15.1: ``class_weight`` with ``validation_split``,
``layer.output`` of a layer called twice, and the TensorFlow names that the import swap refuses."""
import numpy as np
import pytest

import rnnlab
from rnnlab import tensorflow_names
from tests.support.reference import require


@pytest.fixture(scope="module")
def keras():
    return require("keras")


def _classifier(framework, weights=None):
    inputs = framework.Input((6, 3))
    hidden = framework.layers.LSTM(5)(inputs)
    model = framework.Model(inputs, framework.layers.Dense(3, activation="softmax")(hidden))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=framework.optimizers.SGD(0.2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_class_weight_weighs_the_training_rows_only(keras):
    """As Keras 3.15: with ``validation_split``, class weights weigh the training rows and not the validation rows
    (their val_loss is unweighted); a class missing from ``class_weight`` weighs 1."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 6, 3)).astype("float32")
    y = rng.integers(0, 3, 60)
    ours = _classifier(rnnlab)
    weights = [rng.uniform(-0.6, 0.6, w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs = _classifier(keras, weights)
    kwargs = dict(batch_size=16, epochs=3, shuffle=False, verbose=0, validation_split=0.25,
                  class_weight={0: 0.5, 1: 4.0})  # class 2: weight 1
    h_ours, h_theirs = ours.fit(x, y, **kwargs).history, theirs.fit(x, y, **kwargs).history
    assert set(h_ours) == set(h_theirs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in h_theirs:
        np.testing.assert_allclose(h_ours[key], h_theirs[key], rtol=2e-5, err_msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)
    # the validation rows, unweighted: the last val_loss is evaluate's on them
    np.testing.assert_allclose(h_ours["val_loss"][-1], ours.evaluate(x[45:], y[45:], verbose=0)[0], rtol=1e-5)


def test_output_of_a_layer_called_twice_is_its_first_calls(keras):
    """Keras 3.15.1 answers ``layer.output`` (and ``.input``) of a layer called on two inputs with the first call's
    tensors; so does rnnlab, and a model built from them computes what Keras's computes."""
    rng = np.random.default_rng(3)
    results = []
    for framework in (rnnlab, keras):
        a, b = framework.Input((4, 2), name="a"), framework.Input((4, 2), name="b")
        shared = framework.layers.GRU(3, name="shared")
        first, second = shared(a), shared(b)
        assert shared.output is first and shared.input is a
        assert shared.output is not second
        model = framework.Model([a, b], framework.layers.Concatenate()([first, second]))
        if framework is rnnlab:
            weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()]
        model.set_weights(weights)
        inner = framework.Model(model.input[0], model.get_layer("shared").output)  # seq2seq's rebuild
        xa = np.random.default_rng(4).normal(size=(2, 4, 2)).astype("float32")
        results.append(np.asarray(inner.predict(xa, verbose=0)))
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)


def test_every_refused_name_is_tensorflows():
    """The import swap's refusals name TensorFlow APIs that exist (tf.X, tf.config.X, tf.random.X)."""
    tf = require("tensorflow")
    owners = {"rnnlab": tf, "rnnlab.config": tf.config, "rnnlab.random": tf.random}
    for module, (_, table) in tensorflow_names._TABLES.items():
        missing = [name for name in table if not hasattr(owners[module], name)]
        assert not missing, (module, missing)
