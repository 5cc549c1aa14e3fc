"""One system, one configuration, in its own process: time forward calls on the given weights.

Usage: python -m benchmarks.worker SYSTEM KIND B T D M WEIGHTS.npz OUT_PREFIX [--reps N] [--train]
                                   [--condition CONDITION]
Prints one JSON line: median/min microseconds per call, first-call cost, peak RSS; saves the output to
OUT_PREFIX.npy so the orchestrator can check that systems agree.

CONDITION says what happens, untimed, before each timed call (benchmarks/conditions.py):
  steady        nothing: calls back to back (the default)
  numpy         a 256x256 float32 NumPy product, as preprocessing does (it wakes NumPy's BLAS threads)
  idle          20 ms of sleep: a 50 Hz sensor stream (threads that spin go to sleep, cores may idle)
  with-SYSTEM   one call of SYSTEM's same layer in the same process (another threaded library beside this one);
                for SYSTEM itself the partner is rnnlab
"""
import json
import os
import resource
import sys
import time

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def _time(fn, reps, min_seconds=0.5, warmup_seconds=0.3, before=None):
    """Median and min of per-call times, calling ``fn`` at least ``reps`` times and ``min_seconds`` long, after
    ``warmup_seconds`` of untimed calls (steady state: caches warm, and the BLAS threads that set-up work such
    as weight initialisation woke have gone back to sleep instead of spinning beside the timed calls).
    ``before()``, when given, runs untimed before every call (the benchmark's condition)."""
    before = before or (lambda: None)
    start = time.perf_counter()
    while time.perf_counter() - start < warmup_seconds:
        before()
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_seconds:
        before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) > 20 * reps:
            break
    return float(np.median(times) * 1e6), float(np.min(times) * 1e6), len(times)


def _condition(name, system, kind, x, w):
    """The untimed work before each call under condition ``name`` (see the module's docstring), or None."""
    if name == "steady":
        return None
    if name == "numpy":
        rng = np.random.default_rng(1)
        a, b = (rng.standard_normal((256, 256), dtype=np.float32) for _ in range(2))
        return lambda: a @ b
    if name == "idle":
        return lambda: time.sleep(0.02)
    if name.startswith("with-") and name[5:] in SYSTEMS:
        partner = name[5:] if name[5:] != system else "rnnlab"
        call, _ = SYSTEMS[partner](kind, x, w, False)
        call()
        return call
    raise ValueError(f"unknown condition {name!r}")


def _rnnlab(kind, x, w, train):
    import rnnlab

    cls = {"lstm": rnnlab.layers.LSTM, "gru": rnnlab.layers.GRU}[kind]
    units = w["recurrent_kernel"].shape[0]
    if train:
        inp = rnnlab.Input(shape=x.shape[1:])
        model = rnnlab.Model(inp, cls(units, return_sequences=True)(inp))
        model.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
        model.compile(optimizer=rnnlab.optimizers.SGD(1e-6), loss="mse")
        target = np.zeros(x.shape[:2] + (units,), np.float32)
        return lambda: model.train_on_batch(x, target), None
    layer = cls(units, return_sequences=True)
    layer(x[:1])
    layer.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
    return (lambda: layer(x)), None


def _rnnlab_model(kind, x, w, train, how):
    import rnnlab

    cls = {"lstm": rnnlab.layers.LSTM, "gru": rnnlab.layers.GRU}[kind]
    units = w["recurrent_kernel"].shape[0]
    inp = rnnlab.Input(shape=x.shape[1:])
    model = rnnlab.Model(inp, cls(units, return_sequences=True)(inp))
    model.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
    if how == "predict":
        return (lambda: model.predict(x, verbose=0)), None
    return (lambda: model(x)), None


