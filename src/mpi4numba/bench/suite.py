"""``suite``: OSU-style benchmarks from C, mpi4numba, mpi4py and numba-mpi, side by side.

Run::

    python -m mpi4numba.bench suite [-n 2] [--repeat 3] [--ops latency,bw,allreduce]
        [--min-size 0] [--max-size 4M] [--json F] [--csv F] [--plot F.png]
    mpiexec -n 3 python -m mpi4numba.bench suite --ops allreduce,alltoall --max-size 64K

Operations, each at message sizes 0 B .. 4 MiB in powers of two (``--min-size``,
``--max-size``), with OSU's iterations and warm-up (below; ``--iterations`` and
``--warmup`` scale them all, e.g. tiny for tests):

* ``latency`` (osu_latency): ping-pong between ranks 0 and 1, µs per half round trip.
* ``bw`` (osu_bw): rank 0 sends a window of 64 ``isend`` that rank 1 receives, then waits
  for a 4-byte acknowledgement; MB/s (10**6 bytes); from 1 B.
* ``allreduce``, ``bcast``, ``reduce``, ``allgather``, ``alltoall``, ``barrier``: each call
  timed alone with a barrier between calls, µs per call averaged over ranks (osu_allreduce
  & co.). The size is per process; reductions sum int32 elements (from 4 B; numba-mpi has
  no float32); ``barrier`` has one row.

Iterations (warm-up) per size, as in OSU: latency 10000 (100), above 8 KiB 1000 (10);
bw 100 (10) windows, above 8 KiB 20 (2); collectives 1000 (100), above 8 KiB 100 (10).

Design: all stacks run in one MPI job, so they share its MPI thread level (shown in the
header): MPI is initialised once, by mpi4numba at its level (``--thread-level``, else
``MPI4NUMBA_THREAD_LEVEL``/``MPI4PY_RC_THREAD_LEVEL``, else funneled); C is ``suite.c``
compiled with mpicc as a shared library and called through ctypes inside the job (skipped
with a note when there is no mpicc). Run without mpiexec, ``suite`` only launches that job,
``mpiexec -n N`` on itself with the same arguments, under a time limit (``--timeout``:
MPIEXEC_TIMEOUT for mpiexec, and the same limit on the subprocess), and passes its output
through. ``--repeat`` rounds run every (op, size) on each stack, the stack order rotating
from round to round so that noise hits all alike; the table shows median (min–max) over
rounds and the ratio of medians to C. Rank 0 writes the table to stdout, progress to
stderr, and ``--json``/``--csv``/``--plot`` files. With ``NUMBA_NRT_STATS=1`` the files
also give mpi4numba's heap allocations per loop iteration (``allocs_per_iteration``: 0).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

from ._launch import find_mpiexec, stop, under_mpi_launcher
from ._mpi_setup import LEVEL_NAMES
from ._suite_plan import OPS, STACKS

MAX_SIZE = 256 << 20
_SIZE = re.compile(r"(\d+)\s*(|k|m)(?:i?b)?", re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (bytes, or with K or M: 0, 64, 8K, 4M)")
    value = int(match[1]) << {"": 0, "k": 10, "m": 20}[match[2].lower()]
    if value > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"size {text!r} above the limit of {MAX_SIZE >> 20} MiB")
    return value


def _names(known: tuple[str, ...], what: str) -> Any:
    lower = {name.lower(): name for name in known}

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name.lower() not in lower]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(text)} (choose from {', '.join(known)})"
            )
        return [lower[name.lower()] for name in dict.fromkeys(names)]

    return parse


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line options of ``suite``; bad ones exit with status 2 and one line."""
    parser = _Parser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench suite",
        description="OSU-style latency, bandwidth and collective latency of C, mpi4numba, "
        "mpi4py and numba-mpi, side by side.",
    )
    parser.add_argument("-n", "--np", type=int, default=2, help="processes of the job (launcher; default 2)")
    parser.add_argument(
        "--ops",
        type=_names(OPS, "op"),
        default=list(OPS),
        help=f"comma-separated operations (default all: {','.join(OPS)})",
    )
    parser.add_argument(
        "--stacks",
        type=_names(STACKS, "stack"),
        default=list(STACKS),
        help=f"comma-separated stacks (default all available: {','.join(STACKS)})",
    )
    parser.add_argument("--min-size", type=_size, default=0, help="smallest message, bytes (default 0)")
    parser.add_argument("--max-size", type=_size, default=4 << 20, help="largest message (default 4M)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the stacks (default 3)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=10000,
        help="latency iterations for small messages (default 10000, OSU's); "
        "every other count is scaled by the same factor",
    )
    parser.add_argument(
        "--warmup", type=int, default=100, help="latency warm-up for small messages (default 100); others scaled alike"
    )
    parser.add_argument("--window", type=int, default=64, help="isends per bw iteration (default 64)")
    parser.add_argument("--thread-level", choices=LEVEL_NAMES, help="MPI thread level (default: mpi4numba's)")
    parser.add_argument("--json", metavar="FILE", help="write every result to FILE as JSON")
    parser.add_argument("--csv", metavar="FILE", help="write every result to FILE as CSV")
    parser.add_argument("--plot", metavar="FILE", help="plot latency/bandwidth vs size to FILE (matplotlib)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds allowed for the job (launcher, also as MPIEXEC_TIMEOUT; default 3600)",
    )
    options = parser.parse_args(argv)
    for name in ("np", "repeat", "iterations", "window"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if options.warmup < 0:
        parser.error("--warmup must not be negative")
    if options.min_size > options.max_size:
        parser.error(f"--min-size {options.min_size} is above --max-size {options.max_size}")
    if options.timeout <= 0:
        parser.error("--timeout must be positive")
    if options.plot:
        try:  # before any work, on every rank alike
            importlib.import_module("matplotlib")
        except ImportError:
            parser.error("--plot needs matplotlib, which is not installed (pip install matplotlib)")
    return options


# --- launcher ---


def launch(options: argparse.Namespace, argv: list[str]) -> int:
    """Run this command under ``mpiexec -n N`` with a time limit, its output passed through."""
    env = {**os.environ, "MPIEXEC_TIMEOUT": str(max(1, int(options.timeout)))}
    if options.thread_level:
        env["MPI4NUMBA_THREAD_LEVEL"] = env["MPI4PY_RC_THREAD_LEVEL"] = options.thread_level
    command = [find_mpiexec(), "-n", str(options.np), sys.executable, "-m", "mpi4numba.bench", "suite", *argv]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        # mpiexec enforces MPIEXEC_TIMEOUT itself; this is the backstop if it cannot
        status = process.wait(timeout=options.timeout + 30)
    except subprocess.TimeoutExpired:
        stop(process)
        print(f"suite: timed out after {options.timeout:g} s: {' '.join(command)}", file=sys.stderr)
        return 1
    except BaseException:  # Ctrl-C: the job is in its own session, so end it here
        stop(process)
        raise
    if status != 0:
        print(f"suite: the job failed (exit status {status}): {' '.join(command)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``python -m mpi4numba.bench suite``."""
    options = parse(argv)
    if under_mpi_launcher():
        # only in the job: the launcher needs neither NumPy nor the stacks
        from ._suite_job import in_job

        return in_job(options)
    return launch(options, argv)
