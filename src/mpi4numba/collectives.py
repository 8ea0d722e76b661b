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

from numba.core import types

from ._core import capi
from ._core.inplace import IN_PLACE, is_in_place
from ._support.api import api, lowers
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


def _rooted(e, c_function, full, block, count, root, comm, sends_full: bool, full_name: str, block_name: str):
    """The status of scatter (``sends_full``: the full buffer is sent) or gather (it is
    received); ``IN_PLACE`` for the block leaves a process's block in its place in the
    full buffer."""
    rank, size = e.rank_size(comm)
    if is_in_place(block.type):
        e.check(
            e.size(full).ge(count.mul(size)),
            ValueError,
            f"mpi4numba: with IN_PLACE, {full_name} needs count * size elements",
        )
        whole = e.view(full, count)
        mine = e.select(rank.eq(root), e.in_place(), e.view_address(whole, rank.mul(count)))
        n_own, own_type, finish = e.view_count(whole, count), whole.datatype, None
    else:
        e.check(e.size(block).ge(count), ValueError, f"mpi4numba: {block_name} has fewer than count elements")
        e.check(
            rank.ne(root).or_(e.size(full).ge(count.mul(size))),
            ValueError,
            f"mpi4numba: {full_name} on root has fewer than count * size elements",
        )
        whole = e.view(full, count, rank.eq(root))
        mine, n_own, own_type, finish = e.own_block(block, count, count, whole, receives=sends_full)
    everything = (e.data(whole.array), e.view_count(whole, count), whole.datatype)
    if sends_full:
        code = e(c_function, *everything, mine, n_own, own_type, root, e.comm(comm))
    else:
        code = e(c_function, mine, n_own, own_type, *everything, root, e.comm(comm))
    if finish is not None:
        finish(code)
    if finish is None or not sends_full:
        e.copy_back(full, whole, count.mul(size))
    e.release_view(whole)
    return code


def _everyone(e, c_function, send_data, recv_data, count, comm, send_blocks: str):
    """The status of allgather (``send_blocks`` "count") or alltoall ("count * size");
    ``IN_PLACE`` as send_data: MPI's in-place form."""
    size = e.comm_size(comm)
    e.check(
        e.size(recv_data).ge(count.mul(size)), ValueError, "mpi4numba: recv_data has fewer than count * size elements"
    )
    target = e.view(recv_data, count)
    if is_in_place(send_data.type):
        address, units, datatype, finish = e.in_place(), e.view_count(target, count), target.datatype, None
    else:
        needed = count if send_blocks == "count" else count.mul(size)
        e.check(e.size(send_data).ge(needed), ValueError, f"mpi4numba: send_data has fewer than {send_blocks} elements")
        address, units, datatype, finish = e.own_block(send_data, needed, count, target, receives=False)
    code = e(
        c_function,
        address,
        units,
        datatype,
        e.data(target.array),
        e.view_count(target, count),
        target.datatype,
        e.comm(comm),
    )
    if finish is not None:
        finish(code)
    e.copy_back(recv_data, target, count.mul(size))
    e.release_view(target)
    return code


def _rooted_v(
    e, c_function, full, block, counts, displacements, root, comm, sends_full: bool, full_name: str, block_name: str
):
    """The status of scatterv (``sends_full``: the full buffer is sent) or gatherv (it is
    received): only the root checks that the full buffer holds its blocks; ``IN_PLACE``
    for the block leaves a process's block in the full buffer."""
    rank, size = e.rank_size(comm)
    in_place = is_in_place(block.type)
    significant = True if in_place else rank.eq(root)  # only the root's full buffer holds every block
    outside = f"mpi4numba: a block lies outside {full_name}"
    sizes, offsets = e.blocks(counts, displacements, size, e.size(full), outside, significant)
    count = sizes.getitem(rank)
    if not in_place:
        e.check(e.size(block).ge(count), ValueError, f"mpi4numba: {block_name} has fewer than counts[rank] elements")
    whole, units, starts = e.view_v(full, sizes, offsets, significant)
    if in_place:
        address = e.select(rank.eq(root), e.in_place(), e.view_address(whole, offsets.getitem(rank)))
        n_own, own_type, finish = units.getitem(rank), whole.datatype, None
    else:
        address, n_own, own_type, finish = e.own_block(block, count, count, whole, receives=sends_full)
    everything = (e.data(whole.array), e.data(units), e.data(starts), whole.datatype)
    if sends_full:
        code = e(c_function, *everything, address, n_own, own_type, root, e.comm(comm))
    else:
        code = e(c_function, address, n_own, own_type, *everything, root, e.comm(comm))
    if finish is not None:
        finish(code)
    if finish is None or not sends_full:
        e.copy_back(full, whole, e.size(full))
    e.release_view(whole)
    return code


