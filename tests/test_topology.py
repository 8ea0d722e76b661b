"""Topologies and neighbourhood collectives, checked against neighbours computed in NumPy.

Works at any number of processes; at 4 the grid is 2 x 2 (periodic axes of size 2, where
both neighbours are the same process). The ``driver`` test runs examples/heat2d.py.
"""

import re
import sys

import numba
import numpy as np
import pytest
from helpers import ROOT, mpiexec
from mpi4py import MPI
from numba.core.errors import TypingError
from numba.core.runtime import rtsys

import mpi4numba as mpi
from mpi4numba import comm as comm_module
from mpi4numba import neighbor as nb
from mpi4numba import topology as topo
from mpi4numba._core.launchers import library_flavour

RANK, SIZE = MPI.COMM_WORLD.Get_rank(), MPI.COMM_WORLD.Get_size()
DIMS = MPI.Compute_dims(SIZE, 2)
PROC_NULL = mpi.PROC_NULL


def coords_of(rank, dims=DIMS):
    return list(np.unravel_index(rank, dims))  # MPI grids are numbered in row-major order


def neighbours(rank, dims, periods):
    """[(behind, ahead) for each axis], PROC_NULL past a non-periodic edge."""
    result = []
    for axis, (n, periodic) in enumerate(zip(dims, periods)):
        pair = []
        for step in (-1, 1):
            c = coords_of(rank, dims)
            c[axis] += step
            if periodic:
                c[axis] %= n
            pair.append(int(np.ravel_multi_index(c, dims)) if 0 <= c[axis] < n else PROC_NULL)
        result.append(tuple(pair))
    return result


@pytest.fixture(params=[(True, False), (False, True), (True, True)], ids=["periodic0", "periodic1", "torus"])
def grid(request):
    periods = request.param
    status, cart = topo.cart_create(np.array(DIMS), periods)
    assert status == 0
    yield cart, periods
    assert mpi.comm_free(cart) == 0


def test_dims_create_matches_mpi4py():
    for nnodes in (1, 2, 6, 12, SIZE):
        for dtype in (np.int32, np.int64):
            dims = np.zeros(3, dtype)
            assert topo.dims_create(nnodes, dims) == 0
            assert dims.tolist() == MPI.Compute_dims(nnodes, 3)
    fixed = np.array([0, 2], np.int64)
    assert topo.dims_create(6, fixed) == 0 and fixed.tolist() == [3, 2]
    assert topo.dims_create(7, np.array([2, 0])) != 0  # 7 is not a multiple of 2
    strided = np.zeros(6, np.int16)[::2]  # converted for MPI, the factorisation copied back
    assert topo.dims_create(SIZE, strided) == 0 and strided.tolist() == MPI.Compute_dims(SIZE, 3)
    with pytest.raises(TypingError, match="dims must be a 1-D integer array"):
        topo.dims_create(4, np.zeros(2))


def test_cart_queries(grid):
    cart, periods = grid
    assert topo.topo_test(cart) == (0, topo.CART)
    assert topo.topo_test() == (0, mpi.UNDEFINED)
    assert comm_module.comm_compare(cart, MPI.COMM_WORLD) == (0, comm_module.CONGRUENT)
    status, dims, got_periods, coords = topo.cart_get(cart)
    assert status == 0 and dims.tolist() == DIMS and got_periods.tolist() == list(periods)
    assert coords.tolist() == coords_of(RANK)
    assert topo.cartdim_get(cart) == (0, 2)
    out = np.zeros(2, np.int32)
    for r in range(SIZE):
        status, c = topo.cart_coords(r, cart)
        assert status == 0 and c.tolist() == coords_of(r)
        assert topo.cart_coords(r, cart, out)[1] is out and out.tolist() == coords_of(r)
        assert topo.cart_rank(c, cart) == (0, r)
        assert topo.cart_rank(tuple(c.tolist()), cart) == (0, r)
    for axis, (behind, ahead) in enumerate(neighbours(RANK, DIMS, periods)):
        assert topo.cart_shift(axis, 1, cart) == (0, behind, ahead)
        assert topo.cart_shift(axis, -1, cart) == (0, ahead, behind)


