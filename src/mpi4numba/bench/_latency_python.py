"""Calls from plain Python for ``latency --from-python``: mpi4numba, numba-mpi and mpi4py.

Every stack runs the same Python loops over the same small messages, in the call forms
their documentation shows: mpi4numba's and numba-mpi's routines with their defaults
omitted (``send(a, 1)``, ``allreduce(a, b)``), mpi4py's uppercase buffer methods of
``COMM_WORLD`` (``comm.Send(a, 1)``, ``comm.Allreduce(a, b)``). One row passes every
argument by keyword, the communicator too where the library takes one (numba-mpi works on
``COMM_WORLD`` only). Each loop runs ``warmup`` untimed iterations (at least two: a first
call from Python compiles or loads from the cache), a barrier, then ``n`` timed ones
between two clock readings; ranks 0 and 1 do the point-to-point rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

STACKS = ("mpi4numba", "numba-mpi", "mpi4py")
ROTATION = STACKS
OPS = ("pingpong_8", "pingpong_keywords", "allreduce", "bcast", "barrier", "exchange", "rank")
LABELS = {
    "pingpong_8": "ping-pong 8 B: send(a, 1), recv(a, 1)",
    "pingpong_keywords": "the same, every argument by keyword",
    "allreduce": "allreduce(a, b), 1 double",
    "bcast": "bcast(a, 0), 1 double",
    "barrier": "barrier()",
    "exchange": "isend+irecv+waitall 8 B",
    "rank": "rank()",
}
PINGPONG = frozenset({"pingpong_8", "pingpong_keywords"})
P2P = PINGPONG | {"exchange"}  # ranks 0 and 1 only: need 2 processes
MIN_WARMUP = 2

Result = dict[str, "float | None"]
Loop = Callable[[np.ndarray, np.ndarray, int, int], None]


def _buffers(op: str) -> tuple[np.ndarray, np.ndarray]:
    if op in P2P:
        return np.zeros(8, np.uint8), np.zeros(8, np.uint8)
    return np.ones(1), np.zeros(1)


def _drop_in_loops(mpi: Any) -> dict[str, Loop]:
    """The loops of a numba-mpi-style module ``mpi`` (mpi4numba or numba-mpi itself), with
    the defaults omitted; the keyword row is each library's own (below)."""

    def pingpong(a, b, n, rank):
        if rank == 0:
            for _ in range(n):
                mpi.send(a, 1)
                mpi.recv(a, 1)
        elif rank == 1:
            for _ in range(n):
                mpi.recv(a, 0)
                mpi.send(a, 0)

    def allreduce(a, b, n, rank):
        for _ in range(n):
            mpi.allreduce(a, b)

    def bcast(a, b, n, rank):
        for _ in range(n):
            mpi.bcast(a, 0)

    def barrier(a, b, n, rank):
        for _ in range(n):
            mpi.barrier()

    def exchange(a, b, n, rank):
        if rank < 2:
            peer = 1 - rank
            for _ in range(n):
                _, send = mpi.isend(a, peer, 1)
                _, recv = mpi.irecv(b, peer, 1)
                mpi.waitall((send, recv))

    def rank_(a, b, n, rank):
        for _ in range(n):
            mpi.rank()

    return {
        "pingpong_8": pingpong,
        "allreduce": allreduce,
        "bcast": bcast,
        "barrier": barrier,
        "exchange": exchange,
        "rank": rank_,
    }


def _mpi4numba_loops(MPI: Any) -> dict[str, Loop]:
    import mpi4numba as mpi

    comm = MPI.COMM_WORLD

    def pingpong_keywords(a, b, n, rank):
        if rank == 0:
            for _ in range(n):
                mpi.send(data=a, dest=1, tag=0, comm=comm)
                mpi.recv(data=a, source=1, tag=0, comm=comm)
        elif rank == 1:
            for _ in range(n):
                mpi.recv(data=a, source=0, tag=0, comm=comm)
                mpi.send(data=a, dest=0, tag=0, comm=comm)

    return {**_drop_in_loops(mpi), "pingpong_keywords": pingpong_keywords}


