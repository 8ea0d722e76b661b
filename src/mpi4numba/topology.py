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

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload, register_jitable

from . import _capi
from ._api import api
from ._ccall import _guard, predefined
from ._commtype import comm_handle, new_comm
from ._runtime import ABI
from ._validate import integer
from .groups import c_int_array, int_sequence

CART = ABI.CONSTANTS["CART"]
GRAPH = ABI.CONSTANTS["GRAPH"]
DIST_GRAPH = ABI.CONSTANTS["DIST_GRAPH"]
PROC_NULL = ABI.PROC_NULL
_ERR_DIMS = ABI.ERROR_CLASSES["ERR_DIMS"]
_ERR_RANK = ABI.ERROR_CLASSES["ERR_RANK"]
_ERR_TOPOLOGY = ABI.ERROR_CLASSES["ERR_TOPOLOGY"]

__all__ = ["dims_create", "cart_create", "cartdim_get", "cart_get", "cart_coords", "cart_rank", "cart_shift",
           "cart_sub", "topo_test", "graph_create", "graph_neighbors", "dist_graph_create_adjacent",
           "dist_graph_neighbors_count", "dist_graph_neighbors", "CART", "GRAPH", "DIST_GRAPH"]


def _comm(comm: types.Type, where: str) -> None:
    """Topology queries need an actual communicator: COMM_WORLD has no topology."""
    from ._commtype import CommType

    if not isinstance(comm, (CommType, types.Integer)):
        raise TypingError(f"mpi4numba.{where}: comm must be a communicator with a topology, got {comm}")


@intrinsic(prefer_literal=True)
def _weights_constant(typingctx, name):
    """``MPI_UNWEIGHTED`` / ``MPI_WEIGHTS_EMPTY`` of the running ABI, as an address (uintp).

    MPICH keeps them in global variables of libmpi (loaded by symbol name, so cached code
    stays valid); Open MPI defines them as small constant pointers.
    """
    if not isinstance(name, types.StringLiteral):
        raise TypingError("_weights_constant() needs a literal name")
    spec = getattr(ABI, name.literal_value)

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        if isinstance(spec, int):
            return ir.Constant(i64, spec)
        _guard(context)
        voidptr = ir.IntType(8).as_pointer()
        variable = builder.module.globals.get(spec)
        if variable is None:
            variable = ir.GlobalVariable(builder.module, voidptr, spec)
        return builder.ptrtoint(builder.load(variable), i64)

    return types.uintp(name), codegen


@intrinsic
def _keep_alive(typingctx, first, second):
    """A use of two arrays that Numba cannot drop: their memory outlives the call before it."""
    return types.none(first, second), lambda context, builder, sig, args: context.get_dummy_value()


def _weights_address(cweights, weights, degree):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_weights_address)
def _weights_address_impl(cweights, weights, degree):
    """The weights pointer for MPI: ``MPI_UNWEIGHTED`` when ``weights`` is None, else the
    data of ``cweights`` (their C-int copy), or ``MPI_WEIGHTS_EMPTY`` for no neighbours."""
    if isinstance(weights, (types.NoneType, types.Omitted)):
        return lambda cweights, weights, degree: _weights_constant("UNWEIGHTED")

    def given(cweights, weights, degree):
        if cweights.size != degree:
            raise ValueError("mpi4numba.dist_graph_create_adjacent: weights need one entry per neighbour")
        if cweights.size == 0:  # a process without neighbours still says the graph is weighted
            return _weights_constant("WEIGHTS_EMPTY")
        return cweights.ctypes.data

    return given


@api
def dims_create(nnodes, dims):
    """Fill the zero entries of the integer array ``dims`` with a balanced factorisation of
    ``nnodes`` (``MPI_Dims_create``), in place; returns the status.

    >>> import numpy as np, mpi4numba
    >>> dims = np.zeros(2, np.int32)
    >>> mpi4numba.dims_create(6, dims), sorted(dims)
    (0, [2, 3])
    """
    integer(nnodes, "dims_create", "nnodes")
    if not (isinstance(dims, types.Array) and dims.ndim == 1 and isinstance(dims.dtype, types.Integer)):
        raise TypingError(f"mpi4numba.dims_create: dims must be a 1-D integer array (filled in place), got {dims}")
    if not dims.mutable:
        raise TypingError("mpi4numba.dims_create: dims is read-only and cannot be filled")

    def impl(nnodes, dims):
        cdims = c_int_array(dims)
        code = _capi.MPI_Dims_create(nnodes, cdims.size, cdims)
        for i in range(dims.size):
            dims[i] = cdims[i]
        return code

    return impl