def test_cart_sub_rows_and_columns(grid):
    cart, _ = grid
    me = coords_of(RANK)
    for keep, axis in (((False, True), 1), ((True, False), 0)):
        status, line = topo.cart_sub(keep, cart)
        assert status == 0 and mpi.size(line) == DIMS[axis] and mpi.rank(line) == me[axis]
        total = np.zeros(1, np.int64)
        assert mpi.allreduce(RANK, total, mpi.Operator.SUM, line) == 0
        members = [r for r in range(SIZE) if coords_of(r)[1 - axis] == me[1 - axis]]
        assert total[0] == sum(members)
        assert mpi.comm_free(line) == 0


# --- which block a receive slot gets when one process is a neighbour several times ---
#
# A neighbourhood collective sends all its blocks between two processes with one tag, so
# where a process is a neighbour twice (a periodic axis of length 1 or 2, a graph with a
# repeated edge) the posting order decides which block lands in which slot. MPI 4.0 fixes
# it (errata of mpi-forum/mpi-issues#153): on a Cartesian grid block s of the sender lands
# in slot s ^ 1 (what went ahead is received from behind), along every axis; on a graph the
# k-th edge to a process matches the k-th edge from it. Libraries differ (measured with
# mpi4py alone, the same calls as below):
MPI4, LIST_ORDER, REVERSED = "MPI 4.0", "list order", "reversed"
RULES = (MPI4, LIST_ORDER, REVERSED)
LIBRARY = library_flavour(MPI.Get_library_version())


def duplicate_edge_pairing(routine):
    """This library's rule for ``neighbor_<routine>`` (``"alltoall"``/``"alltoallv"``), from its version:

    * ``MPI 4.0``: MPICH >= 5.0 (pmodels/mpich#7945), Open MPI 4.1 and 5.0;
    * ``reversed``, the receives posted in the reverse order of the whole neighbour list (the k-th
      receive from a process, counted from the end, takes its k-th send): MPICH 4.1 to 4.3
      (pmodels/mpich#4902, #5777). That is MPI 4.0's pairing where a process is both neighbours
      along one axis, and neither rule where it is a neighbour along several axes (a 1 x 1
      torus) or twice on a graph (a ring of 1 or 2). MPICH 4.0 reverses ``alltoall`` only;
    * ``list order`` (the k-th receive from a process takes its k-th send, MPI before 4.0 left
      this open): Intel MPI 2021, MPICH 4.0's ``alltoallv``.

    None (any of the three) for libraries not measured (other MPICH derivatives, MPICH 3)."""
    version = tuple(int(part) for part in re.findall(r"\d+", LIBRARY.version)[:2])
    if LIBRARY.vendor == "Open MPI":
        return MPI4
    if LIBRARY.vendor == "Intel MPI":
        return LIST_ORDER
    if LIBRARY.vendor != "MPICH" or len(version) < 2 or version < (4, 0):
        return None
    if version >= (5, 0):
        return MPI4
    return LIST_ORDER if version < (4, 1) and routine == "alltoallv" else REVERSED


def matched_blocks(sources_of, destinations_of, rule, cartesian, me=RANK):
    """``(sender, sender's block)`` for each receive slot of process ``me`` under ``rule``
    (None for a ``PROC_NULL`` source); ``sources_of(r)``/``destinations_of(r)``: r's lists."""
    sources = sources_of(me)
    result = [None] * len(sources)
    for sender in set(sources) - {PROC_NULL}:
        slots = [i for i, source in enumerate(sources) if source == sender]
        blocks = [j for j, destination in enumerate(destinations_of(sender)) if destination == me]
        if rule == MPI4 and cartesian:
            pairs = [(slot, slot ^ 1) for slot in slots]
        elif rule == REVERSED:
            pairs = list(zip(reversed(slots), blocks))
        else:  # list order, and MPI 4.0 on graphs
            pairs = list(zip(slots, blocks))
        for slot, block in pairs:
            result[slot] = (sender, block)
    return result


def grid_lists(dims, periods):
    """Neighbour lists of a Cartesian grid: sources and destinations are the same list."""

    def lists(rank):
        return [r for pair in neighbours(rank, dims, periods) for r in pair]

    return lists, lists


