"""Utilities: the data helpers of ``keras.utils``, ``set_random_seed`` for repeatable runs, and ``Progbar``, the
progress bar of ``fit`` and ``predict``."""
from rnnlab.random import set_random_seed
from rnnlab.utils import np_utils
from rnnlab.utils.numerical import normalize, to_categorical
from rnnlab.utils.progbar import Progbar
from rnnlab.utils.py_dataset import PyDataset, Sequence
from rnnlab.utils.sequences import pad_sequences
from rnnlab.utils.timeseries import timeseries_dataset_from_array

__all__ = ["set_random_seed", "Progbar", "pad_sequences", "to_categorical", "normalize",
           "timeseries_dataset_from_array", "PyDataset", "Sequence", "np_utils"]
