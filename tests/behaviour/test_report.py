"""The HTML report and ``rnnlab inspect``: one self-contained page, opened in a real headless browser.

The browser test runs Debian's ``chromium`` when ``/usr/bin/chromium`` exists; without it the test is skipped, or
fails when the ``CI`` environment variable is set (``.ci/run`` installs chromium).
"""
import base64
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

import rnnlab
from rnnlab import layers
from rnnlab.inspect import build_report, demo_model, trace, write_report
from rnnlab.inspect import cli as inspect_cli
from rnnlab.inspect.cli import MissingFileError, load_input

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def demo():
    from tests.support.reference import require

    require("matplotlib")
    return demo_model(seed=0)


@pytest.fixture(scope="module")
def demo_html(demo):
    model, x = demo
    return build_report(model, x, source="built-in demo")


def test_report_is_one_self_contained_page(demo_html):
    html = demo_html
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script" not in html.lower()  # nothing to run, so nothing to fail
    # nothing loaded from elsewhere: every src/href is inline data
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert attr.startswith("data:"), attr
    assert not re.search(r"https?://", html)
    assert "@import" not in html and "url(" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 4  # LSTM gates and states, Bidirectional side by side, state norms
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")


def test_report_explains_o_h_c_with_the_model_values(demo, demo_html):
    model, x = demo
    html = demo_html
    for section in ("Model summary", "What o, h and c are, for this model", "Statistics", "Plots"):
        assert f"<h2>{section}</h2>" in html
    assert "Model: &quot;inspect_demo&quot;" in html  # model.summary(), HTML-escaped
    tr = trace(model, x)
    lstm = tr["lstm"]
    h_last = np.array2string(lstm.h[0, -1].astype(np.float64), precision=4, suppress_small=True,
                             floatmode="fixed", separator=", ", max_line_width=200)
    assert f"h = {h_last}" in html  # the actual final hidden state of sample 0
    assert "c = f * c_prev + i * c_hat" in html and "h = o_gate * tanh(c)" in html
    assert "h = z * h_prev + (1 - z) * h_hat" in html  # the GRU directions
    assert html.count("matches the layer") >= 4 and "does not match" not in html
    for title in ("Gate activations and saturation", "Per-unit forget gate and activity",
                  "State-norm growth over time"):
        assert title in html
    assert "no (masked)" not in html  # sample 0 has no padding ...
    masked = build_report(model, x, sample=3, plots=False)
    assert "no (masked)" in masked  # ... sample 3 ends with two padded steps
    assert "<img" not in masked


def test_report_errors(demo):
    model, x = demo
    with pytest.raises(ValueError, match="sample"):
        build_report(model, x, sample=9, plots=False)
    inputs = rnnlab.Input((4, 2))
    dense_only = rnnlab.Model(inputs, layers.Dense(1)(inputs))
    with pytest.raises(ValueError, match="no recurrent layer"):
        build_report(dense_only, np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="directory"):
        write_report("/no/such/dir/report.html", model, x, plots=False)


# ---------------------------------------------------------------------------------------------------------------------
# rnnlab inspect
# ---------------------------------------------------------------------------------------------------------------------


