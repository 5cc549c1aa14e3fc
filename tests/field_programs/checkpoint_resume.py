"""Resuming training, in the style of keras.io's time-series forecasting examples: a stacked GRU forecaster trains
for three epochs with a ModelCheckpoint writing a .keras file after each, the last checkpoint is loaded in a fresh
model (with its optimizer's moments and step count), and training resumes for two more epochs.  Then a job that
dies mid-run (an exception in epoch 3) is started again with the same BackupAndRestore callback and finishes the
remaining epochs.  Resumed training must continue exactly where uninterrupted training would have gone.  Written
for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/checkpoint_resume.py out.npz
"""
import os
import sys
import tempfile

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(11)

# a daily-looking signal (two seasonal terms and noise); each window of 24 readings predicts the next 3
series = (np.sin(np.arange(1200) * 2 * np.pi / 24) + 0.5 * np.sin(np.arange(1200) * 2 * np.pi / 168)
          + 0.1 * rng.normal(size=1200)).astype("float32")
windows = np.stack([series[i:i + 27] for i in range(0, 1150, 5)])
x, y = windows[:, :24, None], windows[:, 24:]

model = keras.Sequential([
    keras.Input((24, 1)),
    layers.GRU(12, return_sequences=True),
    layers.GRU(8),
    layers.Dense(3),
])
model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])
model.compile(optimizer=keras.optimizers.Adam(0.005), loss="mse", metrics=["mae"])

folder = tempfile.mkdtemp()
checkpoint = os.path.join(folder, "epoch_{epoch:02d}.keras")
first = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0,
                  callbacks=[keras.callbacks.ModelCheckpoint(checkpoint)])
saved = sorted(os.listdir(folder))
assert saved == ["epoch_01.keras", "epoch_02.keras", "epoch_03.keras"], saved

resumed = keras.models.load_model(os.path.join(folder, "epoch_03.keras"))
steps_done = int(resumed.optimizer.iterations)
assert steps_done == 3 * int(np.ceil(len(x) / 32)), steps_done
second = resumed.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
straight = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)  # the run that never stopped
for a, b in zip(resumed.get_weights(), model.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)



class Preempted(Exception):
    pass


class PreemptAtEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 3:
            raise Preempted()


def job(callbacks):
    net = keras.Sequential([keras.Input((24, 1)), layers.LSTM(10), layers.Dense(3)])
    net.set_weights([np.random.default_rng(3).uniform(-0.3, 0.3, w.shape).astype("float32")
                     for w in net.get_weights()])
    net.compile(optimizer=keras.optimizers.RMSprop(0.003), loss="mse")
    return net, net.fit(x, y, batch_size=32, epochs=5, shuffle=False, verbose=0, callbacks=callbacks)


backup = os.path.join(folder, "backup")
try:
    job([keras.callbacks.BackupAndRestore(backup), PreemptAtEpoch()])
    raise AssertionError("the job was not preempted")
except Preempted:
    pass
restarted, rest = job([keras.callbacks.BackupAndRestore(backup)])
assert len(rest.history["loss"]) == 2 and not os.path.exists(backup), rest.history
uninterrupted, whole = job([])
for a, b in zip(restarted.get_weights(), uninterrupted.get_weights()):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

np.savez(sys.argv[1], first_loss=np.array(first.history["loss"]), resumed_loss=np.array(second.history["loss"]),
         straight_loss=np.array(straight.history["loss"]), steps=np.array(int(resumed.optimizer.iterations)),
         forecast=resumed.predict(x[:8], verbose=0), restarted_loss=np.array(rest.history["loss"]),
         restarted_forecast=restarted.predict(x[:8], verbose=0))
