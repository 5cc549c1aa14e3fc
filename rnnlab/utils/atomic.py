"""Atomic file writes: write a temporary file beside the target, flush it to disk, then rename it over the
target. A failure half-way leaves the previous file untouched.

What the saved file looks like afterwards, as if it had been written in place with ``open(path, "wb")``:

* a new file gets the mode ``open()`` would give it under the current umask (``0o666 & ~umask``); a file that
  is replaced keeps its mode;
* a symlink is written through: its target is replaced and the link stays a link.

The temporary file is named ``.<name>.rnnlab-<pid>-<random>.tmp`` and its writer holds an exclusive ``flock``
on it while writing.  A writer killed half-way (``kill -9``, a preempted job) leaves it behind; the next save
into the same folder removes every such leftover whose writer is gone: its pid no longer runs and its lock is
free.  Both must hold, so a live writer's file is never touched, even after a pid is reused or on a shared
folder.  Where ``fcntl`` is missing (Windows) leftovers are left alone.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["atomic_write", "remove_stale_temporaries", "TEMP_PATTERN"]

#: The name of a temporary file, with the writer's pid as group 1.
TEMP_PATTERN = re.compile(r"^\..+\.rnnlab-(\d+)-[0-9a-f]{16}\.tmp$")


def _resolve_target(path):
    """The file a write to ``path`` must replace: a symlink's final target, the path itself otherwise."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _pid_running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OverflowError:  # not a pid this system can have
        return False
    return pid > 0


def _lock_is_free(fd):
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def remove_stale_temporaries(directory):
    """Delete the temporary files in ``directory`` left by atomic writes whose writer died; returns their names."""
    if fcntl is None:
        return []
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = TEMP_PATTERN.match(name)
        if match is None or int(match.group(1)) == os.getpid() or _pid_running(int(match.group(1))):
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _lock_is_free(fd):  # the writer's lock died with it; holding it now, nobody else can start
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                removed.append(name)
        finally:
            os.close(fd)
    return removed


def _create_temporary(directory, basename):
    """A new, locked temporary file beside the target: ``(fd, path)``, mode ``0o666 & ~umask`` as ``open()``."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = os.path.join(directory, f".{basename}.rnnlab-{os.getpid()}-{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, tmp


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as f: ...`` -- ``path`` appears (or is replaced) only if the block succeeds."""
    target = _resolve_target(os.fspath(path))
    directory = os.path.dirname(os.path.abspath(target))
    remove_stale_temporaries(directory)
    try:
        keep_mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        keep_mode = None
    fd, tmp = _create_temporary(directory, os.path.basename(target))
    try:
        if keep_mode is not None:
            os.fchmod(fd, keep_mode) if hasattr(os, "fchmod") else os.chmod(tmp, keep_mode)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, target)  # while the lock is held: no cleaner can take the file before it is in place
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
