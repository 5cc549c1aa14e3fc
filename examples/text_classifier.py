"""A small Keras program: a sentiment classifier trained from raw review strings.

A TextVectorization layer learns its vocabulary from the training reviews (adapt), turns them into padded token
ids, and an Embedding -> LSTM -> Dense model learns from the ids. The trained model is then wrapped into an
end-to-end model whose input is a raw string (keras.Input(dtype="string")), which scores new reviews directly. A
second, bag-of-words model (multi_hot) learns from the same strings.

It is written for TensorFlow's Keras; after the README's import swap it runs on rnnlab. Weights are set from a seeded
NumPy generator and batches are not shuffled, so both give the same numbers:

    python examples/text_classifier.py out.npz      # prints the losses and the scores of three new reviews
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(11)

GOOD = ["great", "lovely", "superb", "Excellent!", "tasty", "friendly", "fresh", "perfect,", "délicieux"]
BAD = ["awful", "cold", "rude", "bland...", "slow", "Terrible!", "stale", "dirty", "overpriced?"]
FILLER = ["the", "food", "was", "and", "service", "staff", "very", "really", "our", "table", "coffee", "😀", "—"]


def review(label):
    """A random review: filler words with a few words of the label's sentiment, odd spacing and case."""
    words = list(rng.choice(FILLER, size=rng.integers(2, 9)))
    for _ in range(rng.integers(1, 4)):
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(GOOD if label else BAD)))
    text = " ".join(w.upper() if rng.random() < 0.1 else w for w in words)
    return text.replace(" and ", "  and\t") if rng.random() < 0.3 else text


def set_random_weights(model):
    model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])


labels = rng.integers(0, 2, size=96)
texts = np.array([review(y) for y in labels])
new_reviews = np.array([["The food was SUPERB and the staff friendly"], ["cold coffee, rude staff"], [""]])

# ---- a sequence model on token ids
vectorize = layers.TextVectorization(max_tokens=40, output_sequence_length=10)
vectorize.adapt(texts)
ids = np.asarray(vectorize(texts))

token_in = keras.Input(shape=(10,), dtype="int64")
h = layers.Embedding(40, 8, mask_zero=True)(token_in)
h = layers.LSTM(6)(h)
score = layers.Dense(1, activation="sigmoid")(h)
sequence_model = keras.Model(token_in, score)
set_random_weights(sequence_model)
sequence_model.compile(optimizer=keras.optimizers.SGD(0.3, momentum=0.9), loss="binary_crossentropy")
history = sequence_model.fit(ids, labels, batch_size=16, epochs=6, shuffle=False, verbose=0)

# ... and the same model taking raw strings
text_in = keras.Input(shape=(1,), dtype="string")
end_to_end = keras.Model(text_in, sequence_model(vectorize(text_in)))
sequence_scores = np.asarray(end_to_end(new_reviews))

# ---- a bag-of-words model
bag = layers.TextVectorization(max_tokens=30, output_mode="multi_hot")
bag.adapt(texts)
counts_in = keras.Input(shape=(30,))
bag_model = keras.Model(counts_in, layers.Dense(1, activation="sigmoid")(layers.Dense(8, activation="relu")(counts_in)))
set_random_weights(bag_model)
bag_model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
bag_history = bag_model.fit(np.asarray(bag(texts)).astype("float32"), labels, batch_size=16, epochs=3, shuffle=False,
                            verbose=0)
bag_scores = np.asarray(bag_model(np.asarray(bag(new_reviews[:, 0])).astype("float32")))

print("vocabulary", vectorize.get_vocabulary()[:8], "...")
print("losses", np.round(history.history["loss"], 5), np.round(bag_history.history["loss"], 5))
print("new reviews", sequence_scores.ravel().round(4), bag_scores.ravel().round(4))
if len(sys.argv) > 1:
    np.savez(sys.argv[1], ids=ids, loss=np.array(history.history["loss"]), scores=sequence_scores,
             bag_loss=np.array(bag_history.history["loss"]), bag_scores=bag_scores,
             vocabulary_size=vectorize.vocabulary_size())
