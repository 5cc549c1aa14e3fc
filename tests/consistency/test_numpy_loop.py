"""The fused NumPy loop (rnnlab/kernels/numpy_loop.py) and the cells' pointwise functions it is built from.

The pointwise functions must give the reference steps' numbers (float64, to 1e-12), forward and backward; the
loop must give the same numbers whichever product form it uses and whether or not it saves for backward.
"""
import numpy as np
import pytest

from rnnlab import activations, fastpath, layers
from rnnlab.cells.gru import gru_pointwise, gru_pointwise_backward, gru_step, gru_step_backward
from rnnlab.cells.lstm import (lstm_gate_scales, lstm_pointwise, lstm_pointwise_backward, lstm_step,
                               lstm_step_backward)
from rnnlab.kernels import numpy_loop
from rnnlab.layers.rnn import reference_loop

TANH, SIGMOID = activations.tanh, activations.sigmoid


def _arrays(rng, *shapes):
    return [rng.uniform(-1.5, 1.5, s) for s in shapes]


def test_lstm_pointwise_matches_the_reference_step():
    rng = np.random.default_rng(0)
    batch, units = 3, 5
    xw, h_prev, c_prev, kernel, dh, dc = _arrays(rng, (batch, 4 * units), (batch, units), (batch, units),
                                                 (units, 4 * units), (batch, units), (batch, units))
    h_ref, c_ref, gates = lstm_step(xw, h_prev, c_prev, kernel, TANH, SIGMOID)
    pre = xw + h_prev @ kernel  # (B, 4U), becomes the gates
    c, act_c, h = (np.empty((batch, units)) for _ in range(3))
    lstm_pointwise(pre, c_prev, c, act_c, h, lstm_gate_scales(units, np.float64))
    np.testing.assert_allclose(h, h_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(c, c_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(pre, np.concatenate([gates.i, gates.f, gates.c_hat, gates.o], axis=1), atol=1e-12)

    ref = lstm_step_backward(dh, dc, gates, h_prev, c_prev, kernel, TANH, SIGMOID)
    dpre_ref, dc_prev_ref = ref[0], ref[2]  # gradients at xw_t (= at pre) and at c_prev
    dpre = np.empty_like(pre)
    dc_prev = lstm_pointwise_backward(dh, dc, pre, act_c, c_prev, dpre)
    np.testing.assert_allclose(dpre, dpre_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(dc_prev, dc_prev_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_pointwise_matches_the_reference_step(reset_after):
    rng = np.random.default_rng(1)
    batch, units = 3, 4
    xw, h_prev, kernel, rec_bias, dh = _arrays(rng, (batch, 3 * units), (batch, units), (units, 3 * units),
                                               (3 * units,), (batch, units))
    rec_bias = rec_bias if reset_after else None
    h_ref, gates = gru_step(xw, h_prev, kernel, rec_bias, TANH, SIGMOID, reset_after)
    zr, h_hat, h = np.empty((batch, 2 * units)), np.empty((batch, units)), np.empty((batch, units))
    if reset_after:
        rh = h_prev @ kernel + rec_bias  # (B, 3U)
        gru_pointwise(xw, rh, h_prev, zr, h_hat, h)
    else:
        rh = h_prev @ kernel[:, :2 * units]  # (B, 2U)
        gru_pointwise(xw, rh, h_prev, zr, h_hat, h, kernel_h=kernel[:, 2 * units:])
    np.testing.assert_allclose(h, h_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([zr, h_hat], axis=1),
                               np.concatenate([gates.z, gates.r, gates.h_hat], axis=1), rtol=0, atol=1e-12)
    if not reset_after:
        return  # training runs reset_after=True only
    dpre_ref, dh_prev_ref, dkernel_ref, dbias_ref = gru_step_backward(dh, gates, h_prev, kernel, TANH, SIGMOID,
                                                                      reset_after)
    dpre, drh = np.empty((batch, 3 * units)), np.empty((batch, 3 * units))
    direct = gru_pointwise_backward(dh, np.concatenate([zr, h_hat], axis=1), rh[:, 2 * units:], h_prev, dpre, drh)
    np.testing.assert_allclose(dpre, dpre_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(direct + drh @ kernel.T, dh_prev_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_prev.T @ drh, dkernel_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(drh.sum(axis=0), dbias_ref, rtol=0, atol=1e-12)


class _Workspace:
    def __init__(self):
        self.arrays = {}

    def get(self, name, shape, dtype):
        return self.arrays.setdefault((name, shape, np.dtype(dtype)), np.empty(shape, dtype))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "GRU_v1"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("batch", [1, 3, 20])
def test_loop_forms_agree_with_the_reference_loop(kind, masked, batch):
    """Both product forms, saving or not, every output structure: the reference loop's numbers (float64)."""
    rng = np.random.default_rng(batch)
    units, steps = 4, 6
    layer = layers.LSTM(units) if kind == "LSTM" else layers.GRU(units, reset_after=kind == "GRU")
    layer = type(layer).from_config({**layer.get_config(), "dtype": "float64"})
    layer(np.zeros((batch, steps, 3)))
    layer.set_weights([rng.uniform(-0.8, 0.8, w.shape) for w in layer.get_weights()])
    cell = layer.cell
    xw = cell.project_inputs(rng.normal(size=(batch, steps, 3)))
    states = [rng.normal(size=(batch, units)) for _ in cell.flat_state_sizes]
    mask = rng.random((batch, steps)) > 0.3 if masked else None
    for zero_output in (False, True):
        ref = reference_loop(cell, xw, states, mask, zero_output, True)
        saves = [None, _Workspace()] if kind != "GRU_v1" else [None]
        for workspace in saves:
            for transposed in (False, True):
                for sequences in (False, True):
                    last, outputs, final, _ = numpy_loop.forward(cell, xw.copy(), states, mask, zero_output,
                                                                 sequences, workspace=workspace,
                                                                 transposed=transposed)
                    np.testing.assert_allclose(last, ref[0], rtol=0, atol=1e-12)
                    if sequences:
                        np.testing.assert_allclose(outputs, ref[1], rtol=0, atol=1e-12)
                    for a, b in zip(final, ref[2]):
                        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
