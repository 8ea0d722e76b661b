"""Non-blocking collectives: data checked against NumPy after completion; requests keep
their buffers alive (temporaries, converted counts) and release them when dropped."""

import gc
import sys
import weakref

import numba
import numpy as np
import pytest
from helpers import mpiexec, sample
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba import (
    iallgather,
    iallgatherv,
    iallreduce,
    ialltoall,
    ialltoallv,
    ibarrier,
    ibcast,
    iexscan,
    igather,
    igatherv,
    ireduce,
    ireduce_scatter_block,
    iscan,
    iscatter,
    iscatterv,
)

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
NULL = MPI._handleof(MPI.REQUEST_NULL) & (2 ** (8 * MPI._sizeof(MPI.Request)) - 1)
COUNTS = np.arange(1, SIZE + 1)  # rank r contributes r + 1 elements
DISPLS = np.concatenate([[0], np.cumsum(COUNTS)[:-1]]).astype(np.int64)


def blocks_of(r):
    return np.array([10.0 * r + i for i in range(r + 1)])


# The blocking reductions' tests cover every dtype; the datatype mapping is shared.
DTYPES = [np.int8, np.uint64, np.float32, np.complex128, np.bool_]
ALL_BLOCKS = np.concatenate([blocks_of(r) for r in range(SIZE)])


def is_null(request):
    return int(request[0]) & (2 ** (8 * request.itemsize) - 1) == NULL


def done(started):
    status, request = started
    assert status == 0 and request.shape == (1,) and request.dtype == mpi.RequestType
    assert mpi.wait(request) == 0 and is_null(request)


def test_ibarrier_and_ibcast_arrays_bytes_and_views():
    done(ibarrier())
    done(ibarrier(MPI.COMM_WORLD))
    for root in range(SIZE):
        data = np.arange(5, dtype=np.int16) * (root + 1) if root == RANK else np.zeros(5, np.int16)
        done(ibcast(data, root))
        np.testing.assert_array_equal(data, np.arange(5) * (root + 1))
    text = np.array(list("mpi4numba"), dtype="S1") if RANK == 0 else np.zeros(9, "S1")
    done(ibcast(text, 0))
    assert b"".join(text) == b"mpi4numba"
    grid = np.arange(12.0).reshape(3, 4) if RANK == 0 else np.zeros((3, 4))
    done(ibcast(grid[:, 1::2], 0))  # strided on every rank: a derived datatype
    np.testing.assert_array_equal(grid[:, 1::2], np.arange(12.0).reshape(3, 4)[:, 1::2])
    np.testing.assert_array_equal(grid[:, ::2], 0 if RANK else np.arange(12.0).reshape(3, 4)[:, ::2])


def test_igather_iscatter_iallgather_ialltoall():
    for root in range(SIZE):
        parts = np.arange(3 * SIZE, dtype=np.int32) if root == RANK else np.zeros(0, np.int32)
        mine = np.zeros(3, np.int32)
        done(iscatter(parts, mine, 3, root))
        np.testing.assert_array_equal(mine, np.arange(3) + 3 * RANK)
        everyone = np.zeros(3 * SIZE, np.int32)
        done(igather(mine * 2, everyone, 3, root))  # a temporary send buffer
        if root == RANK:
            np.testing.assert_array_equal(everyone, np.arange(3 * SIZE) * 2)
    everyone = np.zeros((SIZE, 2), np.complex128)
    done(iallgather(np.array([RANK, 1j * RANK]), everyone, 2))
    np.testing.assert_array_equal(everyone, [[r, 1j * r] for r in range(SIZE)])
    outgoing = np.arange(2 * SIZE, dtype=np.uint16) + 100 * RANK
    received = np.zeros(2 * SIZE, np.uint16)
    done(ialltoall(outgoing, received, 2))
    np.testing.assert_array_equal(received, [100 * r + 2 * RANK + i for r in range(SIZE) for i in range(2)])


