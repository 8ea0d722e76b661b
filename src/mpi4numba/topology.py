"""Process topologies: Cartesian grids, graphs and distributed graphs.

A topology is attached to a new communicator (from :func:`cart_create`, :func:`cart_sub`,
:func:`graph_create` or :func:`dist_graph_create_adjacent`), usable everywhere a
communicator is accepted and freed with :func:`~mpi4numba.comm_free`; processes left out
of the topology get ``COMM_NULL``. Queries (``cart_shift``, ``cart_rank`` ...) take that
communicator; on one without the right topology they return MPI's error code.

Integer arguments (``dims``, ``periods``, ``coords``, ranks, weights) are 1-D integer (or
bool) arrays or tuples of integers. ``cart_rank`` and ``cart_shift`` do not allocate, so
they are cheap inside time loops; queries that return arrays give ``int32`` arrays.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from ._core import capi
from ._core.cachetag import guard_cache
from ._core.runtime import ABI
from ._support.api import api, lowers
from ._support.emit_handles import NEW_COMMUNICATOR
from ._support.validate import int_sequence, integer, topology_communicator

CART = ABI.CONSTANTS["CART"]
GRAPH = ABI.CONSTANTS["GRAPH"]
DIST_GRAPH = ABI.CONSTANTS["DIST_GRAPH"]
PROC_NULL = ABI.PROC_NULL
_ERR_DIMS = ABI.ERROR_CLASSES["ERR_DIMS"]
_ERR_RANK = ABI.ERROR_CLASSES["ERR_RANK"]
_ERR_TOPOLOGY = ABI.ERROR_CLASSES["ERR_TOPOLOGY"]

__all__ = [
    "dims_create",
    "cart_create",
    "cartdim_get",
    "cart_get",
    "cart_coords",
    "cart_rank",
    "cart_shift",
    "cart_sub",
    "topo_test",
    "graph_create",
    "graph_neighbors",
    "dist_graph_create_adjacent",
    "dist_graph_neighbors_count",
    "dist_graph_neighbors",
    "CART",
    "GRAPH",
    "DIST_GRAPH",
]

_INT32_ARRAY = types.Array(types.int32, 1, "C")
_CODE_INT = types.UniTuple(types.int32, 2)


@intrinsic(prefer_literal=True)
def _weights_constant(typingctx, name):
    """``MPI_UNWEIGHTED`` / ``MPI_WEIGHTS_EMPTY`` of the running ABI, as an address (uintp).

    MPICH keeps them in global variables of libmpi (loaded by symbol name, so cached code
    stays valid); Open MPI and the standard ABI define them as small constant pointers.
    """
    if not isinstance(name, types.StringLiteral):
        raise TypingError("_weights_constant() needs a literal name")
    spec = getattr(ABI, name.literal_value)

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        if isinstance(spec, int):
            return ir.Constant(i64, spec)
        guard_cache(context, builder)
        voidptr = ir.IntType(8).as_pointer()
        variable = builder.module.globals.get(spec)
        if variable is None:
            variable = ir.GlobalVariable(builder.module, voidptr, spec)
        return builder.ptrtoint(builder.load(variable), i64)

    return types.uintp(name), codegen


def _entries(e, code, count):
    """A new int32 array of ``count`` entries that MPI fills; empty if ``code`` is an error
    (MPI may leave ``count`` unset)."""
    return e.zeros(e.select(code.eq(0), count, 0))


def _rank_check(e, handle, rank):
    """``ERR_RANK`` for a rank outside the communicator: not every MPI checks (Open MPI does not)."""
    code, size = e.unpack(e(capi.MPI_Comm_size, handle))
    outside = code.eq(0).and_(rank.lt(0).or_(rank.ge(size)))
    return e.select(outside, e.const(_ERR_RANK, types.int32), code)


def _per_axis(e, handle, values, message: str):
    """``values`` as C ints, one per axis of the Cartesian ``handle`` (else ``ValueError(message)``,
    unless ``handle`` is not a Cartesian communicator: MPI's call then fails)."""
    code, ndims = e.unpack(e(capi.MPI_Cartdim_get, handle))
    cvalues = e.c_ints(values)
    e.check(code.ne(0).or_(e.size(cvalues).eq(ndims)), ValueError, message)
    return cvalues


def _weights(e, weights, degree):
    """The weights pointer for MPI: ``MPI_UNWEIGHTED`` when ``weights`` is None, else their
    C ints, or ``MPI_WEIGHTS_EMPTY`` for no neighbours (still a weighted graph)."""
    if weights.type == types.none:
        return e(_weights_constant, "UNWEIGHTED")
    cweights = e.c_ints(weights)
    e.check(e.size(cweights).eq(degree), ValueError, "mpi4numba: weights need one entry per neighbour")
    return e.select(e.size(cweights).eq(0), e(_weights_constant, "WEIGHTS_EMPTY"), e.data(cweights))


@api
def dims_create(nnodes, dims):
    """Fill the zero entries of the integer array ``dims`` with a balanced factorisation of
    ``nnodes`` (``MPI_Dims_create``), in place; returns the status.

    >>> import numpy as np, mpi4numba
    >>> dims = np.zeros(2, np.int32)
    >>> mpi4numba.dims_create(6, dims), sorted(dims.tolist())
    (0, [2, 3])
    """
    integer(nnodes, "nnodes")
    if not (isinstance(dims, types.Array) and dims.ndim == 1 and isinstance(dims.dtype, types.Integer)):
        raise TypingError(f"mpi4numba: dims must be a 1-D integer array (filled in place), got {dims}")
    if not dims.mutable:
        raise TypingError("mpi4numba: dims is read-only and cannot be filled")
    return types.int32


@lowers(dims_create)
def _dims_create(e, nnodes, dims):
    cdims = e.c_ints(dims)
    code = e(capi.MPI_Dims_create, nnodes, e.size(cdims), cdims)
    if cdims is not dims:  # converted: the factorisation goes back into dims
        with e.loop(e.size(cdims)) as i:
            dims.setitem(i, cdims.getitem(i))
    return code


@api
def cart_create(dims, periods, reorder=False, comm=None):
    """``(status, cartcomm)``: a Cartesian grid of ``dims`` processes, periodic along the
    axes where ``periods`` is true (``MPI_Cart_create``). Collective over ``comm``.

    Processes beyond ``prod(dims)`` get ``COMM_NULL``; more than ``size(comm)`` is an error,
    and so is a negative entry in ``dims`` (``ERR_DIMS``).

    >>> import numpy as np, mpi4numba
    >>> status, ring = mpi4numba.cart_create((mpi4numba.size(),), (True,))
    >>> status, mpi4numba.cart_shift(0, 1, ring)[0], mpi4numba.comm_free(ring)
    (0, 0, 0)
    """
    int_sequence(dims, "dims")
    int_sequence(periods, "periods")
    if not isinstance(reorder, (types.Boolean, types.Integer)):
        raise TypingError(f"mpi4numba: reorder must be a bool, got {reorder}")
    return NEW_COMMUNICATOR


@lowers(cart_create)
def _cart_create(e, dims, periods, reorder, comm):
    cdims, cperiods = e.c_ints(dims), e.c_ints(periods)
    e.check(e.size(cdims).eq(e.size(cperiods)), ValueError, "mpi4numba: dims and periods differ in length")
    # Checked here because not every MPI does (MPICH makes a grid of -1 x -1 processes).
    negative = e.variable(False)
    with e.loop(e.size(cdims)) as i, e.when(cdims.getitem(i).lt(0)):
        negative.set(True)
    result = e.variable(e.tuple(e.const(_ERR_DIMS, types.int32), e.handle("COMM_NULL")))
    with e.when(e.not_(negative.get())):
        result.set(e(capi.MPI_Cart_create, e.comm(comm), e.size(cdims), cdims, cperiods, reorder))
    return e.new_communicator(*e.unpack(result.get()))


@api
def cartdim_get(comm):
    """``(status, ndims)``: the number of dimensions of a Cartesian ``comm`` (``MPI_Cartdim_get``).

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((1, 1), (False, False), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.cartdim_get(grid), mpi4numba.comm_free(grid)
    ((0, 2), 0)
    """
    topology_communicator(comm)
    return _CODE_INT


@lowers(cartdim_get)
def _cartdim_get(e, comm):
    return e(capi.MPI_Cartdim_get, e.comm(comm))


@api
def cart_get(comm):
    """``(status, dims, periods, coords)`` of a Cartesian ``comm`` (``MPI_Cart_get``): int32
    arrays, ``periods`` as bools.

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((1,), (True,), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.cart_get(grid)[1:], mpi4numba.comm_free(grid)
    ((array([1], dtype=int32), array([ True]), array([0], dtype=int32)), 0)
    """
    topology_communicator(comm)
    return types.Tuple((types.int32, _INT32_ARRAY, types.Array(types.boolean, 1, "C"), _INT32_ARRAY))


@lowers(cart_get)
def _cart_get(e, comm):
    handle = e.comm(comm)
    code, ndims = e.unpack(e(capi.MPI_Cartdim_get, handle))
    dims, coords = _entries(e, code, ndims), _entries(e, code, ndims)
    cperiods, periods = e.int32_scratch(e.size(dims)), e.zeros(e.size(dims), "boolean")
    code = e.if_success(code, lambda: e(capi.MPI_Cart_get, handle, e.size(dims), dims, cperiods, coords))
    with e.when(code.eq(0)), e.loop(e.size(periods)) as i:
        periods.setitem(i, cperiods.getitem(i).ne(0))
    return e.tuple(code, dims, periods, coords)


@api
def cart_coords(rank, comm, coords=None):
    """``(status, coords)``: the grid coordinates of ``rank`` in a Cartesian ``comm``
    (``MPI_Cart_coords``), in a new int32 array or in ``coords`` (int32, one per dimension)
    when given, which does not allocate.

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((1, 1), (False, False), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.cart_coords(0, grid), mpi4numba.comm_free(grid)
    ((0, array([0, 0], dtype=int32)), 0)
    """
    integer(rank, "rank")
    topology_communicator(comm)
    if coords != types.none and not (
        isinstance(coords, types.Array)
        and coords.dtype == types.int32
        and coords.ndim == 1
        and coords.layout == "C"
        and coords.mutable
    ):
        raise TypingError(f"mpi4numba: coords must be a writable C-contiguous int32 array, got {coords}")
    return types.Tuple((types.int32, _INT32_ARRAY if coords == types.none else coords))


@lowers(cart_coords)
def _cart_coords(e, rank, comm, coords):
    handle = e.comm(comm)
    code, ndims = e.unpack(e(capi.MPI_Cartdim_get, handle))
    if coords.type == types.none:  # a new array
        coords = _entries(e, code, ndims)
    else:
        e.check(
            code.ne(0).or_(e.size(coords).ge(ndims)),
            ValueError,
            "mpi4numba: coords has fewer entries than the grid has dimensions",
        )
    code = e.if_success(code, lambda: _rank_check(e, handle, rank))
    code = e.if_success(code, lambda: e(capi.MPI_Cart_coords, handle, rank, e.size(coords), coords))
    return e.tuple(code, coords)


@api
def cart_rank(coords, comm):
    """``(status, rank)``: the rank at grid coordinates ``coords`` of a Cartesian ``comm``
    (``MPI_Cart_rank``); periodic axes wrap around.

    >>> import mpi4numba
    >>> status, ring = mpi4numba.cart_create((mpi4numba.size(),), (True,))
    >>> mpi4numba.cart_rank((mpi4numba.size(),), ring), mpi4numba.comm_free(ring)
    ((0, 0), 0)
    """
    int_sequence(coords, "coords")
    topology_communicator(comm)
    return _CODE_INT


@lowers(cart_rank)
def _cart_rank(e, coords, comm):
    handle = e.comm(comm)
    ccoords = _per_axis(e, handle, coords, "mpi4numba: coords needs one entry per grid dimension")
    return e(capi.MPI_Cart_rank, handle, ccoords)


@api
def cart_shift(direction, disp, comm):
    """``(status, source, dest)``: the ranks ``disp`` steps behind and ahead along axis
    ``direction`` of a Cartesian ``comm`` (``MPI_Cart_shift``); ``PROC_NULL`` past the edge
    of a non-periodic axis, so they can go straight to ``sendrecv``. A direction that is
    not an axis gives ``ERR_DIMS``.

    >>> import mpi4numba
    >>> status, line = mpi4numba.cart_create((mpi4numba.size(),), (False,))
    >>> status, source, dest = mpi4numba.cart_shift(0, 1, line)
    >>> status, source == (mpi4numba.rank() - 1 if mpi4numba.rank() > 0 else mpi4numba.PROC_NULL)
    (0, True)
    >>> mpi4numba.comm_free(line)
    0
    """
    integer(direction, "direction")
    integer(disp, "disp")
    topology_communicator(comm)
    return types.UniTuple(types.int32, 3)


@lowers(cart_shift)
def _cart_shift(e, direction, disp, comm):
    handle = e.comm(comm)
    # Checked here because not every MPI does (Open MPI reads past its arrays).
    code, ndims = e.unpack(e(capi.MPI_Cartdim_get, handle))
    not_an_axis = code.eq(0).and_(direction.lt(0).or_(direction.ge(ndims)))
    null = e.const(PROC_NULL, types.int32)
    result = e.variable(e.tuple(e.const(_ERR_DIMS, types.int32), null, null))
    with e.when(e.not_(not_an_axis)):
        result.set(e(capi.MPI_Cart_shift, handle, direction, disp))
    return result.get()


@api
def cart_sub(remain_dims, comm):
    """``(status, subcomm)``: the sub-grid through this process that keeps the axes where
    ``remain_dims`` is true (``MPI_Cart_sub``), e.g. the row or column of a 2-D grid.

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((mpi4numba.size(), 1), (False, False))
    >>> status, row = mpi4numba.cart_sub((False, True), grid)
    >>> status, mpi4numba.size(row), mpi4numba.comm_free(row), mpi4numba.comm_free(grid)
    (0, 1, 0, 0)
    """
    int_sequence(remain_dims, "remain_dims")
    topology_communicator(comm)
    return NEW_COMMUNICATOR


@lowers(cart_sub)
def _cart_sub(e, remain_dims, comm):
    handle = e.comm(comm)
    cremain = _per_axis(e, handle, remain_dims, "mpi4numba: remain_dims needs one entry per grid dimension")
    return e.new_communicator(*e.unpack(e(capi.MPI_Cart_sub, handle, cremain)))


@api
def topo_test(comm=None):
    """``(status, kind)``: the topology of ``comm``: ``CART``, ``GRAPH``, ``DIST_GRAPH`` or
    ``UNDEFINED`` (``MPI_Topo_test``).

    >>> import mpi4numba
    >>> mpi4numba.topo_test() == (0, mpi4numba.UNDEFINED)
    True
    """
    return _CODE_INT


@lowers(topo_test)
def _topo_test(e, comm):
    return e(capi.MPI_Topo_test, e.comm(comm))


@api
def graph_create(index, edges, reorder=False, comm=None):
    """``(status, graphcomm)``: a graph topology over the first ``len(index)`` processes
    (``MPI_Graph_create``): node i's neighbours are ``edges[index[i-1]:index[i]]``.
    Collective over ``comm``, every process passing the whole graph.

    >>> import mpi4numba
    >>> status, graph = mpi4numba.graph_create((1,), (0,), comm=mpi4numba.COMM_SELF)
    >>> status, mpi4numba.graph_neighbors(0, graph)[1], mpi4numba.comm_free(graph)
    (0, array([0], dtype=int32), 0)
    """
    int_sequence(index, "index")
    int_sequence(edges, "edges")
    return NEW_COMMUNICATOR


@lowers(graph_create)
def _graph_create(e, index, edges, reorder, comm):
    cindex, cedges = e.c_ints(index), e.c_ints(edges)
    made = e(capi.MPI_Graph_create, e.comm(comm), e.size(cindex), cindex, cedges, reorder)
    return e.new_communicator(*e.unpack(made))


@api
def graph_neighbors(rank, comm):
    """``(status, neighbors)``: the neighbours of ``rank`` in a graph ``comm``
    (``MPI_Graph_neighbors``), as an int32 array.

    >>> import mpi4numba
    >>> status, graph = mpi4numba.graph_create((0,), (), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.graph_neighbors(0, graph)[1].size, mpi4numba.comm_free(graph)
    (0, 0)
    """
    integer(rank, "rank")
    topology_communicator(comm)
    return types.Tuple((types.int32, _INT32_ARRAY))


@lowers(graph_neighbors)
def _graph_neighbors(e, rank, comm):
    handle = e.comm(comm)
    code, count = e.unpack(e(capi.MPI_Graph_neighbors_count, handle, rank))
    neighbors = _entries(e, code, count)
    code = e.if_success(code, lambda: e(capi.MPI_Graph_neighbors, handle, rank, e.size(neighbors), neighbors))
    return e.tuple(code, neighbors)


@api
def dist_graph_create_adjacent(sources, destinations, source_weights=None, dest_weights=None, reorder=False, comm=None):
    """``(status, graphcomm)``: a distributed graph where this process receives from
    ``sources`` and sends to ``destinations`` (``MPI_Dist_graph_create_adjacent``); the
    neighbour collectives then follow the order given here. Weights are optional (None:
    ``MPI_UNWEIGHTED``; all processes give them or none do). Collective over ``comm``.

    >>> import mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.dist_graph_create_adjacent(((rank - 1) % size,), ((rank + 1) % size,))
    >>> status, mpi4numba.dist_graph_neighbors_count(ring)[1:3], mpi4numba.comm_free(ring)
    (0, (1, 1), 0)
    """
    int_sequence(sources, "sources")
    int_sequence(destinations, "destinations")
    for value, what in ((source_weights, "source_weights"), (dest_weights, "dest_weights")):
        if value != types.none:
            int_sequence(value, what)
    if (source_weights == types.none) != (dest_weights == types.none):
        raise TypingError("mpi4numba: give both source_weights and dest_weights, or neither")
    return NEW_COMMUNICATOR


@lowers(dist_graph_create_adjacent)
def _dist_graph_create_adjacent(e, sources, destinations, source_weights, dest_weights, reorder, comm):
    csources, cdestinations = e.c_ints(sources), e.c_ints(destinations)
    source_address = _weights(e, source_weights, e.size(csources))
    dest_address = _weights(e, dest_weights, e.size(cdestinations))
    made = e(
        capi.MPI_Dist_graph_create_adjacent,
        e.comm(comm),
        e.size(csources),
        csources,
        source_address,
        e.size(cdestinations),
        cdestinations,
        dest_address,
        e.handle("INFO_NULL"),
        reorder,
    )
    return e.new_communicator(*e.unpack(made))


@api
def dist_graph_neighbors_count(comm):
    """``(status, indegree, outdegree, weighted)`` of a distributed graph ``comm``
    (``MPI_Dist_graph_neighbors_count``).

    >>> import mpi4numba
    >>> status, alone = mpi4numba.dist_graph_create_adjacent((), (), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.dist_graph_neighbors_count(alone), mpi4numba.comm_free(alone)
    ((0, 0, 0, 0), 0)
    """
    topology_communicator(comm)
    return types.UniTuple(types.int32, 4)


@lowers(dist_graph_neighbors_count)
def _dist_graph_neighbors_count(e, comm):
    return e(capi.MPI_Dist_graph_neighbors_count, e.comm(comm))


@api
def dist_graph_neighbors(comm):
    """``(status, sources, destinations)`` of a distributed graph ``comm``, as int32 arrays
    (``MPI_Dist_graph_neighbors``).

    >>> import mpi4numba
    >>> status, me = mpi4numba.dist_graph_create_adjacent((0,), (0,), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.dist_graph_neighbors(me)[1:], mpi4numba.comm_free(me)
    ((array([0], dtype=int32), array([0], dtype=int32)), 0)
    """
    topology_communicator(comm)
    return types.Tuple((types.int32, _INT32_ARRAY, _INT32_ARRAY))


@lowers(dist_graph_neighbors)
def _dist_graph_neighbors(e, comm):
    handle = e.comm(comm)
    code, indegree, outdegree, _ = e.unpack(e(capi.MPI_Dist_graph_neighbors_count, handle))
    sources, destinations = _entries(e, code, indegree), _entries(e, code, outdegree)
    # for the weights of a weighted graph, which are not returned
    source_weights, dest_weights = e.int32_scratch(e.size(sources)), e.int32_scratch(e.size(destinations))
    code = e.if_success(
        code,
        lambda: e(
            capi.MPI_Dist_graph_neighbors,
            handle,
            e.size(sources),
            sources,
            source_weights,
            e.size(destinations),
            destinations,
            dest_weights,
        ),
    )
    return e.tuple(code, sources, destinations)
