"""``predict`` and ``evaluate`` on dask arrays.

``predict`` returns lazy dask arrays (a structure of them for several outputs, as the model's outputs are
structured): one task per chunk of the inputs, run where the chunk is, by a model rebuilt on the worker from its
config and weights (:mod:`rnnlab.distributed.worker_model`).  The config and the weights are sent to each worker
once per ``predict`` call: with a ``dask.distributed`` Client they are scattered to every worker, without one they
are one key of the local scheduler's graph.  The weights are those of the ``predict`` call, so training the model
afterwards does not change a result computed later.

``evaluate`` computes those predictions chunk by chunk and scores them on the client, batch by batch, with the
model's own loss and metric code: the numbers are those of ``evaluate`` on the same data in memory.
"""
from __future__ import annotations

import operator

import numpy as np

from rnnlab import nest
from rnnlab.distributed import dask_inputs, worker_model


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"Argument `batch_size` must be a positive integer; received batch_size={batch_size!r}.")
    return int(batch_size)


def _check_steps(steps, batch_size, rows):
    """The rows that ``steps`` batches cover (all ``rows`` for None)."""
    if steps is None:
        return rows
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"Argument `steps` must be None or a positive integer; received steps={steps!r}.")
    return min(rows, int(steps) * batch_size)


def model_inputs(model, x, argument="x"):
    """The model's inputs as a list of dask arrays chunked along the batch axis only, with equal row chunks."""
    if not model.built and hasattr(model, "_ensure_built"):  # a Sequential without an Input: built from x
        model._ensure_built(dask_inputs.as_list(x, [])[0])
    names = [t.name for t in model.inputs]
    arrays = dask_inputs.as_list(x, names)
    if len(arrays) != len(names):
        raise ValueError(f"Model {model.name!r} expects {len(names)} inputs; received {len(arrays)} in `{argument}`.")
    for i, (array, tensor) in enumerate(zip(arrays, model.inputs)):
        shape = tuple(tensor.shape)
        if array.ndim != len(shape) or any(d is not None and d != a for d, a in zip(shape[1:], array.shape[1:])):
            raise ValueError(f"Input {i} of model {model.name!r} must have shape {shape} (None = any size); "
                             f"received a dask array of shape {tuple(array.shape)} in `{argument}`.")
    return dask_inputs.aligned(arrays, argument)


def config_values(config, keys):
    """``(key, value, class_name)`` for every entry of ``keys`` anywhere in a nested Keras config."""
    found, stack = [], [(config, None)]
    while stack:
        node, owner = stack.pop()
        if isinstance(node, dict):
            owner = node.get("class_name", owner)
            for key, value in node.items():
                if key in keys:
                    found.append((key, value, owner))
                stack.append((value, owner))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, owner) for v in node)
    return found


def refuse_stateful(model, what):
    """Refuse a stateful model: its state runs from one batch to the next, which cannot be split."""
    stateful = [owner for _, value, owner in config_values(model.get_config(), {"stateful"}) if value]
    if stateful:
        raise ValueError(f"{what}() on dask arrays cannot use the stateful model {model.name!r} (its {stateful[0]} "
                         "layer has stateful=True): a stateful layer carries its state from one batch to the next, "
                         "so its batches must run one after another in one process and cannot be split across "
                         "workers. Rebuild the model with stateful=False, or compute the arrays and call "
                         f"{what}() on NumPy arrays.")


def _predict_chunk(recipe, weights, batch_size, unit_axes, single, *arrays):
    """The model's flat outputs on one chunk of every input (runs on a worker): a tuple, or the one output
    itself when ``single``; each output with ``unit_axes`` axes of length 1 after its batch axis."""
    with worker_model.model_for(recipe, weights) as model:
        outputs = model.predict(list(arrays) if len(arrays) > 1 else arrays[0], batch_size=batch_size, verbose=0)
    flat = tuple(nest.flatten(outputs)) if nest.is_nested(model._outputs_struct) else (outputs,)
    flat = tuple(o.reshape(o.shape[:1] + (1,) * unit_axes + o.shape[1:]) for o in flat)
    return flat[0] if single else flat


def _sample_outputs(model, xs):
    """The model's flat outputs on one all-zero sample shaped as the inputs: their per-sample shapes and dtypes."""
    zeros = [np.zeros((1,) + tuple(a.shape[1:]), dtype=a.dtype) for a in xs]
    outputs = model.predict(zeros if len(zeros) > 1 else zeros[0], verbose=0)
    return nest.flatten(outputs) if nest.is_nested(model._outputs_struct) else [outputs]


def _axes(name, ndim):
    """``ndim - 1`` axis names for a ``da.blockwise`` index (after the batch axis, ``"b"``)."""
    return tuple(f"{name}{k}" for k in range(1, ndim))


