"""Float64 central finite differences against a layer's or model's analytic backward pass."""
import numpy as np


def flat(o):
    if isinstance(o, (list, tuple)):
        out = []
        for item in o:
            out.extend(flat(item))
        return out
    return [o]


def pack(structure, it):
    if isinstance(structure, (list, tuple)):
        return type(structure)(pack(item, it) for item in structure)
    return next(it)


def numeric_gradient(array, loss, eps=1e-6):
    """Central finite differences of ``loss()`` w.r.t. each entry of ``array``, changed in place and restored."""
    numeric = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + eps
        up = loss()
        array[idx] = old - eps
        down = loss()
        array[idx] = old
        numeric[idx] = (up - down) / (2 * eps)
    return numeric


def gradcheck(obj, args, kwargs=None, rng=None, eps=1e-6, before_call=None, input_gradient=True):
    """Worst relative error between numeric and analytic gradients of ``sum(R * outputs)``.

    Checks every weight of ``obj`` and every float array in ``args`` (the first argument and, for
    ``initial_state``, the arrays in ``kwargs["initial_state"]``). ``before_call`` runs before every forward
    pass (e.g. to reseed dropout so each pass draws the same masks).
    """
    kwargs = dict(kwargs or {})
    rng = rng or np.random.default_rng(0)
    before_call = before_call or (lambda: None)
    before_call()
    probe = [rng.normal(size=np.shape(o)) for o in flat(obj(*args, **kwargs))]

    def loss():
        before_call()
        return sum(float((np.asarray(a) * r).sum()) for a, r in zip(flat(obj(*args, **kwargs)), probe))

    grads = {}
    before_call()
    outputs, backward = obj.forward_backward(*args, grads=grads, **kwargs)
    d_first, d_other = backward(pack(outputs, iter(probe)))
    checks = [(w.value, grads.get(w, np.zeros_like(w.value)), w.path) for w in obj.weights]
    first = args[0]
    if isinstance(first, list):
        checks += [(a, g, f"inputs[{i}]") for i, (a, g) in enumerate(zip(first, d_first)) if g is not None]
    elif d_first is not None:
        checks.append((first, d_first, "inputs"))
    elif isinstance(first, np.ndarray) and first.dtype.kind == "f" and input_gradient:
        raise AssertionError("the backward pass gave no gradient for the float inputs (None): a gradient lost "
                             "on the way would otherwise pass unchecked; pass input_gradient=False where the "
                             "inputs truly get none")
    if "initial_state" in kwargs and kwargs["initial_state"] is not None:
        checks += [(s, g, f"initial_state[{i}]")
                   for i, (s, g) in enumerate(zip(kwargs["initial_state"], d_other["initial_state"]))]
    worst = 0.0
    for array, analytic, name in checks:
        numeric = numeric_gradient(array, loss, eps)
        scale = max(np.abs(numeric).max(), 1e-3)
        err = float(np.abs(numeric - analytic).max() / scale)
        assert analytic.shape == array.shape, name
        worst = max(worst, err)
    return worst
