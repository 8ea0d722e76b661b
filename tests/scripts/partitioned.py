"""One partitioned message per round, filled and received by prange threads (tests/test_partitioned.py).

Run under ``mpiexec -n N python tests/scripts/partitioned.py ROUNDS`` with MPI at
``multiple`` and ``NUMBA_NUM_THREADS`` > 1. Each rank sends one message of ``parts``
partitions (as many as Numba has threads) to its right neighbour on a ring (itself at one
process) and receives one from its left, with ``psend_init``/``precv_init`` made once.
Each round starts both requests, then in one ``prange`` loop thread ``p`` fills partition
``p`` of the outgoing message (every element encodes sender, round and position) and
marks it ready with ``pready``; in a second ``prange`` loop thread ``p`` polls
``parrived`` for partition ``p`` of the incoming message and checks each of its elements
as soon as that partition is in, before the message as a whole completes (where
mpi4numba refuses ``MPI_Parrived``, Open MPI 5, the threads check their partitions after
the message completes). Every rank
prints one line ``PARTITIONED {json}``: elements checked, mismatches, error statuses and
the Numba thread ids that called ``pready``. Where the library lacks the MPI-4 routines,
the line says so (``missing``: the error string) and nothing else runs.
"""

from __future__ import annotations

import json
import sys

import numba
import numpy as np
from numba import prange

import mpi4numba as mpi
from mpi4numba._core.ccall import usable
from mpi4numba.partitioned import parrived, pready, precv_init, psend_init

PART = 5_000  # float64 elements per partition: past MPICH's eager limit for the message


@numba.njit(cache=True)
def _value(sender, round_, position):
    return float(sender * 100_000_000 + round_ * 100_000 + position)


@numba.njit(parallel=True, cache=True)
def fill_and_mark(outgoing, parts, rank, round_, sending, errors, threads):
    for p in prange(parts):
        for i in range(p * PART, (p + 1) * PART):
            outgoing[i] = _value(rank, round_, i)
        if pready(p, sending) != 0:
            errors[p] += 1
        threads[p] = numba.get_thread_id()


@numba.njit(parallel=True, cache=True)
def poll_and_check(incoming, parts, left, round_, receiving, errors, mismatches, checked, poll):
    for p in prange(parts):
        while poll:
            code, arrived = parrived(receiving, p)
            if code != 0:
                errors[p] += 1
                break
            if arrived:
                break
        for i in range(p * PART, (p + 1) * PART):
            if incoming[i] != _value(left, round_, i):
                mismatches[p] += 1
            checked[p] += 1


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    parts = numba.get_num_threads()
    rank, size = mpi.rank(), mpi.size()
    right, left = (rank + 1) % size, (rank - 1) % size
    report: dict = {"rank": rank, "size": size, "parts": parts, "thread_level": mpi.thread_level()}
    outgoing, incoming = np.zeros(parts * PART), np.full(parts * PART, -1.0)
    code, receiving = precv_init(incoming, parts, left, 7)
    if mpi.error_class(code) == mpi.ERR_UNSUPPORTED_OPERATION:
        report["missing"] = mpi.error_string(code)
        print("PARTITIONED " + json.dumps(report), flush=True)
        return
    assert code == 0, mpi.error_string(code)
    code, sending = psend_init(outgoing, parts, right, 7)
    assert code == 0, mpi.error_string(code)
    errors, mismatches, checked = (np.zeros(parts, np.int64) for _ in range(3))
    poll = usable("MPI_Parrived")  # refused on Open MPI 5 (see mpi4numba._core.refusals)
    report["polled"] = poll
    threads = np.full(parts, -1, np.int64)
    for round_ in range(rounds):
        errors[0] += mpi.start(receiving) != 0
        errors[0] += mpi.start(sending) != 0
        fill_and_mark(outgoing, parts, rank, round_, sending, errors, threads)
        if poll:  # each part checked as soon as it is in
            poll_and_check(incoming, parts, left, round_, receiving, errors, mismatches, checked, True)
            errors[0] += mpi.waitall((sending, receiving)) != 0
        else:  # the whole message, once complete
            errors[0] += mpi.waitall((sending, receiving)) != 0
            poll_and_check(incoming, parts, left, round_, receiving, errors, mismatches, checked, False)
    errors[0] += mpi.request_free(sending) != 0
    errors[0] += mpi.request_free(receiving) != 0
    report.update(
        checked=int(checked.sum()),
        mismatches=int(mismatches.sum()),
        errors=int(errors.sum()),
        threads=sorted({int(t) for t in threads}),
    )
    mpi.barrier()
    print("PARTITIONED " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
