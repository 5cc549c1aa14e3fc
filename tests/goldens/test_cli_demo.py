"""``rnnlab demo``: exit status 0, and every relation of the seed notebooks stated as a passing check.

The demo is run in-process through ``rnnlab.cli.main`` and as a separate process (``python -m rnnlab.cli``, the
``rnnlab`` console script, and ``python -m rnnlab`` once the package has a ``__main__``). The last tests keep the
README honest: its Quick start commands are the ones ``.ci/run`` runs, and its Python examples run.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab import cli, demo

# Every relation the demo must state, each on a line of its own that starts with the tick.
RELATIONS = [
    "o has shape (1, 3) = (batch, units)",
    "o has shape (1, 8, 3) = (batch, T, units)",
    "o is the hidden state after the last step",
    "o[:, t] is the hidden state after step t, for every t",
    "returns 3 arrays [o, h, c]",
    "h and c have shape (1, 3)",
    "o == h: without return_sequences the output is the last hidden state",
    "h == o[:, -1]: h is the last step of the sequence o",
    "c is the LSTM cell state after the last step",
    "GRU returns 2 arrays [o, h]: it has no cell state c",
    "GRU h == o[:, -1]",
    "o has 2 * M = 6 features: shape (1, 6)",
    "o[:, :3] is a forward LSTM's last h",
    "o[:, 3:] is the last h of an LSTM reading x backwards",
    "stacked o has shape (1, 3)",
    "the second LSTM reads the first one's sequence o",
]

SECTIONS = [
    "LSTM(3, return_sequences=False, return_state=False) -> o",
    "LSTM(3, return_sequences=True, return_state=False) -> o",
    "LSTM(3, return_sequences=False, return_state=True) -> [o, h, c]",
    "LSTM(3, return_sequences=True, return_state=True) -> [o, h, c]",
    "GRU(3, return_sequences=True, return_state=True) -> [o, h]",
    "Bidirectional(LSTM(3))",
    "Stacked: LSTM(3, return_sequences=True) -> LSTM(3)",
]

REPO = Path(__file__).resolve().parents[2]


def check_output(out):
    lines = [line.strip() for line in out.splitlines()]
    for relation in RELATIONS:
        assert any(line.startswith("✓ ") and relation in line for line in lines), (
            f"no passing check states: {relation}\n{out}")
    for section in SECTIONS:
        assert section in out, f"missing section {section}\n{out}"
    for name in ("o", "h", "c"):
        assert any(line.startswith(f"{name} = ") for line in lines), f"no explanation of {name}\n{out}"
    assert "✗" not in out
    assert lines[-1].startswith("✓ all ") and lines[-1].endswith(" relations hold")


def subprocess_env():
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def test_main_demo(capsys):
    assert cli.main(["demo"]) == 0
    check_output(capsys.readouterr().out)


def test_demo_seed_is_reproducible(capsys):
    assert cli.main(["demo", "--seed", "7"]) == 0
    first = capsys.readouterr().out
    assert "(seed 7)" in first
    check_output(first)
    assert cli.main(["demo", "--seed", "7"]) == 0
    assert capsys.readouterr().out == first
    assert cli.main(["demo", "--seed", "8"]) == 0
    assert capsys.readouterr().out != first


def test_demo_exits_nonzero_when_a_relation_fails(capsys, monkeypatch):
    monkeypatch.setattr(demo, "_agree", lambda a, b: False)
    assert cli.main(["demo"]) == 1
    out = capsys.readouterr().out
    assert "✗ o == h: without return_sequences the output is the last hidden state" in out
    assert "relations FAILED" in out.splitlines()[-1]


def test_demo_reports_a_raising_layer_and_goes_on(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(demo, "_gru_section", broken)
    assert cli.main(["demo"]) == 1
    out = capsys.readouterr().out
    assert "✗ section 5 raised RuntimeError: broken on purpose" in out
    assert "✓ stacked o has shape (1, 3)" in out  # later sections still run


def test_cli_usage(capsys):
    assert cli.main([]) == 2  # no command: help, usage error status
    assert "demo" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert cli.main(["demo", "--help"]) == 0
    assert "--seed" in capsys.readouterr().out
    assert cli.main(["no-such-command"]) == 2
    assert cli.main(["demo", "--seed", "x"]) == 2
    import rnnlab

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rnnlab {rnnlab.__version__}"


def test_inspect_subcommand(tmp_path, capsys):
    """``rnnlab inspect`` is rnnlab.inspect.cli mounted as a subcommand (the report itself is tested in test_report)."""
    out = tmp_path / "report.html"
    assert cli.main(["inspect", "--demo", "--no-plots", "--out", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert cli.main(["inspect"]) == 2  # neither MODEL_FILE nor --demo
    assert "rnnlab inspect: error" in capsys.readouterr().err
    assert cli.main(["inspect", "--help"]) == 0
    assert "--demo" in capsys.readouterr().out


def run_command(args):
    result = subprocess.run(args, capture_output=True, env=subprocess_env(), cwd=REPO, timeout=300)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, out + result.stderr.decode("utf-8", "replace")
    check_output(out)


def test_python_m_rnnlab_cli_demo():
    run_command([sys.executable, "-m", "rnnlab.cli", "demo"])


def test_console_script_demo():
    script = Path(sys.executable).parent / ("rnnlab.exe" if os.name == "nt" else "rnnlab")
    if not script.exists():
        found = shutil.which("rnnlab")
        if found is None:
            if os.environ.get("CI"):
                pytest.fail("the rnnlab console script is not installed (pip install -e . installs it)")
            pytest.skip("the rnnlab console script is not installed")
        script = Path(found)
    run_command([str(script), "demo"])


def test_python_m_rnnlab_demo():
    if importlib.util.find_spec("rnnlab.__main__") is None:
        pytest.skip("rnnlab has no __main__ module yet")
    run_command([sys.executable, "-m", "rnnlab", "demo"])


# ---------------------------------------------------------------------------------------------------------------------
# The README's Quick start and examples
# ---------------------------------------------------------------------------------------------------------------------


def readme_blocks(language):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", text, flags=re.M | re.S)


def test_ci_runs_the_readme_test_command():
    commands = [block.strip() for block in readme_blocks("")]
    assert commands[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/rnnlab demo",
        'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest -q',
    ]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in ci
    assert "export CI=1" in ci
    assert ci[-1] == commands[1]
    assert os.access(REPO / ".ci" / "run", os.X_OK)


def test_readme_python_examples_run(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # files the examples write (TensorBoard logs...) go there, not into the checkout
    blocks = readme_blocks("python")
    assert len(blocks) >= 2
    for block in blocks:
        assert "tensorflow" not in block
        exec(compile(block, "<README.md>", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert out.count("o:") == 3 and out.count("c:") == 2
    assert "test accuracy: 0.9" in out  # the training example learns (>= 90% here, 97% in the full example)
    assert "(1, 8, 3) (1, 8, 3)" in out and "True" in out  # the trace and streaming example
