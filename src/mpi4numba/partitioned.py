"""Partitioned point-to-point communication (MPI-4): one message filled by many threads.

A partitioned send splits an array into ``partitions`` equal parts. It is set up once
(:func:`psend_init`, matched by one :func:`precv_init` on the receiver) and, like every
persistent request, started with :func:`~mpi4numba.requests.start` for each message.
After the start, each part may go as soon as it is ready: the thread that filled part
``p`` calls :func:`pready` (``p``), and the receiver may poll :func:`parrived` per part
while the rest is on its way. ``wait``/``test`` complete the whole message; the request
is then inactive, ready for the next start, until :func:`~mpi4numba.requests.request_free`.
This is how the threads of a ``prange`` loop send one message without waiting for each
other (``MPI_THREAD_MULTIPLE``; see :doc:`the threads guide </guide/threads>`)::

    status, request = psend_init(field, threads, right)     # once
    for step in range(steps):
        start(request)
        for p in numba.prange(threads):
            fill(field, p)                                 # this thread's part
            pready(p, request)
        wait(request)

The array must be C-contiguous (MPI reads or writes it after the call) and its size a
multiple of ``partitions`` (else ``ValueError``); the request keeps it alive. The
sender and the receiver may use different numbers of partitions for the same total.
Every routine here is MPI-4.0's: a library without them (Open MPI 4.1) returns
``ERR_UNSUPPORTED_OPERATION``, whose ``error_string`` names the routine and the library.
On Open MPI 5 :func:`parrived` is refused that way (its ``MPI_Parrived`` reports a
partition arrived while only part of it has, where the sender uses more partitions):
complete the request with ``wait``/``test`` there.
"""

from __future__ import annotations

from numba.core import types

from ._core import capi
from ._core.errorcodes import error_code
from ._core.runtime import ABI
from ._support.api import api, lowers
from ._support.emit_requests import STARTED
from ._support.validate import array, c_ordered, int_sequence, integer, request_handles

PROC_NULL = ABI.PROC_NULL

__all__ = ["psend_init", "precv_init", "pready", "pready_range", "pready_list", "parrived"]


def _partition_arguments(data, partitions, peer, tag, what: str, writable: bool):
    array(data, "data", writable=writable)
    c_ordered(data, "data")
    integer(partitions, "partitions")
    integer(peer, what)
    integer(tag, "tag")


def _partitioned_init(e, c_function, data, partitions, peer, tag, comm):
    """``(status, request)`` of psend_init/precv_init: ``data`` in ``partitions`` equal parts."""
    e.require_c_order(data, "mpi4numba: data must be C-contiguous (MPI works on it after the call)")
    e.check(partitions.gt(0), ValueError, "mpi4numba: partitions must be at least 1")
    e.check(
        e.size(data).mod(partitions).eq(0),
        ValueError,
        "mpi4numba: the size of data must be a multiple of partitions",
    )
    datatype, per_element = e.element_type(data)
    count = e.size(data).floordiv(partitions).mul(per_element)
    code = e.variable(e(error_code, e.literal("PARTITIONED_PROC_NULL")))
    with e.starting(data) as start:
        with e.when(peer.ne(PROC_NULL)):
            code.set(
                e(
                    c_function,
                    e.data(data),
                    partitions,
                    count,
                    datatype,
                    peer,
                    tag,
                    e.comm(comm),
                    e.handle("INFO_NULL"),
                    start.address,
                )
            )
        start.code = code.get()
    return start.result


@api
def psend_init(data, partitions, dest, tag=0, comm=None):
    """A partitioned send of ``data`` in ``partitions`` equal parts to ``dest``
    (``MPI_Psend_init``); returns ``(status, request)``. After each
    :func:`~mpi4numba.requests.start`, part ``p`` goes once :func:`pready` marks it.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import pready_range, precv_init, psend_init
    >>> me, outgoing, got = mpi4numba.rank(), np.arange(4.0), np.zeros(4)
    >>> _, receiving = precv_init(got, 2, me)  # two parts of two
    >>> _, sending = psend_init(outgoing, 2, me)
    >>> mpi4numba.startall((receiving, sending)), pready_range(0, 1, sending)
    (0, 0)
    >>> mpi4numba.waitall((sending, receiving)), got.tolist()
    (0, [0.0, 1.0, 2.0, 3.0])
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    _partition_arguments(data, partitions, dest, tag, "dest", writable=False)
    return STARTED


@lowers(psend_init)
def _psend_init(e, data, partitions, dest, tag, comm):
    return _partitioned_init(e, capi.MPI_Psend_init, data, partitions, dest, tag, comm)


@api
def precv_init(data, partitions, source, tag=0, comm=None):
    """A partitioned receive into ``data`` in ``partitions`` equal parts from ``source``
    (a rank: MPI allows no ``ANY_SOURCE`` here; ``MPI_Precv_init``); returns
    ``(status, request)``. After each start, :func:`parrived` tells which parts are in.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import parrived, pready, precv_init, psend_init
    >>> me, got = mpi4numba.rank(), np.zeros(3)
    >>> _, receiving = precv_init(got, 3, me)
    >>> _, sending = psend_init(np.arange(3.0), 3, me)
    >>> _ = mpi4numba.startall((receiving, sending))
    >>> [pready(p, sending) for p in range(3)]
    [0, 0, 0]
    >>> while not all(parrived(receiving, p)[1] for p in range(3)):  # each part, once it is in
    ...     pass
    >>> mpi4numba.waitall((sending, receiving)), got.tolist()
    (0, [0.0, 1.0, 2.0])
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    _partition_arguments(data, partitions, source, tag, "source", writable=True)
    return STARTED