def _torch(kind, x, w, train):
    import torch

    from rnnlab.weight_layouts import keras_to_torch

    torch.set_num_threads(THREADS)
    d, units = x.shape[2], w["recurrent_kernel"].shape[0]
    mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](d, units, batch_first=True)
    params = keras_to_torch(kind, [w["kernel"], w["recurrent_kernel"], w["bias"]])
    with torch.no_grad():
        for name, value in params.items():
            getattr(mod, f"{name}_l0").copy_(torch.from_numpy(value))
    xt = torch.from_numpy(x)
    if train:
        opt = torch.optim.SGD(mod.parameters(), lr=1e-6)
        target = torch.zeros(x.shape[0], x.shape[1], units)

        def step():
            opt.zero_grad()
            loss = ((mod(xt)[0] - target) ** 2).mean()
            loss.backward()
            opt.step()

        return step, None

    def call():
        with torch.inference_mode():
            return mod(xt)[0]

    return call, lambda out: out.numpy()


def _onnxruntime(kind, x, w, train):
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from rnnlab.weight_layouts import reorder_gates

    units = w["recurrent_kernel"].shape[0]
    op = {"lstm": "LSTM", "gru": "GRU"}[kind]
    W = reorder_gates(w["kernel"].T, kind, "keras", "onnx", axis=0)[None]
    R = reorder_gates(w["recurrent_kernel"].T, kind, "keras", "onnx", axis=0)[None]
    if kind == "gru":
        b = np.concatenate([reorder_gates(w["bias"][0], kind, "keras", "onnx"),
                            reorder_gates(w["bias"][1], kind, "keras", "onnx")])[None]
    else:
        b = np.concatenate([reorder_gates(w["bias"], kind, "keras", "onnx"), np.zeros_like(w["bias"])])[None]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in ((W, "W"), (R, "R"), (b, "B"))]
    attrs = {"hidden_size": units}
    if kind == "gru":
        attrs["linear_before_reset"] = 1
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node(op, ["xt", "W", "R", "B"], ["y"], **attrs),
             helper.make_node("Squeeze", ["y", "axes"], ["ys"]),
             helper.make_node("Transpose", ["ys"], ["out"], perm=[1, 0, 2])]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "axes"))
    graph = helper.make_graph(nodes, "rnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {"x": x}
    return (lambda: sess.run(None, feed)[0]), None


def _tensorflow(kind, x, w, train):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    units = w["recurrent_kernel"].shape[0]
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[kind](units, return_sequences=True)
    layer(x[:1])
    layer.set_weights([w["kernel"], w["recurrent_kernel"], w["bias"]])
    fn = tf.function(lambda t: layer(t), jit_compile=True)
    xt = tf.constant(x)
    return (lambda: fn(xt)), lambda out: out.numpy()


SYSTEMS = {"rnnlab": _rnnlab, "torch": _torch, "onnxruntime": _onnxruntime, "tensorflow": _tensorflow,
           "rnnlab_predict": lambda k, x, w, t: _rnnlab_model(k, x, w, t, "predict"),
           "rnnlab_model_call": lambda k, x, w, t: _rnnlab_model(k, x, w, t, "call")}


def main(argv):
    system, kind = argv[0], argv[1]
    b, t, d, m = (int(v) for v in argv[2:6])
    weights_path, out_prefix = argv[6], argv[7]
    reps = int(argv[argv.index("--reps") + 1]) if "--reps" in argv else 20
    train = "--train" in argv
    condition = argv[argv.index("--condition") + 1] if "--condition" in argv else "steady"
    data = np.load(weights_path)
    w = {k: data[k] for k in data.files}
    x = w.pop("x")
    t0 = time.perf_counter()
    fn, to_numpy = SYSTEMS[system](kind, x, w, train)
    out = fn()
    first_call = time.perf_counter() - t0
    if not train:
        out = to_numpy(out) if to_numpy else np.asarray(out)
        np.save(out_prefix + ".npy", out)
    median, best, n = _time(fn, reps, before=_condition(condition, system, kind, x, w))
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"system": system, "kind": kind, "size": [b, t, d, m], "train": train, "condition": condition,
                      "median_us": median,
                      "min_us": best, "calls": n, "first_call_s": first_call, "peak_rss_mb": rss_kb / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
