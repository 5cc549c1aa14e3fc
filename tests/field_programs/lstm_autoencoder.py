"""An LSTM autoencoder of short multichannel sequences: the encoder's last state is repeated (RepeatVector) for a
decoder LSTM whose steps a TimeDistributed Dense maps back to the channels; the reconstruction error of each sequence
then scores how unusual it is.  Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/lstm_autoencoder.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(12)
steps, channels = 10, 3
base = np.sin(np.linspace(0, 3, steps))[None, :, None] * rng.uniform(0.5, 1.5, (80, 1, channels))
x = (base + 0.05 * rng.normal(size=(80, steps, channels))).astype("float32")
x[-5:] += rng.normal(size=(5, steps, channels)).astype("float32")  # five unusual sequences at the end

encoder_in = keras.Input(shape=(steps, channels))
code = layers.LSTM(6)(encoder_in)
h = layers.RepeatVector(steps)(code)
h = layers.LSTM(6, return_sequences=True)(h)
reconstruction = layers.TimeDistributed(layers.Dense(channels))(h)
autoencoder = keras.Model(encoder_in, reconstruction)
autoencoder.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in autoencoder.get_weights()])
autoencoder.compile(optimizer="adam", loss="mse", run_eagerly=True)  # eager Keras: no graph tracing
history = autoencoder.fit(x[:64], x[:64], batch_size=16, epochs=3, shuffle=False, verbose=0)
rebuilt = autoencoder.predict(x, verbose=0)
scores = np.mean((rebuilt - x) ** 2, axis=(1, 2))
print("most unusual sequences:", np.argsort(scores)[-5:])
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), reconstruction=rebuilt, scores=scores)
