"""The hot path allocates nothing: NRT allocation counters stay flat over many calls."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.runtime import rtsys

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


@numba.njit
def hot_loop(outgoing, incoming, total, requests, steps):
    right = (mpi.rank() + 1) % mpi.size()
    left = (mpi.rank() - 1) % mpi.size()
    status = 0
    for _ in range(steps):
        status |= mpi.sendrecv(outgoing, right, incoming, left)
        status |= mpi.allreduce(outgoing, total)
        status |= mpi.allreduce(1.0, total[:1])
        status |= mpi.bcast(incoming, 0)
        status |= mpi.barrier()
        mpi.isend(outgoing, right, 1, request=requests[0:1])
        mpi.irecv(incoming, left, 1, None, requests[1:2])
        status |= mpi.waitall(requests)
        mpi.isend(outgoing, right, 2, request=requests[0:1])
        mpi.irecv(incoming, left, 2, None, requests[1:2])
        status |= mpi.waitall((requests[0:1], requests[1:2]))
        status |= mpi.wait(requests[0:1])
    return status


def test_no_heap_allocation_per_call():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    args = (np.ones(4), np.zeros(4), np.zeros(4), mpi.request_array(2))
    assert hot_loop(*args, 1) == 0  # compile and warm up

    def allocations(steps):  # unboxing the array arguments costs a fixed few per call
        before = rtsys.get_allocation_stats().alloc
        assert hot_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(201)
