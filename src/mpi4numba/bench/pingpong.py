"""``pingpong``: round trips between ranks 0 and 1 over a range of sizes, loops in ``@numba.njit``.

Same options and output as ``python -m mpi4py.bench pingpong``; run it under mpiexec::

    mpiexec -n 2 python -m mpi4numba.bench pingpong [-m MIN] [-n MAX] [-s SKIP] [-l LOOP]

For every power of two from ``MIN`` to ``MAX`` bytes, ``SKIP + LOOP`` round trips run in
one compiled function (mpi4numba's send/recv on NumPy arrays); each trip is timed on its
own and half of it is a sample, as mpi4py does. One process sends to itself (two
``sendrecv`` per trip); ranks above 1 only join the barriers. Larger messages take fewer
trips (``--loop-large``/``--large-size``, ``--loop-huge``/``--huge-size``, as in mpi4py).

mpi4py's ``--pickle``, ``--outband``, ``--protocol``, ``--threshold`` and ``--array``
other than ``numpy`` are accepted and refused: compiled code sends NumPy arrays only.
MPI starts at mpi4numba's thread level (``funneled``), mpi4py's bench at ``multiple``:
pass ``--thread-level`` to compare like with like.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numba
import numpy as np

import mpi4numba as mpi

LEVEL_NAMES = ("single", "funneled", "serialized", "multiple")
# mpi4py's options that have no meaning for a compiled loop over NumPy buffers
PICKLE_OPTIONS = (
    ("pickle", "-p/--pickle"),
    ("outband", "-o/--outband"),
    ("protocol", "--protocol"),
    ("threshold", "--threshold"),
)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``pingpong`` (mpi4py's, plus ``--thread-level``)."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench pingpong",
        description="Time messages between processes 0 and 1 (send/recv inside @numba.njit).",
    )
    add = parser.add_argument
    add("-q", "--quiet", action="store_false", dest="verbose", help="quiet output")
    add("-m", "--min-size", type=int, default=1, help="minimum message size (default 1)")
    add("-n", "--max-size", type=int, default=1 << 30, help="maximum message size (default 2**30)")
    add("-s", "--skip", type=int, default=100, help="number of warm-up iterations (default 100)")
    add("-l", "--loop", type=int, default=10000, help="number of iterations (default 10000)")
    add(
        "-a",
        "--array",
        default="numpy",
        choices=["numpy", "cupy", "numba", "none"],
        help="array type; only numpy is supported",
    )
    add("-p", "--pickle", action="store_true", help="not supported (mpi4py's pickle-based send/recv)")
    add("--protocol", type=int, help="not supported (pickle protocol)")
    add("-o", "--outband", action="store_true", help="not supported (out-of-band pickle)")
    add("--threshold", type=int, help="not supported (out-of-band pickle threshold)")
    add("--skip-large", type=int, default=10, help="warm-up iterations above --large-size (default 10)")
    add("--loop-large", type=int, default=1000, help="iterations above --large-size (default 1000)")
    add("--large-size", type=int, default=1 << 14, help="default 2**14")
    add("--skip-huge", type=int, default=1, help="warm-up iterations above --huge-size (default 1)")
    add("--loop-huge", type=int, default=10, help="iterations above --huge-size (default 10)")
    add("--huge-size", type=int, default=1 << 20, help="default 2**20")
    add("--no-header", action="store_false", dest="print_header", help="do not print the header")
    add("--no-stats", action="store_false", dest="print_stats", help="print bandwidth only")
    add("--thread-level", choices=LEVEL_NAMES, help="MPI thread level (default: mpi4numba's)")
    options = parser.parse_args(argv)
    for name, flag in PICKLE_OPTIONS:
        if getattr(options, name) not in (None, False):
            parser.error(f"{flag} is not supported: mpi4numba sends NumPy arrays from compiled code, not pickles")
    if options.array != "numpy":
        parser.error(f"--array {options.array} is not supported: mpi4numba sends NumPy arrays")
    for name in ("skip", "skip_large", "skip_huge"):
        if getattr(options, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    for name in ("loop", "loop_large", "loop_huge"):
        if getattr(options, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not message_sizes(options.min_size, options.max_size):
        parser.error(f"no power of two between --min-size {options.min_size} and --max-size {options.max_size}")
    return options


def message_sizes(min_size: int, max_size: int) -> list[int]:
    """The sizes measured: powers of two from 1 B to 4 GiB within the bounds, as mpi4py."""
    return [1 << i for i in range(33) if min_size <= 1 << i <= max_size]


@numba.njit(cache=True)  # compiling send/recv takes seconds: reruns load it instead
def round_trips(s_msg: np.ndarray, r_msg: np.ndarray, rank: int, size: int, samples: np.ndarray) -> int:
    """One round trip per element of ``samples``, which gets half its seconds; the status."""
    status = 0
    for i in range(samples.size):
        start = mpi.wtime()
        if size == 1:
            status |= mpi.sendrecv(s_msg, 0, r_msg, 0, 0, 0)
            status |= mpi.sendrecv(s_msg, 0, r_msg, 0, 0, 0)
        elif rank == 0:
            status |= mpi.send(s_msg, 1, 0)
            status |= mpi.recv(r_msg, 1, 0)
        elif rank == 1:
            status |= mpi.recv(r_msg, 0, 0)
            status |= mpi.send(s_msg, 0, 0)
        samples[i] = (mpi.wtime() - start) / 2
    return status


def pingpong(options: argparse.Namespace) -> list[tuple[int, float, float]]:
    """Run the sweep in this MPI job; ``(bytes, mean s, stdev s)`` per size (rank 0's numbers)."""
    if options.thread_level:
        mpi.set_thread_level(options.thread_level)
    from mpi4py import MPI  # initialises MPI at mpi4numba's thread level (set on import)

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    empty = np.empty(0, np.uint8)
    round_trips(empty, empty, rank, size, np.empty(0))  # compile before any timing
    skip, loop = options.skip, options.loop
    result = []
    for nbytes in message_sizes(options.min_size, options.max_size):
        # as mpi4py: once reduced for a large size, the counts stay reduced
        if nbytes > options.large_size:
            skip, loop = min(skip, options.skip_large), min(loop, options.loop_large)
        if nbytes > options.huge_size:
            skip, loop = min(skip, options.skip_huge), min(loop, options.loop_huge)
        s_msg, r_msg = np.empty(nbytes, np.uint8), np.empty(nbytes, np.uint8)
        samples = np.zeros(skip + loop)
        comm.Barrier()
        status = round_trips(s_msg, r_msg, rank, size, samples)
        if status != 0:
            raise RuntimeError(f"mpi4numba.bench pingpong: MPI returned status {status} at {nbytes} bytes")
        timed = samples[skip:].tolist()
        mean = statistics.mean(timed)
        stdev = statistics.stdev(timed) if len(timed) > 1 else 0.0
        result.append((nbytes, mean, stdev))
        if options.verbose and rank == 0:
            _print_line(options, nbytes, mean, stdev, loop)
    return result


def _print_line(options: argparse.Namespace, nbytes: int, mean: float, stdev: float, loop: int) -> None:
    if options.print_header:
        options.print_header = False
        print("# MPI PingPong Test")
        print(
            "# Size [B]  Bandwidth [MB/s]"
            + (" | Time Mean [s] \u00b1 StdDev [s]  Samples" if options.print_stats else ""),
            flush=True,
        )
    bandwidth = nbytes / mean if mean > 0 else float("inf")  # a clock too coarse for one trip
    line = f"{nbytes:10d}{bandwidth / 1e6:18.2f}"
    if options.print_stats:
        line += f" | {mean:.7e} \u00b1 {stdev:.4e} {loop:8d}"
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench pingpong``."""
    pingpong(parse(argv))
    return 0
