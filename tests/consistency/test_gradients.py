"""Backpropagation: float64 finite differences for every layer and option (relative error <= 1e-6)."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from tests.support.gradcheck import gradcheck

F64 = "float64"
TOL = 1e-6


def _random_weights(obj, rng):
    obj.set_weights([rng.uniform(-0.7, 0.7, w.shape) for w in obj.get_weights()])


def _mask(batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, steps - 2:] = False  # right padding
    mask[1, :2] = False  # left padding
    if batch > 2:
        mask[2, steps // 2] = False  # a gap
    return mask


RECURRENT = {
    "lstm": lambda **k: layers.LSTM(3, dtype=F64, **k),
    "gru": lambda **k: layers.GRU(3, dtype=F64, **k),
    "gru_v1": lambda **k: layers.GRU(3, reset_after=False, dtype=F64, **k),
    "gru_nobias": lambda **k: layers.GRU(3, use_bias=False, dtype=F64, **k),
    "simple_rnn": lambda **k: layers.SimpleRNN(3, dtype=F64, **k),
    "lstm_acts": lambda **k: layers.LSTM(3, activation="softsign", recurrent_activation="hard_sigmoid",
                                         dtype=F64, **k),
    "rnn_cells": lambda **k: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(2)],
                                        dtype=F64, **k),
}
FLAGS = [dict(), dict(return_sequences=True), dict(return_state=True, go_backwards=True),
         dict(return_sequences=True, return_state=True, go_backwards=True)]


@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("flags", FLAGS, ids=["last", "seq", "state_back", "seq_state_back"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_recurrent_layer_gradients(kind, flags, masked):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4))
    layer = RECURRENT[kind](**flags)
    layer(x)
    _random_weights(layer, rng)
    kwargs = {"mask": _mask(3, 5)} if masked else {}
    assert gradcheck(layer, (x,), kwargs, rng) <= TOL


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn", "rnn_cells"])
def test_initial_state_gradients(kind):
    """Gradients flow into initial_state (with a mask, so masked steps pass state gradients through)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 2))
    layer = RECURRENT[kind](return_sequences=True)
    layer(x)
    _random_weights(layer, rng)
    init = [rng.normal(size=(3, s)) for s in layer.cell.flat_state_sizes]
    assert gradcheck(layer, (x,), {"initial_state": init, "mask": _mask(3, 4)}, rng) <= TOL


def test_zero_output_for_mask_gradients():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5, 2))
    layer = layers.GRU(3, return_sequences=True, zero_output_for_mask=True, dtype=F64)
    layer(x)
    _random_weights(layer, rng)
    assert gradcheck(layer, (x,), {"mask": _mask(3, 5)}, rng) <= TOL


@pytest.mark.parametrize("kind", ["lstm", "gru", "gru_v1", "simple_rnn", "rnn_cells"])
def test_dropout_gradients_with_fixed_masks(kind):
    """dropout and recurrent_dropout in training: gradients of the call with its (reseeded) masks."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 3))
    if kind == "rnn_cells":
        layer = layers.RNN([layers.LSTMCell(3, dropout=0.3, recurrent_dropout=0.4, seed=1),
                            layers.GRUCell(2, dropout=0.2, seed=2)], return_sequences=True, dtype=F64)
        cells = layer.cell.cells
    else:
        layer = RECURRENT[kind](dropout=0.3, recurrent_dropout=0.4, seed=5, return_sequences=True)
        cells = [layer.cell]
    layer(x)
    _random_weights(layer, rng)

    def reseed():
        for cell in cells:
            cell._rng = None  # the next call redraws the same masks from the cell's seed

    assert gradcheck(layer, (x,), {"training": True}, rng, before_call=reseed) <= TOL
    reseed()
    a = layer(x, training=True)
    assert not np.allclose(a, layer(x))  # dropout really acts in training ...
    np.testing.assert_array_equal(layer(x), layer(x, training=False))  # ... and not at inference


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("flags", FLAGS[1:], ids=["seq", "state_back", "seq_state_back"])
def test_bidirectional_gradients(merge_mode, flags):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 4, 3))
    flags = {k: v for k, v in flags.items() if k != "go_backwards"}
    layer = layers.Bidirectional(layers.LSTM(2, dtype=F64, **flags), merge_mode=merge_mode)
    layer(x)
    _random_weights(layer, rng)
    assert gradcheck(layer, (x,), {"mask": _mask(3, 4)}, rng) <= TOL


def test_bidirectional_initial_state_and_backward_layer_gradients():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3))
    layer = layers.Bidirectional(layers.GRU(2, return_sequences=True, dtype=F64),
                                 backward_layer=layers.GRU(2, return_sequences=True, go_backwards=True,
                                                           reset_after=False, dtype=F64))
    layer(x)
    _random_weights(layer, rng)
    init = [rng.normal(size=(2, 2)), rng.normal(size=(2, 2))]
    assert gradcheck(layer, (x,), {"initial_state": init}, rng) <= TOL


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax", "elu", "gelu", "swish"])
@pytest.mark.parametrize("rank", [2, 3])
def test_dense_gradients(activation, rank):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(3, 4) if rank == 2 else (2, 3, 4)) + 0.01
    layer = layers.Dense(3, activation=activation, dtype=F64)
    layer(x)
    _random_weights(layer, rng)
    assert gradcheck(layer, (x,), {}, rng) <= TOL


def test_time_distributed_masking_dropout_gradients():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 4, 3))
    x[0, 2:] = 0.0
    td = layers.TimeDistributed(layers.Dense(2, activation="tanh", dtype=F64))
    td(x)
    _random_weights(td, rng)
    assert gradcheck(td, (x,), {}, rng) <= TOL
    drop = layers.Dropout(0.4, seed=3, dtype=F64)

    def reseed():
        drop._rng = np.random.default_rng(9)

    assert gradcheck(drop, (x,), {"training": True}, rng, before_call=reseed) <= TOL


def test_masking_gradient_is_the_mask():
    """Masking's output is x * keep; the mask is a constant (as in TensorFlow), so dx = dy * keep.

    Finite differences cannot probe a masked step itself (nudging it off the mask value unmasks it), so
    unmasked entries are checked numerically and masked ones must get exactly zero."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 3))
    x[0, 2:] = 0.0
    layer = layers.Masking(dtype=F64)
    dy = rng.normal(size=x.shape)
    out, backward = layer.forward_backward(x)
    dx, _ = backward(dy)
    keep = np.any(x != 0, axis=-1)
    np.testing.assert_array_equal(dx[~keep], 0.0)
    eps = 1e-6
    for idx in zip(*np.nonzero(keep[..., None] & np.ones_like(x, bool))):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric = ((layer(up) - layer(down)) * dy).sum() / (2 * eps)
        assert abs(numeric - dx[idx]) <= TOL


