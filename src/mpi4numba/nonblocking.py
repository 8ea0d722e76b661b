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
buffers, the full buffers of v-routines) must be C-contiguous, on every process, also
where MPI ignores them (a non-root's), so that every process refuses the same call
(``ValueError``; a Fortran-ordered type is a typing error). A buffer that holds a
single block (``ibcast``'s data, a send or receive block of one process) may be a
strided view; it is described to MPI by a derived datatype and must then hold exactly
that block.
"""

from __future__ import annotations

import operator

from numba.core import types
from numba.extending import overload

from ._core import capi
from ._core.inplace import is_in_place
from ._support.api import api
from ._support.buffers import TOO_FEW_ENTRIES
from ._support.datatypes import buffer, element_type
from ._support.lowering import STARTED, Buffer, is_contiguous_layout, lowering
from ._support.validate import array, c_ordered, counts_and_displacements, integer, send_and_receive

__all__ = [
    "ibarrier",
    "ibcast",
    "igather",
    "iscatter",
    "iallgather",
    "ialltoall",
    "igatherv",
    "iscatterv",
    "iallgatherv",
    "ialltoallv",
]


def _strided_block(data, count):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_strided_block)
def _strided_block_impl(data, count):
    """:func:`_block` of an array whose type does not say it is C-contiguous (jitted: the
    derived datatype of a strided block is built by the helpers of :mod:`~mpi4numba.datatypes`)."""

    def strided(data, count):
        if data.flags.c_contiguous or count == 0:
            datatype, per_element = element_type(data)
            return data.ctypes.data, count * per_element, datatype, False
        if count != data.size:
            raise ValueError("mpi4numba: a non-contiguous block buffer must hold exactly its block")
        address, n, datatype, derived = buffer(data)
        return address, n * 1, datatype, derived

    return strided


def _block(e, data, count) -> Buffer:
    """One block of ``count`` elements: the first ones of a C-contiguous array, or all of a
    strided one (a derived datatype, to release after the call). Its datatype is that of
    the full buffer, element for element (a struct for a structured dtype, not its bytes:
    MPI matches the two type signatures)."""
    if not is_contiguous_layout(data.type):
        return Buffer(*e.unpack(e(_strided_block, data, count)))
    datatype, per_element = e.element_type(data)
    return Buffer(e.data(data), count * per_element, datatype, e.const(False))


_SHORT_SEND = "mpi4numba: send_data has fewer elements than its blocks"


def _send_block(e, send_data, recv_data, count) -> Buffer:
    """The send side of iallgather(v): IN_PLACE, or the first ``count`` elements of send_data."""
    if is_in_place(send_data.type):
        datatype, per_element = e.element_type(recv_data)
        return Buffer(e.in_place(), count * per_element, datatype, e.const(False))
    e.check(e.size(send_data) >= count, ValueError, _SHORT_SEND)
    return _block(e, send_data, count)


@lowering(STARTED)
def _IBARRIER(e, comm):
    return e.started((), lambda request: e(capi.MPI_Ibarrier, e.comm(comm), e.data(request)))


@lowering(STARTED)
def _IBCAST(e, data, root, comm):
    buf = e.buffer(data)
    result = e.started(
        (data,),
        lambda request: e(capi.MPI_Ibcast, buf.address, buf.count, buf.datatype, root, e.comm(comm), e.data(request)),
    )
    e.release(buf)
    return result


def _rooted(c_function, full_name: str, block_name: str):
    """The body of igather (the full buffer, recv_data, is gathered into) or iscatter (the
    full buffer, send_data, is sent); ``IN_PLACE`` for the block leaves a process's block
    where it is in the full buffer."""
    gathers = full_name == "recv_data"

    @lowering(STARTED)
    def body(e, send_data, recv_data, count, root, comm):
        full, block = (recv_data, send_data) if gathers else (send_data, recv_data)
        handle = e.comm(comm)
        rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
        in_place = is_in_place(block.type)
        room = e.size(full) >= count * size
        e.check(
            room if in_place else room | (rank != root),
            ValueError,
            f"mpi4numba: {full_name} has fewer than count * size elements",
        )
        e.require_c_order(full, f"mpi4numba: {full_name} must be C-contiguous")
        if not in_place:
            e.check(e.size(block) >= count, ValueError, f"mpi4numba: {block_name} has fewer than count elements")
        datatype, per_element = e.element_type(full)
        n = count * per_element
        if in_place:
            own = Buffer(
                e.select(rank == root, e.in_place(), e.element_address(full, rank * count)), n, datatype, e.const(False)
            )
        else:
            own = _block(e, block, count)
        mine, whole = (own.address, own.count, own.datatype), (e.data(full), n, datatype)
        result = e.started(
            (send_data, recv_data),
            lambda request: e(c_function, *(mine + whole if gathers else whole + mine), root, handle, e.data(request)),
        )
        e.release(own)
        return result

    return body


_IGATHER = _rooted(capi.MPI_Igather, "recv_data", "send_data")
_ISCATTER = _rooted(capi.MPI_Iscatter, "send_data", "recv_data")


def _everyone(c_function, sends_all_blocks: bool):
    """The body of iallgather (each process sends one block, which may be strided) or
    ialltoall (``sends_all_blocks``: one to each process, from a C-contiguous send_data)."""

    @lowering(STARTED)
    def body(e, send_data, recv_data, count, comm):
        handle = e.comm(comm)
        size = e(capi.MPI_Comm_size, handle)[1]
        e.check(
            e.size(recv_data) >= count * size, ValueError, "mpi4numba: recv_data has fewer than count * size elements"
        )
        e.require_c_order(recv_data, "mpi4numba: recv_data must be C-contiguous")
        datatype, per_element = e.element_type(recv_data)
        n = count * per_element
        if sends_all_blocks and not is_in_place(send_data.type):
            e.require_c_order(send_data, "mpi4numba: send_data must be C-contiguous")
            e.check(e.size(send_data) >= count * size, ValueError, _SHORT_SEND)
            own = Buffer(e.data(send_data), n, datatype, e.const(False))
        else:
            own = _send_block(e, send_data, recv_data, count)
        result = e.started(
            (send_data, recv_data),
            lambda request: e(
                c_function,
                own.address,
                own.count,
                own.datatype,
                e.data(recv_data),
                n,
                datatype,
                handle,
                e.data(request),
            ),
        )
        e.release(own)
        return result

    return body


_IALLGATHER = _everyone(capi.MPI_Iallgather, False)
_IALLTOALL = _everyone(capi.MPI_Ialltoall, True)


# v-routines: counts and displacements are checked, then (if need be) copied as C ints


def _fits_c_int(e, value):
    narrow = e.cast(value, types.int32)
    fits = e.cast(narrow, value.type) == value
    return fits if value.type.signed else fits & (narrow >= 0)


def _check_layout(e, counts, displacements, size, capacity, significant, message: str) -> None:
    """Raise ``ValueError`` unless every count and displacement fits a C int, there is one
    per process, no count is negative and, where ``significant``, every block lies within
    ``capacity`` elements (``message``). Nothing is allocated yet: nothing leaks on error."""
    packed = displacements.type == types.none
    for values in (counts,) if packed else (counts, displacements):
        if values.type.dtype != types.int32:
            with e.loop(e.size(values)) as i:
                e.check(
                    _fits_c_int(e, values[i]), ValueError, "mpi4numba: a count or displacement does not fit a C int"
                )
    enough = e.size(counts) >= size
    if not packed:
        enough = enough & (e.size(displacements) >= size)
    e.check(enough, ValueError, TOO_FEW_ENTRIES)
    start = e.variable(e.const(0, types.int32))  # where the next packed block starts (C int arithmetic)
    with e.loop(size) as i:
        count = e.cast(counts[i], types.int32)
        first = start.get() if packed else e.cast(displacements[i], types.int32)
        inside = (first >= 0) & (first + count <= capacity)
        e.check((count >= 0) & (inside | e.not_(significant)), ValueError, message)
        if packed:
            start.set(first + count)


def _c_ints(e, values):
    """``values`` as C ints: the array itself if it is C-contiguous int32, else a copy."""
    if values.type.dtype == types.int32 and values.type.layout == "C":
        return values
    copy = e.zeros(e.size(values))  # on the heap: MPI reads it after the call returns
    with e.loop(e.size(values)) as i:
        e(operator.setitem, copy, i, e.cast(values[i], types.int32))
    return copy


def _c_int_layout(e, counts, displacements):
    """``(counts, displacements)`` as C int arrays for MPI (None: the blocks packed one after
    the other), after :func:`_check_layout`; the request holds them until it is dropped."""
    sizes = _c_ints(e, counts)
    if displacements.type != types.none:
        return sizes, _c_ints(e, displacements)
    offsets = e.zeros(e.size(sizes))
    start = e.variable(e.const(0, types.int32))
    with e.loop(e.size(sizes)) as i:
        e(operator.setitem, offsets, i, start.get())
        start.set(start.get() + sizes[i])
    return sizes, offsets


def _rooted_v(c_function, full_name: str, block_name: str):
    """The body of igatherv (the full buffer, recv_data, is gathered into) or iscatterv (the
    full buffer, send_data, is sent); ``IN_PLACE`` for the block leaves it in the full buffer."""
    gathers = full_name == "recv_data"

    def body(e, full, block, counts, displacements, root, comm):
        handle = e.comm(comm)
        rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
        in_place = is_in_place(block.type)
        _check_layout(
            e,
            counts,
            displacements,
            size,
            e.size(full),
            e.const(True) if in_place else rank == root,
            f"mpi4numba: a block lies outside {full_name}",
        )
        e.require_c_order(full, f"mpi4numba: {full_name} must be C-contiguous")
        count = e.cast(counts[rank], types.int32)
        if not in_place:
            e.check(e.size(block) >= count, ValueError, f"mpi4numba: {block_name} has fewer than counts[rank] elements")
            own = _block(e, block, count)
        datatype, derived = e.element_datatype(full)
        sizes, offsets = _c_int_layout(e, counts, displacements)
        if in_place:
            address = e.select(rank == root, e.in_place(), e.element_address(full, offsets[rank]))
            own = Buffer(address, count, datatype, e.const(False))
        mine, blocks = (own.address, own.count, own.datatype), (e.data(full), e.data(sizes), e.data(offsets), datatype)
        result = e.started(
            (full, block, sizes, offsets),
            lambda request: e(
                c_function, *(mine + blocks if gathers else blocks + mine), root, handle, e.data(request)
            ),
        )
        e.release(own)
        e.release_datatype(datatype, derived)
        return result

    if gathers:
        return lowering(STARTED)(
            lambda e, send_data, recv_data, counts, displacements, root, comm: body(
                e, recv_data, send_data, counts, displacements, root, comm
            )
        )
    return lowering(STARTED)(
        lambda e, send_data, counts, displacements, recv_data, root, comm: body(
            e, send_data, recv_data, counts, displacements, root, comm
        )
    )


_IGATHERV = _rooted_v(capi.MPI_Igatherv, "recv_data", "send_data")
_ISCATTERV = _rooted_v(capi.MPI_Iscatterv, "send_data", "recv_data")


@lowering(STARTED)
def _IALLGATHERV(e, send_data, recv_data, counts, displacements, comm):
    handle = e.comm(comm)
    rank, size = e(capi.MPI_Comm_rank, handle)[1], e(capi.MPI_Comm_size, handle)[1]
    _check_layout(
        e, counts, displacements, size, e.size(recv_data), e.const(True), "mpi4numba: a block lies outside recv_data"
    )
    e.require_c_order(recv_data, "mpi4numba: recv_data must be C-contiguous")
    own = _send_block(e, send_data, recv_data, e.cast(counts[rank], types.int32))
    datatype, derived = e.element_datatype(recv_data)
    sizes, offsets = _c_int_layout(e, counts, displacements)
    result = e.started(
        (send_data, recv_data, sizes, offsets),
        lambda request: e(
            capi.MPI_Iallgatherv,
            own.address,
            own.count,
            own.datatype,
            e.data(recv_data),
            e.data(sizes),
            e.data(offsets),
            datatype,
            handle,
            e.data(request),
        ),
    )
    e.release(own)
    e.release_datatype(datatype, derived)
    return result


@lowering(STARTED)
def _IALLTOALLV(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    handle = e.comm(comm)
    size = e(capi.MPI_Comm_size, handle)[1]
    _check_layout(
        e,
        recv_counts,
        recv_displacements,
        size,
        e.size(recv_data),
        e.const(True),
        "mpi4numba: a block lies outside recv_data",
    )
    e.require_c_order(recv_data, "mpi4numba: recv_data must be C-contiguous")
    in_place = is_in_place(send_data.type)
    if not in_place:
        _check_layout(
            e,
            send_counts,
            send_displacements,
            size,
            e.size(send_data),
            e.const(True),
            "mpi4numba: a block lies outside send_data",
        )
        e.require_c_order(send_data, "mpi4numba: send_data must be C-contiguous")
    datatype, derived = e.element_datatype(recv_data)
    r_sizes, r_offsets = _c_int_layout(e, recv_counts, recv_displacements)
    if in_place:  # MPI ignores the send counts: the receive ones stand in
        source, s_sizes, s_offsets = e.in_place(), r_sizes, r_offsets
        held = (recv_data, r_sizes, r_offsets)
    else:
        s_sizes, s_offsets = _c_int_layout(e, send_counts, send_displacements)
        source = e.data(send_data)
        held = (send_data, recv_data, s_sizes, s_offsets, r_sizes, r_offsets)
    result = e.started(
        held,
        lambda request: e(
            capi.MPI_Ialltoallv,
            source,
            e.data(s_sizes),
            e.data(s_offsets),
            datatype,
            e.data(recv_data),
            e.data(r_sizes),
            e.data(r_offsets),
            datatype,
            handle,
            e.data(request),
        ),
    )
    e.release_datatype(datatype, derived)
    return result


def _full_buffers(send_data, recv_data, gathers: bool) -> None:
    """The buffers of a collective with a full buffer of blocks (``recv_data`` if it gathers,
    else ``send_data``), which MPI addresses after the call returns: C-ordered, and
    ``IN_PLACE`` allowed for the other one."""
    send_and_receive(send_data, recv_data, gathers, not gathers)
    c_ordered(recv_data if gathers else send_data, "recv_data" if gathers else "send_data")


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
    return _IBARRIER


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
    array(data, "data", writable=True)
    integer(root, "root")
    return _IBCAST


@api
def igather(send_data, recv_data, count, root, comm=None):
    """Start collecting ``count`` elements of ``send_data`` from each process into
    ``recv_data`` on ``root``, in rank order (``MPI_Igather``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import igather
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> everyone = np.zeros(size)
    >>> status, request = igather(np.array([10.0 * rank]), everyone, 1, 0)
    >>> status, mpi4numba.wait(request), rank != 0 or everyone.tolist() == [10.0 * r for r in range(size)]
    (0, 0, True)
    """
    integer(count, "count")
    integer(root, "root")
    _full_buffers(send_data, recv_data, gathers=True)
    return _IGATHER


@api
def iscatter(send_data, recv_data, count, root, comm=None):
    """Start sending ``count`` consecutive elements of ``send_data`` on ``root`` to each
    process, in rank order, into ``recv_data`` (``MPI_Iscatter``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iscatter
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> parts = np.arange(2.0 * size) if rank == 0 else np.zeros(2 * size)  # only the root's are sent
    >>> mine = np.empty(2)
    >>> status, request = iscatter(parts, mine, 2, 0)
    >>> status, mpi4numba.wait(request), mine.tolist() == [2.0 * rank, 2.0 * rank + 1]
    (0, 0, True)
    """
    integer(count, "count")
    integer(root, "root")
    _full_buffers(send_data, recv_data, gathers=False)
    return _ISCATTER


@api
def iallgather(send_data, recv_data, count, comm=None):
    """Start collecting ``count`` elements of ``send_data`` from each process into
    ``recv_data`` on every process, in rank order (``MPI_Iallgather``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iallgather
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> everyone = np.empty(size)
    >>> status, request = iallgather(np.array([10.0 * rank]), everyone, 1)
    >>> status, mpi4numba.wait(request), everyone.tolist() == [10.0 * r for r in range(size)]
    (0, 0, True)
    """
    integer(count, "count")
    _full_buffers(send_data, recv_data, gathers=True)
    return _IALLGATHER


@api
def ialltoall(send_data, recv_data, count, comm=None):
    """Start sending block r (``count`` elements) of ``send_data`` to rank r and receiving
    rank r's block into block r of ``recv_data`` (``MPI_Ialltoall``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ialltoall
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> outgoing = 100.0 * rank + np.arange(size)  # element r goes to rank r
    >>> received = np.empty(size)
    >>> status, request = ialltoall(outgoing, received, 1)
    >>> status, mpi4numba.wait(request), received.tolist() == [100.0 * r + rank for r in range(size)]
    (0, 0, True)
    """
    integer(count, "count")
    _full_buffers(send_data, recv_data, gathers=True)
    c_ordered(send_data, "send_data")
    return _IALLTOALL


@api
def igatherv(send_data, recv_data, counts, displacements, root, comm=None):
    """Start collecting ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data``
    on ``root`` at ``displacements[r]`` (``MPI_Igatherv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import igatherv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = igatherv(np.full(rank + 1, 1.0 * rank), everyone, counts, None, 0)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    >>> rank != 0 or everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]  # 0 1 1 2 2 2 ...
    True
    """
    counts_and_displacements(counts, displacements)
    integer(root, "root")
    _full_buffers(send_data, recv_data, gathers=True)
    return _IGATHERV


@api
def iscatterv(send_data, counts, displacements, recv_data, root, comm=None):
    """Start sending ``counts[r]`` elements at ``displacements[r]`` of ``send_data`` on
    ``root`` to rank r, into ``recv_data`` (``MPI_Iscatterv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iscatterv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r gets r + 1 elements
    >>> parts = np.arange(1.0 * counts.sum())  # on the root: 0 | 1 2 | 3 4 5 | ...
    >>> mine = np.empty(rank + 1)
    >>> status, request = iscatterv(parts, counts, None, mine, 0)
    >>> first = rank * (rank + 1) // 2
    >>> status, mpi4numba.wait(request), mine.tolist() == list(range(first, first + rank + 1))
    (0, 0, True)
    """
    counts_and_displacements(counts, displacements)
    integer(root, "root")
    _full_buffers(send_data, recv_data, gathers=False)
    return _ISCATTERV


@api
def iallgatherv(send_data, recv_data, counts, displacements=None, comm=None):
    """Start collecting ``counts[r]`` elements of rank r's ``send_data`` into ``recv_data``
    at ``displacements[r]`` on every process (``MPI_Iallgatherv``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iallgatherv
    >>> size, rank = mpi4numba.size(), mpi4numba.rank()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = iallgatherv(np.full(rank + 1, 1.0 * rank), everyone, counts)
    >>> status, mpi4numba.wait(request), everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]
    (0, 0, True)
    """
    counts_and_displacements(counts, displacements)
    _full_buffers(send_data, recv_data, gathers=True)
    return _IALLGATHERV


@api
def ialltoallv(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
    """Start sending ``send_counts[r]`` elements at ``send_displacements[r]`` to rank r and
    receiving ``recv_counts[r]`` elements from rank r at ``recv_displacements[r]``
    (``MPI_Ialltoallv``); returns ``(status, request)``. With ``IN_PLACE`` as ``send_data``
    the send counts and displacements are ignored (pass ``None``).

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ialltoallv
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> ones, received = np.ones(size, np.int32), np.empty(size)  # one element to and from each process
    >>> outgoing = 100.0 * rank + np.arange(size)
    >>> status, request = ialltoallv(outgoing, ones, None, received, ones, None)
    >>> status, mpi4numba.wait(request), received.tolist() == [100.0 * r + rank for r in range(size)]
    (0, 0, True)
    """
    send_in_place = send_and_receive(send_data, recv_data, True, False) == "send"
    counts_and_displacements(recv_counts, recv_displacements)
    if not send_in_place:
        counts_and_displacements(send_counts, send_displacements)
    c_ordered(recv_data, "recv_data")
    c_ordered(send_data, "send_data")
    return _IALLTOALLV
