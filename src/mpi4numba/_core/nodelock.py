"""Node-local locks by which the ranks of a node compile a cached function once.

A lock is a file in a private directory (``$TMPDIR/mpi4numba-locks-<uid>``, or
``MPI4NUMBA_LOCK_DIR``), named by a hash of what it protects, held with ``flock``: the
kernel drops it when its process ends, so a crashed compile never blocks the others for long.

On a shared login node another user could create the directory first (and hold every
lock) or plant symbolic links under the predictable names. So the directory is made
``0700``, used only when this user owns it and no one else may write to it (a refused
directory gives one warning and falls back to ``$XDG_RUNTIME_DIR``, or to no coordination),
and lock files are opened without following symbolic links.

The holder of a lock may write one mark into its file: that it is starting MPI (``MPI_Init``
waits for every rank of the job). A waiter that sees the mark starts MPI too instead of
waiting for a holder that waits for it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_DIR_ENV = "MPI4NUMBA_LOCK_DIR"
WAIT_ENV = "MPI4NUMBA_COMPILE_WAIT"  # seconds a rank waits for another's compile (default 600)
STARTING_MPI = b"M"

# a problem that turns compile-once off in this process: said once (see numbacache)
Report = Callable[[str], None]


@dataclass
class Lock:
    path: str
    fd: int
    waited: bool  # another process held it first


def wait_limit() -> float:
    value = os.environ.get(WAIT_ENV, "600")
    try:
        return float(value)
    except ValueError:  # float's own message would not say which setting is wrong
        raise ValueError(f"mpi4numba: {WAIT_ENV} must be a number of seconds, not {value!r}") from None


def _candidates() -> list[str]:
    chosen = os.environ.get(LOCK_DIR_ENV)
    if chosen:
        return [chosen]
    folders = [os.path.join(tempfile.gettempdir(), f"mpi4numba-locks-{os.getuid()}")]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        folders.append(os.path.join(runtime, "mpi4numba-locks"))
    return folders


def _unsafe(folder: str) -> str | None:
    """Why ``folder`` (created ``0700`` if missing) must not hold this user's locks, or None."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        return f"cannot create {folder}: {exc.strerror or exc}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a directory"
    if info.st_uid != os.getuid():
        return f"{folder} belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write to {folder} (mode {stat.S_IMODE(info.st_mode):o})"
    return None


_chosen: dict[tuple[str, ...], tuple[str | None, list[str]]] = {}


def directory() -> tuple[str | None, list[str]]:
    """``(folder, refused)``: the lock directory of this user on this node (None if no
    candidate is safe), and why each candidate before it was refused."""
    candidates = tuple(_candidates())
    if candidates not in _chosen:
        refused = []
        for folder in candidates:
            reason = _unsafe(folder)
            if reason is None:
                _chosen[candidates] = folder, refused
                break
            refused.append(reason)
        else:
            _chosen[candidates] = None, refused
    return _chosen[candidates]


def lock_path(folder: str, *names: str) -> str:
    key = "\0".join(names)
    return os.path.join(folder, hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")


def _open(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        raise PermissionError(f"{path} is not a regular file of this user")
    return fd


def acquire(
    path: str, wait: bool, report: Report, on_mark: Callable[[], None] | None = None
) -> tuple[Lock | None, bool]:
    """``(lock or None, waited)``. With ``wait``, waits for the holder (at most
    ``MPI4NUMBA_COMPILE_WAIT`` seconds), calling ``on_mark`` once if the holder marks that it
    is starting MPI; without, gives up at once if another process holds it."""
    if fcntl is None:
        report("no flock on this system")
        return None, False
    try:
        fd = _open(path)
    except OSError as exc:
        report(f"cannot open a lock file: {exc}")
        return None, False
    deadline = time.monotonic() + wait_limit()
    delay, waited, marked = 0.002, False, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait or time.monotonic() > deadline:
                os.close(fd)
                return None, waited
            waited = True
            if on_mark is not None and not marked and os.pread(fd, 1, 0) == STARTING_MPI:
                marked = True
                on_mark()
            time.sleep(delay)
            # a waiter notices the release at most this late, and all of a node's waiters
            # then meet in the function's first collective: keep it short (a poll is two
            # system calls)
            delay = min(delay * 1.5, 0.01)
            continue
        except OSError as exc:
            os.close(fd)
            report(f"flock failed: {exc}")
            return None, False
        os.ftruncate(fd, 0)  # a mark left by a process that died holding it
        return Lock(path, fd, waited), waited


def mark_starting_mpi(lock: Lock) -> None:
    os.pwrite(lock.fd, STARTING_MPI, 0)


def release(lock: Lock) -> None:
    try:
        os.ftruncate(lock.fd, 0)
        fcntl.flock(lock.fd, fcntl.LOCK_UN)
    finally:
        os.close(lock.fd)
