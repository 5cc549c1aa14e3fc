"""Side-by-side CPU benchmark of recurrent layers: rnnlab, PyTorch, ONNX Runtime and TensorFlow (XLA).

Every system runs in its own process on identical weights and inputs; outputs are checked to agree. Results
go to ``benchmarks/results/latest.json`` and ``latest.md`` (medians, ratios to the fastest other system,
GFLOP/s and the share of NumPy's float32 GEMM peak measured in the same run).

    python -m benchmarks.run                      # everything (several minutes)
    python -m benchmarks.run --quick              # the three smaller sizes, fewer repetitions
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

SIZES = [(1, 8, 2, 3), (1, 100, 32, 64), (8, 100, 64, 128), (32, 100, 128, 256), (64, 128, 512, 512)]
SYSTEMS = ["rnnlab", "torch", "onnxruntime", "tensorflow"]
GATES = {"lstm": 4, "gru": 3}
HERE = pathlib.Path(__file__).resolve().parent


def gemm_peak_gflops():
    """NumPy float32 GEMM throughput (the machine's practical peak for this work), in GFLOP/s, measured in a
    child process: its large matrices must not raise the peak memory that the workers (forked from this
    process, which Linux's ru_maxrss carries over) report."""
    code = "import benchmarks.run as r; print(r._gemm_peak_here())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True, check=True)
    return float(proc.stdout.split()[-1])


def _gemm_peak_here(sizes=((2048, 5), (4096, 3))):
    """The best throughput of square products of several sizes, so that a slow size does not understate it."""
    best = 0.0
    for n, reps in sizes:
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
        a @ b
        seconds = min(_timed(lambda: a @ b) for _ in range(reps))
        best = max(best, 2 * n ** 3 / seconds / 1e9)
    return best


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def make_weights(kind, size, path, seed=0):
    b, t, d, m = size
    rng = np.random.default_rng(seed)
    g = GATES[kind]
    bias = rng.uniform(-0.1, 0.1, (2, g * m) if kind == "gru" else (g * m,))
    np.savez(path, x=rng.standard_normal((b, t, d)).astype(np.float32),
             kernel=rng.uniform(-0.1, 0.1, (d, g * m)).astype(np.float32),
             recurrent_kernel=rng.uniform(-0.1, 0.1, (m, g * m)).astype(np.float32),
             bias=bias.astype(np.float32))


def run_worker(system, kind, size, weights, out_prefix, reps, train=False, condition="steady"):
    cmd = [sys.executable, "-m", "benchmarks.worker", system, kind, *map(str, size), weights, out_prefix,
           "--reps", str(reps), "--condition", condition] + (["--train"] if train else [])
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, timeout=900)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"system": system, "error": (proc.stderr or proc.stdout)[-400:]}
    return json.loads(lines[-1])


