"""Non-blocking collective operations: ibarrier, ibcast, igather(v), iscatter(v),
iallgather(v), ialltoall(v); the reductions (ireduce, iallreduce, iscan, iexscan,
ireduce_scatter_block) are in :mod:`mpi4numba.ireductions`.

Each routine starts the collective operation and returns ``(status, request)``; the
operation completes when ``request`` (a ``RequestType`` array of shape (1,)) completes in
``wait``/``waitall``/``waitany`` or a successful ``test``/``testall``/``testany``. All
processes of ``comm`` must start the same collective operations in the same order, as
for blocking collectives; non-blocking and blocking collectives do not match each other.
Several may be outstanding on one communicator, and other communication may proceed
while they are. Until the request completes, the receive buffers must not be accessed
and the send buffers must not be modified. If the status is not ``SUCCESS``, no
operation was started and the request is ``REQUEST_NULL``.

Arguments are those of the blocking forms (:mod:`mpi4numba.collectives`,
:mod:`mpi4numba.reductions`), with the same ``IN_PLACE`` forms and operators, and the
same checks: a buffer too short for its blocks raises ``ValueError`` before anything is
started. The request keeps every array the operation uses alive (the caller's buffers,
and the C ``int`` copies made of counts and displacements), so temporaries may be passed;
the arrays are released when the request array is dropped, not when it completes.

MPI reads and writes the buffers themselves, never a copy: reductions and the
multi-block buffers of data-movement routines (the full buffer of a root, alltoall's
buffers, anything given to a v-routine) must be C-contiguous. A buffer that holds a
single block (``ibcast``'s data, a send or receive block of one process) may be a
strided view; it is described to MPI by a derived datatype and must then hold exactly
that block.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import api
from ._buffers import (
    IN_PLACE_ADDRESS, c_ints, displacements_or_default, element_address, element_datatype, is_in_place,
    rank_size,
)
from ._ccall import predefined
from ._commtype import comm_handle
from ._keepalive import new_request
from ._validate import array, integer
from .collectives import _arrays, _vector
from .datatypes import buffer, element_type, mpi_datatype, release

__all__ = ["ibarrier", "ibcast", "igather", "iscatter", "iallgather", "ialltoall", "igatherv", "iscatterv",
           "iallgatherv", "ialltoallv"]


@register_jitable
def _posted(code, request):
    if code != 0:
        request[0] = predefined("REQUEST_NULL")
    return code, request


def _dense(data, message):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_dense, prefer_literal=True)
def _dense_impl(data, message):
    """Raise ``ValueError(message)`` unless ``data`` is C-contiguous (checked when compiling
    where the layout tells; a C-contiguous copy would not do: MPI works on the buffer later)."""
    text = message.literal_value
    if not isinstance(data, types.Array) or data.layout == "C" or (data.ndim <= 1 and data.layout == "F"):
        return lambda data, message: None
    if data.layout == "F":
        raise TypingError(text)

    def check(data, message):
        if not data.flags.c_contiguous:
            raise ValueError(text)

    return check


def _block(data, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_block)
def _block_impl(data, count):
    """``(address, count, datatype, derived)`` for one block of ``count`` elements: the first
    ``count`` of a C-contiguous array, or all of a strided one (through a derived type)."""
    name, per_element = mpi_datatype(data.dtype, "mpi4numba")
    if data.layout == "C" or (data.ndim <= 1 and data.layout == "F"):
        return lambda data, count: (data.ctypes.data, count * per_element, predefined(name), False)

    def strided(data, count):
        if data.flags.c_contiguous or count == 0:
            return data.ctypes.data, count * per_element, predefined(name), False
        if count != data.size:
            raise ValueError("mpi4numba: a non-contiguous block buffer must hold exactly its block")
        address, n, datatype, derived = buffer(data, "mpi4numba")
        return address, n * 1, datatype, derived

    return strided


@api
def ibarrier(comm=None):
    """Start a barrier (``MPI_Ibarrier``): the request completes once every process of
    ``comm`` has started it. Returns ``(status, request)``.

    >>> import mpi4numba
    >>> from mpi4numba.nonblocking import ibarrier
    >>> status, request = ibarrier()
    >>> status, mpi4numba.wait(request)
    (0, 0)
    """

    def impl(comm=None):
        request = new_request(())
        return _posted(_capi.MPI_Ibarrier(comm_handle(comm), request.ctypes.data), request)

    return impl


@api
def ibcast(data, root, comm=None):
    """Start broadcasting the array ``data`` from ``root`` (``MPI_Ibcast``); returns
    ``(status, request)``. Strided views are used in place.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ibcast
    >>> data = np.arange(3) if mpi4numba.rank() == 0 else np.empty(3, np.int64)
    >>> status, request = ibcast(data, 0)
    >>> status, mpi4numba.wait(request), data
    (0, 0, array([0, 1, 2]))
    """
    array(data, "ibcast", "data", writable=True)
    integer(root, "ibcast", "root")

    def impl(data, root, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.ibcast")
        request = new_request((data,))
        code = _capi.MPI_Ibcast(address, count, datatype, root, comm_handle(comm), request.ctypes.data)
        release(datatype, derived)
        return _posted(code, request)

    return impl


@api
def igather(send_data, recv_data, count, root, comm=None):
    """Start collecting ``count`` elements of ``send_data`` from each process into
    ``recv_data`` on ``root``, in rank order (``MPI_Igather``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import igather
    >>> everyone = np.zeros(mpi4numba.size())
    >>> status, request = igather(np.ones(1), everyone, 1, 0)
    >>> status, mpi4numba.wait(request), mpi4numba.rank() != 0 or everyone.sum() == everyone.size
    (0, 0, True)
    """
    integer(count, "igather", "count")
    integer(root, "igather", "root")
    send_in_place = _arrays("igather", send_data, recv_data, True, False) == "send"

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = rank_size(comm)
        if (rank == root or send_in_place) and recv_data.size < count * size:
            raise ValueError("mpi4numba.igather: recv_data has fewer than count * size elements")
        if rank == root or send_in_place:
            _dense(recv_data, "mpi4numba.igather: recv_data must be C-contiguous")
        datatype, per_element = element_type(recv_data)
        if send_in_place:
            mine = element_address(recv_data, rank * count)
            send = IN_PLACE_ADDRESS if rank == root else mine
            n, send_type, derived = count * per_element, datatype, False
        else:
            if send_data.size < count:
                raise ValueError("mpi4numba.igather: send_data has fewer than count elements")
            send, n, send_type, derived = _block(send_data, count)
        request = new_request((send_data, recv_data))
        code = _capi.MPI_Igather(send, n, send_type, recv_data.ctypes.data, count * per_element, datatype, root,
                                 comm_handle(comm), request.ctypes.data)
        release(send_type, derived)
        return _posted(code, request)

    return impl


@api
def iscatter(send_data, recv_data, count, root, comm=None):
    """Start sending ``count`` consecutive elements of ``send_data`` on ``root`` to each
    process, in rank order, into ``recv_data`` (``MPI_Iscatter``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iscatter
    >>> mine = np.empty(2)
    >>> status, request = iscatter(np.arange(2.0 * mpi4numba.size()), mine, 2, 0)
    >>> status, mpi4numba.wait(request), mine[0] == 2 * mpi4numba.rank()
    (0, 0, True)
    """
    integer(count, "iscatter", "count")
    integer(root, "iscatter", "root")
    recv_in_place = _arrays("iscatter", send_data, recv_data, False, True) == "recv"

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = rank_size(comm)
        if (rank == root or recv_in_place) and send_data.size < count * size:
            raise ValueError("mpi4numba.iscatter: send_data has fewer than count * size elements")
        if rank == root or recv_in_place:
            _dense(send_data, "mpi4numba.iscatter: send_data must be C-contiguous")
        datatype, per_element = element_type(send_data)
        if recv_in_place:
            mine = element_address(send_data, rank * count)
            receive = IN_PLACE_ADDRESS if rank == root else mine
            n, recv_type, derived = count * per_element, datatype, False
        else:
            if recv_data.size < count:
                raise ValueError("mpi4numba.iscatter: recv_data has fewer than count elements")
            receive, n, recv_type, derived = _block(recv_data, count)
        request = new_request((send_data, recv_data))
        code = _capi.MPI_Iscatter(send_data.ctypes.data, count * per_element, datatype, receive, n, recv_type, root,
                                  comm_handle(comm), request.ctypes.data)
        release(recv_type, derived)
        return _posted(code, request)

    return impl


def _send_block(send_data, recv_data, count, needed):  # pragma: no cover - replaced below
    raise NotImplementedError


@overload(_send_block)
def _send_block_impl(send_data, recv_data, count, needed):
    """The send side of allgather/alltoall(v): IN_PLACE, or ``needed`` elements' block."""
    if is_in_place(send_data):

        def in_place(send_data, recv_data, count, needed):
            datatype, per_element = element_type(recv_data)
            return IN_PLACE_ADDRESS, count * per_element, datatype, False

        return in_place

    def regular(send_data, recv_data, count, needed):
        if send_data.size < needed:
            raise ValueError("mpi4numba: send_data has fewer elements than its blocks")
        return _block(send_data, needed)

    return regular


@api
def iallgather(send_data, recv_data, count, comm=None):
    """Start collecting ``count`` elements of ``send_data`` from each process into
    ``recv_data`` on every process, in rank order (``MPI_Iallgather``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iallgather
    >>> everyone = np.empty(mpi4numba.size())
    >>> status, request = iallgather(np.array([1.0 * mpi4numba.rank()]), everyone, 1)
    >>> status, mpi4numba.wait(request), everyone[-1] == mpi4numba.size() - 1
    (0, 0, True)
    """
    integer(count, "iallgather", "count")
    _arrays("iallgather", send_data, recv_data, True, False)

    def impl(send_data, recv_data, count, comm=None):
        size = rank_size(comm)[1]
        if recv_data.size < count * size:
            raise ValueError("mpi4numba.iallgather: recv_data has fewer than count * size elements")
        _dense(recv_data, "mpi4numba.iallgather: recv_data must be C-contiguous")
        datatype, per_element = element_type(recv_data)
        send, n, send_type, derived = _send_block(send_data, recv_data, count, count)
        request = new_request((send_data, recv_data))
        code = _capi.MPI_Iallgather(send, n, send_type, recv_data.ctypes.data, count * per_element, datatype,
                                    comm_handle(comm), request.ctypes.data)
        release(send_type, derived)
        return _posted(code, request)

    return impl


@api
def ialltoall(send_data, recv_data, count, comm=None):
    """Start sending block r (``count`` elements) of ``send_data`` to rank r and receiving
    rank r's block into block r of ``recv_data`` (``MPI_Ialltoall``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ialltoall
    >>> received = np.empty(mpi4numba.size())
    >>> status, request = ialltoall(np.full(mpi4numba.size(), 1.0 * mpi4numba.rank()), received, 1)
    >>> status, mpi4numba.wait(request), received[-1] == mpi4numba.size() - 1
    (0, 0, True)
    """
    integer(count, "ialltoall", "count")
    _arrays("ialltoall", send_data, recv_data, True, False)

    def impl(send_data, recv_data, count, comm=None):
        size = rank_size(comm)[1]
        if recv_data.size < count * size:
            raise ValueError("mpi4numba.ialltoall: recv_data has fewer than count * size elements")
        _dense(recv_data, "mpi4numba.ialltoall: recv_data must be C-contiguous")
        _dense(send_data, "mpi4numba.ialltoall: send_data must be C-contiguous")
        datatype, per_element = element_type(recv_data)
        send, _, _, _ = _send_block(send_data, recv_data, count, count * size)
        request = new_request((send_data, recv_data))
        code = _capi.MPI_Ialltoall(send, count * per_element, datatype, recv_data.ctypes.data, count * per_element,
                                   datatype, comm_handle(comm), request.ctypes.data)
        return _posted(code, request)

    return impl


@register_jitable
def _layout(counts, displacements, size, capacity, significant, what):
    """Counts and displacements as C ints; where ``significant``, every block must lie in
    ``capacity`` elements (``what`` says where)."""
    sizes = c_ints(counts)
    offsets = displacements_or_default(sizes, displacements)
    if sizes.size < size or offsets.size < size:
        raise ValueError("mpi4numba: counts and displacements need one entry per process")
    for i in range(size):
        if sizes[i] < 0 or (significant and (offsets[i] < 0 or offsets[i] + sizes[i] > capacity)):
            raise ValueError(what)
    return sizes, offsets


@api
def igatherv(send_data, recv_data, counts, displacements, root, comm=None):
    """Start collecting ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data``
    on ``root`` at ``displacements[r]`` (``MPI_Igatherv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import igatherv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> everyone = np.zeros(size * (size + 1) // 2)
    >>> status, request = igatherv(np.ones(rank + 1), everyone, np.arange(1, size + 1), None, 0)
    >>> status, mpi4numba.wait(request), rank != 0 or everyone.sum() == everyone.size
    (0, 0, True)
    """
    _vector("igatherv", counts, displacements)
    integer(root, "igatherv", "root")
    send_in_place = _arrays("igatherv", send_data, recv_data, True, False) == "send"

    def impl(send_data, recv_data, counts, displacements, root, comm=None):
        rank, size = rank_size(comm)
        significant = rank == root or send_in_place
        sizes, offsets = _layout(counts, displacements, size, recv_data.size, significant,
                                 "mpi4numba.igatherv: a block lies outside recv_data")
        if significant:
            _dense(recv_data, "mpi4numba.igatherv: recv_data must be C-contiguous")
        datatype, derived = element_datatype(recv_data)
        if send_in_place:
            mine = element_address(recv_data, offsets[rank])
            send = IN_PLACE_ADDRESS if rank == root else mine
            n, send_type, send_derived = sizes[rank] * 1, datatype, False
        else:
            if send_data.size < sizes[rank]:
                raise ValueError("mpi4numba.igatherv: send_data has fewer than counts[rank] elements")
            send, n, send_type, send_derived = _block(send_data, sizes[rank])
        request = new_request((send_data, recv_data, sizes, offsets))
        code = _capi.MPI_Igatherv(send, n, send_type, recv_data.ctypes.data, sizes.ctypes.data, offsets.ctypes.data,
                                  datatype, root, comm_handle(comm), request.ctypes.data)
        release(send_type, send_derived)
        release(datatype, derived)
        return _posted(code, request)

    return impl


@api
def iscatterv(send_data, counts, displacements, recv_data, root, comm=None):
    """Start sending ``counts[r]`` elements at ``displacements[r]`` of ``send_data`` on
    ``root`` to rank r, into ``recv_data`` (``MPI_Iscatterv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iscatterv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> mine = np.empty(rank + 1)
    >>> status, request = iscatterv(np.ones(size * (size + 1) // 2), np.arange(1, size + 1), None, mine, 0)
    >>> status, mpi4numba.wait(request), mine.sum() == rank + 1
    (0, 0, True)
    """
    _vector("iscatterv", counts, displacements)
    integer(root, "iscatterv", "root")
    recv_in_place = _arrays("iscatterv", send_data, recv_data, False, True) == "recv"

    def impl(send_data, counts, displacements, recv_data, root, comm=None):
        rank, size = rank_size(comm)
        significant = rank == root or recv_in_place
        sizes, offsets = _layout(counts, displacements, size, send_data.size, significant,
                                 "mpi4numba.iscatterv: a block lies outside send_data")
        if significant:
            _dense(send_data, "mpi4numba.iscatterv: send_data must be C-contiguous")
        datatype, derived = element_datatype(send_data)
        if recv_in_place:
            mine = element_address(send_data, offsets[rank])
            receive = IN_PLACE_ADDRESS if rank == root else mine
            n, recv_type, recv_derived = sizes[rank] * 1, datatype, False
        else:
            if recv_data.size < sizes[rank]:
                raise ValueError("mpi4numba.iscatterv: recv_data has fewer than counts[rank] elements")
            receive, n, recv_type, recv_derived = _block(recv_data, sizes[rank])
        request = new_request((send_data, recv_data, sizes, offsets))
        code = _capi.MPI_Iscatterv(send_data.ctypes.data, sizes.ctypes.data, offsets.ctypes.data, datatype,
                                   receive, n, recv_type, root, comm_handle(comm), request.ctypes.data)
        release(recv_type, recv_derived)
        release(datatype, derived)
        return _posted(code, request)

    return impl


@api
def iallgatherv(send_data, recv_data, counts, displacements=None, comm=None):
    """Start collecting ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data``
    at ``displacements[r]`` on every process (``MPI_Iallgatherv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iallgatherv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> everyone = np.zeros(size * (size + 1) // 2)
    >>> status, request = iallgatherv(np.ones(rank + 1), everyone, np.arange(1, size + 1))
    >>> status, mpi4numba.wait(request), everyone.sum() == everyone.size
    (0, 0, True)
    """
    _vector("iallgatherv", counts, displacements)
    _arrays("iallgatherv", send_data, recv_data, True, False)

    def impl(send_data, recv_data, counts, displacements=None, comm=None):
        rank, size = rank_size(comm)
        sizes, offsets = _layout(counts, displacements, size, recv_data.size, True,
                                 "mpi4numba.iallgatherv: a block lies outside recv_data")
        _dense(recv_data, "mpi4numba.iallgatherv: recv_data must be C-contiguous")
        datatype, derived = element_datatype(recv_data)
        send, n, send_type, send_derived = _send_block(send_data, recv_data, sizes[rank], sizes[rank])
        request = new_request((send_data, recv_data, sizes, offsets))
        code = _capi.MPI_Iallgatherv(send, n, send_type, recv_data.ctypes.data, sizes.ctypes.data,
                                     offsets.ctypes.data, datatype, comm_handle(comm), request.ctypes.data)
        release(send_type, send_derived)
        release(datatype, derived)
        return _posted(code, request)

    return impl


def _send_layout(send_data, send_counts, send_displacements, r_sizes, r_offsets, size):  # pragma: no cover
    raise NotImplementedError


@overload(_send_layout)
def _send_layout_impl(send_data, send_counts, send_displacements, r_sizes, r_offsets, size):
    """alltoallv's send counts, displacements and address (IN_PLACE: the receive layout)."""
    if is_in_place(send_data):
        return lambda send_data, send_counts, send_displacements, r_sizes, r_offsets, size: (
            r_sizes, r_offsets, IN_PLACE_ADDRESS)

    def regular(send_data, send_counts, send_displacements, r_sizes, r_offsets, size):
        sizes, offsets = _layout(send_counts, send_displacements, size, send_data.size, True,
                                 "mpi4numba.ialltoallv: a block lies outside send_data")
        _dense(send_data, "mpi4numba.ialltoallv: send_data must be C-contiguous")
        return sizes, offsets, send_data.ctypes.data

    return regular


@api
def ialltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
    """Start sending ``send_counts[r]`` elements at ``send_displacements[r]`` to rank r and
    receiving ``recv_counts[r]`` elements from rank r at ``recv_displacements[r]``
    (``MPI_Ialltoallv``); returns ``(status, request)``. With ``IN_PLACE`` as ``send_data``
    the send counts and displacements are ignored (pass ``None``).

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ialltoallv
    >>> size = mpi4numba.size()
    >>> ones, received = np.ones(size, np.int32), np.empty(size)
    >>> status, request = ialltoallv(np.arange(1.0 * size), ones, None, received, ones, None)
    >>> status, mpi4numba.wait(request), received[0] == mpi4numba.rank()
    (0, 0, True)
    """
    send_in_place = _arrays("ialltoallv", send_data, recv_data, True, False) == "send"
    _vector("ialltoallv", recv_counts, recv_displacements)
    if not send_in_place:
        _vector("ialltoallv", send_counts, send_displacements)

    def impl(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
        size = rank_size(comm)[1]
        r_sizes, r_offsets = _layout(recv_counts, recv_displacements, size, recv_data.size, True,
                                     "mpi4numba.ialltoallv: a block lies outside recv_data")
        _dense(recv_data, "mpi4numba.ialltoallv: recv_data must be C-contiguous")
        s_sizes, s_offsets, send = _send_layout(send_data, send_counts, send_displacements, r_sizes, r_offsets, size)
        datatype, derived = element_datatype(recv_data)
        request = new_request((send_data, recv_data, s_sizes, s_offsets, r_sizes, r_offsets))
        code = _capi.MPI_Ialltoallv(send, s_sizes.ctypes.data, s_offsets.ctypes.data, datatype, recv_data.ctypes.data,
                                    r_sizes.ctypes.data, r_offsets.ctypes.data, datatype, comm_handle(comm),
                                    request.ctypes.data)
        release(datatype, derived)
        return _posted(code, request)

    return impl
