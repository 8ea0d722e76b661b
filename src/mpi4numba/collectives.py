"""Data-movement collectives: barrier, bcast, scatter(v), gather(v), allgather(v), alltoall(v).

All processes of ``comm`` (default ``COMM_WORLD``) must call a collective with matching
arguments; each returns MPI's status code. Counts and displacements are in elements of
the arrays' dtype, given as integer arrays with one entry per process; displacements
may be ``None`` for blocks packed one after the other. Problems that only one process
can see (a buffer too short for its blocks) raise ``ValueError`` on that process before
the call, so the job fails loudly rather than hanging or truncating.

Buffers need not be contiguous, and non-contiguous ones are not copied where MPI can
address them in place: a process's own block that is a whole strided array (``data`` of
bcast, ``recv_data`` of scatter(v), ``send_data`` of gather(v)) is one element of a
cached derived datatype; a buffer of several blocks (the root's full buffer, both
buffers of alltoall(v), the receive buffer of allgather(v)) is a sequence of equal units
at one spacing, such as the rows of ``a[:, :5]`` or the elements of ``x[::2]``, when every
count and displacement is a whole number of units. Other layouts (blocks starting in
the middle of a row, negative steps inside a row) are copied into a temporary.

``IN_PLACE`` (mpi4py's ``MPI.IN_PLACE``) may replace the send buffer of gather(v) and
allgather(v) and the receive buffer of scatter(v): each process's own block then stays
where it is in the full-size buffer. Non-root processes may pass ``IN_PLACE`` too (their
block is sent from, or received into, their place in the full buffer), so every rank
can make the same call. ``alltoall(v)`` with ``IN_PLACE`` as ``send_data`` exchanges the
blocks of ``recv_data`` in place.
"""

from __future__ import annotations

import operator

from numba.core import types
from numba.core.errors import TypingError

from . import _capi
from ._api import api, lowering
from ._buffers import (
    IN_PLACE_ADDRESS,
    block_address,
    c_ints,
    check_layout,
    check_lengths,
    copy_back,
    displacements_or_default,
    full_buffer,
    full_buffer_v,
    is_in_place,
    mpi_count,
    rank_size,
)
from ._commtype import comm_handle
from ._lowering import is_contiguous_layout
from ._validate import array, integer, same_dtype
from .datatypes import release

__all__ = ["barrier", "bcast", "scatter", "gather", "allgather", "scatterv", "gatherv", "allgatherv",
           "alltoall", "alltoallv"]


def _arrays(where: str, send_data, recv_data, send_in_place_ok: bool, recv_in_place_ok: bool) -> str:
    """Validate send/recv buffers; returns which one is IN_PLACE ('send', 'recv' or '')."""
    if is_in_place(send_data) and send_in_place_ok:
        array(recv_data, where, "recv_data", writable=True)
        return "send"
    if is_in_place(recv_data) and recv_in_place_ok:
        array(send_data, where, "send_data", writable=True)
        return "recv"
    array(send_data, where, "send_data")
    array(recv_data, where, "recv_data", writable=True)
    same_dtype(send_data, recv_data, where)
    return ""


def _dense(*buffers) -> bool:
    """Whether every buffer is C-contiguous by its type (or IN_PLACE): the call is then
    emitted in place, without temporaries or derived datatypes."""
    return all(is_in_place(b) or is_contiguous_layout(b) for b in buffers)


@lowering(types.int32)
def _BARRIER(e, comm):
    return e(_capi.MPI_Barrier, e.comm(comm))


@lowering(types.int32)
def _BCAST(e, data, root, comm):
    buf = e.buffer(data)
    code = e(_capi.MPI_Bcast, buf.address, buf.count, buf.datatype, root, e.comm(comm))
    e.release(buf)
    return code


