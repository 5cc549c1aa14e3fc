"""Forward + backward of an LSTM written with ``rnnlab.ops`` (a user's cell, gradients from the record) against the
built-in LSTM on its NumPy reference path (hand-written backward), same weights and inputs, in one process.

    python -m benchmarks.ops_lstm            # prints median ms per training call and the ratio

The target (issue "Keras ops, and user-written layers and cells that train") is a ratio of at most 2.
"""
import statistics
import time

import numpy as np

from rnnlab import fastpath, layers
from tests.consistency.test_ops_lstm import OpsLSTMCell

SIZES = [(1, 100, 32, 64), (8, 100, 64, 128), (32, 100, 128, 256)]


def _train_call(layer, x, dy):
    grads = {}
    _, backward = layer.forward_backward(x, training=True, grads=grads)
    backward(dy)
    return grads


def _median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    print("B,T,D,M          ops-written (ms)   built-in reference (ms)   ratio")
    for batch, steps, dim, units in SIZES:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, steps, dim)).astype("float32")
        dy = rng.normal(size=(batch, units)).astype("float32")
        ours, builtin = layers.RNN(OpsLSTMCell(units)), layers.LSTM(units)
        ours(x), builtin(x)
        ours.set_weights(builtin.get_weights())
        repeats = 7 if batch * units < 4096 else 5
        with fastpath.reference_only():
            t_builtin = _median_ms(lambda: _train_call(builtin, x, dy), repeats)
        t_ops = _median_ms(lambda: _train_call(ours, x, dy), repeats)
        print(f"{batch},{steps},{dim},{units:<10} {t_ops:16.2f} {t_builtin:24.2f} {t_ops / t_builtin:10.2f}")


if __name__ == "__main__":
    main()
