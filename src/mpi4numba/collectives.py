"""Collective operations: barrier, bcast, reduce, allreduce, scatter, gather, allgather.

All processes of ``comm`` (default ``COMM_WORLD``) must call a collective with matching
arguments. Each returns MPI's status code. Problems only one process can see (a buffer
too short for ``count`` elements) raise ``ValueError`` on that process instead of
entering the collective, so the job fails loudly rather than hanging or truncating.
Reductions and scatter/gather work on C-contiguous buffers; other layouts are copied
into a temporary for the duration of the call.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import api
from ._ccall import stack_value
from ._commtype import comm_handle
from ._validate import array, integer, same_dtype
from .datatypes import buffer, element_type, mpi_datatype, release
from .operators import Operator, op_handle

__all__ = ["barrier", "bcast", "allreduce", "reduce", "scatter", "gather", "allgather"]


def _contiguous(data):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_contiguous, inline="always")
def _contiguous_impl(data):
    """``data`` itself if C-contiguous, else a C-ordered copy (the caller copies results back)."""
    if data.layout == "C":
        return lambda data: data

    def copy_unless_contiguous(data):
        if data.flags.c_contiguous:
            return data
        return np.ascontiguousarray(data)

    return copy_unless_contiguous


def _scalar_or_array(sendobj, recvobj, where: str) -> bool:
    """Validate a reduction's arguments; True when ``sendobj`` is a scalar."""
    array(recvobj, where, "recvobj", writable=True)
    if isinstance(sendobj, (types.Number, types.Boolean)):
        return True
    array(sendobj, where, "sendobj")
    same_dtype(sendobj, recvobj, where)
    return False


def _operator(operator, where: str) -> None:
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise TypingError(f"mpi4numba.{where}: operator must be an mpi4numba.Operator, got {operator}")


@api
def barrier(comm=None):
    """Block until every process of ``comm`` has called it (``MPI_Barrier``); returns the status.

    >>> import mpi4numba
    >>> mpi4numba.barrier()
    0
    """

    def impl(comm=None):
        return _capi.MPI_Barrier(comm_handle(comm))

    return impl


