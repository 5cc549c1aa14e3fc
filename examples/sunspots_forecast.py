"""Forecast yearly sunspot activity one year ahead with an LSTM, and compare with the naive forecast.

Data: statsmodels' bundled yearly sunspot numbers, 1700-2008 (no download). The last 20% of years are held
out. The naive forecast predicts each year as the previous year's value. Run:
``python examples/sunspots_forecast.py`` (needs ``pip install statsmodels``).
"""
import time

import numpy as np

import rnnlab
from rnnlab import layers

WINDOW = 12  # years of history per forecast


def load():
    import statsmodels.api as sm

    return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy().astype("float32")


def run(epochs=60, seed=0, verbose=0):
    """Train on the first 80% of years; returns held-out MAEs of the LSTM and of the naive forecast."""
    rnnlab.utils.set_random_seed(seed)
    series = load()
    split = int(len(series) * 0.8)
    mean, std = series[:split].mean(), series[:split].std()  # statistics of the training years only
    z = (series - mean) / std
    x = np.stack([z[i:i + WINDOW] for i in range(len(z) - WINDOW)])[..., None]  # (N, WINDOW, 1)
    target_year = np.arange(WINDOW, len(z))  # index of the year each window forecasts
    train, test = target_year < split, target_year >= split
    model = rnnlab.Sequential([rnnlab.Input(shape=(WINDOW, 1)), layers.LSTM(32), layers.Dense(1)])
    model.compile(optimizer=rnnlab.optimizers.Adam(0.005), loss="mse")
    start = time.perf_counter()
    model.fit(x[train], z[WINDOW:][train], batch_size=16, epochs=epochs, verbose=verbose)
    seconds = time.perf_counter() - start
    forecast = model.predict(x[test], verbose=0)[:, 0] * std + mean
    actual = series[target_year[test]]
    naive = series[target_year[test] - 1]
    lstm_mae = float(np.abs(forecast - actual).mean())
    naive_mae = float(np.abs(naive - actual).mean())
    return {"lstm_mae": lstm_mae, "naive_mae": naive_mae, "improvement": 1 - lstm_mae / naive_mae,
            "train_seconds": seconds, "test_years": int(test.sum())}


if __name__ == "__main__":
    r = run(verbose=0)
    print(f"held-out MAE over {r['test_years']} years: LSTM {r['lstm_mae']:.2f}, naive {r['naive_mae']:.2f} "
          f"({100 * r['improvement']:.0f}% lower), trained in {r['train_seconds']:.1f} s")