@api
def barrier(comm=None):
    """Block until every process of ``comm`` has called it (``MPI_Barrier``); returns the status.

    >>> import mpi4numba
    >>> mpi4numba.barrier()
    0
    """
    return types.int32


@lowers(barrier)
def _barrier(e, comm):
    return e(capi.MPI_Barrier, e.comm(comm))


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
    return types.int32


@lowers(bcast)
def _bcast(e, data, root, comm):
    if not e.may_pack(data):
        buf = e.buffer(data)
        code = e(capi.MPI_Bcast, *buf.as_args, root, e.comm(comm))
    else:  # packed into scratch on the root, unpacked from it elsewhere
        receives = e.rank(comm).ne(root)
        buf = e.buffer(data, fill=e.not_(receives))
        code = e(capi.MPI_Bcast, *buf.as_args, root, e.comm(comm))
        e.received_all(buf, data, receives.and_(code.eq(0)))
    e.release(buf)
    return code


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
    return types.int32


@lowers(scatter)
def _scatter(e, send_data, recv_data, count, root, comm):
    return _rooted(e, capi.MPI_Scatter, send_data, recv_data, count, root, comm, True, "send_data", "recv_data")


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
    return types.int32


@lowers(gather)
def _gather(e, send_data, recv_data, count, root, comm):
    return _rooted(e, capi.MPI_Gather, recv_data, send_data, count, root, comm, False, "recv_data", "send_data")


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
    return types.int32


@lowers(allgather)
def _allgather(e, send_data, recv_data, count, comm):
    return _everyone(e, capi.MPI_Allgather, send_data, recv_data, count, comm, "count")


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
    return types.int32


@lowers(alltoall)
def _alltoall(e, send_data, recv_data, count, comm):
    return _everyone(e, capi.MPI_Alltoall, send_data, recv_data, count, comm, "count * size")


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
    return types.int32


@lowers(scatterv)
def _scatterv(e, send_data, counts, displacements, recv_data, root, comm):
    return _rooted_v(
        e, capi.MPI_Scatterv, send_data, recv_data, counts, displacements, root, comm, True, "send_data", "recv_data"
    )


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
    return types.int32


@lowers(gatherv)
def _gatherv(e, send_data, recv_data, counts, displacements, root, comm):
    return _rooted_v(
        e, capi.MPI_Gatherv, recv_data, send_data, counts, displacements, root, comm, False, "recv_data", "send_data"
    )


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
    return types.int32


@lowers(allgatherv)
def _allgatherv(e, send_data, recv_data, counts, displacements, comm):
    rank, size = e.rank_size(comm)
    outside = "mpi4numba: a block lies outside recv_data"
    sizes, offsets = e.blocks(counts, displacements, size, e.size(recv_data), outside)
    if not is_in_place(send_data.type):
        count = sizes.getitem(rank)
        e.check(e.size(send_data).ge(count), ValueError, "mpi4numba: send_data has fewer than counts[rank] elements")
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
        e.comm(comm),
    )
    if finish is not None:
        finish(code)
    e.copy_back(recv_data, target, e.size(recv_data))
    e.release_view(target)
    return code


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
    return types.int32


@lowers(alltoallv)
def _alltoallv(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    size = e.comm_size(comm)
    outside = "mpi4numba: a block lies outside recv_data"
    r_sizes, r_offsets = e.blocks(recv_counts, recv_displacements, size, e.size(recv_data), outside)
    if not is_in_place(send_data.type):
        outside = "mpi4numba: a block lies outside send_data"
        s_sizes, s_offsets = e.blocks(send_counts, send_displacements, size, e.size(send_data), outside)
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
        e.comm(comm),
    )
    e.copy_back(recv_data, target, e.size(recv_data))
    e.release_view(source, target)
    return code
