"""Persistent collective operations (MPI-4): a collective set up once, then started many times.

``barrier_init``, ``bcast_init`` ... ``neighbor_alltoallv_init`` take the arguments of the
non-blocking form (:mod:`mpi4numba.nonblocking`, :mod:`mpi4numba.ireductions`,
:mod:`mpi4numba.neighbor`) and return ``(status, request)``, a request that is inactive
until :func:`~mpi4numba.requests.start` (or ``startall``) starts it. It completes in
``wait``/``test`` ... like a non-blocking one and is then inactive again, ready for the
next start; :func:`~mpi4numba.requests.request_free` releases it. A time loop that sets
up once and then only calls ``start`` and ``wait`` allocates nothing per step::

    status, request = allreduce_init(local, total)   # once
    for step in range(steps):
        local[0] = ...
        start(request)
        wait(request)                                # total holds this step's sum
    request_free(request)

Each start works on the buffers as they are then: fill the send buffers before
``start``, read the receive buffers after completion. As for every collective, all
processes of ``comm`` make the same persistent collectives in the same order (the
``_init`` calls are collective too, and may wait for the others), and start them in
the same order. The request keeps every array the operation uses alive (the buffers,
and the C ``int`` copies of counts and displacements) until it is released; buffers
are checked as for the non-blocking form (C-contiguous full buffers, long enough
blocks; ``ValueError`` before MPI is called) and a reduction's ``sendobj`` is an array
or ``IN_PLACE``, not a number (a persistent operation reads it at every start).

These routines are MPI-4.0's (``MPI_Allreduce_init`` ...): a library without them
(Open MPI 4.1) returns ``ERR_UNSUPPORTED_OPERATION``, whose ``error_string`` names the
routine and the library, and no request is made.
"""

from __future__ import annotations

from numba.core.errors import TypingError

from . import ireductions, neighbor, nonblocking
from ._support.api import api, lowers
from ._support.operators import Operator
from ._support.validate import operand_form

__all__ = [
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
    "reduce_init",
    "allreduce_init",
    "scan_init",
    "exscan_init",
    "reduce_scatter_block_init",
    "neighbor_allgather_init",
    "neighbor_alltoall_init",
    "neighbor_allgatherv_init",
    "neighbor_alltoallv_init",
]


def _array_operand(sendobj) -> None:
    if operand_form(sendobj) == "scalar":
        raise TypingError(
            "mpi4numba: sendobj must be an array or IN_PLACE, not a number: "
            "a persistent reduction reads it at every start"
        )


@api
def barrier_init(comm=None):
    """A persistent barrier (``MPI_Barrier_init``); returns ``(status, request)``.

    >>> import mpi4numba
    >>> from mpi4numba.persistent import barrier_init
    >>> status, request = barrier_init()
    >>> status, [(mpi4numba.start(request), mpi4numba.wait(request)) for _ in range(2)], mpi4numba.request_free(request)
    (0, [(0, 0), (0, 0)], 0)
    """
    return nonblocking.ibarrier._typing_(comm)


@lowers(barrier_init)
def _barrier_init(e, comm):
    return nonblocking._ibarrier(e, comm, persistent=True)


@api
def bcast_init(data, root, comm=None):
    """A persistent broadcast of the array ``data`` from ``root`` (``MPI_Bcast_init``);
    returns ``(status, request)``. Each start sends the root's ``data`` as it is then.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import bcast_init
    >>> data = np.zeros(2)
    >>> status, request = bcast_init(data, 0)
    >>> for step in range(3):
    ...     if mpi4numba.rank() == 0:
    ...         data[:] = step
    ...     _ = mpi4numba.start(request), mpi4numba.wait(request)
    >>> status, data.tolist(), mpi4numba.request_free(request)
    (0, [2.0, 2.0], 0)
    """
    return nonblocking.ibcast._typing_(data, root, comm)


@lowers(bcast_init)
def _bcast_init(e, data, root, comm):
    return nonblocking._ibcast(e, data, root, comm, persistent=True)


