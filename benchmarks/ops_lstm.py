"""Forward + backward of recurrent cells written with ``rnnlab.ops`` (a user's cell, gradients from the record)
against the built-in layers on their NumPy reference path (hand-written backward), same weights and inputs, in
one process, the two paths alternated: an LSTM cell (``OpsLSTMCell``) against ``LSTM``, and a GRU cell
(``OpsGRUCell``, reset_after=True) against ``GRU``.

    python -m benchmarks.ops_lstm                  # BLAS with its default number of threads
    python -m benchmarks.ops_lstm --blas-threads 1

It prints the best (least) wall-clock time of a training call of each path over the repeats, their ratio, and
the ratio of their best CPU times (all threads: BLAS threads that wait busily count); the best time is the one
least disturbed by other work on the machine. The target (issue "Keras ops, and
user-written layers and cells that train") is a ratio of at most 2 for the LSTM.
"""
import argparse
import os
import sys
import time


def _parse():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ops_lstm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="threads of the BLAS library (OpenBLAS, MKL); default: the library's own")
    parser.add_argument("--repeats", type=int, default=7, help="training calls timed per path and size")
    return parser.parse_args()


SIZES = [(1, 100, 32, 64), (8, 100, 64, 128), (32, 100, 128, 256)]  # (batch, steps, features, units)


def _train_call(layer, x, dy):
    grads = {}
    _, backward = layer.forward_backward(x, training=True, grads=grads)
    backward(dy)
    return grads


def _best_seconds(calls, repeats):
    """``{name: (least wall-clock seconds, least CPU seconds)}`` of each callable, run alternately ``repeats``
    times after a warm-up."""
    for fn in calls.values():
        fn()
    wall, cpu = dict.fromkeys(calls, float("inf")), dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for name, fn in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name] = min(wall[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], time.process_time() - start_cpu)
    return {name: (wall[name], cpu[name]) for name in calls}


def main():
    args = _parse()
    if args.blas_threads is not None:  # read by the BLAS library when NumPy loads it
        if "numpy" in sys.modules:
            raise RuntimeError("--blas-threads must be set before NumPy is imported.")
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)

    import numpy as np

    from rnnlab import fastpath, layers
    from tests.consistency.test_ops_gru import OpsGRUCell
    from tests.consistency.test_ops_lstm import OpsLSTMCell

    print(f"BLAS threads: {args.blas_threads or 'default'}; best ms of a training call (forward + backward)")
    print("cell  B,T,D,U          ops-written   built-in reference   ratio   CPU ratio")
    for name, cell_class, builtin_class in (("LSTM", OpsLSTMCell, layers.LSTM), ("GRU", OpsGRUCell, layers.GRU)):
        for batch, steps, dim, units in SIZES:
            rng = np.random.default_rng(0)
            x = rng.normal(size=(batch, steps, dim)).astype("float32")
            dy = rng.normal(size=(batch, units)).astype("float32")
            ours, builtin = layers.RNN(cell_class(units)), builtin_class(units)
            ours(x), builtin(x)
            ours.set_weights(builtin.get_weights())

            def builtin_call():
                with fastpath.reference_only():
                    _train_call(builtin, x, dy)

            (ops_wall, ops_cpu), (ref_wall, ref_cpu) = _best_seconds(
                {"ops": lambda: _train_call(ours, x, dy), "builtin": builtin_call}, args.repeats).values()
            print(f"{name:5s} {batch},{steps},{dim},{units:<10} {1e3 * ops_wall:11.2f} {1e3 * ref_wall:20.2f}"
                  f" {ops_wall / ref_wall:7.2f} {ops_cpu / ref_cpu:11.2f}")


if __name__ == "__main__":
    main()
