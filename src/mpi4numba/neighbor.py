"""Neighbourhood collectives: exchange data with the neighbours of a topology only.

``comm`` is a communicator with a topology (see :mod:`mpi4numba.topology`); on one
without, the status is ``ERR_TOPOLOGY`` (and ``ERR_COMM`` on a freed one). Neighbours
are, for a Cartesian grid, for each axis d in turn the process one step behind then one step ahead (``PROC_NULL`` past a
non-periodic edge: its block is left untouched); for a distributed graph, the
``sources`` (receive side) and ``destinations`` (send side) in the order they were given.
Arguments follow :mod:`mpi4numba.collectives` with neighbours in place of ranks: counts
and displacements are in elements, one entry per neighbour, displacements may be None
for packed blocks. A buffer too short for its blocks raises ``ValueError`` before the call.
Buffers that are not C-contiguous are copied into mpi4numba's per-process scratch (see
:mod:`mpi4numba.datatypes`); nothing is allocated per call, apart from the C ints of
counts that are not ``int32`` arrays and of packed displacements beyond 16 neighbours.

The non-blocking forms (``ineighbor_*``) return ``(status, request)`` and follow
:mod:`mpi4numba.nonblocking`: MPI works on the buffers after the call returns, so they
must be C-contiguous (else ``ValueError``), and the request keeps them alive; their
persistent forms (``neighbor_*_init``, MPI-4.0) too, set up once and started many times.
"""

from __future__ import annotations

from numba.core import types

from ._core import capi
from ._core.runtime import ABI
from ._support.api import api, lowers, persistent_form
from ._support.emit_requests import STARTED
from ._support.validate import (
    array,
    c_ordered,
    counts_and_displacements,
    integer,
    same_dtype,
    topology_communicator,
)

__all__ = [
    "neighbor_allgather",
    "neighbor_alltoall",
    "neighbor_allgatherv",
    "neighbor_alltoallv",
    "ineighbor_allgather",
    "ineighbor_alltoall",
    "ineighbor_allgatherv",
    "ineighbor_alltoallv",
    "neighbor_allgather_init",
    "neighbor_alltoall_init",
    "neighbor_allgatherv_init",
    "neighbor_alltoallv_init",
]

_CART, _GRAPH, _DIST_GRAPH = (ABI.CONSTANTS[kind] for kind in ("CART", "GRAPH", "DIST_GRAPH"))
_ERR_TOPOLOGY = ABI.ERROR_CLASSES["ERR_TOPOLOGY"]


def _check(send_data, recv_data, comm) -> None:
    array(send_data, "send_data")
    array(recv_data, "recv_data", writable=True)
    same_dtype(send_data, recv_data)
    topology_communicator(comm, handle_ok=False)


def _neighbor_counts(e, handle):
    """``(status, indegree, outdegree)`` of a communicator with a topology; ``ERR_TOPOLOGY``
    without one (checked here: Open MPI's collectives fail on it with ``ERR_INTERN``)."""
    code, kind = e.unpack(e(capi.MPI_Topo_test, handle))
    status, indegree, outdegree = e.variable(code), e.variable(e.const(0)), e.variable(e.const(0))

    def found(code, inward, outward):
        status.set(code)
        indegree.set(inward)
        outdegree.set(outward)

    with e.when(code.eq(0).and_(kind.eq(_CART))):
        found_code, ndims = e.unpack(e(capi.MPI_Cartdim_get, handle))
        found(found_code, ndims.mul(2), ndims.mul(2))
    with e.when(code.eq(0).and_(kind.eq(_DIST_GRAPH))):
        found_code, sources, destinations, _ = e.unpack(e(capi.MPI_Dist_graph_neighbors_count, handle))
        found(found_code, sources, destinations)
    with e.when(code.eq(0).and_(kind.eq(_GRAPH))):
        found_code, rank = e.unpack(e(capi.MPI_Comm_rank, handle))
        status.set(found_code)
        with e.when(found_code.eq(0)):
            found_code, neighbors = e.unpack(e(capi.MPI_Graph_neighbors_count, handle, rank))
            found(found_code, neighbors, neighbors)
    with e.when(code.eq(0).and_(kind.ne(_CART)).and_(kind.ne(_DIST_GRAPH)).and_(kind.ne(_GRAPH))):
        status.set(_ERR_TOPOLOGY)
    return status.get(), indegree.get(), outdegree.get()


