"""One-sided communication: data moved through windows, checked against NumPy references."""

import gc

import numba
import numpy as np
import pytest
from helpers import NUMERIC_DTYPES, sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi
from mpi4numba import rma
from mpi4numba import window as w

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE
SUM, REPLACE, NO_OP = mpi.Operator.SUM, mpi.Operator.REPLACE, mpi.Operator.NO_OP


@numba.njit
def ring_put(values, n):
    """Each rank puts ``values`` into block ``rank`` of its right neighbour's window."""
    local = np.zeros(n * mpi.size(), values.dtype)
    status, win = w.win_create(local)
    right = (mpi.rank() + 1) % mpi.size()
    status |= w.win_fence(win, w.MODE_NOPRECEDE)
    status |= rma.put(values, right, mpi.rank() * n, win)
    status |= w.win_fence(win, w.MODE_NOSUCCEED)
    status |= w.win_free(win)
    return status, local


@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=lambda d: np.dtype(d).name)
def test_put_to_neighbour_every_dtype(dtype):
    status, local = ring_put(sample(dtype, 3, RANK), 3)
    assert status == 0
    expected = np.zeros(3 * SIZE, dtype)
    expected[LEFT * 3:LEFT * 3 + 3] = sample(dtype, 3, LEFT)
    np.testing.assert_array_equal(local, expected)


@numba.njit
def get_from_left(n):
    status, win, memory = w.win_allocate(n, np.float64)
    for i in range(n):
        memory[i] = mpi.rank() * 100 + i
    status |= w.win_fence(win)  # the stores above are in the window before anyone reads
    left = (mpi.rank() - 1) % mpi.size()
    fetched = np.empty(n)
    status |= w.win_lock(win, left, w.LOCK_SHARED)
    status |= rma.get(fetched, left, 0, win)
    status |= w.win_unlock(win, left)
    status |= w.win_fence(win)
    status |= w.win_free(win)
    return status, fetched


def test_get_passive_target_from_allocated_window():
    status, fetched = get_from_left(5)
    assert status == 0
    np.testing.assert_array_equal(fetched, LEFT * 100 + np.arange(5.0))


def test_strided_origin_and_python_calls():
    local = np.zeros((SIZE, 4))
    status, win = w.win_create(local)
    assert status == 0
    grid = np.arange(12.0).reshape(3, 4) + RANK
    assert w.win_fence(win) == 0
    assert rma.put(grid[1:, ::2], RIGHT, RANK * 4, win) == 0  # 2x2 strided block
    assert w.win_fence(win) == 0
    expected = np.zeros((SIZE, 4))
    expected[LEFT] = (np.arange(12.0).reshape(3, 4) + LEFT)[1:, ::2].ravel()
    np.testing.assert_array_equal(local, expected)
    column = np.zeros((4, 3))[:, 1]  # strided destination of a get
    assert w.win_lock(win, RIGHT, w.LOCK_SHARED) == 0
    assert rma.get(column, RIGHT, RANK * 4, win) == 0
    assert w.win_unlock(win, RIGHT) == 0
    np.testing.assert_array_equal(column, grid[1:, ::2].ravel())  # what we put there
    assert w.win_free(win) == 0


@numba.njit
def accumulate_everywhere(values, operator):
    n = values.size
    local = np.zeros(n, values.dtype)
    status, win = w.win_create(local)
    status |= w.win_lock_all(win)
    for target in range(mpi.size()):
        status |= rma.accumulate(values, target, 0, operator, win)
    status |= w.win_flush_all(win)
    status |= w.win_unlock_all(win)
    status |= w.win_fence(win)  # everyone's updates are complete and visible locally
    status |= w.win_free(win)
    return status, local


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.complex128, np.uint8])
def test_accumulate_sum_from_every_rank(dtype):
    status, local = accumulate_everywhere(sample(dtype, 4, RANK), SUM)
    assert status == 0
    np.testing.assert_array_equal(local, np.sum([sample(dtype, 4, r) for r in range(SIZE)], axis=0, dtype=dtype))


def test_accumulate_max_and_replace():
    status, local = accumulate_everywhere(np.full(3, float(RANK)), mpi.Operator.MAX)
    assert status == 0
    np.testing.assert_array_equal(local, np.full(3, SIZE - 1.0))
    status, local = accumulate_everywhere(np.full(3, 9.0), REPLACE)
    assert status == 0
    np.testing.assert_array_equal(local, np.full(3, 9.0))


