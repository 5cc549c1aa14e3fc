"""A stateful LSTM, in the style of Keras's stateful-LSTM example: a long series is cut into consecutive chunks,
and the LSTM carries its state from one batch to the next, so it sees the series as one sequence.  The series is
an echo: the target at step t is the input at step t - 2.  The series is fed 2 steps at a time, so that input
is always in the previous chunk, and only the carried state can reach it.  Training resets the state between epochs; prediction walks the series chunk by chunk.

It is written with `import tensorflow as tf` (tf.keras); after the README's import swap it runs on rnnlab. Weights
are set from a seeded NumPy generator and nothing is shuffled, so both give the same losses:

    python examples/stateful_lstm.py out.npz
"""
import sys

import numpy as np
import tensorflow as tf

rng = np.random.default_rng(3)
streams, length, chunk, lag = 4, 160, 2, 2  # 4 parallel series of 160 steps, fed 2 steps at a time
series = rng.uniform(-1, 1, (streams, length)).astype("float32")
echo = np.zeros_like(series)
echo[:, lag:] = series[:, :-lag]  # the target: the input 2 steps back

# row b of batch k holds steps [k * chunk, (k + 1) * chunk) of stream b: consecutive batches continue each row
chunks = length // chunk
x = series.reshape(streams, chunks, chunk).transpose(1, 0, 2).reshape(chunks * streams, chunk, 1)
y = echo.reshape(streams, chunks, chunk).transpose(1, 0, 2).reshape(chunks * streams, chunk, 1)

inputs = tf.keras.Input(batch_shape=(streams, chunk, 1))
hidden = tf.keras.layers.LSTM(12, stateful=True, return_sequences=True, name="stateful_lstm")(inputs)
outputs = tf.keras.layers.TimeDistributed(tf.keras.layers.Dense(1))(hidden)
model = tf.keras.Model(inputs, outputs)
model.set_weights([rng.uniform(-0.4, 0.4, w.shape).astype("float32") for w in model.get_weights()])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss="mse")

losses = []
for epoch in range(6):
    history = model.fit(x, y, batch_size=streams, epochs=1, shuffle=False, verbose=0)
    model.get_layer("stateful_lstm").reset_states()  # the next epoch starts the series again
    losses.append(history.history["loss"][0])
    print(f"epoch {epoch + 1}: loss {losses[-1]:.4f}")

predictions = []
for k in range(chunks):  # chunk by chunk: the state carries over between the calls
    predictions.append(model.predict_on_batch(x[k * streams:(k + 1) * streams]))
model.get_layer("stateful_lstm").reset_states()
predicted = np.concatenate(predictions)
error = float(np.mean((predicted - y) ** 2))
print(f"error over the series, predicted chunk by chunk: {error:.4f} (the echo's variance: {np.var(y):.4f})")

if len(sys.argv) > 1:
    np.savez(sys.argv[1], loss=losses, predicted=predicted)
