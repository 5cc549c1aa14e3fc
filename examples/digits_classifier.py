"""Classify handwritten digits with an LSTM: each 8x8 image is read as 8 time steps of 8 pixels.

Data: scikit-learn's bundled digits (1,797 images, no download). Run: ``python examples/digits_classifier.py``
(needs ``pip install scikit-learn``).
"""
import time

import numpy as np

import rnnlab
from rnnlab import layers


def load(seed=0, n_test=360):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")  # (N, 8, 8): 8 rows = 8 time steps of 8 features
    y = digits.target
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def run(epochs=20, seed=0, verbose=0):
    """Train and evaluate; returns a dict with the held-out accuracy and the training time."""
    rnnlab.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load(seed)
    model = rnnlab.Sequential([
        rnnlab.Input(shape=(8, 8)),
        layers.LSTM(64),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=rnnlab.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_split=0.1, verbose=verbose)
    seconds = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"test_accuracy": accuracy, "test_loss": loss, "train_seconds": seconds, "history": history.history,
            "model": model}


if __name__ == "__main__":
    result = run(verbose=2)
    print(f"test accuracy {result['test_accuracy']:.4f} after {result['train_seconds']:.1f} s of training")
