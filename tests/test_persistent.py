"""Persistent collectives (MPI-4): made once, started several times with new data each
time; what arrived is checked against NumPy after every start."""

import numba
import numpy as np
import pytest
from mpi4py import MPI
from numba.core.errors import TypingError

import mpi4numba as mpi
from mpi4numba import (
    IN_PLACE,
    Operator,
    allgather_init,
    allgatherv_init,
    allreduce_init,
    alltoall_init,
    alltoallv_init,
    barrier_init,
    bcast_init,
    exscan_init,
    gather_init,
    gatherv_init,
    neighbor_allgather_init,
    neighbor_allgatherv_init,
    neighbor_alltoall_init,
    neighbor_alltoallv_init,
    reduce_init,
    reduce_scatter_block_init,
    scan_init,
    scatter_init,
    scatterv_init,
)
from mpi4numba._core import errorcodes
from mpi4numba._core.ccall import usable
from mpi4numba._core.runtime import LIBMPI

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
STARTS = 3
HAS_ROUTINES = usable("MPI_Allreduce_init")  # in the library, and not refused there
needs_mpi4 = pytest.mark.skipif(
    not HAS_ROUTINES,
    reason=f"{LIBMPI} lacks or gets wrong the MPI-4 persistent collectives: test_missing_routines_are_a_clear_error "
    "checks the code",
)


def made(result):
    status, request = result
    assert status == 0, mpi.error_string(status)
    assert request.shape == (1,) and request.dtype == mpi.RequestType
    return request


def run_once(request):
    assert mpi.start(request) == 0
    assert mpi.wait(request) == 0


@needs_mpi4
def test_rooted_collectives_restart_with_the_data_of_each_start():
    mine, everyone, parts = np.zeros(2), np.zeros(2 * SIZE), np.zeros(2 * SIZE)
    root = SIZE - 1
    gather = made(gather_init(mine, everyone, 2, root))
    scatter = made(scatter_init(parts, mine, 2, root))
    data = np.zeros(3, np.int32)
    bcast = made(bcast_init(data, root))
    total = np.zeros(2)
    reduce = made(reduce_init(mine, total, Operator.MAX, root))
    for step in range(STARTS):
        mine[:] = [100 * step + RANK, -RANK]
        run_once(gather)
        run_once(reduce)
        if root == RANK:
            np.testing.assert_array_equal(everyone.reshape(SIZE, 2), [[100 * step + r, -r] for r in range(SIZE)])
            np.testing.assert_array_equal(total, [100 * step + SIZE - 1, 0])
            parts[:] = np.arange(2 * SIZE) + step
            data[:] = [step, step + 1, step + 2]
        run_once(scatter)
        np.testing.assert_array_equal(mine, [2 * RANK + step, 2 * RANK + 1 + step])
        run_once(bcast)
        np.testing.assert_array_equal(data, [step, step + 1, step + 2])
    for request in (gather, scatter, bcast, reduce):
        assert mpi.request_free(request) == 0


@needs_mpi4
def test_allgather_alltoall_and_the_v_forms():
    mine, everyone = np.zeros(1, np.int64), np.zeros(SIZE, np.int64)
    outgoing, incoming = np.zeros(SIZE), np.zeros(SIZE)
    counts = np.arange(1, SIZE + 1)  # rank r has r + 1 elements
    own, gathered = np.zeros(RANK + 1), np.zeros(counts.sum())
    ones = np.ones(SIZE, np.int32)
    requests = [
        made(allgather_init(mine, everyone, 1)),
        made(alltoall_init(outgoing, incoming, 1)),
        made(allgatherv_init(own, gathered, counts)),
        made(gatherv_init(own, gathered, counts, None, 0)),
        made(alltoallv_init(outgoing, ones, None, incoming, ones, None)),
    ]
    scattered = np.zeros(RANK + 1)
    scatterv = made(scatterv_init(gathered, counts, None, scattered, 0))
    for step in range(STARTS):
        mine[0] = 10 * RANK + step
        outgoing[:] = 1000 * step + 100 * RANK + np.arange(SIZE)
        own[:] = step + RANK
        for index in (0, 1, 2):
            run_once(requests[index])
        np.testing.assert_array_equal(everyone, 10 * np.arange(SIZE) + step)
        np.testing.assert_array_equal(incoming, 1000 * step + 100 * np.arange(SIZE) + RANK)
        expected = np.concatenate([np.full(r + 1, step + r) for r in range(SIZE)])
        np.testing.assert_array_equal(gathered, expected)
        gathered[:] = -1
        run_once(requests[3])
        if RANK == 0:
            np.testing.assert_array_equal(gathered, expected)
            gathered[:] = expected * 2
        run_once(scatterv)
        np.testing.assert_array_equal(scattered, np.full(RANK + 1, 2.0 * (step + RANK)))
        incoming[:] = 0
        run_once(requests[4])
        np.testing.assert_array_equal(incoming, 1000 * step + 100 * np.arange(SIZE) + RANK)
    for request in [*requests, scatterv]:
        assert mpi.request_free(request) == 0


