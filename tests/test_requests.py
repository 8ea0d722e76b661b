"""Requests: wait/test families over arrays, tuples and lists; null and zero requests are safe."""

import numba
import numpy as np
from mpi4py import MPI

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
NULL = MPI._handleof(MPI.REQUEST_NULL) & (2 ** (8 * MPI._sizeof(MPI.Request)) - 1)


def as_unsigned(requests):
    return [int(r) & (2 ** (8 * requests.itemsize) - 1) for r in requests]


@numba.njit(cache=True)
def exchange_with_tuple(outgoing, incoming):
    _, send = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), 21)
    _, recv = mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), 21)
    return mpi.waitall((send, recv)), send, recv


@numba.njit(cache=True)
def exchange_into_array(outgoing, incoming, requests):
    mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), 22, request=requests[0:1])
    mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), 22, None, requests[1:2])
    return mpi.waitall(requests)


def test_request_type_matches_the_abi():
    assert np.dtype(mpi.RequestType).itemsize == MPI._sizeof(MPI.Request)


def test_waitall_on_tuple_completes_and_nulls_requests():
    incoming = np.zeros(3)
    status, send, recv = exchange_with_tuple(np.arange(3.0) + RANK, incoming)
    assert status == 0
    np.testing.assert_array_equal(incoming, np.arange(3.0) + LEFT)
    assert as_unsigned(send) == [NULL] and as_unsigned(recv) == [NULL]


def test_waitall_on_one_array_without_allocation():
    requests = mpi.request_array(2)
    incoming = np.zeros(2, np.int16)
    assert exchange_into_array(np.array([RANK, 2 * RANK], np.int16), incoming, requests) == 0
    np.testing.assert_array_equal(incoming, [LEFT, 2 * LEFT])
    assert as_unsigned(requests) == [NULL, NULL]


def test_waitall_on_python_list():
    incoming = np.zeros(1, np.int32)
    _, send = mpi.isend(np.array([RANK], np.int32), RIGHT, 23)
    _, recv = mpi.irecv(incoming, LEFT, 23)
    assert mpi.waitall([send, recv]) == 0
    assert incoming[0] == LEFT


@numba.njit(cache=True)
def complete_none():
    none = [mpi.request_array(1)]
    none.pop()  # an empty list of request arrays
    return mpi.waitall(()), mpi.testany(()), mpi.waitany(none), mpi.testall(none)


def test_no_requests_at_all_is_complete():
    """A rank with nothing outstanding completes an empty collection, as MPI does with count 0."""
    assert complete_none() == (0, (0, True, mpi.UNDEFINED), (0, mpi.UNDEFINED), (0, True))
    assert mpi.waitall([]) == 0 and mpi.startall([]) == 0 and mpi.testall(()) == (0, True)
    assert mpi.waitany([]) == (0, mpi.UNDEFINED) and mpi.testany(requests=[]) == (0, True, mpi.UNDEFINED)


def test_waitany_and_testany_report_index():
    incoming = np.zeros(1)
    _, recv = mpi.irecv(incoming, LEFT, 24)
    _, send = mpi.isend(np.array([float(RANK)]), RIGHT, 24)
    requests = np.concatenate([mpi.request_array(1), recv, send])
    done = set()
    while len(done) < 2:
        status, index = mpi.waitany(requests)
        assert status == 0 and index in (1, 2)
        done.add(index)
    assert mpi.waitany(requests) == (0, mpi.UNDEFINED)
    assert mpi.testany(requests) == (0, True, mpi.UNDEFINED)
    assert incoming[0] == LEFT


def test_test_and_testall_poll_until_done():
    incoming = np.zeros(2)
    _, recv = mpi.irecv(incoming, LEFT, 25)
    _, send = mpi.isend(np.array([1.0, RANK]), RIGHT, 25)
    while not mpi.test(recv)[1]:
        pass
    while True:
        status, flag = mpi.testall((send, recv))
        assert status == 0
        if flag:
            break
    np.testing.assert_array_equal(incoming, [1.0, LEFT])


def test_null_zero_and_completed_requests_are_safe():
    zeros = np.zeros(3, mpi.RequestType)
    assert mpi.waitall(zeros) == 0
    assert mpi.wait(np.zeros(1, mpi.RequestType)) == 0
    assert mpi.test(np.zeros(1, mpi.RequestType)) == (0, True)
    assert mpi.testall(zeros) == (0, True)
    assert mpi.waitany(zeros) == (0, mpi.UNDEFINED)
    nulls = mpi.request_array(2)
    assert mpi.waitall((nulls[:1], nulls[1:])) == 0
    assert mpi.wait(nulls[:1]) == 0
