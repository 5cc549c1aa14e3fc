"""An optimizer's state as Keras 3 lists its variables (``optimizer.variables``), for files that store it.

Keras 3 gives an optimizer the variables ``<name>/iteration`` (int64) and, for a constant learning rate,
``<name>/learning_rate`` (floatx); once built on the model's trainable variables ``w_0 .. w_n`` it adds the
state slots, named ``<name>/<path of w_i with '/' -> '_'>_<slot>``.  Slots that ``build`` creates in one
call are interleaved variable by variable, separate calls follow each other: Adam's order is
``m_0, v_0, m_1, v_1, ...`` then ``velocity_hat_0, velocity_hat_1, ...`` (amsgrad only).  rnnlab keeps the
same slots by the same names (``Optimizer._state[path][slot]``); :data:`KERAS_SLOT_GROUPS` is the order.
Variables of the optimizer as a whole come last (Nadam's ``u_product``, which Keras names ``<name>/variable``);
:data:`KERAS_GLOBAL_VARIABLES` names them.

A ``.keras`` archive stores this list in its weights file as the datasets ``optimizer/vars/0 .. n-1``
(:func:`rnnlab.saving.keras_weights_h5.read_optimizer_state`), a legacy ``.h5`` file as its ``optimizer_weights``
group; ``load_model`` in Keras builds the optimizer and assigns the list in order (skipping it, with a warning,
if the count or a shape differs).
"""
from __future__ import annotations

import numpy as np

from rnnlab import backend, optimizers

__all__ = ["KERAS_SLOT_GROUPS", "KERAS_GLOBAL_VARIABLES", "keras_optimizer_variables", "keras_optimizer_shapes",
           "restore_optimizer_variables"]

#: Keras 3.15's ``build`` of each optimizer: the groups of slots it adds, in order (a group is interleaved
#: per variable).  A slot missing from rnnlab's state (SGD without momentum, RMSprop not centered...) is
#: one Keras does not create either.
KERAS_SLOT_GROUPS = {
    "SGD": (("momentum",),),
    "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)),
    "Adam": (("momentum", "velocity"), ("velocity_hat",)),
    "AdamW": (("momentum", "velocity"), ("velocity_hat",)),
    "Adagrad": (("accumulator",),),
    "Nadam": (("momentum", "velocity"),),
    "Adamax": (("momentum", "norm"),),
    "Adadelta": (("accumulated_grad", "accumulated_delta_var"),),
    "Lion": (("momentum",),),
}

#: The scalars Keras's ``build`` adds after the slots, in order: ``(rnnlab's name in Optimizer.global_state,
#: Keras's variable name)``.
KERAS_GLOBAL_VARIABLES = {
    "Nadam": (("u_product", "variable"),),
}


def _global_variables(optimizer):
    return KERAS_GLOBAL_VARIABLES.get(type(optimizer).__name__, ())


def _slot_groups(optimizer):
    name = type(optimizer).__name__
    groups = KERAS_SLOT_GROUPS.get(name)
    if groups is None or getattr(optimizers, name, None) is not type(optimizer):
        raise ValueError(
            f"rnnlab does not know how Keras lists the variables of optimizer {name!r}, so it cannot store its "
            f"state as Keras does (it knows {sorted(KERAS_SLOT_GROUPS)}); save with include_optimizer=False."
        )
    return groups


def _slots(optimizer, variable):
    """``{slot: array}`` of ``variable``: its state, or the initial state if it was never updated."""
    state = optimizer.state.get(variable.path)
    if state is not None:
        return state
    value = variable.value
    return {slot: np.full(value.shape, init, dtype=value.dtype)
            for slot, init in optimizer._slot_initializers(variable).items()}


def _check_slot_names(optimizer, slots, groups, variable):
    known = {slot for group in groups for slot in group}
    unknown = sorted(set(slots) - known)
    if unknown:
        raise ValueError(
            f"Optimizer {optimizer.name!r} keeps state {unknown} for variable {variable.path!r}, which Keras's "
            f"{type(optimizer).__name__} does not have."
        )


def _has_learning_rate_variable(optimizer):
    """Keras keeps a constant learning rate in a variable; a schedule or a callable has none."""
    return isinstance(optimizer.get_config()["learning_rate"], float)


