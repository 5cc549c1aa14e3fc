"""Keras 2's ``keras.preprocessing`` paths to the data utilities (``sequence.pad_sequences``,
``sequence.TimeseriesGenerator``, ``timeseries_dataset_from_array``)."""
from rnnlab.preprocessing import sequence
from rnnlab.utils.timeseries import timeseries_dataset_from_array

__all__ = ["sequence", "timeseries_dataset_from_array"]
