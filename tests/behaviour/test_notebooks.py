"""Every notebook in ``examples/`` runs top to bottom (nbclient), on the Python running the tests.

The notebooks check their own claims with ``assert``/``np.testing``, so a cell that stops holding fails here.  The
kernel is registered in a temporary Jupyter path with ``sys.executable``, so it is this interpreter (and this
rnnlab), whatever other kernels the machine has.
"""
import json
import os
import sys
from pathlib import Path

import pytest

from tests.support.reference import require

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
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
        "display_name": "rnnlab tests", "language": "python"}))
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
