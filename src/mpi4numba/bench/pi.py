"""``pi``: the pi example, allreduce inside ``@numba.njit`` vs mpi4py's from a Python loop.

Run it under mpiexec::

    mpiexec -n 2 python -m mpi4numba.bench pi [--intervals N] [--calls 1,10,100] [--plot FILE]

pi is the midpoint sum of 4 / (1 + x^2) over ``N`` intervals of [0, 1], interval ``i`` on
rank ``i % size``. The sum is cut into ``C`` consecutive chunks, one allreduce per chunk,
and ``C`` (allreduce calls per ``N`` intervals) is swept: the arithmetic stays the same,
only the number of calls grows. mpi4numba runs the chunk loop with its allreduce in one
compiled function; mpi4py runs it in Python, calling the same compiled chunk sum and
``Comm.Allreduce``. Rank 0 prints per ``C`` the wall time of either (slowest rank, best of
``--repeat``), the ratio mpi4py / mpi4numba and the error of pi. ``--plot FILE`` draws
that ratio against ``C`` (needs matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

import mpi4numba as mpi

from ._table import ratio

DEFAULT_CALLS = "1,10,100,1000,10000"
EPSILON = float(np.finfo(np.float64).eps)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``pi``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench pi",
        description="pi by the midpoint rule over N intervals, split across ranks: allreduce inside "
        "@numba.njit (mpi4numba) vs from a Python loop (mpi4py), sweeping the number of "
        "allreduce calls per N intervals.",
    )
    parser.add_argument("--intervals", type=int, default=100_000, help="N (default 100000)")
    parser.add_argument(
        "--calls",
        default=DEFAULT_CALLS,
        help=f"comma-separated allreduce calls per N intervals, each 1..N (default {DEFAULT_CALLS})",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per point and stack, best kept (default 3)")
    parser.add_argument("--plot", metavar="FILE", help="write a figure of the ratio vs calls (needs matplotlib)")
    options = parser.parse_args(argv)
    if options.intervals < 1:
        parser.error("--intervals must be at least 1")
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")
    try:
        options.calls = [int(value) for value in options.calls.split(",")]
    except ValueError:
        parser.error(f"--calls must be comma-separated integers, not {options.calls!r}")
    if not all(1 <= calls <= options.intervals for calls in options.calls):
        parser.error(f"--calls values must lie between 1 and --intervals ({options.intervals})")
    if options.plot:
        try:  # before any work is done, not after the sweep
            importlib.import_module("matplotlib")
        except ImportError:
            if not _first_rank():  # under mpiexec: one message, not one per rank
                parser.exit(2)
            parser.error("--plot needs matplotlib (pip install matplotlib)")
    return options


def _first_rank() -> bool:
    """Whether this is rank 0 (or no MPI launcher started it), known before MPI starts."""
    return all(os.environ.get(name, "0") == "0" for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"))


@numba.njit(cache=True)
def chunk_sum(intervals: int, start: int, stop: int, rank: int, size: int) -> float:
    """This rank's part of the midpoint sum over intervals ``start <= i < stop``."""
    h = 1.0 / intervals
    total = 0.0
    for i in range(start + (rank - start) % size, stop, size):  # the first i of this rank
        x = h * (i + 0.5)
        total += 4.0 / (1.0 + x * x)
    return h * total