@api
def gather_init(send_data, recv_data, count, root, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.igather` (``MPI_Gather_init``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import gather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine, everyone = np.zeros(1), np.zeros(size)
    >>> status, request = gather_init(mine, everyone, 1, 0)
    >>> mine[0] = 10.0 * rank
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> rank != 0 or everyone.tolist() == [10.0 * r for r in range(size)]
    True
    """
    return nonblocking.igather._typing_(send_data, recv_data, count, root, comm)


@lowers(gather_init)
def _gather_init(e, send_data, recv_data, count, root, comm):
    return nonblocking._igather(e, send_data, recv_data, count, root, comm, persistent=True)


@api
def scatter_init(send_data, recv_data, count, root, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.iscatter` (``MPI_Scatter_init``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import scatter_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> parts, mine = np.arange(2.0 * size), np.empty(2)
    >>> status, request = scatter_init(parts, mine, 2, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mine.tolist() == [2.0 * rank, 2.0 * rank + 1]
    True
    """
    return nonblocking.iscatter._typing_(send_data, recv_data, count, root, comm)


@lowers(scatter_init)
def _scatter_init(e, send_data, recv_data, count, root, comm):
    return nonblocking._iscatter(e, send_data, recv_data, count, root, comm, persistent=True)


@api
def allgather_init(send_data, recv_data, count, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.iallgather` (``MPI_Allgather_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import allgather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine, everyone = np.array([10.0 * rank]), np.empty(size)
    >>> status, request = allgather_init(mine, everyone, 1)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> everyone.tolist() == [10.0 * r for r in range(size)]
    True
    """
    return nonblocking.iallgather._typing_(send_data, recv_data, count, comm)


@lowers(allgather_init)
def _allgather_init(e, send_data, recv_data, count, comm):
    return nonblocking._iallgather(e, send_data, recv_data, count, comm, persistent=True)


@api
def alltoall_init(send_data, recv_data, count, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.ialltoall` (``MPI_Alltoall_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import alltoall_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> outgoing, received = 100.0 * rank + np.arange(size), np.empty(size)  # element r goes to rank r
    >>> status, request = alltoall_init(outgoing, received, 1)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> received.tolist() == [100.0 * r + rank for r in range(size)]
    True
    """
    return nonblocking.ialltoall._typing_(send_data, recv_data, count, comm)


@lowers(alltoall_init)
def _alltoall_init(e, send_data, recv_data, count, comm):
    return nonblocking._ialltoall(e, send_data, recv_data, count, comm, persistent=True)


@api
def gatherv_init(send_data, recv_data, counts, displacements, root, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.igatherv` (``MPI_Gatherv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import gatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = gatherv_init(np.full(rank + 1, 1.0 * rank), everyone, counts, None, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> rank != 0 or everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]
    True
    """
    return nonblocking.igatherv._typing_(send_data, recv_data, counts, displacements, root, comm)


@lowers(gatherv_init)
def _gatherv_init(e, send_data, recv_data, counts, displacements, root, comm):
    return nonblocking._igatherv(e, send_data, recv_data, counts, displacements, root, comm, persistent=True)


@api
def scatterv_init(send_data, counts, displacements, recv_data, root, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.iscatterv` (``MPI_Scatterv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import scatterv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r gets r + 1 elements
    >>> parts, mine = np.arange(1.0 * counts.sum()), np.empty(rank + 1)
    >>> status, request = scatterv_init(parts, counts, None, mine, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> first = rank * (rank + 1) // 2
    >>> mine.tolist() == list(range(first, first + rank + 1))
    True
    """
    return nonblocking.iscatterv._typing_(send_data, counts, displacements, recv_data, root, comm)


@lowers(scatterv_init)
def _scatterv_init(e, send_data, counts, displacements, recv_data, root, comm):
    return nonblocking._iscatterv(e, send_data, counts, displacements, recv_data, root, comm, persistent=True)


@api
def allgatherv_init(send_data, recv_data, counts, displacements=None, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.iallgatherv` (``MPI_Allgatherv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import allgatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.arange(1, size + 1)  # rank r sends r + 1 copies of r
    >>> everyone = np.zeros(counts.sum())
    >>> status, request = allgatherv_init(np.full(rank + 1, 1.0 * rank), everyone, counts)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> everyone.tolist() == [r for r in range(size) for _ in range(r + 1)]
    True
    """
    return nonblocking.iallgatherv._typing_(send_data, recv_data, counts, displacements, comm)


@lowers(allgatherv_init)
def _allgatherv_init(e, send_data, recv_data, counts, displacements, comm):
    return nonblocking._iallgatherv(e, send_data, recv_data, counts, displacements, comm, persistent=True)


@api
def alltoallv_init(send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm=None):
    """A persistent :func:`~mpi4numba.nonblocking.ialltoallv` (``MPI_Alltoallv_init``);
    returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import alltoallv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> ones, received = np.ones(size, np.int32), np.empty(size)  # one element to and from each process
    >>> outgoing = 100.0 * rank + np.arange(size)
    >>> status, request = alltoallv_init(outgoing, ones, None, received, ones, None)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> received.tolist() == [100.0 * r + rank for r in range(size)]
    True
    """
    return nonblocking.ialltoallv._typing_(
        send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm
    )


@lowers(alltoallv_init)
def _alltoallv_init(e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm):
    return nonblocking._ialltoallv(
        e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm, persistent=True
    )


@api
def reduce_init(sendobj, recvobj, operator, root, comm=None):
    """A persistent reduction of ``sendobj`` (an array or ``IN_PLACE``) into ``recvobj`` on
    ``root`` (``MPI_Reduce_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import reduce_init
    >>> size = mpi4numba.size()
    >>> mine, total = np.ones(2), np.zeros(2)
    >>> status, request = reduce_init(mine, total, mpi4numba.Operator.SUM, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mpi4numba.rank() != 0 or total.tolist() == [1.0 * size, 1.0 * size]
    True
    """
    _array_operand(sendobj)
    return ireductions.ireduce._typing_(sendobj, recvobj, operator, root, comm)


@lowers(reduce_init)
def _reduce_init(e, sendobj, recvobj, operator, root, comm):
    return ireductions._ireduce(e, sendobj, recvobj, operator, root, comm, persistent=True)


@api
def allreduce_init(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """A persistent reduction of ``sendobj`` (an array or ``IN_PLACE``) into ``recvobj`` on
    every process (``MPI_Allreduce_init``); returns ``(status, request)``. Each start
    combines ``sendobj`` as it is then.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import allreduce_init
    >>> size = mpi4numba.size()
    >>> local, total = np.zeros(1), np.zeros(1)
    >>> status, request = allreduce_init(local, total)
    >>> sums = []
    >>> for step in range(3):
    ...     local[0] = step
    ...     _ = mpi4numba.start(request), mpi4numba.wait(request)
    ...     sums.append(total[0])
    >>> status, sums == [0.0, 1.0 * size, 2.0 * size], mpi4numba.request_free(request)
    (0, True, 0)
    """
    _array_operand(sendobj)
    return ireductions.iallreduce._typing_(sendobj, recvobj, operator, comm)


@lowers(allreduce_init)
def _allreduce_init(e, sendobj, recvobj, operator, comm):
    return ireductions._iallreduce(e, sendobj, recvobj, operator, comm, persistent=True)


@api
def scan_init(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """A persistent inclusive prefix reduction (``MPI_Scan_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import scan_init
    >>> upto = np.empty(1)
    >>> status, request = scan_init(np.ones(1), upto)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> upto.tolist() == [mpi4numba.rank() + 1]
    True
    """
    _array_operand(sendobj)
    return ireductions.iscan._typing_(sendobj, recvobj, operator, comm)


@lowers(scan_init)
def _scan_init(e, sendobj, recvobj, operator, comm):
    return ireductions._iscan(e, sendobj, recvobj, operator, comm, persistent=True)


@api
def exscan_init(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """A persistent exclusive prefix reduction (``MPI_Exscan_init``; rank 0's ``recvobj`` is
    left undefined); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import exscan_init
    >>> before = np.zeros(1)
    >>> status, request = exscan_init(np.ones(1), before)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mpi4numba.rank() == 0 or before.tolist() == [mpi4numba.rank()]
    True
    """
    _array_operand(sendobj)
    return ireductions.iexscan._typing_(sendobj, recvobj, operator, comm)


@lowers(exscan_init)
def _exscan_init(e, sendobj, recvobj, operator, comm):
    return ireductions._iexscan(e, sendobj, recvobj, operator, comm, persistent=True)


@api
def reduce_scatter_block_init(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """A persistent :func:`~mpi4numba.ireductions.ireduce_scatter_block`
    (``MPI_Reduce_scatter_block_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import reduce_scatter_block_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine = np.empty(1)
    >>> status, request = reduce_scatter_block_init(np.arange(1.0 * size), mine)  # the same from everyone
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mine.tolist() == [1.0 * rank * size]
    True
    """
    return ireductions.ireduce_scatter_block._typing_(sendobj, recvobj, operator, comm)


@lowers(reduce_scatter_block_init)
def _reduce_scatter_block_init(e, sendobj, recvobj, operator, comm):
    return ireductions._ireduce_scatter_block(e, sendobj, recvobj, operator, comm, persistent=True)


@api
def neighbor_allgather_init(send_data, recv_data, count, comm):
    """A persistent :func:`~mpi4numba.neighbor.neighbor_allgather`
    (``MPI_Neighbor_allgather_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import neighbor_allgather_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.empty(2)
    >>> status, request = neighbor_allgather_init(np.array([1.0 * rank]), got, 1, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size], mpi4numba.comm_free(ring)
    (True, 0)
    """
    return neighbor.ineighbor_allgather._typing_(send_data, recv_data, count, comm)


@lowers(neighbor_allgather_init)
def _neighbor_allgather_init(e, send_data, recv_data, count, comm):
    return neighbor._ineighbor_allgather(e, send_data, recv_data, count, comm, persistent=True)


@api
def neighbor_alltoall_init(send_data, recv_data, count, comm):
    """A persistent :func:`~mpi4numba.neighbor.neighbor_alltoall`
    (``MPI_Neighbor_alltoall_init``): the halo exchange of a grid set up once; returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import neighbor_alltoall_init
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
    """
    return neighbor.ineighbor_alltoall._typing_(send_data, recv_data, count, comm)


@lowers(neighbor_alltoall_init)
def _neighbor_alltoall_init(e, send_data, recv_data, count, comm):
    return neighbor._ineighbor_alltoall(e, send_data, recv_data, count, comm, persistent=True)


@api
def neighbor_allgatherv_init(send_data, recv_data, counts, displacements, comm):
    """A persistent :func:`~mpi4numba.neighbor.neighbor_allgatherv`
    (``MPI_Neighbor_allgatherv_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import neighbor_allgatherv_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> status, ring = mpi4numba.cart_create((size,), (True,))
    >>> got = np.zeros(2)
    >>> status, request = neighbor_allgatherv_init(np.array([1.0 * rank]), got, np.ones(2, np.int32), None, ring)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> got.tolist() == [(rank - 1) % size, (rank + 1) % size], mpi4numba.comm_free(ring)
    (True, 0)
    """
    return neighbor.ineighbor_allgatherv._typing_(send_data, recv_data, counts, displacements, comm)


@lowers(neighbor_allgatherv_init)
def _neighbor_allgatherv_init(e, send_data, recv_data, counts, displacements, comm):
    return neighbor._ineighbor_allgatherv(e, send_data, recv_data, counts, displacements, comm, persistent=True)


@api
def neighbor_alltoallv_init(
    send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm
):
    """A persistent :func:`~mpi4numba.neighbor.neighbor_alltoallv`
    (``MPI_Neighbor_alltoallv_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.persistent import neighbor_alltoallv_init
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
    """
    return neighbor.ineighbor_alltoallv._typing_(
        send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm
    )


@lowers(neighbor_alltoallv_init)
def _neighbor_alltoallv_init(
    e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm
):
    return neighbor._ineighbor_alltoallv(
        e, send_data, send_counts, send_displacements, recv_data, recv_counts, recv_displacements, comm, persistent=True
    )
