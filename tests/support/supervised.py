"""Running code in a supervised child process: a wall-clock limit and a cap on its address space.

A test that feeds a hostile file to a loader must not take the test process down with it (a 3 GB allocation,
a crash in a C library, an endless loop).  :func:`run_child` runs a Python snippet in a fresh interpreter whose
address space may grow by at most ``memory_bytes`` beyond what it holds once its imports are done
(``resource.setrlimit(RLIMIT_AS)``, set by the child itself after ``setup``), killed after ``timeout`` seconds.
"""
import json
import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_PRELUDE = """
import json, resource, sys, traceback
def _vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
def _cap(extra):
    limit = _vm_size() + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
def _report(**result):
    sys.stdout.write("RESULT " + json.dumps(result) + "\\n")
    sys.stdout.flush()
"""

_TEMPLATE = """
{setup}
_cap({memory})
try:
{body}
    _report(outcome="ok", type=None, message="")
except BaseException as exc:
    _report(outcome="raised", type=type(exc).__name__, message=str(exc)[:2000],
            traceback=traceback.format_exc()[-3000:])
"""


def run_child(body, setup="import rnnlab", memory_bytes=1 << 30, timeout=10):
    """Run ``body`` (Python source) after ``setup`` in a child process; return ``{"outcome", "type",
    "message"}``: ``"ok"``, ``"raised"`` (with the exception's type and message), ``"timeout"`` or ``"died"``."""
    source = _PRELUDE + _TEMPLATE.format(setup=textwrap.dedent(setup), memory=int(memory_bytes),
                                         body=textwrap.indent(textwrap.dedent(body), "    "))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return {"outcome": "timeout", "type": None, "message": f"still running after {timeout} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"outcome": "died", "type": None, "message": f"exit {done.returncode}: {done.stderr[-2000:]}"}
