"""`rnnlab convert IN OUT` and `rnnlab info FILE`: formats by extension, same numbers after conversion."""
import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from rnnlab.cli import main
from tests.support.reference import require


@pytest.fixture
def model_file(tmp_path):
    rng = np.random.default_rng(0)
    model = rnnlab.Sequential([rnnlab.Input(shape=(5, 3)), layers.LSTM(4), layers.Dense(2)])
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape) for w in model.get_weights()])
    path = tmp_path / "m.keras"
    model.save(str(path))
    return model, path


def test_convert_keras_to_safetensors_and_back(model_file, tmp_path, capsys):
    model, path = model_file
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    st = tmp_path / "m.safetensors"
    assert main(["convert", str(path), str(st)]) == 0
    back = tmp_path / "back.keras"
    assert main(["convert", str(st), str(back)]) == 0
    np.testing.assert_allclose(rnnlab.models.load_model(str(back))(x), model(x), atol=1e-6)
    assert main(["info", str(st)]) == 0
    out = capsys.readouterr().out
    assert "nn.LSTM(input_size=3, hidden_size=4)" in out and "rnn.weight_ih_l0" in out


def test_convert_keras_to_onnx_runs_in_onnxruntime(model_file, tmp_path):
    ort = require("onnxruntime")
    require("onnx")
    model, path = model_file
    out = tmp_path / "m.onnx"
    assert main(["convert", str(path), str(out)]) == 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).normal(size=(3, 5, 3)).astype("float32")
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model(x), atol=1e-5)


def test_info_describes_a_keras_file(model_file, capsys):
    _, path = model_file
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "LSTM" in out and "Dense" in out and "Total parameters: 138" in out


def test_errors_exit_nonzero_with_a_message(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.keras")]) == 1
    assert "No such file" in capsys.readouterr().err
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    assert main(["convert", str(bad), str(tmp_path / "x.onnx")]) == 1
    assert "rnnlab convert: error:" in capsys.readouterr().err
