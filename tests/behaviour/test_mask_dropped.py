"""A layer that does not support masking drops its input's mask, with Keras 3's warning, and ``supports_masking``
defaults to whether the class overrides ``compute_mask`` (Keras 3's rule)."""
import warnings

import numpy as np
import pytest

import rnnlab
from rnnlab import layers, ops


class Scale(layers.Layer):  # no compute_mask: a mask reaching it is lost
    def build(self, shape):
        self.s = self.add_weight(shape=(shape[-1],), initializer="ones", name="s")

    def call(self, x):
        return x * ops.tanh(self.s)


class KeepMask(Scale):
    def compute_mask(self, inputs, mask=None):
        return mask


def _model(middle):
    inp = rnnlab.Input(shape=(6,), dtype="int32")
    h = layers.Embedding(9, 4, mask_zero=True)(inp)
    h = middle(h)
    return rnnlab.Model(inp, layers.LSTM(3)(h))


def test_supports_masking_follows_compute_mask_unless_set():
    assert not Scale().supports_masking
    assert KeepMask().supports_masking
    layer = KeepMask()
    layer.supports_masking = False
    assert not layer.supports_masking
    assert layers.Dense(2).supports_masking and not layers.Flatten().supports_masking


@pytest.mark.parametrize("mode", ["model", "eager"])
def test_lost_mask_warns_once_and_downstream_sees_none(mode):
    tokens = np.random.default_rng(0).integers(1, 9, size=(4, 6))
    tokens[:, 4:] = 0
    scale = Scale(name="scale")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "model":
            model = _model(scale)
            out = model.predict(tokens, verbose=0)
            model.predict(tokens, verbose=0)
            emb, lstm = model.layers[1], model.layers[3]
            unmasked = lstm(np.asarray(scale(np.asarray(emb(tokens)))))
        else:
            emb, lstm = layers.Embedding(9, 4, mask_zero=True), layers.LSTM(3)
            out = lstm(scale(emb(tokens)))
            scale(emb(tokens))
            unmasked = lstm(np.asarray(scale(np.asarray(emb(tokens)))))
    lost = [w for w in caught if "destroy the mask information" in str(w.message)]
    assert len(lost) == 1 and "'scale' (of type Scale)" in str(lost[0].message)
    np.testing.assert_allclose(np.asarray(out), np.asarray(unmasked), atol=1e-6)


def test_layer_keeping_the_mask_passes_it_on_without_warning():
    tokens = np.random.default_rng(1).integers(1, 9, size=(4, 6))
    tokens[:, 3:] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = _model(KeepMask())
        out = model.predict(tokens, verbose=0)
    emb, keep, lstm = model.layers[1], model.layers[2], model.layers[3]
    truncated = lstm(np.asarray(keep(np.asarray(emb(tokens[:, :3])))))
    np.testing.assert_allclose(out, np.asarray(truncated), atol=1e-6)
