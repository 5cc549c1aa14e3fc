"""Fixtures for the reference-framework parity tests.

Reference frameworks are imported lazily (inside session fixtures) through
``reference.require`` so that test modules which do not request them keep
running when Keras/TensorFlow/PyTorch are not installed.
"""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from reference import require  # noqa: E402  (needs the sys.path entry above)


@pytest.fixture(scope="session")
def tf():
    """TensorFlow (Keras backend), imported lazily."""
    return require("tensorflow")


@pytest.fixture(scope="session")
def keras(tf):
    """Keras 3 on the TensorFlow backend, imported lazily."""
    keras = require("keras")
    if not str(keras.__version__).startswith("3."):
        pytest.fail(f"Keras 3 is required as the reference, found "
                    f"{keras.__version__}", pytrace=False)
    return keras


@pytest.fixture(scope="session")
def torch():
    """PyTorch, imported lazily."""
    torch = require("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng(request):
    """A deterministic per-test random generator."""
    seed = sum(map(ord, request.node.nodeid)) % (2**31)
    return np.random.default_rng(seed)
