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
from mpi4numba._core import onesided

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


@pytest.mark.win_create
@pytest.mark.parametrize("dtype", NUMERIC_DTYPES, ids=lambda d: np.dtype(d).name)
def test_put_to_neighbour_every_dtype(dtype):
    status, local = ring_put(sample(dtype, 3, RANK), 3)
    assert status == 0
    expected = np.zeros(3 * SIZE, dtype)
    expected[LEFT * 3 : LEFT * 3 + 3] = sample(dtype, 3, LEFT)
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


@pytest.mark.win_create
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


@pytest.mark.win_create
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.complex128, np.uint8])
def test_accumulate_sum_from_every_rank(dtype):
    status, local = accumulate_everywhere(sample(dtype, 4, RANK), SUM)
    assert status == 0
    np.testing.assert_array_equal(local, np.sum([sample(dtype, 4, r) for r in range(SIZE)], axis=0, dtype=dtype))


@pytest.mark.win_create
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


@pytest.mark.win_create
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


@pytest.mark.win_create
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
    # the processes of this node: a shared-memory window cannot span nodes
    status, node = mpi.comm_split_type(mpi.COMM_TYPE_SHARED)
    code, win, mine = w.win_allocate_shared(n, np.float64, comm=node)
    status |= code
    for i in range(mine.size):  # empty if the allocation failed
        mine[i] = mpi.rank() + i / 10
    status |= w.win_fence(win)
    total = np.zeros(n)
    for r in range(node.size):
        code, theirs = w.win_shared_query(win, r, np.float64)
        status |= code
        for i in range(theirs.size):
            total[i] += theirs[i]
    status |= w.win_fence(win)
    status |= w.win_free(win)
    status |= mpi.comm_free(node)
    return status, total


def test_shared_memory_window_read_through_queries():
    status, total = shared_sum(4)
    assert status == 0
    node = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    members = node.allgather(RANK)  # world ranks of this node's processes
    node.Free()
    np.testing.assert_allclose(total, sum(r + np.arange(4) / 10 for r in members))


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
    codes = (
        rma.put(local, 0, 0, copy),
        rma.get(local, 0, 0, copy),
        w.win_fence(copy),
        w.win_lock_all(copy),
        w.win_free(copy),
        w.win_shared_query(copy, 0, np.float64)[0],
        rma.fetch_and_op(1.0, local, 0, 0, mpi.Operator.SUM, copy),
    )
    return status, codes


@pytest.mark.win_create
def test_use_after_free_returns_err_win():
    status, codes = use_after_free()
    assert status == 0
    assert codes == (mpi.ERR_WIN,) * len(codes)
    assert w.win_fence(np.zeros(1, w.WinType)) == mpi.ERR_WIN  # never a window at all


@pytest.mark.win_create
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


@pytest.mark.win_create
@pytest.mark.jit_only
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


@pytest.mark.win_create
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


@pytest.mark.win_create
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


# --- accesses outside the target's window are refused before MPI sees them ---

GUARD, SENTINEL = 3, -999
I64 = np.dtype(np.int64).itemsize


def guarded(n, dtype=np.int64):
    """A window base of ``n`` elements in the middle of a larger array: the guards around
    it must never change."""
    memory = np.full(n + 2 * GUARD, SENTINEL, dtype)
    memory[GUARD : GUARD + n] = 0
    return memory, memory[GUARD : GUARD + n]


def elements(rank):
    return 4 + rank  # every rank's part has another size: checks use the target's


def byte_units(rank):
    return rank % 2 == 1  # odd ranks count displacements in bytes (disp_unit 1)


def disp(rank, index):
    """The displacement of element ``index`` of ``rank``'s part, in that rank's unit."""
    return index * I64 if byte_units(rank) else index