def _fixed(e, c_function, send_data, recv_data, count, comm, send_blocks: str):
    """The status of neighbor_allgather (``send_blocks`` "count") or neighbor_alltoall
    ("count * outdegree"): ``count`` elements from or to each neighbour, the buffers
    C-ordered and checked long enough, on a communicator with a topology."""
    handle = e.comm(comm)
    code, indegree, outdegree = _neighbor_counts(e, handle)
    with e.if_succeeded(code) as call:
        needed = count if send_blocks == "count" else count.mul(outdegree)
        e.check(e.size(send_data).ge(needed), ValueError, f"mpi4numba: send_data has fewer than {send_blocks} elements")
        e.check(
            e.size(recv_data).ge(count.mul(indegree)),
            ValueError,
            "mpi4numba: recv_data has fewer than count * indegree elements",
        )
        source, target = e.c_ordered(send_data), e.c_ordered(recv_data)
        datatype, per_element = e.element_type(send_data)
        n = count.mul(per_element)
        call.code = e(c_function, source.address, n, datatype, target.address, n, datatype, handle)
        e.from_c_order(send_data, source)
        e.from_c_order(recv_data, target, count.mul(indegree))
    return call.result


def _blocks(e, counts, displacements, neighbours, capacity, message: str):
    """Counts and displacements (None: packed) as C ints, checked: ``neighbours`` blocks
    that lie inside ``capacity`` elements (else ``ValueError(message)``)."""
    too_few = "mpi4numba: counts and displacements need one entry per neighbour"
    return e.blocks(counts, displacements, neighbours, capacity, message, too_few=too_few)


@api
def neighbor_allgather(send_data, recv_data, count, comm):
    """Send the first ``count`` elements of ``send_data`` to every out-neighbour and receive
    ``count`` elements from in-neighbour i into block i of ``recv_data``
    (``MPI_Neighbor_allgather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> mpi4numba.neighbor_allgather(np.array([1.0 * rank]), got, 1, ring)
    0
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size]
    True
    >>> mpi4numba.comm_free(ring)
    0
    """
    integer(count, "count")
    _check(send_data, recv_data, comm)
    return types.int32


@lowers(neighbor_allgather)
def _neighbor_allgather(e, send_data, recv_data, count, comm):
    return _fixed(e, capi.MPI_Neighbor_allgather, send_data, recv_data, count, comm, "count")


@api
def neighbor_alltoall(send_data, recv_data, count, comm):
    """Send block i (``count`` elements) of ``send_data`` to out-neighbour i and receive
    block i of ``recv_data`` from in-neighbour i (``MPI_Neighbor_alltoall``); returns the status.

    On a Cartesian communicator the neighbours are, axis by axis, the one behind and the
    one ahead (:func:`~mpi4numba.topology.cart_shift` by 1), ``PROC_NULL`` past the end of
    a non-periodic axis: nothing is sent there and that block of ``recv_data`` is left as
    it is. (Where a periodic axis has length 1 or 2, the process behind is also the one
    ahead: Open MPI and MPICH >= 5.0 pair the blocks as MPI 4.0 says, as for two processes;
    Intel MPI 2021 the other way round; MPICH 4.x posts the receives of the whole list in
    reverse order, which is MPI 4.0's pairing along one axis but neither rule where a
    process is a neighbour along several axes, e.g. on a 1 x 1 torus, or twice on a graph.)

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, line = mpi4numba.cart_create((size,), (False,))
    >>> status, left, right = mpi4numba.cart_shift(0, 1, line)
    >>> got = np.zeros(2)
    >>> mpi4numba.neighbor_alltoall(np.array([100.0 + rank, 200.0 + rank]), got, 1, line)  # 1xx left, 2xx right
    0
    >>> null = mpi4numba.PROC_NULL
    >>> got.tolist() == [0.0 if left == null else 200.0 + left, 0.0 if right == null else 100.0 + right]
    True
    >>> mpi4numba.comm_free(line)
    0
    """
    integer(count, "count")
    _check(send_data, recv_data, comm)
    return types.int32


@lowers(neighbor_alltoall)
def _neighbor_alltoall(e, send_data, recv_data, count, comm):
    return _fixed(e, capi.MPI_Neighbor_alltoall, send_data, recv_data, count, comm, "count * outdegree")


@api
def neighbor_allgatherv(send_data, recv_data, counts, displacements, comm):
    """Send all of ``send_data`` to every out-neighbour and receive ``counts[i]`` elements
    from in-neighbour i into ``recv_data`` at ``displacements[i]`` (None: packed)
    (``MPI_Neighbor_allgatherv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.zeros(2)
    >>> mpi4numba.neighbor_allgatherv(np.array([1.0 * rank]), got, np.ones(2, np.int32), None, ring)
    0
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size]  # one element from each neighbour
    True
    >>> mpi4numba.comm_free(ring)
    0
    """
    counts_and_displacements(counts, displacements)
    _check(send_data, recv_data, comm)
    return types.int32


