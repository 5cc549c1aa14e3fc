"""The built-in demo model of ``rnnlab inspect --demo``.

The seed notebooks' sizes (``T = 8`` steps of ``D = 2`` features, ``M = 3`` units) in a model that shows every
kind of trace::

    Input (T, D) -> Masking -> LSTM(M, return_sequences) -> Bidirectional(GRU(M, return_sequences))
                 -> TimeDistributed(Dense(1))

Weights and input come from ``np.random.default_rng(seed)``; the last sample's final two steps are padding (all
zeros), so the report shows masked steps too.
"""
from __future__ import annotations

import numpy as np

T, D, M = 8, 2, 3
BATCH = 4


def demo_model(seed=0):
    """``(model, x)``: the demo model with weights drawn from ``seed``, and an input of shape ``(4, 8, 2)``."""
    from rnnlab import Input, Model, layers

    rng = np.random.default_rng(seed)
    inputs = Input(shape=(T, D), name="x")
    masked = layers.Masking(mask_value=0.0, name="masking")(inputs)
    seq = layers.LSTM(M, return_sequences=True, name="lstm")(masked)
    both = layers.Bidirectional(layers.GRU(M, return_sequences=True), name="bidirectional_gru")(seq)
    outputs = layers.TimeDistributed(layers.Dense(1), name="readout")(both)
    model = Model(inputs, outputs, name="inspect_demo")
    # Larger-than-default weights, so that some gates saturate and the statistics have something to show.
    model.set_weights([rng.normal(0.0, 0.8, w.shape).astype(w.dtype) for w in model.get_weights()])
    x = rng.normal(size=(BATCH, T, D)).astype("float32")
    x[-1, -2:] = 0.0  # padding: Masking marks these steps as not counting
    return model, x
