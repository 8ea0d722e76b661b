"""The routine mechanism: typing, keyword folding, lowered bodies and their references."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE


def live_references():
    stats = rtsys.get_allocation_stats()
    return stats.alloc - stats.free


@numba.njit(cache=True)
def drop_new_requests(outgoing, incoming, steps):
    """isend/irecv requests made and dropped: each keeps its buffer alive until waited on."""
    status = 0
    for step in range(steps):
        _, send = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), step)
        _, recv = mpi.irecv(incoming, (mpi.rank() - 1) % mpi.size(), step)
        status |= mpi.waitall((send, recv))
    return status


@numba.njit(cache=True)
def return_given_request(outgoing, requests):
    status, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), 7, request=requests[1:2])
    return status, request


@pytest.mark.jit_only
def test_lowered_bodies_release_what_they_make_and_keep_what_they_return():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    outgoing, incoming = np.full(3, RANK, np.int32), np.zeros(3, np.int32)
    assert drop_new_requests(outgoing, incoming, 1) == 0  # compile
    before = live_references()
    assert drop_new_requests(outgoing, incoming, 50) == 0
    assert live_references() == before  # 100 requests made, every one released
    np.testing.assert_array_equal(incoming, np.full(3, LEFT))

    requests = mpi.request_array(3)
    status, request = return_given_request(outgoing, requests)  # a view of the caller's array
    assert status == 0 and request.shape == (1,)
    assert mpi.recv(incoming, LEFT, 7) == 0 and mpi.wait(request) == 0
    assert int(requests[1]) == int(request[0])  # the same memory, still alive
    del request
    requests[:] = 0
    np.testing.assert_array_equal(incoming, np.full(3, LEFT))


def test_a_new_request_keeps_a_temporary_buffer_alive():
    big = 1 << 17  # above MPICH's eager limit: the data is read after isend returns
    _, request = mpi.isend(np.full(big, RANK + 0.5), RIGHT, 11)  # nothing else refers to the array
    incoming = np.zeros(big)
    assert mpi.recv(incoming, LEFT, 11) == 0
    assert mpi.wait(request) == 0
    np.testing.assert_array_equal(incoming, np.full(big, LEFT + 0.5))


@numba.njit(cache=True)
def keyword_forms(data, out):
    a = mpi.sendrecv(data, mpi.rank(), out, recvtag=3, sendtag=3)
    b = mpi.recv(out, tag=mpi.ANY_TAG, source=mpi.PROC_NULL)
    c = mpi.allreduce(data, out, comm=None)
    return a, b, c


def test_keywords_in_any_order_and_gaps_filled_with_defaults():
    out = np.zeros(2)
    assert keyword_forms(np.array([1.0, 2.0]), out) == (0, 0, 0)
    np.testing.assert_array_equal(out, np.array([1.0, 2.0]) * SIZE)
    assert mpi.sendrecv(np.ones(1), RANK, out[:1], recvtag=4, sendtag=4) == 0  # the same from Python


def test_routines_are_python_callables_with_their_signature_and_py_func():
    import inspect

    assert str(inspect.signature(mpi.send)) == "(data, dest, tag=0, comm=None)"
    assert mpi.send.py_func(np.zeros(1), mpi.PROC_NULL) == 0
    assert "MPI_Send" in mpi.send.__doc__


@numba.njit(cache=True)
def five_arguments(data):
    return mpi.send(data, 0, 0, None, 1)


@pytest.mark.jit_only
def test_bad_calls_are_typing_errors_naming_the_routine():
    with pytest.raises(TypingError, match="mpi4numba.send: too many positional arguments"):
        five_arguments(np.zeros(1))
    with pytest.raises(TypeError):  # from Python, as for any Python function
        mpi.send(np.zeros(1), 0, 0, None, "unexpected")
    with pytest.raises(TypingError, match="mpi4numba.recv: data is read-only"):
        ro = np.zeros(2)
        ro.flags.writeable = False
        mpi.recv(ro, mpi.PROC_NULL)


@numba.njit(cache=True)
def too_short(out):
    return mpi.allreduce(np.ones(4), out)


def test_run_time_checks_raise_from_compiled_code():
    with pytest.raises(ValueError, match="fewer elements than sendobj"):
        too_short(np.zeros(2))
    assert too_short(np.zeros(4)) == 0