def flat_predictions(model, xs, batch_size):
    """Lazy flat outputs (a list of dask arrays, chunked as ``xs``) of ``model`` on ``xs`` (see :func:`model_inputs`).

    One ``blockwise`` task per chunk, which Dask's graph optimisation fuses with the tasks that make the chunk (a
    read from a ``.npy`` file, a slice): a chunk is read and predicted in one task, on one worker, and is never
    stored or sent between workers.  Dask fuses a layer only into one that keeps all of its axes, so the task
    keeps every input axis as an axis of length 1 of its outputs (``unit``), which a slice then drops.  With
    several outputs each chunk's task returns a tuple, which one small task per output takes apart.
    """
    da = dask_inputs.import_dask_array()

    recipe, weights = worker_model.ship(worker_model.active_client(), worker_model.recipe_of(model),
                                        worker_model.weights_of(model))
    samples = _sample_outputs(model, xs)
    unit = [axis for i, a in enumerate(xs) for axis in _axes(f"input{i}_", a.ndim)]
    inputs = [arg for i, a in enumerate(xs) for arg in (a, ("b",) + _axes(f"input{i}_", a.ndim))]
    drop_unit = (slice(None),) + (0,) * len(unit)
    single = len(samples) == 1

    def blocks(fn, args, sample):
        index = ("b", *unit, *_axes("output_", sample.ndim))
        out = da.blockwise(fn, index, *args, new_axes=dict(zip(index[1 + len(unit):], sample.shape[1:])),
                           adjust_chunks=dict.fromkeys(unit, 1), dtype=sample.dtype,
                           meta=np.empty((0,) * len(index), sample.dtype))
        return out[drop_unit]

    common = [recipe, None, weights, None, batch_size, None, len(unit), None, single, None]
    if single:
        return [blocks(_predict_chunk, common + inputs, samples[0])]
    packed = da.blockwise(_predict_chunk, ("b", *unit), *common, *inputs, adjust_chunks=dict.fromkeys(unit, 1),
                          dtype=object, meta=np.empty((0,) * (1 + len(unit)), object))  # a tuple per chunk
    return [blocks(operator.getitem, [packed, ("b", *unit), j, None], s) for j, s in enumerate(samples)]


def predict(model, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """``model.predict(x)`` for dask inputs: lazy dask arrays, structured as the model's outputs.

    Nothing runs until the result is computed, so there is no progress bar to show (``verbose`` 1 or 2 are
    refused: use ``dask.diagnostics.ProgressBar`` or ``distributed.progress``) and no batch callbacks to call.
    """
    batch_size = _check_batch_size(batch_size)
    if verbose not in ("auto", 0):
        raise ValueError("Argument `verbose` of predict() on dask arrays must be 'auto' or 0: the result is lazy, "
                         "so nothing runs to show progress for (use dask.diagnostics.ProgressBar or "
                         f"distributed.progress on the result); received verbose={verbose!r}.")
    if callbacks:
        raise ValueError("Argument `callbacks` of predict() must be None for dask arrays: the result is lazy and its "
                         f"batches run on workers, where no callback can be called; received {callbacks!r}.")
    xs = model_inputs(model, x)
    refuse_stateful(model, "predict")
    rows = _check_steps(steps, batch_size, xs[0].shape[0])
    if rows != xs[0].shape[0]:
        xs = [a[:rows] for a in xs]
    flat = flat_predictions(model, xs, batch_size)
    return nest.pack_like(model._outputs_struct, flat) if nest.is_nested(model._outputs_struct) else flat[0]


class EvaluationBatches:
    """Dask ``x``/``y``/``sample_weight`` as ``evaluate``'s batches: ``(outputs, ys, sw)`` in NumPy.

    The predictions are made on the workers (:func:`flat_predictions`, with the weights the model has when an
    epoch starts: validation after each training epoch sees the new weights); each group of whole batches (about a
    chunk) is brought to the client, where the trainer scores it batch by batch.  It gives the calls of
    :class:`rnnlab.models.data_adapters.ArrayBatches`.
    """

    ran_out = False

    def __init__(self, model, x, y, sample_weight, batch_size, steps=None, argument="x"):
        if y is None:
            raise ValueError(f"Argument `y` (the targets) is required with dask `{argument}`; received None.")
        self.model, self.batch_size = model, batch_size
        xs = model_inputs(model, x, argument)
        refuse_stateful(model, "evaluate")
        rows = _check_steps(steps, batch_size, xs[0].shape[0])
        names = model._output_names()
        ys = dask_inputs.as_list(y, names)
        if len(ys) != len(names):
            raise ValueError(f"Argument `y` must hold one target array per output ({len(names)}); received "
                             f"{len(ys)}.")
        ys = dask_inputs.aligned(ys, "y", like=xs[0])
        sw = None if sample_weight is None else \
            dask_inputs.aligned([sample_weight], "sample_weight", like=xs[0])[0]
        if rows != xs[0].shape[0]:
            xs, ys, sw = [a[:rows] for a in xs], [a[:rows] for a in ys], None if sw is None else sw[:rows]
        self.xs, self.ys, self.sw, self.rows = xs, ys, sw, rows
        self.num_batches = max(1, -(-rows // batch_size))
        chunk = max(xs[0].chunks[0])
        self.group = max(1, chunk // batch_size) * batch_size  # whole batches, about a chunk's rows

    def reset(self):
        pass

    def begin_epoch(self):
        pass

    def end_epoch(self):
        pass

    def epoch(self):
        import dask

        predictions = flat_predictions(self.model, self.xs, self.batch_size)  # with the weights of now
        for start in range(0, self.rows, self.group):
            stop = min(start + self.group, self.rows)
            sw_part = None if self.sw is None else self.sw[start:stop]
            outputs, ys, sw = dask.compute([o[start:stop] for o in predictions],
                                           [y[start:stop] for y in self.ys], sw_part)
            ys = self.model._standardize_targets(ys if len(ys) > 1 else ys[0])
            sw = self.model._sample_weights(stop - start, sw, None, ys)
            for b in range(0, stop - start, self.batch_size):
                rows = slice(b, b + self.batch_size)
                batch_outputs = [o[rows] for o in outputs]
                packed = nest.pack_like(self.model._outputs_struct, batch_outputs) \
                    if nest.is_nested(self.model._outputs_struct) else batch_outputs[0]
                yield packed, [y[rows] for y in ys], None if sw is None else sw[rows]
