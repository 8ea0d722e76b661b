"""Compute pi by the midpoint rule, split across MPI ranks, many times over.

The time loop runs inside ``@numba.njit`` with mpi4numba's allreduce; the same loop
with mpi4py's Allreduce has to run in Python. Run with::

    mpiexec -n 2 python examples/pi.py [--intervals N] [--times T]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import mpi4numba as mpi


@numba.njit(cache=True)
def pi_part(intervals: int, rank: int, size: int) -> float:
    """This rank's share of the midpoint sum of 4 / (1 + x^2) over [0, 1]."""
    h = 1.0 / intervals
    total = 0.0
    for i in range(rank, intervals, size):
        x = h * (i + 0.5)
        total += 4.0 / (1.0 + x * x)
    return h * total


@numba.njit(cache=True)
def pi_mpi4numba(intervals: int, times: int) -> float:
    pi = np.zeros(1)
    part = np.zeros(1)
    for _ in range(times):
        part[0] = pi_part(intervals, mpi.rank(), mpi.size())
        mpi.allreduce(part, pi, mpi.Operator.SUM)
    return pi[0]


def pi_mpi4py(intervals: int, times: int) -> float:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    pi = np.zeros(1)
    part = np.zeros(1)
    for _ in range(times):
        part[0] = pi_part(intervals, comm.Get_rank(), comm.Get_size())
        comm.Allreduce(part, pi, op=MPI.SUM)
    return pi[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=1000)
    parser.add_argument("--times", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    pi_mpi4numba(args.intervals, 1), pi_mpi4py(args.intervals, 1)  # compile / warm up
    timings: dict[str, list[float]] = {"mpi4numba": [], "mpi4py": []}
    results = {}
    for _ in range(args.repeat):
        for name, run in (("mpi4numba", pi_mpi4numba), ("mpi4py", pi_mpi4py)):
            comm.Barrier()
            start = time.perf_counter()
            results[name] = run(args.intervals, args.times)
            timings[name].append(comm.allreduce(time.perf_counter() - start, op=MPI.MAX))
    for name, value in results.items():
        assert abs(value - np.pi) < 1e-6, (name, value)
    if comm.Get_rank() == 0:
        level = mpi.THREAD_LEVELS[mpi.query_thread()]
        best = {name: min(values) for name, values in timings.items()}
        print(
            f"pi = {results['mpi4numba']:.12f} (error {abs(results['mpi4numba'] - np.pi):.1e}) "
            f"on {comm.Get_size()} processes, {args.intervals} intervals, {args.times} allreduces, "
            f"MPI thread level {level}"
        )
        for name in ("mpi4numba", "mpi4py"):
            print(f"  {name:10s} {best[name]:.4f} s  ({best[name] / args.times * 1e6:.2f} us per step)")
        print(
            f"  speed-up of mpi4numba (njit loop) over mpi4py (Python loop): {best['mpi4py'] / best['mpi4numba']:.2f}x"
        )


if __name__ == "__main__":
    main()
