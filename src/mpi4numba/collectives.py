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

from ._core import capi
from ._core.inplace import IN_PLACE, is_in_place
from ._support.api import api
from ._support.buffers import TOO_FEW_ENTRIES
from ._support.lowering import lowering
from ._support.validate import array, counts_and_displacements, integer, send_and_receive

__all__ = [
    "barrier",
    "bcast",
    "scatter",
    "gather",
    "allgather",
    "scatterv",
    "gatherv",
    "allgatherv",
    "alltoall",
    "alltoallv",
    "IN_PLACE",
]


@lowering(types.int32)
def _BARRIER(e, comm):
    return e(capi.MPI_Barrier, e.comm(comm))


@lowering(types.int32)
def _BCAST(e, data, root, comm):
    handle = e.comm(comm)
    receives = e(capi.MPI_Comm_rank, handle)[1] != root if e.may_pack(data) else None
    buf = e.buffer(data) if receives is None else e.buffer(data, fill=e.not_(receives))
    code = e(capi.MPI_Bcast, buf.address, buf.count, buf.datatype, root, handle)
    if receives is not None:
        e.received_all(buf, data, receives & (code == 0))
    e.release(buf)
    return code


def _rooted(c_function, full_name: str, block_name: str):
    """The body of scatter (the full buffer is sent) or gather (it is received); ``IN_PLACE``
    for the block leaves a process's block in its place in the full buffer."""
    sends_full = full_name == "send_data"

    @lowering(types.int32)
    def body(e, send_data, recv_data, count, root, comm):
        handle = e.comm(comm)
        rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
        full, block = (send_data, recv_data) if sends_full else (recv_data, send_data)
        if is_in_place(block.type):
            e.check(
                e.size(full) >= count * size,
                ValueError,
                f"mpi4numba: with IN_PLACE, {full_name} needs count * size elements",
            )
            whole = e.view(full, count)
            mine = e.select(rank == root, e.in_place(), e.view_address(whole, rank * count))
            n_own, own_type, finish = e.view_count(whole, count), whole.datatype, None
        else:
            e.check(e.size(block) >= count, ValueError, f"mpi4numba: {block_name} has fewer than count elements")
            e.check(
                (rank != root) | (e.size(full) >= count * size),
                ValueError,
                f"mpi4numba: {full_name} on root has fewer than count * size elements",
            )
            whole = e.view(full, count, rank == root)
            mine, n_own, own_type, finish = e.own_block(block, count, count, whole, receives=sends_full)
        n_full = e.view_count(whole, count)
        if sends_full:
            code = e(c_function, e.data(whole.array), n_full, whole.datatype, mine, n_own, own_type, root, handle)
        else:
            code = e(c_function, mine, n_own, own_type, e.data(whole.array), n_full, whole.datatype, root, handle)
        if finish is not None:
            finish(code)
        if finish is None or not sends_full:
            e.copy_back(full, whole, count * size)
        e.release_view(whole)
        return code

    return body


_SCATTER = _rooted(capi.MPI_Scatter, "send_data", "recv_data")
_GATHER = _rooted(capi.MPI_Gather, "recv_data", "send_data")


def _everyone(c_function, send_blocks: str):
    """The body of allgather (``send_blocks`` "count") or alltoall ("count * size");
    ``IN_PLACE`` as send_data: MPI's in-place form."""

    @lowering(types.int32)
    def body(e, send_data, recv_data, count, comm):
        handle = e.comm(comm)
        size = e(capi.MPI_Comm_size, handle)[1]
        e.check(
            e.size(recv_data) >= count * size, ValueError, "mpi4numba: recv_data has fewer than count * size elements"
        )
        target = e.view(recv_data, count)
        if is_in_place(send_data.type):
            address, units, datatype, finish = e.in_place(), e.view_count(target, count), target.datatype, None
        else:
            needed = count if send_blocks == "count" else count * size
            e.check(
                e.size(send_data) >= needed, ValueError, f"mpi4numba: send_data has fewer than {send_blocks} elements"
            )
            address, units, datatype, finish = e.own_block(send_data, needed, count, target, receives=False)
        code = e(
            c_function,
            address,
            units,
            datatype,
            e.data(target.array),
            e.view_count(target, count),
            target.datatype,
            handle,
        )
        if finish is not None:
            finish(code)
        e.copy_back(recv_data, target, count * size)
        e.release_view(target)
        return code

    return body


_ALLGATHER = _everyone(capi.MPI_Allgather, "count")
_ALLTOALL = _everyone(capi.MPI_Alltoall, "count * size")


