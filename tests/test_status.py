"""Statuses, probes, matched receives, persistent requests, cancel and synchronous sends:
messages cross the ring (to the right, from the left) from njit code and from Python."""

import numba
import numpy as np
import pytest
from helpers import sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi
from mpi4numba.p2p import (
    improbe,
    imrecv,
    iprobe,
    issend,
    mprobe,
    mrecv,
    probe,
    recv_init,
    recv_status,
    send_init,
    ssend,
)
from mpi4numba.requests import cancel, request_free, start, startall
from mpi4numba.status import get_count

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
NULL = MPI._handleof(MPI.REQUEST_NULL) & (2 ** (8 * MPI._sizeof(MPI.Request)) - 1)
COUNT_DTYPES = [np.int8, np.int32, np.uint64, np.float32, np.float64, np.complex128, np.bool_]


def as_unsigned(requests):
    return [int(r) & (2 ** (8 * requests.itemsize) - 1) for r in requests]


@numba.njit
def probe_then_receive(outgoing, like, tag):
    """Send ``outgoing`` right; probe the left message, size a buffer by get_count, receive."""
    code, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), tag)
    left = (mpi.rank() - 1) % mpi.size()
    code |= mpi.error_class(0)
    probed, status = probe(left, tag)
    counted, count = get_count(status, like)
    incoming = np.empty(count, like.dtype)
    received = mpi.recv(incoming, status.source, status.tag)
    return code | probed | counted | received | mpi.wait(request), status.source, status.tag, incoming


@pytest.mark.parametrize("dtype", COUNT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_probe_and_get_count_size_the_receive(dtype):
    code, source, tag, incoming = probe_then_receive(sample(dtype, 3 + RANK, RANK), np.empty(0, dtype), 30)
    assert (code, source, tag) == (0, LEFT, 30)
    np.testing.assert_array_equal(incoming, sample(dtype, 3 + LEFT, LEFT))


@numba.njit
def poll_any_source(outgoing, incoming, tag):
    code, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), tag)
    polls = 0
    while True:
        probed, flag, status = iprobe(mpi.ANY_SOURCE, tag)
        code |= probed
        polls += 1
        if flag:
            break
    code |= get_count(status, np.float64)[0]
    count = get_count(status, np.float64)[1]
    code |= mpi.recv(incoming, status.source, tag)
    return code | mpi.wait(request), status.source, status.tag, status.error, count, polls


def test_iprobe_polls_until_the_left_message_is_there():
    incoming = np.zeros(4)
    code, source, tag, error, count, polls = poll_any_source(np.arange(4.0) + RANK, incoming, 31)
    assert (code, source, tag, error, count) == (0, LEFT, 31, 0, 4) and polls >= 1
    np.testing.assert_array_equal(incoming, np.arange(4.0) + LEFT)


@numba.njit
def matched_receive(outgoing, incoming, tag):
    code, request = mpi.isend(outgoing, (mpi.rank() + 1) % mpi.size(), tag)
    probed, message, status = mprobe(mpi.ANY_SOURCE, mpi.ANY_TAG)
    counted, count = get_count(status, incoming)
    received, rstatus = mrecv(incoming[:count], message)
    code |= probed | counted | received | mpi.wait(request)
    return code, status.source, status.tag, count, rstatus.source, rstatus.tag


def test_mprobe_and_mrecv_from_njit():
    incoming = np.zeros(8, np.int64)
    result = matched_receive(np.arange(2 + RANK, dtype=np.int64) * (RANK + 1), incoming, 32 + RANK)
    assert result == (0, LEFT, 32 + LEFT, 2 + LEFT, LEFT, 32 + LEFT)
    np.testing.assert_array_equal(incoming[: 2 + LEFT], np.arange(2 + LEFT) * (LEFT + 1))
    assert not incoming[2 + LEFT :].any()


def test_improbe_and_imrecv_from_python():
    outgoing = np.full(3, RANK, np.int16)
    _, send = mpi.isend(outgoing, RIGHT, 33)
    while True:
        code, flag, message, status = improbe(LEFT, 33)
        assert code == 0
        if flag:
            break
    assert isinstance(status, MPI.Status)
    assert (status.source, status.tag, status.Get_count(MPI.INT16_T)) == (LEFT, 33, 3)
    assert get_count(status, outgoing) == (0, 3)
    incoming = np.zeros(3, np.int16)
    code, recv = imrecv(incoming, message)
    assert code == 0 and mpi.waitall((send, recv)) == 0
    np.testing.assert_array_equal(incoming, np.full(3, LEFT, np.int16))


