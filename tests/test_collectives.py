"""Collectives: results checked against NumPy on the data every rank contributed."""

import numba
import numpy as np
import pytest
from helpers import sample
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
ALL = [sample(np.float64, 4, r) for r in range(SIZE)]


def test_bcast_arrays_bytes_and_views(strided_mode):
    for root in range(SIZE):
        data = np.arange(5, dtype=np.int16) * (root + 1) if root == RANK else np.zeros(5, np.int16)
        assert mpi.bcast(data, root) == 0
        np.testing.assert_array_equal(data, np.arange(5) * (root + 1))
    text = np.array(list("mpi4numba"), dtype="S1") if RANK == 0 else np.zeros(9, "S1")
    assert mpi.bcast(text, 0) == 0
    assert b"".join(text) == b"mpi4numba"
    grid = np.arange(12.0).reshape(3, 4) if RANK == 0 else np.zeros((3, 4))
    assert mpi.bcast(grid[:, 1::2], 0) == 0
    np.testing.assert_array_equal(grid[:, 1::2], np.arange(12.0).reshape(3, 4)[:, 1::2])


def test_scatter_gather_allgather():
    for root in range(SIZE):
        parts = np.arange(3 * SIZE, dtype=np.int32) if root == RANK else np.zeros(0, np.int32)
        mine = np.zeros(3, np.int32)
        assert mpi.scatter(parts, mine, 3, root) == 0
        np.testing.assert_array_equal(mine, np.arange(3) + 3 * RANK)
        everyone = np.zeros(3 * SIZE, np.int32)
        assert mpi.gather(mine * 2, everyone, 3, root) == 0
        if root == RANK:
            np.testing.assert_array_equal(everyone, np.arange(3 * SIZE) * 2)
    everyone = np.zeros((SIZE, 2), np.complex128)
    assert mpi.allgather(np.array([RANK, 1j * RANK]), everyone, 2) == 0
    np.testing.assert_array_equal(everyone, [[r, 1j * r] for r in range(SIZE)])


def test_barrier_and_bad_root():
    assert mpi.barrier() == 0
    assert mpi.error_class(mpi.bcast(np.zeros(1), SIZE + 1)) == mpi.ERR_ROOT


def test_short_buffers_raise_before_entering_the_collective():
    with pytest.raises(ValueError, match="fewer than count"):
        mpi.allgather(np.zeros(2), np.zeros(2 * SIZE - 1), 2)  # every rank fails alike
    with pytest.raises(ValueError, match="fewer elements"):
        mpi.allreduce(np.zeros(3), np.zeros(2))


def blocks_of(r):
    """Rank r's contribution: r + 1 elements of value 10 r + i."""
    return np.array([10.0 * r + i for i in range(r + 1)])


COUNTS = np.arange(1, SIZE + 1)
DISPLS = np.concatenate([[0], np.cumsum(COUNTS)[:-1]])
ALL_BLOCKS = np.concatenate([blocks_of(r) for r in range(SIZE)])


@numba.njit(cache=True)
def vector_round_trip(counts, root):
    rank = mpi.rank()
    mine = np.zeros(rank + 1)
    everything = np.zeros(counts.sum())
    status = mpi.allgatherv(np.array([10.0 * rank + i for i in range(rank + 1)]), everything, counts)
    status |= mpi.scatterv(everything, counts, None, mine, root)
    gathered = np.zeros(counts.sum())
    status |= mpi.gatherv(mine * 2, gathered, counts, None, root)
    return status, everything, mine, gathered


def test_allgatherv_scatterv_gatherv():
    for root in range(SIZE):
        status, everything, mine, gathered = vector_round_trip(COUNTS, root)
        assert status == 0
        np.testing.assert_array_equal(everything, ALL_BLOCKS)
        np.testing.assert_array_equal(mine, blocks_of(RANK))
        if root == RANK:
            np.testing.assert_array_equal(gathered, ALL_BLOCKS * 2)


def test_v_collectives_with_displacements_in_place_and_bytes():
    gap_displs = (DISPLS + np.arange(SIZE)).astype(np.int32)  # one spare element after each block
    everything = np.full(ALL_BLOCKS.size + SIZE, -1.0)
    everything[gap_displs[RANK] : gap_displs[RANK] + RANK + 1] = blocks_of(RANK)
    assert mpi.allgatherv(mpi.IN_PLACE, everything, COUNTS, gap_displs) == 0
    for r in range(SIZE):
        np.testing.assert_array_equal(everything[gap_displs[r] : gap_displs[r] + r + 1], blocks_of(r))
    assert np.sum(everything == -1.0) == SIZE  # the gaps were not written
    full = everything.copy() if RANK == 0 else np.zeros_like(everything)
    assert mpi.scatterv(full, COUNTS, gap_displs, mpi.IN_PLACE, 0) == 0  # receive into own place
    np.testing.assert_array_equal(full[gap_displs[RANK] : gap_displs[RANK] + RANK + 1], blocks_of(RANK))
    words = np.array([b"r%dw%d" % (RANK, i) for i in range(RANK + 1)], "S4")
    all_words = np.zeros(COUNTS.sum(), "S4")
    assert mpi.allgatherv(words, all_words, COUNTS) == 0
    assert list(all_words) == [b"r%dw%d" % (r, i) for r in range(SIZE) for i in range(r + 1)]


