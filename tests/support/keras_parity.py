"""Helpers shared by the layer-parity tests: Keras configs compared with rnnlab's, and a model trained side by
side in Keras and rnnlab, then carried through `.keras` files both ways."""
import numpy as np


def jsonish(value):
    """Tuples as lists (a config written to JSON and read back compares so)."""
    if isinstance(value, (list, tuple)):
        return [jsonish(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonish(v) for k, v in value.items()}
    return value


def plain_config(config):
    """A layer config without its automatic name (each framework counts its own), with Keras's dtype policy
    written as rnnlab writes it (the dtype's name) and tuples as lists."""
    config = {k: v for k, v in config.items() if k != "name"}
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = config["dtype"]["config"]["name"]
    return jsonish(config)


def trains_alike_and_files_go_both_ways(keras, rnnlab, program, data, y, rng, tmp_path, atol=2e-5):
    """``program(K)`` builds the same model in Keras and in rnnlab: same random weights, same predictions (1e-5),
    three Adam epochs to the same losses and weights (``atol``); then Keras's ``.keras`` file read by rnnlab and
    rnnlab's read by Keras predict as Keras does."""
    keras.backend.clear_session()  # default layer names count from zero in both (other tests made layers before)
    rnnlab.backend.clear_session()
    km, rm = program(keras), program(rnnlab)
    weights = [rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32") for w in km.weights]
    km.set_weights(weights)
    rm.set_weights(weights)
    assert [w.path for w in rm.weights] == [w.path for w in km.weights]
    np.testing.assert_allclose(rm.predict(data, verbose=0), km.predict(data, verbose=0), atol=1e-5, rtol=0)
    km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    k_loss = km.fit(data, y, batch_size=len(data), epochs=3, shuffle=False, verbose=0).history["loss"]
    r_loss = rm.fit(data, y, batch_size=len(data), epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(r_loss, k_loss, atol=atol, rtol=0)
    for rw, kw in zip(rm.weights, km.weights):
        np.testing.assert_allclose(rw.value, kw.numpy(), atol=atol, rtol=0, err_msg=kw.path)

    expected = km.predict(data, verbose=0)
    path = str(tmp_path / "keras_made.keras")
    km.save(path)
    loaded = rnnlab.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), expected, atol=1e-5, rtol=0)
    back = str(tmp_path / "rnnlab_made.keras")
    loaded.save(back)
    np.testing.assert_allclose(keras.models.load_model(back).predict(data, verbose=0), expected, atol=1e-5, rtol=0)
