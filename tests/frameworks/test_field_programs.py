"""Our own end-to-end programs in the style of the keras.io examples (tests/field_programs): a CNN-LSTM classifier,
an LSTM autoencoder with RepeatVector and TimeDistributed(Dense), a two-input two-output model joined with
concatenate, an attention encoder-decoder (LSTM encoder with states, LSTM decoder from them, Attention over the
encoder's outputs) and a ConvLSTM next-frame model with a ConvLSTM direction classifier (Conv3D, Conv2D,
MaxPooling2D, GlobalAveragePooling2D).  Each runs on real Keras and, after the README's import swap, on rnnlab: the
same predictions and losses (and a sensor classifier with Normalization.adapt, Conv1D, LSTM and a Lambda, and a
GRU forecaster that resumes training from a ModelCheckpoint .keras file with its optimizer state, and a preempted
job that BackupAndRestore resumes).  The programs run in two processes (one per framework) to import TensorFlow once."""
import os
import pathlib
import subprocess
import sys

import numpy as np

from tests.support.reference import require

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS = ["cnn_lstm_classifier.py", "lstm_autoencoder.py", "two_inputs_two_outputs.py", "attention_seq2seq.py",
            "convlstm_next_frame.py", "sensor_classifier.py", "checkpoint_resume.py"]
SWAP = {"from tensorflow import keras": "import rnnlab as keras",
        "from tensorflow.keras import layers": "from rnnlab import layers"}
DRIVER = """import runpy, sys
for program, out in zip(sys.argv[1::2], sys.argv[2::2]):
    sys.argv = [program, out]
    runpy.run_path(program, run_name="__main__")
"""


def _run_all(sources, tag, tmp_path):
    args = []
    for name, source in sources.items():
        script = tmp_path / f"{tag}_{name}"
        script.write_text(source)
        args += [str(script), str(tmp_path / f"{tag}_{name}.npz")]
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)  # this checkout's rnnlab
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {name: np.load(tmp_path / f"{tag}_{name}.npz") for name in sources}


def test_field_programs_give_keras_numbers_after_the_import_swap(tmp_path):
    require("tensorflow")
    originals = {name: (ROOT / "tests" / "field_programs" / name).read_text() for name in PROGRAMS}
    swapped = {}
    for name, source in originals.items():
        for original, replacement in SWAP.items():
            assert original in source
            source = source.replace(original, replacement)
        assert "tensorflow" not in source.replace("TensorFlow", "")
        swapped[name] = source
    theirs = _run_all(originals, "keras", tmp_path)
    ours = _run_all(swapped, "rnnlab", tmp_path)
    for name in PROGRAMS:
        assert theirs[name].files == ours[name].files, name
        for key in theirs[name].files:
            assert theirs[name][key].shape == ours[name][key].shape, (name, key)
            np.testing.assert_allclose(ours[name][key].astype(np.float64), theirs[name][key].astype(np.float64),
                                       rtol=2e-5, atol=2e-5, err_msg=f"{name}: {key}")