@lowers(neighbor_allgatherv)
def _neighbor_allgatherv(e, send_data, recv_data, counts, displacements, comm):
    handle = e.comm(comm)
    code, indegree, _ = _neighbor_counts(e, handle)
    with e.if_succeeded(code) as call:
        outside = "mpi4numba: a block lies outside recv_data"
        sizes, offsets = _blocks(e, counts, displacements, indegree, e.size(recv_data), outside)
        source, target = e.c_ordered(send_data), e.c_ordered(recv_data)
        datatype, derived = e.element_datatype(recv_data)
        call.code = e(
            capi.MPI_Neighbor_allgatherv,
            source.address,
            e.size(send_data),
            datatype,
            target.address,
            sizes,
            offsets,
            datatype,
            handle,
        )
        e.release_datatype(datatype, derived)
        e.from_c_order(send_data, source)
        e.from_c_order(recv_data, target, e.size(recv_data))
    return call.result


@api
def neighbor_alltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    """Send ``send_counts[i]`` elements at ``send_displacements[i]`` to out-neighbour i and
    receive ``recv_counts[i]`` elements from in-neighbour i at ``recv_displacements[i]``
    (``MPI_Neighbor_alltoallv``; None displacements: packed); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, line = mpi4numba.cart_create((size,), (False,))  # PROC_NULL past the ends
    >>> status, left, right = mpi4numba.cart_shift(0, 1, line)
    >>> outgoing = np.array([100.0 + rank, 200.0 + rank, 201.0 + rank])
    >>> to_each, from_each = np.array([1, 2], np.int32), np.array([2, 1], np.int32)  # (left, right)
    >>> got = np.zeros(3)
    >>> mpi4numba.neighbor_alltoallv(outgoing, to_each, None, got, from_each, None, line)
    0
    >>> null = mpi4numba.PROC_NULL
    >>> got[:2].tolist() == ([0.0, 0.0] if left == null else [200.0 + left, 201.0 + left])
    True
    >>> got[2:].tolist() == ([0.0] if right == null else [100.0 + right])
    True
    >>> mpi4numba.comm_free(line)
    0
    """
    counts_and_displacements(send_counts, send_displacements)
    counts_and_displacements(recv_counts, recv_displacements)
    _check(send_data, recv_data, comm)
    return types.int32


@lowers(neighbor_alltoallv)
def _neighbor_alltoallv(
    e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm
):
    handle = e.comm(comm)
    code, indegree, outdegree = _neighbor_counts(e, handle)
    with e.if_succeeded(code) as call:
        outside = "mpi4numba: a block lies outside send_data"
        send_sizes, send_offsets = _blocks(e, send_counts, send_displacements, outdegree, e.size(send_data), outside)
        outside = "mpi4numba: a block lies outside recv_data"
        recv_sizes, recv_offsets = _blocks(e, recv_counts, recv_displacements, indegree, e.size(recv_data), outside)
        source, target = e.c_ordered(send_data), e.c_ordered(recv_data)
        datatype, derived = e.element_datatype(recv_data)
        call.code = e(
            capi.MPI_Neighbor_alltoallv,
            source.address,
            send_sizes,
            send_offsets,
            datatype,
            target.address,
            recv_sizes,
            recv_offsets,
            datatype,
            handle,
        )
        e.release_datatype(datatype, derived)
        e.from_c_order(send_data, source)
        e.from_c_order(recv_data, target, e.size(recv_data))
    return call.result


_NOT_C_ORDER = "mpi4numba: send_data and recv_data must be C-contiguous (MPI works on them after the call)"


def _nonblocking_check(send_data, recv_data, comm) -> types.Type:
    _check(send_data, recv_data, comm)
    c_ordered(send_data, "send_data")
    c_ordered(recv_data, "recv_data")
    return STARTED


