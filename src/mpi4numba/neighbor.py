"""Neighbourhood collectives: exchange data with the neighbours of a topology only.

``comm`` is a communicator with a topology (see :mod:`mpi4numba.topology`); on one
without, the status is ``ERR_TOPOLOGY`` (and ``ERR_COMM`` on a freed one). Neighbours are, for a Cartesian grid, for each
axis d in turn the process one step behind then one step ahead (``PROC_NULL`` past a
non-periodic edge: its block is left untouched); for a distributed graph, the
``sources`` (receive side) and ``destinations`` (send side) in the order they were given.
Arguments follow :mod:`mpi4numba.collectives` with neighbours in place of ranks: counts
and displacements are in elements, one entry per neighbour, displacements may be None
for packed blocks. A buffer too short for its blocks raises ``ValueError`` before the call.
Apart from converting counts that are not ``int32`` arrays, nothing is allocated per call.
"""

from __future__ import annotations

from numba.core.errors import TypingError

from . import _capi
from ._api import api
from ._buffers import blocks, c_ints, check_layout, contiguous, copy_back, displacements_or_default, element_datatype
from ._commtype import CommType, comm_handle
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

    def impl(send_data, recv_data, count, comm):
        handle = comm_handle(comm)
        code, indegree, outdegree = neighbor_counts(handle)
        if code != 0:
            return code
        if send_data.size < count:
            raise ValueError("mpi4numba.neighbor_allgather: send_data has fewer than count elements")
        if recv_data.size < count * indegree:
            raise ValueError("mpi4numba.neighbor_allgather: recv_data has fewer than count * indegree elements")
        source, target, datatype, n = blocks(send_data, recv_data, count)
        code = _capi.MPI_Neighbor_allgather(source, n, datatype, target, n, datatype, handle)
        copy_back(recv_data, target, count * indegree)
        return code

    return impl


@api
def neighbor_alltoall(send_data, recv_data, count, comm):
    """Send block i (``count`` elements) of ``send_data`` to out-neighbour i and receive
    block i of ``recv_data`` from in-neighbour i (``MPI_Neighbor_alltoall``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> mpi4numba.neighbor_alltoall(np.array([-1.0 * rank, 1.0 * rank]), got, 1, ring)
    0
    >>> got.tolist() == [1.0 * ((rank - 1) % size), -1.0 * ((rank + 1) % size)], mpi4numba.comm_free(ring)
    (True, 0)
    """
    integer(count, "neighbor_alltoall", "count")
    _check("neighbor_alltoall", send_data, recv_data, comm)

    def impl(send_data, recv_data, count, comm):
        handle = comm_handle(comm)
        code, indegree, outdegree = neighbor_counts(handle)
        if code != 0:
            return code
        if send_data.size < count * outdegree:
            raise ValueError("mpi4numba.neighbor_alltoall: send_data has fewer than count * outdegree elements")
        if recv_data.size < count * indegree:
            raise ValueError("mpi4numba.neighbor_alltoall: recv_data has fewer than count * indegree elements")
        source, target, datatype, n = blocks(send_data, recv_data, count)
        code = _capi.MPI_Neighbor_alltoall(source, n, datatype, target, n, datatype, handle)
        copy_back(recv_data, target, count * indegree)
        return code

    return impl


@api
def neighbor_allgatherv(send_data, recv_data, counts, displacements, comm):
    """Send all of ``send_data`` to every out-neighbour and receive ``counts[i]`` elements
    from in-neighbour i into ``recv_data`` at ``displacements[i]`` (None: packed)
    (``MPI_Neighbor_allgatherv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.zeros(2)
    >>> mpi4numba.neighbor_allgatherv(np.array([1.0]), got, np.ones(2, np.int32), None, ring), got
    (0, array([1., 1.]))
    >>> mpi4numba.comm_free(ring)
    0
    """
    _vector("neighbor_allgatherv", counts, displacements)
    _check("neighbor_allgatherv", send_data, recv_data, comm)

    def impl(send_data, recv_data, counts, displacements, comm):
        handle = comm_handle(comm)
        code, indegree, outdegree = neighbor_counts(handle)
        if code != 0:
            return code
        sizes = c_ints(counts)
        offsets = displacements_or_default(sizes, displacements)
        check_layout(sizes, offsets, indegree, recv_data.size,
                     "mpi4numba.neighbor_allgatherv: a block lies outside recv_data")
        source = contiguous(send_data)
        target = contiguous(recv_data)
        datatype, derived = element_datatype(target)
        code = _capi.MPI_Neighbor_allgatherv(source, source.size, datatype, target, sizes, offsets, datatype, handle)
        copy_back(recv_data, target, recv_data.size)
        if derived:
            _capi.MPI_Type_free(datatype)
        return code

    return impl


@api
def neighbor_alltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements,
                       comm):
    """Send ``send_counts[i]`` elements at ``send_displacements[i]`` to out-neighbour i and
    receive ``recv_counts[i]`` elements from in-neighbour i at ``recv_displacements[i]``
    (``MPI_Neighbor_alltoallv``; None displacements: packed); returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, ring = mpi4numba.cart_create((mpi4numba.size(),), (True,))
    >>> ones, got = np.ones(2, np.int32), np.zeros(2)
    >>> mpi4numba.neighbor_alltoallv(np.ones(2), ones, None, got, ones, None, ring), got
    (0, array([1., 1.]))
    >>> mpi4numba.comm_free(ring)
    0
    """
    _vector("neighbor_alltoallv", send_counts, send_displacements)
    _vector("neighbor_alltoallv", recv_counts, recv_displacements)
    _check("neighbor_alltoallv", send_data, recv_data, comm)

    def impl(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
        handle = comm_handle(comm)
        code, indegree, outdegree = neighbor_counts(handle)
        if code != 0:
            return code
        s_sizes = c_ints(send_counts)
        s_offsets = displacements_or_default(s_sizes, send_displacements)
        r_sizes = c_ints(recv_counts)
        r_offsets = displacements_or_default(r_sizes, recv_displacements)
        check_layout(s_sizes, s_offsets, outdegree, send_data.size,
                     "mpi4numba.neighbor_alltoallv: a block lies outside send_data")
        check_layout(r_sizes, r_offsets, indegree, recv_data.size,
                     "mpi4numba.neighbor_alltoallv: a block lies outside recv_data")
        source = contiguous(send_data)
        target = contiguous(recv_data)
        datatype, derived = element_datatype(target)
        code = _capi.MPI_Neighbor_alltoallv(source, s_sizes, s_offsets, datatype, target, r_sizes, r_offsets,
                                            datatype, handle)
        copy_back(recv_data, target, recv_data.size)
        if derived:
            _capi.MPI_Type_free(datatype)
        return code

    return impl