def test_alltoall_and_alltoallv():
    outgoing = np.array([100.0 * RANK + r for r in range(SIZE)])
    incoming = np.zeros(SIZE)
    assert mpi.alltoall(outgoing, incoming, 1) == 0
    np.testing.assert_array_equal(incoming, [100.0 * r + RANK for r in range(SIZE)])
    in_place = outgoing.copy()
    assert mpi.alltoall(mpi.IN_PLACE, in_place, 1) == 0
    np.testing.assert_array_equal(in_place, incoming)
    # rank r sends d + 1 copies of its rank to rank d; receives r + 1 values from everyone
    send_counts = np.arange(1, SIZE + 1, dtype=np.int32)
    send = np.concatenate([np.full(d + 1, RANK, np.int64) for d in range(SIZE)])
    recv_counts = np.full(SIZE, RANK + 1, np.int32)
    received = np.zeros(SIZE * (RANK + 1), np.int64)
    assert mpi.alltoallv(send, send_counts, None, received, recv_counts, None) == 0
    np.testing.assert_array_equal(received, np.repeat(np.arange(SIZE), RANK + 1))


def test_gather_scatter_in_place_every_rank():
    full = np.full(2 * SIZE, -1)
    full[2 * RANK : 2 * RANK + 2] = [RANK, RANK]
    assert mpi.gather(mpi.IN_PLACE, full, 2, 0) == 0
    if RANK == 0:
        np.testing.assert_array_equal(full, np.repeat(np.arange(SIZE), 2))
    parts = np.arange(2 * SIZE) if RANK == 0 else np.zeros(2 * SIZE, np.int64)
    assert mpi.scatter(parts, mpi.IN_PLACE, 2, 0) == 0
    np.testing.assert_array_equal(parts[2 * RANK : 2 * RANK + 2], [2 * RANK, 2 * RANK + 1])


def test_vector_argument_errors():
    with pytest.raises(TypingError, match="counts must be a 1-D integer array"):
        mpi.allgatherv(np.zeros(1), np.zeros(SIZE), np.ones(SIZE))  # float counts
    with pytest.raises(ValueError, match="outside recv_data"):
        mpi.allgatherv(np.zeros(1), np.zeros(SIZE - 1 if SIZE > 1 else 0), np.ones(SIZE, np.int32))


def test_strided_own_blocks_use_cached_datatypes(datatype_mode):
    from mpi4numba._core.typecache import cache_info

    rank, size = mpi.rank(), mpi.size()
    grid = np.arange(8 * 3, dtype=np.float64).reshape(8, 3) + 100 * rank
    everyone = np.zeros(8 * size)
    assert mpi.allgather(grid[:, 1], everyone, 8) == 0
    before = cache_info()
    assert mpi.allgather(grid[:, 1], everyone, 8) == 0
    assert cache_info()["hits"] > before["hits"] and cache_info()["cached"] == before["cached"]
    expected = np.concatenate([np.arange(8) * 3.0 + 1 + 100 * r for r in range(size)])
    np.testing.assert_array_equal(everyone, expected)
    mine = np.zeros((8, 2))[::-1, 0]
    assert mpi.scatter(expected, mine, 8, 0) == 0
    np.testing.assert_array_equal(mine, grid[:, 1])