def ring_lists():
    """Neighbour lists of test_dist_graph_ring's ring: sources (behind, ahead), destinations (ahead, behind)."""
    return (lambda r: [(r - 1) % SIZE, (r + 1) % SIZE]), (lambda r: [(r + 1) % SIZE, (r - 1) % SIZE])


def expected_blocks(sent_by, lists, fill, rule, cartesian=True, me=RANK):
    """What each receive slot gets in an alltoall of equal blocks: block ``j`` of process
    ``r`` is ``sent_by(r)[j]``; ``fill`` where the source is ``PROC_NULL``."""
    matched = matched_blocks(*lists, rule, cartesian, me)
    return np.array([fill if pair is None else sent_by(pair[0])[pair[1]] for pair in matched])


def assert_library_pairing(got, expected_for, routine):
    """``got`` is what this library's rule gives (any known rule for a library not measured)."""
    rule = duplicate_edge_pairing(routine)
    for candidate in (rule,) if rule else RULES:
        if np.array_equal(got, expected_for(candidate)):
            return
    np.testing.assert_array_equal(
        got, expected_for(rule or MPI4), err_msg=f"{LIBRARY}: neighbor_{routine} pairing {rule or 'any known'}"
    )


def skip_if_blocks_of_other_counts_meet(lists, counts, routine, cartesian):
    """Under this library's rule, a slot may get a block of another count (a 1 x 1 torus, or a
    ring of 1 or 2, on MPICH 4.1 to 4.3): MPI does not define that exchange (a truncation)."""
    rule = duplicate_edge_pairing(routine)
    for slot, pair in enumerate(matched_blocks(*lists, rule or MPI4, cartesian)):
        if pair is not None and counts[slot] != counts[pair[1]]:
            pytest.skip(
                f"{LIBRARY} matches duplicate neighbour edges by the rule '{rule}' (see duplicate_edge_pairing): slot "
                f"{slot} ({counts[slot]} elements) would take block {pair[1]} ({counts[pair[1]]}), an exchange "
                "MPI does not define"
            )


def test_neighbor_allgather_and_alltoall_on_grid(grid):
    cart, periods = grid
    flat = [r for pair in neighbours(RANK, DIMS, periods) for r in pair]
    got = np.full((4, 2), -1.0)
    assert nb.neighbor_allgather(np.array([RANK, 0.5 * RANK]), got, 2, cart) == 0
    expected = [[r, 0.5 * r] if r != PROC_NULL else [-1.0, -1.0] for r in flat]
    np.testing.assert_array_equal(got, expected)

    def sent_by(r):
        return 100 * r + np.arange(4)

    got = np.full(4, -1, np.int64)
    assert nb.neighbor_alltoall(sent_by(RANK), got, 1, cart) == 0
    lists = grid_lists(DIMS, periods)
    assert_library_pairing(got, lambda rule: expected_blocks(sent_by, lists, -1, rule), "alltoall")
    strided = np.full(8, -1, np.int64)[::2]  # a receive buffer that needs a temporary
    assert nb.neighbor_alltoall(sent_by(RANK), strided, 1, cart) == 0
    np.testing.assert_array_equal(strided, got)


def test_neighbor_v_collectives_on_grid(grid):
    cart, periods = grid
    flat = [r for pair in neighbours(RANK, DIMS, periods) for r in pair]
    displacements = np.array([0, 2, 5, 7], np.int32)  # with gaps
    got = np.full(9, -1.0)
    mine = np.full(1 + RANK % 2, float(RANK))  # ranks send different sizes...
    recv_counts = np.array([1 + (r % 2) if r != PROC_NULL else 0 for r in flat], np.int32)  # ...known to all
    assert nb.neighbor_allgatherv(mine, got, recv_counts, displacements, cart) == 0
    expected = np.full(9, -1.0)
    for slot, r in enumerate(flat):
        expected[displacements[slot] : displacements[slot] + recv_counts[slot]] = r
    np.testing.assert_array_equal(got, expected)