@numba.njit
def outside_accesses(win, target, n, unit_bytes):
    """Every RMA routine once just inside the end of ``target``'s part and once (or more)
    past it; returns the codes and what the refused calls would have written locally."""
    last = n - 1
    scale = 8 if unit_bytes else 1
    fetched = np.full(2, -7, np.int64)
    result = np.full(2, -7, np.int64)
    old = np.full(1, -7, np.int64)
    codes = np.zeros(13, np.int64)
    me = mpi.rank()
    codes[0] = w.win_lock(win, target)
    codes[1] = rma.put(np.full(2, 100 + me, np.int64), target, (n - 2) * scale, win)  # the last two: fits
    codes[2] = rma.put(np.full(2, 200, np.int64), target, last * scale, win)  # one element past the end
    codes[3] = rma.put(np.full(1, 200, np.int64), target, -1, win)
    codes[4] = rma.put(np.full(n + 1, 200, np.int64), target, 0, win)  # longer than the whole part
    codes[5] = rma.get(fetched, target, last * scale, win)
    codes[6] = rma.accumulate(np.ones(2, np.int64), target, last * scale, mpi.Operator.SUM, win)
    codes[7] = rma.get_accumulate(np.ones(2, np.int64), result, target, last * scale, mpi.Operator.SUM, win)
    codes[8] = rma.fetch_and_op(1, old, target, n * scale, mpi.Operator.SUM, win)
    codes[9] = rma.compare_and_swap(5, 0, old, target, n * scale, win)
    codes[10] = w.win_flush(win, target)  # the put is complete at the target: the next may touch it
    codes[11] = rma.fetch_and_op(1, old, target, last * scale, mpi.Operator.SUM, win)  # the last element: fits
    codes[12] = w.win_unlock(win, target)
    return codes, fetched, result, old[0]


def check_guarded_window(memory, n, left):
    expected = np.full(n + 2 * GUARD, SENTINEL, np.int64)
    expected[GUARD : GUARD + n] = 0
    expected[GUARD + n - 2] = 100 + left  # the put that fits
    expected[GUARD + n - 1] = 101 + left  # ... and the fetch_and_op on its last element
    np.testing.assert_array_equal(memory, expected)


@pytest.mark.win_create
def test_rma_outside_the_target_window_is_refused_and_writes_nothing():
    memory, base = guarded(elements(RANK))
    status, win = w.win_create(base, 1 if byte_units(RANK) else None)
    assert status == 0
    codes, fetched, result, old = outside_accesses(win, RIGHT, elements(RIGHT), byte_units(RIGHT))
    refused = rma.ERR_RMA_RANGE
    assert codes.tolist() == [0, 0, refused, refused, refused, refused, refused, refused, refused, refused, 0, 0, 0]
    assert fetched.tolist() == [-7, -7] and result.tolist() == [-7, -7]  # refused: nothing written here either
    assert old == 100 + RANK  # the fetch_and_op that fits saw our put
    assert w.win_fence(win) == 0  # everyone's accesses to us are complete
    check_guarded_window(memory, elements(RANK), LEFT)
    assert w.win_free(win) == 0


@pytest.mark.win_create
def test_refusals_from_python_ranks_and_proc_null():
    memory, base = guarded(elements(RANK))
    status, win = w.win_create(base, 1 if byte_units(RANK) else None)
    assert status == 0
    n, past = elements(RIGHT), disp(RIGHT, elements(RIGHT))
    assert w.win_lock(win, RIGHT) == 0
    assert rma.put(np.ones(1, np.int64), RIGHT, past, win) == rma.ERR_RMA_RANGE
    assert rma.put(np.ones(1, np.int64)[::-1], RIGHT, past, win) == rma.ERR_RMA_RANGE  # strided origin
    if byte_units(RIGHT):  # a misaligned access across the end
        assert rma.put(np.ones(1, np.int64), RIGHT, past - 4, win) == rma.ERR_RMA_RANGE
    assert rma.get(np.zeros(n + 1, np.int64), RIGHT, 0, win) == rma.ERR_RMA_RANGE
    assert rma.put(np.ones(1, np.int64), RIGHT, 2**62, win) == rma.ERR_RMA_RANGE  # disp * disp_unit overflows
    assert rma.put(np.ones(n, np.int64), RIGHT, 0, win) == 0  # all of it
    assert w.win_unlock(win, RIGHT) == 0
    assert w.win_lock_all(win) == 0
    assert rma.put(np.ones(1, np.int64), SIZE, 0, win) == rma.ERR_RANK
    assert rma.get(np.ones(1, np.int64), -7, 0, win) == rma.ERR_RANK
    assert rma.put(np.ones(1, np.int64), mpi.PROC_NULL, 10**6, win) == 0  # accesses nothing: MPI's no-op
    assert w.win_unlock_all(win) == 0
    assert w.win_fence(win) == 0
    expected = np.full(len(memory), SENTINEL)
    expected[GUARD : GUARD + elements(RANK)] = 1
    np.testing.assert_array_equal(memory, expected)
    assert w.win_free(win) == 0


