"""``TensorBoard``: training logs as TensorBoard event files, in Keras 3's layout, written by ``tensorboardX``.

rnnlab writes no protobuf itself: the event files, their records and their summaries come from the
``tensorboardX`` package (``pip install rnnlab[tensorboard]``), imported when a ``TensorBoard`` is made (it
imports PyTorch too when PyTorch is installed): its ``SummaryWriter`` writes the scalars and histograms, and its
protobuf classes carry the model config.

Layout (as Keras 3 on TensorFlow writes it), under ``log_dir``:

- ``train/``: ``epoch_<metric>`` for each training log at step ``epoch`` (``epoch_loss``, ``epoch_accuracy``...),
  ``epoch_learning_rate``, ``epoch_steps_per_second`` (with ``write_steps_per_second``); with ``update_freq`` a
  number of batches (or ``"batch"``, 1), ``batch_<metric>`` (and ``batch_steps_per_second``) at the global batch
  count whenever it is a multiple of it; with ``histogram_freq``, ``<weight path>/histogram`` for every weight
  every that many epochs; with ``write_graph``, the model's Keras config under the tag ``keras`` (TensorBoard's
  "conceptual graph").
- ``validation/``: ``epoch_<metric>`` for each ``val_`` log (without the prefix) and
  ``evaluation_<metric>_vs_iterations`` at the optimizer's iteration count, at the end of each validation (and of
  ``evaluate`` with the callback).

Where rnnlab differs: scalars are TensorBoard's classic scalar values and histograms its classic histograms
(``tensorboardX``'s encoding; Keras's TensorFlow writes tensors), which TensorBoard shows the same way; there is no
TensorFlow op graph to write (``write_graph`` writes the Keras model config, which is the conceptual graph); and
the epoch summaries are written every epoch, whereas Keras 3.15 on TensorFlow leaves them out when
``update_freq`` is a number of batches that does not divide the batch count.
"""
from __future__ import annotations

import json
import numbers
import os
import time
import warnings

import numpy as np

from rnnlab.callbacks.callback import Callback

#: how the callback's error names the extra that brings ``tensorboardX``
INSTALL_HINT = "pip install rnnlab[tensorboard]"


def tensorboardx():
    """The ``tensorboardX`` module, or ``ImportError`` naming the extra that installs it."""
    try:
        import tensorboardX
    except ImportError:
        raise ImportError(
            "The TensorBoard callback writes its event files with the `tensorboardX` package, which is not "
            f"installed. Install rnnlab's TensorBoard extra: `{INSTALL_HINT}` (or `pip install tensorboardX`)."
        ) from None
    return tensorboardX


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _unsupported(argument, value, why):
    return ValueError(f"Argument `{argument}` {why}; received {argument}={value!r}.")


