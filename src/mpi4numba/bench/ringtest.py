"""``ringtest``: time a message going around the ring of processes, loop in ``@numba.njit``.

Same options and output as ``python -m mpi4py.bench ringtest``; run it under mpiexec::

    mpiexec -n 4 python -m mpi4numba.bench ringtest [-n SIZE] [-s SKIP] [-l LOOP] [-q]

Rank 0 sends ``SIZE`` bytes to rank 1, which passes them on, until they come back to rank
0; one process sends to itself (``sendrecv``). The ``SKIP + LOOP`` trips run inside one
compiled function with mpi4numba's send/recv; the last ``LOOP`` are timed. MPI starts at
mpi4numba's thread level (``funneled``), mpi4py's bench at ``multiple``: pass
``--thread-level`` to compare like with like.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np

import mpi4numba as mpi

LEVEL_NAMES = ("single", "funneled", "serialized", "multiple")
FILL = 42  # the byte rank 0 sends; it must come back unchanged


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options of ``ringtest`` (those of mpi4py's, plus ``--thread-level``)."""
    parser = argparse.ArgumentParser(
        prog=f"{Path(sys.executable).name} -m mpi4numba.bench ringtest",
        description="Time a message going around the ring of processes (send/recv inside @numba.njit).",
    )
    parser.add_argument("-q", "--quiet", action="store_false", dest="verbose", help="quiet output")
    parser.add_argument("-n", "--size", type=int, default=1, help="message size in bytes (default 1)")
    parser.add_argument("-s", "--skip", type=int, default=0, help="number of warm-up iterations (default 0)")
    parser.add_argument("-l", "--loop", type=int, default=1, help="number of iterations (default 1)")
    parser.add_argument("--thread-level", choices=LEVEL_NAMES, help="MPI thread level (default: mpi4numba's)")
    options = parser.parse_args(argv)
    if options.size < 0:
        parser.error("-n/--size must not be negative")
    if options.skip < 0:
        parser.error("-s/--skip must not be negative")
    if options.loop < 1:
        parser.error("-l/--loop must be at least 1")
    return options


@numba.njit(cache=True)  # compiling send/recv takes seconds: reruns load it instead
def ring(sendmsg: np.ndarray, recvmsg: np.ndarray, rank: int, size: int, loop: int, skip: int) -> tuple[float, int]:
    """``skip + loop`` trips around the ring; the seconds of the last ``loop`` and the status."""
    source, dest = (rank - 1) % size, (rank + 1) % size
    status = 0
    start = mpi.wtime()
    for i in range(skip + loop):
        if i == skip:
            start = mpi.wtime()
        if size == 1:
            status |= mpi.sendrecv(sendmsg, dest, recvmsg, source, 0, 0)
        elif rank == 0:
            status |= mpi.send(sendmsg, dest, 0)
            status |= mpi.recv(recvmsg, source, 0)
        else:  # forward what came in
            status |= mpi.recv(recvmsg, source, 0)
            status |= mpi.send(recvmsg, dest, 0)
    return mpi.wtime() - start, status


def ringtest(options: argparse.Namespace) -> float:
    """Run the ring in this MPI job; every rank returns its elapsed seconds."""
    if options.thread_level:
        mpi.set_thread_level(options.thread_level)
    from mpi4py import MPI  # initialises MPI at mpi4numba's thread level (set on import)

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    sendmsg = np.full(options.size, FILL, np.uint8)
    recvmsg = np.zeros(options.size, np.uint8)
    ring(sendmsg, recvmsg, rank, size, 0, 0)  # compile here, so that no trip waits for a compiler
    comm.Barrier()
    elapsed, status = ring(sendmsg, recvmsg, rank, size, options.loop, options.skip)
    if status != 0:
        raise RuntimeError(f"mpi4numba.bench ringtest: MPI returned status {status}")
    if rank == 0 and not np.all(recvmsg == FILL):
        raise RuntimeError("mpi4numba.bench ringtest: the message came back changed")
    if options.verbose and rank == 0:
        sys.stdout.write(
            f"time for {options.loop} loops = {elapsed:g} seconds ({size} processes, {options.size} bytes)\n"
        )
        sys.stdout.flush()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mpi4numba.bench ringtest``."""
    ringtest(parse(argv))
    return 0