@api
def cart_create(dims, periods, reorder=False, comm=None):
    """``(status, cartcomm)``: a Cartesian grid of ``dims`` processes, periodic along the
    axes where ``periods`` is true (``MPI_Cart_create``). Collective over ``comm``.

    Processes beyond ``prod(dims)`` get ``COMM_NULL``; more than ``size(comm)`` is an error.

    >>> import numpy as np, mpi4numba
    >>> status, ring = mpi4numba.cart_create((mpi4numba.size(),), (True,))
    >>> status, mpi4numba.cart_shift(0, 1, ring)[0], mpi4numba.comm_free(ring)
    (0, 0, 0)
    """
    int_sequence(dims, "cart_create", "dims")
    int_sequence(periods, "cart_create", "periods")
    if not isinstance(reorder, (types.Boolean, types.Integer, types.Omitted)):
        raise TypingError(f"mpi4numba.cart_create: reorder must be a bool, got {reorder}")

    def impl(dims, periods, reorder=False, comm=None):
        cdims = c_int_array(dims)
        cperiods = c_int_array(periods)
        if cdims.size != cperiods.size:
            raise ValueError("mpi4numba.cart_create: dims and periods differ in length")
        code, handle = _capi.MPI_Cart_create(comm_handle(comm), cdims.size, cdims, cperiods, reorder)
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))

    return impl


@api
def cartdim_get(comm):
    """``(status, ndims)``: the number of dimensions of a Cartesian ``comm`` (``MPI_Cartdim_get``).

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((1, 1), (False, False), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.cartdim_get(grid), mpi4numba.comm_free(grid)
    ((0, 2), 0)
    """
    _comm(comm, "cartdim_get")
    return lambda comm: _capi.MPI_Cartdim_get(comm_handle(comm))


@api
def cart_get(comm):
    """``(status, dims, periods, coords)`` of a Cartesian ``comm`` (``MPI_Cart_get``): int32
    arrays, ``periods`` as bools.

    >>> import mpi4numba
    >>> status, grid = mpi4numba.cart_create((1,), (True,), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.cart_get(grid)[1:], mpi4numba.comm_free(grid)
    ((array([1], dtype=int32), array([ True]), array([0], dtype=int32)), 0)
    """
    _comm(comm, "cart_get")

    def impl(comm):
        handle = comm_handle(comm)
        code, ndims = _capi.MPI_Cartdim_get(handle)
        n = max(ndims, 0)
        dims = np.zeros(n, np.int32)
        periods = np.zeros(n, np.int32)
        coords = np.zeros(n, np.int32)
        if code == 0:
            code = _capi.MPI_Cart_get(handle, n, dims, periods, coords)
        return code, dims, periods != 0, coords

    return impl


@register_jitable
def _rank_check(handle, rank):
    """``ERR_RANK`` for a rank outside ``comm``: not every MPI checks (Open MPI does not)."""
    code, size = _capi.MPI_Comm_size(handle)
    if code == 0 and not 0 <= rank < size:
        return np.int32(_ERR_RANK)
    return code


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
    integer(rank, "cart_coords", "rank")
    _comm(comm, "cart_coords")
    if isinstance(coords, (types.NoneType, types.Omitted)):

        def fresh(rank, comm, coords=None):
            handle = comm_handle(comm)
            code, ndims = _capi.MPI_Cartdim_get(handle)
            result = np.zeros(max(ndims, 0), np.int32)
            if code == 0:
                code = _rank_check(handle, rank)
            if code == 0:
                code = _capi.MPI_Cart_coords(handle, rank, result.size, result)
            return code, result

        return fresh
    if not (isinstance(coords, types.Array) and coords.dtype == types.int32 and coords.ndim == 1
            and coords.layout == "C" and coords.mutable):
        raise TypingError(f"mpi4numba.cart_coords: coords must be a writable C-contiguous int32 array, got {coords}")

    def into(rank, comm, coords=None):
        handle = comm_handle(comm)
        code, ndims = _capi.MPI_Cartdim_get(handle)
        if code == 0 and coords.size < ndims:
            raise ValueError("mpi4numba.cart_coords: coords has fewer entries than the grid has dimensions")
        if code == 0:
            code = _rank_check(handle, rank)
        if code == 0:
            code = _capi.MPI_Cart_coords(handle, rank, coords.size, coords)
        return code, coords

    return into