def test_neighbor_alltoallv_symmetric_counts(grid):
    cart, periods = grid
    counts = np.array([2, 2, 1, 1], np.int32)  # both slots of an axis carry the same count
    lists = grid_lists(DIMS, periods)
    skip_if_blocks_of_other_counts_meet(lists, counts, "alltoallv", cartesian=True)
    send = np.arange(6, dtype=np.int32) + 10 * RANK
    got = np.full(6, -1, np.int32)
    assert nb.neighbor_alltoallv(send, counts, None, got, counts, np.array([0, 2, 4, 5]), cart) == 0
    starts = [0, 2, 4, 5]

    def expected(rule):
        result = np.full(6, -1, np.int32)
        for slot, pair in enumerate(matched_blocks(*lists, rule, cartesian=True)):
            if pair is not None:
                other, block = pair
                n = counts[slot]
                result[starts[slot] : starts[slot] + n] = (np.arange(6) + 10 * other)[starts[block] :][:n]
        return result

    assert_library_pairing(got, expected, "alltoallv")


@pytest.mark.parametrize("weighted", [False, True])
def test_dist_graph_ring(weighted):
    behind, ahead = (RANK - 1) % SIZE, (RANK + 1) % SIZE
    sources, destinations = np.array([behind, ahead]), np.array([ahead, behind])
    weights = (np.array([1, 2]), np.array([3, 4])) if weighted else (None, None)
    status, ring = topo.dist_graph_create_adjacent(sources, destinations, *weights)
    assert status == 0
    assert topo.topo_test(ring) == (0, topo.DIST_GRAPH)
    assert topo.dist_graph_neighbors_count(ring) == (0, 2, 2, int(weighted))
    status, got_sources, got_destinations = topo.dist_graph_neighbors(ring)
    assert status == 0 and got_sources.tolist() == sources.tolist()
    assert got_destinations.tolist() == destinations.tolist()
    got = np.zeros(2)
    assert nb.neighbor_allgather(np.array([1.0 * RANK]), got, 1, ring) == 0
    np.testing.assert_array_equal(got, sources)
    # block 0 goes ahead, block 1 behind; sources are (behind, ahead): with 3 or more processes
    # slot 0 gets [behind, 1] and slot 1 [2, ahead]; with 1 or 2, behind is ahead (see duplicate_edge_pairing)
    got = np.zeros((2, 2), np.int16)
    assert nb.neighbor_alltoall(np.array([RANK, 1, 2, RANK], np.int16), got, 2, ring) == 0

    def blocks_of(r):
        return [[r, 1], [2, r]]

    assert_library_pairing(
        got, lambda rule: expected_blocks(blocks_of, ring_lists(), None, rule, cartesian=False), "alltoall"
    )
    got = np.zeros(4)
    assert nb.neighbor_allgatherv(np.full(1, 1.0 * RANK), got, np.array([1, 1]), np.array([0, 3]), ring) == 0
    np.testing.assert_array_equal(got, [behind, 0, 0, ahead])
    assert mpi.comm_free(ring) == 0


def test_dist_graph_ring_alltoallv():
    behind, ahead = (RANK - 1) % SIZE, (RANK + 1) % SIZE
    counts = np.array([3, 1])  # 3 elements travel ahead (block 0), 1 behind (block 1)
    skip_if_blocks_of_other_counts_meet(ring_lists(), counts, "alltoallv", cartesian=False)
    status, ring = topo.dist_graph_create_adjacent(np.array([behind, ahead]), np.array([ahead, behind]))
    assert status == 0
    got = np.zeros(4)
    assert nb.neighbor_alltoallv(np.arange(4.0) + 10 * RANK, counts, None, got, counts, None, ring) == 0
    np.testing.assert_array_equal(got, [10 * behind, 10 * behind + 1, 10 * behind + 2, 10 * ahead + 3])
    assert mpi.comm_free(ring) == 0