def _rooted(c_function, where: str, full_name: str, block_name: str):
    """The body of scatter (the full buffer is sent) or gather (it is received) on
    C-contiguous buffers; ``IN_PLACE`` for the block leaves a process's block in place."""
    sends_full = full_name == "send_data"

    @lowering(types.int32)
    def body(e, send_data, recv_data, count, root, comm):
        handle = e.comm(comm)
        rank, size = e(_capi.MPI_Comm_rank, handle)[1], e(_capi.MPI_Comm_size, handle)[1]
        full, block = (send_data, recv_data) if sends_full else (recv_data, send_data)
        if is_in_place(block.type):
            e.check(e.size(full) >= count * size, ValueError,
                    f"mpi4numba.{where}: with IN_PLACE, {full_name} needs count * size elements")
            mine = e.select(rank == root, e.in_place(), e.element_address(full, rank * count))
        else:
            e.check(e.size(block) >= count, ValueError, f"mpi4numba.{where}: {block_name} has fewer than count elements")
            e.check((rank != root) | (e.size(full) >= count * size), ValueError,
                    f"mpi4numba.{where}: {full_name} on root has fewer than count * size elements")
            mine = e.data(block)
        datatype, per_element = e.element_type(full)
        n = count * per_element
        if sends_full:
            return e(c_function, e.data(full), n, datatype, mine, n, datatype, root, handle)
        return e(c_function, mine, n, datatype, e.data(full), n, datatype, root, handle)

    return body


_SCATTER = _rooted(_capi.MPI_Scatter, "scatter", "send_data", "recv_data")
_GATHER = _rooted(_capi.MPI_Gather, "gather", "recv_data", "send_data")


def _everyone(c_function, where: str, send_blocks: str):
    """The body of allgather (``send_blocks`` "count") or alltoall ("count * size") on
    C-contiguous buffers (``IN_PLACE`` as send_data: MPI's in-place form)."""

    @lowering(types.int32)
    def body(e, send_data, recv_data, count, comm):
        handle = e.comm(comm)
        size = e(_capi.MPI_Comm_size, handle)[1]
        e.check(e.size(recv_data) >= count * size, ValueError,
                f"mpi4numba.{where}: recv_data has fewer than count * size elements")
        if is_in_place(send_data.type):
            source = e.in_place()
        else:
            needed = count if send_blocks == "count" else count * size
            e.check(e.size(send_data) >= needed, ValueError,
                    f"mpi4numba.{where}: send_data has fewer than {send_blocks} elements")
            source = e.data(send_data)
        datatype, per_element = e.element_type(recv_data)
        n = count * per_element
        return e(c_function, source, n, datatype, e.data(recv_data), n, datatype, handle)

    return body


_ALLGATHER = _everyone(_capi.MPI_Allgather, "allgather", "count")
_ALLTOALL = _everyone(_capi.MPI_Alltoall, "alltoall", "count * size")


def _lengths_message(where: str) -> str:
    return f"mpi4numba.{where}: counts and displacements need one entry per process"


def _rooted_v(c_function, where: str, full_name: str, block_name: str):
    """The body of scatterv (the full buffer is sent) or gatherv (received) on C-contiguous
    buffers: one MPI element per array element; only the root checks the full buffer's
    blocks; ``IN_PLACE`` for the block leaves a process's block in the full buffer."""
    sends_full = full_name == "send_data"

    def body(e, full, block, counts, displacements, root, comm):
        handle = e.comm(comm)
        rank, size = e(_capi.MPI_Comm_rank, handle)[1], e(_capi.MPI_Comm_size, handle)[1]
        sizes, offsets = e.vector_blocks(counts, displacements, size, _lengths_message(where))
        mine = e(operator.getitem, sizes, rank)
        in_place = is_in_place(block.type)
        with e.when(in_place or rank == root):  # only the root's full buffer holds every block
            e.blocks_inside(sizes, offsets, size, e.size(full), f"mpi4numba.{where}: a block lies outside {full_name}")
        if in_place:
            address = e.select(rank == root, e.in_place(), e.element_address(full, e(operator.getitem, offsets, rank)))
        else:
            e.check(e.size(block) >= mine, ValueError, f"mpi4numba.{where}: {block_name} has fewer than counts[rank] "
                    "elements")
            address = e.data(block)
        datatype, derived = e.element_datatype(full)
        if sends_full:
            code = e(c_function, e.data(full), e.data(sizes), e.data(offsets), datatype, address, mine, datatype,
                     root, handle)
        else:
            code = e(c_function, address, mine, datatype, e.data(full), e.data(sizes), e.data(offsets), datatype,
                     root, handle)
        e.release_datatype(datatype, derived)
        return code

    if sends_full:
        return lowering(types.int32)(lambda e, send_data, counts, displacements, recv_data, root, comm: body(
            e, send_data, recv_data, counts, displacements, root, comm))
    return lowering(types.int32)(lambda e, send_data, recv_data, counts, displacements, root, comm: body(
        e, recv_data, send_data, counts, displacements, root, comm))


