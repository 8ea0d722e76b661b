"""Derived datatypes: strided views, structured dtypes and (value, index) pairs moved
between processes without copies, checked against NumPy; the type cache is reused."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba._core.typecache import cache_info

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
RIGHT, LEFT = (RANK + 1) % SIZE, (RANK - 1) % SIZE


def grid(rank: int, shape=(6, 5, 4)) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1000.0 * rank


VIEWS = {
    "face0": lambda a: a[0],
    "face1": lambda a: a[:, 0],
    "face2": lambda a: a[:, :, 0],
    "negative": lambda a: a[::-1, 1, ::-2],
    "negative-3d": lambda a: a[::-2, ::-1, 1:3],
    "fortran": lambda a: np.asfortranarray(a),
    "transpose": lambda a: a.T,
    "middle": lambda a: a[1:5, 1:4, 1:3],
    "column": lambda a: a[2, :, 3],
}


@numba.njit(cache=True)
def ring(outgoing, incoming, right, left):
    return mpi.sendrecv(outgoing, right, incoming, left)


@numba.njit(cache=True)
def _send_then_recv(outgoing, incoming, right, left, steps, request):
    status = 0
    for _ in range(steps):
        status |= mpi.isend(outgoing, right, 5, request=request)[0]
        status |= mpi.recv(incoming, left, 5)
        status |= mpi.wait(request)
    return status


def send_then_recv(outgoing, incoming, right, left, steps, request=mpi.request_array(1)):  # noqa: B008  (one request, reused by every call: the point of the test)
    return _send_then_recv(outgoing, incoming, right, left, steps, request)


@pytest.mark.parametrize("name", list(VIEWS))
def test_strided_send_and_receive_in_place(name, strided_mode):
    view = VIEWS[name]
    outgoing = view(grid(RANK))
    target = np.zeros((6, 5, 4))
    incoming = view(target)
    assert ring(outgoing, incoming, RIGHT, LEFT) == 0
    expected = view(grid(LEFT))
    np.testing.assert_array_equal(incoming, expected)
    untouched = np.ones_like(target, dtype=bool)
    view(untouched)[...] = False
    assert (target[untouched] == 0).all()  # nothing outside the view was written
    assert send_then_recv(outgoing, view(np.zeros((6, 5, 4))), RIGHT, LEFT, 3) == 0


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.bool_, "S1", np.int16, np.float64])
def test_reversed_views_of_every_element_size(dtype, strided_mode):
    """A view with a negative step of one element: Open MPI's hvector of 1-byte elements at
    stride -1 moved them forwards (past the view's start) before mpi4numba avoided it."""
    base = (np.arange(24) % 100 + 10 * RANK).astype(np.int64)
    outgoing = (base % 2 == 1) if dtype == np.bool_ else base.astype(dtype)
    target = np.zeros(24, dtype=outgoing.dtype)
    assert ring(outgoing[20:3:-2], target[20:3:-2], RIGHT, LEFT) == 0
    expected = np.zeros_like(target)
    sent = (np.arange(24) % 100 + 10 * LEFT).astype(np.int64)
    expected[20:3:-2] = ((sent % 2 == 1) if dtype == np.bool_ else sent.astype(dtype))[20:3:-2]
    np.testing.assert_array_equal(target, expected)
    target = np.zeros(24, dtype=outgoing.dtype)
    assert ring(outgoing[::-1], target[::-1], RIGHT, LEFT) == 0  # stride -itemsize
    np.testing.assert_array_equal(target, (sent % 2 == 1) if dtype == np.bool_ else sent.astype(dtype))


def test_cache_is_hit_and_not_grown_by_repeated_layouts(datatype_mode):
    outgoing, incoming = grid(RANK)[:, 1], np.zeros((6, 5, 4))[:, 2]
    assert ring(outgoing, incoming, RIGHT, LEFT) == 0
    before = cache_info()
    assert send_then_recv(outgoing, incoming, RIGHT, LEFT, 10) == 0
    after = cache_info()
    assert after["entries"] == before["entries"] and after["cached"] == before["cached"]
    assert after["hits"] >= before["hits"] + 20  # a send and a receive per step
    assert after["uncached"] == before["uncached"]


@pytest.mark.jit_only
def test_repeated_strided_sends_allocate_nothing():
    if not numba.config.NRT_STATS:
        pytest.fail("run the suite with NUMBA_NRT_STATS=1")
    outgoing, incoming = grid(RANK)[::-1, :, 2], np.zeros((6, 5, 4))[:, :, 1]
    assert send_then_recv(outgoing, incoming, RIGHT, LEFT, 1) == 0

    def allocations(steps):
        before = rtsys.get_allocation_stats().alloc
        assert send_then_recv(outgoing, incoming, RIGHT, LEFT, steps) == 0
        return rtsys.get_allocation_stats().alloc - before

    assert allocations(1) == allocations(101)


PADDED = np.dtype([("flag", "u1"), ("value", "f8"), ("count", "i2")], align=True)
NESTED = np.dtype(
    [
        ("id", "i4"),
        ("point", [("x", "f4"), ("tag", "S3"), ("m", "i2", (2, 3))]),
        ("history", "f8", (3,)),
        ("pairs", [("a", "u2"), ("b", "c8")], (2,)),
    ],
    align=True,
)
PACKED = np.dtype([("a", "i1"), ("b", "f8"), ("c", "u2", (2,))])  # no padding, unaligned fields


def records(dtype: np.dtype, n: int, rank: int) -> np.ndarray:
    """Deterministic values in every (nested) field; padding bytes stay zero."""
    out = np.zeros(n, dtype)

    def fill(view, seed):
        if view.dtype.names:
            for i, name in enumerate(view.dtype.names):
                fill(view[name], seed * 7 + i)
        elif view.dtype.kind == "S":
            view[...] = np.array([b"r%d" % ((seed + k) % 100) for k in range(view.size)]).reshape(view.shape)
        else:
            view[...] = (np.arange(view.size).reshape(view.shape) * 3 + seed + 17 * rank) % 120

    fill(out, 1)
    return out


@pytest.mark.parametrize("dtype", [PADDED, NESTED, PACKED], ids=["padded", "nested", "packed"])
def test_structured_arrays_point_to_point(dtype):
    outgoing = records(dtype, 7, RANK)
    incoming = np.zeros(7, dtype)
    assert ring(outgoing, incoming, RIGHT, LEFT) == 0
    np.testing.assert_array_equal(incoming, records(dtype, 7, LEFT))
    strided = np.zeros(14, dtype)  # every other record: a strided struct view
    assert ring(outgoing[::-1], strided[::2], RIGHT, LEFT) == 0
    np.testing.assert_array_equal(strided[::2], records(dtype, 7, LEFT)[::-1])
    assert (strided[1::2] == np.zeros(7, dtype)).all()


def test_structured_types_are_cached():
    outgoing, incoming = records(NESTED, 3, RANK), np.zeros(3, NESTED)
    assert ring(outgoing, incoming, RIGHT, LEFT) == 0
    before = cache_info()
    assert send_then_recv(outgoing, incoming, RIGHT, LEFT, 5) == 0
    after = cache_info()
    assert after["cached"] == before["cached"] and after["hits"] >= before["hits"] + 10


def test_structured_and_strided_collectives():
    data = records(NESTED, 4, 0) if RANK == 0 else np.zeros(4, NESTED)
    assert mpi.bcast(data, 0) == 0
    np.testing.assert_array_equal(data, records(NESTED, 4, 0))
    everyone = np.zeros(3 * SIZE, PADDED)
    assert mpi.allgather(records(PADDED, 3, RANK), everyone, 3) == 0
    np.testing.assert_array_equal(everyone, np.concatenate([records(PADDED, 3, r) for r in range(SIZE)]))
    mine = np.zeros(6, PADDED)[::2]  # strided receive of a scattered block
    assert mpi.scatter(np.concatenate([records(PADDED, 3, r) for r in range(SIZE)]), mine, 3, 0) == 0
    np.testing.assert_array_equal(mine, records(PADDED, 3, RANK))
    gathered = np.zeros(3 * SIZE, PADDED)
    assert mpi.gather(records(PADDED, 6, RANK)[::2], gathered, 3, 0) == 0
    if RANK == 0:
        np.testing.assert_array_equal(gathered, np.concatenate([records(PADDED, 6, r)[::2] for r in range(SIZE)]))


def test_strided_blocks_in_collectives():
    column = grid(RANK)[:, 1, 2]  # 6 elements, stride 160 bytes
    everyone = np.zeros(6 * SIZE)
    assert mpi.allgather(column, everyone, 6) == 0
    np.testing.assert_array_equal(everyone, np.concatenate([grid(r)[:, 1, 2] for r in range(SIZE)]))
    everyone[:] = 0
    assert mpi.gather(column, everyone, 6, SIZE - 1) == 0
    if RANK == SIZE - 1:
        np.testing.assert_array_equal(everyone, np.concatenate([grid(r)[:, 1, 2] for r in range(SIZE)]))
    counts = np.arange(1, SIZE + 1)
    mine = np.zeros((RANK + 1, 3))[::-1, 1]
    assert mpi.scatterv(np.arange(counts.sum(), dtype=np.float64), counts, None, mine, 0) == 0
    start = RANK * (RANK + 1) // 2
    np.testing.assert_array_equal(mine, np.arange(start, start + RANK + 1))
    together = np.zeros(counts.sum())
    assert mpi.allgatherv(np.full((RANK + 1, 2), float(RANK))[:, 1], together, counts) == 0
    np.testing.assert_array_equal(together, np.repeat(np.arange(SIZE, dtype=np.float64), counts))
    assert mpi.gatherv(np.full((RANK + 1, 2), float(RANK))[:, 0], together, counts, None, 0) == 0
    face = grid(RANK)[:, :, 3] if RANK == 0 else np.zeros((6, 5, 4))[:, :, 3]
    assert mpi.bcast(face, 0) == 0
    np.testing.assert_array_equal(face, grid(0)[:, :, 3])
    total = np.zeros((4, 6)).T  # F-ordered result of a strided reduction (copied: MPI needs it)
    assert mpi.allreduce(grid(RANK)[:, 2, :], total) == 0
    np.testing.assert_allclose(total, sum(grid(r)[:, 2, :] for r in range(SIZE)))


PAIR_DTYPES = {
    "f8": np.dtype([("value", "f8"), ("index", "i4")], align=True),
    "f4": np.dtype([("value", "f4"), ("index", "i4")], align=True),
    "i4": np.dtype([("value", "i4"), ("index", "i4")], align=True),
    "i8": np.dtype([("value", "i8"), ("index", "i4")], align=True),
    "i2": np.dtype([("value", "i2"), ("index", "i4")], align=True),
}


def pairs(dtype: np.dtype, rank: int) -> np.ndarray:
    """Values with ties across ranks (rank // 2) and a unique maximum/minimum elsewhere."""
    out = np.zeros(4, dtype)
    out["value"] = [rank // 2, -(rank // 2), 7, rank % 3]
    out["index"] = [10 * rank + 1, 10 * rank + 2, 10 * rank + 3, 10 * rank + 4]
    return out


def loc_reference(dtype: np.dtype, ranks, maximum: bool) -> np.ndarray:
    """MINLOC/MAXLOC by definition: best value, smallest index among ties."""
    contributions = [pairs(dtype, r) for r in ranks]
    out = np.zeros(4, dtype)
    for i in range(4):
        values = [c["value"][i] for c in contributions]
        best = max(values) if maximum else min(values)
        out[i] = (best, min(c["index"][i] for c in contributions if c["value"][i] == best))
    return out


@numba.njit(cache=True)
def loc_reductions(values, minimum, maximum, prefix):
    status = mpi.allreduce(values, minimum, mpi.Operator.MINLOC)
    status |= mpi.allreduce(values, maximum, mpi.Operator.MAXLOC)
    status |= mpi.scan(values, prefix, mpi.Operator.MINLOC)
    return status


@pytest.mark.parametrize("name", list(PAIR_DTYPES))
def test_minloc_maxloc_pairs(name):
    dtype = PAIR_DTYPES[name]
    minimum, maximum, prefix = np.zeros(4, dtype), np.zeros(4, dtype), np.zeros(4, dtype)
    assert loc_reductions(pairs(dtype, RANK), minimum, maximum, prefix) == 0
    np.testing.assert_array_equal(minimum, loc_reference(dtype, range(SIZE), False))
    np.testing.assert_array_equal(maximum, loc_reference(dtype, range(SIZE), True))
    np.testing.assert_array_equal(prefix, loc_reference(dtype, range(RANK + 1), False))
    result = np.zeros(4, dtype)
    assert mpi.reduce(pairs(dtype, RANK), result, mpi.Operator.MAXLOC, 0) == 0
    if RANK == 0:
        np.testing.assert_array_equal(result, loc_reference(dtype, range(SIZE), True))
    strided = np.zeros(8, dtype)[::2]  # non-contiguous pairs: copied, then reduced
    assert mpi.allreduce(pairs(dtype, RANK)[::-1], strided, mpi.Operator.MINLOC) == 0
    np.testing.assert_array_equal(strided, loc_reference(dtype, range(SIZE), False)[::-1])


@numba.njit(cache=True)
def sum_by_default(values, result):
    return mpi.allreduce(values, result)


@pytest.mark.jit_only
def test_reduction_type_errors():
    good = PAIR_DTYPES["f8"]
    # an operator written in the code (or a default) is refused when compiling; one passed
    # in from Python is only known at run time: refused before MPI sees it
    with pytest.raises(TypingError, match="Operator.SUM does not apply to .value, index. pairs"):
        sum_by_default(np.zeros(2, good), np.zeros(2, good))
    with pytest.raises(ValueError, match="use Operator.MINLOC or Operator.MAXLOC"):
        mpi.allreduce(np.zeros(2, good), np.zeros(2, good), mpi.Operator.SUM)
    unaligned = np.dtype([("value", "f8"), ("index", "i4")])
    with pytest.raises(TypingError, match="align=True"):
        mpi.allreduce(np.zeros(2, unaligned), np.zeros(2, unaligned), mpi.Operator.MINLOC)
    with pytest.raises(TypingError, match="structured dtypes cannot be reduced"):
        mpi.allreduce(np.zeros(2, PADDED), np.zeros(2, PADDED), mpi.Operator.MAX)
    with pytest.raises(TypingError, match="unsupported dtype"):
        ring(np.zeros(2, [("a", "U3")]), np.zeros(2, [("a", "U3")]), RIGHT, LEFT)


def test_get_count_of_padded_records_counts_records():
    outgoing, incoming = records(PADDED, 5, RANK), np.zeros(8, PADDED)
    status, request = mpi.isend(outgoing, RANK, tag=3)
    code, received = mpi.recv_status(incoming, RANK, 3)
    assert status == code == mpi.wait(request) == 0
    assert mpi.get_count(received, incoming) == (0, 5)
    np.testing.assert_array_equal(incoming[:5], outgoing)
