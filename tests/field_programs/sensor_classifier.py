"""A sensor-activity classifier in the style of keras.io's time-series examples: a Normalization layer adapted to
the training windows, Conv1D features, an LSTM, and a Lambda that pools the LSTM's sequence (mean and max over
time) before the softmax.  Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/sensor_classifier.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(5)

# three activities seen by a 3-axis sensor: still (noise), walking (a slow swing), shaking (a fast one);
# the raw readings have an offset and a scale per axis that Normalization learns to remove
n, steps = 72, 40
labels = rng.integers(0, 3, size=n)
t = np.arange(steps, dtype="float32")[None, :, None]
freq = np.where(labels == 0, 0.0, np.where(labels == 1, 0.15, 0.6))[:, None, None]
swing = np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, size=(n, 1, 3)))
x = (swing + 0.3 * rng.normal(size=(n, steps, 3))) * np.array([2.0, 5.0, 0.5]) + np.array([9.8, -3.0, 40.0])
x = x.astype("float32")
y = keras.utils.to_categorical(labels, 3)

normalizer = layers.Normalization(axis=-1)
normalizer.adapt(x[:60])

inputs = keras.Input(shape=(steps, 3))
h = normalizer(inputs)
h = layers.Conv1D(8, 5, padding="same", activation="relu")(h)
h = layers.LSTM(10, return_sequences=True)(h)
pooled = layers.Lambda(lambda s: keras.ops.concatenate([keras.ops.mean(s, axis=1), keras.ops.max(s, axis=1)],
                                                      axis=-1), name="mean_max_pool")(h)
outputs = layers.Dense(3, activation="softmax")(pooled)
model = keras.Model(inputs, outputs)
model.set_weights([w if i < 3 else rng.uniform(-0.4, 0.4, w.shape).astype("float32")
                   for i, w in enumerate(model.get_weights())])  # weights 0-2: the adapted statistics
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"],
              run_eagerly=True)  # eager Keras: no graph tracing for this small run
history = model.fit(x[:60], y[:60], batch_size=20, epochs=3, shuffle=False, verbose=0,
                    validation_data=(x[60:], y[60:]))
probabilities = model.predict(x[60:], verbose=0)
print("accuracy per epoch:", [round(a, 3) for a in history.history["accuracy"]])
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), val_loss=np.array(history.history["val_loss"]),
         probabilities=probabilities, mean=model.get_weights()[0], variance=model.get_weights()[1])