def test_strided_full_buffers_in_place_through_block_datatypes(strided_mode):
    from mpi4numba._core.typecache import cache_info

    rank, size = mpi.rank(), mpi.size()
    mine = np.arange(10.0).reshape(2, 5) + 100 * rank
    everyone = np.concatenate([np.arange(10.0).reshape(2, 5) + 100 * r for r in range(size)])
    rows = np.full((2 * size, 8), -1.0)  # the blocks land in rows[:, :5]; the rest stays untouched
    for root in range(size):
        rows[:] = -1
        assert mpi.gather(mine, rows[:, :5], 10, root) == 0
        if rank == root:
            np.testing.assert_array_equal(rows[:, :5], everyone)
            assert (rows[:, 5:] == -1).all()
    before = cache_info()
    assert mpi.allgather(mine, rows[:, :5], 10) == 0  # the same layout: a cached type, no copy
    np.testing.assert_array_equal(rows[:, :5], everyone)
    assert cache_info()["hits"] > before["hits"]
    stepped = np.zeros(6 * size)
    stepped[::2] = np.arange(3.0 * size)
    part = np.zeros((3, 2))[:, 1]
    assert mpi.scatter(stepped[::2], part, 3, 0) == 0
    np.testing.assert_array_equal(part, np.arange(3.0 * rank, 3.0 * rank + 3))
    outgoing = np.zeros((size, 4))
    outgoing[:, ::2] = np.arange(2.0 * size).reshape(size, 2) + 1000 * rank
    incoming = np.zeros((size, 4))
    assert mpi.alltoall(outgoing[:, ::2], incoming[:, 1::2], 2) == 0
    np.testing.assert_array_equal(
        incoming[:, 1::2], [[1000 * r + 2 * rank, 1000 * r + 2 * rank + 1] for r in range(size)]
    )
    assert (incoming[:, ::2] == 0).all()
    incoming[:, 1::2] = outgoing[:, ::2]
    assert mpi.alltoall(mpi.IN_PLACE, incoming[:, 1::2], 2) == 0
    np.testing.assert_array_equal(
        incoming[:, 1::2], [[1000 * r + 2 * rank, 1000 * r + 2 * rank + 1] for r in range(size)]
    )
    # v-forms: counts and displacements in whole rows of 3 (units of 3), then in single elements
    counts = 3 * np.arange(1, size + 1, dtype=np.int32)
    table = np.full((counts.sum() // 3, 6), -1.0)
    expected = np.concatenate([np.full(c, 1.0 * r) for r, c in enumerate(counts)])
    assert mpi.allgatherv(np.full(counts[rank], 1.0 * rank), table[:, :3], counts) == 0
    np.testing.assert_array_equal(table[:, :3].ravel(), expected)
    assert (table[:, 3:] == -1).all()
    table[:] = -1
    if rank == 0:
        table[:, 3:] = expected.reshape(-1, 3)
    back = np.zeros(counts[rank])
    assert mpi.scatterv(table[:, 3:], counts, None, back, 0) == 0
    np.testing.assert_array_equal(back, np.full(counts[rank], 1.0 * rank))
    ones = np.ones(size, np.int32)
    column = np.zeros((size, 2))
    assert mpi.gatherv(np.array([7.0 + rank]), column[:, 1], ones, None, 0) == 0
    if rank == 0:
        np.testing.assert_array_equal(column, np.c_[np.zeros(size), 7.0 + np.arange(size)])
    received = np.zeros((size, 3))
    assert mpi.alltoallv(np.arange(2.0 * size)[::2] + 10 * rank, ones, None, received[:, 2], ones, None) == 0
    np.testing.assert_array_equal(received[:, 2], 10.0 * np.arange(size) + 2 * rank)
    # blocks of one element in rows of 3 that start mid-row: no unit fits, so a copy is used
    odd = np.full((size, 4), -1.0)
    assert mpi.allgather(np.array([rank + 0.5]), odd[:, :3], 1) == 0
    np.testing.assert_array_equal(odd[:, :3].ravel()[:size], np.arange(size) + 0.5)
    assert (odd[:, 3] == -1).all()


def test_v_collectives_refuse_short_counts_on_every_rank():
    """A rank that read past a short counts array would hang the others: every rank raises."""
    short = np.ones(SIZE - 1, np.int32)
    calls = {
        "gatherv": lambda: mpi.gatherv(np.ones(1), np.zeros(SIZE), short, None, 0),
        "scatterv": lambda: mpi.scatterv(np.ones(SIZE), short, None, np.zeros(1), 0),
        "allgatherv": lambda: mpi.allgatherv(np.ones(1), np.zeros(SIZE), short),
        "alltoallv": lambda: mpi.alltoallv(np.ones(SIZE), short, None, np.zeros(SIZE), short, None),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"mpi4numba.{name}: counts and displacements need one entry per process"):
            call()


@pytest.mark.parametrize(
    "counts, message",
    [
        (np.array([-1] * SIZE, np.int64), "a block lies outside recv_data"),  # a negative count
        (np.array([2**31] * SIZE, np.int64), "a count or displacement does not fit a C int"),
        # packed, the third block starts past a C int (the first two fit): never wrapped around
        (np.array([2**31 - 1, 2**31 - 1, 1] + [0] * SIZE, np.int64), "a count or displacement does not fit a C int"),
        (np.ones(SIZE - 1, np.int32), "counts and displacements need one entry per process"),
    ],
    ids=["negative", "beyond a C int", "packed beyond a C int", "too few"],
)
def test_blocking_and_non_blocking_v_routines_check_their_blocks_alike(counts, message):
    """One packing of counts and displacements: the same refusal, on every rank, before MPI."""
    for name, call in {
        "allgatherv": lambda: mpi.allgatherv(np.ones(1), np.zeros(SIZE), counts),
        "iallgatherv": lambda: mpi.iallgatherv(np.ones(1), np.zeros(SIZE), counts),
        "gatherv": lambda: mpi.gatherv(np.ones(1), np.zeros(SIZE), counts, None, 0),
        "igatherv": lambda: mpi.igatherv(np.ones(1), np.zeros(SIZE), counts, None, 0),
    }.items():
        with pytest.raises(ValueError, match=f"mpi4numba.{name}: {message}"):
            call()
    received = np.zeros(SIZE)  # and the same blocks, accepted, give the same data
    for call in (mpi.allgatherv, mpi.iallgatherv):
        received[:] = 0
        result = call(np.full(1, RANK + 1.0), received, np.ones(SIZE, np.int64))
        if isinstance(result, tuple):
            assert result[0] == 0 and mpi.wait(result[1]) == 0
        else:
            assert result == 0
        np.testing.assert_array_equal(received, np.arange(1.0, SIZE + 1))
