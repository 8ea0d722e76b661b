"""Neighbourhood collectives: exchange data with the neighbours of a topology only.

``comm`` is a communicator with a topology (see :mod:`mpi4numba.topology`); on one
without, the status is ``ERR_TOPOLOGY`` (and ``ERR_COMM`` on a freed one). Neighbours are, for a Cartesian grid, for each
axis d in turn the process one step behind then one step ahead (``PROC_NULL`` past a
non-periodic edge: its block is left untouched); for a distributed graph, the
``sources`` (receive side) and ``destinations`` (send side) in the order they were given.
Arguments follow :mod:`mpi4numba.collectives` with neighbours in place of ranks: counts
and displacements are in elements, one entry per neighbour, displacements may be None
for packed blocks. A buffer too short for its blocks raises ``ValueError`` before the call.
Nothing is allocated per call, apart from copies of buffers that are not C-contiguous
and, beyond 16 neighbours, the C ints of counts that are not ``int32`` arrays and of
packed displacements.
"""

from __future__ import annotations


from numba.core import types
from numba.core.errors import TypingError

from . import _capi
from ._api import api, lowering
from ._buffers import contiguous, copy_back
from ._commtype import CommType
from ._lowering import is_contiguous_layout
from ._validate import array, integer, same_dtype
from .collectives import _vector
from .topology import neighbor_counts

__all__ = ["neighbor_allgather", "neighbor_alltoall", "neighbor_allgatherv", "neighbor_alltoallv"]


def _check(where: str, send_data, recv_data, comm) -> None:
    array(send_data, where, "send_data")
    array(recv_data, where, "recv_data", writable=True)
    same_dtype(send_data, recv_data, where)
    if not isinstance(comm, CommType):
        raise TypingError(f"mpi4numba.{where}: comm must be a communicator with a topology, got {comm}")


def _neighbourhood(e, comm, call):
    """The status of ``call(handle, indegree, outdegree)``, which emits the collective, made
    only if ``comm`` has a topology."""
    handle = e.comm(comm)
    code, indegree, outdegree = neighbor_counts(e, handle)
    return e.if_success(code, lambda: call(handle, indegree, outdegree))


def _c_ordered(e, data):
    """``data`` in C order for MPI: itself if C-contiguous by its type; other layouts (rare,
    jitted) itself if C-contiguous at run time, else a copy (results go back with
    :func:`_copy_back`)."""
    return data if is_contiguous_layout(data.type) else e(contiguous, data)


def _copy_back(e, recv_data, target, elements) -> None:
    if target is not recv_data:
        e(copy_back, recv_data, target, elements)


def _fixed(c_function, where: str, send_blocks: str):
    """The body of neighbor_allgather (``send_blocks`` "count") or neighbor_alltoall
    ("count * outdegree")."""

    @lowering(types.int32)
    def body(e, send_data, recv_data, count, comm):
        def call(handle, indegree, outdegree):
            needed = count if send_blocks == "count" else count * outdegree
            e.check(e.size(send_data) >= needed, ValueError,
                    f"mpi4numba.{where}: send_data has fewer than {send_blocks} elements")
            e.check(e.size(recv_data) >= count * indegree, ValueError,
                    f"mpi4numba.{where}: recv_data has fewer than count * indegree elements")
            source, target = _c_ordered(e, send_data), _c_ordered(e, recv_data)
            datatype, per_element = e.element_type(source)
            n = count * per_element
            status = e(c_function, e.data(source), n, datatype, e.data(target), n, datatype, handle)
            _copy_back(e, recv_data, target, count * indegree)
            return status

        return _neighbourhood(e, comm, call)

    return body


_ALLGATHER = _fixed(_capi.MPI_Neighbor_allgather, "neighbor_allgather", "count")
_ALLTOALL = _fixed(_capi.MPI_Neighbor_alltoall, "neighbor_alltoall", "count * outdegree")


def _blocks(e, counts, displacements, neighbours, capacity, message: str):
    """Counts and displacements (None: packed) as C ints, checked: ``neighbours`` blocks
    that lie inside ``capacity`` elements (else ``ValueError(message)``)."""
    sizes, offsets = e.vector_blocks(counts, displacements, neighbours,
                                     "mpi4numba: counts and displacements need one entry per neighbour")
    e.blocks_inside(sizes, offsets, neighbours, capacity, message)
    return sizes, offsets


