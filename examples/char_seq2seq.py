"""A character-level sequence-to-sequence model, in the style of Keras's seq2seq example: an LSTM encoder reads a
word, an LSTM decoder writes it reversed ("lstm" -> "mtsl"), trained with teacher forcing.  After training, the
program saves the model, loads it back, rebuilds the inference encoder and decoder from the loaded model's layers
(model.input[0], model.layers[2].output, ...), saves and reloads those too, and decodes greedily.

It is written for TensorFlow's Keras; after the README's import swap it runs on rnnlab. Weights are set from a seeded
NumPy generator and nothing is shuffled, so both give the same losses and the same decoded words:

    python examples/char_seq2seq.py out.npz
"""
import os
import sys
import tempfile

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(5)
letters = "abcdefgh"
words = ["".join(rng.choice(list(letters), size=int(rng.integers(2, 6)))) for _ in range(96)]
targets = ["\t" + word[::-1] + "\n" for word in words]  # "\t" starts a decoded word, "\n" ends it

input_chars, target_chars = sorted(set(letters)), sorted(set(letters) | {"\t", "\n"})
input_index = {c: i for i, c in enumerate(input_chars)}
target_index = {c: i for i, c in enumerate(target_chars)}
max_in, max_out = max(map(len, words)), max(map(len, targets))

encoder_input_data = np.zeros((len(words), max_in, len(input_chars)), "float32")
decoder_input_data = np.zeros((len(words), max_out, len(target_chars)), "float32")
decoder_target_data = np.zeros((len(words), max_out, len(target_chars)), "float32")
for i, (word, target) in enumerate(zip(words, targets)):
    for t, char in enumerate(word):
        encoder_input_data[i, t, input_index[char]] = 1.0
    padded = target + "\n" * (max_out + 1 - len(target))  # past its end a word is padded with "\n", not zeros
    for t in range(max_out):
        decoder_input_data[i, t, target_index[padded[t]]] = 1.0
        decoder_target_data[i, t, target_index[padded[t + 1]]] = 1.0  # the input one step ahead

latent = 32
encoder_inputs = keras.Input(shape=(None, len(input_chars)))
_, state_h, state_c = layers.LSTM(latent, return_state=True)(encoder_inputs)
decoder_inputs = keras.Input(shape=(None, len(target_chars)))
decoder_sequence, _, _ = layers.LSTM(latent, return_sequences=True, return_state=True)(
    decoder_inputs, initial_state=[state_h, state_c])
decoder_outputs = layers.Dense(len(target_chars), activation="softmax")(decoder_sequence)
model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
model.set_weights([rng.uniform(-0.2, 0.2, w.shape).astype("float32") for w in model.get_weights()])
# every target row is one-hot: TensorFlow's softmax cross-entropy gives an all-zero row a gradient (Keras on its
# other backends, and rnnlab, give it none), so zero-padded targets would train differently there
model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01), loss="categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit([encoder_input_data, decoder_input_data], decoder_target_data, batch_size=16, epochs=20,
                    validation_split=0.25, shuffle=False, verbose=2)

folder = tempfile.mkdtemp()
model.save(os.path.join(folder, "s2s.keras"))
model = keras.models.load_model(os.path.join(folder, "s2s.keras"))

# the inference models, rebuilt from the trained model's layers
encoder_inputs = model.input[0]
_, state_h_enc, state_c_enc = model.layers[2].output  # the encoder LSTM
encoder_model = keras.Model(encoder_inputs, [state_h_enc, state_c_enc])

decoder_inputs = model.input[1]
decoder_state_input_h, decoder_state_input_c = keras.Input(shape=(latent,)), keras.Input(shape=(latent,))
decoder_lstm, decoder_dense = model.layers[3], model.layers[4]
decoder_sequence, state_h_dec, state_c_dec = decoder_lstm(
    decoder_inputs, initial_state=[decoder_state_input_h, decoder_state_input_c])
decoder_model = keras.Model([decoder_inputs, decoder_state_input_h, decoder_state_input_c],
                            [decoder_dense(decoder_sequence), state_h_dec, state_c_dec])

encoder_model.save(os.path.join(folder, "encoder.keras"))
decoder_model.save(os.path.join(folder, "decoder.keras"))
encoder_model = keras.models.load_model(os.path.join(folder, "encoder.keras"))
decoder_model = keras.models.load_model(os.path.join(folder, "decoder.keras"))


def decode(one_word):
    """Greedy decoding: feed back the most likely character until "\\n" (or the longest target)."""
    h, c = encoder_model.predict(one_word, verbose=0)
    token = np.zeros((1, 1, len(target_chars)), "float32")
    token[0, 0, target_index["\t"]] = 1.0
    ids, probabilities = [], []
    for _ in range(max_out):
        step, h, c = decoder_model.predict([token, h, c], verbose=0)
        ids.append(int(np.argmax(step[0, -1])))
        probabilities.append(step[0, -1])
        if target_chars[ids[-1]] == "\n":
            break
        token = np.zeros((1, 1, len(target_chars)), "float32")
        token[0, 0, ids[-1]] = 1.0
    return ids, np.stack(probabilities)


decoded, first_probabilities = [], None
for i in range(3):
    ids, probabilities = decode(encoder_input_data[i:i + 1])
    decoded.append(ids + [-1] * (max_out - len(ids)))
    first_probabilities = probabilities if first_probabilities is None else first_probabilities
    print(f"{words[i]!r} -> {''.join(target_chars[k] for k in ids)!r}")

if len(sys.argv) > 1:
    np.savez(sys.argv[1], loss=history.history["loss"], val_loss=history.history["val_loss"],
             decoded=np.array(decoded), first_probabilities=first_probabilities)
