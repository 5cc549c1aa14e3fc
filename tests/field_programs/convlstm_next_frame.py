"""Next-frame prediction on small synthetic movies of a dot moving across an 8x8 grid: two ConvLSTM2D layers read
the frames and a Conv3D turns their output into the next frames; a second model reads the same movies with a
ConvLSTM2D, Conv2D, MaxPooling2D and GlobalAveragePooling2D to tell which way the dot moves.
Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/convlstm_next_frame.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(5)
frames, size = 6, 8
moves = np.array([(0, 1), (1, 0), (0, -1), (-1, 0)])  # right, down, left, up


def movies(n):
    video = np.zeros((n, frames + 1, size, size, 1), "float32")
    direction = rng.integers(0, 4, size=n)
    for i in range(n):
        row, col = rng.integers(0, size, size=2)
        for t in range(frames + 1):
            video[i, t, (row + t * moves[direction[i]][0]) % size, (col + t * moves[direction[i]][1]) % size] = 1.0
    video += 0.05 * rng.random(video.shape).astype("float32")
    return video[:, :-1], video[:, 1:], direction


def set_random_weights(model):
    model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])


x, y, direction = movies(24)

movie_in = keras.Input(shape=(frames, size, size, 1))
h = layers.ConvLSTM2D(6, 3, padding="same", return_sequences=True)(movie_in)
h = layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True)(h)
next_frames = layers.Conv3D(1, 3, padding="same", activation="sigmoid")(h)
predictor = keras.Model(movie_in, next_frames)
set_random_weights(predictor)
predictor.compile(optimizer="adam", loss="binary_crossentropy", run_eagerly=True)
history = predictor.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
predicted = predictor.predict(x[:4], verbose=0)

k = layers.ConvLSTM2D(6, 3, strides=1, padding="valid")(movie_in)
k = layers.Conv2D(8, 3, padding="same", activation="relu")(k)
k = layers.MaxPooling2D()(k)
k = layers.GlobalAveragePooling2D()(k)
which_way = layers.Dense(4, activation="softmax")(k)
classifier = keras.Model(movie_in, which_way)
set_random_weights(classifier)
classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=True)
class_history = classifier.fit(x, direction, batch_size=8, epochs=2, shuffle=False, verbose=0)
class_probabilities = classifier.predict(x[:6], verbose=0)

print("next-frame losses", np.round(history.history["loss"], 4),
      "direction losses", np.round(class_history.history["loss"], 4))
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), predicted=predicted,
         class_loss=np.array(class_history.history["loss"]), class_probabilities=class_probabilities)
