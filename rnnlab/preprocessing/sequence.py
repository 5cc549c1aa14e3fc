"""Keras 2's ``keras.preprocessing.sequence``: ``pad_sequences`` and ``TimeseriesGenerator``."""
from rnnlab.utils.sequences import pad_sequences
from rnnlab.utils.timeseries import TimeseriesGenerator

__all__ = ["pad_sequences", "TimeseriesGenerator"]
