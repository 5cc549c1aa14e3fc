"""Every registered built-in cell's pure step, checked directly: its backward against float64 central finite
differences, for every input of the step (projected input, each state, every weight), with random weights and
biases, with and without recurrent-dropout masks.

The cells are taken from the registry (``rnnlab.cells.registered_cells``), so a newly registered cell is
checked here without touching this file.
"""
import numpy as np
import pytest

from rnnlab import cells
from tests.support.gradcheck import numeric_gradient

EPS = 1e-6
BATCH, FEATURES, UNITS = 3, 4, 5

# Cell configurations, by registered class name: each builds a variant of the cell's maths.
CONFIGS = {
    "LSTMCell": [{}, {"proj_size": 3}, {"use_peepholes": True}, {"proj_size": 3, "use_peepholes": True}],
    "GRUCell": [{"reset_after": True}, {"reset_after": False}],
    "SimpleRNNCell": [{}],
}


def _cases():
    for cls in cells.registered_cells():
        for config in CONFIGS.get(cls.__name__, [{}]):
            for dropout in (False, True):
                yield pytest.param(cls, config, dropout, id=f"{cls.__name__}-{config}-dropout{int(dropout)}")


def _build(cls, config, rng):
    cell = cls(UNITS, dtype="float64", recurrent_dropout=0.3, **config)
    cell._maybe_build((None, FEATURES))
    cell.set_weights([rng.normal(scale=0.5, size=w.shape) for w in cell.get_weights()])
    return cell


def test_every_registered_cell_has_configs():
    """A cell registered without a configuration here still gets its default checked; this guards the list."""
    assert {c.__name__ for c in cells.registered_cells()} >= set(CONFIGS)


@pytest.mark.parametrize("cls, config, dropout", list(_cases()))
def test_pure_step_backward_matches_finite_differences(cls, config, dropout):
    rng = np.random.default_rng(11)
    cell = _build(cls, config, rng)
    masks = cell.make_dropout(BATCH, training=True) if dropout else None
    width = cell.kernel.shape[1]
    xw = rng.normal(size=(BATCH, width))
    states = [rng.normal(scale=0.8, size=(BATCH, s)) for s in cell.flat_state_sizes]
    probe_out = rng.normal(size=(BATCH, cell.output_size))
    probe_states = [rng.normal(size=s.shape) for s in states]

    def loss():
        out, new_states, _ = cell.step(xw, states, masks)
        return float((out * probe_out).sum() + sum((s * p).sum() for s, p in zip(new_states, probe_states)))

    _, _, gates = cell.step(xw, states, masks)
    grads = {}
    dxw, d_prev = cell.step_backward(probe_out, probe_states, gates, [s.copy() for s in states], masks, grads)
    checks = [(xw, dxw, "xw_t")] + [(s, d, f"states[{i}]") for i, (s, d) in enumerate(zip(states, d_prev))]
    # The step reads the recurrent weights (the input kernel enters only through xw_t, outside the step).
    for w in cell.weights:
        if w.name != "kernel":
            checks.append((w.value, grads.get(w, np.zeros_like(w.value)), w.name))
    for array, analytic, name in checks:
        numeric = numeric_gradient(array, loss, EPS)
        scale = max(1.0, np.abs(numeric).max())
        err = np.abs(numeric - analytic).max() / scale
        assert err < 1e-7, f"{cls.__name__} {config} {name}: relative error {err:.2e}"