def test_recv_status_from_python_and_counts_in_other_types():
    outgoing = np.arange(3.0) + RANK
    _, request = mpi.isend(outgoing, RIGHT, 40 + RANK)
    incoming = np.zeros(5)
    code, status = recv_status(incoming, mpi.ANY_SOURCE, mpi.ANY_TAG)
    assert code == 0 and mpi.wait(request) == 0
    assert (status.source, status.tag, status.error) == (LEFT, 40 + LEFT, 0)
    np.testing.assert_array_equal(incoming, [LEFT, LEFT + 1, LEFT + 2, 0, 0])
    assert get_count(status, incoming) == (0, 3)
    assert get_count(status, np.float64) == (0, 3)
    assert get_count(status, np.dtype(np.float32)) == (0, 6)
    assert get_count(status, np.empty(0, np.int8)) == (0, 24)
    assert get_count(status, np.empty(0, np.complex128)) == (0, mpi.UNDEFINED)  # 24 bytes, not 16n
    assert get_count.py_func(status, incoming) == (0, 3)


def test_bytes_messages_count_in_elements():
    outgoing = np.array([b"abc", b"d%d" % RANK], "S3")
    _, request = mpi.isend(outgoing, RIGHT, 41)
    incoming = np.zeros(4, "S3")
    code, status = recv_status(incoming, LEFT, 41)
    assert code == 0 and mpi.wait(request) == 0
    assert get_count(status, incoming) == (0, 2)
    assert get_count(status, np.zeros(1, "S2")) == (0, 3)  # 6 bytes
    assert get_count(status, np.zeros(1, "S4")) == (0, mpi.UNDEFINED)  # not a whole number of S4
    assert list(incoming[:2]) == [b"abc", b"d%d" % LEFT]


def test_status_of_mpi4py_is_accepted():
    outgoing = np.arange(7, dtype=np.int32)
    _, request = mpi.isend(outgoing, RIGHT, 42)
    status = MPI.Status()
    MPI.COMM_WORLD.Recv(np.zeros(7, np.int32), LEFT, 42, status)
    assert mpi.wait(request) == 0
    assert get_count(status, outgoing) == (0, 7)


def test_proc_null_probes():
    code, status = probe(mpi.PROC_NULL)
    assert (code, status.source, status.tag) == (0, mpi.PROC_NULL, mpi.ANY_TAG)
    assert get_count(status, np.empty(0)) == (0, 0)
    code, message, status = mprobe(mpi.PROC_NULL)
    assert code == 0 and status.source == mpi.PROC_NULL
    assert message & (2**64 - 1) == MPI._handleof(MPI.MESSAGE_NO_PROC)
    untouched = np.full(2, 5.0)
    code, status = mrecv(untouched, message)
    assert code == 0 and status.source == mpi.PROC_NULL and list(untouched) == [5.0, 5.0]


@numba.njit
def persistent_rounds(outgoing, incoming, requests, rounds, tag):
    """The same two persistent requests, started ``rounds`` times with new data each time."""
    right, left = (mpi.rank() + 1) % mpi.size(), (mpi.rank() - 1) % mpi.size()
    code = send_init(outgoing, right, tag, request=requests[0:1])[0]
    code |= recv_init(incoming, left, tag, None, requests[1:2])[0]
    wrong = 0
    for round in range(rounds):
        outgoing[:] = mpi.rank() * 1000 + round
        code |= startall(requests)
        code |= mpi.waitall(requests)
        for value in incoming.ravel():
            if value != left * 1000 + round:
                wrong += 1
    return code, wrong


def test_persistent_send_recv_rounds_from_njit():
    requests = mpi.request_array(2)
    code, wrong = persistent_rounds(np.zeros(3), np.zeros(3), requests, 5, 50)
    assert (code, wrong) == (0, 0)
    assert NULL not in as_unsigned(requests)  # completed, inactive, still allocated
    assert request_free(requests[:1]) == 0 and request_free(requests[1:]) == 0
    assert as_unsigned(requests) == [NULL, NULL]


