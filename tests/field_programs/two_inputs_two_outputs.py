"""A model with two inputs and two outputs: a sequence of readings (GRU) and a vector of static attributes (Dense)
are joined with `concatenate`; one head classifies, the other regresses, trained together with per-output losses
and loss weights.  Written for TensorFlow's Keras; run through the README's import swap on rnnlab.

    python tests/field_programs/two_inputs_two_outputs.py out.npz
"""
import sys

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

rng = np.random.default_rng(13)
n = 64
readings = rng.normal(size=(n, 9, 4)).astype("float32")
attributes = rng.normal(size=(n, 5)).astype("float32")
label = (readings[:, :, 0].mean(axis=1) + attributes[:, 0] > 0).astype("float32")[:, None]
amount = (readings[:, -3:, 1].sum(axis=1) - attributes[:, 1])[:, None].astype("float32")

seq_in = keras.Input(shape=(9, 4), name="readings")
static_in = keras.Input(shape=(5,), name="attributes")
s = layers.Bidirectional(layers.GRU(6))(seq_in)
a = layers.Dense(6, activation="relu")(static_in)
joined = layers.concatenate([s, a])
shared = layers.Dense(8, activation="tanh")(joined)
is_high = layers.Dense(1, activation="sigmoid", name="is_high")(shared)
how_much = layers.Dense(1, name="how_much")(layers.add([shared, layers.Dense(8)(a)]))
model = keras.Model([seq_in, static_in], [is_high, how_much])
model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])
model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss=["binary_crossentropy", "mse"], loss_weights=[1.0, 0.5],
              run_eagerly=True)  # eager Keras: no graph tracing for this small run
history = model.fit([readings, attributes], [label, amount], batch_size=16, epochs=3, shuffle=False, verbose=0)
p_high, p_much = model.predict([readings, attributes], verbose=0)
evaluation = model.evaluate([readings, attributes], [label, amount], verbose=0)
print("loss per epoch:", [round(v, 4) for v in history.history["loss"]])
np.savez(sys.argv[1], loss=np.array(history.history["loss"]), is_high=p_high, how_much=p_much,
         evaluation=np.array(evaluation))