def test_dist_graph_with_no_neighbours_and_weights():
    # rank 0 sends to everyone else; only rank 0 has no sources (MPI_WEIGHTS_EMPTY)
    sources = np.array([0] if RANK else [], np.int64)
    destinations = np.arange(1, SIZE) if RANK == 0 else np.zeros(0, np.int64)
    status, star = topo.dist_graph_create_adjacent(
        sources, destinations, np.ones(sources.size, np.int32), np.ones(destinations.size, np.int32)
    )
    assert status == 0
    assert topo.dist_graph_neighbors_count(star) == (0, sources.size, destinations.size, 1)
    got = np.full(1, -1.0)
    assert nb.neighbor_allgather(np.array([7.0]), got, 1, star) == 0
    assert got[0] == (7.0 if RANK else -1.0)
    assert mpi.comm_free(star) == 0
    with pytest.raises(ValueError, match="one entry per neighbour"):
        topo.dist_graph_create_adjacent((0,), (0,), (1, 2), (1,), comm=MPI.COMM_SELF)
    with pytest.raises(TypingError, match="both source_weights and dest_weights"):
        topo.dist_graph_create_adjacent((0,), (0,), (1,), comm=MPI.COMM_SELF)


def test_graph_ring():
    index = np.arange(1, SIZE + 1) * 2  # node i: neighbours i - 1 and i + 1
    edges = np.array([[(i - 1) % SIZE, (i + 1) % SIZE] for i in range(SIZE)]).ravel()
    status, ring = topo.graph_create(index, edges)
    assert status == 0 and topo.topo_test(ring) == (0, topo.GRAPH)
    status, mine = topo.graph_neighbors(RANK, ring)
    assert status == 0 and mine.tolist() == edges[2 * RANK : 2 * RANK + 2].tolist()
    got = np.zeros(2)
    assert nb.neighbor_allgather(np.array([1.0 * RANK]), got, 1, ring) == 0
    np.testing.assert_array_equal(got, mine)
    assert mpi.comm_free(ring) == 0


@numba.njit
def shifts_and_exchange(cart, steps, rows):
    """The pattern of a time loop: ranks from cart_shift, a neighbour exchange each step."""
    send = np.arange(4.0) + mpi.rank()
    got = np.zeros(4)
    status = 0
    total = 0
    for step in range(steps):
        code, source, dest = topo.cart_shift(step % 2, 1, cart)
        status |= code
        code, rank = topo.cart_rank((step % rows, 0), cart)
        status |= code
        total += source + dest + rank
        status |= nb.neighbor_alltoall(send, got, 1, cart)
    return status, total


@pytest.mark.jit_only
def test_hot_paths_do_not_allocate(grid):
    cart, _ = grid
    assert shifts_and_exchange(cart, 1, DIMS[0])[0] == 0  # compile
    before = rtsys.get_allocation_stats().alloc
    shifts_and_exchange(cart, 0, DIMS[0])
    overhead = rtsys.get_allocation_stats().alloc - before
    before = rtsys.get_allocation_stats().alloc
    assert shifts_and_exchange(cart, 200, DIMS[0])[0] == 0
    assert rtsys.get_allocation_stats().alloc - before == overhead


def test_errors():
    status, cart = topo.cart_create(DIMS, (False, False))
    assert topo.cart_shift(2, 1, cart)[0] != 0  # no axis 2
    assert topo.cart_shift(-1, 1, cart)[0] != 0
    assert topo.cart_coords(SIZE, cart)[0] != 0
    with pytest.raises(ValueError, match="one entry per grid dimension"):
        topo.cart_rank((0, 0, 0), cart)
    with pytest.raises(ValueError, match="coords has fewer entries"):
        topo.cart_coords(0, cart, np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="fewer than count \\* indegree"):
        nb.neighbor_allgather(np.zeros(1), np.zeros(3), 1, cart)
    with pytest.raises(ValueError, match="a block lies outside recv_data"):
        nb.neighbor_allgatherv(np.zeros(1), np.zeros(3), np.ones(4, np.int64), None, cart)
    assert mpi.comm_free(cart) == 0
    assert mpi.error_class(topo.cart_shift(0, 1, cart)[0]) == mpi.ERR_COMM
    assert mpi.error_class(nb.neighbor_alltoall(np.zeros(4), np.zeros(4), 1, cart)) == mpi.ERR_COMM
    assert mpi.error_class(topo.cart_rank((0, 0), cart)[0]) == mpi.ERR_COMM
    assert mpi.error_class(nb.neighbor_allgather(np.zeros(1), np.zeros(4), 1, MPI.COMM_WORLD)) == MPI.ERR_TOPOLOGY
    assert (
        mpi.error_class(
            nb.neighbor_alltoallv(
                np.zeros(1), np.ones(1, np.int32), None, np.zeros(1), np.ones(1, np.int32), None, MPI.COMM_WORLD
            )
        )
        == MPI.ERR_TOPOLOGY
    )
    assert topo.cart_create((SIZE + 1,), (False,))[0] != 0  # more processes than the communicator has
    with pytest.raises(ValueError, match="dims and periods differ"):
        topo.cart_create((SIZE,), (False, False))
    with pytest.raises(TypingError, match="dims must be a 1-D integer array"):
        topo.cart_create(np.zeros(2), (False, False))
    with pytest.raises(TypingError, match="direction must be an integer"):
        topo.cart_shift(0.5, 1, MPI.COMM_WORLD)
    with pytest.raises(TypingError, match="comm must be a communicator with a topology"):
        nb.neighbor_alltoall(np.zeros(4), np.zeros(4), 1, None)
    with pytest.raises(TypingError, match="dtypes differ"):
        nb.neighbor_alltoall(np.zeros(4), np.zeros(4, np.int32), 1, MPI.COMM_WORLD)


