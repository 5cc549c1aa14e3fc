"""Where the progress bar is shown as written (terminal, notebook, PyCharm), it is coloured so that it advances;
elsewhere it is Keras's text without colour codes (``rnnlab.utils.progbar.dynamic_display``)."""
import io
import sys

import pytest

from rnnlab.utils import Progbar
from rnnlab.utils.progbar import dynamic_display

QUARTER = "\x1b[32m" + "\u2501" * 5 + "\x1b[0m\x1b[37m" + "\u2501" * 15 + "\x1b[0m"


class Terminal(io.StringIO):
    def isatty(self):
        return True


class ClosedTerminal(io.StringIO):
    def isatty(self):
        raise ValueError("I/O operation on closed file")


# a stand-in for ipykernel's output stream, the ``sys.stdout`` of a notebook's kernel
KernelStream = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream", "isatty": lambda self: False})


@pytest.mark.parametrize("stream,expected", [(Terminal(), True), (KernelStream(), True), (io.StringIO(), False),
                                             (ClosedTerminal(), False)])
def test_dynamic_display_follows_the_stream(stream, expected, monkeypatch):
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    assert dynamic_display(stream) is expected
    monkeypatch.setattr(sys, "stdout", stream)
    assert dynamic_display() is expected


def test_pycharm_console_and_imported_ipykernel(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel", sys))
    assert not dynamic_display()  # a process that merely imported ipykernel still writes to a plain stream
    monkeypatch.setenv("PYCHARM_HOSTED", "1")
    assert dynamic_display()
    assert not dynamic_display(io.StringIO())  # an explicit stream is judged by itself


@pytest.mark.parametrize("stream_type,coloured", [(KernelStream, True), (io.StringIO, False)])
def test_the_bar_advances_where_the_display_is_dynamic(stream_type, coloured, monkeypatch):
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    stream = stream_type()
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(4, interval=0)
    bar.update(1, [("loss", 0.5)])
    assert (QUARTER in stream.getvalue()) is coloured
    if not coloured:
        assert stream.getvalue().startswith("\r1/4 " + "\u2501" * 20 + " ")