@api
def bcast(data, root, comm=None):
    """Broadcast the array ``data`` from ``root`` to all processes (``MPI_Bcast``).

    >>> import numpy as np, mpi4numba
    >>> data = np.arange(3) if mpi4numba.rank() == 0 else np.empty(3, np.int64)
    >>> mpi4numba.bcast(data, 0), data
    (0, array([0, 1, 2]))
    """
    array(data, "bcast", "data", writable=True)
    integer(root, "bcast", "root")

    def impl(data, root, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.bcast")
        code = _capi.MPI_Bcast(address, count, datatype, root, comm_handle(comm))
        release(datatype, derived)
        return code

    return impl


@register_jitable(inline="always")
def _reduce_call(send_address, recv_address, count, recvobj, operator, root, comm, rooted):
    datatype, _ = element_type(recvobj)
    if rooted:
        return _capi.MPI_Reduce(send_address, recv_address, count, datatype, op_handle(operator), root, comm_handle(comm))
    return _capi.MPI_Allreduce(send_address, recv_address, count, datatype, op_handle(operator), comm_handle(comm))


@register_jitable(inline="always")
def _check_room(recvobj, count, root, comm, rooted):
    if recvobj.size < count and (not rooted or _capi.MPI_Comm_rank(comm_handle(comm))[1] == root):
        raise ValueError("mpi4numba: recvobj has fewer elements than sendobj")


@register_jitable(inline="always")
def _reduce_scalar(sendobj, recvobj, operator, root, comm, rooted):
    _check_room(recvobj, 1, root, comm, rooted)
    target = _contiguous(recvobj)
    code = _reduce_call(stack_value(sendobj, recvobj), target.ctypes.data, 1, recvobj, operator, root, comm, rooted)
    _copy_back(recvobj, target, 1)
    return code


@register_jitable(inline="always")
def _reduce_array(sendobj, recvobj, operator, root, comm, rooted):
    count = sendobj.size
    _check_room(recvobj, count, root, comm, rooted)
    source = _contiguous(sendobj)
    target = _contiguous(recvobj)
    code = _reduce_call(source.ctypes.data, target.ctypes.data, count, recvobj, operator, root, comm, rooted)
    _copy_back(recvobj, target, count)
    return code


def _reduction(where: str, sendobj, recvobj, operator):
    """Validate a reduction's arguments and pick the scalar or array implementation."""
    scalar = _scalar_or_array(sendobj, recvobj, where)
    _operator(operator, where)
    name, _ = mpi_datatype(recvobj.dtype, f"mpi4numba.{where}")
    if name == "BYTE":
        raise TypingError(f"mpi4numba.{where}: bytes cannot be reduced")
    return _reduce_scalar if scalar else _reduce_array


@register_jitable(inline="always")
def _copy_back_prefix(destination, source, count):
    """Write the first ``count`` C-order elements of contiguous ``source`` into ``destination``."""
    flat = source.ravel()
    i = 0
    for index in np.ndindex(destination.shape):
        if i >= count:
            break
        destination[index] = flat[i]
        i += 1


@api
def allreduce(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Combine ``sendobj`` (array or scalar) from all processes with ``operator`` into
    ``recvobj`` on every process (``MPI_Allreduce``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> total = np.empty(1)
    >>> mpi4numba.allreduce(1.0, total), total[0] == mpi4numba.size()
    (0, True)
    """
    reduction = _reduction("allreduce", sendobj, recvobj, operator)

    def allreduce_impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return reduction(sendobj, recvobj, operator, 0, comm, False)

    return allreduce_impl


@api
def reduce(sendobj, recvobj, operator, root, comm=None):
    """Combine ``sendobj`` from all processes with ``operator`` into ``recvobj`` on ``root``
    (``MPI_Reduce``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> total = np.zeros(2)
    >>> mpi4numba.reduce(np.ones(2), total, mpi4numba.Operator.SUM, 0)
    0
    """
    integer(root, "reduce", "root")
    reduction = _reduction("reduce", sendobj, recvobj, operator)

    def reduce_impl(sendobj, recvobj, operator, root, comm=None):
        return reduction(sendobj, recvobj, operator, root, comm, True)

    return reduce_impl


def _scatter_gather(where: str, send_data, recv_data, count, root=None):
    array(send_data, where, "send_data")
    array(recv_data, where, "recv_data", writable=True)
    same_dtype(send_data, recv_data, where)
    integer(count, where, "count")
    if root is not None:
        integer(root, where, "root")


@register_jitable(inline="always")
def _blocks(send_data, recv_data, count):
    """C-ordered send and receive buffers, the datatype, and the MPI count of ``count`` elements."""
    source = _contiguous(send_data)
    target = _contiguous(recv_data)
    datatype, per_element = element_type(source)
    return source, target, datatype, count * per_element


@register_jitable(inline="always")
def _copy_back(recv_data, target, elements):
    """Results received into a temporary go back to the caller's (non-contiguous) array."""
    if target.ctypes.data != recv_data.ctypes.data:
        _copy_back_prefix(recv_data, target, elements)


@register_jitable(inline="always")
def _world_rank_size(comm):
    handle = comm_handle(comm)
    return _capi.MPI_Comm_rank(handle)[1], _capi.MPI_Comm_size(handle)[1]


@api
def scatter(send_data, recv_data, count, root, comm=None):
    """Send ``count`` consecutive elements of ``send_data`` on ``root`` to each process, in
    rank order, into ``recv_data`` (``MPI_Scatter``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> parts = np.arange(2.0 * mpi4numba.size())
    >>> mine = np.empty(2)
    >>> mpi4numba.scatter(parts, mine, 2, 0), mine[0] == 2 * mpi4numba.rank()
    (0, True)
    """
    _scatter_gather("scatter", send_data, recv_data, count, root)

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = _world_rank_size(comm)
        if recv_data.size < count:
            raise ValueError("mpi4numba.scatter: recv_data has fewer than count elements")
        if rank == root and send_data.size < count * size:
            raise ValueError("mpi4numba.scatter: send_data on root has fewer than count * size elements")
        source, target, datatype, n = _blocks(send_data, recv_data, count)
        code = _capi.MPI_Scatter(source.ctypes.data, n, datatype, target.ctypes.data, n, datatype, root, comm_handle(comm))
        _copy_back(recv_data, target, count)
        return code

    return impl


@api
def gather(send_data, recv_data, count, root, comm=None):
    """Collect ``count`` elements of ``send_data`` from each process into ``recv_data`` on
    ``root``, in rank order (``MPI_Gather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> everyone = np.empty(mpi4numba.size())
    >>> mpi4numba.gather(np.array([1.0 * mpi4numba.rank()]), everyone, 1, 0)
    0
    """
    _scatter_gather("gather", send_data, recv_data, count, root)

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = _world_rank_size(comm)
        if send_data.size < count:
            raise ValueError("mpi4numba.gather: send_data has fewer than count elements")
        if rank == root and recv_data.size < count * size:
            raise ValueError("mpi4numba.gather: recv_data on root has fewer than count * size elements")
        source, target, datatype, n = _blocks(send_data, recv_data, count)
        code = _capi.MPI_Gather(source.ctypes.data, n, datatype, target.ctypes.data, n, datatype, root, comm_handle(comm))
        if rank == root:
            _copy_back(recv_data, target, count * size)
        return code

    return impl


@api
def allgather(send_data, recv_data, count, comm=None):
    """Collect ``count`` elements of ``send_data`` from each process into ``recv_data`` on
    every process, in rank order (``MPI_Allgather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> everyone = np.empty(mpi4numba.size())
    >>> mpi4numba.allgather(np.array([1.0 * mpi4numba.rank()]), everyone, 1)
    0
    """
    _scatter_gather("allgather", send_data, recv_data, count)

    def impl(send_data, recv_data, count, comm=None):
        size = _world_rank_size(comm)[1]
        if send_data.size < count:
            raise ValueError("mpi4numba.allgather: send_data has fewer than count elements")
        if recv_data.size < count * size:
            raise ValueError("mpi4numba.allgather: recv_data has fewer than count * size elements")
        source, target, datatype, n = _blocks(send_data, recv_data, count)
        code = _capi.MPI_Allgather(source.ctypes.data, n, datatype, target.ctypes.data, n, datatype, comm_handle(comm))
        _copy_back(recv_data, target, count * size)
        return code

    return impl