def _rooted_v(c_function, full_name: str, block_name: str):
    """The body of scatterv (the full buffer is sent) or gatherv (received): only the root
    checks the full buffer's blocks; ``IN_PLACE`` for the block leaves a process's block in
    the full buffer."""
    sends_full = full_name == "send_data"

    def body(e, full, block, counts, displacements, root, comm):
        handle = e.comm(comm)
        rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
        sizes, offsets = e.vector_blocks(counts, displacements, size, TOO_FEW_ENTRIES)
        count = e(operator.getitem, sizes, rank)
        in_place = is_in_place(block.type)
        with e.when(in_place or rank == root):  # only the root's full buffer holds every block
            e.blocks_inside(sizes, offsets, size, e.size(full), f"mpi4numba: a block lies outside {full_name}")
        if not in_place:
            e.check(e.size(block) >= count, ValueError, f"mpi4numba: {block_name} has fewer than counts[rank] elements")
        whole, units, starts = e.view_v(full, sizes, offsets, in_place or rank == root)
        if in_place:
            address = e.select(rank == root, e.in_place(), e.view_address(whole, e(operator.getitem, offsets, rank)))
            n_own, own_type, finish = e(operator.getitem, units, rank), whole.datatype, None
        else:
            address, n_own, own_type, finish = e.own_block(block, count, count, whole, receives=sends_full)
        if sends_full:
            code = e(
                c_function,
                e.data(whole.array),
                e.data(units),
                e.data(starts),
                whole.datatype,
                address,
                n_own,
                own_type,
                root,
                handle,
            )
        else:
            code = e(
                c_function,
                address,
                n_own,
                own_type,
                e.data(whole.array),
                e.data(units),
                e.data(starts),
                whole.datatype,
                root,
                handle,
            )
        if finish is not None:
            finish(code)
        if finish is None or not sends_full:
            e.copy_back(full, whole, e.size(full))
        e.release_view(whole)
        return code

    if sends_full:
        return lowering(types.int32)(
            lambda e, send_data, counts, displacements, recv_data, root, comm: body(
                e, send_data, recv_data, counts, displacements, root, comm
            )
        )
    return lowering(types.int32)(
        lambda e, send_data, recv_data, counts, displacements, root, comm: body(
            e, recv_data, send_data, counts, displacements, root, comm
        )
    )


_SCATTERV = _rooted_v(capi.MPI_Scatterv, "send_data", "recv_data")
_GATHERV = _rooted_v(capi.MPI_Gatherv, "recv_data", "send_data")


@lowering(types.int32)
def _ALLGATHERV(e, send_data, recv_data, counts, displacements, comm):
    handle = e.comm(comm)
    rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
    sizes, offsets = e.vector_blocks(counts, displacements, size, TOO_FEW_ENTRIES)
    e.blocks_inside(sizes, offsets, size, e.size(recv_data), "mpi4numba: a block lies outside recv_data")
    if not is_in_place(send_data.type):
        count = e(operator.getitem, sizes, rank)
        e.check(e.size(send_data) >= count, ValueError, "mpi4numba: send_data has fewer than counts[rank] elements")
    target, units, starts = e.view_v(recv_data, sizes, offsets)
    if is_in_place(send_data.type):
        address, units_sent, datatype, finish = e.in_place(), e.const(0, types.int32), target.datatype, None
    else:
        address, units_sent, datatype, finish = e.own_block(send_data, count, count, target, receives=False)
    code = e(
        capi.MPI_Allgatherv,
        address,
        units_sent,
        datatype,
        e.data(target.array),
        e.data(units),
        e.data(starts),
        target.datatype,
        handle,
    )
    if finish is not None:
        finish(code)
    e.copy_back(recv_data, target, e.size(recv_data))
    e.release_view(target)
    return code


@lowering(types.int32)
def _ALLTOALLV(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    handle = e.comm(comm)
    size = e(capi.MPI_Comm_size, handle)[1]
    r_sizes, r_offsets = e.vector_blocks(recv_counts, recv_displacements, size, TOO_FEW_ENTRIES)
    e.blocks_inside(r_sizes, r_offsets, size, e.size(recv_data), "mpi4numba: a block lies outside recv_data")
    if not is_in_place(send_data.type):
        s_sizes, s_offsets = e.vector_blocks(send_counts, send_displacements, size, TOO_FEW_ENTRIES)
        e.blocks_inside(s_sizes, s_offsets, size, e.size(send_data), "mpi4numba: a block lies outside send_data")
    target, r_units, r_starts = e.view_v(recv_data, r_sizes, r_offsets)
    if is_in_place(send_data.type):  # MPI ignores the send counts: the receive ones describe both
        source, address, s_units, s_starts = target, e.in_place(), r_units, r_starts
    else:
        source, s_units, s_starts = e.view_v(send_data, s_sizes, s_offsets, like=target)
        address = e.data(source.array)
    code = e(
        capi.MPI_Alltoallv,
        address,
        e.data(s_units),
        e.data(s_starts),
        source.datatype,
        e.data(target.array),
        e.data(r_units),
        e.data(r_starts),
        target.datatype,
        handle,
    )
    e.copy_back(recv_data, target, e.size(recv_data))
    e.release_view(source, target)
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
    array(data, "data", writable=True)
    integer(root, "root")
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
    integer(count, "count")
    integer(root, "root")
    send_and_receive(send_data, recv_data, False, True)
    return _SCATTER


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
    integer(count, "count")
    integer(root, "root")
    send_and_receive(send_data, recv_data, True, False)
    return _GATHER


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
    integer(count, "count")
    send_and_receive(send_data, recv_data, True, False)
    return _ALLGATHER


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
    integer(count, "count")
    send_and_receive(send_data, recv_data, True, False)
    return _ALLTOALL


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
    counts_and_displacements(counts, displacements)
    integer(root, "root")
    send_and_receive(send_data, recv_data, False, True)
    return _SCATTERV


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
    counts_and_displacements(counts, displacements)
    integer(root, "root")
    send_and_receive(send_data, recv_data, True, False)
    return _GATHERV


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
    counts_and_displacements(counts, displacements)
    send_and_receive(send_data, recv_data, True, False)
    return _ALLGATHERV


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
    send_in_place = send_and_receive(send_data, recv_data, True, False) == "send"
    counts_and_displacements(recv_counts, recv_displacements)
    if not send_in_place:
        counts_and_displacements(send_counts, send_displacements)
    return _ALLTOALLV
