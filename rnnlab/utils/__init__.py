"""Utilities: ``set_random_seed`` for repeatable runs, and ``Progbar``, the progress bar of ``fit`` and ``predict``."""
from rnnlab.random import set_random_seed
from rnnlab.utils.progbar import Progbar

__all__ = ["set_random_seed", "Progbar"]
