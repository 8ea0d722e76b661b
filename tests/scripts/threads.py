"""MPI calls from several prange threads at once (tests/test_threads.py).

Run under ``mpiexec -n N python tests/scripts/threads.py ROUNDS`` with
``MPI4NUMBA_THREAD_LEVEL=multiple`` and ``NUMBA_NUM_THREADS`` > 1. Every function below
is ``@njit(parallel=True, cache=True)`` and runs a ``prange`` loop over ``lanes``
iterations, as many as Numba has threads, so each iteration runs on a thread of its own
(Numba splits a prange into one chunk per thread; with as many iterations as threads a
chunk is one iteration). Iteration ``t`` ("lane t") talks to lane ``t`` of the
neighbouring ranks of a ring, with a tag of its own, as PyMPDATA-MPI does with one tag
per thread:

* ``blocking``: send/recv (even ranks send first, odd ranks receive first), a short and
  a long message (past MPICH's eager limit: the rendezvous protocol), the long one a
  strided view (a derived datatype from mpi4numba's datatype cache, which threads share,
  or with ``MPI4NUMBA_STRIDED=pack`` scratch from the pool of packing blocks they share);
* ``exchange``: sendrecv of both sizes (also at 1 process: to itself);
* ``crossed``: isend/irecv started by lane t in one prange loop and completed by lane
  ``t + 1`` in a second prange loop (another thread), or by ``waitall`` on the main
  thread after the loop; rows, and every other pair of rounds columns (with
  ``MPI4NUMBA_STRIDED=pack``: scratch of pending transfers, handed back by whichever
  thread completes them);
* ``reduce``: allreduce and bcast on one duplicated communicator per lane, concurrently.

Every received element is compared with what its sender must have put there (the value
encodes sender, lane, round and position), and every MPI status is checked. Every rank
prints one line ``THREADS {json}``: mismatches, errors, messages checked, the Numba
thread ids that made MPI calls and how many requests another thread completed.

Any threading layer works (the prange loops are started from the main thread only, so
even ``workqueue``, which is not safe for concurrent launches, is fine).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numba
import numpy as np
from numba import prange

import mpi4numba as mpi

SHORT = 3  # elements: an eager message
LONG = 20_000  # float64 elements (160 KB): past MPICH's eager limit
TAG_BLOCKING, TAG_EXCHANGE, TAG_CROSSED = 1000, 2000, 3000


@numba.njit(cache=True)
def _value(sender, lane, round_, position):
    return float(sender * 100_000_000 + lane * 1_000_000 + round_ * 1_000 + position % 1_000)


@numba.njit(cache=True)
def _fill(row, sender, lane, round_):
    for i in range(row.size):
        row[i] = _value(sender, lane, round_, i)


@numba.njit(cache=True)
def _wrong(row, sender, lane, round_):
    bad = 0
    for i in range(row.size):
        if row[i] != _value(sender, lane, round_, i):
            bad += 1
    return bad


@numba.njit(parallel=True, cache=True)
def blocking(lanes, rounds, stats, threads):
    """Blocking send/recv along the ring; stats[lane] = (mismatches, errors, messages)."""
    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        short_out, short_in = np.empty(SHORT), np.empty(SHORT)
        long_out = np.empty((LONG, 2))  # the message is column 1: a strided view
        long_in = np.empty(LONG)
        tag = TAG_BLOCKING + lane
        for r in range(rounds):
            _fill(short_out, rank, lane, r)
            _fill(long_out[:, 1], rank, lane, r)
            short_in[:] = -1.0
            long_in[:] = -1.0
            if rank % 2 == 0:
                stats[lane, 1] += mpi.send(short_out, right, tag) != 0
                stats[lane, 1] += mpi.send(long_out[:, 1], right, tag) != 0
                stats[lane, 1] += mpi.recv(short_in, left, tag) != 0
                stats[lane, 1] += mpi.recv(long_in, left, tag) != 0
            else:
                stats[lane, 1] += mpi.recv(short_in, left, tag) != 0
                stats[lane, 1] += mpi.recv(long_in, left, tag) != 0
                stats[lane, 1] += mpi.send(short_out, right, tag) != 0
                stats[lane, 1] += mpi.send(long_out[:, 1], right, tag) != 0
            stats[lane, 0] += _wrong(short_in, left, lane, r) + _wrong(long_in, left, lane, r)
            stats[lane, 2] += 2


@numba.njit(parallel=True, cache=True)
def exchange(lanes, rounds, stats, threads):
    """sendrecv along the ring (to itself at one process)."""
    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        out, into = np.empty(LONG), np.empty(LONG)
        tag = TAG_EXCHANGE + lane
        for r in range(rounds):
            n = SHORT if r % 2 == 0 else LONG
            _fill(out[:n], rank, lane, r)
            into[:n] = -1.0
            stats[lane, 1] += mpi.sendrecv(out[:n], right, into[:n], left, tag, tag) != 0
            stats[lane, 0] += _wrong(into[:n], left, lane, r)
            stats[lane, 2] += 1


@numba.njit(parallel=True, cache=True)
def crossed(lanes, rounds, on_main, stats, threads, completers):
    """isend/irecv started by lane t, completed by lane t + 1 (another thread) in a second
    prange loop, or by the main thread after the loop (``on_main``). Every other pair of
    rounds moves columns (strided: through a derived datatype, or packed into scratch that
    the pending-transfer table hands back at completion, whichever thread completes it).
    The buffers and the requests are allocated before the loops: a request given as
    ``request=`` does not keep them alive."""
    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size
    outgoing, incoming = np.empty((lanes, LONG)), np.empty((lanes, LONG))
    out_columns, in_columns = np.empty((LONG, lanes)), np.empty((LONG, lanes))
    requests = mpi.request_array(2 * lanes)
    for r in range(rounds):
        n = SHORT if r % 2 == 0 else LONG
        columns = r % 4 >= 2
        for lane in prange(lanes):
            threads[lane] = numba.get_thread_id()
            tag = TAG_CROSSED + lane
            out, into = outgoing[lane, :n], incoming[lane, :n]
            if columns:
                out, into = out_columns[:n, lane], in_columns[:n, lane]
            _fill(out, rank, lane, r)
            into[:] = -1.0
            stats[lane, 1] += mpi.irecv(into, left, tag, request=requests[2 * lane : 2 * lane + 1])[0] != 0
            stats[lane, 1] += mpi.isend(out, right, tag, request=requests[2 * lane + 1 : 2 * lane + 2])[0] != 0
        if on_main:
            stats[0, 1] += mpi.waitall(requests) != 0
        else:
            for lane in prange(lanes):
                other = (lane + 1) % lanes  # started by another thread
                completers[lane] = numba.get_thread_id()
                stats[lane, 1] += mpi.waitall(requests[2 * other : 2 * other + 2]) != 0
        for lane in range(lanes):
            into = in_columns[:n, lane] if columns else incoming[lane, :n]
            stats[lane, 0] += _wrong(into, left, lane, r)
            stats[lane, 2] += 1


@numba.njit(parallel=True, cache=True)
def reduce(lanes, rounds, comms, stats, threads):
    """allreduce and bcast on one communicator per lane, all lanes at once."""
    rank, size = mpi.rank(), mpi.size()
    for lane in prange(lanes):
        threads[lane] = numba.get_thread_id()
        comm = comms[lane]
        total = np.zeros(2)
        data = np.empty(SHORT)
        for r in range(rounds):
            stats[lane, 1] += mpi.allreduce(np.array([rank + lane + r, 1.0]), total, comm=comm) != 0
            # sum over ranks of rank + lane + r, and size
            expected = size * (size - 1) / 2 + size * (lane + r)
            stats[lane, 0] += (total[0] != expected) + (total[1] != size)
            root = (lane + r) % size
            if rank == root:
                _fill(data, root, lane, r)
            else:
                data[:] = -1.0
            stats[lane, 1] += mpi.bcast(data, root, comm=comm) != 0
            stats[lane, 0] += _wrong(data, root, lane, r)
            stats[lane, 2] += 2


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    from mpi4py import MPI

    lanes = numba.get_num_threads()
    comms = tuple(MPI.COMM_WORLD.Dup() for _ in range(lanes))
    report: dict = {
        "rank": mpi.rank(),
        "size": mpi.size(),
        "lanes": lanes,
        "thread_level": mpi.THREAD_LEVELS[mpi.query_thread()],
        "mpi": MPI.Get_library_version().split("\n")[0][:60],
    }
    cases = {
        "blocking": lambda s, t: blocking(lanes, rounds, s, t),
        "exchange": lambda s, t: exchange(lanes, rounds, s, t),
        "crossed_by_threads": lambda s, t: crossed(lanes, rounds, False, s, t, completed_by),
        "crossed_on_main": lambda s, t: crossed(lanes, rounds, True, s, t, completed_by),
        "reduce": lambda s, t: reduce(lanes, rounds, comms, s, t),
    }
    if mpi.size() == 1:  # a blocking send to itself would wait for its own receive
        del cases["blocking"]
    for name, case in cases.items():
        stats = np.zeros((lanes, 3), np.int64)
        threads = np.full(lanes, -1, np.int64)
        completed_by = np.full(lanes, -1, np.int64)
        start = time.perf_counter()
        case(stats, threads)
        seconds = time.perf_counter() - start
        MPI.COMM_WORLD.Barrier()
        report[name] = {
            "mismatches": int(stats[:, 0].sum()),
            "errors": int(stats[:, 1].sum()),
            "messages": int(stats[:, 2].sum()),
            "threads": sorted(set(threads.tolist())),
            "seconds": round(seconds, 3),
        }
        if name == "crossed_by_threads":  # lane t's requests were completed by lane t-1's thread
            report[name]["completed_by_another_thread"] = int(
                sum(completed_by[(t - 1) % lanes] != threads[t] for t in range(lanes))
            )
    for comm in comms:
        comm.Free()
    report["threading_layer"] = numba.threading_layer()
    sys.stdout.flush()  # one write (< PIPE_BUF): ranks sharing a pipe do not interleave mid-line
    os.write(1, ("THREADS " + json.dumps(report) + "\n").encode())


if __name__ == "__main__":
    main()