_SCATTERV = _rooted_v(_capi.MPI_Scatterv, "scatterv", "send_data", "recv_data")
_GATHERV = _rooted_v(_capi.MPI_Gatherv, "gatherv", "recv_data", "send_data")


@lowering(types.int32)
def _ALLGATHERV(e, send_data, recv_data, counts, displacements, comm):
    handle = e.comm(comm)
    rank, size = e(_capi.MPI_Comm_rank, handle)[1], e(_capi.MPI_Comm_size, handle)[1]
    sizes, offsets = e.vector_blocks(counts, displacements, size, _lengths_message("allgatherv"))
    e.blocks_inside(sizes, offsets, size, e.size(recv_data), "mpi4numba.allgatherv: a block lies outside recv_data")
    datatype, derived = e.element_datatype(recv_data)
    if is_in_place(send_data.type):
        source, count = e.in_place(), e.const(0, types.int32)
    else:
        count = e(operator.getitem, sizes, rank)
        e.check(e.size(send_data) >= count, ValueError,
                "mpi4numba.allgatherv: send_data has fewer than counts[rank] elements")
        source = e.data(send_data)
    code = e(_capi.MPI_Allgatherv, source, count, datatype, e.data(recv_data), e.data(sizes), e.data(offsets),
             datatype, handle)
    e.release_datatype(datatype, derived)
    return code


