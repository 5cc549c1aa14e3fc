"""Every notebook in ``examples/`` runs top to bottom (nbclient), on the Python running the tests.

The notebooks check their own claims with ``assert``/``np.testing``, so a cell that stops holding fails here.  The
kernel is registered in a temporary Jupyter path with ``sys.executable`` and this checkout first on its
``PYTHONPATH``, so it is this interpreter and this rnnlab, whatever other kernels the machine has.
"""
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.reference import require

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
KERNEL = "rnnlab-tests-python"


def test_the_examples_hold_the_notebooks():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 3, names
    text = {p.name: p.read_text(encoding="utf-8") for p in NOTEBOOKS}
    assert any("import rnnlab as keras" in t for t in text.values())  # seed notebook 1, imports swapped
    assert any("import rnnlab as tf" in t for t in text.values())  # seed notebook 2
    assert any("inspect.trace" in t and "plot_gates" in t for t in text.values())


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    for module in ("nbformat", "nbclient", "ipykernel", "matplotlib"):
        require(module)
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rnnlab tests", "language": "python",
        # the rnnlab of this checkout, not whichever one the interpreter has installed
        "env": {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(root) + (os.pathsep + old if old else "")
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails
    errors = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors


PROGRESS_CELL = """
import numpy as np
import rnnlab
from rnnlab import layers

model = rnnlab.Sequential([rnnlab.Input((3, 2)), layers.LSTM(4), layers.Dense(1)])
model.compile("sgd", "mse")
x, y = np.zeros((40, 3, 2), "float32"), np.zeros((40, 1), "float32")
model.fit(x, y, batch_size=10, epochs=1)
model.predict(x, batch_size=10)
"""


def test_fit_and_predict_bars_advance_in_a_notebook(kernel_name, tmp_path):
    """In a notebook the bar is Keras's coloured one, rewritten in place: after step 1 of 4 a quarter of it is
    green (done) and the rest white (to go), so it advances instead of showing full from the first step."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROGRESS_CELL)])
    NotebookClient(notebook, kernel_name=kernel_name, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(out.get("text", "") for out in notebook.cells[0].outputs if out.output_type == "stream")
    frames = text.replace("\n", "\r").split("\r")
    quarter = "\x1b[32m" + "\u2501" * 5 + "\x1b[0m\x1b[37m" + "\u2501" * 15 + "\x1b[0m"
    full = "\x1b[32m" + "\u2501" * 20 + "\x1b[0m\x1b[37m\x1b[0m"
    first_fit = [f for f in frames if "1/4\x1b[0m " in f and "loss" in f]
    first_predict = [f for f in frames if "1/4\x1b[0m " in f and "loss" not in f]
    assert first_fit and all(quarter in f for f in first_fit), frames
    assert first_predict and all(quarter in f for f in first_predict), frames
    assert sum(full in f for f in frames if "4/4\x1b[0m " in f) == 2, frames  # fit's and predict's last frames
