"""The real-world conditions, every system side by side: what happens before each timed call (benchmarks/worker.py):

  steady            nothing (calls back to back)
  numpy             a 256x256 float32 NumPy product (it wakes NumPy's BLAS threads)
  idle              20 ms of sleep (a 50 Hz stream: threads that spin go to sleep)
  with-onnxruntime  one ONNX Runtime call of the same layer, in the same process
  with-torch        one PyTorch call of the same layer, in the same process

Each system runs in its own process (for with-X, X's partner is rnnlab), ``rounds`` times; the table gives the median
of the per-process medians, in µs.  "rnnlab 1t" is rnnlab with RNNLAB_NUM_THREADS=1, the yardstick of the goal
"never slower than its own single thread".

    python -m benchmarks.conditions                       # every size and condition, 3 rounds (long)
    python -m benchmarks.conditions --sizes 8,100,64,128 --kinds lstm --rounds 5

Results go to benchmarks/results/conditions.{json,md}.
"""
import argparse
import json
import os
import statistics
import tempfile

from benchmarks.run import HERE, make_weights, run_worker

SIZES = [(1, 8, 2, 3), (1, 100, 32, 64), (8, 100, 64, 128), (32, 100, 128, 256)]
CONDITIONS = ["steady", "numpy", "idle", "with-onnxruntime", "with-torch"]
COLUMNS = ["rnnlab", "rnnlab 1t", "onnxruntime", "torch"]


def measure(kind, size, condition, weights, tmp, rounds, reps):
    """``{column: [median µs of each process]}`` for one kind, size and condition; the systems alternate."""
    found = {c: [] for c in COLUMNS}
    for _ in range(rounds):
        for column in COLUMNS:
            system = column.split()[0]
            saved = os.environ.get("RNNLAB_NUM_THREADS")
            if column.endswith("1t"):
                os.environ["RNNLAB_NUM_THREADS"] = "1"
            try:
                res = run_worker(system, kind, size, weights, os.path.join(tmp, "o"), reps, condition=condition)
            finally:
                if column.endswith("1t"):
                    os.environ.pop("RNNLAB_NUM_THREADS") if saved is None else os.environ.update(
                        RNNLAB_NUM_THREADS=saved)
            if "median_us" in res:
                found[column].append(res["median_us"])
    return found


def to_markdown(rows):
    lines = ["Median µs per forward call (`return_sequences=True`), median of the processes' medians; "
             "'rnnlab 1t': RNNLAB_NUM_THREADS=1.", "",
             "| kind | B,T,D,M | condition | " + " | ".join(COLUMNS) + " | rnnlab ÷ 1t | rnnlab ÷ best peer |",
             "|" + "---|" * (len(COLUMNS) + 5)]
    for row in rows:
        med = {c: statistics.median(v) if v else float("nan") for c, v in row["us"].items()}
        best_peer = min(med["onnxruntime"], med["torch"])
        lines.append(f"| {row['kind']} | {','.join(map(str, row['size']))} | {row['condition']} | "
                     + " | ".join(f"{med[c]:,.0f}" for c in COLUMNS)
                     + f" | {med['rnnlab'] / med['rnnlab 1t']:.2f} | {med['rnnlab'] / best_peer:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=";".join(",".join(map(str, s)) for s in SIZES))
    parser.add_argument("--kinds", default="lstm,gru")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split(",")) for s in args.sizes.split(";")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for size in sizes:
                weights = os.path.join(tmp, f"{kind}_{'_'.join(map(str, size))}.npz")
                make_weights(kind, size, weights)
                for condition in args.conditions.split(","):
                    us = measure(kind, size, condition, weights, tmp, args.rounds, args.reps)
                    rows.append({"kind": kind, "size": size, "condition": condition, "us": us})
                    print(to_markdown(rows[-1:]).splitlines()[-1], flush=True)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "conditions.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "conditions.md").write_text(to_markdown(rows))
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
