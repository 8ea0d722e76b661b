"""The hot path allocates nothing: NRT allocation counters stay flat over many calls."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba import allreduce_init, barrier_init, bcast_init, neighbor_alltoall_init
from mpi4numba._core.ccall import usable
from mpi4numba.p2p import iprobe, mprobe, mrecv, probe, recv_init, recv_status, send_init
from mpi4numba.partitioned import pready, precv_init, psend_init
from mpi4numba.requests import request_free, start, startall
from mpi4numba.status import get_count

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def probe_and_persistent_loop(outgoing, incoming, requests, persistent, steps):
    """Probes, status fields, get_count, matched receives and persistent start/wait."""
    right = (mpi.rank() + 1) % mpi.size()
    left = (mpi.rank() - 1) % mpi.size()
    status = 0
    for _step in range(steps):
        status |= startall(persistent)
        status |= mpi.waitall(persistent)
        status |= start(persistent[1:2]) | start(persistent[0:1]) | mpi.wait(persistent[0:1])
        status |= mpi.wait(persistent[1:2])
        mpi.isend(outgoing, right, 3, request=requests[0:1])
        code, message_status = probe(left, 3)
        code |= iprobe(left, 3)[0]
        code |= get_count(message_status, incoming)[0]
        code, received = recv_status(incoming, message_status.source, message_status.tag)
        status |= code | received.error | mpi.wait(requests[0:1])
        mpi.isend(outgoing, right, 4, request=requests[0:1])
        code, message, message_status = mprobe(left, 4)
        status |= code | mrecv(incoming, message)[0] | mpi.wait(requests[0:1])
        status |= message_status.tag - 4
    return status


def test_no_heap_allocation_in_probes_statuses_and_persistent_requests():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    right, left = (RANK + 1) % SIZE, (RANK - 1) % SIZE
    outgoing, incoming = np.full(4, float(RANK)), np.zeros(4)
    persistent = mpi.request_array(2)
    assert send_init(outgoing, right, 2, request=persistent[0:1])[0] == 0
    assert recv_init(incoming, left, 2, request=persistent[1:2])[0] == 0
    args = (outgoing, incoming, mpi.request_array(1), persistent)
    assert probe_and_persistent_loop(*args, 1) == 0  # compile and warm up

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert probe_and_persistent_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(201)
    assert (incoming == left).all()
    assert request_free(persistent[0:1]) == 0 and request_free(persistent[1:2]) == 0


@numba.njit(cache=True)
def persistent_collectives_loop(requests, sending, receiving, local, steps):
    """A time loop set up once: persistent collectives and a partitioned message, each
    step only start, pready, wait."""
    status = 0
    for step in range(steps):
        local[0] = step
        status |= startall(requests)
        status |= mpi.waitall(requests)
        status |= start(receiving) | start(sending)
        for part in range(2):
            status |= pready(part, sending)
        status |= mpi.waitall((sending, receiving))
    return status


def test_no_heap_allocation_in_persistent_collectives_and_partitioned_messages():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    if not usable("MPI_Allreduce_init") or not usable("MPI_Psend_init"):
        pytest.skip("the MPI library lacks (Open MPI 4.1) or gets wrong (Intel MPI 2021) MPI-4 persistent collectives")
    local, total, halos = np.zeros(1), np.zeros(1), np.zeros(2)
    status, ring = mpi.cart_create((SIZE,), (True,))
    made = [
        allreduce_init(local, total),
        bcast_init(np.zeros(3), 0),
        neighbor_alltoall_init(np.ones(2), halos, 1, ring),
        barrier_init(),
    ]
    assert [code for code, _ in made] == [0] * len(made)
    requests = np.concatenate([request for _, request in made])  # one array for startall
    outgoing, incoming = np.arange(4.0) + RANK, np.zeros(4)
    code, receiving = precv_init(incoming, 2, (RANK - 1) % SIZE)
    code2, sending = psend_init(outgoing, 2, (RANK + 1) % SIZE)
    assert code == code2 == 0
    args = (requests, sending, receiving, local)
    assert persistent_collectives_loop(*args, 1) == 0  # compile and warm up

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert persistent_collectives_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(201)
    assert total[0] == 200 * SIZE and (incoming == np.arange(4.0) + (RANK - 1) % SIZE).all()
    for request in [request for _, request in made] + [sending, receiving]:
        assert request_free(request) == 0
    assert mpi.comm_free(ring) == 0


@numba.njit(cache=True)
def strided_loop(grid, target, records, received, requests, steps):
    """Faces of a grid (derived datatypes from the cache) and structured arrays, sent around."""
    right = (mpi.rank() + 1) % mpi.size()
    left = (mpi.rank() - 1) % mpi.size()
    status = 0
    for _ in range(steps):
        status |= mpi.sendrecv(grid[:, 0], right, target[:, 1], left)
        status |= mpi.sendrecv(grid[::-1, :, 2], right, target[:, :, 0], left)
        mpi.isend(grid[1:3, ::2, 1], right, 7, request=requests[0:1])
        status |= mpi.recv(target[0, 1:3, ::2], left, 7)
        status |= mpi.wait(requests[0:1])
        status |= mpi.sendrecv(records[::2], right, received, left)
        status |= mpi.bcast(target[:, 2, ::-1], 0)
    return status


def test_no_heap_allocation_for_strided_and_structured_buffers(strided_mode):
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    dtype = np.dtype([("flag", "u1"), ("value", "f8"), ("m", "i2", (3,))], align=True)
    grid = np.arange(5 * 4 * 3, dtype=np.float64).reshape(5, 4, 3) + RANK
    args = (grid, np.zeros((5, 4, 3)), np.zeros(6, dtype), np.zeros(3, dtype), mpi.request_array(1))
    assert strided_loop(*args, 1) == 0  # compile, build and cache the types

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert strided_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(101)


@numba.njit(cache=True)
def full_buffer_loop(mine, rows, outgoing, incoming, counts, starts, steps):
    status = 0
    for _ in range(steps):
        status |= mpi.gather(mine, rows[:, :5], 10, 0)
        status |= mpi.allgather(mine, rows[:, :5], 10)
        status |= mpi.scatter(rows[:, :5], mine, 10, 0)
        status |= mpi.alltoall(outgoing[:, ::2], incoming[:, 1::2], 2)
        status |= mpi.allgatherv(mine[0, :2], rows[:, 5], counts, starts)
    return status


def test_no_heap_allocation_for_strided_full_buffers(strided_mode):
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    args = (
        np.ones((2, 5)),
        np.zeros((2 * SIZE, 8)),
        np.ones((SIZE, 4)),
        np.zeros((SIZE, 4)),
        np.full(SIZE, 2, np.int32),
        np.arange(0, 2 * SIZE, 2, dtype=np.int32),
    )
    assert full_buffer_loop(*args, 1) == 0

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert full_buffer_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(101)


@numba.njit(cache=True)
def copied_buffer_loop(columns, sums, cart, gathered, steps):
    """Reductions and neighbourhood collectives of columns: C-ordered copies in scratch."""
    status = 0
    for _ in range(steps):
        status |= mpi.allreduce(columns[:, 0], sums[:, 1])
        status |= mpi.allreduce(columns[::2, 1], sums[::2, 0], mpi.Operator.MAX)
        status |= mpi.neighbor_allgather(columns[:, 2], gathered[:, 1], columns.shape[0], cart)
    return status


def test_no_heap_allocation_for_strided_reductions_and_neighbourhoods():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    cart = MPI.COMM_WORLD.Create_cart([SIZE], periods=[True])
    rows = 6
    columns = (np.arange(rows * 3, dtype=np.float64).reshape(rows, 3) + 100 * RANK).copy()
    sums, gathered = np.zeros((rows, 2)), np.full((2 * rows, 3), -1.0)
    args = (columns, sums, cart, gathered)
    assert copied_buffer_loop(*args, 1) == 0
    ranks = np.arange(SIZE)
    np.testing.assert_array_equal(sums[:, 1], SIZE * columns[:, 0] - 100 * RANK * SIZE + 100 * ranks.sum())
    np.testing.assert_array_equal(sums[::2, 0], columns[::2, 1] - 100 * RANK + 100 * (SIZE - 1))
    assert (sums[1::2, 0] == 0).all()  # between the strided elements: untouched
    left, right = (RANK - 1) % SIZE, (RANK + 1) % SIZE
    expected = np.concatenate([columns[:, 2] + 100 * (left - RANK), columns[:, 2] + 100 * (right - RANK)])
    np.testing.assert_array_equal(gathered[:, 1], expected)
    assert (gathered[:, [0, 2]] == -1).all()

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert copied_buffer_loop(*args, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    try:
        assert allocations(1) == allocations(101)
    finally:
        cart.Free()