@numba.njit
def allocated_outside(n, target_n, target):
    status, win, memory = w.win_allocate(n, np.int32)
    memory[:] = 3
    status |= w.win_fence(win)
    codes = (
        rma.put(np.ones(1, np.int32), target, target_n, win),
        rma.accumulate(np.ones(target_n + 1, np.int32), target, 0, mpi.Operator.SUM, win),
        rma.put(np.ones(target_n, np.int32), target, 0, win),
    )
    status |= w.win_fence(win)
    total = memory.sum()
    status |= w.win_free(win)
    return status, codes, total


def test_allocated_windows_are_checked_too():
    n, target_n = 2 * RANK, 2 * RIGHT  # rank 0 has an empty part: any access to it is refused
    status, codes, total = allocated_outside(n, target_n, RIGHT)
    assert status == 0
    assert codes == (rma.ERR_RMA_RANGE, rma.ERR_RMA_RANGE, 0)
    assert total == n  # every element set to 1 by the left neighbour's put


@numba.njit
def window_copy(n):
    """A window whose array is dropped: only a copy of its handle (a plain array) escapes."""
    status, win = w.win_create(np.arange(n * 1.0))
    return status, win.copy()


@pytest.mark.win_create
@pytest.mark.jit_only
def test_copy_of_a_window_is_checked_and_its_base_lives_until_win_free():
    status, handle_only = window_copy(6)
    assert status == 0
    gc.collect()
    _ = [np.full(6, -1.0) for _ in range(50)]  # would reuse freed memory
    fetched = np.zeros(6)
    assert w.win_lock(handle_only, RANK, w.LOCK_SHARED) == 0
    assert rma.get(fetched, RANK, 0, handle_only) == 0
    assert rma.get(fetched[:2], RANK, 5, handle_only) == rma.ERR_RMA_RANGE
    assert w.win_unlock(handle_only, RANK) == 0
    np.testing.assert_array_equal(fetched, np.arange(6.0))
    before = numba.core.runtime.rtsys.get_allocation_stats()
    assert w.win_free(handle_only) == 0
    after = numba.core.runtime.rtsys.get_allocation_stats()
    assert after.free - before.free >= 2  # the window's allocation and its base, held by the table until now
    assert rma.get(fetched, RANK, 0, handle_only) == mpi.ERR_WIN


@pytest.mark.win_create
def test_window_made_by_mpi4py_is_not_a_window_here():
    memory = np.zeros(4)
    theirs = MPI.Win.Create(memory, I64, comm=MPI.COMM_WORLD)
    win = np.array([MPI._handleof(theirs)], np.uint64).astype(w.WinType)  # a handle mpi4numba did not make
    assert w.win_lock(win, RIGHT) == mpi.ERR_WIN  # no extents to check accesses against: never reaches MPI
    assert rma.put(np.ones(1), RIGHT, 0, win) == mpi.ERR_WIN
    assert w.win_free(win) == mpi.ERR_WIN
    theirs.Fence()
    np.testing.assert_array_equal(memory, 0)
    theirs.Free()


# --- what the library does with windows over memory it did not allocate ---


@numba.njit
def create_in_njit(base, comm):
    status, win = w.win_create(base, comm=comm)
    return status, win


def test_a_refused_window_says_why_in_its_error_string():
    reason = onesided.win_create_refusal(MPI)  # asked on COMM_SELF, as below
    if reason is None:
        pytest.skip("this MPI library makes windows over user memory here: nothing to explain")
    for status, win in (w.win_create(np.zeros(4), comm=MPI.COMM_SELF), create_in_njit(np.zeros(4), MPI.COMM_SELF)):
        assert mpi.error_class(status) == mpi.ERR_WIN, mpi.error_string(status)
        if onesided.refusal_reason(MPI):  # a cause mpi4numba knows: its words, the class unchanged
            text = mpi.error_string(status)
            assert text == onesided.refusal_reason(MPI) and "thread level multiple" in text, text
        assert w.win_free(win) == mpi.ERR_WIN  # WIN_NULL: nothing to free


