"""``to_categorical`` (class ids to one-hot rows) and ``normalize`` (unit-norm rows), as Keras."""
from __future__ import annotations

import numpy as np


def to_categorical(x, num_classes=None, dtype="float64"):
    """One-hot encode integer class ids: shape ``x.shape + (num_classes,)``, the class axis last.

    As ``keras.utils.to_categorical``:

    - ``num_classes`` defaults to ``max(x) + 1`` (``0`` counts as not given, as in Keras);
    - a trailing axis of size 1 is dropped first, so ``(n, 1)`` labels give ``(n, num_classes)``;
    - ids are read as NumPy's ``int64`` reads them (``2.0`` and ``2.7`` are class 2).

    The result is ``float64``, as in Keras 3.  ``dtype`` is Keras 2's argument (``"float32"`` there), kept so that
    Keras 2 code which passes it runs.

    Unlike Keras, an id outside ``[0, num_classes)`` is refused.  Keras marks the last class for ``-1`` and
    fails with an ``IndexError`` for ids too large.
    """
    try:
        ids = np.array(x, dtype="int64")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Argument `x` must hold integer class ids; received {type(x).__name__} that NumPy cannot "
                        f"read as integers ({exc}).") from None
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                    or num_classes < 0):
        raise ValueError(f"Argument `num_classes` must be None or a positive integer; received "
                         f"num_classes={num_classes!r}.")
    shape = ids.shape
    if len(shape) > 1 and shape[-1] == 1:  # (..., 1) labels: the trailing axis is dropped
        shape = shape[:-1]
    ids = ids.reshape(-1)                                           # (n,)
    if not num_classes:
        if ids.size == 0:
            raise ValueError("Argument `x` is empty, so `num_classes` cannot be inferred: pass `num_classes`.")
        num_classes = int(ids.max()) + 1
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        bad = ids[(ids < 0) | (ids >= num_classes)]
        raise ValueError(f"Argument `x` must hold class ids in [0, {num_classes}) (num_classes={num_classes}); "
                         f"received {bad[:5].tolist()}{' ...' if bad.size > 5 else ''}.")
    one_hot = np.zeros((ids.size, int(num_classes)), dtype=dtype)  # (n, num_classes)
    one_hot[np.arange(ids.size), ids] = 1
    return one_hot.reshape(shape + (int(num_classes),))


def normalize(x, axis=-1, order=2):
    """Divide ``x`` by its ``order``-norm along ``axis``; a zero norm leaves its slice unchanged.

    As ``keras.utils.normalize`` on a NumPy array, with the norm from ``np.linalg.norm(x, order, axis)``, so
    ``order`` takes NumPy's values (``1``, ``2``, ``np.inf``, ...).  The result has ``x``'s float dtype (``float64``
    for integers).  A list is read as a ``float32`` array, the dtype Keras gives it.

    ``axis=0`` normalizes along axis 0, as Keras 2 did.  Keras 3 divides by the wrong axis there
    (``axis or -1``), so its results for ``axis=0`` differ.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x, dtype="float32")
        except (TypeError, ValueError) as exc:
            raise TypeError(f"Argument `x` must be a numeric array; received {type(x).__name__} ({exc}).") from None
    if x.dtype.kind not in "biuf":
        raise TypeError(f"Argument `x` must be a numeric array; received dtype {x.dtype}.")
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))  # x's shape without `axis`
    norm[norm == 0] = 1
    return x / (np.expand_dims(norm, axis) if axis is not None else norm)