def test_embedding_gradients_with_repeated_ids():
    rng = np.random.default_rng(8)
    ids = np.array([[1, 2, 2, 0], [3, 1, 0, 0]])
    emb = layers.Embedding(5, 3, dtype=F64)
    emb(ids)
    _random_weights(emb, rng)
    assert gradcheck(emb, (ids,), {}, rng) <= TOL


def test_model_gradients_through_a_graph():
    """Masking -> LSTM(initial_state inputs) -> Bidirectional(GRU) -> SimpleRNN -> Dense; two outputs."""
    rng = np.random.default_rng(9)
    inp = rnnlab.Input(shape=(4, 3), dtype=F64)
    h0, c0 = rnnlab.Input(shape=(2,), dtype=F64), rnnlab.Input(shape=(2,), dtype=F64)
    seq = layers.LSTM(2, return_sequences=True, dtype=F64)(layers.Masking(dtype=F64)(inp), initial_state=[h0, c0])
    both = layers.Bidirectional(layers.GRU(2, return_sequences=True, dtype=F64))(seq)
    out = layers.Dense(1, dtype=F64)(layers.SimpleRNN(2, dtype=F64)(both))
    model = rnnlab.Model([inp, h0, c0], [out, seq])
    _random_weights(model, rng)
    x = rng.normal(size=(2, 4, 3))  # no padded step: nudging a padded entry would unmask it
    assert gradcheck(model, ([x, rng.normal(size=(2, 2)), rng.normal(size=(2, 2))],), {}, rng) <= TOL


def test_model_gradients_with_embedding_mask_and_sequential():
    rng = np.random.default_rng(10)
    model = rnnlab.Sequential([rnnlab.Input(shape=(5,), dtype="int32"),
                               layers.Embedding(6, 3, mask_zero=True, dtype=F64),
                               layers.LSTM(3, return_sequences=True, dtype=F64),
                               layers.TimeDistributed(layers.Dense(2, dtype=F64)),
                               layers.GRU(2, dtype=F64),
                               layers.Dense(3, activation="softmax", dtype=F64)])
    _random_weights(model, rng)
    ids = np.array([[1, 4, 2, 0, 0], [5, 5, 3, 2, 1]])
    assert gradcheck(model, (ids,), {}, rng) <= TOL


def test_loss_normalizers_add_up_over_the_parts_of_a_batch():
    """A data-parallel step weighs each part's loss L_k by n_k / sum(n_k) (rnnlab.distributed.dask_fit): that must
    give the whole batch's loss, for every reduction, with sample weights and masks."""
    from rnnlab import losses

    rng = np.random.default_rng(0)
    y = rng.random((8, 5, 3)).astype("float32")
    p = rng.random((8, 5, 3)).astype("float32") + 0.1
    for reduction in ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight"):
        for cls in (losses.MeanSquaredError, losses.CategoricalCrossentropy):
            fn = cls(reduction=reduction)
            for sw in (None, rng.random((8, 5)).astype("float32")):
                for mask in (None, rng.random((8, 5)) > 0.3):
                    parts = [slice(0, 3), slice(3, 8)]
                    args = [(y[s], p[s], None if sw is None else sw[s], None if mask is None else mask[s])
                            for s in parts]
                    n = [fn.normalizer(*a) for a in args]
                    total = 1.0 if reduction == "sum" else sum(n)
                    combined = sum(fn(*a) * n_k for a, n_k in zip(args, n)) / total
                    np.testing.assert_allclose(combined, fn(y, p, sw, mask), rtol=1e-5)