@pytest.mark.win_create
def test_the_window_is_where_the_array_is():
    # MPICH 4.0 with ch4:ucx over UCX 1.13 (Debian 12) puts a window whose base is 8 bytes past
    # a 16-byte boundary 8 bytes early (MPI_WIN_BASE), and RMA calls land there, before the array
    memory = np.zeros(6, np.int64)
    base = memory[0:4] if memory.ctypes.data % 16 == 8 else memory[1:5]
    status, win = w.win_create(base, comm=MPI.COMM_SELF)
    assert status == 0
    reported = w.win_to_mpi4py(win).Get_attr(MPI.WIN_BASE)
    assert w.win_free(win) == 0
    if reported != base.ctypes.data:
        pytest.fail("; ".join(f"{what} (fix: {fix})" for what, fix in onesided.window_problems(MPI)))


# --- operators that do not apply to the dtype never reach MPI ---


@numba.njit
def band_on_doubles(win):
    return rma.accumulate(np.ones(2), 0, 0, mpi.Operator.BAND, win)


@pytest.mark.win_create
@pytest.mark.jit_only
def test_operator_that_does_not_apply_is_an_error_naming_it():
    local = np.zeros(2)
    status, win = w.win_create(local, comm=MPI.COMM_SELF)
    assert status == 0 and w.win_lock(win, 0) == 0
    with pytest.raises(TypingError, match="mpi4numba.accumulate: Operator.BAND does not apply to float64"):
        band_on_doubles(win)  # written in the code: refused when compiling
    with pytest.raises(ValueError, match="mpi4numba.get_accumulate: Operator.LAND does not apply to complex128"):
        rma.get_accumulate(np.ones(1, np.complex128), np.ones(1, np.complex128), 0, 0, mpi.Operator.LAND, win)
    with pytest.raises(ValueError, match="mpi4numba.fetch_and_op: Operator.BXOR does not apply to float64"):
        rma.fetch_and_op(1.0, np.zeros(1), 0, 0, mpi.Operator.BXOR, win)
    with pytest.raises(ValueError, match="Operator.SUM does not apply to bool"):
        rma.accumulate(np.ones(1, np.bool_), 0, 0, mpi.Operator.SUM, win)
    with pytest.raises(ValueError, match="Operator.MAXLOC does not apply to int64"):
        rma.accumulate(np.ones(1, np.int64), 0, 0, mpi.Operator.MAXLOC, win)
    with pytest.raises(ValueError, match="Operator.BOR does not apply to float64"):  # numba-mpi's operator value
        rma.accumulate(np.ones(1), 0, 0, MPI._addressof(MPI.BOR), win)
    assert w.win_unlock(win, 0) == 0
    np.testing.assert_array_equal(local, 0)
    assert w.win_free(win) == 0


@pytest.mark.win_create
def test_operators_that_apply_by_the_standard_table():
    pair = mpi.pair_dtype(np.float64)
    cases = [
        (np.array([6, 5], np.int64), np.array([3, 3], np.int64), mpi.Operator.BAND, [2, 1]),
        (np.array([True, False]), np.array([True, True]), mpi.Operator.LXOR, [False, True]),
        (
            np.array([b"ab", b"\x01\x01"], "S2"),
            np.array([b"\x03\x03", b"\x01\x01"], "S2"),
            mpi.Operator.BXOR,
            [b"ba", b""],
        ),
        (
            np.array([(1.0, 4), (2.0, 5)], pair),
            np.array([(3.0, 1), (0.5, 2)], pair),
            mpi.Operator.MAXLOC,
            [(3.0, 1), (2.0, 5)],
        ),
        (np.array([1 + 1j]), np.array([2j]), mpi.Operator.PROD, [-2 + 2j]),
    ]
    for initial, origin, operator, expected in cases:
        local = initial.copy()
        status, win = w.win_create(local, comm=MPI.COMM_SELF)
        assert status == 0 and w.win_lock(win, 0) == 0
        assert rma.accumulate(origin, 0, 0, operator, win) == 0, operator
        assert w.win_unlock(win, 0) == 0 and w.win_free(win) == 0
        assert local.tolist() == expected, operator