class TensorBoard(Callback):
    """Write the logs of ``fit`` (and ``evaluate``) as TensorBoard event files, with Keras 3's arguments.

    ``log_dir``: the run folder (``train/`` and ``validation/`` go inside).  ``histogram_freq``: every how many
    epochs to write each weight's histogram (0: never).  ``write_graph``: write the model's Keras config (the
    conceptual graph).  ``write_steps_per_second``: also log the training speed.  ``update_freq``: ``"epoch"``,
    ``"batch"`` or a number of batches between batch-level summaries.  ``write_images``, ``profile_batch`` and
    ``embeddings_freq`` need TensorFlow's image summaries, profiler or checkpoints: only their off values are
    accepted (anything else raises ``ValueError``).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(f"Argument `log_dir` must be a path; received log_dir={log_dir!r}.")
        if not _is_int(histogram_freq) or histogram_freq < 0:
            raise ValueError(f"Argument `histogram_freq` must be an integer >= 0; received "
                             f"histogram_freq={histogram_freq!r}.")
        for argument, value in (("write_graph", write_graph), ("write_images", write_images),
                                ("write_steps_per_second", write_steps_per_second)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"Argument `{argument}` must be a bool; received {argument}={value!r}.")
        if update_freq not in ("epoch", "batch") and (not _is_int(update_freq) or update_freq < 1):
            raise ValueError("Argument `update_freq` must be 'epoch', 'batch' or an integer >= 1 (a number of "
                             f"batches); received update_freq={update_freq!r}.")
        if write_images:
            raise _unsupported("write_images", write_images, "needs TensorFlow's image summaries and is not "
                               "supported by rnnlab (use write_images=False; histogram_freq writes the weights)")
        if profile_batch not in (0, (0, 0), [0, 0], "0", "0,0"):
            raise _unsupported("profile_batch", profile_batch, "needs TensorFlow's profiler and is not supported "
                               "by rnnlab (use profile_batch=0)")
        if embeddings_freq != 0 or embeddings_metadata is not None:
            raise _unsupported("embeddings_freq" if embeddings_freq != 0 else "embeddings_metadata",
                               embeddings_freq if embeddings_freq != 0 else embeddings_metadata,
                               "needs TensorFlow checkpoints for the projector and is not supported by rnnlab "
                               "(use embeddings_freq=0 and embeddings_metadata=None)")
        self._tbx = tensorboardx()  # after the checks: a bad argument is reported with or without the extra
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = False
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = 0
        self.embeddings_metadata = None
        self._writers = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._batch_start_time = 0.0
        self._epoch_start_time = 0.0

    # -- writers -------------------------------------------------------------------------------------------------

    def _writer(self, run):
        """The event-file writer of ``run`` (``"train"`` or ``"validation"``), made on first use."""
        if run not in self._writers:
            self._writers[run] = self._tbx.SummaryWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _scalar(self, run, tag, value, step):
        array = np.asarray(value)
        if array.size != 1:
            raise ValueError(f"TensorBoard writes scalars, and the log {tag!r} holds an array of shape "
                             f"{array.shape} (a metric with several thresholds, or F1Score without `average`?).")
        self._writer(run).add_scalar(tag, float(array.reshape(())), int(step))

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- the model -----------------------------------------------------------------------------------------------

    def set_model(self, model):
        self._model = model
        self._close_writers()
        if self.write_graph:
            self._write_keras_model_summary()

    def _write_keras_model_summary(self):
        """The model's Keras config as Keras's ``keras_model_summary`` writes it: tag ``keras``, step 0, a string
        tensor for TensorBoard's ``graph_keras_model`` plugin.  As Keras, only for a functional or Sequential
        model (a subclassed one has no config to draw), and a model whose config cannot be written gives a
        warning."""
        model = self.model
        if model is None or getattr(model, "_subclassed", True) or not hasattr(model, "_keras_object"):
            return
        try:
            model_json = json.dumps(model._keras_object())
        except Exception as exc:  # noqa: BLE001 - as Keras: the graph is optional, say why it is missing
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}", stacklevel=3)
            return
        proto = self._tbx.proto.summary_pb2
        tensor_pb2, shape_pb2 = self._tbx.proto.tensor_pb2, self._tbx.proto.tensor_shape_pb2
        metadata = proto.SummaryMetadata(plugin_data=proto.SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = tensor_pb2.TensorProto(dtype="DT_STRING", string_val=[model_json.encode("utf-8")],
                                        tensor_shape=shape_pb2.TensorShapeProto())
        summary = proto.Summary(value=[proto.Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        writer = self._writer("train")
        writer.file_writer.add_summary(summary, 0)
        writer.flush()

    # -- hooks ---------------------------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations"):
            for name, value in (logs or {}).items():
                self._scalar("validation", f"evaluation_{name}_vs_iterations", value, optimizer.iterations)
            if logs:
                self._writer("validation").flush()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        step = self._global_train_batch
        if self.write_steps_per_second:
            self._scalar("train", "batch_steps_per_second", 1.0 / max(time.time() - self._batch_start_time, 1e-9),
                         step)
        for name, value in (logs or {}).items():
            self._scalar("train", f"batch_{name}", value, step)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = self.model.optimizer.iterations
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    # -- what an epoch writes ------------------------------------------------------------------------------------

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k[len("val_"):]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train_logs["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            elapsed = max(time.time() - self._epoch_start_time, 1e-9)
            train_logs["steps_per_second"] = (optimizer.iterations - self._previous_epoch_iterations) / elapsed
        for name, value in train_logs.items():
            self._scalar("train", f"epoch_{name}", value, epoch)
        for name, value in val_logs.items():
            self._scalar("validation", f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch):
        """``<Keras path of the weight>/histogram`` for every weight of every layer, as Keras names them."""
        paths = self.model._keras_variable_paths() if hasattr(self.model, "_keras_variable_paths") else {}
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                tag = f"{paths.get(id(weight), weight.path).replace(':', '_')}/histogram"
                writer.add_histogram(tag, np.asarray(weight.value, dtype=np.float64), epoch)
        writer.flush()