@api
def cart_rank(coords, comm):
    """``(status, rank)``: the rank at grid coordinates ``coords`` of a Cartesian ``comm``
    (``MPI_Cart_rank``); periodic axes wrap around.

    >>> import mpi4numba
    >>> status, ring = mpi4numba.cart_create((mpi4numba.size(),), (True,))
    >>> mpi4numba.cart_rank((mpi4numba.size(),), ring), mpi4numba.comm_free(ring)
    ((0, 0), 0)
    """
    int_sequence(coords, "cart_rank", "coords")
    _comm(comm, "cart_rank")

    def impl(coords, comm):
        handle = comm_handle(comm)
        code, ndims = _capi.MPI_Cartdim_get(handle)
        ccoords = c_int_array(coords)
        if code == 0 and ccoords.size != ndims:
            raise ValueError("mpi4numba.cart_rank: coords needs one entry per grid dimension")
        return _capi.MPI_Cart_rank(handle, ccoords)

    return impl


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
    integer(direction, "cart_shift", "direction")
    integer(disp, "cart_shift", "disp")
    _comm(comm, "cart_shift")

    def impl(direction, disp, comm):
        handle = comm_handle(comm)
        # Checked here because not every MPI does (Open MPI reads past its arrays).
        code, ndims = _capi.MPI_Cartdim_get(handle)
        if code == 0 and not 0 <= direction < ndims:
            return np.int32(_ERR_DIMS), np.int32(PROC_NULL), np.int32(PROC_NULL)
        return _capi.MPI_Cart_shift(handle, direction, disp)

    return impl


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
    int_sequence(remain_dims, "cart_sub", "remain_dims")
    _comm(comm, "cart_sub")

    def impl(remain_dims, comm):
        handle = comm_handle(comm)
        code, ndims = _capi.MPI_Cartdim_get(handle)
        cremain = c_int_array(remain_dims)
        if code == 0 and cremain.size != ndims:
            raise ValueError("mpi4numba.cart_sub: remain_dims needs one entry per grid dimension")
        code, newhandle = _capi.MPI_Cart_sub(handle, cremain)
        return code, new_comm(newhandle if code == 0 else predefined("COMM_NULL"))

    return impl


@api
def topo_test(comm=None):
    """``(status, kind)``: the topology of ``comm``: ``CART``, ``GRAPH``, ``DIST_GRAPH`` or
    ``UNDEFINED`` (``MPI_Topo_test``).

    >>> import mpi4numba
    >>> mpi4numba.topo_test() == (0, mpi4numba.UNDEFINED)
    True
    """
    return lambda comm=None: _capi.MPI_Topo_test(comm_handle(comm))


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
    int_sequence(index, "graph_create", "index")
    int_sequence(edges, "graph_create", "edges")

    def impl(index, edges, reorder=False, comm=None):
        cindex = c_int_array(index)
        cedges = c_int_array(edges)
        code, handle = _capi.MPI_Graph_create(comm_handle(comm), cindex.size, cindex, cedges, reorder)
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))

    return impl


@api
def graph_neighbors(rank, comm):
    """``(status, neighbors)``: the neighbours of ``rank`` in a graph ``comm``
    (``MPI_Graph_neighbors``), as an int32 array.

    >>> import mpi4numba
    >>> status, graph = mpi4numba.graph_create((0,), (), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.graph_neighbors(0, graph)[1].size, mpi4numba.comm_free(graph)
    (0, 0)
    """
    integer(rank, "graph_neighbors", "rank")
    _comm(comm, "graph_neighbors")

    def impl(rank, comm):
        handle = comm_handle(comm)
        code, count = _capi.MPI_Graph_neighbors_count(handle, rank)
        result = np.zeros(max(count, 0), np.int32)
        if code == 0:
            code = _capi.MPI_Graph_neighbors(handle, rank, result.size, result)
        return code, result

    return impl


