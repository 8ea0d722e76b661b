"""numba-mpi 1.3.1 drop-in: its names, call forms, defaults and return conventions.

Programs here are written the way numba-mpi users write them, with
``import mpi4numba as numba_mpi``.
"""

from enum import IntEnum

import numba
import numpy as np
from mpi4py import MPI

import mpi4numba as numba_mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
NUMBA_MPI_NAMES = """rank size initialized query_thread wtime barrier send recv sendrecv isend irecv wait
waitall waitany test testall testany allreduce reduce bcast scatter gather allgather Operator RequestType
SUCCESS __version__""".split()


def test_every_numba_mpi_name_exists():
    missing = [name for name in NUMBA_MPI_NAMES if not hasattr(numba_mpi, name)]
    assert not missing
    assert numba_mpi.SUCCESS == 0 and isinstance(numba_mpi.__version__, str)
    assert issubclass(numba_mpi.Operator, IntEnum)
    assert {"SUM", "MIN", "MAX"} <= set(numba_mpi.Operator.__members__)


def test_dispatchers_have_working_py_func():
    assert numba_mpi.rank.py_func() == RANK and numba_mpi.size.py_func() == SIZE
    assert numba_mpi.initialized.py_func() is True and numba_mpi.wtime.py_func() > 0
    incoming = np.zeros(2)
    right, left = (RANK + 1) % SIZE, (RANK - 1) % SIZE
    assert numba_mpi.sendrecv.py_func(np.full(2, RANK * 1.0), right, incoming, left) == 0
    assert list(incoming) == [left, left]


N_TIMES, N_INTERVALS = 3, 10_000


@numba.njit(cache=True)
def get_pi_part(n_intervals, rank, size):
    h = 1 / n_intervals
    partial_sum = 0.0
    for i in range(rank, n_intervals, size):
        x = h * (i + 0.5)
        partial_sum += 4 / (1 + x**2)
    return h * partial_sum


@numba.njit(cache=True)
def pi_numba_mpi(n_intervals):
    pi = np.array([0.0])
    part = np.empty_like(pi)
    for _ in range(N_TIMES):
        part[0] = get_pi_part(n_intervals, numba_mpi.rank(), numba_mpi.size())
        numba_mpi.allreduce(part, pi, numba_mpi.Operator.SUM)
    return pi[0]


def test_pi_program_written_for_numba_mpi():
    assert abs(pi_numba_mpi(N_INTERVALS) - np.pi) < 1e-8


@numba.njit(cache=True)
def nonblocking_round(outgoing, incoming):
    right = (numba_mpi.rank() + 1) % numba_mpi.size()
    left = (numba_mpi.rank() - 1) % numba_mpi.size()
    status_send, request_send = numba_mpi.isend(outgoing, right)  # tag defaults to 0
    status_recv, request_recv = numba_mpi.irecv(incoming)  # ANY_SOURCE, ANY_TAG
    requests = np.array([request_send[0], request_recv[0]], dtype=numba_mpi.RequestType)
    status_wait, index = numba_mpi.waitany(requests)
    status_all = numba_mpi.waitall(requests)
    status_test, flag = numba_mpi.test(np.zeros_like(request_recv))  # zeros: null requests
    status_any, flag_any, index_any = numba_mpi.testany(requests)
    status_testall, flag_all = numba_mpi.testall(requests)
    return (status_send, status_recv, status_wait, status_all, status_test, status_any, status_testall,
            index in (0, 1), flag and flag_any and flag_all, request_send.shape, left)


def test_nonblocking_call_forms():
    incoming = np.zeros(3, np.int32)
    result = nonblocking_round(np.full(3, RANK, np.int32), incoming)
    assert result[:7] == (0,) * 7 and result[7] and result[8] and result[9] == (1,)
    assert list(incoming) == [result[10]] * 3 if SIZE > 1 else list(incoming) == [0, 0, 0]


def test_collective_call_forms_from_python():
    result = np.zeros(1)
    assert numba_mpi.allreduce(1.0, result) == 0 and result[0] == SIZE
    assert numba_mpi.reduce(np.ones(1), result, numba_mpi.Operator.MAX, 0) == 0
    text = np.array([b"h", b"i"], dtype="S1") if RANK == 0 else np.zeros(2, "S1")
    assert numba_mpi.bcast(text, 0) == 0 and bytes(text.tobytes()) == b"hi"
    mine = np.zeros(2)
    assert numba_mpi.scatter(np.arange(2.0 * SIZE), mine, 2, 0) == 0 and mine[0] == 2 * RANK
    everyone = np.zeros(2 * SIZE)
    assert numba_mpi.gather(mine, everyone, 2, 0) == 0
    assert numba_mpi.allgather(mine, everyone, 2) == 0
    assert list(everyone) == list(np.arange(2.0 * SIZE))
    assert numba_mpi.barrier() == 0
    assert numba_mpi.query_thread() == MPI.Query_thread()
