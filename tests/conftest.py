"""Fixtures for the reference-framework parity tests.

Reference frameworks are imported lazily (inside session fixtures) through
``reference.require`` so that test modules which do not request them keep
running when Keras/TensorFlow/PyTorch are not installed.
"""

import pathlib

import numpy as np
import pytest

from tests.support.reference import require

# The tiers, one folder each: fixed weights with known outputs (goldens); the reference frameworks -- Keras,
# PyTorch, onnxruntime -- on the same weights (frameworks); internal consistency -- fast kernels against the
# reference loop, gradients against float64 finite differences (consistency); and behaviour: API, errors, files,
# CLI, inspection (behaviour).  `pytest -m consistency` runs one tier.
TIERS = ("goldens", "frameworks", "consistency", "behaviour")


def pytest_configure(config):
    for tier in TIERS:
        config.addinivalue_line("markers", f"{tier}: the tests in tests/{tier}/")


def pytest_collection_modifyitems(items):
    for item in items:
        folder = pathlib.Path(str(item.fspath)).parent.name
        if folder in TIERS:
            item.add_marker(getattr(pytest.mark, folder))


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
