"""The global random state.  :func:`set_random_seed` makes weight initialisation, dropout and shuffling
repeatable."""
from __future__ import annotations

import random

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed every random draw that was not given its own seed, as ``keras.utils.set_random_seed``.

    It seeds Python's ``random``, NumPy's global generator (``np.random.seed``) and rnnlab's own generator.  The
    last one draws initial weights, dropout masks and ``fit``'s shuffling.
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"Argument `seed` must be an integer in [0, 2**32), the range np.random.seed takes; "
                         f"received seed={seed!r}.")
    random.seed(int(seed))
    np.random.seed(int(seed))
    _rng = np.random.default_rng(int(seed))


def make_rng(seed=None) -> np.random.Generator:
    """A generator for one draw: seeded from ``seed`` if given, otherwise from the global state."""
    if seed is None:
        return np.random.default_rng(_rng.integers(0, 2**63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer or None; received seed={seed!r}.")
    return np.random.default_rng(int(seed))


def __getattr__(name):
    from rnnlab.tensorflow_names import missing_attribute  # TensorFlow's tf.random.set_seed, ...

    raise missing_attribute(__name__, name)
