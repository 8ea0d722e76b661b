"""Point-to-point: data crosses between ranks, for every dtype and layout, from njit and Python."""

import numba
import numpy as np
import pytest
from helpers import NUMERIC_DTYPES, sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE


@numba.njit(cache=True)
def ring_exchange(outgoing, incoming, tag):
    """isend to the right neighbour, blocking recv from the left one."""
    status, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), tag)
    received = mpi.recv(incoming, (mpi.rank() - 1) % mpi.size(), tag)
    return status, received, mpi.wait(request)


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=lambda d: np.dtype(d).name)
def test_ring_every_dtype(dtype):
    incoming = np.zeros(5, dtype)
    assert ring_exchange(sample(dtype, 5, RANK), incoming, 3) == (0, 0, 0)
    np.testing.assert_array_equal(incoming, sample(dtype, 5, LEFT))


def test_send_recv_from_python_and_py_func():
    for send, recv in ((mpi.send, mpi.recv), (mpi.send.py_func, mpi.recv.py_func)):
        incoming = np.zeros(3, np.int64)
        if SIZE == 1:  # a blocking send to oneself may wait for the matching receive
            _, request = mpi.irecv(incoming, 0, 11)
            assert send(np.arange(3), 0, 11) == 0 and mpi.wait(request) == 0
            _, request = mpi.isend(np.arange(3) + 1, 0, 12)
            assert recv(incoming, 0, 12) == 0 and mpi.wait(request) == 0
            np.testing.assert_array_equal(incoming, np.arange(3) + 1)
            continue
        elif RANK % 2 == 0:
            assert send(np.arange(3) + RANK, RIGHT, 11) == 0
            assert recv(incoming, LEFT, 11) == 0
        else:
            assert recv(incoming, LEFT, 11) == 0
            assert send(np.arange(3) + RANK, RIGHT, 11) == 0
        np.testing.assert_array_equal(incoming, np.arange(3) + LEFT)


def test_sendrecv_defaults_and_any_source():
    incoming = np.zeros(4, np.float32)
    status = mpi.sendrecv(np.full(4, RANK, np.float32), RIGHT, incoming, mpi.ANY_SOURCE)
    assert status == 0
    np.testing.assert_array_equal(incoming, np.full(4, LEFT, np.float32))


def test_non_contiguous_views_and_fortran_order():
    grid = np.arange(6 * 7, dtype=np.float64).reshape(6, 7) * (RANK + 1)
    views = [grid[::2, 1::3], grid[:, 2], grid[1:5, 1:4].T, np.asfortranarray(grid), grid[::-1, ::-2]]
    for view in views:
        received = np.zeros(view.shape)
        assert ring_exchange(view, received, 5) == (0, 0, 0)
        expected = view / (RANK + 1) * (LEFT + 1)
        np.testing.assert_array_equal(received, expected)
        column = np.zeros((view.shape[0], 3))[:, 1]  # receive into a strided view too
        if view.ndim == 1:
            assert ring_exchange(view, column[: view.size], 6) == (0, 0, 0)
            np.testing.assert_array_equal(column[: view.size], expected)


def test_zero_d_and_bytes_arrays():
    scalar_in = np.zeros((), np.int32)
    assert ring_exchange(np.array(RANK, np.int32), scalar_in, 7) == (0, 0, 0)
    assert scalar_in == LEFT
    text_in = np.zeros(3, "S4")
    assert ring_exchange(np.array([b"ab%d" % RANK, b"c", b"defg"], "S4"), text_in, 8) == (0, 0, 0)
    assert list(text_in) == [b"ab%d" % LEFT, b"c", b"defg"]


def test_truncation_is_an_error_not_silent():
    short = np.zeros(2)
    status, request = mpi.isend(np.arange(5.0), RIGHT, 9)
    code = mpi.recv(short, LEFT, 9)
    assert mpi.error_class(code) == mpi.ERR_TRUNCATE
    assert mpi.wait(request) == 0


def test_bad_rank_and_tag_are_errors():
    buffer = np.zeros(1)
    assert mpi.error_class(mpi.send(buffer, SIZE + 3)) == mpi.ERR_RANK
    assert mpi.error_class(mpi.send(buffer, RIGHT, -5)) == mpi.ERR_TAG
    # values that do not fit a C int are refused, never truncated to a valid rank
    assert mpi.send(buffer, 2**32 + RIGHT) == mpi.ERR_ARG
    assert "rank" in mpi.error_string(mpi.send(buffer, SIZE + 3)).lower()


def test_proc_null_is_a_no_op():
    untouched = np.full(2, 7.0)
    assert mpi.sendrecv(np.zeros(2), mpi.PROC_NULL, untouched, mpi.PROC_NULL) == 0
    np.testing.assert_array_equal(untouched, [7.0, 7.0])


def test_typing_errors_name_the_problem():
    with pytest.raises(TypingError, match="unsupported dtype float16"):
        mpi.send(np.zeros(2, np.float16), RANK)
    readonly = np.zeros(2)
    readonly.flags.writeable = False
    with pytest.raises(TypingError, match="read-only"):
        mpi.recv(readonly, RANK)
    with pytest.raises(TypingError, match="must be a NumPy array"):
        mpi.send([1, 2], RANK)
    with pytest.raises(TypingError, match="dest must be an integer"):
        mpi.send(np.zeros(1), 1.5)
