"""Temperature forecasting from a multivariate weather record, in the style of Keras's weather example, on a
made-up record (no download): temperature, pressure and humidity every 10 minutes, with daily cycles and drifting
weather.  Each input is 2 days sampled hourly (sampling_rate=6) from timeseries_dataset_from_array; the target is
the temperature 12 hours after the window ends.  The features are normalised with the training part's mean and
standard deviation; ModelCheckpoint keeps the best weights by validation loss and the program reloads them.

It is written for TensorFlow's Keras; after the README's import swap it runs on rnnlab. Weights are set from a seeded
NumPy generator and nothing is shuffled, so both give the same losses:

    python examples/weather_forecast.py out.npz
"""
import os
import sys
import tempfile

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(11)
steps = 6 * 24 * 16  # 16 days of 10-minute records
day = np.arange(steps) / (6 * 24)
drift = np.cumsum(rng.normal(0.0, 0.05, steps))  # slowly moving weather
temperature = 12 + 6 * np.sin(2 * np.pi * (day - 0.3)) + drift + rng.normal(0, 0.3, steps)
pressure = 1010 - 2 * drift + rng.normal(0, 0.5, steps)
humidity = 70 - 3 * np.sin(2 * np.pi * (day - 0.3)) + rng.normal(0, 2, steps)
record = np.stack([temperature, pressure, humidity], axis=1).astype("float32")  # (time, 3 features)

train_end, val_end = int(0.5 * steps), int(0.7 * steps)
mean, std = record[:train_end].mean(axis=0), record[:train_end].std(axis=0)
features = (record - mean) / std

sampling_rate, past, future = 6, 6 * 48, 6 * 12  # hourly samples of 2 days; 12 hours ahead
sequence_length = past // sampling_rate
delay = past + future  # a window starting at row s ends at row s + past - 1; its target is row s + delay
datasets = {}
for name, start, end in (("train", 0, train_end), ("val", train_end, val_end), ("test", val_end, None)):
    datasets[name] = keras.utils.timeseries_dataset_from_array(
        features[:-delay], features[delay:, 0], sequence_length=sequence_length, sampling_rate=sampling_rate,
        sequence_stride=3, batch_size=64, start_index=start, end_index=end)
for batch_inputs, batch_targets in datasets["train"].take(1):
    print("inputs", batch_inputs.shape, "targets", batch_targets.shape)  # (64, 48, 3) (64,)

inputs = keras.Input(shape=(sequence_length, record.shape[1]))
outputs = layers.Dense(1)(layers.LSTM(16)(inputs))
model = keras.Model(inputs, outputs)
model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype("float32") for w in model.get_weights()])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="mse", metrics=["mae"])

checkpoint = os.path.join(tempfile.mkdtemp(), "forecast.weights.h5")
history = model.fit(datasets["train"], epochs=3, validation_data=datasets["val"], verbose=2, callbacks=[
    keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True, save_weights_only=True),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2),
])
model.load_weights(checkpoint)  # the best epoch's weights
test_loss, test_mae = model.evaluate(datasets["test"], verbose=0)
forecast = model.predict(datasets["test"], verbose=0)[:, 0] * std[0] + mean[0]  # back to degrees
print(f"test MAE {test_mae * std[0]:.2f} degrees")

if len(sys.argv) > 1:
    np.savez(sys.argv[1], loss=history.history["loss"], val_loss=history.history["val_loss"],
             test=[test_loss, test_mae], forecast=forecast)