def import_time():
    code = "import time; t=time.perf_counter(); import rnnlab; print(time.perf_counter()-t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
            for _ in range(5)]
    return float(np.median(runs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--kinds", default="lstm,gru")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args(argv)
    sizes = SIZES[:3] if args.quick else SIZES
    systems = args.systems.split(",")
    peak = gemm_peak_gflops()
    results = {"gemm_peak_gflops": peak, "threads": int(os.environ.get("BENCH_THREADS", "2")),
               "import_rnnlab_s": import_time(), "inference": [], "training": [], "seed_model": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for size in sizes:
                weights = os.path.join(tmp, f"{kind}_{'_'.join(map(str, size))}.npz")
                make_weights(kind, size, weights)
                reps = 5 if size[0] * size[1] * size[3] > 1e6 else (20 if args.quick else 50)
                row = {"kind": kind, "size": size, "systems": {}}
                outputs = {}
                for system in systems:
                    prefix = os.path.join(tmp, f"{system}_{kind}_{'_'.join(map(str, size))}")
                    res = run_worker(system, kind, size, weights, prefix, reps)
                    row["systems"][system] = res
                    if "error" not in res:
                        outputs[system] = np.load(prefix + ".npy")
                    print(kind, size, system, res.get("median_us", res.get("error")), flush=True)
                ref = outputs.get("rnnlab")
                row["max_abs_diff_vs_rnnlab"] = {s: float(np.abs(o - ref).max()) for s, o in outputs.items()
                                                 if ref is not None and s != "rnnlab"}
                b, t, d, m = size
                flops = 2 * b * t * GATES[kind] * m * (d + m)
                for res in row["systems"].values():
                    if "median_us" in res:
                        res["gflops"] = flops / res["median_us"] / 1e3
                        res["share_of_peak"] = res["gflops"] / peak
                others = [r["median_us"] for s, r in row["systems"].items() if s != "rnnlab" and "median_us" in r]
                if others and "median_us" in row["systems"].get("rnnlab", {}):
                    row["ratio_vs_fastest_other"] = row["systems"]["rnnlab"]["median_us"] / min(others)
                results["inference"].append(row)
            if not args.no_train:
                size = (32, 100, 128, 256)
                weights = os.path.join(tmp, f"train_{kind}.npz")
                make_weights(kind, size, weights)
                row = {"kind": kind, "size": size, "systems": {}}
                for system in ("rnnlab", "torch"):
                    # Three processes per system, the best median kept (all are recorded): PyTorch's training
                    # step is bimodal here, about 43 ms in some processes and 90-150 ms in others.
                    runs = [run_worker(system, kind, size, weights, os.path.join(tmp, "t"), 15, train=True)
                            for _ in range(3)]
                    good = [r for r in runs if "median_us" in r]
                    best = dict(min(good, key=lambda r: r["median_us"])) if good else runs[0]
                    best["runs_median_us"] = [r.get("median_us") for r in runs]
                    row["systems"][system] = best
                    print("train", kind, system, best["runs_median_us"], flush=True)
                results["training"].append(row)
            weights = os.path.join(tmp, f"seed_{kind}.npz")
            make_weights(kind, (1, 8, 2, 3), weights)
            row = {"kind": kind, "systems": {}}
            for system in ("rnnlab_predict", "rnnlab_model_call", "onnxruntime"):
                row["systems"][system] = run_worker(system, kind, (1, 8, 2, 3), weights,
                                                    os.path.join(tmp, "s"), 50)
            results["seed_model"].append(row)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(results, indent=1))
    (out_dir / "latest.md").write_text(to_markdown(results))
    print(to_markdown(results))


def _us(res):
    return f"{res['median_us']:,.0f}" if "median_us" in res else "error"


def to_markdown(results):
    systems = SYSTEMS
    lines = [f"NumPy float32 GEMM peak: {results['gemm_peak_gflops']:.0f} GFLOP/s; {results['threads']} threads; "
             f"`import rnnlab`: {results['import_rnnlab_s']:.3f} s", "",
             "Median µs per forward call (`return_sequences=True`); ratio = rnnlab ÷ fastest other system.", "",
             "| kind | B,T,D,M | " + " | ".join(systems) + " | ratio | rnnlab GFLOP/s (share of peak) | "
             "max abs diff |", "|" + "---|" * (len(systems) + 5)]
    for row in results["inference"]:
        r = row["systems"].get("rnnlab", {})
        share = f"{r['gflops']:.1f} ({100 * r['share_of_peak']:.0f}%)" if "gflops" in r else "-"
        diff = max(row.get("max_abs_diff_vs_rnnlab", {}).values(), default=float("nan"))
        lines.append(f"| {row['kind']} | {','.join(map(str, row['size']))} | "
                     + " | ".join(_us(row["systems"].get(s, {})) for s in systems)
                     + f" | {row.get('ratio_vs_fastest_other', float('nan')):.2f} | {share} | {diff:.1e} |")
    if results["training"]:
        lines += ["", "One training step (forward, backward through time, SGD), µs: the best median of three processes "
                      "per system:", "",
                  "| kind | B,T,D,M | rnnlab | torch | ratio |", "|---|---|---|---|---|"]
        for row in results["training"]:
            r, t = row["systems"]["rnnlab"], row["systems"]["torch"]
            ratio = r["median_us"] / t["median_us"] if "median_us" in r and "median_us" in t else float("nan")
            lines.append(f"| {row['kind']} | {','.join(map(str, row['size']))} | {_us(r)} | {_us(t)} | {ratio:.2f} |")
    lines += ["", "Seed-sized model (1,8,2,3), µs per call, and first-call cost in a fresh process:", "",
              "| kind | rnnlab predict | rnnlab model(x) | onnxruntime | rnnlab first call (s) |", "|---|---|---|---|---|"]
    for row in results["seed_model"]:
        s = row["systems"]
        first = s["rnnlab_model_call"].get("first_call_s", float("nan"))
        lines.append(f"| {row['kind']} | {_us(s['rnnlab_predict'])} | {_us(s['rnnlab_model_call'])} | "
                     f"{_us(s['onnxruntime'])} | {first:.3f} |")
    peaks = [(row["kind"], row["systems"]) for row in results["inference"] if tuple(row["size"]) == (64, 128, 512, 512)]
    if peaks:
        lines += ["", "Peak RSS at 64,128,512,512 (MB): " + "; ".join(
            f"{kind} " + ", ".join(f"{s} {p[s].get('peak_rss_mb', float('nan')):.0f}" for s in systems if s in p)
            for kind, p in peaks)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
