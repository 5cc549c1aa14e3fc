"""``fit`` on a 10-million-sample ``PyDataset`` whose batches are made on demand stays under 500 MB of resident
memory, measured as the peak RSS of a child process (``VmHWM``: ``ru_maxrss`` would carry over the forking
parent's peak).  Those samples as one float32 array would take
600 MB, so a ``fit`` that turned the data set into an array (the issue's program grew to 22 GB) fails here."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROGRAM = """
import numpy as np
import rnnlab
from rnnlab import layers

SAMPLES, BATCH, STEPS, FEATURES = 10_000_000, 100, 5, 3


class OnDemand(rnnlab.utils.PyDataset):
    def __len__(self):
        return SAMPLES // BATCH

    def __getitem__(self, index):
        x = np.random.default_rng(index).normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
        return x, x[:, :, :1].sum(axis=1)  # (100, 5, 3), (100, 1)


data = OnDemand()
assert len(data) * BATCH * STEPS * FEATURES * 4 > 500 * 2**20  # as one array it would not fit the limit
model = rnnlab.Sequential([rnnlab.Input((STEPS, FEATURES)), layers.LSTM(8), layers.Dense(1)])
model.compile("adam", "mse")
history = model.fit(data, steps_per_epoch=20, epochs=2, verbose=0)  # shuffled: a random batch order
assert np.isfinite(history.history["loss"]).all()
model.evaluate(data, steps=5, verbose=0)
# The peak of this process's own memory: /proc's VmHWM starts afresh at exec, where ru_maxrss keeps the peak of the
# forking parent (pytest, which may hold TensorFlow by now).
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")))  # KiB
"""


def test_fit_on_ten_million_samples_made_on_demand_stays_under_500_mb(tmp_path):
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    peak_mib = int(proc.stdout.split()[-1]) / 1024
    assert peak_mib < 500, f"peak resident memory {peak_mib:.0f} MiB"
