"""An attention encoder-decoder that learns to reverse short token sequences: an LSTM encoder returns its sequence
and its final states, an LSTM decoder starts from those states (teacher forcing), and dot-product attention over the
encoder's outputs (masked where the source is padding) joins each decoder step before the softmax over tokens.
Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/attention_seq2seq.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(21)
vocab, steps, start = 12, 7, 1  # token 0 pads, token 1 starts the decoder, 2..11 are content


def make_pairs(n):
    source = np.zeros((n, steps), "int32")
    target = np.zeros((n, steps), "int32")
    for i, length in enumerate(rng.integers(3, steps + 1, size=n)):
        tokens = rng.integers(2, vocab, size=length)
        source[i, :length] = tokens
        target[i, :length] = tokens[::-1]
    decoder_in = np.concatenate([np.full((n, 1), start, "int32"), target[:, :-1]], axis=1)
    return source, decoder_in, target


class JoinFeatures(keras.layers.Layer):
    """The decoder step and its attention context side by side (a user layer written with keras.ops)."""

    def call(self, inputs):
        return keras.ops.concatenate(inputs, axis=-1)


source_in = keras.Input(shape=(steps,), dtype="int32")
decoder_tokens = keras.Input(shape=(steps,), dtype="int32")
encoded = layers.Embedding(vocab, 8, mask_zero=True)(source_in)
encoder_seq, h, c = layers.LSTM(16, return_sequences=True, return_state=True)(encoded)
decoded = layers.Embedding(vocab, 8, mask_zero=True)(decoder_tokens)
decoder_seq = layers.LSTM(16, return_sequences=True)(decoded, initial_state=[h, c])
context = layers.Attention(use_scale=True)([decoder_seq, encoder_seq])
joined = JoinFeatures()([decoder_seq, context])
probabilities = layers.Dense(vocab, activation="softmax")(joined)
model = keras.Model([source_in, decoder_tokens], probabilities)
model.set_weights([rng.uniform(-0.4, 0.4, w.shape).astype("float32") for w in model.get_weights()])
model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.9), loss="sparse_categorical_crossentropy", run_eagerly=True)

source, decoder_in, target = make_pairs(48)
history = model.fit([source, decoder_in], target, batch_size=16, epochs=3, shuffle=False, verbose=0)
test_source, test_decoder_in, test_target = make_pairs(8)
predicted = model.predict([test_source, test_decoder_in], verbose=0)
test_loss = model.evaluate([test_source, test_decoder_in], test_target, verbose=0)
print("losses", np.round(history.history["loss"], 4), "test loss", round(float(test_loss), 4))
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), predicted=predicted, test_loss=test_loss)
