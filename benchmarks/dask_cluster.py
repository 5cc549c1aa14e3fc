"""Scoring and training on a Dask LocalCluster against the same work in one process (the README's figures).

    python -m benchmarks.dask_cluster [--repeats 3] [--only predict] [--quiet-workers]

- predict: 100,000 sequences (T=50, D=8) through LSTM(32) -> Dense(1), read from a .npy file: the local
  ``predict`` (2 threads) against a LocalCluster of 2 single-threaded worker processes.  Besides wall-clock
  times it reports CPU seconds: the local predict's (this process), and the cluster predict's in this process
  (client and scheduler) and in the workers, and the workers' CPU while they sit idle during the local predict
  (Dask's own background work: its profiler and monitors);
- fit: one epoch of 10,000 sequences, batch 256, local against data-parallel, with each step's time split into
  the workers' compute (the slowest part, from Dask's task stream) and the rest (communication and scheduling);
- the gradient exchange: gathering W gradients to the client and summing there, against summing them on a
  worker first (a tree reduction, one level for W=2), for small and large gradients.

``--quiet-workers`` starts the cluster with Dask's background work turned down (:data:`QUIET_WORKERS`), which on
2 cores takes about 0.2 of a core otherwise.  Results go to stdout as JSON lines.  The machine is shared: run it
more than once.
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np

QUIET_WORKERS = {  # Dask settings for a small cluster on few cores (see the README's Dask section)
    "distributed.worker.profile.enabled": False,  # the statistical profiler samples every 10 ms
    "distributed.admin.tick.interval": "1s",  # the event loop's blocked-loop check, every 20 ms
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _model(rnnlab):
    rnnlab.random.set_random_seed(0)
    inputs = rnnlab.Input((50, 8))
    model = rnnlab.Model(inputs, rnnlab.layers.Dense(1)(rnnlab.layers.LSTM(32)(inputs)))
    model.compile(rnnlab.optimizers.SGD(0.01), "mse")
    return model


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench_predict(rnnlab, client, path, repeats):
    from rnnlab.distributed import read_npy

    model = _model(rnnlab)
    model.predict(read_npy(path, 10_000), batch_size=1000).compute()  # each worker imports rnnlab, builds the model
    for _ in range(repeats):
        workers_before, cpu = client.run(time.process_time), time.process_time()
        local, _ = _timed(lambda: model.predict(np.load(path, mmap_mode="r"), batch_size=1000, verbose=0))
        local_cpu, workers_idle = time.process_time() - cpu, _cpu_since(client, workers_before)
        workers_before, cpu = client.run(time.process_time), time.process_time()
        on_cluster, _ = _timed(lambda: model.predict(read_npy(path, 10_000), batch_size=1000).compute())
        client_cpu, workers_cpu = time.process_time() - cpu, _cpu_since(client, workers_before)
        print(json.dumps({"bench": "predict", "rows": 100_000, "local_s": round(local, 3),
                          "cluster_s": round(on_cluster, 3), "ratio": round(on_cluster / local, 3),
                          "local_cpu_s": round(local_cpu, 3), "cluster_client_cpu_s": round(client_cpu, 3),
                          "cluster_workers_cpu_s": round(workers_cpu, 3),
                          "workers_idle_cpu_per_s": round(workers_idle / local, 3)}), flush=True)


def _cpu_since(client, before):
    """The workers' CPU seconds (all of them together) since ``before`` (``client.run(time.process_time)``)."""
    after = client.run(time.process_time)
    return sum(after[w] - before[w] for w in after)


def bench_fit(rnnlab, client, x, y, repeats):
    import dask.array as da
    from distributed import get_task_stream

    dx, dy = da.from_array(x, chunks=(2500, 50, 8)).persist(), da.from_array(y, chunks=(2500, 1)).persist()
    for _ in range(repeats):
        local_model, cluster_model = _model(rnnlab), _model(rnnlab)
        local, _ = _timed(lambda: local_model.fit(x, y, batch_size=256, epochs=1, shuffle=False, verbose=0))
        with get_task_stream() as stream:
            on_cluster, _ = _timed(lambda: cluster_model.fit(dx, dy, batch_size=256, epochs=1, shuffle=False,
                                                               verbose=0))
        steps = {}
        for record in stream.data:
            if "_part_step" in str(record["key"]):
                compute = sum(s["stop"] - s["start"] for s in record["startstops"] if s["action"] == "compute")
                token = str(record["key"])
                steps[token] = compute
        compute = sum(steps.values()) / 2  # a step's two parts run side by side (balanced: 128 rows each)
        n_steps = -(-len(x) // 256)
        print(json.dumps({"bench": "fit_epoch", "rows": len(x), "steps": n_steps, "local_s": round(local, 3),
                          "cluster_s": round(on_cluster, 3), "worker_compute_s": round(compute, 3),
                          "other_s": round(on_cluster - compute, 3),
                          "per_step_other_ms": round(1000 * (on_cluster - compute) / n_steps, 1)}), flush=True)


def _grad(size):
    return [np.ones(size // 4, np.float32)]


def _add(a, b):
    return [p + q for p, q in zip(a, b)]


def bench_exchange(client, repeats):
    from distributed import wait

    workers = list(client.scheduler_info()["workers"])
    for size in (21_000, 4_000_000):
        for _ in range(repeats):
            times = {}
            for scheme in ("gather", "tree"):
                total = 0.0
                for _ in range(10):
                    parts = [client.submit(_grad, size, workers=[w], pure=False) for w in workers]
                    wait(parts)
                    start = time.perf_counter()
                    if scheme == "gather":
                        grads = client.gather(parts)
                        summed = grads[0]
                        for g in grads[1:]:
                            summed = _add(summed, g)
                    else:
                        summed = client.submit(_add, parts[0], parts[1], workers=[workers[0]], pure=False).result()
                    total += time.perf_counter() - start
                times[scheme] = round(1000 * total / 10, 2)
            print(json.dumps({"bench": "exchange", "gradient_bytes": size, "gather_ms": times["gather"],
                              "tree_ms": times["tree"]}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["predict", "fit", "exchange"], default=None)
    parser.add_argument("--quiet-workers", action="store_true", help="turn down Dask's background work")
    args = parser.parse_args()
    import dask
    import rnnlab
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100_000, 50, 8)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.npy")
        np.save(path, x)
        with dask.config.set(QUIET_WORKERS if args.quiet_workers else {}), \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            if args.only in (None, "predict"):
                bench_predict(rnnlab, client, path, args.repeats)
            if args.only in (None, "fit"):
                bench_fit(rnnlab, client, x[:10_000], rng.normal(size=(10_000, 1)).astype(np.float32), args.repeats)
            if args.only in (None, "exchange"):
                bench_exchange(client, args.repeats)


if __name__ == "__main__":
    main()
