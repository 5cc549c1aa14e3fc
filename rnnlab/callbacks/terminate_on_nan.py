"""``TerminateOnNaN``: stop ``fit`` at the first batch whose loss is NaN or infinite."""
from __future__ import annotations

import math

from rnnlab.callbacks.callback import Callback
from rnnlab.utils.printing import print_msg


class TerminateOnNaN(Callback):
    """Stop training when a batch's ``loss`` is NaN or infinite.

    Prints ``Batch {i}: Invalid loss, terminating training`` and sets ``model.stop_training``; with
    ``raise_error=True`` raises ``RuntimeError`` instead.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
