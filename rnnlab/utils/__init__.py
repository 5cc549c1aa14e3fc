"""Utilities: ``set_random_seed`` for repeatable runs."""
from rnnlab.random import set_random_seed

__all__ = ["set_random_seed"]