def keras_optimizer_variables(optimizer, trainable, keras_paths):
    """``[(name, array)]``: ``optimizer.variables`` as Keras 3 lists them for a model whose trainable
    variables are ``trainable`` (in the model's order); ``keras_paths[id(v)]`` is each one's Keras path.

    An optimizer that has not updated anything yet is unbuilt in Keras: only ``iteration`` and
    ``learning_rate`` then.
    """
    groups = _slot_groups(optimizer)
    out = [(f"{optimizer.name}/iteration", np.asarray(optimizer.iterations, dtype=np.int64))]
    if _has_learning_rate_variable(optimizer):
        out.append((f"{optimizer.name}/learning_rate",
                    np.asarray(optimizer.learning_rate, dtype=backend.floatx())))
    if not optimizer.built:
        return out
    per_variable = []
    for v in trainable:
        slots = _slots(optimizer, v)
        _check_slot_names(optimizer, slots, groups, v)
        per_variable.append((keras_paths[id(v)].replace("/", "_"), slots))
    for group in groups:
        for prefix, slots in per_variable:
            for slot in group:
                if slot in slots:
                    out.append((f"{optimizer.name}/{prefix}_{slot}", np.asarray(slots[slot])))
    for ours, keras_name in _global_variables(optimizer):
        out.append((f"{optimizer.name}/{keras_name}", np.asarray(optimizer.global_state[ours])))
    return out


def _fresh_slots(optimizer, trainable):
    """``[(variable, slot, initial array)]`` in Keras's order, for an optimizer built on ``trainable``."""
    groups = _slot_groups(optimizer)
    initial = [(v, optimizer._slot_initializers(v)) for v in trainable]
    return [(v, slot, np.full(v.value.shape, inits[slot], dtype=v.value.dtype))
            for group in groups for v, inits in initial for slot in group if slot in inits]


def keras_optimizer_shapes(optimizer, trainable, built=True) -> list:
    """The shapes of :func:`keras_optimizer_variables` once built on ``trainable`` (the head ones are ``()``);
    ``built=False``: before it is built (the head ones alone)."""
    head = 2 if _has_learning_rate_variable(optimizer) else 1
    if not built:
        return [()] * head
    tail = len(_global_variables(optimizer))
    return [()] * head + [array.shape for _, _, array in _fresh_slots(optimizer, trainable)] + [()] * tail


def restore_optimizer_variables(optimizer, trainable, values, source):
    """Set ``optimizer``'s iterations, learning rate and (when given) state from ``values``, listed as
    :func:`keras_optimizer_variables` lists them; ``ValueError``, with nothing changed, if they do not fit."""
    values = [np.asarray(v) for v in values]
    head = 2 if _has_learning_rate_variable(optimizer) else 1
    slots = _fresh_slots(optimizer, trainable)
    tail = _global_variables(optimizer)
    built_count = head + len(slots) + len(tail)
    if len(values) not in (head, built_count):
        raise ValueError(f"{source} stores {len(values)} optimizer variable(s); optimizer {optimizer.name!r} "
                         f"has {built_count} ({head} before it is built).")
    iterations = values[0]
    if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
        raise ValueError(f"{source}: the optimizer's iteration count is not a non-negative integer.")
    if head == 2 and (values[1].shape != () or values[1].dtype.kind != "f" or not values[1] >= 0):
        raise ValueError(f"{source}: the optimizer's learning rate is not a non-negative float.")
    for (v, slot, array), value in zip(slots, values[head:]):
        if value.shape != array.shape or value.dtype.kind != "f" or not np.isfinite(value).all():
            raise ValueError(f"{source}: optimizer state {slot!r} of {v.path!r} should be finite floats of shape "
                             f"{array.shape}; the file holds {value.dtype} {value.shape}.")
        array[...] = value
    globals_ = values[head + len(slots):]
    for (ours, _), value in zip(tail, globals_):
        if value.shape != () or value.dtype.kind != "f" or not np.isfinite(value):
            raise ValueError(f"{source}: optimizer variable {ours!r} should be a finite float scalar; the file "
                             f"holds {value.dtype} {value.shape}.")
    optimizer.iterations = int(iterations)
    if head == 2:
        optimizer.learning_rate = float(values[1])
    if len(values) > head:
        optimizer.build(trainable)
        for v, slot, array in slots:
            optimizer.get_slot(v, slot)[...] = array
        for (ours, _), value in zip(tail, globals_):
            optimizer.global_state[ours][...] = value
