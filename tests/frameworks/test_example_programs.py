"""End-to-end programs written for TensorFlow's Keras (examples/), run on real Keras and, after the README's import
swap, on rnnlab: the same numbers."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.support.reference import require

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
SWAP = {"from tensorflow import keras": "import rnnlab as keras",
        "from tensorflow.keras import layers": "from rnnlab import layers"}


def _run(source, out, tmp_path):
    script = tmp_path / f"program_{out.stem}.py"  # not keras.py: it would shadow the keras package
    script.write_text(source)
    root = pathlib.Path(__file__).resolve().parents[2]
    # the rnnlab of this checkout, not whichever one the interpreter has installed
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600,
                          env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(out)


@pytest.mark.parametrize("program", ["text_and_series.py", "text_classifier.py"])
def test_program_gives_keras_numbers_after_the_import_swap(program, tmp_path):
    require("tensorflow")
    source = (EXAMPLES / program).read_text()
    swapped = source
    for original, replacement in SWAP.items():
        assert original in swapped
        swapped = swapped.replace(original, replacement)
    assert "tensorflow" not in swapped.replace("TensorFlow", "")
    theirs = _run(source, tmp_path / "on_keras.npz", tmp_path)
    ours = _run(swapped, tmp_path / "on_rnnlab.npz", tmp_path)
    assert theirs.files == ours.files
    for key in theirs.files:
        assert theirs[key].shape == ours[key].shape, key
        np.testing.assert_allclose(ours[key].astype(np.float64), theirs[key].astype(np.float64), rtol=1e-5,
                                   atol=1e-6, err_msg=key)
