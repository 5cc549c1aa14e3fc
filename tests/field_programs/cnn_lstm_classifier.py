"""A CNN-LSTM classifier of noisy waveforms: Conv1D feature maps, batch normalization and max pooling shrink each
series before an LSTM reads it.  Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/cnn_lstm_classifier.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(11)

# three kinds of wave (sine, square, sawtooth), random phase and frequency, with noise
t = np.linspace(0, 1, 48, dtype="float32")
kinds = rng.integers(0, 3, size=60)
phase, freq = rng.uniform(0, 2 * np.pi, 60), rng.uniform(2, 5, 60)
angle = 2 * np.pi * freq[:, None] * t[None, :] + phase[:, None]
waves = np.where(kinds[:, None] == 0, np.sin(angle), np.where(kinds[:, None] == 1, np.sign(np.sin(angle)),
                                                               (angle / np.pi) % 2 - 1))
x = (waves[..., None] + 0.2 * rng.normal(size=(60, 48, 1))).astype("float32")
x = np.concatenate([x, np.gradient(x, axis=1)], axis=-1)  # (60, 48, 2): the wave and its slope
y = keras.utils.to_categorical(kinds, 3)

inputs = keras.Input(shape=(48, 2))
h = layers.Conv1D(8, 5, padding="same", activation="relu")(inputs)
h = layers.BatchNormalization()(h)
h = layers.MaxPooling1D(2)(h)
h = layers.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu")(h)
h = layers.MaxPooling1D(2)(h)
h = layers.LSTM(12)(h)
outputs = layers.Dense(3, activation="softmax")(h)
model = keras.Model(inputs, outputs)
model.set_weights([rng.uniform(-0.4, 0.4, w.shape).astype("float32") + (0.6 if i == 5 else 0)
                   for i, w in enumerate(model.get_weights())])  # weight 5: moving_variance, kept positive
model.compile(optimizer=keras.optimizers.Adam(0.005), loss="categorical_crossentropy", metrics=["accuracy"],
              run_eagerly=True)  # eager Keras: no graph tracing for this small run
history = model.fit(x[:48], y[:48], batch_size=16, epochs=3, shuffle=False, verbose=0,
                    validation_data=(x[48:], y[48:]))
probabilities = model.predict(x[48:], verbose=0)
print("accuracy per epoch:", [round(a, 3) for a in history.history["accuracy"]])
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), val_loss=np.array(history.history["val_loss"]),
         probabilities=probabilities, moving_variance=model.get_weights()[5])
