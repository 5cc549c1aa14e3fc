"""Top-level names Keras programs reach for (keras.Loss, keras.Metric, keras.Optimizer, keras.Regularizer,
keras.Initializer, keras.KerasTensor), keras.config.backend(), layers.MaxPool2D, and the refusal of
keras.config.enable_unsafe_deserialization: each as Keras has it, checked against Keras."""
import numpy as np
import pytest

import rnnlab


@pytest.mark.parametrize("name,module", [("Loss", "losses"), ("Metric", "metrics"), ("Optimizer", "optimizers"),
                                         ("Regularizer", "regularizers"), ("Initializer", "initializers")])
def test_top_level_base_classes_are_the_modules_own(keras, name, module):
    assert hasattr(keras, name)  # the reference has the name at top level
    assert getattr(rnnlab, name) is getattr(getattr(rnnlab, module), name)


def test_a_keras_loss_subclass_trains_as_in_keras(keras, rng):
    """A program subclasses keras.Loss and keras.Regularizer from the top level: same losses and weights after
    three SGD steps as Keras."""
    def program(K):
        class ScaledMSE(K.Loss):
            def call(self, y_true, y_pred):
                return K.ops.mean(K.ops.square(y_true - y_pred), axis=-1) * 2.0

        class L1Half(K.Regularizer):
            def __call__(self, x):
                return 0.5 * K.ops.sum(K.ops.abs(x))

        x = K.Input((6, 2))
        h = K.layers.LSTM(3, kernel_regularizer=L1Half())(x)
        model = K.Model(x, K.layers.Dense(1)(h))
        model.compile(optimizer=K.optimizers.SGD(0.05), loss=ScaledMSE())
        return model

    data, y = rng.normal(size=(4, 6, 2)).astype("float32"), rng.normal(size=(4, 1)).astype("float32")
    km, rm = program(keras), program(rnnlab)
    weights = [rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32") for w in km.weights]
    km.set_weights(weights)
    rm.set_weights(weights)
    k_loss = km.fit(data, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"]
    r_loss = rm.fit(data, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(r_loss, k_loss, atol=2e-5, rtol=0)
    for rw, kw in zip(rm.weights, km.weights):
        np.testing.assert_allclose(rw.value, kw.numpy(), atol=2e-5, rtol=0)


def test_keras_tensor_and_backend_name(keras):
    x = rnnlab.Input((3, 2))
    assert isinstance(x, rnnlab.KerasTensor)
    assert isinstance(keras.Input((3, 2)), keras.KerasTensor)
    assert rnnlab.config.backend() == "numpy"
    assert keras.config.backend() in ("tensorflow", "torch", "jax", "numpy", "openvino")


def test_maxpool2d_alias(keras):
    assert rnnlab.layers.MaxPool2D is rnnlab.layers.MaxPooling2D
    assert keras.layers.MaxPool2D is keras.layers.MaxPooling2D


def test_enable_unsafe_deserialization_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="never runs code.*custom_objects"):
        rnnlab.config.enable_unsafe_deserialization()


def test_a_loss_function_written_with_ops_trains_as_in_keras(keras, rng):
    """A plain function (not a Loss subclass) written with keras.ops, given to compile: rnnlab used to refuse to
    differentiate it; now its gradient comes from the record and training matches Keras."""
    def program(K):
        def asymmetric(y_true, y_pred):
            err = y_pred - y_true
            return K.ops.mean(K.ops.where(err > 0, 2.0 * err, -0.5 * err) + 0.1 * K.ops.square(err), axis=-1)

        x = K.Input((5, 3))
        model = K.Model(x, K.layers.Dense(2)(K.layers.GRU(4)(x)))
        model.compile(optimizer=K.optimizers.Adam(0.01), loss=asymmetric)
        return model

    data, y = rng.normal(size=(6, 5, 3)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    km, rm = program(keras), program(rnnlab)
    weights = [rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32") for w in km.weights]
    km.set_weights(weights)
    rm.set_weights(weights)
    k_loss = km.fit(data, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    r_loss = rm.fit(data, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(r_loss, k_loss, atol=2e-5, rtol=0)
    for rw, kw in zip(rm.weights, km.weights):
        np.testing.assert_allclose(rw.value, kw.numpy(), atol=2e-5, rtol=0)


@pytest.mark.parametrize("kind", ["function", "subclass"])
def test_user_loss_gradient_float64(kind):
    """value_and_grad of a user loss against float64 central finite differences, with sample weights."""
    from rnnlab import ops

    def fn(y_true, y_pred):
        return ops.sum(ops.log(1.0 + ops.exp(y_pred * y_true)) * ops.tanh(y_pred), axis=-1)

    class Softish(rnnlab.Loss):
        def call(self, y_true, y_pred):
            return fn(y_true, y_pred)

    loss = rnnlab.losses.get(fn) if kind == "function" else Softish()
    rng = np.random.default_rng(3)
    y_true, y_pred, weights = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.uniform(0.5, 2.0, (4,))
    _, grad = loss.value_and_grad(y_true, y_pred, sample_weight=weights)
    numeric = np.zeros_like(y_pred)
    for idx in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[idx] += 1e-6
        down[idx] -= 1e-6
        numeric[idx] = (loss(y_true, up, sample_weight=weights) - loss(y_true, down, sample_weight=weights)) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-7, rtol=1e-6)


def test_a_loss_function_that_leaves_the_record_is_refused_in_training(rng):
    def detached(y_true, y_pred):
        return np.mean(np.asarray(y_pred) - y_true, axis=-1) ** 2

    x = rnnlab.Input((3,))
    model = rnnlab.Model(x, rnnlab.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss=detached)
    with pytest.raises(TypeError, match="do not follow y_pred through rnnlab.ops"):
        model.fit(rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), verbose=0)


def test_a_metric_subclass_with_state_variables_runs_as_in_keras(keras, rng):
    """Keras 3's way of writing a metric: add_variable/add_weight state, assign/assign_add in update_state, the
    default reset_state between epochs. Same history and evaluate results as Keras."""
    def program(K):
        class MeanAbsErr(K.metrics.Metric):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.count = self.add_variable(shape=(), initializer="zeros", name="count")
                self.total = self.add_weight(name="total", initializer="zeros")

            def update_state(self, y_true, y_pred, sample_weight=None):
                self.count.assign(self.count + K.ops.cast(K.ops.shape(y_true)[0], "float32"))
                self.total.assign_add(K.ops.sum(K.ops.abs(y_true - y_pred)))

            def result(self):
                return self.total / self.count

        x = K.Input((6, 2))
        model = K.Model(x, K.layers.Dense(1)(K.layers.LSTM(3)(x)))
        model.compile(optimizer=K.optimizers.SGD(0.05), loss="mse", metrics=[MeanAbsErr(name="mine")])
        return model

    data, y = rng.normal(size=(12, 6, 2)).astype("float32"), rng.normal(size=(12, 1)).astype("float32")
    km, rm = program(keras), program(rnnlab)
    weights = [rng.uniform(-0.5, 0.5, tuple(w.shape)).astype("float32") for w in km.weights]
    km.set_weights(weights)
    rm.set_weights(weights)
    k_hist = km.fit(data, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history
    r_hist = rm.fit(data, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history
    for key in ("loss", "mine"):
        np.testing.assert_allclose(r_hist[key], k_hist[key], atol=2e-5, rtol=0, err_msg=key)
    k_eval = km.evaluate(data, y, verbose=0, return_dict=True)
    r_eval = rm.evaluate(data, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(r_eval["mine"], k_eval["mine"], atol=2e-5, rtol=0)


def test_metric_add_variable_refuses_bad_arguments():
    class M(rnnlab.metrics.Metric):
        pass

    metric = M(name="m")
    with pytest.raises(ValueError, match="aggregation"):
        metric.add_variable((), "zeros", aggregation="max")
    with pytest.raises(ValueError, match="initializer"):
        metric.add_weight()
    with pytest.raises(ValueError, match="initializer"):
        metric.add_variable((), "no_such_initializer")
    v = metric.add_variable((2,), "ones")
    metric.reset_state()
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])


def test_a_compiled_model_saved_as_keras_loads_compiled_in_both(keras, tmp_path, rng):
    """rnnlab's .keras file of a compiled model holds Keras's compile_config (the same dict Keras writes for the
    same compile call), so rnnlab and Keras both load it compiled and keep training the same way; a loss only the
    program has is left out with a warning."""
    import json
    import zipfile

    def program(K):
        model = K.Sequential([K.Input((5, 2)), K.layers.GRU(3), K.layers.Dense(1)])
        # named: automatic names count the optimizers and metrics each framework made before this test
        model.compile(optimizer=K.optimizers.Adam(K.optimizers.schedules.CosineDecay(0.02, 10), clipnorm=1.0,
                                                  name="opt"),
                      loss="mse", metrics=["mae", K.metrics.RootMeanSquaredError(name="rmse")])
        return model

    x, y = rng.normal(size=(6, 5, 2)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")
    rm, km = program(rnnlab), program(keras)
    r_path, k_path = str(tmp_path / "r.keras"), str(tmp_path / "k.keras")
    rm.save(r_path)
    km.save(k_path)
    stored = [json.loads(zipfile.ZipFile(p).read("config.json"))["compile_config"] for p in (r_path, k_path)]
    assert stored[0] == stored[1]

    from_rnnlab, from_keras = rnnlab.models.load_model(r_path), keras.models.load_model(r_path)
    assert from_keras.compiled and type(from_rnnlab.optimizer).__name__ == "Adam"
    from_keras.set_weights(from_rnnlab.get_weights())
    r_hist = from_rnnlab.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history
    k_hist = from_keras.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history
    for key in ("loss", "mae", "rmse"):
        np.testing.assert_allclose(r_hist[key], k_hist[key], atol=2e-5, rtol=0, err_msg=key)

    def own_loss(y_true, y_pred):
        return rnnlab.ops.mean(rnnlab.ops.abs(y_true - y_pred), axis=-1)

    rm.compile(optimizer="adam", loss=own_loss)
    with _logs_warning("without its compile settings"):
        rm.save(r_path)
    assert "compile_config" not in json.loads(zipfile.ZipFile(r_path).read("config.json"))


class _logs_warning:
    """A context that checks rnnlab.saving logged a warning containing ``text``."""

    def __init__(self, text):
        self.text = text

    def __enter__(self):
        import logging

        self.records = []
        handler = logging.Handler()
        handler.emit = self.records.append
        self.logger = logging.getLogger("rnnlab.saving.keras_format")
        self.logger.addHandler(handler)
        self.handler = handler
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        if exc[0] is None:
            assert any(self.text in r.getMessage() for r in self.records), [r.getMessage() for r in self.records]
        return False
