"""Shared helpers for the reference-framework parity tests.

The reference frameworks (Keras/TensorFlow, PyTorch) are *test-only*
dependencies.  They are imported lazily through :func:`require`, so test files
that do not need them keep running when they are not installed.  On CI (the
``CI`` environment variable is set to a non-empty value) a missing reference
framework is a hard failure instead of a skip: a parity suite that silently
skips everything proves nothing.
"""

import importlib
import os

import numpy as np
import pytest

# Must be set before keras / tensorflow are first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

_KERAS_LIKE = {"keras", "tensorflow"}


def require(modname):
    """Import and return the reference framework ``modname``.

    If it cannot be imported: ``pytest.fail`` when the ``CI`` environment
    variable is non-empty, ``pytest.skip`` otherwise.
    """
    if modname.split(".")[0] in _KERAS_LIKE:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    try:
        return importlib.import_module(modname)
    except ImportError as exc:  # ModuleNotFoundError included
        msg = f"reference framework {modname!r} is not importable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(msg + " (CI is set, so a missing reference is an error)",
                        pytrace=False)
        pytest.skip(msg)


# ---------------------------------------------------------------------------
# numeric helpers
# ---------------------------------------------------------------------------

def to_numpy(obj):
    """Convert a (possibly nested) structure of tensors to numpy arrays,
    turning tuples into lists (Keras returns tuples, rnnlab returns lists;
    both spell the same structure)."""
    if isinstance(obj, dict):
        return {k: to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_numpy(o) for o in obj]
    if hasattr(obj, "detach"):  # torch tensor
        return obj.detach().cpu().numpy()
    return np.asarray(obj)


def flatten(obj):
    """Flatten a nested list/tuple structure into a flat list of leaves."""
    if isinstance(obj, (list, tuple)):
        out = []
        for o in obj:
            out.extend(flatten(o))
        return out
    return [obj]


def structure(obj):
    """Nested list of shapes describing a (possibly nested) output."""
    if isinstance(obj, (list, tuple)):
        return [structure(o) for o in obj]
    return tuple(np.shape(obj))


def assert_parity(actual, expected, atol=1e-5, flat=False, check_numpy=True):
    """Assert that the rnnlab output ``actual`` matches the reference output
    ``expected``: same nesting structure (tuple == list), same shapes, same
    dtypes, and max abs difference <= ``atol`` for every leaf.

    ``flat=True`` compares the flattened leaves only (used where Keras
    returns nested per-cell state lists).
    ``check_numpy=True`` also asserts that every rnnlab leaf is a numpy array.
    """
    exp = to_numpy(expected)
    if check_numpy:
        for leaf in flatten(actual):
            assert isinstance(leaf, np.ndarray), (
                f"rnnlab must return numpy arrays, got {type(leaf)!r}")
    act = to_numpy(actual)
    if flat:
        act, exp = flatten(act), flatten(exp)
    assert structure(act) == structure(exp), (
        f"output structure differs: rnnlab {structure(act)} vs reference "
        f"{structure(exp)}")
    act_leaves, exp_leaves = flatten(act), flatten(exp)
    for i, (a, e) in enumerate(zip(act_leaves, exp_leaves)):
        assert a.dtype == e.dtype, f"leaf {i}: dtype {a.dtype} != {e.dtype}"
        diff = float(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64)))) \
            if a.size else 0.0
        assert np.all(np.isfinite(a)), f"leaf {i}: non-finite values"
        assert diff <= atol, (
            f"leaf {i} (shape {a.shape}): max abs diff {diff:.3e} > {atol:.0e}")


def random_weights(shapes_or_arrays, rng, low=-0.5, high=0.5, dtype=None):
    """Random, non-zero-centred-enough weights for every array in the list.
    Values are drawn from U(low, high) and pushed away from 0 so that no bias
    is (accidentally) zero."""
    out = []
    for w in shapes_or_arrays:
        shape = tuple(np.shape(w))
        dt = dtype or getattr(w, "dtype", np.float32)
        v = rng.uniform(low, high, shape)
        v = np.where(np.abs(v) < 0.05, np.sign(v + 1e-12) * 0.05 + v, v)
        out.append(v.astype(dt))
    return out


def randomize(model_or_layer, rng, low=-0.5, high=0.5):
    """Set random weights (biases included) into a built Keras object and
    return the list that was set."""
    ws = random_weights(model_or_layer.get_weights(), rng, low, high)
    model_or_layer.set_weights(ws)
    return ws