@numba.njit
def get_accumulate_round(win, mine, right):
    old = np.empty_like(mine)
    status = w.win_lock(win, right, w.LOCK_EXCLUSIVE)
    status |= rma.get_accumulate(mine, old, right, 0, mpi.Operator.SUM, win)
    status |= w.win_unlock(win, right)
    now = np.empty_like(mine)
    status |= w.win_lock(win, right, w.LOCK_SHARED)
    status |= rma.get_accumulate(now, now, right, 0, mpi.Operator.NO_OP, win)  # an atomic read
    status |= w.win_unlock(win, right)
    return status, old, now


def test_get_accumulate_and_no_op():
    local = np.full(3, 10, np.int64)
    status, win = w.win_create(local)
    assert status == 0
    mine = np.arange(3, dtype=np.int64) + RANK
    status, old, now = get_accumulate_round(win, mine, RIGHT)
    assert status == 0
    np.testing.assert_array_equal(old, np.full(3, 10))  # one origin per target: nobody else touched it
    np.testing.assert_array_equal(now, 10 + mine)
    assert w.win_fence(win) == 0  # makes the neighbour's update visible locally
    np.testing.assert_array_equal(local, 10 + np.arange(3) + LEFT)
    assert w.win_free(win) == 0


@numba.njit
def take_tickets(counter_win, rounds):
    tickets = np.empty(rounds, np.int64)
    result = np.empty(1, np.int64)
    status = w.win_lock_all(counter_win)
    for i in range(rounds):
        status |= rma.fetch_and_op(1, result, 0, 0, mpi.Operator.SUM, counter_win)
        status |= w.win_flush(counter_win, 0)
        tickets[i] = result[0]
    status |= w.win_unlock_all(counter_win)
    return status, tickets


def test_fetch_and_op_shared_counter():
    rounds = 5
    status, win, counter = w.win_allocate(1 if RANK == 0 else 0, np.int64)
    assert status == 0
    counter[:] = 0
    assert w.win_fence(win) == 0
    status, tickets = take_tickets(win, rounds)
    assert status == 0
    everyone = np.concatenate(MPI.COMM_WORLD.allgather(tickets))
    np.testing.assert_array_equal(np.sort(everyone), np.arange(rounds * SIZE))  # every ticket once
    assert w.win_fence(win) == 0
    if RANK == 0:
        assert counter[0] == rounds * SIZE
    assert w.win_free(win) == 0


@numba.njit
def claim(win, me):
    old = np.empty(1, np.int32)
    status = w.win_lock(win, 0)
    status |= rma.compare_and_swap(me + 1, 0, old, 0, 0, win)
    status |= w.win_unlock(win, 0)
    return status, old[0]


def test_compare_and_swap_one_winner():
    flag = np.zeros(1, np.int32)
    status, win = w.win_create(flag)
    assert status == 0
    status, old = claim(win, RANK)
    assert status == 0
    olds = MPI.COMM_WORLD.allgather(old)
    assert olds.count(0) == 1  # exactly one rank saw the flag free
    winner = olds.index(0)
    assert all(o in (0, winner + 1) for o in olds)
    assert w.win_fence(win) == 0
    if RANK == 0:
        assert flag[0] == winner + 1
    assert w.win_free(win) == 0


@numba.njit
def shared_sum(n):
    status, win, mine = w.win_allocate_shared(n, np.float64)
    for i in range(n):
        mine[i] = mpi.rank() + i / 10
    status |= w.win_fence(win)
    total = np.zeros(n)
    for r in range(mpi.size()):
        code, theirs = w.win_shared_query(win, r, np.float64)
        status |= code
        for i in range(theirs.size):
            total[i] += theirs[i]
    status |= w.win_fence(win)
    status |= w.win_free(win)
    return status, total


def test_shared_memory_window_read_through_queries():
    status, total = shared_sum(4)
    assert status == 0
    np.testing.assert_allclose(total, sum(r + np.arange(4) / 10 for r in range(SIZE)))


def test_shared_query_from_python_on_split_communicator():
    node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    status, win, mine = w.win_allocate_shared(2, np.int32, comm=node)
    assert status == 0
    mine[:] = node.Get_rank() + 1
    assert w.win_fence(win) == 0
    for r in range(node.Get_size()):
        status, theirs = w.win_shared_query(win, r, np.int32)
        assert status == 0
        np.testing.assert_array_equal(theirs, [r + 1, r + 1])
    assert w.win_fence(win) == 0
    assert w.win_free(win) == 0
    node.Free()