def _whole_buffers(e, send_data, recv_data, call):
    """The status of ``call(source, target, datatype)``, the MPI call of a v-collective, on
    C-ordered buffers and a datatype of one array element."""
    source, target = _c_ordered(e, send_data), _c_ordered(e, recv_data)
    datatype, derived = e.element_datatype(target)
    status = call(source, target, datatype)
    e.release_datatype(datatype, derived)
    _copy_back(e, recv_data, target, e.size(recv_data))
    return status


@lowering(types.int32)
def _ALLGATHERV(e, send_data, recv_data, counts, displacements, comm):
    def call(handle, indegree, outdegree):
        sizes, offsets = _blocks(e, counts, displacements, indegree, e.size(recv_data),
                                 "mpi4numba.neighbor_allgatherv: a block lies outside recv_data")
        return _whole_buffers(e, send_data, recv_data, lambda source, target, datatype: e(
            _capi.MPI_Neighbor_allgatherv, e.data(source), e.size(source), datatype, e.data(target), sizes,
            offsets, datatype, handle))

    return _neighbourhood(e, comm, call)


@lowering(types.int32)
def _ALLTOALLV(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    def call(handle, indegree, outdegree):
        send_sizes, send_offsets = _blocks(e, send_counts, send_displacements, outdegree, e.size(send_data),
                                           "mpi4numba.neighbor_alltoallv: a block lies outside send_data")
        recv_sizes, recv_offsets = _blocks(e, recv_counts, recv_displacements, indegree, e.size(recv_data),
                                           "mpi4numba.neighbor_alltoallv: a block lies outside recv_data")
        return _whole_buffers(e, send_data, recv_data, lambda source, target, datatype: e(
            _capi.MPI_Neighbor_alltoallv, e.data(source), send_sizes, send_offsets, datatype, e.data(target),
            recv_sizes, recv_offsets, datatype, handle))

    return _neighbourhood(e, comm, call)


@api
def neighbor_allgather(send_data, recv_data, count, comm):
    """Send the first ``count`` elements of ``send_data`` to every out-neighbour and receive
    ``count`` elements from in-neighbour i into block i of ``recv_data``
    (``MPI_Neighbor_allgather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> mpi4numba.neighbor_allgather(np.array([1.0 * rank]), got, 1, ring), got == [(rank - 1) % size, (rank + 1) % size]
    (0, array([ True,  True]))
    >>> mpi4numba.comm_free(ring)
    0
    """
    integer(count, "neighbor_allgather", "count")
    _check("neighbor_allgather", send_data, recv_data, comm)
    return _ALLGATHER


@api
def neighbor_alltoall(send_data, recv_data, count, comm):
    """Send block i (``count`` elements) of ``send_data`` to out-neighbour i and receive
    block i of ``recv_data`` from in-neighbour i (``MPI_Neighbor_alltoall``); returns the status.

    On a Cartesian communicator the neighbours are, axis by axis, the one behind and the
    one ahead (:func:`~mpi4numba.topology.cart_shift` by 1), ``PROC_NULL`` past the end of
    a non-periodic axis: nothing is sent there and that block of ``recv_data`` is left as
    it is. (Where a periodic axis has length 1 or 2, the process behind is also the one
    ahead: MPICH and Open MPI pair the blocks as MPI 4.0 says, as for two processes; Intel
    MPI 2021 the other way round.)

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
    integer(count, "neighbor_alltoall", "count")
    _check("neighbor_alltoall", send_data, recv_data, comm)
    return _ALLTOALL


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
    _vector("neighbor_allgatherv", counts, displacements)
    _check("neighbor_allgatherv", send_data, recv_data, comm)
    return _ALLGATHERV


@api
def neighbor_alltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements,
                       comm):
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
    _vector("neighbor_alltoallv", send_counts, send_displacements)
    _vector("neighbor_alltoallv", recv_counts, recv_displacements)
    _check("neighbor_alltoallv", send_data, recv_data, comm)
    return _ALLTOALLV
