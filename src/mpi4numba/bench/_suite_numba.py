"""mpi4numba loops of the ``suite`` benchmark: the timed loops themselves are ``@numba.njit``.

One kernel per operation (:data:`KERNELS`), all with the signature
``(a, b, ack, requests, n, warmup, window, rank)``, returning ``(seconds on this rank, OR
of the status codes)``, timed as ``suite.c`` times them (see there). Nothing in a loop
allocates: buffers, the acknowledgement and the request array
(``mpi4numba.request_array(window)``) come from the caller, and ``isend``/``irecv`` fill
slots of that array (``request=requests[j:j + 1]``, a view). Cached (``cache=True``), and
one function per operation, so that a job compiles only the operations it runs, its ranks
can share the compiling, and later runs load the machine code. :mod:`._suite_numbampi`
compiles these same functions (``bw`` excepted) with ``mpi`` naming ``numba_mpi``: call
through ``mpi`` only routines numba-mpi has, with the same arguments.
"""

from __future__ import annotations

import numba

import mpi4numba as mpi


@numba.njit(cache=True)
def _timed(start, i, warmup):
    """Seconds since ``start`` once past the warm-up, else 0."""
    return mpi.wtime() - start if i >= warmup else 0.0


@numba.njit(cache=True)
def latency(a, b, ack, requests, n, warmup, window, rank):
    """osu_latency: ping-pong between ranks 0 and 1; the whole timed loop."""
    status = mpi.barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = mpi.wtime()
        if rank == 0:
            status |= mpi.send(a, 1, 1)
            status |= mpi.recv(b, 1, 1)
        elif rank == 1:
            status |= mpi.recv(b, 0, 1)
            status |= mpi.send(a, 0, 1)
    return mpi.wtime() - start, status


@numba.njit(cache=True)
def bw(a, b, ack, requests, n, warmup, window, rank):
    """osu_bw: windows of isends from rank 0, each answered by a 4-byte acknowledgement."""
    status = mpi.barrier()
    start = 0.0
    for i in range(warmup + n):
        if i == warmup:
            start = mpi.wtime()
        if rank == 0:
            for j in range(window):
                status |= mpi.isend(a, 1, 100, request=requests[j : j + 1])[0]
            status |= mpi.waitall(requests)
            status |= mpi.recv(ack, 1, 101)
        elif rank == 1:
            for j in range(window):
                status |= mpi.irecv(b, 0, 100, request=requests[j : j + 1])[0]
            status |= mpi.waitall(requests)
            status |= mpi.send(ack, 0, 101)
    return mpi.wtime() - start, status


# The collectives, as OSU times them: each call alone, a barrier after it; the timed sum.


@numba.njit(cache=True)
def allreduce(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.allreduce(a, b, mpi.Operator.SUM)
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def bcast(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.bcast(a, 0)
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def reduce(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.reduce(a, b, mpi.Operator.SUM, 0)
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def allgather(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.allgather(a, b, a.size)
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def alltoall(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    block = a.size // mpi.size()  # elements per process, found once
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.alltoall(a, b, block)
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def barrier(a, b, ack, requests, n, warmup, window, rank):
    status, total = mpi.barrier(), 0.0
    for i in range(warmup + n):
        start = mpi.wtime()
        status |= mpi.barrier()
        total += _timed(start, i, warmup)
        status |= mpi.barrier()
    return total, status


@numba.njit(cache=True)
def arguments(a, b, ack, requests, n, warmup, window, rank):
    """Nothing, with the kernels' signature: what passing the arguments costs in NRT
    allocations (one per array), subtracted when counting allocations per iteration."""
    return 0.0, 0


KERNELS = {
    "latency": latency,
    "bw": bw,
    "allreduce": allreduce,
    "bcast": bcast,
    "reduce": reduce,
    "allgather": allgather,
    "alltoall": alltoall,
    "barrier": barrier,
}