@lowering(types.int32)
def _ALLTOALLV(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    handle = e.comm(comm)
    size = e(_capi.MPI_Comm_size, handle)[1]
    r_sizes, r_offsets = e.vector_blocks(recv_counts, recv_displacements, size, _lengths_message("alltoallv"))
    e.blocks_inside(r_sizes, r_offsets, size, e.size(recv_data), "mpi4numba.alltoallv: a block lies outside recv_data")
    if is_in_place(send_data.type):  # MPI ignores the send counts: the receive ones describe both
        source, s_sizes, s_offsets = e.in_place(), r_sizes, r_offsets
    else:
        s_sizes, s_offsets = e.vector_blocks(send_counts, send_displacements, size, _lengths_message("alltoallv"))
        e.blocks_inside(s_sizes, s_offsets, size, e.size(send_data),
                        "mpi4numba.alltoallv: a block lies outside send_data")
        source = e.data(send_data)
    datatype, derived = e.element_datatype(recv_data)
    code = e(_capi.MPI_Alltoallv, source, e.data(s_sizes), e.data(s_offsets), datatype, e.data(recv_data),
             e.data(r_sizes), e.data(r_offsets), datatype, handle)
    e.release_datatype(datatype, derived)
    return code


@api
def barrier(comm=None):
    """Block until every process of ``comm`` has called it (``MPI_Barrier``); returns the status.

    >>> import mpi4numba
    >>> mpi4numba.barrier()
    0
    """
    return _BARRIER


@api
def bcast(data, root, comm=None):
    """Broadcast the array ``data`` from ``root`` to all processes (``MPI_Bcast``).

    Strided views are sent in place through a derived datatype.

    >>> import numpy as np, mpi4numba
    >>> data = np.arange(3) if mpi4numba.rank() == 0 else np.empty(3, np.int64)
    >>> mpi4numba.bcast(data, 0), data
    (0, array([0, 1, 2]))
    """
    array(data, "bcast", "data", writable=True)
    integer(root, "bcast", "root")
    return _BCAST


@api
def scatter(send_data, recv_data, count, root, comm=None):
    """Send ``count`` consecutive elements of ``send_data`` on ``root`` to each process, in
    rank order, into ``recv_data`` (``MPI_Scatter``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> parts = np.arange(2.0 * size) if rank == 0 else np.zeros(2 * size)  # only the root's are sent
    >>> mine = np.empty(2)
    >>> mpi4numba.scatter(parts, mine, 2, 0), mine.tolist() == [2.0 * rank, 2.0 * rank + 1]
    (0, True)
    """
    integer(count, "scatter", "count")
    integer(root, "scatter", "root")
    in_place_form = _arrays("scatter", send_data, recv_data, False, True) == "recv"
    if _dense(send_data, recv_data):
        return _SCATTER
    if in_place_form:

        def in_place(send_data, recv_data, count, root, comm=None):
            rank, size = rank_size(comm)
            if send_data.size < count * size:
                raise ValueError("mpi4numba.scatter: with IN_PLACE, send_data needs count * size elements")
            full = full_buffer(send_data, count, True)
            n = mpi_count(full, count)
            receive = IN_PLACE_ADDRESS if rank == root else block_address(full, rank * count)
            code = _capi.MPI_Scatter(full[0].ctypes.data, n, full[1], receive, n, full[1], root, comm_handle(comm))
            copy_back(send_data, full[0], count * size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = rank_size(comm)
        if recv_data.size < count:
            raise ValueError("mpi4numba.scatter: recv_data has fewer than count elements")
        if rank == root and send_data.size < count * size:
            raise ValueError("mpi4numba.scatter: send_data on root has fewer than count * size elements")
        full = full_buffer(send_data, count, rank == root)
        mine = full_buffer(recv_data, count, True)
        code = _capi.MPI_Scatter(full[0].ctypes.data, mpi_count(full, count), full[1], mine[0].ctypes.data,
                                 mpi_count(mine, count), mine[1], root, comm_handle(comm))
        copy_back(recv_data, mine[0], count)
        release(full[1], full[2])
        release(mine[1], mine[2])
        return code

    return impl


@api
def gather(send_data, recv_data, count, root, comm=None):
    """Collect ``count`` elements of ``send_data`` from each process into ``recv_data`` on
    ``root``, in rank order (``MPI_Gather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> everyone = np.zeros(size)
    >>> mpi4numba.gather(np.array([10.0 * rank]), everyone, 1, 0)
    0
    >>> rank != 0 or everyone.tolist() == [10.0 * r for r in range(size)]  # filled on the root
    True
    """
    integer(count, "gather", "count")
    integer(root, "gather", "root")
    in_place_form = _arrays("gather", send_data, recv_data, True, False) == "send"
    if _dense(send_data, recv_data):
        return _GATHER
    if in_place_form:

        def in_place(send_data, recv_data, count, root, comm=None):
            rank, size = rank_size(comm)
            if recv_data.size < count * size:
                raise ValueError("mpi4numba.gather: with IN_PLACE, recv_data needs count * size elements")
            full = full_buffer(recv_data, count, True)
            n = mpi_count(full, count)
            send = IN_PLACE_ADDRESS if rank == root else block_address(full, rank * count)
            code = _capi.MPI_Gather(send, n, full[1], full[0].ctypes.data, n, full[1], root, comm_handle(comm))
            copy_back(recv_data, full[0], count * size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, count, root, comm=None):
        rank, size = rank_size(comm)
        if send_data.size < count:
            raise ValueError("mpi4numba.gather: send_data has fewer than count elements")
        if rank == root and recv_data.size < count * size:
            raise ValueError("mpi4numba.gather: recv_data on root has fewer than count * size elements")
        mine = full_buffer(send_data, count, True)
        full = full_buffer(recv_data, count, rank == root)
        code = _capi.MPI_Gather(mine[0].ctypes.data, mpi_count(mine, count), mine[1], full[0].ctypes.data,
                                mpi_count(full, count), full[1], root, comm_handle(comm))
        if rank == root:
            copy_back(recv_data, full[0], count * size)
        release(mine[1], mine[2])
        release(full[1], full[2])
        return code

    return impl


@api
def allgather(send_data, recv_data, count, comm=None):
    """Collect ``count`` elements of ``send_data`` from each process into ``recv_data`` on
    every process, in rank order (``MPI_Allgather``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> everyone = np.zeros(size)
    >>> everyone[rank] = 10.0 * rank  # this process's block, sent from its place
    >>> mpi4numba.allgather(mpi4numba.IN_PLACE, everyone, 1), everyone.tolist() == [10.0 * r for r in range(size)]
    (0, True)
    """
    integer(count, "allgather", "count")
    in_place_form = _arrays("allgather", send_data, recv_data, True, False) == "send"
    if _dense(send_data, recv_data):
        return _ALLGATHER
    if in_place_form:

        def in_place(send_data, recv_data, count, comm=None):
            size = rank_size(comm)[1]
            if recv_data.size < count * size:
                raise ValueError("mpi4numba.allgather: recv_data has fewer than count * size elements")
            full = full_buffer(recv_data, count, True)
            n = mpi_count(full, count)
            code = _capi.MPI_Allgather(IN_PLACE_ADDRESS, n, full[1], full[0].ctypes.data, n, full[1], comm_handle(comm))
            copy_back(recv_data, full[0], count * size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, count, comm=None):
        size = rank_size(comm)[1]
        if recv_data.size < count * size:
            raise ValueError("mpi4numba.allgather: recv_data has fewer than count * size elements")
        if send_data.size < count:
            raise ValueError("mpi4numba.allgather: send_data has fewer than count elements")
        mine = full_buffer(send_data, count, True)
        full = full_buffer(recv_data, count, True)
        code = _capi.MPI_Allgather(mine[0].ctypes.data, mpi_count(mine, count), mine[1], full[0].ctypes.data,
                                   mpi_count(full, count), full[1], comm_handle(comm))
        copy_back(recv_data, full[0], count * size)
        release(mine[1], mine[2])
        release(full[1], full[2])
        return code

    return impl


@api
def alltoall(send_data, recv_data, count, comm=None):
    """Send block r (``count`` elements) of ``send_data`` to rank r and receive rank r's
    block into block r of ``recv_data`` (``MPI_Alltoall``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> outgoing = 100.0 * rank + np.arange(size)  # element r goes to rank r
    >>> received = np.empty(size)
    >>> mpi4numba.alltoall(outgoing, received, 1), received.tolist() == [100.0 * r + rank for r in range(size)]
    (0, True)
    """
    integer(count, "alltoall", "count")
    in_place_form = _arrays("alltoall", send_data, recv_data, True, False) == "send"
    if _dense(send_data, recv_data):
        return _ALLTOALL
    if in_place_form:

        def in_place(send_data, recv_data, count, comm=None):
            size = rank_size(comm)[1]
            if recv_data.size < count * size:
                raise ValueError("mpi4numba.alltoall: recv_data has fewer than count * size elements")
            full = full_buffer(recv_data, count, True)
            n = mpi_count(full, count)
            code = _capi.MPI_Alltoall(IN_PLACE_ADDRESS, n, full[1], full[0].ctypes.data, n, full[1], comm_handle(comm))
            copy_back(recv_data, full[0], count * size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, count, comm=None):
        size = rank_size(comm)[1]
        if recv_data.size < count * size:
            raise ValueError("mpi4numba.alltoall: recv_data has fewer than count * size elements")
        if send_data.size < count * size:
            raise ValueError("mpi4numba.alltoall: send_data has fewer than count * size elements")
        source = full_buffer(send_data, count, True)
        target = full_buffer(recv_data, count, True)
        code = _capi.MPI_Alltoall(source[0].ctypes.data, mpi_count(source, count), source[1], target[0].ctypes.data,
                                  mpi_count(target, count), target[1], comm_handle(comm))
        copy_back(recv_data, target[0], count * size)
        release(source[1], source[2])
        release(target[1], target[2])
        return code

    return impl


def _vector(where: str, counts, displacements) -> None:
    for value, what in ((counts, "counts"), (displacements, "displacements")):
        if not (isinstance(value, (types.NoneType, types.Omitted)) and what == "displacements"):
            if not isinstance(value, types.Array) or not isinstance(value.dtype, types.Integer) or value.ndim != 1:
                raise TypingError(f"mpi4numba.{where}: {what} must be a 1-D integer array, got {value}")


@api
def scatterv(send_data, counts, displacements, recv_data, root, comm=None):
    """Send ``counts[r]`` elements starting at ``displacements[r]`` of ``send_data`` on
    ``root`` to rank r, into ``recv_data`` (``MPI_Scatterv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r gets r + 1 elements
    >>> parts = np.arange(1.0 * counts.sum())  # on the root: 0 | 1 2 | 3 4 5 | ...
    >>> mine = np.empty(rank + 1)
    >>> first = rank * (rank + 1) // 2
    >>> mpi4numba.scatterv(parts, counts, None, mine, 0), mine.tolist() == list(range(first, first + rank + 1))
    (0, True)
    """
    _vector("scatterv", counts, displacements)
    integer(root, "scatterv", "root")
    in_place_form = _arrays("scatterv", send_data, recv_data, False, True) == "recv"
    if _dense(send_data, recv_data):
        return _SCATTERV
    if in_place_form:

        def in_place(send_data, counts, displacements, recv_data, root, comm=None):
            rank, size = rank_size(comm)
            sizes = c_ints(counts)
            offsets = displacements_or_default(sizes, displacements)
            check_lengths(sizes, offsets, size, "mpi4numba.scatterv: counts and displacements need one entry "
                          "per process")
            check_layout(sizes, offsets, size, send_data.size, "mpi4numba.scatterv: a block lies outside send_data")
            full, units, starts = full_buffer_v(send_data, sizes, offsets, True)
            receive = IN_PLACE_ADDRESS if rank == root else block_address(full, offsets[rank])
            code = _capi.MPI_Scatterv(full[0].ctypes.data, units.ctypes.data, starts.ctypes.data, full[1],
                                      receive, units[rank], full[1], root, comm_handle(comm))
            copy_back(send_data, full[0], send_data.size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, counts, displacements, recv_data, root, comm=None):
        rank, size = rank_size(comm)
        sizes = c_ints(counts)
        offsets = displacements_or_default(sizes, displacements)
        check_lengths(sizes, offsets, size, "mpi4numba.scatterv: counts and displacements need one entry "
                      "per process")
        if rank == root:
            check_layout(sizes, offsets, size, send_data.size, "mpi4numba.scatterv: a block lies outside send_data")
        if recv_data.size < sizes[rank]:
            raise ValueError("mpi4numba.scatterv: recv_data has fewer than counts[rank] elements")
        full, units, starts = full_buffer_v(send_data, sizes, offsets, rank == root)
        mine = full_buffer(recv_data, sizes[rank], True)
        code = _capi.MPI_Scatterv(full[0].ctypes.data, units.ctypes.data, starts.ctypes.data, full[1],
                                  mine[0].ctypes.data, mpi_count(mine, sizes[rank]), mine[1], root, comm_handle(comm))
        copy_back(recv_data, mine[0], sizes[rank])
        release(full[1], full[2])
        release(mine[1], mine[2])
        return code

    return impl


@api
def gatherv(send_data, recv_data, counts, displacements, root, comm=None):
    """Collect ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data`` on
    ``root`` at ``displacements[r]`` (``MPI_Gatherv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> mpi4numba.gatherv(np.full(rank + 1, 1.0 * rank), everyone, counts, None, 0)
    0
    >>> rank != 0 or everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]  # 0 1 1 2 2 2 ...
    True
    """
    _vector("gatherv", counts, displacements)
    integer(root, "gatherv", "root")
    in_place_form = _arrays("gatherv", send_data, recv_data, True, False) == "send"
    if _dense(send_data, recv_data):
        return _GATHERV
    if in_place_form:

        def in_place(send_data, recv_data, counts, displacements, root, comm=None):
            rank, size = rank_size(comm)
            sizes = c_ints(counts)
            offsets = displacements_or_default(sizes, displacements)
            check_lengths(sizes, offsets, size, "mpi4numba.gatherv: counts and displacements need one entry "
                          "per process")
            check_layout(sizes, offsets, size, recv_data.size, "mpi4numba.gatherv: a block lies outside recv_data")
            full, units, starts = full_buffer_v(recv_data, sizes, offsets, True)
            send = IN_PLACE_ADDRESS if rank == root else block_address(full, offsets[rank])
            code = _capi.MPI_Gatherv(send, units[rank], full[1], full[0].ctypes.data, units.ctypes.data,
                                     starts.ctypes.data, full[1], root, comm_handle(comm))
            copy_back(recv_data, full[0], recv_data.size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, counts, displacements, root, comm=None):
        rank, size = rank_size(comm)
        sizes = c_ints(counts)
        offsets = displacements_or_default(sizes, displacements)
        check_lengths(sizes, offsets, size, "mpi4numba.gatherv: counts and displacements need one entry "
                      "per process")
        if rank == root:
            check_layout(sizes, offsets, size, recv_data.size, "mpi4numba.gatherv: a block lies outside recv_data")
        if send_data.size < sizes[rank]:
            raise ValueError("mpi4numba.gatherv: send_data has fewer than counts[rank] elements")
        mine = full_buffer(send_data, sizes[rank], True)
        full, units, starts = full_buffer_v(recv_data, sizes, offsets, rank == root)
        code = _capi.MPI_Gatherv(mine[0].ctypes.data, mpi_count(mine, sizes[rank]), mine[1], full[0].ctypes.data,
                                 units.ctypes.data, starts.ctypes.data, full[1], root, comm_handle(comm))
        if rank == root:
            copy_back(recv_data, full[0], recv_data.size)
        release(mine[1], mine[2])
        release(full[1], full[2])
        return code

    return impl


@api
def allgatherv(send_data, recv_data, counts, displacements=None, comm=None):
    """Collect ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data`` at
    ``displacements[r]`` on every process (``MPI_Allgatherv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> mpi4numba.allgatherv(np.full(rank + 1, 1.0 * rank), everyone, counts)
    0
    >>> everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]  # 0 1 1 2 2 2 ...
    True
    """
    _vector("allgatherv", counts, displacements)
    in_place_form = _arrays("allgatherv", send_data, recv_data, True, False) == "send"
    if _dense(send_data, recv_data):
        return _ALLGATHERV
    if in_place_form:

        def in_place(send_data, recv_data, counts, displacements=None, comm=None):
            size = rank_size(comm)[1]
            sizes = c_ints(counts)
            offsets = displacements_or_default(sizes, displacements)
            check_lengths(sizes, offsets, size, "mpi4numba.allgatherv: counts and displacements need one entry "
                          "per process")
            check_layout(sizes, offsets, size, recv_data.size, "mpi4numba.allgatherv: a block lies outside recv_data")
            full, units, starts = full_buffer_v(recv_data, sizes, offsets, True)
            code = _capi.MPI_Allgatherv(IN_PLACE_ADDRESS, 0, full[1], full[0].ctypes.data, units.ctypes.data,
                                        starts.ctypes.data, full[1], comm_handle(comm))
            copy_back(recv_data, full[0], recv_data.size)
            release(full[1], full[2])
            return code

        return in_place

    def impl(send_data, recv_data, counts, displacements=None, comm=None):
        rank, size = rank_size(comm)
        sizes = c_ints(counts)
        offsets = displacements_or_default(sizes, displacements)
        check_lengths(sizes, offsets, size, "mpi4numba.allgatherv: counts and displacements need one entry "
                      "per process")
        check_layout(sizes, offsets, size, recv_data.size, "mpi4numba.allgatherv: a block lies outside recv_data")
        if send_data.size < sizes[rank]:
            raise ValueError("mpi4numba.allgatherv: send_data has fewer than counts[rank] elements")
        mine = full_buffer(send_data, sizes[rank], True)
        full, units, starts = full_buffer_v(recv_data, sizes, offsets, True)
        code = _capi.MPI_Allgatherv(mine[0].ctypes.data, mpi_count(mine, sizes[rank]), mine[1], full[0].ctypes.data,
                                    units.ctypes.data, starts.ctypes.data, full[1], comm_handle(comm))
        copy_back(recv_data, full[0], recv_data.size)
        release(mine[1], mine[2])
        release(full[1], full[2])
        return code

    return impl


@api
def alltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
    """Send ``send_counts[r]`` elements at ``send_displacements[r]`` to rank r and receive
    ``recv_counts[r]`` elements from rank r at ``recv_displacements[r]`` (``MPI_Alltoallv``).

    With ``IN_PLACE`` as ``send_data`` the send counts and displacements are ignored (pass
    ``None``) and the blocks of ``recv_data`` are exchanged in place.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> ones = np.ones(size, np.int32)  # one element to and from each process, packed
    >>> received = np.empty(size)
    >>> mpi4numba.alltoallv(100.0 * rank + np.arange(size), ones, None, received, ones, None)
    0
    >>> received.tolist() == [100.0 * r + rank for r in range(size)]
    True
    """
    send_in_place = _arrays("alltoallv", send_data, recv_data, True, False) == "send"
    _vector("alltoallv", recv_counts, recv_displacements)
    if not send_in_place:
        _vector("alltoallv", send_counts, send_displacements)
    if _dense(send_data, recv_data):
        return _ALLTOALLV
    if send_in_place:

        def in_place(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements,
                     comm=None):
            size = rank_size(comm)[1]
            sizes = c_ints(recv_counts)
            offsets = displacements_or_default(sizes, recv_displacements)
            check_lengths(sizes, offsets, size, "mpi4numba.alltoallv: counts and displacements need one entry "
                          "per process")
            check_layout(sizes, offsets, size, recv_data.size, "mpi4numba.alltoallv: a block lies outside recv_data")
            full, units, starts = full_buffer_v(recv_data, sizes, offsets, True)
            code = _capi.MPI_Alltoallv(IN_PLACE_ADDRESS, units.ctypes.data, starts.ctypes.data, full[1],
                                       full[0].ctypes.data, units.ctypes.data, starts.ctypes.data, full[1],
                                       comm_handle(comm))
            copy_back(recv_data, full[0], recv_data.size)
            release(full[1], full[2])
            return code

        return in_place
    _vector("alltoallv", send_counts, send_displacements)

    def impl(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
        size = rank_size(comm)[1]
        r_sizes = c_ints(recv_counts)
        r_offsets = displacements_or_default(r_sizes, recv_displacements)
        check_lengths(r_sizes, r_offsets, size, "mpi4numba.alltoallv: counts and displacements need one entry "
                      "per process")
        check_layout(r_sizes, r_offsets, size, recv_data.size, "mpi4numba.alltoallv: a block lies outside recv_data")
        s_sizes = c_ints(send_counts)
        s_offsets = displacements_or_default(s_sizes, send_displacements)
        check_lengths(s_sizes, s_offsets, size, "mpi4numba.alltoallv: counts and displacements need one entry "
                      "per process")
        check_layout(s_sizes, s_offsets, size, send_data.size, "mpi4numba.alltoallv: a block lies outside send_data")
        source, s_units, s_starts = full_buffer_v(send_data, s_sizes, s_offsets, True)
        target, r_units, r_starts = full_buffer_v(recv_data, r_sizes, r_offsets, True)
        code = _capi.MPI_Alltoallv(source[0].ctypes.data, s_units.ctypes.data, s_starts.ctypes.data, source[1],
                                   target[0].ctypes.data, r_units.ctypes.data, r_starts.ctypes.data, target[1],
                                   comm_handle(comm))
        copy_back(recv_data, target[0], recv_data.size)
        release(source[1], source[2])
        release(target[1], target[2])
        return code

    return impl