@api
def dist_graph_create_adjacent(sources, destinations, source_weights=None, dest_weights=None, reorder=False,
                               comm=None):
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
    int_sequence(sources, "dist_graph_create_adjacent", "sources")
    int_sequence(destinations, "dist_graph_create_adjacent", "destinations")
    for value, what in ((source_weights, "source_weights"), (dest_weights, "dest_weights")):
        if not isinstance(value, (types.NoneType, types.Omitted)):
            int_sequence(value, "dist_graph_create_adjacent", what)
    if isinstance(source_weights, (types.NoneType, types.Omitted)) != isinstance(
        dest_weights, (types.NoneType, types.Omitted)
    ):
        raise TypingError("mpi4numba.dist_graph_create_adjacent: give both source_weights and dest_weights, or neither")

    def impl(sources, destinations, source_weights=None, dest_weights=None, reorder=False, comm=None):
        csources = c_int_array(sources)
        cdestinations = c_int_array(destinations)
        sweights = c_int_array(source_weights)
        dweights = c_int_array(dest_weights)
        s_address = _weights_address(sweights, source_weights, csources.size)
        d_address = _weights_address(dweights, dest_weights, cdestinations.size)
        code, handle = _capi.MPI_Dist_graph_create_adjacent(
            comm_handle(comm), csources.size, csources, s_address, cdestinations.size, cdestinations, d_address,
            predefined("INFO_NULL"), reorder,
        )
        _keep_alive(sweights, dweights)  # MPI read them through bare addresses
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))

    return impl


@api
def dist_graph_neighbors_count(comm):
    """``(status, indegree, outdegree, weighted)`` of a distributed graph ``comm``
    (``MPI_Dist_graph_neighbors_count``).

    >>> import mpi4numba
    >>> status, alone = mpi4numba.dist_graph_create_adjacent((), (), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.dist_graph_neighbors_count(alone), mpi4numba.comm_free(alone)
    ((0, 0, 0, 0), 0)
    """
    _comm(comm, "dist_graph_neighbors_count")
    return lambda comm: _capi.MPI_Dist_graph_neighbors_count(comm_handle(comm))


@api
def dist_graph_neighbors(comm):
    """``(status, sources, destinations)`` of a distributed graph ``comm``, as int32 arrays
    (``MPI_Dist_graph_neighbors``).

    >>> import mpi4numba
    >>> status, me = mpi4numba.dist_graph_create_adjacent((0,), (0,), comm=mpi4numba.COMM_SELF)
    >>> mpi4numba.dist_graph_neighbors(me)[1:], mpi4numba.comm_free(me)
    ((array([0], dtype=int32), array([0], dtype=int32)), 0)
    """
    _comm(comm, "dist_graph_neighbors")

    def impl(comm):
        handle = comm_handle(comm)
        code, indegree, outdegree, weighted = _capi.MPI_Dist_graph_neighbors_count(handle)
        sources = np.zeros(max(indegree, 0), np.int32)
        destinations = np.zeros(max(outdegree, 0), np.int32)
        source_weights = np.zeros(max(indegree, 1), np.int32)  # never an empty buffer for MPI to fill
        dest_weights = np.zeros(max(outdegree, 1), np.int32)
        if code == 0:
            code = _capi.MPI_Dist_graph_neighbors(handle, sources.size, sources, source_weights, destinations.size,
                                                  destinations, dest_weights)
        return code, sources, destinations

    return impl


@register_jitable
def neighbor_counts(handle):
    """``(status, indegree, outdegree)`` of a communicator with a topology; ``ERR_TOPOLOGY``
    without one (checked here: Open MPI's collectives fail on it with ``ERR_INTERN``).
    Allocates nothing."""
    code, kind = _capi.MPI_Topo_test(handle)
    indegree = outdegree = 0
    if code == 0 and kind == CART:
        code, ndims = _capi.MPI_Cartdim_get(handle)
        indegree = outdegree = 2 * ndims
    elif code == 0 and kind == DIST_GRAPH:
        code, indegree, outdegree, weighted = _capi.MPI_Dist_graph_neighbors_count(handle)
    elif code == 0 and kind == GRAPH:
        code, rank = _capi.MPI_Comm_rank(handle)
        if code == 0:
            code, indegree = _capi.MPI_Graph_neighbors_count(handle, rank)
        outdegree = indegree
    elif code == 0:
        code = np.int32(_ERR_TOPOLOGY)
    return code, indegree, outdegree
