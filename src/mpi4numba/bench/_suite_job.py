"""The ``suite`` benchmark inside its MPI job: every rank runs every stack; rank 0 reports.

See :mod:`mpi4numba.bench.suite` for what is measured and how it is run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from ._mpi_setup import start_mpi, thread_level
from ._suite_plan import OPS, ROTATION, counts, plan, sizes


class Progress:
    """Throttled progress on stderr, once a run has taken a few seconds (rank 0 only)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.tty = enabled, sys.stderr.isatty()
        self.start = self.last = time.monotonic()
        self.shown = False

    def update(self, text: str) -> None:
        now = time.monotonic()
        if self.enabled and now - self.start >= 3 and now - self.last >= (0.5 if self.tty else 5):
            self.last, self.shown = now, True
            print(
                f"\rsuite: {text}\x1b[K" if self.tty else f"suite: {text}",
                end="" if self.tty else "\n",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.tty and self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def _rotation(stacks: list[str], round_: int) -> list[str]:
    order = [stack for stack in ROTATION if stack in stacks]
    shift = round_ % len(order)
    return order[shift:] + order[:shift]


def _value(MPI: Any, op: str, size: int, seconds: float, n: int, window: int) -> float | None:
    """µs (or MB/s for bw) from every rank's seconds; collective, the value on rank 0."""
    comm = MPI.COMM_WORLD
    everyone = comm.gather(seconds, root=0)
    if comm.Get_rank() != 0:
        return None
    if op == "latency":
        return 1e6 * seconds / (2 * n)
    if op == "bw":
        return size * n * window / seconds / 1e6
    return 1e6 * sum(everyone) / len(everyone) / n


def _stacks_in_job(MPI: Any, options: argparse.Namespace, notes: list[str]) -> tuple[list[str], Any, Any]:
    """The stacks that can run here (requested ones that are available), C library, numba-mpi."""
    from . import _suite_stacks

    stacks, library, numba_mpi = list(options.stacks), None, None
    if "C" in stacks:
        library = _suite_stacks.load_c_library(MPI)
        if isinstance(library, str):
            notes.append(f"C: skipped, no C build ({library})")
            stacks.remove("C")
            library = None
    if "numba-mpi" in stacks:
        numba_mpi = _suite_stacks.import_numba_mpi(MPI)
        if isinstance(numba_mpi, str):
            reason = "not installed" if "No module named 'numba_mpi'" in numba_mpi else numba_mpi
            notes.append(f"numba-mpi: skipped, {reason}")
            stacks.remove("numba-mpi")
            numba_mpi = None
        else:
            notes.extend(
                f"numba-mpi: {op} skipped, {why}" for op, why in numba_mpi.MISSING.items() if op in options.ops
            )
    return stacks, library, numba_mpi


def _machine_notes(MPI: Any) -> list[str]:
    """Warnings that timings include waiting for a core: more ranks than cores on a node,
    or a node already busy (1-minute load average at least its cores) at the start."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_here = node.Get_size()
    node.Free()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    notes = []
    if ranks_here > cores:
        notes.append(f"{ranks_here} ranks share {cores} cores: timings include waiting for a core")
    elif load >= cores:
        notes.append(
            f"the machine was busy at the start (load average {load:.1f} on {cores} cores): "
            "timings may include other programs' work"
        )
    return MPI.COMM_WORLD.bcast(notes, root=0)


def in_job(options: argparse.Namespace) -> int:
    """Measure everything in this job; rank 0 prints the table and writes the files."""
    if options.thread_level:
        os.environ["MPI4NUMBA_THREAD_LEVEL"] = options.thread_level
    from ._suite_report import report
    from ._suite_stacks import Stacks

    MPI = start_mpi(numba=True)
    comm = MPI.COMM_WORLD
    rank, nprocs = comm.Get_rank(), comm.Get_size()
    pairs, notes = plan(options.ops, sizes(options.min_size, options.max_size), nprocs)
    notes += _machine_notes(MPI)
    stacks, library, numba_mpi = _stacks_in_job(MPI, options, notes)
    if not stacks:
        if rank == 0:
            print("suite: no stack left to run: " + "; ".join(notes), file=sys.stderr)
        return 1
    max_size = max((size for _, size in pairs), default=0)
    runner = Stacks(MPI, max_size, options.window, library, numba_mpi)
    progress = Progress(rank == 0)
    started = time.monotonic()
    runner.compile(sorted({op for op, _ in pairs}, key=OPS.index))
    if rank == 0 and time.monotonic() - started > 3:
        print(f"suite: compiled the njit kernels in {time.monotonic() - started:.1f} s", file=sys.stderr)
    values: dict[tuple[str, int, str], list[float]] = {}
    allocations: dict[tuple[str, int], float] = {}
    for round_ in range(options.repeat):
        for op, size in pairs:
            n, warmup = counts(op, size, options.iterations, options.warmup)
            for stack in _rotation(stacks, round_):
                if stack == "numba-mpi" and op in numba_mpi.MISSING:
                    continue
                progress.update(f"{op} {size} B {stack} (round {round_ + 1}/{options.repeat})")
                seconds = runner.run(stack, op, size, n, warmup)
                value = _value(MPI, op, size, seconds, n, options.window)
                if value is not None:
                    values.setdefault((op, size, stack), []).append(value)
                if stack == "mpi4numba" and runner.allocations is not None:
                    allocations[(op, size)] = max(allocations.get((op, size), 0.0), runner.allocations)
    progress.close()
    if rank == 0:
        info = {
            "processes": nprocs,
            "thread_level": thread_level(MPI),
            "mpi_library": " ".join(MPI.Get_library_version().split("\n", 1)[0].split()),
            "stacks": stacks,
            "rounds": options.repeat,
            "window": options.window,
            "notes": notes,
        }
        report(options, info, values, allocations)
    return 0