def test_in_place_forms_and_strided_blocks():
    root = SIZE - 1
    full = np.zeros(2 * SIZE)
    full[2 * RANK : 2 * RANK + 2] = RANK + 1
    done(igather(mpi.IN_PLACE, full, 2, root))
    if root == RANK:
        np.testing.assert_array_equal(full, np.repeat(np.arange(1.0, SIZE + 1), 2))
    source = np.arange(2.0 * SIZE)
    done(iscatter(source, mpi.IN_PLACE, 2, 0))
    np.testing.assert_array_equal(source[2 * RANK : 2 * RANK + 2], [2 * RANK, 2 * RANK + 1])
    full = np.zeros(SIZE, np.int64)
    full[RANK] = 7 * RANK
    done(iallgather(mpi.IN_PLACE, full, 1))
    np.testing.assert_array_equal(full, 7 * np.arange(SIZE))
    exchange = np.arange(SIZE) + 10 * RANK
    done(ialltoall(mpi.IN_PLACE, exchange, 1))
    np.testing.assert_array_equal(exchange, 10 * np.arange(SIZE) + RANK)
    # A strided send block (every other element) and a strided receive block.
    wide = np.zeros(6)
    wide[::2] = RANK + np.arange(3)
    gathered = np.zeros(3 * SIZE)
    done(iallgather(wide[::2], gathered, 3))
    np.testing.assert_array_equal(gathered, [r + i for r in range(SIZE) for i in range(3)])
    landing = np.zeros(6)
    done(iscatter(gathered, landing[1::2], 3, 0))
    np.testing.assert_array_equal(landing[1::2], RANK + np.arange(3))
    assert not landing[::2].any()


RECORD = np.dtype([("flag", "u1"), ("value", "f8")], align=True)  # padded: 9 bytes of data in 16


def records_of(r, n=2):
    records = np.zeros(n, RECORD)
    records["flag"], records["value"] = r + 1, 10.5 * r + np.arange(n)
    return records


def test_structured_blocks_go_as_the_full_buffers_struct_type():
    """A process's block of a structured dtype is sent as the struct type the full buffer
    receives (as its raw bytes, MPI would truncate the struct receive: garbage, status 0)."""
    expected = np.concatenate([records_of(r) for r in range(SIZE)])
    everyone = np.zeros(2 * SIZE, RECORD)
    done(iallgather(records_of(RANK), everyone, 2))
    np.testing.assert_array_equal(everyone, expected)
    gathered = np.zeros(2 * SIZE, RECORD)
    done(igatherv(records_of(RANK), gathered, np.full(SIZE, 2), None, 0))
    if RANK == 0:
        np.testing.assert_array_equal(gathered, expected)
    mine = np.zeros(2, RECORD)
    done(iscatter(expected, mine, 2, 0))
    np.testing.assert_array_equal(mine, records_of(RANK))
    wide = np.zeros(4, RECORD)
    wide[::2] = records_of(RANK)
    everyone[:] = 0
    done(iallgather(wide[::2], everyone, 2))  # a strided block: a derived type over the struct
    np.testing.assert_array_equal(everyone, expected)


@numba.njit
def vector_round_trip(counts, root):
    """Counts are int64 (converted to C int copies that the requests must keep alive)."""
    rank = mpi.rank()
    everything = np.zeros(counts.sum())
    status, first = iallgatherv(np.array([10.0 * rank + i for i in range(rank + 1)]), everything, counts)
    status |= mpi.wait(first)
    mine = np.zeros(rank + 1)
    code, second = iscatterv(everything, counts, None, mine, root)
    status |= code | mpi.wait(second)
    gathered = np.zeros(counts.sum())
    code, third = igatherv(mine * 2, gathered, counts, None, root)
    status |= code | mpi.waitall((third,))
    return status, everything, mine, gathered


def test_iallgatherv_iscatterv_igatherv():
    for root in range(SIZE):
        status, everything, mine, gathered = vector_round_trip(COUNTS, root)
        assert status == 0
        np.testing.assert_array_equal(everything, ALL_BLOCKS)
        np.testing.assert_array_equal(mine, blocks_of(RANK))
        if root == RANK:
            np.testing.assert_array_equal(gathered, 2 * ALL_BLOCKS)