@lowers(precv_init)
def _precv_init(e, data, partitions, source, tag, comm):
    return _partitioned_init(e, capi.MPI_Precv_init, data, partitions, source, tag, comm)


def _on_request(e, request, call):
    """The status of ``call(handle)`` on the first request of ``request``; a request array
    without one (empty) is refused with the ``EMPTY_REQUEST`` code, a null request (MPICH
    crashes in MPI_Parrived on one) with ``NULL_PARTITIONED``."""
    code = e.variable(e(error_code, e.literal("EMPTY_REQUEST")))
    with e.when(e.size(request).ne(0)):
        handle = e.cast(request.getitem(0), types.intp)
        null = handle.eq(0).or_(handle.eq(e.handle("REQUEST_NULL")))
        code.set(e(error_code, e.literal("NULL_PARTITIONED")))
        with e.when(e.not_(null)):
            code.set(call(handle))
    return code.get()


@api
def pready(partition, request):
    """Mark part ``partition`` of a started partitioned send ready to go (``MPI_Pready``);
    returns the status. Any thread may call it, each part once per start.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import pready, precv_init, psend_init
    >>> me, got = mpi4numba.rank(), np.zeros(2)
    >>> _, receiving = precv_init(got, 1, me)
    >>> _, sending = psend_init(np.ones(2), 2, me)
    >>> _ = mpi4numba.startall((receiving, sending))
    >>> pready(1, sending), pready(0, sending), mpi4numba.waitall((sending, receiving)), got.tolist()
    (0, 0, 0, [1.0, 1.0])
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    integer(partition, "partition")
    request_handles(request, "request")
    return types.int32


@lowers(pready)
def _pready(e, partition, request):
    return _on_request(e, request, lambda handle: e(capi.MPI_Pready, partition, handle))


@api
def pready_range(partition_low, partition_high, request):
    """Mark parts ``partition_low`` to ``partition_high`` (both included) ready
    (``MPI_Pready_range``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import pready_range, precv_init, psend_init
    >>> me, got = mpi4numba.rank(), np.zeros(4)
    >>> _, receiving = precv_init(got, 1, me)
    >>> _, sending = psend_init(np.full(4, 2.0), 4, me)
    >>> _ = mpi4numba.startall((receiving, sending))
    >>> pready_range(0, 3, sending), mpi4numba.waitall((sending, receiving)), got.tolist()
    (0, 0, [2.0, 2.0, 2.0, 2.0])
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    integer(partition_low, "partition_low")
    integer(partition_high, "partition_high")
    request_handles(request, "request")
    return types.int32


@lowers(pready_range)
def _pready_range(e, partition_low, partition_high, request):
    return _on_request(e, request, lambda handle: e(capi.MPI_Pready_range, partition_low, partition_high, handle))


@api
def pready_list(partitions, request):
    """Mark the parts listed in ``partitions`` (an integer array, tuple or list) ready
    (``MPI_Pready_list``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import pready_list, precv_init, psend_init
    >>> me, got = mpi4numba.rank(), np.zeros(3)
    >>> _, receiving = precv_init(got, 3, me)
    >>> _, sending = psend_init(np.arange(3.0), 3, me)
    >>> _ = mpi4numba.startall((receiving, sending))
    >>> pready_list(np.array([2, 0, 1]), sending), mpi4numba.waitall((sending, receiving)), got.tolist()
    (0, 0, [0.0, 1.0, 2.0])
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    int_sequence(partitions, "partitions")
    request_handles(request, "request")
    return types.int32


@lowers(pready_list)
def _pready_list(e, partitions, request):
    listed = e.c_ints(partitions, "mpi4numba: a partition does not fit a C int")
    return _on_request(e, request, lambda handle: e(capi.MPI_Pready_list, e.size(listed), e.data(listed), handle))


@api
def parrived(request, partition):
    """``(status, arrived)``: whether part ``partition`` of a started partitioned receive
    has arrived (``MPI_Parrived``); polling it lets a receiver work on the parts in
    while the others are on their way.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.partitioned import parrived, pready, precv_init, psend_init
    >>> me, got = mpi4numba.rank(), np.zeros(2)
    >>> _, receiving = precv_init(got, 2, me)
    >>> _, sending = psend_init(np.arange(2.0), 2, me)
    >>> _ = mpi4numba.startall((receiving, sending))
    >>> pready(0, sending), pready(1, sending)
    (0, 0)
    >>> while not parrived(receiving, 1)[1]:  # part 1 may come before part 0
    ...     pass
    >>> got.tolist()[1], mpi4numba.waitall((sending, receiving))
    (1.0, 0)
    >>> mpi4numba.request_free(sending), mpi4numba.request_free(receiving)
    (0, 0)
    """
    request_handles(request, "request")
    integer(partition, "partition")
    return types.Tuple((types.int32, types.boolean))


@lowers(parrived)
def _parrived(e, request, partition):
    arrived = e.variable(e.const(False))

    def call(handle):
        code, flag = e.unpack(e(capi.MPI_Parrived, handle, partition))
        arrived.set(code.eq(0).and_(flag.ne(0)))
        return code

    code = _on_request(e, request, call)
    return e.tuple(code, arrived.get())
