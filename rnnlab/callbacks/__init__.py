"""Keras 3 training callbacks: ``Callback``, ``CallbackList`` and the standard callbacks.

One job per module:

- ``callback``: the ``Callback`` base class and its hooks;
- ``callback_list``: ``CallbackList``, which calls every hook on every callback (how ``fit`` drives them);
- ``history``: ``History``, the epoch logs ``fit`` returns;
- ``progbar_logger``: ``ProgbarLogger``, the progress output of ``fit`` and ``evaluate``, printed by
  :class:`rnnlab.utils.Progbar` (also ``predict``'s bar);
- ``monitor``: the callbacks that watch a metric across epochs, ``EarlyStopping`` and ``ReduceLROnPlateau``;
- ``model_checkpoint``: ``ModelCheckpoint``; ``backup_and_restore``: ``BackupAndRestore``; both write files at
  ``save_freq`` (``save_frequency``);
- ``csv_logger``, ``terminate_on_nan``, ``lambda_callback``: ``CSVLogger``, ``TerminateOnNaN``, ``LambdaCallback``;
- ``learning_rate_scheduler``: ``LearningRateScheduler``;
- ``tensorboard``: ``TensorBoard`` (event files through the optional ``tensorboardX``, imported when one is made).

Every public name is importable from here, as ``keras.callbacks.EarlyStopping`` is in Keras.
"""
from rnnlab.callbacks.backup_and_restore import BackupAndRestore
from rnnlab.callbacks.callback import Callback
from rnnlab.callbacks.callback_list import CallbackList
from rnnlab.callbacks.csv_logger import CSVLogger
from rnnlab.callbacks.history import History
from rnnlab.callbacks.lambda_callback import LambdaCallback
from rnnlab.callbacks.learning_rate_scheduler import LearningRateScheduler
from rnnlab.callbacks.model_checkpoint import ModelCheckpoint
from rnnlab.callbacks.monitor import EarlyStopping, ReduceLROnPlateau
from rnnlab.callbacks.progbar_logger import ProgbarLogger
from rnnlab.callbacks.tensorboard import TensorBoard
from rnnlab.callbacks.terminate_on_nan import TerminateOnNaN
from rnnlab.utils.progbar import Progbar

__all__ = [
    "Callback",
    "CallbackList",
    "History",
    "Progbar",
    "ProgbarLogger",
    "EarlyStopping",
    "ModelCheckpoint",
    "BackupAndRestore",
    "TerminateOnNaN",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    "LearningRateScheduler",
    "TensorBoard",
]
