"""Request arrays from the pool of mpi4numba._core.requestmemory (numba-mpi's call form
without a heap allocation per call): blocks taken and given back by the importing
thread, other threads on the heap, a full pool freeing the rest, requests too large for a
block on Numba's allocator, Numba's own allocator when its layout is not the one checked,
and the data of every exchange checked."""

import threading

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba._core import keepalive, requestmemory

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE

pytestmark = pytest.mark.jit_only


def live_blocks() -> int:
    stats = rtsys.get_allocation_stats()
    return stats.alloc - stats.free


def test_numbas_memory_layout_is_the_one_the_pool_needs():
    # on every Numba this project declares, request arrays come from the pool
    assert requestmemory.problem() is None
    assert requestmemory.pooled(requestmemory.HELD_IN_BLOCK)
    assert not requestmemory.pooled(requestmemory.HELD_IN_BLOCK + 1)


@numba.njit(cache=True)
def exchange_new_requests(outgoing, incoming, steps):
    """numba-mpi's call form: new request arrays per call, dropped after waitall."""
    status = 0
    for step in range(steps):
        outgoing[:] = 1000 * step + mpi.rank()
        sent, send = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), step)
        received, recv = mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), step)
        status |= sent | received | mpi.waitall((send, recv))
        for value in incoming:
            if value != 1000 * step + (mpi.rank() - 1) % mpi.size():
                status |= 1 << 20
    return status


def test_the_importing_thread_takes_blocks_from_the_pool_and_gives_them_back():
    outgoing, incoming = np.zeros(5, np.int64), np.zeros(5, np.int64)
    assert exchange_new_requests(outgoing, incoming, 2) == 0  # compile; two blocks now pooled
    pooled, live = requestmemory.pooled_blocks(), live_blocks()
    assert pooled >= 2
    assert exchange_new_requests(outgoing, incoming, 100) == 0  # data checked inside
    assert requestmemory.pooled_blocks() == pooled
    assert live_blocks() == live  # Numba counts each block: one allocation, one free

    status, request = mpi.isend(np.full(3, RANK, np.int32), RIGHT, 21)  # the array lives in the request
    assert status == 0 and requestmemory.pooled_blocks() == pooled - 1
    received = np.zeros(3, np.int32)
    assert mpi.recv(received, LEFT, 21) == 0 and mpi.wait(request) == 0
    del request
    assert requestmemory.pooled_blocks() == pooled
    np.testing.assert_array_equal(received, np.full(3, LEFT))


def test_a_full_pool_frees_the_blocks_given_back_beyond_it():
    buffer = np.arange(4.0)
    many = requestmemory.POOL_SLOTS + 6
    requests = [mpi.isend(buffer, mpi.PROC_NULL, 0)[1] for _ in range(many)]
    assert requestmemory.pooled_blocks() == 0  # every pooled block is in use, the rest came from malloc
    assert len({request.ctypes.data for request in requests}) == many
    assert mpi.waitall(np.concatenate(requests)) == 0
    del requests
    assert requestmemory.pooled_blocks() == requestmemory.POOL_SLOTS


def test_other_threads_use_the_heap_and_their_blocks_may_come_back_to_the_pool():
    if mpi.thread_level() != "multiple":
        pytest.skip("MPI calls from a second thread need the thread level multiple")
    outgoing, incoming = np.zeros(5, np.int64), np.zeros(5, np.int64)
    assert exchange_new_requests(outgoing, incoming, 1) == 0
    pooled = requestmemory.pooled_blocks()
    made: list = []
    seen: list[int] = []

    def other_thread() -> None:
        status, request = mpi.isend(np.full(2, 10 + RANK), RIGHT, 22)  # not from the pool
        seen.append(requestmemory.pooled_blocks())
        made.append((status, request))
        made.append(exchange_new_requests(outgoing, incoming, 20))  # malloc and free each

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert seen == [pooled] and made[0][0] == 0 and made[1] == 0
    received = np.zeros(2, np.int64)
    assert mpi.recv(received, LEFT, 22) == 0 and mpi.wait(made[0][1]) == 0
    np.testing.assert_array_equal(received, np.full(2, 10 + LEFT))
    del made[:]  # the last reference to a heap block goes on this thread: it joins the pool
    assert requestmemory.pooled_blocks() == min(pooled + 1, requestmemory.POOL_SLOTS)


@numba.njit(parallel=True, cache=True)
def prange_requests(lanes):
    """Each lane's thread makes a request and frees it (the main thread from the pool, the
    others from the heap)."""
    buffers = np.zeros((lanes, 2))
    codes = np.zeros(lanes, np.int64)
    for lane in numba.prange(lanes):
        buffers[lane, :] = lane
        code, request = mpi.isend(buffers[lane], mpi.PROC_NULL, lane)
        codes[lane] = code | mpi.wait(request)
    return codes


def test_requests_made_and_freed_by_prange_threads():
    if mpi.thread_level() != "multiple":
        pytest.skip("MPI calls from prange threads need the thread level multiple")
    assert (prange_requests(8) == 0).all()
    assert 0 <= requestmemory.pooled_blocks() <= requestmemory.POOL_SLOTS


@numba.njit(cache=True)
def request_holding(a, b, c, d, e, f, g, h, i):
    return keepalive.new_request((a, b, c, d, e, f, g, h, i))


def test_a_request_keeping_more_arrays_alive_than_a_block_holds_uses_numbas_allocator():
    arrays = [np.full(2, k) for k in range(requestmemory.HELD_IN_BLOCK + 1)]
    request_holding(*arrays)  # compile
    pooled, live = requestmemory.pooled_blocks(), live_blocks()
    request = request_holding(*[np.full(2, k) for k in range(requestmemory.HELD_IN_BLOCK + 1)])
    assert requestmemory.pooled_blocks() == pooled
    assert live_blocks() == live + 1 + requestmemory.HELD_IN_BLOCK + 1  # its block and the nine arrays
    del request
    assert live_blocks() == live


def test_numbas_allocator_when_the_layout_differs(monkeypatch):
    monkeypatch.setattr(requestmemory, "_PROBLEM", "a layout this test pretends to find")
    assert not requestmemory.pooled(1)

    @numba.njit  # compiled now, under the pretended layout
    def exchange(outgoing, incoming):
        sent, send = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), 23)
        received, recv = mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), 23)
        return sent | received | mpi.waitall((send, recv))

    pooled, live = requestmemory.pooled_blocks(), live_blocks()
    incoming = np.zeros(3)
    assert exchange(np.full(3, RANK + 0.5), incoming) == 0
    assert requestmemory.pooled_blocks() == pooled and live_blocks() == live
    np.testing.assert_array_equal(incoming, np.full(3, LEFT + 0.5))