def test_v_forms_with_displacements_in_place_and_bytes():
    gaps = DISPLS + np.arange(SIZE)  # one unused element after each block
    full = np.full(COUNTS.sum() + SIZE, -1.0)
    full[gaps[RANK] : gaps[RANK] + RANK + 1] = blocks_of(RANK)
    done(iallgatherv(mpi.IN_PLACE, full, COUNTS, gaps))
    for r in range(SIZE):
        np.testing.assert_array_equal(full[gaps[r] : gaps[r] + r + 1], blocks_of(r))
    mine = np.zeros(RANK + 1)
    done(iscatterv(full, COUNTS.astype(np.int32), gaps.astype(np.int32), mine, 0))
    np.testing.assert_array_equal(mine, blocks_of(RANK))
    result = np.zeros(COUNTS.sum())
    if RANK == 0:
        result[DISPLS[0] : DISPLS[0] + 1] = blocks_of(0)
        done(igatherv(mpi.IN_PLACE, result, COUNTS, None, 0))
        np.testing.assert_array_equal(result, ALL_BLOCKS)
    else:
        done(igatherv(blocks_of(RANK), result, COUNTS, None, 0))
    names = np.array([b"r%d" % RANK] * (RANK + 1), dtype="S2")
    all_names = np.zeros(COUNTS.sum(), "S2")
    done(iallgatherv(names, all_names, COUNTS))
    assert list(all_names) == [b"r%d" % r for r in range(SIZE) for _ in range(r + 1)]


def test_ialltoallv_and_in_place():
    # Rank r sends r + 1 copies of its rank to every process.
    send_counts = np.full(SIZE, RANK + 1)
    outgoing = np.full(SIZE * (RANK + 1), RANK, np.int32)
    received = np.zeros(COUNTS.sum(), np.int32)
    done(ialltoallv(outgoing, send_counts, None, received, COUNTS, None))
    np.testing.assert_array_equal(received, np.repeat(np.arange(SIZE), COUNTS))
    exchange = np.arange(SIZE, dtype=np.float32) + 10 * RANK
    ones = np.ones(SIZE, np.int64)
    done(ialltoallv(mpi.IN_PLACE, None, None, exchange, ones, None))
    np.testing.assert_array_equal(exchange, 10 * np.arange(SIZE) + RANK)


@numba.njit
def reductions(values, operator):
    result = np.empty_like(values)
    status, r1 = iallreduce(values, result, operator)
    upto = np.empty_like(values)
    code, r2 = iscan(values, upto, operator)
    status |= code
    before = np.zeros_like(values)
    code, r3 = iexscan(values, before, operator)
    status |= code
    return status | mpi.waitall((r1, r2, r3)), result, upto, before


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_iallreduce_iscan_iexscan_every_dtype(dtype):
    contributions = [sample(dtype, 5, r) for r in range(SIZE)]
    if dtype == np.bool_:
        operator, combine = mpi.Operator.LOR, np.logical_or.reduce
    else:
        operator, combine = mpi.Operator.SUM, lambda arrays: np.sum(arrays, axis=0, dtype=dtype)
    status, result, upto, before = reductions(contributions[RANK], operator)
    assert status == 0
    np.testing.assert_array_equal(result, combine(contributions))
    np.testing.assert_array_equal(upto, combine(contributions[: RANK + 1]))
    if RANK > 0:
        np.testing.assert_array_equal(before, combine(contributions[:RANK]))


