"""Training for models: ``compile``, ``fit``, ``evaluate``, ``train_on_batch`` and ``test_on_batch``.

One training step runs the model's training graph (:meth:`Model.forward_backward`), asks each output's loss
for its value and its gradient, backpropagates, and hands the gradients to the optimizer.  The reported
``loss`` is the batch-size-weighted mean over the epoch's batches, and metrics accumulate over the epoch, as in
Keras 3.
"""
from __future__ import annotations

import math

import numpy as np

from rnnlab import losses as losses_module
from rnnlab import metrics as metrics_module
from rnnlab import nest, optimizers
from rnnlab.callbacks import CallbackList
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


class Trainer:
    """The training half of :class:`rnnlab.Model` (mixed in; relies on its graph methods)."""

    optimizer = None
    _compiled = False
    stop_training = False
    history = None

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
        return {m.name: float(m.result()) for m in self.metrics}

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
            if sw.ndim != 1 or sw.shape[0] != n:
                raise ValueError(
                    f"Argument `sample_weight` must have shape ({n},), one weight per sample; received {sw.shape}."
                )
        if class_weight is not None:
            if len(ys) != 1:
                raise ValueError("Argument `class_weight` is only supported for models with a single output.")
            y = ys[0]
            labels = np.argmax(y, axis=-1) if (y.ndim >= 2 and y.shape[-1] > 1) else y.reshape(n, -1)[:, 0]
            labels = np.rint(labels).astype(np.int64)
            missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
            if missing:
                raise ValueError(f"Argument `class_weight` has no weight for classes {missing}.")
            cw = np.array([class_weight[int(c)] for c in labels], dtype=np.float64)
            sw = cw if sw is None else sw * cw
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

    def _train_step(self, xs, ys, sw):
        grads = {}
        inputs = xs if len(xs) > 1 else xs[0]
        outputs, backward = self.forward_backward(inputs, training=True, grads=grads)
        total, d_outputs, per_output, flat_out = self._loss_and_grads(ys, outputs, sw)
        d_struct = nest.pack_like(self._outputs_struct, d_outputs) if nest.is_nested(self._outputs_struct) \
            else d_outputs[0]
        if getattr(backward, "optional_input_grad", False):
            backward(d_struct, need_input_grad=False)  # the inputs' gradients are not needed
        else:
            backward(d_struct)
        trainable = [v for v in self.trainable_weights if v in grads]
        if trainable:
            self.optimizer.apply([grads[v] for v in trainable], trainable)
        self._update_metrics(total, per_output, ys, flat_out, sw, xs[0].shape[0])

    def _test_step(self, xs, ys, sw):
        outputs = self._run_graph(xs, [None] * len(xs), training=False)
        total, _, per_output, flat_out = self._loss_and_grads(ys, outputs, sw)
        self._update_metrics(total, per_output, ys, flat_out, sw, xs[0].shape[0])

    # -------------------------------------------------------------- public API
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One gradient step on one batch; returns the loss (and metrics) of that batch."""
        self._require_compiled("train_on_batch")
        xs, ys, sw, _ = self._prepare(x, y, sample_weight, class_weight)
        self.reset_metrics()
        self._train_step(xs, ys, sw)
        return self._result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        xs, ys, sw, _ = self._prepare(x, y, sample_weight)
        self.reset_metrics()
        self._test_step(xs, ys, sw)
        return self._result(return_dict)

    def _result(self, return_dict):
        logs = self._logs()
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss (and metrics) over the data, in batches; as Keras, a scalar or ``[loss, *metrics]``."""
        self._require_compiled("evaluate")
        xs, ys, sw, n = self._prepare(x, y, sample_weight)
        batch_size = self._check_batch_size(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        num_batches = max(1, math.ceil(n / batch_size))
        if steps is not None:
            num_batches = min(num_batches, int(steps))
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, verbose=verbose, epochs=1, steps=num_batches,
                           model=self)
        self.reset_metrics()
        cbs.on_test_begin()
        for b in range(num_batches):
            cbs.on_test_batch_begin(b)
            part = slice(b * batch_size, (b + 1) * batch_size)
            self._test_step([a[part] for a in xs], [a[part] for a in ys], None if sw is None else sw[part])
            cbs.on_test_batch_end(b, self._logs())
        logs = self._logs()
        cbs.on_test_end(logs)
        return self._result(return_dict)

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
        """Train for ``epochs`` epochs with Keras's arguments and semantics; returns the ``History``."""
        self._require_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Argument `epochs` must be a non-negative integer; received epochs={epochs!r}.")
        verbose = 1 if verbose == "auto" else verbose
        if verbose not in (0, 1, 2):
            raise ValueError(f"Argument `verbose` must be 'auto', 0, 1 or 2; received verbose={verbose!r}.")
        xs, ys, sw, n = self._prepare(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
                raise ValueError("Argument `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 f"sample_weight_val); received {type(validation_data).__name__}.")
            val = self._prepare(*validation_data[:2], validation_data[2] if len(validation_data) == 3 else None)
        elif validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"Argument `validation_split` must be in (0, 1); received {validation_split!r}.")
            split_at = int(math.floor(n * (1.0 - validation_split)))  # Keras keeps the LAST samples for validation
            if split_at in (0, n):
                raise ValueError(f"validation_split={validation_split} leaves no samples for training or validation "
                                 f"out of {n}.")
            val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys], None if sw is None else sw[split_at:],
                   n - split_at)
            xs, ys, sw, n = [a[:split_at] for a in xs], [a[:split_at] for a in ys], \
                (None if sw is None else sw[:split_at]), split_at
        steps = max(1, math.ceil(n / batch_size))
        if steps_per_epoch is not None:
            steps = min(steps, int(steps_per_epoch))
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, verbose=verbose, epochs=epochs,
                           steps=steps, model=self)
        self.stop_training = False
        rng = make_rng(None)
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else np.arange(n)
            for step in range(steps):
                cbs.on_train_batch_begin(step)
                idx = order[step * batch_size:(step + 1) * batch_size]
                self._train_step([a[idx] for a in xs], [a[idx] for a in ys], None if sw is None else sw[idx])
                logs = self._logs()
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                vx, vy, vsw, _ = val
                val_logs = self._evaluate_arrays(vx, vy, vsw, validation_batch_size or batch_size)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _evaluate_arrays(self, xs, ys, sw, batch_size):
        """Validation metrics over arrays (the epoch's training logs were taken before this resets them)."""
        self.reset_metrics()
        n = xs[0].shape[0]
        for b in range(max(1, math.ceil(n / batch_size))):
            part = slice(b * batch_size, (b + 1) * batch_size)
            self._test_step([a[part] for a in xs], [a[part] for a in ys], None if sw is None else sw[part])
        return self._logs()
