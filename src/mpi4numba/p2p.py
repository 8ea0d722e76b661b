"""Point-to-point communication: send, recv, sendrecv, isend, irecv, their synchronous
forms (ssend, issend), probes (probe, iprobe, mprobe, improbe) with matched receives
(mrecv, imrecv), a receive that returns its status (recv_status) and persistent requests
(send_init, recv_init; started by :func:`~mpi4numba.requests.start`).

Buffers are NumPy arrays of a supported dtype (see :mod:`mpi4numba.datatypes`); a message
holds the array's elements in C (row-major) index order, whatever its memory layout.
``source`` may be ``ANY_SOURCE``, ``tag`` ``ANY_TAG``, ``dest``/``source`` ``PROC_NULL``.
Every routine returns MPI's status code (0 = success): a receive buffer too short for
the message gives ``ERR_TRUNCATE``; a bad rank or tag gives ``ERR_RANK``/``ERR_TAG``.
Routines that also return an ``MPI_Status`` give a :mod:`mpi4numba.status` value
(``status.source``, ``status.tag``, ``get_count(status, array)``), held by value: no heap
allocation. A matched message (from ``mprobe``) is its integer handle.
"""

from __future__ import annotations

from numba.core import types

from ._core import capi
from ._core.handles import HANDLE
from ._core.runtime import ABI
from ._core.statustype import status_type
from ._support.api import api
from ._support.lowering import lowering
from ._support.validate import array, integer, request_type, send_data

ANY_SOURCE = ABI.ANY_SOURCE
ANY_TAG = ABI.ANY_TAG
PROC_NULL = ABI.PROC_NULL
UNDEFINED = ABI.UNDEFINED

__all__ = [
    "send",
    "recv",
    "sendrecv",
    "isend",
    "irecv",
    "ssend",
    "issend",
    "recv_status",
    "probe",
    "iprobe",
    "mprobe",
    "improbe",
    "mrecv",
    "imrecv",
    "send_init",
    "recv_init",
    "ANY_SOURCE",
    "ANY_TAG",
    "PROC_NULL",
    "UNDEFINED",
]


def _sending(c_function):
    """The body of a blocking send of one buffer (send, ssend)."""

    @lowering(types.int32)
    def body(e, data, peer, tag, comm):
        buf = e.send_buffer(data)
        code = e(c_function, buf.address, buf.count, buf.datatype, peer, tag, e.comm(comm))
        e.release(buf)
        return code

    return body


_SEND, _SSEND = _sending(capi.MPI_Send), _sending(capi.MPI_Ssend)
_CODE_STATUS = types.Tuple((types.int32, status_type))


def _receiving(returns_status: bool):
    """The body of a blocking receive (recv; recv_status if ``returns_status``). A buffer
    received into scratch needs the status: how many elements arrived."""

    @lowering(_CODE_STATUS if returns_status else types.int32)
    def body(e, data, peer, tag, comm):
        buf = e.receive_buffer(data)
        arguments = (buf.address, buf.count, buf.datatype, peer, tag, e.comm(comm))
        if buf.scratch is None and not returns_status:
            code = e(capi.MPI_Recv, *arguments)
        else:
            code, status = e.unpack(e(capi.MPI_Recv_status, *arguments))
            e.received(buf, data, code, status)
        e.release(buf)
        return e.tuple(code, status) if returns_status else code

    return body


_RECV, _RECV_STATUS = _receiving(False), _receiving(True)


@lowering(types.int32)
def _sendrecv(e, senddata, dest, recvdata, source, sendtag, recvtag, comm):
    out, into = e.send_buffer(senddata), e.receive_buffer(recvdata)
    arguments = (
        out.address,
        out.count,
        out.datatype,
        dest,
        sendtag,
        into.address,
        into.count,
        into.datatype,
        source,
        recvtag,
        e.comm(comm),
    )
    if into.scratch is None:
        code = e(capi.MPI_Sendrecv, *arguments)
    else:
        code, status = e.unpack(e(capi.MPI_Sendrecv_status, *arguments))
        e.received(into, recvdata, code, status)
    e.release(out, into)
    return code


@lowering(_CODE_STATUS)
def _probe(e, source, tag, comm):
    return e(capi.MPI_Probe, source, tag, e.comm(comm))