@pytest.mark.win_create
def test_dtypes_no_operator_applies_to_are_typing_errors():
    status, win = w.win_create(np.zeros(2), comm=MPI.COMM_SELF)
    mixed = np.dtype([("a", "f8"), ("b", "i4")])
    with pytest.raises(TypingError, match="accumulate: the fields of .* are not all of one type"):
        rma.accumulate(np.zeros(1, mixed), 0, 0, mpi.Operator.REPLACE, win)
    with pytest.raises(TypingError, match="compare_and_swap: compares integer, bool or byte elements, not float64"):
        rma.compare_and_swap(1.0, 0.0, np.zeros(1), 0, 0, win)
    with pytest.raises(TypingError, match="fetch_and_op: .* is not a single-element MPI datatype"):
        rma.fetch_and_op(np.zeros(1, mixed), np.zeros(1, mixed), 0, 0, mpi.Operator.REPLACE, win)
    assert w.win_free(win) == 0


# --- after win_free: ERR_WIN from every routine, in compiled code and from Python ---


@numba.njit
def every_call(win, data, result):
    return (
        w.win_fence(win),
        w.win_lock(win, 0),
        w.win_unlock(win, 0),
        w.win_lock_all(win),
        w.win_unlock_all(win),
        w.win_flush(win, 0),
        w.win_flush_all(win),
        w.win_flush_local(win, 0),
        w.win_flush_local_all(win),
        w.win_sync(win),
        w.win_shared_query(win, 0, np.float64)[0],
        w.win_free(win),
        rma.put(data, 0, 0, win),
        rma.get(data, 0, 0, win),
        rma.accumulate(data, 0, 0, SUM, win),
        rma.get_accumulate(data, result, 0, 0, SUM, win),
        rma.fetch_and_op(1.0, result, 0, 0, SUM, win),
        rma.compare_and_swap(1, 0, np.zeros(1, np.int64), 0, 0, win),
    )


@pytest.mark.win_create
@pytest.mark.jit_only
def test_every_routine_after_win_free_returns_err_win():
    local = np.zeros(2)
    status, win = w.win_create(local)
    copy = win.copy()  # a plain array holding the handle: win_free through it
    assert status == 0 and w.win_free(copy) == 0
    data, result = np.ones(2), np.zeros(2)
    for freed in (win, copy):
        assert every_call(freed, data, result) == (mpi.ERR_WIN,) * 18
        assert every_call.py_func(freed, data, result) == (mpi.ERR_WIN,) * 18  # each routine from Python
        assert w.win_shared_query(freed, 0, np.float64)[1].size == 0
    np.testing.assert_array_equal(local, 0)
    np.testing.assert_array_equal(result, 0)


@numba.njit
def rma_loop(win, data, result, steps):
    right = (mpi.rank() + 1) % mpi.size()
    status = w.win_lock_all(win)
    for _ in range(steps):
        status |= rma.put(data, right, 0, win)
        status |= w.win_flush(win, right)
        status |= rma.get(result, right, 0, win)
        status |= rma.accumulate(data, right, 0, SUM, win)
        status |= rma.fetch_and_op(1, result, right, 0, SUM, win)
        status |= w.win_flush_all(win)
    return status | w.win_unlock_all(win)


@pytest.mark.win_create
@pytest.mark.jit_only
def test_no_heap_allocation_per_rma_call():
    status, win = w.win_create(np.zeros(4, np.int64))
    args = (win, np.ones(4, np.int64), np.zeros(4, np.int64))
    assert status == 0 and rma_loop(*args, 1) == 0

    def allocations(steps):
        before = numba.core.runtime.rtsys.get_allocation_stats().alloc
        assert rma_loop(*args, steps) == 0
        return numba.core.runtime.rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(101)
    assert w.win_fence(win) == 0 and w.win_free(win) == 0