def test_reduction_forms_scalar_in_place_and_reduce():
    total = np.zeros(1, np.int64)
    done(iallreduce(RANK + 1, total))  # the scalar lives in the request, not on a stack
    assert total[0] == SIZE * (SIZE + 1) // 2
    values = np.array([RANK, -RANK], np.float64)
    done(iallreduce(mpi.IN_PLACE, values, mpi.Operator.MAX))
    np.testing.assert_array_equal(values, [SIZE - 1, 0])
    for root in range(SIZE):
        result = np.zeros(3)
        done(ireduce(np.full(3, RANK + 1.0), result, mpi.Operator.PROD, root))
        if root == RANK:
            np.testing.assert_array_equal(result, np.prod(np.arange(1.0, SIZE + 1)))
        own = np.full(2, 1.0 + RANK)
        done(ireduce(mpi.IN_PLACE, own, mpi.Operator.SUM, root))
        if root == RANK:
            np.testing.assert_array_equal(own, SIZE * (SIZE + 1) / 2)
        scalar = np.zeros(1)
        done(ireduce(2.0, scalar, mpi.Operator.SUM, root, MPI.COMM_WORLD))
        if root == RANK:
            assert scalar[0] == 2.0 * SIZE
    mine = np.zeros(2)
    done(ireduce_scatter_block(np.arange(2.0 * SIZE) + RANK, mine))
    np.testing.assert_array_equal(mine, SIZE * np.arange(2.0 * RANK, 2.0 * RANK + 2) + SIZE * (SIZE - 1) / 2)
    block = np.ones(2 * SIZE)
    done(ireduce_scatter_block(mpi.IN_PLACE, block, mpi.Operator.SUM))
    np.testing.assert_array_equal(block[:2], SIZE)


