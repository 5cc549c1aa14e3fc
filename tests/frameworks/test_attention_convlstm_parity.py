"""Attention, AdditiveAttention, MultiHeadAttention, ConvLSTM1D/2D/3D, Conv2D, Conv3D, MaxPooling2D and
GlobalAveragePooling2D against real Keras 3, on random weights (biases included):

* each layer alone, over its arguments (masks, causal masks, attention scores, attention axes, strides, dilation,
  groups, go_backwards, initial_state, return_state...): outputs to 1e-5, Keras's config keys;
* models mixing them with LSTM/GRU and masks: Keras saves a ``.keras``, rnnlab loads it and predicts the same;
  three Adam steps give Keras's weights to 2e-5; rnnlab saves a ``.keras`` that Keras loads with the same
  predictions; ``count_params`` agrees; ONNX export refuses the layers it has no operator for, by name.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import rnnlab  # noqa: E402
from tests.support.reference import assert_parity, flatten, randomize, require, to_numpy  # noqa: E402

ATOL = 1e-5


@pytest.fixture(scope="module")
def K():
    return require("keras")


def _x(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# ----------------------------------------------------------------------------------------------- single layers
# Each case: (layer class, constructor kwargs, inputs maker (rng) -> (args, call kwargs)).
def _qvk(rng, mask=False, **call):
    q, v, k = _x(rng, 3, 4, 5), _x(rng, 3, 6, 7), _x(rng, 3, 6, 5)
    if mask:
        vm = rng.random((3, 6)) > 0.3
        vm[:, 0] = True
        call["mask"] = [rng.random((3, 4)) > 0.3, vm]
    return ([q, v, k],), call


def _mha_inputs(rng, key=True, **call):
    args = (_x(rng, 3, 4, 5), _x(rng, 3, 6, 7)) + ((_x(rng, 3, 6, 2),) if key else ())
    if call.pop("value_mask", False):
        call["value_mask"] = rng.random((3, 6)) > 0.3
    if call.pop("attention_mask", False):
        call["attention_mask"] = rng.random((3, 4, 6)) > 0.2
    return args, call


def _seq(rng, shape, mask=False, initial=None, **call):
    if mask:
        call["mask"] = rng.random(shape[:2]) > 0.3
    if initial is not None:
        call["initial_state"] = [_x(rng, *initial), _x(rng, *initial)]
    return (_x(rng, *shape),), call


LAYER_CASES = {
    "attention_dot": ("Attention", {}, lambda r: _qvk(r)),
    "attention_scaled_masked_causal_scores": ("Attention", {"use_scale": True},
                                              lambda r: _qvk(r, mask=True, use_causal_mask=True,
                                                             return_attention_scores=True)),
    "attention_concat": ("Attention", {"score_mode": "concat", "use_scale": True}, lambda r: _qvk(r, mask=True)),
    "additive": ("AdditiveAttention", {}, lambda r: _qvk(r, mask=True, return_attention_scores=True)),
    "additive_unscaled_causal": ("AdditiveAttention", {"use_scale": False},
                                 lambda r: _qvk(r, use_causal_mask=True)),
    "mha": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, lambda r: _mha_inputs(r, key=False)),
    "mha_key_masks_scores": ("MultiHeadAttention", {"num_heads": 3, "key_dim": 2, "value_dim": 4},
                             lambda r: _mha_inputs(r, value_mask=True, attention_mask=True,
                                                   return_attention_scores=True)),
    "mha_causal_output_shape_no_bias": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "use_bias": False,
                                                               "output_shape": (2, 3), "sliding_window": 3},
                                        lambda r: _mha_inputs(r, use_causal_mask=True)),
    "mha_attention_axes": ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "attention_axes": (1, 2)},
                           lambda r: ((_x(r, 2, 3, 4, 5), _x(r, 2, 3, 4, 5)), {"return_attention_scores": True})),
    "convlstm2d": ("ConvLSTM2D", {"filters": 3, "kernel_size": 3}, lambda r: _seq(r, (2, 3, 6, 5, 2))),
    "convlstm2d_same_sequences_states": ("ConvLSTM2D", {"filters": 3, "kernel_size": (3, 2), "padding": "same",
                                                        "return_sequences": True, "return_state": True,
                                                        "use_bias": True, "unit_forget_bias": False},
                                         lambda r: _seq(r, (2, 3, 6, 5, 2), mask=True)),
    "convlstm2d_strides_backwards": ("ConvLSTM2D", {"filters": 2, "kernel_size": 3, "strides": 2,
                                                    "go_backwards": True, "return_sequences": True,
                                                    "activation": "relu", "recurrent_activation": "hard_sigmoid"},
                                     lambda r: _seq(r, (2, 3, 7, 6, 2), mask=True)),
    "convlstm2d_dilation_initial_state": ("ConvLSTM2D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2,
                                                         "padding": "same", "return_state": True},
                                          lambda r: _seq(r, (2, 3, 6, 5, 2), initial=(2, 6, 5, 2))),
    "convlstm1d": ("ConvLSTM1D", {"filters": 3, "kernel_size": 3, "return_sequences": True, "use_bias": False},
                   lambda r: _seq(r, (2, 4, 7, 3))),
    "convlstm3d": ("ConvLSTM3D", {"filters": 2, "kernel_size": 2, "padding": "same"},
                   lambda r: _seq(r, (2, 3, 4, 4, 3, 2))),
    "conv2d": ("Conv2D", {"filters": 3, "kernel_size": 3, "activation": "tanh"}, lambda r: ((_x(r, 2, 7, 6, 4),), {})),
    "conv2d_groups_strides_same": ("Conv2D", {"filters": 4, "kernel_size": (3, 2), "strides": 2, "padding": "same",
                                              "groups": 2}, lambda r: ((_x(r, 2, 7, 6, 4),), {})),
    "conv2d_dilation": ("Conv2D", {"filters": 3, "kernel_size": 2, "dilation_rate": (2, 1), "use_bias": False},
                        lambda r: ((_x(r, 2, 7, 6, 4),), {})),
    "conv3d": ("Conv3D", {"filters": 3, "kernel_size": (2, 1, 3), "strides": (1, 2, 2), "activation": "relu"},
               lambda r: ((_x(r, 2, 5, 4, 6, 2),), {})),
    "maxpool2d": ("MaxPooling2D", {}, lambda r: ((_x(r, 2, 7, 6, 3),), {})),
    "maxpool2d_same": ("MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"},
                       lambda r: ((_x(r, 2, 7, 6, 3),), {})),
    "global_average_pool2d": ("GlobalAveragePooling2D", {"keepdims": True}, lambda r: ((_x(r, 2, 7, 6, 3),), {})),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_matches_keras(K, case, rng):
    cls, kwargs, make = LAYER_CASES[case]
    args, call = make(rng)
    theirs, ours = getattr(K.layers, cls)(**kwargs), getattr(rnnlab.layers, cls)(**kwargs)
    theirs(*args, **call)
    ours(*args, **call)
    weights = randomize(theirs, rng)
    ours.set_weights(weights)
    assert [w.path.split("/", 1)[1] for w in ours.weights] == [w.path.split("/", 1)[1] for w in theirs.weights]
    assert ours.count_params() == theirs.count_params()
    expected = to_numpy(theirs(*args, **call))
    assert_parity(flatten(to_numpy(ours(*args, **call))), flatten(expected), atol=ATOL, flat=True, check_numpy=False)
    config = ours.get_config()
    assert set(config) == set(theirs.get_config()), case
    again = type(ours).from_config(config)
    again(*args, **call)
    again.set_weights(weights)
    assert_parity(flatten(to_numpy(again(*args, **call))), flatten(expected), atol=ATOL, flat=True,
                  check_numpy=False)


def test_channels_first_equals_channels_last_transposed(rng):
    """TensorFlow has no channels_first convolution on CPU: rnnlab's channels_first must be its channels_last on
    transposed data (ConvLSTM2D with strides, Conv2D with groups, MaxPooling2D, GlobalAveragePooling2D)."""
    L = rnnlab.layers
    x = _x(rng, 2, 3, 7, 6, 4)  # (B, T, H, W, C)
    pairs = [
        (lambda f: L.ConvLSTM2D(2, 3, strides=2, padding="same", return_sequences=True, data_format=f),
         (0, 1, 4, 2, 3), (0, 1, 3, 4, 2)),
        (lambda f: L.Conv2D(4, 3, groups=2, data_format=f), (0, 3, 1, 2), (0, 2, 3, 1)),
        (lambda f: L.MaxPooling2D(3, 2, padding="same", data_format=f), (0, 3, 1, 2), (0, 2, 3, 1)),
        (lambda f: L.GlobalAveragePooling2D(data_format=f), (0, 3, 1, 2), None),
    ]
    for make, to_first, back in pairs:
        data = x if len(to_first) == 5 else x[:, 0]
        last, first = make("channels_last"), make("channels_first")
        expected = last(data)
        first(np.transpose(data, to_first))
        first.set_weights(last.get_weights())
        got = first(np.transpose(data, to_first))
        np.testing.assert_allclose(got if back is None else np.transpose(got, back), expected, atol=1e-6)


# ----------------------------------------------------------------------------------------------- models
def _masked_attention(K):
    L = K.layers
    x = K.Input((6, 3))
    seq = L.LSTM(5, return_sequences=True)(L.Masking()(x))
    context = L.Attention(use_scale=True, score_mode="concat")([seq, seq])
    return K.Model(x, L.Dense(2)(L.LSTM(3)(context)))


def _additive_causal(K):
    L = K.layers
    x = K.Input((6, 3))
    q = L.GRU(4, return_sequences=True)(x)
    return K.Model(x, L.Dense(2)(L.AdditiveAttention()([q, q, q], use_causal_mask=True)))


def _multi_head(K):
    L = K.layers
    x = K.Input((6, 3))
    seq = L.GRU(6, return_sequences=True)(L.Masking()(x))
    y = L.MultiHeadAttention(2, 3, value_dim=4)(seq, seq, use_causal_mask=True)
    return K.Model(x, L.Dense(1)(L.LSTM(3)(y)))


def _convlstm2d_conv3d(K):
    L = K.layers
    x = K.Input((4, 6, 6, 2))
    h = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, go_backwards=True)(x)
    return K.Model(x, L.Conv3D(2, 3, padding="same", activation="sigmoid")(h))


def _convlstm1d_conv2d(K):
    L = K.layers
    x = K.Input((4, 7, 2))
    h = L.ConvLSTM1D(3, 2, return_sequences=True)(x)
    h = L.MaxPooling2D()(L.Conv2D(4, 2, padding="same", activation="relu")(h))
    return K.Model(x, L.Dense(2)(L.GlobalAveragePooling2D()(h)))


def _convlstm3d(K):
    L = K.layers
    x = K.Input((3, 4, 4, 3, 1))
    return K.Model(x, L.Conv3D(1, 2)(L.ConvLSTM3D(2, 2, padding="same")(x)))


MODEL_CASES = {"masked_attention": _masked_attention, "additive_causal": _additive_causal,
               "multi_head": _multi_head, "convlstm2d_conv3d": _convlstm2d_conv3d,
               "convlstm1d_conv2d_pooling": _convlstm1d_conv2d, "convlstm3d": _convlstm3d}


def _data(model, rng):
    shape = [4] + list(model.inputs[0].shape[1:])
    x = _x(rng, *shape)
    x[:2, -2:] = 0.0  # padding, for the models with a Masking layer
    y = _x(rng, *([4] + list(model.outputs[0].shape[1:])))
    return x, y


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_files_and_training_match_keras(K, case, tmp_path, rng):
    km = MODEL_CASES[case](K)
    randomize(km, rng)
    x, y = _data(km, rng)
    path = str(tmp_path / "keras_made.keras")
    km.save(path)
    rm = rnnlab.models.load_model(path)
    assert rm.count_params() == km.count_params()
    assert [w.shape for w in rm.weights] == [tuple(w.shape) for w in km.weights]
    assert_parity(to_numpy(rm.predict(x, verbose=0)), to_numpy(km(x, training=False)), atol=ATOL)

    km.compile(optimizer=K.optimizers.Adam(0.01), loss="mse")
    rm.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="mse")
    for _ in range(3):
        k_loss, r_loss = km.train_on_batch(x, y), rm.train_on_batch(x, y)
        assert abs(float(k_loss) - float(r_loss)) < 2e-5
    for ours, theirs, w in zip(rm.get_weights(), km.get_weights(), km.weights):
        np.testing.assert_allclose(ours, theirs, atol=2e-5, err_msg=w.path)

    back = str(tmp_path / "rnnlab_made.keras")
    rm.save(back)
    assert_parity(to_numpy(K.models.load_model(back)(x, training=False)), to_numpy(rm.predict(x, verbose=0)),
                  atol=ATOL)


@pytest.mark.parametrize("case", ["masked_attention", "convlstm2d_conv3d"])
def test_onnx_export_refuses_by_layer_name(case, rng):
    require("onnx")
    model = MODEL_CASES[case](rnnlab)
    layer = next(layer for layer in model.layers if type(layer).__name__ in ("Attention", "ConvLSTM2D"))
    with pytest.raises(ValueError, match=layer.name):
        rnnlab.convert.to_onnx(model)


def test_stateful_convlstm_carries_state_between_calls(K, rng):
    def build(lib):
        x = lib.Input((3, 5, 5, 2), batch_size=2)
        return lib.Model(x, lib.layers.ConvLSTM2D(2, 3, stateful=True, padding="same")(x))

    km, rm = build(K), build(rnnlab)
    randomize(km, rng)
    rm.set_weights(km.get_weights())
    first, second = _x(rng, 2, 3, 5, 5, 2), _x(rng, 2, 3, 5, 5, 2)
    for x in (first, second):
        assert_parity(rm.predict(x, verbose=0), to_numpy(km(x)), atol=ATOL)
    km.layers[1].reset_states()
    rm.layers[1].reset_states()
    assert_parity(rm.predict(second, verbose=0), to_numpy(km(second)), atol=ATOL)
