"""A small Keras program: padded token sequences into a masked LSTM/GRU classifier, and sliding windows of a
series into a bidirectional LSTM regressor, with the data utilities Keras programs use.

It is written for TensorFlow's Keras; after the README's import swap it runs on rnnlab. Weights are set from a seeded
NumPy generator, so both give the same numbers:

    python examples/text_and_series.py out.npz          # prints the predictions' shapes and the evaluated losses
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(7)


def set_random_weights(model):
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])


# ---- text: variable-length token lists, padded, masked, classified into 3 classes
docs = [list(rng.integers(1, 50, size=n)) for n in rng.integers(2, 12, size=16)]
tokens = keras.utils.pad_sequences(docs, maxlen=10, padding="post", truncating="pre")
labels = keras.utils.to_categorical(rng.integers(0, 3, size=16), num_classes=3)

text_in = keras.Input(shape=(10,), dtype="int32")
h = layers.Embedding(50, 6, mask_zero=True)(text_in)
h = layers.LSTM(8, return_sequences=True)(h)
h = layers.GRU(5)(h)
text_out = layers.Dense(3, activation="softmax")(h)
classifier = keras.Model(text_in, text_out)
set_random_weights(classifier)
classifier.compile(optimizer="adam", loss="categorical_crossentropy")
text_pred = classifier.predict(tokens, verbose=0)
text_loss = classifier.evaluate(tokens, labels, verbose=0)

# ---- series: windows of 12 steps of a 2-feature series, the next value of feature 0 as target
series = np.cumsum(rng.normal(size=(200, 2)), axis=0).astype("float32")
windows = keras.utils.timeseries_dataset_from_array(series[:-12], series[12:, 0], sequence_length=12,
                                                     sequence_stride=3, batch_size=16)
series_in = keras.Input(shape=(12, 2))
s = layers.Bidirectional(layers.LSTM(6))(series_in)
series_out = layers.Dense(1)(s)
regressor = keras.Model(series_in, series_out)
set_random_weights(regressor)
regressor.compile(optimizer="sgd", loss="mse")
series_pred = regressor.predict(windows, verbose=0)
series_loss = regressor.evaluate(windows, verbose=0)

print("text predictions", text_pred.shape, "loss", round(float(text_loss), 6))
print("series predictions", series_pred.shape, "loss", round(float(series_loss), 6))
if len(sys.argv) > 1:
    np.savez(sys.argv[1], tokens=tokens, labels=labels, text_pred=text_pred, text_loss=text_loss,
             series_pred=series_pred, series_loss=series_loss)