@numba.njit
def temporary_buffers(n, rounds):
    """Temporaries go to MPI, then same-size arrays are allocated and overwritten before the
    wait (an MPI may read a send buffer only while progressing, in the wait)."""
    rank, size = mpi.rank(), mpi.size()
    out = np.zeros(n)
    code, reduction = iallreduce(np.full(n, rank + 1.0), out)
    counts = np.full(size, n // size)  # int64: converted to a C int copy
    gathered = np.zeros(size * (n // size))
    code2, gathering = iallgatherv(np.full(n // size, rank * 1.0), gathered, counts + 0)
    scribble = 0.0
    for step in range(rounds):
        junk = np.full(n, -7.0 - step)
        more = np.full(size, 1 << 40)
        scribble += junk[0] + more[0]
    status = code | code2 | mpi.waitall((reduction, gathering))
    return status, out, gathered, scribble


def test_temporaries_stay_alive_until_completion():
    n = 4096 * SIZE
    status, out, gathered, _ = temporary_buffers(n, 50)
    assert status == 0
    np.testing.assert_array_equal(out, SIZE * (SIZE + 1) / 2)
    np.testing.assert_array_equal(gathered, np.repeat(np.arange(SIZE, dtype=np.float64), n // SIZE))


@numba.njit
def start_on_temporaries(size):
    _, reduction = iallreduce(np.full(3, 1.0), np.zeros(3))
    _, gathering = iallgatherv(np.ones(1), np.zeros(size), np.ones(size, np.int64))
    return reduction, gathering


@pytest.mark.jit_only
def test_requests_hold_their_temporaries():
    """The arrays made inside the function outlive it, held by the requests, until these go."""
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    assert mpi.waitall(start_on_temporaries(SIZE)) == 0  # compile; every operation must complete

    def outstanding(before):
        after = rtsys.get_allocation_stats()
        return (after.alloc - before.alloc) - (after.free - before.free)

    before = rtsys.get_allocation_stats()
    reduction, gathering = start_on_temporaries(SIZE)
    # Each request block, with its send and receive arrays; the C int copy of the int64
    # counts and the packed displacements (the int64 counts themselves are not needed).
    assert outstanding(before) == 3 + 5
    assert mpi.waitall((reduction, gathering)) == 0
    assert outstanding(before) == 8  # completion does not release: dropping the request does
    del reduction
    assert outstanding(before) == 5
    del gathering
    assert outstanding(before) == 0


def test_python_caller_may_drop_its_buffers():
    outgoing = np.full(1000, RANK + 1.0)
    watch = weakref.ref(outgoing)
    total = np.zeros(1000)
    status, request = iallreduce(outgoing, total)
    del outgoing
    gc.collect()
    assert status == 0 and watch() is not None  # held by the request
    assert mpi.wait(request) == 0
    np.testing.assert_array_equal(total, SIZE * (SIZE + 1) / 2)
    del request
    gc.collect()
    assert watch() is None  # released with the request


@numba.njit
def start_and_drop(values, result, counts, steps):
    status = 0
    for _ in range(steps):
        code, request = iallreduce(values * 2, result)
        status |= code | mpi.wait(request)
        code, request = iallgatherv(values[:1], result[: counts.size], counts)
        status |= code | mpi.wait(request)
        code, request = ibarrier()
        status |= code | mpi.wait(request)
    return status


@pytest.mark.jit_only
def test_held_buffers_are_released_no_leak():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1 (./dev test does)")
    args = (np.ones(4), np.zeros(max(4, SIZE)), np.ones(SIZE, np.int64))
    assert start_and_drop(*args, 1) == 0

    def outstanding(steps):
        before = rtsys.get_allocation_stats()
        assert start_and_drop(*args, steps) == 0
        after = rtsys.get_allocation_stats()
        return (after.alloc - before.alloc) - (after.free - before.free), after.mi_alloc - after.mi_free - (
            before.mi_alloc - before.mi_free
        )

    assert outstanding(1) == outstanding(100) == (0, 0)


def test_errors_come_back_with_a_null_request():
    status, request = ibcast(np.zeros(1), SIZE + 1)
    assert mpi.error_class(status) == mpi.ERR_ROOT and is_null(request)
    status, request = iallreduce(np.zeros(1), np.zeros(1), 99)  # unknown operator: MPI_OP_NULL
    assert mpi.error_class(status) == mpi.ERR_OP and is_null(request)


def test_short_buffers_raise_before_starting():
    with pytest.raises(ValueError, match="fewer than count"):
        iallgather(np.zeros(2), np.zeros(2 * SIZE - 1), 2)
    with pytest.raises(ValueError, match="fewer elements"):
        iallreduce(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="fewer than count"):
        iscatter(np.zeros(SIZE), np.zeros(1), 2, RANK)
    with pytest.raises(ValueError, match="outside recv_data"):
        iallgatherv(np.zeros(1), np.zeros(SIZE - 1), np.ones(SIZE, np.int32))
    with pytest.raises(ValueError, match="one entry per process"):
        ialltoallv(np.zeros(SIZE), np.ones(SIZE, np.int64), None, np.zeros(SIZE), np.ones(SIZE - 1, np.int64), None)
    with pytest.raises(ValueError, match="fewer than size"):
        ireduce_scatter_block(np.zeros(2 * SIZE - 1), np.zeros(2))
    with pytest.raises(ValueError, match="fewer elements than its blocks"):
        ialltoall(np.zeros(2 * SIZE - 1), np.zeros(2 * SIZE), 2)


def test_layouts_that_cannot_work_in_place_are_refused():
    with pytest.raises(TypingError, match="C-contiguous"):
        iallreduce(np.zeros((2, 2), order="F"), np.zeros((2, 2), order="F"))
    with pytest.raises(ValueError, match="C-contiguous"):
        iallreduce(np.zeros(4)[::2], np.zeros(2))
    with pytest.raises(ValueError, match="C-contiguous"):
        iallgather(np.zeros(1), np.zeros(4 * SIZE)[::2], 1)
    with pytest.raises(ValueError, match="exactly its block"):
        iallgather(np.zeros(4)[::2], np.zeros(SIZE), 1)  # strided, but more than the block


def test_strided_full_buffers_are_refused_on_every_rank():
    """MPI would work on the caller's memory, later: a full buffer must be C-contiguous on
    every rank, also where MPI ignores it (a non-root's), so that no rank starts alone."""
    strided, counts = np.zeros(4 * SIZE)[::2], np.ones(SIZE, np.int32)
    for root in range(SIZE):
        with pytest.raises(ValueError, match="igatherv: recv_data must be C-contiguous"):
            igatherv(np.zeros(1), strided, counts, None, root)
        with pytest.raises(ValueError, match="iscatterv: send_data must be C-contiguous"):
            iscatterv(strided, counts, None, np.zeros(1), root)
        with pytest.raises(ValueError, match="igather: recv_data must be C-contiguous"):
            igather(np.zeros(1), strided, 1, root)
        with pytest.raises(ValueError, match="iscatter: send_data must be C-contiguous"):
            iscatter(strided, np.zeros(1), 1, root)
    with pytest.raises(ValueError, match="iallgatherv: recv_data must be C-contiguous"):
        iallgatherv(np.zeros(1), strided, counts)
    with pytest.raises(ValueError, match="ialltoallv: send_data must be C-contiguous"):
        ialltoallv(strided, counts, None, np.zeros(SIZE), counts, None)
    fortran = np.zeros((2, 2 * SIZE), order="F")
    with pytest.raises(TypingError, match="igatherv: recv_data must be C-contiguous"):
        igatherv(np.zeros(1), fortran, counts, None, 0)
    with pytest.raises(TypingError, match="iscatter: send_data must be C-contiguous"):
        iscatter(fortran, np.zeros(1), 1, 0)
    # every rank refused the calls: nothing was started that a later collective could meet
    everyone = np.zeros(SIZE)
    done(igatherv(np.full(1, RANK + 1.0), everyone, counts, None, 0))
    if RANK == 0:
        np.testing.assert_array_equal(everyone, np.arange(1.0, SIZE + 1))


def test_bad_types_are_typing_errors():
    with pytest.raises(TypingError, match="bytes cannot be reduced"):
        iallreduce(np.zeros(1, "S2"), np.zeros(1, "S2"))
    with pytest.raises(TypingError, match="sendobj must be an array"):
        ireduce_scatter_block(1.0, np.zeros(1))
    with pytest.raises(TypingError, match="root must be an integer"):
        ibcast(np.zeros(1), 0.5)
    with pytest.raises(TypingError, match="dtypes differ"):
        igather(np.zeros(1), np.zeros(SIZE, np.int32), 1, 0)
    frozen = np.zeros(1)
    frozen.setflags(write=False)
    with pytest.raises(TypingError, match="read-only"):
        ibcast(frozen, 0)
    with pytest.raises(TypingError, match="1-D integer array"):
        igatherv(np.zeros(1), np.zeros(SIZE), np.ones(SIZE), None, 0)


CACHED = """
import numba, numpy as np, sys
import mpi4numba as mpi
from mpi4numba import iallgatherv, iallreduce

@numba.njit(cache=True)
def work(n):
    total = np.zeros(n)
    status, first = iallreduce(np.full(n, mpi.rank() + 1.0), total)
    everyone = np.zeros(mpi.size())
    code, second = iallgatherv(np.full(1, mpi.rank() * 1.0), everyone, np.ones(mpi.size(), np.int64))
    return status | code | mpi.waitall((first, second)), total[0], everyone.sum()

status, total, gathered = work(8)
size = mpi.size()
assert status == 0 and total == size * (size + 1) / 2 and gathered == size * (size - 1) / 2, (status, total)
sys.stdout.write(f"hits {sum(work.stats.cache_hits.values())}\\n")  # one write: ranks' lines stay whole
"""


@pytest.mark.driver
def test_cached_functions_reload_and_run(tmp_path):
    script = tmp_path / "cached_nonblocking.py"
    script.write_text(CACHED)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = mpiexec(2, str(script), env=env, python=sys.executable)
    assert first.returncode == 0, first.stdout + first.stderr
    second = mpiexec(2, str(script), env=env, python=sys.executable)
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("hits 1") == 2, second.stdout


def test_a_strided_block_must_hold_exactly_its_block():
    """A strided send block goes to MPI as a derived datatype of all its elements: a count
    that is not all of them is refused on every process, naming the routine."""
    strided = np.arange(6.0)[::2]  # 3 elements, not contiguous
    received = np.zeros(2 * SIZE)
    with pytest.raises(
        ValueError, match="mpi4numba.iallgather: a non-contiguous block buffer must hold exactly its block"
    ):
        mpi.iallgather(strided, received, 2)
    received = np.zeros(3 * SIZE)
    status, request = mpi.iallgather(strided, received, 3)
    assert status == 0 and mpi.wait(request) == 0
    np.testing.assert_array_equal(received, np.tile([0.0, 2.0, 4.0], SIZE))