@numba.njit
def use_after_free():
    local = np.zeros(2)
    status, win = w.win_create(local)
    copy = win
    status |= w.win_free(win)
    codes = (rma.put(local, 0, 0, copy), rma.get(local, 0, 0, copy), w.win_fence(copy),
             w.win_lock_all(copy), w.win_free(copy), w.win_shared_query(copy, 0, np.float64)[0],
             rma.fetch_and_op(1.0, local, 0, 0, mpi.Operator.SUM, copy))
    return status, codes


def test_use_after_free_returns_err_win():
    status, codes = use_after_free()
    assert status == 0
    assert codes == (w.ERR_WIN,) * len(codes)
    assert w.win_fence(np.zeros(1, w.WinType)) == w.ERR_WIN  # never a window at all


def test_bad_rank_and_bad_lock_are_error_codes():
    local = np.zeros(2)
    status, win = w.win_create(local)
    assert status == 0
    assert w.win_fence(win) == 0
    assert rma.put(np.ones(1), SIZE, 0, win) != 0
    assert rma.get(np.ones(1), -7, 0, win) != 0
    assert w.win_fence(win) == 0
    assert w.win_lock(win, SIZE + 3) != 0
    assert w.win_unlock(win, RANK) != 0  # no epoch open
    assert w.win_free(win) == 0
    np.testing.assert_array_equal(local, 0)


@numba.njit
def window_only(n):
    status, win = w.win_create(np.arange(n * 1.0))  # nothing else refers to the base
    return status, win


def test_window_keeps_base_alive_and_releases_it():
    status, win = window_only(6)
    assert status == 0
    gc.collect()
    _ = [np.full(6, -1.0) for _ in range(50)]  # would reuse freed memory
    fetched = np.empty(6)
    assert w.win_lock(win, RANK, w.LOCK_SHARED) == 0
    assert rma.get(fetched, RANK, 0, win) == 0
    assert w.win_unlock(win, RANK) == 0
    np.testing.assert_array_equal(fetched, np.arange(6.0))
    assert w.win_free(win) == 0
    before = numba.core.runtime.rtsys.get_allocation_stats()
    del win
    gc.collect()
    after = numba.core.runtime.rtsys.get_allocation_stats()
    assert after.free - before.free >= 2  # the window cell and the base array


def test_window_on_comm_self_and_mpi4py_view():
    local = np.zeros(3, np.int64)
    status, win = w.win_create(local, comm=MPI.COMM_SELF)
    assert status == 0
    assert w.win_to_mpi4py(win).Get_attr(MPI.WIN_SIZE) == local.nbytes
    assert w.win_lock(win, 0) == 0
    assert rma.put(np.array([4, 5], np.int64), 0, 1, win) == 0
    assert rma.accumulate(np.array([1], np.int64), 0, 2, SUM, win) == 0
    assert w.win_unlock(win, 0) == 0
    np.testing.assert_array_equal(local, [0, 4, 6])
    status, win2 = w.win_create(np.zeros(4, np.int8), 1, MPI.COMM_SELF)  # byte displacements
    assert status == 0 and w.win_free(win2) == 0
    assert w.win_free(win) == 0


def test_typing_errors():
    with pytest.raises(TypingError, match="unsupported dtype float16"):
        w.win_create(np.zeros(2, np.float16))
    with pytest.raises(TypingError, match="unsupported dtype float16"):
        w.win_allocate(2, np.float16)
    status, win = w.win_create(np.zeros(2))
    with pytest.raises(TypingError, match="win must be a window"):
        rma.put(np.zeros(1), 0, 0, np.zeros(1))
    with pytest.raises(TypingError, match="unsupported dtype float16"):
        rma.put(np.zeros(1, np.float16), 0, 0, win)
    with pytest.raises(TypingError, match="dtypes differ"):
        rma.get_accumulate(np.zeros(1), np.zeros(1, np.int64), 0, 0, SUM, win)
    with pytest.raises(TypingError, match="operator must be"):
        rma.accumulate(np.zeros(1), 0, 0, "sum", win)
    with pytest.raises(TypingError, match="read-only"):
        rma.get(np.frombuffer(b"\0" * 8), 0, 0, win)
    assert w.win_free(win) == 0
