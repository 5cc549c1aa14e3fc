"""``BackupAndRestore``: resume an interrupted ``fit`` where its last backup left it (weights, optimizer state and
epoch), as Keras's callback of that name does."""
from __future__ import annotations

import json
import os
import shutil

from rnnlab.callbacks.callback import Callback
from rnnlab.callbacks.save_frequency import SaveFrequency
from rnnlab.utils.atomic import atomic_write

#: A backup's training metadata is a small JSON object; anything larger is not one.
MAX_METADATA_BYTES = 1 << 16


class BackupAndRestore(Callback):
    """Back up the training state into ``backup_dir`` and restore it when ``fit`` starts again.

    At the end of each epoch (or every ``save_freq`` batches) the model's weights and its optimizer's state go to
    ``backup_dir/latest.weights.h5`` (Keras's weights file, written atomically) and the number of finished epochs
    to ``backup_dir/training_metadata.json``.  When ``fit`` begins and a backup exists, the weights and the
    optimizer's state are loaded and training continues from the first unfinished epoch (a backup taken mid-epoch
    restarts that epoch from its first batch, with the mid-epoch weights, as Keras does).  ``double_checkpoint``
    keeps the previous backup too (``.bkp``) and falls back to it when the latest cannot be read;
    ``delete_checkpoint`` removes ``backup_dir`` when ``fit`` completes.  The directory must serve this one
    training run alone.  Resuming gives the uninterrupted run's numbers when the run is repeatable: no shuffling
    (``shuffle=False``) and no dropout, since neither the shuffle order nor the random draws are backed up (nor are
    they in Keras).  One difference from Keras: a backup taken mid-epoch in a resumed run, before it finishes an
    epoch, records the epochs finished before the restart, where Keras's records none, so that a second restart
    does not repeat them.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"Argument `backup_dir` must be a path; received {type(backup_dir).__name__}.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self._frequency = SaveFrequency(save_freq, f"Invalid value for argument `save_freq`. Received: "
                                                   f"save_freq={save_freq}. Expected either 'epoch' or an integer "
                                                   "value.")
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._current_epoch = 0
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = f"{self._weights_path}.bkp"
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"

    # ------------------------------------------------------------------------------------------- restoring
    def on_train_begin(self, logs=None):
        try:
            self._load_model()
        except (OSError, ValueError):  # a damaged backup: the previous one, when it was kept
            if not os.path.exists(self._prev_weights_path):
                raise
            shutil.copyfile(self._prev_weights_path, self._weights_path)
            if os.path.exists(self._prev_training_metadata_path):
                shutil.copyfile(self._prev_training_metadata_path, self._training_metadata_path)
            elif os.path.exists(self._training_metadata_path):
                os.remove(self._training_metadata_path)
            self._load_model()

    def _load_model(self):
        model = self.model
        if not model.built:
            raise ValueError("To use the BackupAndRestore callback, your model must be built before you call "
                             f"`fit()`. Model {model.name!r} is unbuilt. You can build it beforehand by calling it "
                             "on a batch of data.")
        if os.path.exists(self._weights_path):
            optimizer = getattr(model, "optimizer", None)
            if optimizer is not None and not optimizer.built:  # so that the backup's optimizer state loads into it
                optimizer.build(model.trainable_weights)
            model.load_weights(self._weights_path)
        if os.path.exists(self._training_metadata_path):
            # the finished epochs of the restored run count on: a mid-epoch backup taken before this run finishes
            # an epoch records them (Keras's callback records 0 then, and a second restart repeats every epoch)
            model._initial_epoch = self._current_epoch = self._read_epoch()

    def _read_epoch(self):
        path = self._training_metadata_path
        with open(path, "rb") as f:
            data = f.read(MAX_METADATA_BYTES + 1)
        if len(data) > MAX_METADATA_BYTES:
            raise ValueError(f"File {path!r} is not a BackupAndRestore metadata file: it holds more than "
                             f"{MAX_METADATA_BYTES:,} bytes.")
        try:
            metadata = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"File {path!r} is not a BackupAndRestore metadata file: {exc}.") from None
        epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"File {path!r}: expected a JSON object whose 'epoch' is a non-negative integer; "
                             f"received {metadata!r:.200}.")
        return epoch

    # ------------------------------------------------------------------------------------------- backing up
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._frequency.last_batch = None
        if self.save_freq == "epoch":
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        if self._frequency.batch_due(batch):
            self._save_model()

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path, previous in ((self._weights_path, self._prev_weights_path),
                                   (self._training_metadata_path, self._prev_training_metadata_path)):
                if os.path.exists(path):
                    with open(path, "rb") as src, atomic_write(previous) as dst:
                        shutil.copyfileobj(src, dst)
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._frequency.last_batch or 0}
        with atomic_write(self._training_metadata_path) as f:
            f.write(json.dumps(metadata).encode("utf-8"))

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
