"""The global random state.  :func:`set_random_seed` makes weight initialisation (and later dropout) repeatable."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed every random draw rnnlab makes that was not given its own seed."""
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer; received seed={seed!r}.")
    _rng = np.random.default_rng(int(seed))


def make_rng(seed=None) -> np.random.Generator:
    """A generator for one draw: seeded from ``seed`` if given, otherwise from the global state."""
    if seed is None:
        return np.random.default_rng(_rng.integers(0, 2**63 - 1))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Argument `seed` must be a non-negative integer or None; received seed={seed!r}.")
    return np.random.default_rng(int(seed))
