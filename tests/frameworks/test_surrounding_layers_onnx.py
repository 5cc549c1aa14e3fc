"""ONNX export of the layers around the recurrent ones: each model, with random weights (biases included), runs in
onnxruntime with rnnlab's outputs to 1e-5; masks that change values are refused with the layer's name."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers as L
from tests.support.reference import require


def _model_shapes_and_activations():
    x = rnnlab.Input((8, 4))
    y = L.ZeroPadding1D((1, 2))(L.Masking()(x))
    y = L.Cropping1D((2, 1))(y)
    y = L.ReLU(max_value=0.9, negative_slope=0.1, threshold=0.1)(L.Dense(6)(y))
    y = L.PReLU(shared_axes=[1])(L.LeakyReLU(0.2)(y))
    y = L.LSTM(5, return_sequences=True)(L.ELU(0.7)(y))
    y = L.Activation("tanh")(L.LayerNormalization(axis=[1, 2])(y))
    y = L.UpSampling1D(2)(L.Permute((2, 1))(L.Identity()(y)))  # (5, 16)
    y = L.Softmax(axis=[1, 2])(L.Reshape((10, -1))(L.Flatten()(y)))
    code = L.GRU(3)(L.GaussianNoise(0.1)(y))
    out = L.TimeDistributed(L.Dense(2))(L.RepeatVector(4)(L.Softmax()(code)))
    return rnnlab.Model(x, [out, L.GlobalAveragePooling1D()(L.LSTM(2, return_sequences=True)(L.Masking()(x)))])


def _model_conv_pool_norm():
    x = rnnlab.Input((12, 4))
    y = L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu")(x)
    y = L.BatchNormalization()(L.SpatialDropout1D(0.2)(y))
    y = L.MaxPooling1D(3, strides=2, padding="same")(y)
    y = L.Conv1D(4, 2, strides=2, padding="same", groups=2)(y)
    y = L.AveragePooling1D(2, strides=1, padding="same")(y)
    z = L.Conv1D(3, 2, data_format="channels_first")(L.Permute((2, 1))(x))
    z = L.AveragePooling1D(2, data_format="channels_first")(L.BatchNormalization(axis=1, center=False)(z))
    y = L.Bidirectional(L.GRU(3, return_sequences=True))(L.GaussianDropout(0.2)(y))
    merged = L.concatenate([L.GlobalMaxPooling1D()(y), L.GlobalAveragePooling1D()(y),
                            L.GlobalMaxPooling1D(data_format="channels_first")(z)])
    return rnnlab.Model(x, L.Dense(2, activation="softmax")(merged))


def _model_merges():
    a, b = rnnlab.Input((5, 3)), rnnlab.Input((3,))
    ma = L.Masking()(a)
    h = L.LSTM(4, return_sequences=True)(ma)
    d = L.Dense(4)(b)
    s = L.average([L.add([h, d]), L.subtract([h, L.Dense(4)(ma)]), L.Dense(4)(ma)])  # masks OR-ed, into the GRU
    g = L.GRU(3)(s)
    u = L.Dense(4)(a)
    m = L.minimum([L.maximum([u, d]), L.multiply([u, u, d])])
    dots = [L.dot([u, u], axes=2), L.Dot(axes=(1, 1), normalize=True)([u, L.Dense(2)(a)]),
            L.dot([g, L.Dense(3)(b)], axes=1)]
    return rnnlab.Model([a, b], [g, m] + dots)


MODELS = {"shapes_activations": _model_shapes_and_activations, "conv_pool_norm": _model_conv_pool_norm,
          "merges": _model_merges}


@pytest.mark.parametrize("case", list(MODELS))
def test_export_runs_in_onnxruntime(case, tmp_path, rng):
    require("onnx")
    ort = require("onnxruntime")
    from rnnlab.convert import to_onnx

    model = MODELS[case]()
    model.set_weights([rng.uniform(-0.7, 0.7, w.shape).astype("float32") + (0.8 if "variance" in w.name else 0)
                       for w in model.weights])
    xs = [rng.normal(size=(3,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]
    if len(xs[0].shape) == 3:
        xs[0][0, -2:] = 0.0  # padding for the Masking layers (right-padded, as ONNX recurrent operators need)
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {i.name: v for i, v in zip(sess.get_inputs(), xs)})
    expected = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=1e-5)


@pytest.mark.parametrize("build,match", [
    (lambda a: L.Softmax()(L.Dense(3)(L.Masking()(a))), "Softmax"),
    (lambda a: L.multiply([L.Masking()(a), L.Masking()(a)]), "Multiply"),
    (lambda a: L.concatenate([L.Masking()(a), a]), "Concatenate"),
])
def test_masks_that_change_values_are_refused(build, match):
    require("onnx")
    from rnnlab.convert import to_onnx

    a = rnnlab.Input((5, 3))
    with pytest.raises(ValueError, match=match):
        to_onnx(rnnlab.Model(a, build(a)))
