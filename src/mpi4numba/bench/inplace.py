"""``inplace``: one allreduce in place (``IN_PLACE``) vs out of place, inside ``@numba.njit``.

Run it under mpiexec::

    mpiexec -n 2 python -m mpi4numba.bench inplace [--repeat 7] [--iterations 2000]

For each message size both forms run ``--iterations`` timed calls per round, in
alternating order over ``--repeat`` rounds; rank 0 prints the median time per call
(minimum in parentheses), the ratio in-place / out-of-place, and the MPI thread level.
The time is the slowest rank's. Out of place sums ``send`` into ``recv``; in place sums
``buf`` into itself (refilled with ones only between rounds, so values grow: timing only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numba
import numpy as np

SIZES = (1, 1024, 131072)  # doubles: 8 B, 8 KiB, 1 MiB
FORMS = ("out-of-place", "in-place")
LEVEL_NAMES = ("single", "funneled", "serialized", "multiple")


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``inplace``."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench inplace",
        description="allreduce with IN_PLACE vs separate send and receive buffers, from njit code",
    )
    parser.add_argument("--repeat", type=int, default=7, help="rounds (default 7)")
    parser.add_argument(
        "--iterations", type=int, default=2000, help="timed calls per size and round (default 2000; a tenth for 1 MiB)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls first (default 50)")
    options = parser.parse_args(argv)
    for name in ("repeat", "iterations"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if options.warmup < 0:
        parser.error("--warmup must not be negative")
    return options


def _kernels():
    import mpi4numba as mpi

    @numba.njit
    def out_of_place(send, recv, warmup, n):
        for _ in range(warmup):
            mpi.allreduce(send, recv)
        mpi.barrier()
        start = mpi.wtime()
        for _ in range(n):
            mpi.allreduce(send, recv)
        return mpi.wtime() - start

    @numba.njit
    def in_place(send, recv, warmup, n):
        for _ in range(warmup):
            mpi.allreduce(mpi.IN_PLACE, recv)
        mpi.barrier()
        start = mpi.wtime()
        for _ in range(n):
            mpi.allreduce(mpi.IN_PLACE, recv)
        return mpi.wtime() - start

    return {"out-of-place": out_of_place, "in-place": in_place}


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    from mpi4py import MPI

    import mpi4numba as mpi

    kernels = _kernels()
    world = MPI.COMM_WORLD
    usec: dict[tuple[int, str], list[float]] = {(n, form): [] for n in SIZES for form in FORMS}
    for round_ in range(options.repeat):
        order = FORMS if round_ % 2 == 0 else FORMS[::-1]
        for n in SIZES:
            calls = options.iterations if n < 100000 else max(1, options.iterations // 10)
            for form in order:
                send, recv = np.ones(n), np.ones(n)
                elapsed = kernels[form](send, recv, options.warmup, calls)
                slowest = world.allreduce(elapsed, op=MPI.MAX)
                usec[(n, form)].append(1e6 * slowest / calls)
    if world.Get_rank() == 0:
        level = mpi.thread_level()
        library = " ".join(MPI.Get_library_version().split("\n", 1)[0].split())
        print(f"# allreduce SUM of float64, {world.Get_size()} processes, thread level {level}, {library}")
        print(f"# µs per call, median (min) of {options.repeat} rounds; slowest rank")
        print(f"{'size':>10} {'out-of-place':>18} {'in-place':>18} {'in/out':>7}")
        for n in SIZES:
            cells = [usec[(n, form)] for form in FORMS]
            text = [f"{statistics.median(c):.3f} ({min(c):.3f})" for c in cells]
            ratio = statistics.median(cells[1]) / statistics.median(cells[0])
            print(f"{_size_label(8 * n):>10} {text[0]:>18} {text[1]:>18} {ratio:>7.2f}")
    return 0


def _size_label(nbytes: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} B"
