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

The persistent forms (MPI-4.0: ``barrier_init``, ``bcast_init``, ``gather(v)_init``,
``scatter(v)_init``, ``allgather(v)_init``, ``alltoall(v)_init``) take the same
arguments and return an inactive request, set up once and started many times with
``start``/``startall`` (see the reference page "Persistent collectives"). Where the
library lacks them (Open MPI 4.1) or gets them wrong (Intel MPI 2021, MPICH 4) they return
``ERR_UNSUPPORTED_OPERATION``, naming the routine.
"""

from __future__ import annotations

from ._core import capi
from ._core.inplace import is_in_place
from ._support.api import api, lowers, persistent_form
from ._support.emit_requests import STARTED
from ._support.nonblocking_buffers import (
    SHORT_SEND,
    full_buffers,
    rooted_buffers,
    rooted_v_buffers,
    send_block,
    whole_buffer,
)
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
    "barrier_init",
    "bcast_init",
    "gather_init",
    "scatter_init",
    "allgather_init",
    "alltoall_init",
    "gatherv_init",
    "scatterv_init",
    "allgatherv_init",
    "alltoallv_init",
]


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
    return STARTED


@lowers(ibarrier)
def _ibarrier(e, comm, *, persistent=False):
    with e.starting(persistent=persistent) as start:
        start.code = start.call(capi.MPI_Ibarrier, e.comm(comm))
    return start.result


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
    return STARTED


@lowers(ibcast)
def _ibcast(e, data, root, comm, *, persistent=False):
    buf = e.buffer(data)
    with e.starting(data, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Ibcast, *buf.as_args, root, e.comm(comm))
    e.release(buf)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=True)
    return STARTED


@lowers(igather)
def _igather(e, send_data, recv_data, count, root, comm, *, persistent=False):
    own, whole = rooted_buffers(e, recv_data, send_data, count, root, comm, "recv_data", "send_data")
    with e.starting(send_data, recv_data, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Igather, *own.as_args, *whole.as_args, root, e.comm(comm))
    e.release(own)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=False)
    return STARTED


@lowers(iscatter)
def _iscatter(e, send_data, recv_data, count, root, comm, *, persistent=False):
    own, whole = rooted_buffers(e, send_data, recv_data, count, root, comm, "send_data", "recv_data")
    with e.starting(send_data, recv_data, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Iscatter, *whole.as_args, *own.as_args, root, e.comm(comm))
    e.release(own)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=True)
    return STARTED


@lowers(iallgather)
def _iallgather(e, send_data, recv_data, count, comm, *, persistent=False):
    size = e.comm_size(comm)
    whole = whole_buffer(e, recv_data, count, size, "recv_data")
    own = send_block(e, send_data, recv_data, count)  # one block, which may be strided
    with e.starting(send_data, recv_data, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Iallgather, *own.as_args, *whole.as_args, e.comm(comm))
    e.release(own)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=True)
    c_ordered(send_data, "send_data")
    return STARTED


@lowers(ialltoall)
def _ialltoall(e, send_data, recv_data, count, comm, *, persistent=False):
    size = e.comm_size(comm)
    whole = whole_buffer(e, recv_data, count, size, "recv_data")
    if is_in_place(send_data.type):
        source = e.in_place()
    else:  # a block for every process: a full buffer too
        e.require_c_order(send_data, "mpi4numba: send_data must be C-contiguous")
        e.check(e.size(send_data).ge(count.mul(size)), ValueError, SHORT_SEND)
        source = e.data(send_data)
    with e.starting(send_data, recv_data, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Ialltoall, source, whole.count, whole.datatype, *whole.as_args, e.comm(comm))
    return start.result


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
    full_buffers(send_data, recv_data, gathers=True)
    return STARTED


@lowers(igatherv)
def _igatherv(e, send_data, recv_data, counts, displacements, root, comm, *, persistent=False):
    own, datatype, derived, sizes, offsets = rooted_v_buffers(
        e, recv_data, send_data, counts, displacements, root, comm, "recv_data", "send_data"
    )
    with e.starting(send_data, recv_data, sizes, offsets, persistent=persistent) as start:
        start.code = start.call(
            capi.MPI_Igatherv,
            *own.as_args,
            e.data(recv_data),
            e.data(sizes),
            e.data(offsets),
            datatype,
            root,
            e.comm(comm),
        )
    e.release(own)
    e.release_datatype(datatype, derived)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=False)
    return STARTED


@lowers(iscatterv)
def _iscatterv(e, send_data, counts, displacements, recv_data, root, comm, *, persistent=False):
    own, datatype, derived, sizes, offsets = rooted_v_buffers(
        e, send_data, recv_data, counts, displacements, root, comm, "send_data", "recv_data"
    )
    with e.starting(send_data, recv_data, sizes, offsets, persistent=persistent) as start:
        start.code = start.call(
            capi.MPI_Iscatterv,
            e.data(send_data),
            e.data(sizes),
            e.data(offsets),
            datatype,
            *own.as_args,
            root,
            e.comm(comm),
        )
    e.release(own)
    e.release_datatype(datatype, derived)
    return start.result


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
    full_buffers(send_data, recv_data, gathers=True)
    return STARTED


@lowers(iallgatherv)
def _iallgatherv(e, send_data, recv_data, counts, displacements, comm, *, persistent=False):
    rank, size = e.rank_size(comm)
    outside = "mpi4numba: a block lies outside recv_data"
    sizes, offsets = e.blocks(counts, displacements, size, e.size(recv_data), outside, lasting=True)
    e.require_c_order(recv_data, "mpi4numba: recv_data must be C-contiguous")
    own = send_block(e, send_data, recv_data, sizes.getitem(rank))
    datatype, derived = e.element_datatype(recv_data)
    with e.starting(send_data, recv_data, sizes, offsets, persistent=persistent) as start:
        start.code = start.call(
            capi.MPI_Iallgatherv,
            *own.as_args,
            e.data(recv_data),
            e.data(sizes),
            e.data(offsets),
            datatype,
            e.comm(comm),
        )
    e.release(own)
    e.release_datatype(datatype, derived)
    return start.result


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
    return STARTED


@lowers(ialltoallv)
def _ialltoallv(
    e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm, *, persistent=False
):
    size = e.comm_size(comm)
    outside = "mpi4numba: a block lies outside recv_data"
    r_sizes, r_offsets = e.blocks(recv_counts, recv_displacements, size, e.size(recv_data), outside, lasting=True)
    e.require_c_order(recv_data, "mpi4numba: recv_data must be C-contiguous")
    if is_in_place(send_data.type):  # MPI ignores the send counts: the receive ones stand in
        source, s_sizes, s_offsets = e.in_place(), r_sizes, r_offsets
        held = (recv_data, r_sizes, r_offsets)
    else:
        outside = "mpi4numba: a block lies outside send_data"
        s_sizes, s_offsets = e.blocks(send_counts, send_displacements, size, e.size(send_data), outside, lasting=True)
        e.require_c_order(send_data, "mpi4numba: send_data must be C-contiguous")
        source = e.data(send_data)
        held = (send_data, recv_data, s_sizes, s_offsets, r_sizes, r_offsets)
    datatype, derived = e.element_datatype(recv_data)
    with e.starting(*held, persistent=persistent) as start:
        start.code = start.call(
            capi.MPI_Ialltoallv,
            source,
            e.data(s_sizes),
            e.data(s_offsets),
            datatype,
            e.data(recv_data),
            e.data(r_sizes),
            e.data(r_offsets),
            datatype,
            e.comm(comm),
        )
    e.release_datatype(datatype, derived)
    return start.result


# Persistent forms (MPI-4): set up once, started many times (see the module doc)


barrier_init = persistent_form(
    ibarrier,
    _ibarrier,
    """A persistent barrier (``MPI_Barrier_init``); returns ``(status, request)``.

    >>> import mpi4numba
    >>> from mpi4numba import barrier_init
    >>> status, request = barrier_init()
    >>> status, [(mpi4numba.start(request), mpi4numba.wait(request)) for _ in range(2)], mpi4numba.request_free(request)
    (0, [(0, 0), (0, 0)], 0)
    """,
)


bcast_init = persistent_form(
    ibcast,
    _ibcast,
    """A persistent broadcast of the array ``data`` from ``root`` (``MPI_Bcast_init``);
    returns ``(status, request)``. Each start sends the root's ``data`` as it is then.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import bcast_init
    >>> data = np.zeros(2)
    >>> status, request = bcast_init(data, 0)
    >>> for step in range(3):
    ...     if mpi4numba.rank() == 0:
    ...         data[:] = step
    ...     _ = mpi4numba.start(request), mpi4numba.wait(request)
    >>> status, data.tolist(), mpi4numba.request_free(request)
    (0, [2.0, 2.0], 0)
    """,
)


gather_init = persistent_form(
    igather,
    _igather,
    """A persistent :func:`~mpi4numba.igather` (``MPI_Gather_init``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import gather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine, everyone = np.zeros(1), np.zeros(size)
    >>> status, request = gather_init(mine, everyone, 1, 0)
    >>> mine[0] = 10.0 * rank
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> rank != 0 or everyone.tolist() == [10.0 * r for r in range(size)]
    True
    """,
)


scatter_init = persistent_form(
    iscatter,
    _iscatter,
    """A persistent :func:`~mpi4numba.iscatter` (``MPI_Scatter_init``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import scatter_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> parts, mine = np.arange(2.0 * size), np.empty(2)
    >>> status, request = scatter_init(parts, mine, 2, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mine.tolist() == [2.0 * rank, 2.0 * rank + 1]
    True
    """,
)


allgather_init = persistent_form(
    iallgather,
    _iallgather,
    """A persistent :func:`~mpi4numba.iallgather` (``MPI_Allgather_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import allgather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine, everyone = np.array([10.0 * rank]), np.empty(size)
    >>> status, request = allgather_init(mine, everyone, 1)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> everyone.tolist() == [10.0 * r for r in range(size)]
    True
    """,
)


alltoall_init = persistent_form(
    ialltoall,
    _ialltoall,
    """A persistent :func:`~mpi4numba.ialltoall` (``MPI_Alltoall_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import alltoall_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> outgoing, received = 100.0 * rank + np.arange(size), np.empty(size)  # element r goes to rank r
    >>> status, request = alltoall_init(outgoing, received, 1)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> received.tolist() == [100.0 * r + rank for r in range(size)]
    True
    """,
)


gatherv_init = persistent_form(
    igatherv,
    _igatherv,
    """A persistent :func:`~mpi4numba.igatherv` (``MPI_Gatherv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import gatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = gatherv_init(np.full(rank + 1, 1.0 * rank), everyone, counts, None, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> rank != 0 or everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]
    True
    """,
)


scatterv_init = persistent_form(
    iscatterv,
    _iscatterv,
    """A persistent :func:`~mpi4numba.iscatterv` (``MPI_Scatterv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import scatterv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r gets r + 1 elements
    >>> parts, mine = np.arange(1.0 * counts.sum()), np.empty(rank + 1)
    >>> status, request = scatterv_init(parts, counts, None, mine, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> first = rank * (rank + 1) // 2
    >>> mine.tolist() == list(range(first, first + rank + 1))
    True
    """,
)


allgatherv_init = persistent_form(
    iallgatherv,
    _iallgatherv,
    """A persistent :func:`~mpi4numba.iallgatherv` (``MPI_Allgatherv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import allgatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = allgatherv_init(np.full(rank + 1, 1.0 * rank), everyone, counts)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]
    True
    """,
)


alltoallv_init = persistent_form(
    ialltoallv,
    _ialltoallv,
    """A persistent :func:`~mpi4numba.ialltoallv` (``MPI_Alltoallv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import alltoallv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> ones, received = np.ones(size, np.int32), np.empty(size)  # one element to and from each process
    >>> outgoing = 100.0 * rank + np.arange(size)
    >>> status, request = alltoallv_init(outgoing, ones, None, received, ones, None)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> received.tolist() == [100.0 * r + rank for r in range(size)]
    True
    """,
)
