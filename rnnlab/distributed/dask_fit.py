"""Synchronous data-parallel ``fit`` on dask arrays.

Each global batch (the rows ``fit`` takes for one step, in the same order as ``fit`` on arrays) is cut into one
part per worker.  Per step:

1. the client sends the current weights inside each part's task, so each worker receives them once
   (``weights bytes x workers``; a task lost with its worker can rerun anywhere);
2. each worker runs forward and backward on its part with a model rebuilt once from its config
   (:mod:`rnnlab.distributed.worker_model`) and returns its gradients (``gradient bytes`` each), its parts of the
   losses and, when the model has metrics, its outputs and targets;
3. the client sums the gradients, weighted so that the sum is the gradient of the whole batch's loss, and its
   optimizer steps once.  Losses, metrics, callbacks and checkpoints all run on the client, as in ``fit``.

The weighting: a loss is ``L = sum(values * weights) / n`` with ``n`` from :meth:`rnnlab.losses.Loss.normalizer`,
and ``n`` of a batch is the sum of its parts' ``n_k``.  So the whole batch's loss is ``sum_k L_k * n_k / n`` and
its gradient ``sum_k (n_k / n) grad L_k``.  A worker multiplies its loss gradient by ``n_k`` and the client divides
the sum by ``n``.  With several outputs there is one ``n`` per output, so each worker multiplies output ``j`` by
``n_kj / n_j`` itself.  That needs ``n_j`` known in advance: rows_k / rows of the batch, which holds when no mask
or ``mean_with_sample_weight`` weighting makes ``n`` depend on the data.

Every task is a pure function of (config, weights, rows of data, draw keys): a task lost with its worker is
recomputed elsewhere and gives the same gradient, so a killed worker costs time, not results.  Dropout and noise
are drawn as in ``fit`` on arrays (:mod:`rnnlab.random`): each layer's draws are keyed by the layer's key (drawn
when ``fit`` starts), the global step and the sample's row in the batch.  The client sends the keys and the step
with each part, and the part's rows of the batch; the worker draws exactly the rows of the whole batch's masks
that its part holds, so a rerun task draws the same masks, and any number of workers gives the masks (and the
weights) of ``fit`` in one process.  Stateful models are refused: their state runs from one batch to the next,
through every sample, and cannot be cut across workers.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rnnlab import random
from rnnlab.distributed import dask_inputs, dask_predict, worker_model
from rnnlab.engine.layer import STATE_UPDATES, add_regularizer_grads
from rnnlab.random import make_rng


@dataclasses.dataclass
class PartResult:
    """What a worker returns for its part of a batch."""

    grads: list  # one per trainable weight (None where no gradient reached it), already weighted
    values: list  # the part's loss per output (None for outputs without a loss)
    normalizers: list  # the part's n per output (see Loss.normalizer)
    outputs: list = None  # flat outputs, targets and sample weights: only when the model has metrics
    ys: list = None
    sw: np.ndarray = None


def _part_step(recipe, weights, draws, xs, ys, sw, class_weight, one_loss, keep_outputs):
    """Forward and backward on one part of a batch (runs on a worker).  ``draws``: ``(keys, step, (start,
    stop, rows_total))``, the step's draw keys and the part's rows of the batch (see :mod:`rnnlab.random`)."""
    keys, step, (start, stop, rows_total) = draws
    with worker_model.model_for(recipe, weights) as model, \
            random.keyed_draws([model] + model._flatten_layers(), keys, step, (start, stop, rows_total), strict=True):
        xs, ys, sw, rows = model._prepare(xs if len(xs) > 1 else xs[0], ys, sw, class_weight)
        normalizers = []

        def output_scales(ys, flat_out, sw):
            factors = []
            for fn, y, out in zip(model._loss_fns, ys, flat_out):
                n = None if fn is None else fn.normalizer(y, out, sample_weight=sw)
                normalizers.append(n)
                if fn is None or one_loss or fn.reduction == "sum":
                    factors.append(1.0 if fn is None else n)
                    continue
                if getattr(out, "_keras_mask", None) is not None or (
                        fn.reduction == "mean_with_sample_weight" and sw is not None):
                    raise ValueError(
                        "fit() on dask arrays cannot weigh the parts of a batch for a model with several losses "
                        "where a mask or reduction='mean_with_sample_weight' makes a loss's divisor depend on "
                        "the whole batch; compile with one loss, or call fit() on NumPy arrays.")
                factors.append(rows / rows_total)
            return factors

        grads, _, per_output, flat_out = model._gradients(xs, ys, sw, output_scales)
        if grads.get(STATE_UPDATES):
            raise ValueError(
                "fit() on dask arrays does not support layers that update state during training (such as "
                "BatchNormalization's moving statistics): each worker's part would update its own copy. Call fit() "
                "on NumPy arrays for this model.")
        if any(layer._losses for layer in [model] + model._flatten_layers()):
            raise ValueError(
                "fit() on dask arrays does not support losses that a call adds (add_loss(), activity_regularizer): "
                "each worker's part would add its own. Call fit() on NumPy arrays for this model.")
        result = PartResult([grads.get(v) for v in model.trainable_weights], per_output, normalizers)
        if keep_outputs:
            result.outputs, result.ys, result.sw = [np.asarray(o) for o in flat_out], ys, sw
    return result


def _cut(array, parts):
    """``array`` cut into its rows ``parts`` (slices, or sorted indices)."""
    if array is None:
        return [None] * len(parts)
    return [array[part] for part in parts]


class TrainingBatches:
    """Dask ``x``/``y``/``sample_weight`` cut into ``fit``'s batches, each batch cut into ``parts`` parts.

    ``epoch()`` gives, per step, ``(parts, rows)``: a list of ``(xs, ys, sw)`` (dask arrays, or NumPy slices of
    NumPy targets) and the batch's number of rows.  Batches follow ``fit`` on arrays: in order, or a new random
    order of all samples each epoch with ``shuffle`` (rows then move between workers).
    """

    ran_out = False

    def __init__(self, xs, ys, sw, batch_size, parts, shuffle=False, steps=None):
        self.xs, self.ys, self.sw = xs, ys, sw
        self.n = xs[0].shape[0]
        self.batch_size, self.parts, self.shuffle = batch_size, parts, shuffle
        self.rng = make_rng(None) if shuffle else None
        self.num_batches = max(1, math.ceil(self.n / batch_size))
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
                raise ValueError("Argument `steps_per_epoch` must be None or a positive integer; received "
                                 f"steps_per_epoch={steps!r}.")
            self.num_batches = min(self.num_batches, int(steps))

    def reset(self):
        pass

    def begin_epoch(self):
        pass

    def end_epoch(self):
        pass

    def epoch(self):
        order = self.rng.permutation(self.n) if self.shuffle else None
        size = self.batch_size
        for b in range(self.num_batches):
            start, stop = b * size, min((b + 1) * size, self.n)
            if order is None:
                bounds = np.linspace(start, stop, min(self.parts, stop - start) + 1).round().astype(int)
                pieces = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
            else:
                pieces = [np.sort(p) for p in np.array_split(order[start:stop], min(self.parts, stop - start))]
            xs = [_cut(a, pieces) for a in self.xs]
            ys = [_cut(a, pieces) for a in self.ys]
            sw = _cut(self.sw, pieces)
            yield [([x[k] for x in xs], [y[k] for y in ys], sw[k]) for k in range(len(pieces))], stop - start


class DataParallelStep:
    """One synchronous step on the client's workers: ``step(parts, rows)`` (see :class:`TrainingBatches`)."""

    #: times a step is submitted again when Dask cancels its tasks (a worker killed at the wrong moment can
    #: take the scheduler's record of them along: "already forgotten")
    RESUBMITS = 3

    def __init__(self, model, client, class_weight):
        self.model, self.client, self.class_weight = model, client, class_weight
        self._scatter_recipe()
        self.one_loss = sum(fn is not None for fn in model._loss_fns) == 1
        self.keep_outputs = any(model._metric_specs)

    def _scatter_recipe(self):
        [self.recipe] = self.client.scatter([worker_model.recipe_of(self.model, with_losses=True)], broadcast=True,
                                            hash=False)

    def __call__(self, parts, rows):
        import dask
        from distributed.client import FutureCancelledError

        weights = worker_model.weights_of(self.model)  # inside each part's task: one copy per worker, no
        draws = random.active_draws()  # extra round trip, and a lost task can rerun anywhere; the keys of
        bounds = np.cumsum([0] + [xs[0].shape[0] for xs, _, _ in parts])  # this step (set by fit's loop)
        for attempt in range(self.RESUBMITS + 1):
            tasks = [dask.delayed(_part_step, pure=True)(
                self.recipe, weights, (draws.keys, draws.step, (int(start), int(stop), rows)), xs, ys, sw,
                self.class_weight, self.one_loss, self.keep_outputs)
                for (xs, ys, sw), start, stop in zip(parts, bounds[:-1], bounds[1:])]
            try:
                results = self.client.gather(self.client.compute(tasks))
                break
            except FutureCancelledError:
                # The step is a pure function of the weights, the data and the step's keyed draws, so running
                # it again gives what the lost run would have; the recipe's replicas may have gone too.
                if attempt == self.RESUBMITS:
                    raise
                self._scatter_recipe()
        self._apply(results, rows)

    def _apply(self, results, rows):
        model = self.model
        totals = [None if fn is None else (1.0 if fn.reduction == "sum" else
                                           sum(r.normalizers[j] for r in results))
                  for j, fn in enumerate(model._loss_fns)]
        divisor = next(t for t in totals if t is not None) if self.one_loss else 1.0
        grads = []
        for i in range(len(model.trainable_weights)):
            parts = [r.grads[i] for r in results if r.grads[i] is not None]
            grads.append(None if not parts else (sum(parts[1:], parts[0]) / divisor if divisor else
                                                 np.zeros_like(parts[0])))
        penalty = model._regularization_loss()  # the weights' penalties, once, at the weights before this step
        reg = {}
        add_regularizer_grads(reg, model.trainable_weights)
        grads = [g if v not in reg else reg[v] if g is None else g + reg[v]
                 for g, v in zip(grads, model.trainable_weights)]
        model._apply_gradients(grads)
        per_output = [None if n is None else (sum(r.values[j] * r.normalizers[j] for r in results) / n if n else 0.0)
                      for j, n in enumerate(totals)]
        total = sum(w * v for w, v in zip(model._loss_weights, per_output) if v is not None) + penalty
        if self.keep_outputs:
            ys = [np.concatenate([r.ys[j] for r in results]) for j in range(len(results[0].ys))]
            outputs = [np.concatenate([r.outputs[j] for r in results]) for j in range(len(results[0].outputs))]
            sw = None if results[0].sw is None else np.concatenate([r.sw for r in results])
        else:
            ys = outputs = [None] * len(model._loss_fns)
            sw = None
        model._update_metrics(total, per_output, ys, outputs, sw, rows)