def _start_fixed(e, nonblocking, send_data, recv_data, count, comm, send_blocks: str, persistent: bool):
    """``(status, request)`` of ineighbor_allgather/alltoall (see :func:`_fixed`); no
    operation is started on a communicator without a topology."""
    handle = e.comm(comm)
    code, indegree, outdegree = _neighbor_counts(e, handle)
    needed = count if send_blocks == "count" else count.mul(outdegree)
    e.check(e.size(send_data).ge(needed), ValueError, f"mpi4numba: send_data has fewer than {send_blocks} elements")
    e.check(
        e.size(recv_data).ge(count.mul(indegree)),
        ValueError,
        "mpi4numba: recv_data has fewer than count * indegree elements",
    )
    e.require_c_order(send_data, _NOT_C_ORDER)
    e.require_c_order(recv_data, _NOT_C_ORDER)
    datatype, per_element = e.element_type(send_data)
    n = count.mul(per_element)
    with e.starting(send_data, recv_data, persistent=persistent) as start:
        start.code = e.if_success(
            code,
            lambda: start.call(nonblocking, e.data(send_data), n, datatype, e.data(recv_data), n, datatype, handle),
        )
    return start.result


@api
def ineighbor_allgather(send_data, recv_data, count, comm):
    """Start :func:`neighbor_allgather` (``MPI_Ineighbor_allgather``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> status, request = mpi4numba.ineighbor_allgather(np.array([1.0 * rank]), got, 1, ring)
    >>> status, mpi4numba.wait(request), got.tolist() == [(rank - 1) % size, (rank + 1) % size]
    (0, 0, True)
    >>> mpi4numba.comm_free(ring)
    0
    """
    integer(count, "count")
    return _nonblocking_check(send_data, recv_data, comm)


@lowers(ineighbor_allgather)
def _ineighbor_allgather(e, send_data, recv_data, count, comm, *, persistent=False):
    return _start_fixed(e, capi.MPI_Ineighbor_allgather, send_data, recv_data, count, comm, "count", persistent)


@api
def ineighbor_alltoall(send_data, recv_data, count, comm):
    """Start :func:`neighbor_alltoall` (``MPI_Ineighbor_alltoall``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> outgoing = np.array([100.0 + rank, 200.0 + rank])  # 1xx to the left, 2xx to the right
    >>> status, request = mpi4numba.ineighbor_alltoall(outgoing, got, 1, ring)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    >>> size < 3 or got.tolist() == [200.0 + (rank - 1) % size, 100.0 + (rank + 1) % size]
    True
    >>> mpi4numba.comm_free(ring)
    0
    """
    integer(count, "count")
    return _nonblocking_check(send_data, recv_data, comm)


@lowers(ineighbor_alltoall)
def _ineighbor_alltoall(e, send_data, recv_data, count, comm, *, persistent=False):
    return _start_fixed(
        e, capi.MPI_Ineighbor_alltoall, send_data, recv_data, count, comm, "count * outdegree", persistent
    )


@api
def ineighbor_allgatherv(send_data, recv_data, counts, displacements, comm):
    """Start :func:`neighbor_allgatherv` (``MPI_Ineighbor_allgatherv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.zeros(2)
    >>> ones = np.ones(2, np.int32)
    >>> status, request = mpi4numba.ineighbor_allgatherv(np.array([1.0 * rank]), got, ones, None, ring)
    >>> status, mpi4numba.wait(request), got.tolist() == [(rank - 1) % size, (rank + 1) % size]
    (0, 0, True)
    >>> mpi4numba.comm_free(ring)
    0
    """
    counts_and_displacements(counts, displacements)
    return _nonblocking_check(send_data, recv_data, comm)


@lowers(ineighbor_allgatherv)
def _ineighbor_allgatherv(e, send_data, recv_data, counts, displacements, comm, *, persistent=False):
    handle = e.comm(comm)
    code, indegree, _ = _neighbor_counts(e, handle)
    outside = "mpi4numba: a block lies outside recv_data"
    too_few = "mpi4numba: counts and displacements need one entry per neighbour"
    sizes, offsets = e.blocks(
        counts, displacements, indegree, e.size(recv_data), outside, lasting=True, too_few=too_few
    )
    e.require_c_order(send_data, _NOT_C_ORDER)
    e.require_c_order(recv_data, _NOT_C_ORDER)
    datatype, derived = e.element_datatype(recv_data)
    with e.starting(send_data, recv_data, sizes, offsets, persistent=persistent) as start:
        start.code = e.if_success(
            code,
            lambda: start.call(
                capi.MPI_Ineighbor_allgatherv,
                e.data(send_data),
                e.size(send_data),
                datatype,
                e.data(recv_data),
                e.data(sizes),
                e.data(offsets),
                datatype,
                handle,
            ),
        )
    e.release_datatype(datatype, derived)
    return start.result