def _numba_mpi_loops(MPI: Any) -> dict[str, Loop]:
    import numba_mpi as nm

    def pingpong_keywords(a, b, n, rank):  # numba-mpi takes no communicator
        if rank == 0:
            for _ in range(n):
                nm.send(data=a, dest=1, tag=0)
                nm.recv(data=a, source=1, tag=0)
        elif rank == 1:
            for _ in range(n):
                nm.recv(data=a, source=0, tag=0)
                nm.send(data=a, dest=0, tag=0)

    return {**_drop_in_loops(nm), "pingpong_keywords": pingpong_keywords}


def _mpi4py_loops(MPI: Any) -> dict[str, Loop]:
    comm = MPI.COMM_WORLD

    def pingpong(a, b, n, rank):
        if rank == 0:
            for _ in range(n):
                comm.Send(a, 1)
                comm.Recv(a, 1)
        elif rank == 1:
            for _ in range(n):
                comm.Recv(a, 0)
                comm.Send(a, 0)

    def pingpong_keywords(a, b, n, rank):
        if rank == 0:
            for _ in range(n):
                comm.Send(buf=a, dest=1, tag=0)
                comm.Recv(buf=a, source=1, tag=0)
        elif rank == 1:
            for _ in range(n):
                comm.Recv(buf=a, source=0, tag=0)
                comm.Send(buf=a, dest=0, tag=0)

    def allreduce(a, b, n, rank):
        for _ in range(n):
            comm.Allreduce(a, b)

    def bcast(a, b, n, rank):
        for _ in range(n):
            comm.Bcast(a, 0)

    def barrier(a, b, n, rank):
        for _ in range(n):
            comm.Barrier()

    def exchange(a, b, n, rank):
        if rank < 2:
            peer = 1 - rank
            for _ in range(n):
                MPI.Request.Waitall([comm.Isend(a, peer, 1), comm.Irecv(b, peer, 1)])

    def rank_(a, b, n, rank):
        for _ in range(n):
            comm.Get_rank()

    return {
        "pingpong_8": pingpong,
        "pingpong_keywords": pingpong_keywords,
        "allreduce": allreduce,
        "bcast": bcast,
        "barrier": barrier,
        "exchange": exchange,
        "rank": rank_,
    }


_FACTORIES: dict[str, Callable[[Any], dict[str, Loop]]] = {
    "mpi4numba": _mpi4numba_loops,
    "numba-mpi": _numba_mpi_loops,
    "mpi4py": _mpi4py_loops,
}
_LOOPS: dict[str, dict[str, Loop] | None] = {}


def available(stack: str, MPI: Any) -> bool:
    """Whether ``stack`` can run here (numba-mpi is optional); the same answer on every rank."""
    if stack not in _LOOPS:
        try:
            _LOOPS[stack] = _FACTORIES[stack](MPI)
        except ImportError:
            _LOOPS[stack] = None
    everywhere = MPI.COMM_WORLD.allreduce(_LOOPS[stack] is not None, op=MPI.LAND)
    return bool(everywhere)


def run(stack: str, MPI: Any, iterations: int, warmup: int) -> Result:
    """µs per operation of ``stack`` (None where it needs 2 processes); meaningful on rank 0."""
    loops = _LOOPS[stack]
    assert loops is not None
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    result: Result = {}
    for op in OPS:
        if op in P2P and size < 2:
            result[op] = None
            continue
        a, b = _buffers(op)
        loop = loops[op]
        loop(a, b, max(warmup, MIN_WARMUP), rank)
        comm.Barrier()
        start = MPI.Wtime()
        loop(a, b, iterations, rank)
        elapsed = MPI.Wtime() - start
        slowest = comm.reduce(elapsed, op=MPI.MAX, root=0)
        if rank != 0:
            result[op] = None
        elif op in P2P:
            result[op] = 1e6 * elapsed / iterations / (2 if op in PINGPONG else 1)
        else:
            result[op] = 1e6 * slowest / iterations
    return result


def rounds(MPI: Any, repeat: int, iterations: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    """``repeat`` rounds of every available stack, in rotating order, in this job; the
    µs of each round on rank 0 (a stack that cannot run here has no values)."""
    results: dict[str, dict[str, list[float]]] = {stack: {op: [] for op in OPS} for stack in STACKS}
    present = [stack for stack in ROTATION if available(stack, MPI)]
    for round_ in range(repeat):
        shift = round_ % len(present)
        for stack in present[shift:] + present[:shift]:
            for op, value in run(stack, MPI, iterations, warmup).items():
                if value is not None:
                    results[stack][op].append(value)
    return results