class LocalStep:
    """A step without a Client: the batch is computed by Dask's local scheduler and trained on here."""

    def __init__(self, model, class_weight):
        self.model, self.class_weight = model, class_weight

    def __call__(self, parts, rows):
        import dask

        [(xs, ys, sw)] = dask.compute(parts)[0]
        model = self.model
        xs, ys, sw, _ = model._prepare(xs if len(xs) > 1 else xs[0], ys, sw, self.class_weight)
        model._train_step(xs, ys, sw)


def _standardize(model, x, y, sample_weight, argument="x"):
    xs = dask_predict.model_inputs(model, x, argument)
    names = model._output_names()
    ys = dask_inputs.as_list(y, names) if y is not None else None
    if ys is None or len(ys) != len(names):
        raise ValueError(f"Argument `y` must hold one target array per output ({len(names)}: {names}) for dask "
                         f"`{argument}`; received {'None' if ys is None else len(ys)}.")
    ys = [a if isinstance(a, np.ndarray) else dask_inputs.aligned([a], "y", like=xs[0])[0] for a in ys]
    for a in ys:
        if a.shape[0] != xs[0].shape[0]:
            raise ValueError(f"Arguments `x` and `y` must have the same number of samples; received x with "
                             f"{xs[0].shape[0]} and y with {a.shape[0]}.")
    sw = sample_weight
    if sw is not None and not isinstance(sw, np.ndarray):
        sw = dask_inputs.aligned([sw], "sample_weight", like=xs[0])[0]
    if sw is not None and (sw.ndim != 1 or sw.shape[0] != xs[0].shape[0]):
        raise ValueError(f"Argument `sample_weight` must have shape ({xs[0].shape[0]},), one weight per sample; "
                         f"received {tuple(sw.shape)}.")
    return xs, ys, sw


