"""Training for models: ``compile``, ``fit``, ``evaluate``, ``train_on_batch`` and ``test_on_batch``.

One training step runs the model's training graph (:meth:`Model.forward_backward`), asks each output's loss
for its value and its gradient, backpropagates, and hands the gradients to the optimizer.  The reported
``loss`` is the batch-size-weighted mean over the epoch's batches, and metrics accumulate over the epoch, as in
Keras 3.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from rnnlab import losses as losses_module
from rnnlab import metrics as metrics_module
from rnnlab import nest, optimizers, random
from rnnlab.callbacks import CallbackList
from rnnlab.distributed import dask_inputs
from rnnlab.engine.layer import add_regularizer_grads, apply_state_updates
from rnnlab.models import data_adapters
from rnnlab.random import make_rng


def _per_output(value, names, argument):
    """Spread a compile argument over the outputs: one value for all, a list in output order, or a dict by name."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"Argument `{argument}` names unknown outputs {unknown}; the outputs are {names}.")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise ValueError(
                f"Argument `{argument}` must have one entry per output ({len(names)}: {names}); "
                f"received {len(value)}."
            )
        return list(value)
    return [value] * len(names)


def _predict_with_data_objects(predict_arrays):
    """A model class's own ``predict`` (for arrays), extended to data objects, which go to
    :meth:`Trainer._predict_data`."""
    @functools.wraps(predict_arrays)
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        if type(x) is not np.ndarray and dask_inputs.holds_dask_arrays(x):
            from rnnlab.distributed import dask_predict  # imports Dask

            return dask_predict.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                                        callbacks=callbacks)
        if type(x) is not np.ndarray and data_adapters.data_kind(x) is not None:
            return self._predict_data(x, verbose=verbose, steps=steps, callbacks=callbacks)
        data_adapters.check_arrays(x)
        return predict_arrays(self, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    predict.reads_data_objects = True
    return predict


class Trainer:
    """The training half of :class:`rnnlab.Model` (mixed in; relies on its graph methods).

    ``fit``, ``evaluate`` and ``predict`` take arrays or data objects (a PyDataset/Sequence, a generator or an
    iterable of batches; see :mod:`rnnlab.models.data_adapters`).  ``predict`` itself lives with the model graph.
    Each model class that defines one gets it wrapped here, when the class is made, so that data objects reach
    :meth:`_predict_data`.
    """

    optimizer = None
    _compiled = False
    stop_training = False
    #: The epoch a restored backup resumes from (set by ``BackupAndRestore`` when ``fit`` begins), as Keras's
    #: ``Model._initial_epoch``: ``fit`` then starts there instead of at ``initial_epoch``.
    _initial_epoch = None
    history = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("predict")
        if own is not None and not getattr(own, "reads_data_objects", False):
            cls.predict = _predict_with_data_objects(own)

    # -------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
        """Configure training, with Keras's arguments (``run_eagerly``/``jit_compile`` have no effect here)."""
        if loss is None:
            raise ValueError("Argument `loss` of compile() is required: give a loss name, a Loss or a callable.")
        names = self._output_names()
        self.optimizer = optimizers.get(optimizer)
        self._loss_fns = [None if fn is None else losses_module.get(fn) for fn in _per_output(loss, names, "loss")]
        weights = _per_output(1.0 if loss_weights is None else loss_weights, names, "loss_weights")
        self._loss_weights = [1.0 if w is None else float(w) for w in weights]
        # Keras: `metrics` ignore sample weights, `weighted_metrics` use them.
        self._metric_specs = [[(m, False) for m in specs] + [(m, True) for m in wspecs] for specs, wspecs in zip(
            self._metrics_per_output(metrics, names, "metrics"),
            self._metrics_per_output(weighted_metrics, names, "weighted_metrics"))]
        for specs in self._metric_specs:  # unknown names fail here, at compile time
            for spec, _ in specs:
                metrics_module.get(spec)
        self._metric_objects = None  # resolved on the first batch, when target shapes are known
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = [metrics_module.Mean(name=f"{n}_loss") for n in names] if len(names) > 1 \
            else []
        # the arguments as Keras records them for saving (its `jit_compile="auto"` resolves to False without
        # an accelerator, and rnnlab has none)
        self._compile_config = {"optimizer": self.optimizer, "loss": loss, "loss_weights": loss_weights,
                                "metrics": metrics, "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
                                "steps_per_execution": steps_per_execution,
                                "jit_compile": False if jit_compile == "auto" else jit_compile}
        self._compiled = True

    @staticmethod
    def _metrics_per_output(metrics, names, argument):
        metrics = metrics or []
        if isinstance(metrics, dict) or (len(names) > 1 and metrics and
                                         all(isinstance(m, (list, tuple)) for m in metrics)):
            per_output = _per_output(metrics, names, argument)
        else:  # a flat list applies to a single output (the first, for several outputs)
            per_output = [metrics] + [[]] * (len(names) - 1)
        return [list(m) if isinstance(m, (list, tuple)) else ([m] if m else []) for m in per_output]

    def _output_names(self):
        return [t._history[0].name for t in self.outputs]

    def _require_compiled(self, what):
        if not self._compiled:
            raise ValueError(f"You must call `compile()` before using `{what}()` on model {self.name!r}.")

    def _resolve_metrics(self, ys, outputs):
        if self._metric_objects is not None:
            return
        names = self._output_names()
        objects = []
        for k, (specs, y, out) in enumerate(zip(self._metric_specs, ys, outputs)):
            for spec, weighted in specs:
                metric = metrics_module.get(spec, loss=self._loss_fns[k], output_shape=np.shape(out),
                                            y_true_shape=np.shape(y))
                if len(names) > 1:
                    metric.name = f"{names[k]}_{metric.name}"
                objects.append((k, metric, weighted))
        self._metric_objects = objects

    @property
    def metrics(self):
        out = [self._loss_tracker] + list(self._output_loss_trackers) if self._compiled else []
        return out + [m for _, m, _ in (self._metric_objects or [])]

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()

    def _logs(self):
        """``{name: result}``: a float, or an array for a metric with several values (Precision at several
        thresholds, F1Score per class), as Keras logs them."""
        results = ((m.name, m.result()) for m in self.metrics)
        return {name: float(value) if np.ndim(value) == 0 else np.asarray(value) for name, value in results}

    # -------------------------------------------------------------- data
    def _standardize_targets(self, y):
        if y is None:
            raise ValueError("Argument `y` (the targets) is required for training and evaluation; received None.")
        if isinstance(y, dict):
            names = self._output_names()
            missing = [n for n in names if n not in y]
            if missing:
                raise ValueError(f"Argument `y` is missing targets for outputs {missing}; received keys {sorted(y)}.")
            ys = [y[n] for n in names]
        elif len(self.outputs) > 1:
            if not isinstance(y, (list, tuple)) or len(y) != len(self.outputs):
                raise ValueError(
                    f"Argument `y` must hold one target array per output ({len(self.outputs)}); received "
                    f"{len(y) if isinstance(y, (list, tuple)) else 1}."
                )
            ys = list(y)
        else:
            ys = [y[0] if isinstance(y, (list, tuple)) and len(y) == 1 and np.ndim(y[0]) >= 1 else y]
        out = []
        for i, t in enumerate(ys):
            arr = np.asarray(t)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"Argument `y` (output {i}) must be numeric; received dtype {arr.dtype}.")
            if arr.dtype.kind == "f" and np.isnan(arr).any():
                raise ValueError(f"Argument `y` (output {i}) contains NaN targets; received {int(np.isnan(arr).sum())}.")
            out.append(arr)
        return out

    def _sample_weights(self, n, sample_weight, class_weight, ys):
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64)
            if sw.ndim < 1 or sw.shape[0] != n:  # (n,) per sample, or (n, T) per time step of sequence outputs
                raise ValueError(
                    f"Argument `sample_weight` must have shape ({n},), one weight per sample, or ({n}, timesteps) "
                    f"for sequence outputs; received shape {sw.shape}."
                )
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise TypeError("Argument `class_weight` must be a dict mapping class ids to weights; received "
                                f"{type(class_weight).__name__}.")
            if len(ys) != 1:
                raise ValueError("Argument `class_weight` is only supported for models with a single output.")
            y = ys[0]
            labels = np.argmax(y, axis=-1) if (y.ndim >= 2 and y.shape[-1] > 1) else y.reshape(n, -1)[:, 0]
            labels = np.rint(labels).astype(np.int64)
            cw = np.array([class_weight.get(int(c), 1.0) for c in labels], dtype=np.float64)  # Keras: 1 if absent
            sw = cw if sw is None else sw * cw.reshape((n,) + (1,) * (sw.ndim - 1))
        return sw

    def _prepare(self, x, y, sample_weight=None, class_weight=None):
        xs = self._standardize_inputs(x)
        ys = self._standardize_targets(y)
        sizes = [a.shape[0] for a in xs] + [a.shape[0] for a in ys]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"Arguments `x` and `y` must have the same number of samples; received x sizes "
                f"{sizes[:len(xs)]} and y sizes {sizes[len(xs):]}."
            )
        n = sizes[0]
        return xs, ys, self._sample_weights(n, sample_weight, class_weight, ys), n

    def _batches(self, x, y, sample_weight, class_weight, *, batch_size, steps, method, shuffle=False,
                 steps_argument="steps", argument="x"):
        """Arrays or a data object as batches for ``fit``/``evaluate`` (see :mod:`rnnlab.models.data_adapters`)."""
        kind = data_adapters.data_kind(x)
        if kind is None:
            data_adapters.check_arrays(x, argument)
            xs, ys, sw, _ = self._prepare(x, y, sample_weight, class_weight)
            return data_adapters.ArrayBatches(xs, ys, sw, batch_size, steps=steps, steps_argument=steps_argument,
                                              argument=argument)
        data_adapters.refuse_with_data_object(kind, argument, y=y, sample_weight=sample_weight)

        def prepare(bx, by, bsw):
            if by is None:
                raise ValueError(f"it has no targets: {method}() needs batches (inputs, targets) or (inputs, "
                                 "targets, sample_weight)")
            return self._prepare(bx, by, bsw, class_weight)[:3]

        return data_adapters.DataBatches(x, prepare, steps=steps, shuffle=shuffle, argument=argument,
                                         steps_argument=steps_argument)

    # -------------------------------------------------------------- steps
    def _loss_and_grads(self, ys, outputs, sw):
        flat_out = nest.flatten(outputs) if nest.is_nested(self._outputs_struct) else [outputs]
        total, d_outputs, per_output = 0.0, [], []
        for fn, weight, y, out in zip(self._loss_fns, self._loss_weights, ys, flat_out):
            if fn is None:
                d_outputs.append(None)
                per_output.append(None)
                continue
            value, grad = fn.value_and_grad(y, out, sample_weight=sw)
            total += weight * float(value)
            d_outputs.append(None if grad is None else weight * grad)
            per_output.append(float(value))
        return total, d_outputs, per_output, flat_out

    def _update_metrics(self, total, per_output, ys, flat_out, sw, batch):
        self._loss_tracker.update_state(total, sample_weight=batch)
        for tracker, value in zip(self._output_loss_trackers, per_output):
            if value is not None:
                tracker.update_state(value, sample_weight=batch)
        self._resolve_metrics(ys, flat_out)
        for k, metric, weighted in self._metric_objects:
            metric.update_state(ys[k], flat_out[k], sample_weight=sw if weighted else None)

    def _regularization_loss(self):
        """``sum(self.losses)``: the losses of the latest call (``add_loss`` values and activity-regularizer
        losses) and the weight penalties at the current weights, which Keras adds to the compiled loss (in
        training and in evaluation)."""
        return float(sum(float(v) for v in self.losses))

    def _gradients(self, xs, ys, sw, output_scales=None):
        """Forward and backward on one batch: ``(grads, total, per_output, flat_out)``, ``grads`` by variable.

        ``output_scales(ys, flat_out, sw)``, when given, returns a factor per output that multiplies its loss
        gradient before backpropagation (a data-parallel worker weighs its part of the batch so).
        """
        grads = {}
        inputs = xs if len(xs) > 1 else xs[0]
        outputs, backward = self.forward_backward(inputs, training=True, grads=grads)
        total, d_outputs, per_output, flat_out = self._loss_and_grads(ys, outputs, sw)
        if output_scales is not None:
            d_outputs = [None if d is None else d * factor
                         for d, factor in zip(d_outputs, output_scales(ys, flat_out, sw))]
        d_struct = nest.pack_like(self._outputs_struct, d_outputs) if nest.is_nested(self._outputs_struct) \
            else d_outputs[0]
        if getattr(backward, "optional_input_grad", False):
            backward(d_struct, need_input_grad=False)  # the inputs' gradients are not needed
        else:
            backward(d_struct)
        return grads, total, per_output, flat_out

    def _apply_gradients(self, grads):
        """One optimizer step (then each weight's constraint); ``grads`` lines up with ``trainable_weights``
        (None: no gradient reached it)."""
        pairs = [(g, v) for g, v in zip(grads, self.trainable_weights) if g is not None]
        if pairs:
            self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])

    def _train_step(self, xs, ys, sw):
        grads, total, per_output, flat_out = self._gradients(xs, ys, sw)
        total += self._regularization_loss()  # the penalties before this update, as Keras
        add_regularizer_grads(grads, self.trainable_weights)
        self._apply_gradients([grads.get(v) for v in self.trainable_weights])
        apply_state_updates(grads)  # non-gradient state, such as BatchNormalization's moving statistics
        self._update_metrics(total, per_output, ys, flat_out, sw, xs[0].shape[0])

    def _test_step(self, xs, ys, sw):
        self._record_test(self._run_graph(xs, [None] * len(xs), training=False, keep_masks=True), ys, sw)

    def _record_test(self, outputs, ys, sw):
        """Loss and metrics of one evaluated batch, from the model's ``outputs`` on it (plus the model's
        losses of that call and its weight penalties, as Keras)."""
        total, _, per_output, flat_out = self._loss_and_grads(ys, outputs, sw)
        total += self._regularization_loss()
        self._update_metrics(total, per_output, ys, flat_out, sw, ys[0].shape[0])

    # -------------------------------------------------------------- public API
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        xs, ys, sw, n = self._prepare(x, y, sample_weight, class_weight)
        self._refuse_empty_batch(n, "train_on_batch")
        self.reset_metrics()
        self._train_step(xs, ys, sw)
        return self._result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        xs, ys, sw, n = self._prepare(x, y, sample_weight)
        self._refuse_empty_batch(n, "test_on_batch")
        self.reset_metrics()
        self._test_step(xs, ys, sw)
        return self._result(return_dict)

    @staticmethod
    def _refuse_empty_batch(n, method):
        if n == 0:
            raise ValueError(f"{method}() needs a batch of at least one sample; received arrays of 0 samples "
                             "(`x` and `y` have 0 rows).")

    def _result(self, return_dict, logs=None):
        """``logs`` (default: the metrics now) as Keras returns them: the dict, or the values (one: a scalar)."""
        logs = self._logs() if logs is None else logs
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss (and metrics) over the data, in batches; as Keras, a scalar or ``[loss, *metrics]``."""
        self._require_compiled("evaluate")
        batch_size = self._check_batch_size(batch_size)
        if dask_inputs.holds_dask_arrays(x):
            from rnnlab.distributed import dask_predict  # imports Dask

            data, step = dask_predict.EvaluationBatches(self, x, y, sample_weight, batch_size, steps), \
                self._record_test
        else:
            data, step = self._batches(x, y, sample_weight, None, batch_size=batch_size, steps=steps,
                                       method="evaluate"), self._test_step
        verbose = 1 if verbose == "auto" else verbose
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=data.num_batches,
                           model=self)
        self.reset_metrics()
        data.reset()
        cbs.on_test_begin()
        data.begin_epoch()
        seen = 0
        for b, batch in enumerate(data.epoch()):
            cbs.on_test_batch_begin(b)
            step(*batch)
            seen += 1
            cbs.on_test_batch_end(b, self._logs())
        data.end_epoch()
        logs = self._logs() if seen else {}  # no data (it warned): no loss, as Keras returns [] / {}
        cbs.on_test_end(logs)
        return self._result(return_dict, logs)

    @staticmethod
    def _check_batch_size(batch_size):
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"Argument `batch_size` must be a positive integer; received batch_size={batch_size!r}.")
        return int(batch_size)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` epochs with Keras's arguments and semantics; returns the ``History``.

        ``x`` may be arrays (with ``y``) or a data object whose batches hold the targets.  A data object is a
        PyDataset/Sequence, a generator (with ``steps_per_epoch`` to read it over several epochs) or an iterable
        of batches, and so may ``validation_data`` be.
        """
        self._require_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Argument `epochs` must be a non-negative integer; received epochs={epochs!r}.")
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}.")
        on_dask = type(x) is not np.ndarray and dask_inputs.holds_dask_arrays(x)
        kind = None if on_dask else data_adapters.data_kind(x)
        if kind is not None:
            data_adapters.refuse_with_data_object(kind, validation_split=validation_split)
        random_layers = [self] + self._flatten_layers()  # the dropout and noise of each step: keyed draws
        keys = random.draw_keys(random_layers)
        val, val_step = None, self._test_step
        if validation_data is not None:
            if isinstance(validation_data, (list, tuple)) and len(validation_data) in (2, 3) and \
                    dask_inputs.holds_dask_arrays(validation_data[0]):
                from rnnlab.distributed import dask_predict  # imports Dask

                val, val_step = dask_predict.EvaluationBatches(
                    self, *validation_data[:2], validation_data[2] if len(validation_data) == 3 else None,
                    validation_batch_size or batch_size, validation_steps, argument="validation_data"), \
                    self._record_test
            elif data_adapters.data_kind(validation_data) is not None:
                val = self._batches(validation_data, None, None, None, batch_size=validation_batch_size or batch_size,
                                    steps=validation_steps, method="fit", steps_argument="validation_steps",
                                    argument="validation_data")
            elif not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("Argument `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 "sample_weight_val), or a data object (a PyDataset, a generator or an iterable of "
                                 f"batches); received {type(validation_data).__name__}.")
            else:
                val = self._batches(*validation_data[:2], validation_data[2] if len(validation_data) == 3 else None,
                                    None, batch_size=validation_batch_size or batch_size, steps=validation_steps,
                                    method="fit", steps_argument="validation_steps", argument="validation_data")
        train_step = self._train_step
        if on_dask:
            from rnnlab.distributed import dask_fit  # imports Dask

            train, train_step, split_val = dask_fit.training_plan(
                self, x, y, sample_weight, class_weight, batch_size=batch_size, shuffle=shuffle,
                steps_per_epoch=steps_per_epoch, validation_split=0.0 if validation_data is not None else
                validation_split, validation_batch_size=validation_batch_size, validation_steps=validation_steps)
            if split_val is not None:
                val, val_step = split_val, self._record_test
        elif kind is None:
            data_adapters.check_arrays(x)
            xs, ys, sw, n = self._prepare(x, y, sample_weight)
            if validation_split and validation_data is None:
                (xs, ys, sw), val = self._split_validation(xs, ys, sw, n, validation_split,
                                                           validation_batch_size or batch_size, validation_steps)
            sw = self._sample_weights(xs[0].shape[0], sw, class_weight, ys)  # as Keras: on the training rows only
            train = data_adapters.ArrayBatches(xs, ys, sw, batch_size, shuffle=shuffle, steps=steps_per_epoch,
                                               rng=make_rng(None), steps_argument="steps_per_epoch")
        else:
            train = self._batches(x, y, sample_weight, class_weight, batch_size=batch_size, steps=steps_per_epoch,
                                  method="fit", shuffle=shuffle, steps_argument="steps_per_epoch")
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose, epochs=epochs,
                           steps=train.num_batches, model=self)
        self.stop_training = False
        train.reset()
        cbs.on_train_begin()
        initial_epoch = self._initial_epoch or initial_epoch
        logs = {}
        global_step = 0
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            train.begin_epoch()
            steps_done = 0
            for step, batch in enumerate(train.epoch()):
                cbs.on_train_batch_begin(step)
                with random.keyed_draws(random_layers, keys, global_step):
                    train_step(*batch)
                global_step += 1
                steps_done += 1
                logs = self._logs()
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            train.end_epoch()
            if steps_done == 0 and train.ran_out:  # an iterable with nothing left: no epoch to report
                break
            epoch_logs = dict(logs) if steps_done else {}  # an epoch without data reports nothing, as Keras
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_batches(val, val_step, cbs)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training or train.ran_out:
                break
        cbs.on_train_end(logs)
        return self.history

    @staticmethod
    def _split_validation(xs, ys, sw, n, validation_split, batch_size, steps):
        """Keras's ``validation_split``: the LAST samples validate.  Returns the training arrays and the
        validation batches."""
        if not 0 < validation_split < 1:
            raise ValueError(f"Argument `validation_split` must be in (0, 1); received {validation_split!r}.")
        split_at = int(math.floor(n * (1.0 - validation_split)))
        if split_at in (0, n):
            raise ValueError(f"validation_split={validation_split} leaves no samples for training or validation "
                             f"out of {n}.")
        val = data_adapters.ArrayBatches([a[split_at:] for a in xs], [a[split_at:] for a in ys],
                                         None if sw is None else sw[split_at:], batch_size, steps=steps,
                                         steps_argument="validation_steps")
        train = [a[:split_at] for a in xs], [a[:split_at] for a in ys], None if sw is None else sw[:split_at]
        return train, val

    def _evaluate_batches(self, data, step, callbacks):
        """Validation metrics over ``data``, each batch scored by ``step`` (the epoch's training logs were taken
        before this resets them).  As Keras's ``fit``, the fit's ``callbacks`` see the ``on_test_*`` hooks."""
        self.reset_metrics()
        data.reset()
        callbacks.on_test_begin()
        data.begin_epoch()
        seen = 0
        for b, batch in enumerate(data.epoch()):
            callbacks.on_test_batch_begin(b)
            step(*batch)
            seen += 1
            callbacks.on_test_batch_end(b, self._logs())
        data.end_epoch()
        logs = self._logs() if seen else {}  # a stream with nothing left (it warned): no val_ logs
        callbacks.on_test_end(logs)
        return logs

    def _predict_data(self, x, verbose="auto", steps=None, callbacks=None):
        """``predict`` on a data object: the model's outputs on each batch's ``x``, joined along the batch axis."""
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}.")
        data = data_adapters.DataBatches(x, lambda bx, by, bsw: self._standardize_inputs(bx), steps=steps,
                                         steps_argument="steps")
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=data.num_batches,
                           model=self)
        cbs.on_predict_begin()
        data.begin_epoch()
        pieces = []
        for b, xs in enumerate(data.epoch()):
            cbs.on_predict_batch_begin(b)
            pieces.append(nest.flatten(self._predict_batch(xs)))
            cbs.on_predict_batch_end(b, None)
        data.end_epoch()
        cbs.on_predict_end()
        merged = [np.concatenate([p[i] for p in pieces], axis=0) for i in range(len(pieces[0]))]
        return nest.pack_like(self._outputs_struct, merged) if nest.is_nested(self._outputs_struct) \
            else merged[0]
