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
from ._core.keepalive import stash
from ._core.runtime import ABI
from ._core.statustype import status_type
from ._support.api import api, lowers
from ._support.validate import array, integer, request_type, send_data

ANY_SOURCE = ABI.ANY_SOURCE
ANY_TAG = ABI.ANY_TAG
PROC_NULL = ABI.PROC_NULL
UNDEFINED = ABI.UNDEFINED

__all__ = [
    "send",
    "recv",
    "sendrecv",
    "isendrecv",
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


_CODE_STATUS = types.Tuple((types.int32, status_type))


def _started_on(request: types.Type) -> types.Type:
    """``(code, request)``: the result of a routine that starts a request."""
    return types.Tuple((types.int32, request_type(request)))


def _blocking_send(e, c_function, data, dest, tag, comm):
    """The status of a blocking send of one buffer (``MPI_Send``, ``MPI_Ssend``)."""
    buf = e.send_buffer(data)
    code = e(c_function, *buf.as_args, dest, tag, e.comm(comm))
    e.release(buf)
    return code


def _blocking_receive(e, data, source, tag, comm, with_status: bool):
    """``(code, status)`` of a blocking receive, or ``code`` unless ``with_status``. A buffer
    received into scratch needs the status: how many elements arrived."""
    buf = e.receive_buffer(data)
    if buf.scratch is None and not with_status:
        code = e(capi.MPI_Recv, *buf.as_args, source, tag, e.comm(comm))
    else:
        code, status = e.unpack(e(capi.MPI_Recv_status, *buf.as_args, source, tag, e.comm(comm)))
        e.received(buf, data, code, status)
    e.release(buf)
    return e.tuple(code, status) if with_status else code


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
    return types.int32


@lowers(send)
def _send(e, data, dest, tag, comm):
    return _blocking_send(e, capi.MPI_Send, data, dest, tag, comm)


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
    return types.int32


@lowers(recv)
def _recv(e, data, source, tag, comm):
    return _blocking_receive(e, data, source, tag, comm, with_status=False)


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

    return types.int32


@lowers(sendrecv)
def _sendrecv(e, senddata, dest, recvdata, source, sendtag, recvtag, comm):
    out, into = e.send_buffer(senddata), e.receive_buffer(recvdata)
    arguments = (*out.as_args, dest, sendtag, *into.as_args, source, recvtag, e.comm(comm))
    if into.scratch is None:
        code = e(capi.MPI_Sendrecv, *arguments)
    else:  # what arrived in scratch is unpacked: its count is in the status
        code, status = e.unpack(e(capi.MPI_Sendrecv_status, *arguments))
        e.received(into, recvdata, code, status)
    e.release(out, into)
    return code


@api
def isendrecv(senddata, dest, recvdata, source=ANY_SOURCE, sendtag=0, recvtag=ANY_TAG, comm=None):
    """Start sending ``senddata`` to ``dest`` and receiving ``recvdata`` from ``source`` as
    one operation (``MPI_Isendrecv``, MPI-4.0); returns ``(status, request)``, a new
    request that keeps both buffers (or the number sent) alive. Strided views are used in
    place, described by derived datatypes. A library without the routine (Open MPI 4.1)
    returns ``ERR_UNSUPPORTED_OPERATION``.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> got = np.empty(2)
    >>> status, request = mpi4numba.isendrecv(np.array([1.0, 2.0]) * rank, right, got, left)
    >>> status, mpi4numba.wait(request), got.tolist() == [1.0 * left, 2.0 * left]
    (0, 0, True)
    """
    send_data(senddata, "senddata")
    array(recvdata, "recvdata", writable=True)
    for value, what in ((dest, "dest"), (source, "source"), (sendtag, "sendtag"), (recvtag, "recvtag")):
        integer(value, what)
    return _started_on(types.none)


@lowers(isendrecv)
def _isendrecv(e, senddata, dest, recvdata, source, sendtag, recvtag, comm):
    number = isinstance(senddata.type, (types.Number, types.Boolean))
    into = e.buffer(recvdata)
    out = None if number else e.buffer(senddata)
    with e.starting(*((recvdata,) if number else (senddata, recvdata))) as start:
        if number:  # the value lives in the request
            out = e.buffer(senddata, address=e(stash, start.request, senddata, senddata))
        start.code = e(
            capi.MPI_Isendrecv, *out.as_args, dest, sendtag, *into.as_args, source, recvtag, e.comm(comm), start.address
        )
    e.release(out, into)
    return start.result


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
    return _started_on(request)


@lowers(isend)
def _isend(e, data, dest, tag, comm, request):
    with e.request_on(data, request, sends=True) as start:
        start.code = e(capi.MPI_Isend, *start.buf.as_args, dest, tag, e.comm(comm), start.address)
    return start.result


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
    return _started_on(request)


@lowers(irecv)
def _irecv(e, data, source, tag, comm, request):
    with e.request_on(data, request, receives=True) as start:
        start.code = e(capi.MPI_Irecv, *start.buf.as_args, source, tag, e.comm(comm), start.address)
    return start.result


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
    return types.int32


@lowers(ssend)
def _ssend(e, data, dest, tag, comm):
    return _blocking_send(e, capi.MPI_Ssend, data, dest, tag, comm)


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
    return _started_on(request)


@lowers(issend)
def _issend(e, data, dest, tag, comm, request):
    with e.request_on(data, request, sends=True) as start:
        start.code = e(capi.MPI_Issend, *start.buf.as_args, dest, tag, e.comm(comm), start.address)
    return start.result


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
    return _CODE_STATUS


@lowers(recv_status)
def _recv_status(e, data, source, tag, comm):
    return _blocking_receive(e, data, source, tag, comm, with_status=True)


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
    return _CODE_STATUS


@lowers(probe)
def _probe(e, source, tag, comm):
    return e(capi.MPI_Probe, source, tag, e.comm(comm))


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
    return types.Tuple((types.int32, types.boolean, status_type))


@lowers(iprobe)
def _iprobe(e, source, tag, comm):
    code, flag, status = e.unpack(e(capi.MPI_Iprobe, source, tag, e.comm(comm)))
    return e.tuple(code, flag.ne(0), status)


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
    return types.Tuple((types.int32, HANDLE, status_type))


@lowers(mprobe)
def _mprobe(e, source, tag, comm):
    return e(capi.MPI_Mprobe, source, tag, e.comm(comm))


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
    return types.Tuple((types.int32, types.boolean, HANDLE, status_type))


@lowers(improbe)
def _improbe(e, source, tag, comm):
    code, flag, message, status = e.unpack(e(capi.MPI_Improbe, source, tag, e.comm(comm)))
    return e.tuple(code, flag.ne(0), message, status)


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
    return _CODE_STATUS


@lowers(mrecv)
def _mrecv(e, data, message):
    buf = e.receive_buffer(data)
    code, _, status = e.unpack(e(capi.MPI_Mrecv, *buf.as_args, message))
    e.received(buf, data, code, status)
    e.release(buf)
    return e.tuple(code, status)


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
    return _started_on(request)


@lowers(imrecv)
def _imrecv(e, data, message, request):
    with e.request_on(data, request, receives=True) as start:
        start.code = e(capi.MPI_Imrecv, *start.buf.as_args, message, start.address).getitem(0)
    return start.result


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
    return _started_on(request)


@lowers(send_init)
def _send_init(e, data, dest, tag, comm, request):
    with e.request_on(data, request) as start:  # not packed: each start sends the array as it is then
        start.code = e(capi.MPI_Send_init, *start.buf.as_args, dest, tag, e.comm(comm), start.address)
    return start.result


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
    return _started_on(request)


@lowers(recv_init)
def _recv_init(e, data, source, tag, comm, request):
    with e.request_on(data, request) as start:  # not through scratch: each start receives into the array
        start.code = e(capi.MPI_Recv_init, *start.buf.as_args, source, tag, e.comm(comm), start.address)
    return start.result