def test_persistent_requests_with_strided_buffers():
    grid = np.zeros((4, 5))
    received = np.zeros((4, 3))[:, 1]  # a strided view: the derived type outlives the init call
    requests = mpi.request_array(2)
    code, wrong = persistent_rounds(grid[:, 2], received, requests, 3, 51)
    assert (code, wrong) == (0, 0)
    np.testing.assert_array_equal(received, np.full(4, LEFT * 1000 + 2))
    assert not grid[:, [0, 1, 3, 4]].any()
    assert request_free(requests[:1]) == 0 and request_free(requests[1:]) == 0


def test_persistent_start_and_wait_from_python():
    outgoing, incoming = np.zeros(2, np.int32), np.zeros(2, np.int32)
    code, recv = recv_init(incoming, LEFT, 52)
    assert code == 0
    code, send = send_init(outgoing, RIGHT, 52)
    assert code == 0
    for round in range(3):
        outgoing[:] = [RANK, round]
        assert start(recv) == 0 and start(send) == 0
        assert mpi.wait(send) == 0 and mpi.wait(recv) == 0
        np.testing.assert_array_equal(incoming, [LEFT, round])
        outgoing[:] = [RANK, -round]
        assert startall([send, recv]) == 0 and mpi.waitall((send, recv)) == 0
        np.testing.assert_array_equal(incoming, [LEFT, -round])
    assert as_unsigned(send) != [NULL]
    assert request_free(send) == 0 and request_free(recv) == 0
    assert as_unsigned(send) == [NULL] and as_unsigned(recv) == [NULL]
    assert request_free(recv) == 0  # null: nothing to do


def test_cancel_a_receive_that_never_matches():
    _, request = mpi.irecv(np.zeros(1), LEFT, 53)
    assert cancel(request) == 0
    assert mpi.wait(request) == 0
    assert as_unsigned(request) == [NULL]
    assert cancel(request) == 0 and cancel(np.zeros(1, mpi.RequestType)) == 0  # null / zero: no-op


@numba.njit
def synchronous_ring(outgoing, incoming, tag):
    right, left = (mpi.rank() + 1) % mpi.size(), (mpi.rank() - 1) % mpi.size()
    code, request = mpi.irecv(incoming, left, tag)  # posted first: ssend to oneself at -n 1
    code |= ssend(outgoing, right, tag)
    return code | mpi.wait(request)


def test_ssend_ring():
    incoming = np.zeros(3, np.complex64)
    assert synchronous_ring(sample(np.complex64, 3, RANK), incoming, 60) == 0
    np.testing.assert_array_equal(incoming, sample(np.complex64, 3, LEFT))
    assert ssend(np.zeros(1), mpi.PROC_NULL) == 0


def test_issend_completes_only_once_the_receive_starts():
    outgoing = np.array([RANK + 0.5])
    requests = mpi.request_array(1)
    code, request = issend(outgoing, RIGHT, 61, request=requests)
    assert code == 0 and request is requests
    assert mpi.test(request) == (0, False)  # nobody has posted the matching receive yet
    MPI.COMM_WORLD.Barrier()
    incoming = np.zeros(1)
    assert mpi.recv(incoming, LEFT, 61) == 0
    assert mpi.wait(request) == 0 and incoming[0] == LEFT + 0.5


def test_typing_errors_name_the_problem():
    code, status = probe(mpi.PROC_NULL)
    with pytest.raises(TypingError, match="second argument must be a NumPy array"):
        get_count(status, 3)
    with pytest.raises(TypingError, match="status must be a status"):
        get_count(3, np.zeros(1))
    with pytest.raises(TypingError, match="unsupported dtype float16"):
        get_count(status, np.zeros(1, np.float16))
    with pytest.raises(TypingError, match="source must be an integer"):
        probe(1.5)
    with pytest.raises(TypingError, match="tag must be an integer"):
        iprobe(0, 2.5)
    with pytest.raises(TypingError, match="message must be an integer"):
        mrecv(np.zeros(1), 1.5)
    with pytest.raises(TypingError, match="request must be a C-contiguous RequestType array"):
        send_init(np.zeros(1), RANK, request=np.zeros(1))
    with pytest.raises(TypingError, match="request must be a 1-D array of RequestType"):
        start(3)
    with pytest.raises(TypingError, match="requests must be a RequestType array"):
        startall(3)
    with pytest.raises(TypingError, match="data must be a NumPy array"):
        recv_status([1.0], RANK)
