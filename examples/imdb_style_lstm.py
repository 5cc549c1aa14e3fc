"""Sentiment of movie-review-like token sequences with an Embedding and an LSTM, in the style of Keras's IMDB LSTM
example, on made-up reviews (no download): each review draws its words from a shared vocabulary plus a few
"positive" or "negative" words, and reviews have different lengths.

It is written for TensorFlow's Keras; after the README's import swap it runs on rnnlab. Weights are set from a seeded
NumPy generator and nothing is shuffled, so both give the same losses:

    python examples/imdb_style_lstm.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

VOCAB, MAXLEN, REVIEWS = 300, 40, 640
NEUTRAL, POSITIVE, NEGATIVE = range(3, 250), range(250, 275), range(275, 300)  # 0 pads, 1 starts, 2 is unknown
rng = np.random.default_rng(2024)


def review(positive):
    length = int(rng.integers(8, 60))
    words = rng.choice(NEUTRAL, size=length)
    tone = POSITIVE if positive else NEGATIVE
    flips = rng.random(length) < 0.3  # a few words carry the sentiment
    words[flips] = rng.choice(tone, size=int(flips.sum()))
    return [1] + words.tolist()


labels = rng.integers(0, 2, REVIEWS)
reviews = [review(bool(label)) for label in labels]
x = keras.utils.pad_sequences(reviews, maxlen=MAXLEN)  # keep each review's last 40 words, padded at the front
y = labels.astype("float32")
x_train, y_train, x_test, y_test = x[:512], y[:512], x[512:], y[512:]

model = keras.Sequential([
    keras.Input(shape=(MAXLEN,), dtype="int32"),
    layers.Embedding(VOCAB, 16),
    layers.LSTM(16),
    layers.Dense(1, activation="sigmoid"),
])
model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])
# plain SGD: TensorFlow applies Adam's and RMSprop's step to an Embedding's sparse gradient row by row, which other
# Keras backends (and rnnlab) do not (see the README), so those would not give the same numbers here
model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="binary_crossentropy",
              metrics=["accuracy"])
model.summary()
history = model.fit(x_train, y_train, batch_size=32, epochs=6, validation_split=0.2, shuffle=False, verbose=2)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
probabilities = model.predict(x_test[:8], verbose=0)
print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.3f}")

if len(sys.argv) > 1:
    np.savez(sys.argv[1], loss=history.history["loss"], val_loss=history.history["val_loss"],
             accuracy=history.history["accuracy"], test=[test_loss, test_accuracy], probabilities=probabilities)