def test_cli_demo_writes_the_report(demo, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert inspect_cli.main(["--demo", "--out", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert "built-in demo model (seed 0)" in text and "data:image/png;base64," in text


def test_cli_model_file_and_input(demo, tmp_path, monkeypatch, capsys):
    model, x = demo
    loaded = []

    def load_model(path):  # stands in for the saved-model reader
        loaded.append(path)
        return model

    monkeypatch.setattr(rnnlab.models, "load_model", load_model, raising=False)
    model_file, x_file, out = tmp_path / "m.keras", tmp_path / "x.npy", tmp_path / "r.html"
    model_file.write_bytes(b"stand-in")
    np.save(x_file, x[1])  # a single sequence: the batch axis is added
    assert inspect_cli.main([str(model_file), "--input", str(x_file), "--out", str(out), "--no-plots"]) == 0
    assert loaded == [str(model_file)]
    text = out.read_text(encoding="utf-8")
    assert f"input {x_file}" in text and "input shape (1, 8, 2)" in text


def test_cli_reads_a_saved_keras_file(demo, tmp_path):
    model, x = demo
    if not (hasattr(model, "save") and hasattr(rnnlab.models, "load_model")):
        pytest.skip("this rnnlab cannot save and load .keras files")
    model_file, x_file, out = tmp_path / "demo.keras", tmp_path / "x.npy", tmp_path / "r.html"
    model.save(str(model_file))
    np.save(x_file, x)
    assert inspect_cli.main([str(model_file), "--input", str(x_file), "--out", str(out), "--no-plots"]) == 0
    assert f"model file {model_file}" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, status, message", [
    ([], 2, "give a MODEL_FILE"),
    (["m.keras", "--demo"], 2, "not both"),
    (["m.keras"], 2, "needs --input"),
    (["missing.keras", "--input", "x.npy"], 1, "Model file 'missing.keras' does not exist"),
    (["--demo", "--input", "missing.npy"], 1, "Input file 'missing.npy' does not exist"),
    (["--demo", "--mask", "missing_mask.npy", "--no-plots"], 1, "Mask file 'missing_mask.npy' does not exist"),
    (["--demo", "--sample", "7", "--no-plots"], 1, "sample"),
])
def test_cli_errors(argv, status, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert inspect_cli.main(argv + ["--out", str(tmp_path / "r.html")]) == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_cli_wrong_input_shape(tmp_path, capsys):
    x_file = tmp_path / "x.npy"
    np.save(x_file, np.zeros((2, 8, 5)))
    assert inspect_cli.main(["--demo", "--input", str(x_file), "--no-plots", "--out", str(tmp_path / "r.html")]) == 1
    assert "must have shape (None, 8, 2)" in capsys.readouterr().err


def test_load_input(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist") as info:
        load_input(str(tmp_path / "nope.npy"))
    assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)
    np.savez(tmp_path / "one.npz", anything=np.ones((1, 2, 3)))
    np.savez(tmp_path / "named.npz", x=np.ones((1, 2, 3)), mask=np.ones((1, 2)))
    np.savez(tmp_path / "two.npz", a=np.ones(1), b=np.ones(1))
    assert load_input(str(tmp_path / "one.npz")).shape == (1, 2, 3)
    assert load_input(str(tmp_path / "named.npz")).shape == (1, 2, 3)
    with pytest.raises(ValueError, match="name the input 'x'"):
        load_input(str(tmp_path / "two.npz"))
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(ValueError, match="not a NumPy"):
        load_input(str(tmp_path / "text.npy"))
    with pytest.raises(ValueError, match="not a file"):
        load_input(str(tmp_path))


# ---------------------------------------------------------------------------------------------------------------------
# A real browser
# ---------------------------------------------------------------------------------------------------------------------


def test_report_opens_in_headless_chromium(demo_html, tmp_path):
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed (Debian package 'chromium'), so the report cannot be opened"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: .ci/run must install it)", pytrace=False)
        pytest.skip(message)
    from PIL import Image  # comes with matplotlib

    report = tmp_path / "report.html"
    report.write_text(demo_html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="rnnlab-chromium-")
    try:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
             "--window-size=1200,2000", report.as_uri()],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    # The page runs no script, so the browser console must stay silent: any message there is an error
    # (a blocked resource, a parse failure...).
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[0] >= 1000 and image.shape[1] >= 1000
    distinct = np.unique(image.reshape(-1, 3), axis=0).shape[0]
    assert distinct > 200, f"the screenshot looks blank ({distinct} distinct colours)"
    not_background = np.mean(np.any(image < 235, axis=-1))
    assert not_background > 0.02, f"the screenshot is almost empty ({not_background:.1%} drawn)"