@numba.njit
def negative_grid(dims, periods):
    status, cart = topo.cart_create(dims, periods)
    return status, mpi.size(cart)


def test_cart_create_refuses_negative_dims():
    # MPICH accepts them (-1 x -1 made a grid of one process): refused here with ERR_DIMS
    for dims in ((-1,), (-1, -1), [SIZE, -2], np.array([-SIZE, -1])):
        status, cart = topo.cart_create(dims, (False,) * len(dims))
        assert mpi.error_class(status) == mpi.ERR_DIMS and cart == MPI.COMM_NULL
    status, size = negative_grid((1, -1), (True, True))
    assert mpi.error_class(status) == mpi.ERR_DIMS and size == 0  # COMM_NULL, from compiled code too


@pytest.mark.jit_only
def test_many_neighbours_beyond_the_stack_scratch():
    # 20 self-loops: counts that are not int32 and packed displacements go to the heap, freed after each call
    status, loops = topo.dist_graph_create_adjacent(np.zeros(20, np.int64), np.zeros(20, np.int64), comm=MPI.COMM_SELF)
    assert status == 0
    got = np.zeros(40)
    assert nb.neighbor_allgatherv(np.array([1.0, 2.0]), got, np.full(20, 2), None, loops) == 0
    np.testing.assert_array_equal(got, np.tile([1.0, 2.0], 20))
    live = rtsys.get_allocation_stats().alloc - rtsys.get_allocation_stats().free
    assert nb.neighbor_alltoallv(np.arange(40.0), np.full(20, 2), None, got, np.full(20, 2), None, loops) == 0
    loop_lists = (lambda r: [0] * 20), (lambda r: [0] * 20)  # on COMM_SELF: this process is rank 0

    def blocks_of(r):
        return np.arange(40.0).reshape(20, 2)

    assert_library_pairing(
        got.reshape(20, 2),
        lambda rule: expected_blocks(blocks_of, loop_lists, None, rule, cartesian=False, me=0),
        "alltoallv",
    )
    assert rtsys.get_allocation_stats().alloc - rtsys.get_allocation_stats().free == live
    assert mpi.comm_free(loops) == 0


def test_grid_smaller_than_the_communicator():
    status, line = topo.cart_create((1,), (False,))
    assert status == 0
    if RANK == 0:
        assert mpi.size(line) == 1 and mpi.comm_free(line) == 0
    else:
        assert line == MPI.COMM_NULL


@pytest.mark.driver
@pytest.mark.parametrize("np_", [1, 2, 3, 4])
def test_heat2d_example(np_):
    """The field after the last step and the checkpoint the compiled loop wrote (every
    process its block, MPI-IO) both equal NumPy's serial result (the example exits with 1
    otherwise)."""
    args = ("--steps", "50", "--every", "20")
    done = mpiexec(np_, str(ROOT / "examples" / "heat2d.py"), *args, timeout=300, python=sys.executable)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "max error" in done.stdout and "checkpoint of step 40 vs NumPy 0.000e+00" in done.stdout, done.stdout