@lowering(types.Tuple((types.int32, types.boolean, status_type)))
def _iprobe(e, source, tag, comm):
    code, flag, status = e.unpack(e(capi.MPI_Iprobe, source, tag, e.comm(comm)))
    return e.tuple(code, flag != 0, status)


@lowering(types.Tuple((types.int32, HANDLE, status_type)))
def _mprobe(e, source, tag, comm):
    return e(capi.MPI_Mprobe, source, tag, e.comm(comm))


@lowering(types.Tuple((types.int32, types.boolean, HANDLE, status_type)))
def _improbe(e, source, tag, comm):
    code, flag, message, status = e.unpack(e(capi.MPI_Improbe, source, tag, e.comm(comm)))
    return e.tuple(code, flag != 0, message, status)


@lowering(_CODE_STATUS)
def _mrecv(e, data, message):
    buf = e.receive_buffer(data)
    code, _, status = e.unpack(e(capi.MPI_Mrecv, buf.address, buf.count, buf.datatype, message))
    e.received(buf, data, code, status)
    e.release(buf)
    return e.tuple(code, status)


def _starting(c_function, sends: bool = False, receives: bool = False):
    """The bodies of routines that start a request on a buffer (``MPI_Isend``, ``MPI_Irecv``,
    ``MPI_Issend``, ``MPI_Send_init``, ``MPI_Recv_init``), per type of ``request``; a
    routine that ``sends`` or ``receives`` once may pack a strided buffer (not a persistent
    one: each start sends the array as it is then)."""

    def for_request(request):
        @lowering(types.Tuple((types.int32, request_type(request))))
        def body(e, data, peer, tag, comm, request):
            return e.start_request(
                data,
                request,
                lambda buf, address: e(
                    c_function, buf.address, buf.count, buf.datatype, peer, tag, e.comm(comm), address
                ),
                sends,
                receives,
            )

        return body

    return for_request


_ISEND = _starting(capi.MPI_Isend, sends=True)
_IRECV = _starting(capi.MPI_Irecv, receives=True)
_ISSEND = _starting(capi.MPI_Issend, sends=True)
_SEND_INIT = _starting(capi.MPI_Send_init)
_RECV_INIT = _starting(capi.MPI_Recv_init)


def _imrecv(request):
    @lowering(types.Tuple((types.int32, request_type(request))))
    def body(e, data, message, request):
        return e.start_request(
            data,
            request,
            lambda buf, address: e(capi.MPI_Imrecv, buf.address, buf.count, buf.datatype, message, address)[0],
            receives=True,
        )

    return body


def _send_arguments(data, dest, tag, request=None) -> None:
    """The arguments of the routines that send one buffer (``request``: the one a
    non-blocking routine was given, if any)."""
    send_data(data, "data", request)
    integer(dest, "dest")
    integer(tag, "tag")


def _probe_arguments(source, tag) -> None:
    integer(source, "source")
    integer(tag, "tag")


def _receive_arguments(data, source, tag) -> None:
    """The arguments of the routines that receive one buffer from ``source``."""
    array(data, "data", writable=True)
    _probe_arguments(source, tag)


def _matched_arguments(data, message) -> None:
    """The arguments of the receives of a matched message (mrecv, imrecv)."""
    array(data, "data", writable=True)
    integer(message, "message")


@api
def send(data, dest, tag=0, comm=None):
    """Send the array ``data`` to rank ``dest`` (blocking, ``MPI_Send``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> got = np.empty(4, np.int64)
    >>> _, request = mpi4numba.irecv(got, left, tag=1)  # posted first, so no send waits forever
    >>> mpi4numba.send(np.arange(4) + 10 * rank, right, tag=1), mpi4numba.wait(request)
    (0, 0)
    >>> got.tolist() == [10 * left + i for i in range(4)]
    True
    """
    _send_arguments(data, dest, tag)
    return _SEND


