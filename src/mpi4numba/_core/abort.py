"""A failing process ends the whole MPI job instead of hanging the others.

Installed when mpi4numba is imported (MPI need not be initialised yet), for jobs of
several processes:

* an uncaught exception (in Python or raised from njit code, before or after MPI is
  initialised) prints the traceback labelled with the rank and calls ``MPI_Abort``; a
  process that fails before ``MPI_Init`` initialises MPI first, joining the processes that
  wait for it there;
* ``sys.exit(status)`` with a status other than 0 aborts the job with that status (the
  others may be waiting for this process in a collective, and ``MPI_Finalize`` would wait
  for them);
* with ``MPI4NUMBA_EXIT_TIMEOUT=<seconds>``, a process that ends normally waits that long
  for every process to end too, and aborts the job if they do not: a process that skipped
  a collective the others wait in, or one that is stuck, would otherwise hang the job. It
  is off by default: MPI cannot tell a stuck process from one that still works (writing
  results at the end, say), and aborting that one would lose its work.

``MPI4NUMBA_ABORT_ON_ERROR=0`` keeps the reports and skips the aborts. ``python -m
mpi4numba`` (see :mod:`mpi4numba._tools.run`) also catches failures before mpi4numba is
imported and ``raise SystemExit(status)``.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import os
import stat
import sys
import time
import traceback
from typing import Any

from . import launchers

ABORT_ENV = "MPI4NUMBA_ABORT_ON_ERROR"
EXIT_TIMEOUT_ENV = "MPI4NUMBA_EXIT_TIMEOUT"
# A rank that fails before MPI_Init initialises MPI only to abort the job. If the other
# ranks never initialise MPI, that initialisation cannot complete (it waits for them at
# the launcher); this watchdog then ends the process with status 1 instead.
INIT_WATCHDOG_S = 60.0
# How long a failing rank waits for the launcher to read its report before aborting.
READ_WAIT_S = 2.0

_exit_status_asked: int | None = None  # what sys.exit() was called with


def world() -> tuple[int, int, Any]:
    """(rank, size, mpi4py's MPI module if MPI is usable) as seen now, without initialising MPI."""
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized():
        return MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size(), MPI
    launch = launchers.detect_launch()
    return launch.rank or 0, launch.size or 1, None


def exit_status(code: object) -> int:
    """The process exit status ``sys.exit(code)`` gives, printing a message code as Python does."""
    if code is None:
        return 0
    if isinstance(code, int):  # bool too
        return int(code)
    sys.stderr.write(f"{code}\n")
    return 1


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream must not stop the abort
            stream.flush()


def unread_bytes(fd: int) -> int:
    """How many bytes written to ``fd`` its reader has not read yet: the pipe's fill (Linux
    answers FIONREAD on either end); 0 for anything that is not a pipe or cannot say."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return 0
        import fcntl
        import termios
        from array import array

        count = array("i", [0])
        fcntl.ioctl(fd, termios.FIONREAD, count, True)
    except (OSError, ImportError, AttributeError):
        return 0
    return max(count[0], 0)


def wait_until_read(fds: tuple[int, ...] = (1, 2), limit_s: float = READ_WAIT_S) -> bool:
    """Wait, at most ``limit_s``, until the launcher has read what this process wrote to the
    pipes ``fds``; True if it has.

    The launcher forwards a process's output and its ``MPI_Abort`` on separate channels;
    once the abort arrives it may kill the job before it reads the pipe (MPICH's Hydra did,
    now and then, under load), losing the report that says which rank failed and why.
    Aborting only after the pipe is read puts the report ahead of the abort.

    >>> import os
    >>> from mpi4numba._core.abort import wait_until_read
    >>> reader, writer = os.pipe()
    >>> _ = os.write(writer, b"report")
    >>> wait_until_read((writer,), limit_s=0.01)  # nobody reads: gives up after 10 ms
    False
    >>> _ = os.read(reader, 6)
    >>> wait_until_read((writer,))
    True
    """
    deadline = time.monotonic() + limit_s
    for fd in fds:
        while unread_bytes(fd) > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
    return True


def end_job(status: int, reason: str, text: str = "") -> int:
    """Report a failure of this rank and abort the MPI job if it has several processes.

    ``text`` (a traceback) is printed with each line labelled by the rank. Returns
    ``status`` when there is nothing to abort (one process, or aborting switched off).

    >>> import os
    >>> from unittest import mock
    >>> from mpi4numba._core.abort import ABORT_ENV, end_job
    >>> with mock.patch.dict(os.environ, {ABORT_ENV: "0"}):  # report on stderr, abort nothing
    ...     end_job(3, "exited with status 3")
    3
    """
    rank, size, MPI = world()
    if size <= 1:
        sys.stderr.write(text)
        flush()
        return status
    abort = os.environ.get(ABORT_ENV, "1") != "0"
    header = f"{reason}, aborting the MPI job:" if abort else f"{reason}:"
    label = f"[rank {rank}] "
    lines = [header, *text.splitlines()] if text else [header.rstrip(":")]
    sys.stderr.write("".join(f"{label}{line}\n" for line in lines))
    flush()  # MPI_Abort kills the process: Python's buffers would be lost
    if not abort:
        return status
    if MPI is None:
        if "mpi4py.MPI" in sys.modules and sys.modules["mpi4py.MPI"].Is_finalized():
            return status  # too late to abort; the launcher sees the status
        devnull = open(os.devnull, "w")  # noqa: SIM115 (kept open for the watchdog thread)
        faulthandler.dump_traceback_later(INIT_WATCHDOG_S, exit=True, file=devnull)
        from mpi4py import MPI  # initialises MPI, joining the ranks that are waiting for this one

        if not MPI.Is_initialized():  # the program had turned mpi4py's initialisation off
            MPI.Init()
    wait_until_read()
    MPI.COMM_WORLD.Abort(status if 0 < status < 256 else 1)
    return status  # not reached: MPI_Abort does not return


def _excepthook(previous):
    def hook(kind, value, tb):
        if kind is not KeyboardInterrupt and world()[1] > 1:
            text = "".join(traceback.format_exception(kind, value, tb))
            end_job(1, "unhandled exception", text)  # returns only if aborting is switched off
            return None
        return previous(kind, value, tb)

    hook._mpi4numba = True  # type: ignore[attr-defined]
    return hook


def _recording_exit(original):
    def exit(status=None):
        global _exit_status_asked
        _exit_status_asked = 0 if status is None else int(status) if isinstance(status, int) else 1
        original(status)

    exit._mpi4numba = True  # type: ignore[attr-defined]
    exit.__doc__ = original.__doc__
    return exit


def _at_exit() -> None:
    """Before mpi4py's MPI_Finalize: abort on a non-zero ``sys.exit``, and (if asked) wait
    a bounded time for every process to end."""
    rank, size, MPI = world()
    if MPI is None or size <= 1:
        return
    if _exit_status_asked:
        end_job(_exit_status_asked, f"exited with status {_exit_status_asked}")
        return
    timeout = float(os.environ.get(EXIT_TIMEOUT_ENV) or 0)
    if timeout <= 0:
        return
    ended = MPI.COMM_WORLD.Ibarrier()
    deadline = time.monotonic() + timeout
    while not ended.Test():
        if time.monotonic() > deadline:
            end_job(
                1,
                f"reached the end of the program, but not every process did within {timeout:g} s "
                f"({EXIT_TIMEOUT_ENV}): one may wait in a collective this one skipped, or be stuck",
            )
            return
        time.sleep(0.001)


_registered = False


def register_exit_check() -> None:
    """Register the check at exit; called once MPI is initialised, so that it runs before
    mpi4py's MPI_Finalize (exit handlers run last registered first)."""
    global _registered
    if not _registered:
        _registered = True
        atexit.register(_at_exit)


def install() -> None:
    """The exception hook and the exit-status record (once per process)."""
    if not getattr(sys.excepthook, "_mpi4numba", False):
        sys.excepthook = _excepthook(sys.excepthook)
    if not getattr(sys.exit, "_mpi4numba", False):
        sys.exit = _recording_exit(sys.exit)
    if "mpi4py.MPI" in sys.modules:
        register_exit_check()
