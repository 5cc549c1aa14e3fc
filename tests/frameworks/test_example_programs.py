"""End-to-end programs written for TensorFlow's Keras (examples/), run on real Keras and, after the README's import
swap, on rnnlab: the same numbers.

The Keras programs (an IMDB-style LSTM, a character seq2seq with rebuilt and reloaded inference models, weather
forecasting from timeseries_dataset_from_array, a stateful LSTM) run one after another in one process per framework,
so TensorFlow is imported once."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.support.reference import require

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"
SWAP = {"from tensorflow import keras": "import rnnlab as keras",
        "from tensorflow.keras import layers": "from rnnlab import layers",
        "import tensorflow as tf": "import rnnlab as tf"}
KERAS_PROGRAMS = ["imdb_style_lstm.py", "char_seq2seq.py", "weather_forecast.py", "stateful_lstm.py"]
# runs each (program, output) pair of its arguments in turn, as `python program output` would
DRIVER = """
import pathlib, sys
pairs = list(zip(sys.argv[1::2], sys.argv[2::2]))
for program, out in pairs:
    sys.argv = [program, out]
    exec(compile(pathlib.Path(program).read_text(), program, "exec"), {"__name__": "__main__", "__file__": program})
"""


def _swap(source):
    """The README's import swap: each TensorFlow import that the source holds, replaced by rnnlab's."""
    swapped = source
    for original, replacement in SWAP.items():
        swapped = swapped.replace(original, replacement)
    assert swapped != source
    assert "tensorflow" not in swapped.replace("TensorFlow", "")
    return swapped


def _environment():
    root = pathlib.Path(__file__).resolve().parents[2]
    # the rnnlab of this checkout, not whichever one the interpreter has installed
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONPATH=path), root


def _run(source, out, tmp_path):
    script = tmp_path / f"program_{out.stem}.py"  # not keras.py: it would shadow the keras package
    script.write_text(source)
    env, root = _environment()
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600,
                          env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(out)


@pytest.mark.parametrize("program", ["text_and_series.py", "text_classifier.py"])
def test_program_gives_keras_numbers_after_the_import_swap(program, tmp_path):
    require("tensorflow")
    source = (EXAMPLES / program).read_text()
    swapped = _swap(source)
    theirs = _run(source, tmp_path / "on_keras.npz", tmp_path)
    ours = _run(swapped, tmp_path / "on_rnnlab.npz", tmp_path)
    assert theirs.files == ours.files
    for key in theirs.files:
        assert theirs[key].shape == ours[key].shape, key
        np.testing.assert_allclose(ours[key].astype(np.float64), theirs[key].astype(np.float64), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


def test_keras_programs_give_keras_numbers_after_the_import_swap(tmp_path):
    """Each program's losses (every epoch, validation included), evaluations and predictions, on Keras and on
    rnnlab after the import swap; the seq2seq program's greedy decoding through its reloaded inference models."""
    require("tensorflow")
    env, root = _environment()
    runs = {}
    for framework in ("keras", "rnnlab"):
        arguments = []
        for program in KERAS_PROGRAMS:
            source = (EXAMPLES / program).read_text()
            script = tmp_path / f"{framework}_{program}"
            script.write_text(source if framework == "keras" else _swap(source))
            arguments += [str(script), str(tmp_path / f"{framework}_{program}.npz")]
        runs[framework] = subprocess.Popen([sys.executable, "-c", DRIVER, *arguments], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    for framework, proc in runs.items():
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, (framework, stderr[-3000:])
    for program in KERAS_PROGRAMS:
        theirs, ours = (np.load(tmp_path / f"{framework}_{program}.npz") for framework in ("keras", "rnnlab"))
        assert theirs.files == ours.files, program
        for key in theirs.files:
            assert theirs[key].shape == ours[key].shape, (program, key)
            np.testing.assert_allclose(ours[key].astype(np.float64), theirs[key].astype(np.float64), rtol=1e-4,
                                       atol=1e-5, err_msg=f"{program}: {key}")