@needs_mpi4
def test_reductions_arrays_and_in_place():
    values, total, upto, before = np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2)
    allreduce = made(allreduce_init(values, total))
    scan = made(scan_init(values, upto, Operator.SUM))
    exscan = made(exscan_init(values, before))
    running = np.ones(1)
    in_place = made(allreduce_init(IN_PLACE, running, Operator.PROD))
    blocks, mine = np.zeros(2 * SIZE), np.zeros(2)
    scatter_block = made(reduce_scatter_block_init(blocks, mine))
    for step in range(STARTS):
        values[:] = [RANK + step, 1.0]
        blocks[:] = np.arange(2 * SIZE) * (step + 1)
        running[0] = step + 2.0  # the in-place buffer is the input of every start
        for request in (allreduce, scan, exscan, in_place, scatter_block):
            run_once(request)
        ranks = np.arange(SIZE)
        np.testing.assert_array_equal(total, [(ranks + step).sum(), SIZE])
        np.testing.assert_array_equal(upto, [(ranks[: RANK + 1] + step).sum(), RANK + 1])
        if RANK > 0:
            np.testing.assert_array_equal(before, [(ranks[:RANK] + step).sum(), RANK])
        assert running[0] == (step + 2.0) ** SIZE
        np.testing.assert_array_equal(mine, np.array([2 * RANK, 2 * RANK + 1]) * (step + 1) * SIZE)
    for request in (allreduce, scan, exscan, in_place, scatter_block):
        assert mpi.request_free(request) == 0


@numba.njit
def halo_steps(field, steps, cart):
    """A time loop: set up once, then each step only start and wait (a 1-D ring's halo
    exchange and a global sum), as a stencil code does."""
    halos, sums = np.zeros(2), np.zeros(1)
    local = np.zeros(1)
    edges = np.zeros(2)
    code, exchange = neighbor_alltoall_init(edges, halos, 1, cart)
    code2, total = allreduce_init(local, sums)
    history = np.zeros((steps, 3))
    for step in range(steps):
        edges[0], edges[1] = field[0] + step, field[-1] + step
        local[0] = field.sum() + step
        mpi.start(exchange)
        mpi.start(total)
        mpi.waitall((exchange, total))
        history[step, 0], history[step, 1], history[step, 2] = halos[0], halos[1], sums[0]
    mpi.request_free(exchange)
    mpi.request_free(total)
    return code | code2, history


@needs_mpi4
def test_a_compiled_time_loop_sets_up_once_and_starts_each_step():
    status, ring = mpi.cart_create((SIZE,), (True,))
    field = np.arange(4.0) + 10 * RANK
    code, history = halo_steps(field, 5, ring)
    assert code == 0
    left, right = (RANK - 1) % SIZE, (RANK + 1) % SIZE
    for step in range(5):
        # from the left neighbour its last element; from the right one its first (on a ring
        # of 1 or 2 both are one process, and libraries pair its two blocks either way)
        halos = [10 * left + 3 + step, 10 * right + step]
        if SIZE > 2:
            assert history[step, :2].tolist() == halos
        else:
            assert sorted(history[step, :2]) == sorted(halos)
        assert history[step, 2] == sum(6 + 40 * r + step for r in range(SIZE))
    assert mpi.comm_free(ring) == 0


@needs_mpi4
def test_neighbour_v_forms_and_barrier():
    status, ring = mpi.cart_create((SIZE,), (True,))
    got, ones = np.zeros(2), np.ones(2, np.int32)
    mine = np.zeros(1)
    gather = made(neighbor_allgatherv_init(mine, got, ones, None, ring))
    fixed = made(neighbor_allgather_init(mine, got, 1, ring))
    edges = np.zeros(2)
    swap = made(neighbor_alltoallv_init(edges, ones, None, got, ones, None, ring))
    barrier = made(barrier_init())
    left, right = (RANK - 1) % SIZE, (RANK + 1) % SIZE
    for step in range(STARTS):
        mine[0] = 10.0 * RANK + step
        run_once(barrier)
        for request in (gather, fixed):
            got[:] = -1
            run_once(request)
            np.testing.assert_array_equal(got, [10.0 * left + step, 10.0 * right + step])
        edges[:] = [100 * RANK + step, 200 * RANK + step]  # to the left, to the right
        run_once(swap)
        if SIZE > 2:  # with 2 the left and right neighbours are one process
            np.testing.assert_array_equal(got, [200 * left + step, 100 * right + step])
    for request in (gather, fixed, swap, barrier):
        assert mpi.request_free(request) == 0
    assert mpi.comm_free(ring) == 0


def test_missing_routines_are_a_clear_error():
    """Where the library has MPI_Allreduce_init, it runs; where not (Open MPI 4.1), the code
    is ERR_UNSUPPORTED_OPERATION, its text names the routine and the library, and the
    request is null."""
    status, request = allreduce_init(np.ones(1), np.zeros(1))
    if HAS_ROUTINES:
        assert status == 0
        assert mpi.request_free(request) == 0
        return
    assert mpi.error_class(status) == mpi.ERR_UNSUPPORTED_OPERATION
    text = mpi.error_string(status)
    if errorcodes.codes_carry_messages():  # MPICH 4.1 gives the bare class
        assert "MPI_Allreduce_init" in text, text
        assert "not in this MPI library" in text or "is refused on this MPI library" in text, text
    assert mpi.wait(request) == 0  # the null request: nothing to wait for


@pytest.mark.jit_only
def test_a_reduction_of_a_number_is_refused():
    @numba.njit
    def of_a_number():
        return allreduce_init(1.0, np.zeros(1))

    with pytest.raises(TypingError, match="allreduce_init: sendobj must be an array or IN_PLACE, not a number"):
        of_a_number()


def test_short_and_strided_buffers_raise_before_anything_is_made():
    with pytest.raises(ValueError, match="recvobj has fewer elements than sendobj"):
        allreduce_init(np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="must be C-contiguous"):
        allgather_init(np.ones(1), np.zeros(4 * SIZE)[::2], 1)
    with pytest.raises(ValueError, match="recv_data has fewer than count \\* size elements"):
        allgather_init(np.ones(1), np.zeros(SIZE - 1), 1)
