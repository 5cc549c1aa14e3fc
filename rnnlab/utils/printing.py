"""``print_msg``: how rnnlab's progress bar and callbacks write to the terminal."""
from __future__ import annotations

import sys


def print_msg(message, line_break=True):
    """Write to the *current* ``sys.stdout`` (as Keras's ``io_utils.print_msg``) and flush."""
    message = f"{message}\n" if line_break else str(message)
    stream = sys.stdout
    try:
        stream.write(message)
    except UnicodeEncodeError:
        message = message.replace("\u2501", "=")
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(message.encode(encoding, errors="ignore").decode(encoding))
    stream.flush()