@api
def recv(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Receive into the array ``data`` from ``source`` (blocking, ``MPI_Recv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> _, request = mpi4numba.isend(np.arange(4.0) + 10 * rank, right)  # started first
    >>> got = np.empty(4)
    >>> mpi4numba.recv(got, left), mpi4numba.wait(request), got.tolist() == [10.0 * left + i for i in range(4)]
    (0, 0, True)
    """
    _receive_arguments(data, source, tag)
    return _RECV


@api
def sendrecv(senddata, dest, recvdata, source=ANY_SOURCE, sendtag=0, recvtag=ANY_TAG, comm=None):
    """Send ``senddata`` to ``dest`` and receive ``recvdata`` from ``source`` in one call
    (``MPI_Sendrecv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> got = np.empty(2)
    >>> mpi4numba.sendrecv(np.array([1.0, 2.0]) * rank, right, got, left), got.tolist() == [1.0 * left, 2.0 * left]
    (0, True)
    """
    send_data(senddata, "senddata")
    array(recvdata, "recvdata", writable=True)
    for value, what in ((dest, "dest"), (source, "source"), (sendtag, "sendtag"), (recvtag, "recvtag")):
        integer(value, what)

    return _sendrecv


@api
def isend(data, dest, tag=0, comm=None, request=None):
    """Start sending ``data`` to ``dest`` (``MPI_Isend``); returns ``(status, request)``.

    ``request`` is a RequestType array of shape (1,) for ``wait``/``test``. A new one is
    made per call unless you pass your own (e.g. ``requests[i:i + 1]`` of a
    :func:`request_array`); a new one keeps ``data`` alive while it (the request array)
    lives, so a temporary may be sent. Keep ``data`` unchanged until the request
    completes, and alive if the request is yours or you drop the request array first (a
    scalar, and a strided array sent through scratch, are held until completion anyway).

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> status, request = mpi4numba.isend(np.arange(2) + 10 * rank, right)  # a temporary, kept alive
    >>> got = np.empty(2, np.int64)
    >>> status, mpi4numba.recv(got, left), mpi4numba.wait(request), got.tolist() == [10 * left, 10 * left + 1]
    (0, 0, 0, True)
    """
    _send_arguments(data, dest, tag, request)
    return _ISEND(request)


@api
def irecv(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None, request=None):
    """Start receiving into ``data`` from ``source`` (``MPI_Irecv``); returns ``(status, request)``.

    ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> got = np.empty(2)
    >>> status, request = mpi4numba.irecv(got, left)
    >>> status, mpi4numba.send(np.array([1.0, 2.0]) * rank, right), mpi4numba.wait(request)
    (0, 0, 0)
    >>> got.tolist() == [1.0 * left, 2.0 * left]
    True
    """
    _receive_arguments(data, source, tag)
    return _IRECV(request)


@api
def ssend(data, dest, tag=0, comm=None):
    """Synchronous send (``MPI_Ssend``): returns once the matching receive has started.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import ssend
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> got = np.empty(4, np.int64)
    >>> _, request = mpi4numba.irecv(got, left, tag=1)  # posted first: ssend returns once it is matched
    >>> ssend(np.arange(4) + 10 * rank, right, tag=1), mpi4numba.wait(request)
    (0, 0)
    >>> got.tolist() == [10 * left + i for i in range(4)]
    True
    """
    _send_arguments(data, dest, tag)
    return _SSEND


@api
def issend(data, dest, tag=0, comm=None, request=None):
    """Start a synchronous send (``MPI_Issend``); returns ``(status, request)``, which
    completes once the matching receive has started. ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import issend
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> status, request = issend(np.arange(2) + 10 * rank, right)
    >>> got = np.empty(2, np.int64)
    >>> status, mpi4numba.recv(got, left), mpi4numba.wait(request), got.tolist() == [10 * left, 10 * left + 1]
    (0, 0, 0, True)
    """
    _send_arguments(data, dest, tag, request)
    return _ISSEND(request)


@api
def recv_status(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """:func:`recv` that also returns the message's status: ``(code, status)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_status
    >>> code, status = recv_status(np.empty(4), mpi4numba.PROC_NULL)
    >>> code, status.source == mpi4numba.PROC_NULL, status.tag == mpi4numba.ANY_TAG
    (0, True, True)
    """
    _receive_arguments(data, source, tag)
    return _RECV_STATUS


@api
def probe(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Wait for a message from ``source`` with ``tag`` without receiving it (``MPI_Probe``);
    returns ``(code, status)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import probe
    >>> from mpi4numba.status import get_count
    >>> me = mpi4numba.rank()
    >>> outgoing = np.arange(5)
    >>> _, request = mpi4numba.isend(outgoing, me, tag=3)
    >>> code, status = probe(me, 3)
    >>> code, status.tag, get_count(status, np.arange(1))
    (0, 3, (0, 5))
    >>> mpi4numba.recv(np.empty(5, np.int64), me, 3), mpi4numba.wait(request)
    (0, 0)
    """
    _probe_arguments(source, tag)
    return _probe


@api
def iprobe(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Whether a message from ``source`` with ``tag`` has arrived (``MPI_Iprobe``);
    returns ``(code, flag, status)``; ``status`` is meaningful when ``flag`` is true.

    >>> import mpi4numba
    >>> from mpi4numba.p2p import iprobe
    >>> iprobe(mpi4numba.PROC_NULL)[:2]
    (0, True)
    """
    _probe_arguments(source, tag)
    return _iprobe


@api
def mprobe(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Wait for a message and take it out of matching (``MPI_Mprobe``); returns
    ``(code, message, status)``. Only :func:`mrecv`/:func:`imrecv` of ``message`` (an
    integer handle) receives it, so another thread or probe cannot take it in between.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import mprobe, mrecv
    >>> me = mpi4numba.rank()
    >>> outgoing = np.arange(3.0)  # alive until the send completes
    >>> _, request = mpi4numba.isend(outgoing, me, tag=4)
    >>> code, message, status = mprobe(me, 4)
    >>> data = np.empty(3)
    >>> mrecv(data, message)[0], data, mpi4numba.wait(request)
    (0, array([0., 1., 2.]), 0)
    """
    _probe_arguments(source, tag)
    return _mprobe


@api
def improbe(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Non-blocking :func:`mprobe` (``MPI_Improbe``): ``(code, flag, message, status)``;
    ``message`` and ``status`` are meaningful when ``flag`` is true.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import improbe, mrecv
    >>> code, flag, message, status = improbe(mpi4numba.PROC_NULL)
    >>> code, flag, mrecv(np.empty(1), message)[0]
    (0, True, 0)
    """
    _probe_arguments(source, tag)
    return _improbe


@api
def mrecv(data, message):
    """Receive into ``data`` the message that :func:`mprobe` matched (``MPI_Mrecv``);
    returns ``(code, status)``. A message handle can be received once.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import mprobe, mrecv
    >>> code, message, status = mprobe(mpi4numba.PROC_NULL)
    >>> mrecv(np.empty(2), message)[0]
    0
    """
    _matched_arguments(data, message)
    return _mrecv


@api
def imrecv(data, message, request=None):
    """Start receiving into ``data`` the message that :func:`mprobe` matched
    (``MPI_Imrecv``); returns ``(code, request)``. ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import imrecv, mprobe
    >>> code, message, status = mprobe(mpi4numba.PROC_NULL)
    >>> code, request = imrecv(np.empty(2), message)
    >>> code, mpi4numba.wait(request)
    (0, 0)
    """
    _matched_arguments(data, message)
    return _imrecv(request)


@api
def send_init(data, dest, tag=0, comm=None, request=None):
    """A persistent send of ``data`` to ``dest`` (``MPI_Send_init``); returns
    ``(code, request)``. Each :func:`~mpi4numba.requests.start` sends the current contents
    of ``data``; ``wait`` leaves the request inactive (not null) for the next start;
    :func:`~mpi4numba.requests.request_free` releases it. ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import send_init
    >>> from mpi4numba.requests import request_free, start
    >>> code, request = send_init(np.arange(2), mpi4numba.PROC_NULL)
    >>> code, start(request), mpi4numba.wait(request), request_free(request)
    (0, 0, 0, 0)
    """
    _send_arguments(data, dest, tag, request)
    return _SEND_INIT(request)


@api
def recv_init(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None, request=None):
    """A persistent receive into ``data`` from ``source`` (``MPI_Recv_init``); returns
    ``(code, request)``; used as :func:`send_init`'s.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_init
    >>> from mpi4numba.requests import request_free, start
    >>> code, request = recv_init(np.empty(2), mpi4numba.PROC_NULL)
    >>> code, start(request), mpi4numba.wait(request), request_free(request)
    (0, 0, 0, 0)
    """
    _receive_arguments(data, source, tag)
    return _RECV_INIT(request)