def training_plan(model, x, y, sample_weight, class_weight, *, batch_size, shuffle, steps_per_epoch,
                  validation_split, validation_batch_size, validation_steps):
    """``(train batches, train step, validation batches or None)`` for ``fit`` on dask ``x``."""
    dask_predict.refuse_stateful(model, "fit")
    if isinstance(x, np.ndarray) or not dask_inputs.holds_dask_arrays(x):
        raise TypeError("fit() on dask arrays needs `x` as dask arrays; received "
                        f"{type(x).__name__}.")
    xs, ys, sw = _standardize(model, x, y, sample_weight)
    val = None
    if validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"Argument `validation_split` must be in (0, 1); received {validation_split!r}.")
        n = xs[0].shape[0]
        split_at = int(math.floor(n * (1.0 - validation_split)))
        if split_at in (0, n):
            raise ValueError(f"validation_split={validation_split} leaves no samples for training or validation "
                             f"out of {n}.")
        val = dask_predict.EvaluationBatches(model, [a[split_at:] for a in xs], [a[split_at:] for a in ys],
                                             None if sw is None else sw[split_at:],
                                             validation_batch_size or batch_size, validation_steps)
        xs, ys, sw = [a[:split_at] for a in xs], [a[:split_at] for a in ys], None if sw is None else sw[:split_at]
    client = worker_model.active_client()
    if client is None:
        step, parts = LocalStep(model, class_weight), 1
    else:
        step, parts = DataParallelStep(model, client, class_weight), max(1, len(client.scheduler_info()["workers"]))
    train = TrainingBatches(xs, ys, sw, batch_size, parts, shuffle=shuffle, steps=steps_per_epoch)
    return train, step, val
