"""Keras 2's ``keras.utils.np_utils``: ``to_categorical`` with Keras 2's ``float32`` default, and ``normalize``."""
from rnnlab.utils.numerical import normalize
from rnnlab.utils.numerical import to_categorical as _to_categorical


def to_categorical(y, num_classes=None, dtype="float32"):
    """Keras 2's ``to_categorical``: as :func:`rnnlab.utils.to_categorical`, but ``float32`` by default."""
    return _to_categorical(y, num_classes=num_classes, dtype=dtype)


__all__ = ["to_categorical", "normalize"]