@api
def ineighbor_alltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    """Start :func:`neighbor_alltoallv` (``MPI_Ineighbor_alltoallv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> ones, got = np.ones(2, np.int32), np.zeros(2)
    >>> outgoing = np.array([100.0 + rank, 200.0 + rank])  # 1xx to the left, 2xx to the right
    >>> status, request = mpi4numba.ineighbor_alltoallv(outgoing, ones, None, got, ones, None, ring)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    >>> size < 3 or got.tolist() == [200.0 + (rank - 1) % size, 100.0 + (rank + 1) % size]
    True
    >>> mpi4numba.comm_free(ring)
    0
    """
    counts_and_displacements(send_counts, send_displacements)
    counts_and_displacements(recv_counts, recv_displacements)
    return _nonblocking_check(send_data, recv_data, comm)


@lowers(ineighbor_alltoallv)
def _ineighbor_alltoallv(
    e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm, *, persistent=False
):
    handle = e.comm(comm)
    code, indegree, outdegree = _neighbor_counts(e, handle)
    too_few = "mpi4numba: counts and displacements need one entry per neighbour"
    outside = "mpi4numba: a block lies outside send_data"
    send_sizes, send_offsets = e.blocks(
        send_counts, send_displacements, outdegree, e.size(send_data), outside, lasting=True, too_few=too_few
    )
    outside = "mpi4numba: a block lies outside recv_data"
    recv_sizes, recv_offsets = e.blocks(
        recv_counts, recv_displacements, indegree, e.size(recv_data), outside, lasting=True, too_few=too_few
    )
    e.require_c_order(send_data, _NOT_C_ORDER)
    e.require_c_order(recv_data, _NOT_C_ORDER)
    datatype, derived = e.element_datatype(recv_data)
    held = (send_data, recv_data, send_sizes, send_offsets, recv_sizes, recv_offsets)
    with e.starting(*held, persistent=persistent) as start:
        start.code = e.if_success(
            code,
            lambda: start.call(
                capi.MPI_Ineighbor_alltoallv,
                e.data(send_data),
                e.data(send_sizes),
                e.data(send_offsets),
                datatype,
                e.data(recv_data),
                e.data(recv_sizes),
                e.data(recv_offsets),
                datatype,
                handle,
            ),
        )
    e.release_datatype(datatype, derived)
    return start.result


# Persistent forms (MPI-4): set up once, started many times (see the module doc)


neighbor_allgather_init = persistent_form(
    ineighbor_allgather,
    _ineighbor_allgather,
    """A persistent :func:`~mpi4numba.neighbor_allgather`
    (``MPI_Neighbor_allgather_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import neighbor_allgather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> status, request = neighbor_allgather_init(np.array([1.0 * rank]), got, 1, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size], mpi4numba.comm_free(ring)
    (True, 0)
    """,
)


neighbor_alltoall_init = persistent_form(
    ineighbor_alltoall,
    _ineighbor_alltoall,
    """A persistent :func:`~mpi4numba.neighbor_alltoall`
    (``MPI_Neighbor_alltoall_init``): the halo exchange of a grid set up once; returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import neighbor_alltoall_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> outgoing, got = np.array([100.0 + rank, 200.0 + rank]), np.empty(2)  # 1xx left, 2xx right
    >>> status, request = neighbor_alltoall_init(outgoing, got, 1, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> size < 3 or got.tolist() == [200.0 + (rank - 1) % size, 100.0 + (rank + 1) % size]
    True
    >>> mpi4numba.comm_free(ring)
    0
    """,
)


neighbor_allgatherv_init = persistent_form(
    ineighbor_allgatherv,
    _ineighbor_allgatherv,
    """A persistent :func:`~mpi4numba.neighbor_allgatherv`
    (``MPI_Neighbor_allgatherv_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import neighbor_allgatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.zeros(2)
    >>> status, request = neighbor_allgatherv_init(np.array([1.0 * rank]), got, np.ones(2, np.int32), None, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size], mpi4numba.comm_free(ring)
    (True, 0)
    """,
)


neighbor_alltoallv_init = persistent_form(
    ineighbor_alltoallv,
    _ineighbor_alltoallv,
    """A persistent :func:`~mpi4numba.neighbor_alltoallv`
    (``MPI_Neighbor_alltoallv_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import neighbor_alltoallv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> ones, got = np.ones(2, np.int32), np.zeros(2)
    >>> outgoing = np.array([100.0 + rank, 200.0 + rank])  # 1xx to the left, 2xx to the right
    >>> status, request = neighbor_alltoallv_init(outgoing, ones, None, got, ones, None, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> size < 3 or got.tolist() == [200.0 + (rank - 1) % size, 100.0 + (rank + 1) % size]
    True
    >>> mpi4numba.comm_free(ring)
    0
    """,
)