@numba.njit(cache=True)  # compiling allreduce takes seconds: reruns load it instead
def pi_mpi4numba(intervals: int, calls: int, rank: int, size: int) -> tuple[float, int]:
    """pi with ``calls`` allreduces, all in compiled code; pi and the status."""
    part, total = np.zeros(1), np.zeros(1)
    pi, status = 0.0, 0
    for k in range(calls):
        part[0] = chunk_sum(intervals, k * intervals // calls, (k + 1) * intervals // calls, rank, size)
        status |= mpi.allreduce(part, total, mpi.Operator.SUM)
        pi += total[0]
    return pi, status


def pi_mpi4py(intervals: int, calls: int, rank: int, size: int) -> float:
    """pi with ``calls`` allreduces from this Python loop (mpi4py's ``Allreduce``)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    part, total = np.zeros(1), np.zeros(1)
    pi = 0.0
    for k in range(calls):
        part[0] = chunk_sum(intervals, k * intervals // calls, (k + 1) * intervals // calls, rank, size)
        comm.Allreduce(part, total, op=MPI.SUM)
        pi += total[0]
    return pi


def tolerance(intervals: int) -> float:
    """Bound on |pi - math.pi|: the midpoint rule's h^2/12 (+ h^4), plus worst-case rounding.

    It stays below the 2h that one skipped interval would cost (for N up to ~10**7).
    """
    h = 1.0 / intervals
    return h * h / 12 + h**4 + 4 * intervals * EPSILON


def _best_time(MPI: Any, run: Any, args: tuple[int, ...], repeat: int) -> tuple[float, float]:
    """Best wall time (slowest rank) over ``repeat`` runs, and pi."""
    comm = MPI.COMM_WORLD
    best, pi = math.inf, math.nan
    for _ in range(repeat):
        comm.Barrier()
        start = time.perf_counter()
        pi = run(*args)
        best = min(best, comm.allreduce(time.perf_counter() - start, op=MPI.MAX))
    return best, pi


def sweep(options: argparse.Namespace) -> list[dict[str, float]]:
    """Time both stacks at every point; rows (the same on every rank)."""
    from mpi4py import MPI  # initialises MPI at mpi4numba's thread level (set on import)

    rank, size = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()

    def numba_run(intervals: int, calls: int) -> float:
        pi, status = pi_mpi4numba(intervals, calls, rank, size)
        if status != 0:
            raise RuntimeError(f"mpi4numba.bench pi: allreduce returned status {status}")
        return pi

    numba_run(options.intervals, 1), pi_mpi4py(options.intervals, 1, rank, size)  # compile
    rows = []
    for point, calls in enumerate(options.calls):
        if rank == 0:
            print(f"pi: {point + 1}/{len(options.calls)} calls={calls}", file=sys.stderr, flush=True)
        args = (options.intervals, calls)
        t_numba, pi_numba = _best_time(MPI, numba_run, args, options.repeat)
        t_py, pi_py = _best_time(MPI, lambda n, c: pi_mpi4py(n, c, rank, size), args, options.repeat)
        for name, value in (("mpi4numba", pi_numba), ("mpi4py", pi_py)):
            if not abs(value - math.pi) <= tolerance(options.intervals):
                raise RuntimeError(
                    f"mpi4numba.bench pi: {name} computed pi = {value!r} with {calls} calls, "
                    f"off by more than {tolerance(options.intervals):.1e}"
                )
        rows.append({"calls": calls, "mpi4numba": t_numba, "mpi4py": t_py, "error": abs(pi_numba - math.pi)})
    return rows


def table(rows: list[dict[str, float]], intervals: int) -> str:
    """Fixed-width table, one line per sweep point."""
    lines = [
        (
            f"{'calls':>8} {'intervals/call':>14} {'mpi4numba [s]':>14} {'mpi4py [s]':>11} "
            f"{'mpi4py/mpi4numba':>16} {'pi error':>9}"
        )
    ]
    for row in rows:
        lines.append(
            f"{row['calls']:>8d} {intervals / row['calls']:>14.6g} {row['mpi4numba']:>14.6f} "
            f"{row['mpi4py']:>11.6f} {_ratio(row['mpi4py'], row['mpi4numba']):>16} {row['error']:>9.1e}"
        )
    return "\n".join(lines)


def _ratio(numerator: float, denominator: float) -> str:
    return ratio(numerator / denominator if denominator > 0 else math.inf)


def plot(rows: list[dict[str, float]], title: str, path: str) -> None:
    """Write the ratio mpi4py / mpi4numba against the calls per N intervals."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot([row["calls"] for row in rows], [row["mpi4py"] / row["mpi4numba"] for row in rows], "o-")
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_xlabel("allreduce calls per N intervals")
    axes.set_ylabel("wall time mpi4py / mpi4numba")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench pi``."""
    options = parse(argv)
    rows = sweep(options)
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() != 0:
        return 0
    level = mpi.thread_level()
    library = " ".join(MPI.Get_library_version().split("\n", 1)[0].split())
    size = MPI.COMM_WORLD.Get_size()
    processes = f"{size} process" + ("es" if size != 1 else "")
    print(
        f"# pi by the midpoint rule over {options.intervals} intervals, {processes}, "
        f"MPI thread level {level}, {library}"
    )
    print(
        f"# wall time of the whole sum, slowest rank, best of {options.repeat}: allreduce in @njit "
        "(mpi4numba) vs Comm.Allreduce from a Python loop (mpi4py)"
    )
    print(table(rows, options.intervals), flush=True)
    if options.plot:
        plot(rows, f"pi, N = {options.intervals}, {processes}, thread level {level}", options.plot)
        print(f"pi: wrote {options.plot}", file=sys.stderr)
    return 0
