"""The child process of the supervised fuzz test (tests/behaviour/test_file_fuzz.py).

``python -m tests.support.fuzz_worker TARGETS_JSON`` loads the models ``{name: .keras path}`` (what weights files
are loaded into), then reads lines ``{"index", "path", "kind", "target"}`` from stdin and,
for each, runs every loader that reads that kind of file plus ``rnnlab info``; it prints ``START index`` before
and ``DONE index {outcomes}`` after, each outcome ``"ok"``, ``"refused"`` (ValueError/TypeError) or
``"BAD <type>: <message>"``.  Once its imports are done it caps its own address space at 1 GiB more than it
then holds (``RLIMIT_AS``), so a file that makes a loader allocate more fails with MemoryError (reported BAD).
"""
import contextlib
import io
import json
import resource
import sys

import numpy as np

import rnnlab
from rnnlab import cli, convert

EXTRA_MEMORY = 1 << 30


def _vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _outcome(fn):
    try:
        fn()
        return "ok"
    except (ValueError, TypeError):
        return "refused"
    except BaseException as exc:  # noqa: BLE001 - the point of the test
        return f"BAD {type(exc).__name__}: {str(exc)[:300]}"


def _cli_info(path):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(["info", path])
    text = err.getvalue()
    if status not in (0, 1) or "Traceback" in text or len(text.strip().splitlines()) > 1:
        raise RuntimeError(f"rnnlab info printed more than one line or exited {status}: {text[:300]}")


def _loaders(kind, path, target):
    calls = {"describe_file": lambda: convert.describe_file(path), "rnnlab info": lambda: _cli_info(path)}
    if kind in ("keras", "legacy"):
        calls["load_model"] = lambda: rnnlab.models.load_model(path, compile=False)
    if target is not None:
        calls["load_weights"] = lambda: target.load_weights(path)
    if kind == "torch":
        calls["from_torch"] = lambda: convert.from_torch(path)
        if path.endswith(".safetensors"):
            calls["load_safetensors"] = lambda: convert.load_safetensors(path)
    if kind == "onnx":
        calls["from_onnx"] = lambda: convert.from_onnx(path).predict(np.ones((1, 5, 3), np.float32))
    return calls


def main():
    import torch  # noqa: F401 - imported before the memory cap, as .pt files need it

    seeds = json.loads(sys.argv[1])
    targets = {name: rnnlab.models.load_model(path, compile=False) for name, path in seeds.items()}
    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + EXTRA_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]))
    print("READY", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        print(f"START {job['index']}", flush=True)
        outcomes = {name: _outcome(fn) for name, fn in _loaders(job["kind"], job["path"], targets.get(job.get("target"))).items()}
        print(f"DONE {job['index']} {json.dumps(outcomes)}", flush=True)


if __name__ == "__main__":
    main()
