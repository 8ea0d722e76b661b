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

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import _python_entry, api
from ._ccall import predefined
from ._commtype import comm_handle
from ._runtime import ABI
from ._validate import array, integer
from .datatypes import buffer, release
from .requests import RequestType, _request_numba
from .status import status_type  # noqa: F401  (registers the Status type that probes return)

ANY_SOURCE = ABI.ANY_SOURCE
ANY_TAG = ABI.ANY_TAG
PROC_NULL = ABI.PROC_NULL
UNDEFINED = ABI.UNDEFINED

__all__ = ["send", "recv", "sendrecv", "isend", "irecv", "ssend", "issend", "recv_status",
           "probe", "iprobe", "mprobe", "improbe", "mrecv", "imrecv", "send_init", "recv_init",
           "ANY_SOURCE", "ANY_TAG", "PROC_NULL", "UNDEFINED"]


@api
def send(data, dest, tag=0, comm=None):
    """Send the array ``data`` to rank ``dest`` (blocking, ``MPI_Send``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> mpi4numba.send(np.arange(4), mpi4numba.PROC_NULL, tag=1)
    0
    """
    array(data, "send", "data")
    integer(dest, "send", "dest")
    integer(tag, "send", "tag")

    def impl(data, dest, tag=0, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.send")
        code = _capi.MPI_Send(address, count, datatype, dest, tag, comm_handle(comm))
        release(datatype, derived)
        return code

    return impl


@api
def recv(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Receive into the array ``data`` from ``source`` (blocking, ``MPI_Recv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> mpi4numba.recv(np.empty(4), mpi4numba.PROC_NULL)
    0
    """
    array(data, "recv", "data", writable=True)
    integer(source, "recv", "source")
    integer(tag, "recv", "tag")

    def impl(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.recv")
        code = _capi.MPI_Recv(address, count, datatype, source, tag, comm_handle(comm))
        release(datatype, derived)
        return code

    return impl


@api
def sendrecv(senddata, dest, recvdata, source=ANY_SOURCE, sendtag=0, recvtag=ANY_TAG, comm=None):
    """Send ``senddata`` to ``dest`` and receive ``recvdata`` from ``source`` in one call
    (``MPI_Sendrecv``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> me, out = mpi4numba.rank(), np.empty(2)
    >>> mpi4numba.sendrecv(np.array([1.0, 2.0]), me, out, me), out
    (0, array([1., 2.]))
    """
    array(senddata, "sendrecv", "senddata")
    array(recvdata, "sendrecv", "recvdata", writable=True)
    for value, what in ((dest, "dest"), (source, "source"), (sendtag, "sendtag"), (recvtag, "recvtag")):
        integer(value, "sendrecv", what)

    def impl(senddata, dest, recvdata, source=ANY_SOURCE, sendtag=0, recvtag=ANY_TAG, comm=None):
        s_address, s_count, s_type, s_derived = buffer(senddata, "mpi4numba.sendrecv")
        r_address, r_count, r_type, r_derived = buffer(recvdata, "mpi4numba.sendrecv")
        code = _capi.MPI_Sendrecv(
            s_address, s_count, s_type, dest, sendtag,
            r_address, r_count, r_type, source, recvtag, comm_handle(comm),
        )
        release(s_type, s_derived)
        release(r_type, r_derived)
        return code

    return impl


def _request_slot(request, where: str):
    """Implementation returning the array the new request goes to (allocated if None)."""
    if isinstance(request, (types.NoneType, types.Omitted)):
        return lambda request: np.empty(1, RequestType)
    if not (isinstance(request, types.Array) and request.dtype == _request_numba and request.layout == "C"):
        raise TypingError(f"mpi4numba.{where}: request must be a C-contiguous RequestType array, got {request}")
    return lambda request: request


_new_request = _python_entry("_new_request")
overload(_new_request)(lambda request: _request_slot(request, "p2p"))

def _request_starter(start_call, label: str):
    """The body shared by routines that start a request on a buffer (``MPI_Isend``,
    ``MPI_Irecv``, ``MPI_Issend``, ``MPI_Send_init``, ``MPI_Recv_init``): the request goes
    into ``request`` (allocated if None) and is ``REQUEST_NULL`` if MPI refused."""

    @register_jitable
    def start(data, peer, tag, comm, request):
        request = _new_request(request)
        address, count, datatype, derived = buffer(data, label)
        code = start_call(address, count, datatype, peer, tag, comm_handle(comm), request.ctypes.data)
        release(datatype, derived)
        if code != 0:
            request[0] = predefined("REQUEST_NULL")
        return code, request

    return start


_isend_start = _request_starter(_capi.MPI_Isend, "mpi4numba.isend")
_irecv_start = _request_starter(_capi.MPI_Irecv, "mpi4numba.irecv")
_issend_start = _request_starter(_capi.MPI_Issend, "mpi4numba.issend")
_send_init_start = _request_starter(_capi.MPI_Send_init, "mpi4numba.send_init")
_recv_init_start = _request_starter(_capi.MPI_Recv_init, "mpi4numba.recv_init")



@api(inline=True)
def isend(data, dest, tag=0, comm=None, request=None):
    """Start sending ``data`` to ``dest`` (``MPI_Isend``); returns ``(status, request)``.

    ``request`` is a RequestType array of shape (1,) for ``wait``/``test``; pass your own
    (e.g. ``requests[i:i + 1]`` of a :func:`request_array`) to avoid allocating one per
    call. Keep ``data`` unchanged and alive until the request completes.

    >>> import numpy as np, mpi4numba
    >>> status, request = mpi4numba.isend(np.arange(2), mpi4numba.PROC_NULL)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    """
    array(data, "isend", "data")
    integer(dest, "isend", "dest")
    integer(tag, "isend", "tag")
    _request_slot(request, "isend")

    def impl(data, dest, tag=0, comm=None, request=None):
        return _isend_start(data, dest, tag, comm, request)

    return impl


@api(inline=True)
def irecv(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None, request=None):
    """Start receiving into ``data`` from ``source`` (``MPI_Irecv``); returns ``(status, request)``.

    ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> status, request = mpi4numba.irecv(np.empty(2), mpi4numba.PROC_NULL)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    """
    array(data, "irecv", "data", writable=True)
    integer(source, "irecv", "source")
    integer(tag, "irecv", "tag")
    _request_slot(request, "irecv")

    def impl(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None, request=None):
        return _irecv_start(data, source, tag, comm, request)

    return impl


@api
def ssend(data, dest, tag=0, comm=None):
    """Synchronous send (``MPI_Ssend``): returns once the matching receive has started.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import ssend
    >>> ssend(np.arange(4), mpi4numba.PROC_NULL, tag=1)
    0
    """
    array(data, "ssend", "data")
    integer(dest, "ssend", "dest")
    integer(tag, "ssend", "tag")

    def impl(data, dest, tag=0, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.ssend")
        code = _capi.MPI_Ssend(address, count, datatype, dest, tag, comm_handle(comm))
        release(datatype, derived)
        return code

    return impl


@api(inline=True)
def issend(data, dest, tag=0, comm=None, request=None):
    """Start a synchronous send (``MPI_Issend``); returns ``(status, request)``, which
    completes once the matching receive has started. ``request`` as for :func:`isend`.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import issend
    >>> status, request = issend(np.arange(2), mpi4numba.PROC_NULL)
    >>> status, mpi4numba.wait(request)
    (0, 0)
    """
    array(data, "issend", "data")
    integer(dest, "issend", "dest")
    integer(tag, "issend", "tag")
    _request_slot(request, "issend")

    def impl(data, dest, tag=0, comm=None, request=None):
        return _issend_start(data, dest, tag, comm, request)

    return impl


@api
def recv_status(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """:func:`recv` that also returns the message's status: ``(code, status)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.p2p import recv_status
    >>> code, status = recv_status(np.empty(4), mpi4numba.PROC_NULL)
    >>> code, status.source == mpi4numba.PROC_NULL, status.tag == mpi4numba.ANY_TAG
    (0, True, True)
    """
    array(data, "recv_status", "data", writable=True)
    integer(source, "recv_status", "source")
    integer(tag, "recv_status", "tag")

    def impl(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        address, count, datatype, derived = buffer(data, "mpi4numba.recv_status")
        code, status = _capi.MPI_Recv_status(address, count, datatype, source, tag, comm_handle(comm))
        release(datatype, derived)
        return code, status

    return impl


def _probe_arguments(source, tag, where: str) -> None:
    integer(source, where, "source")
    integer(tag, where, "tag")


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
    _probe_arguments(source, tag, "probe")

    def impl(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        return _capi.MPI_Probe(source, tag, comm_handle(comm))

    return impl


@api
def iprobe(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
    """Whether a message from ``source`` with ``tag`` has arrived (``MPI_Iprobe``);
    returns ``(code, flag, status)``; ``status`` is meaningful when ``flag`` is true.

    >>> import mpi4numba
    >>> from mpi4numba.p2p import iprobe
    >>> iprobe(mpi4numba.PROC_NULL)[:2]
    (0, True)
    """
    _probe_arguments(source, tag, "iprobe")

    def impl(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        code, flag, status = _capi.MPI_Iprobe(source, tag, comm_handle(comm))
        return code, flag != 0, status

    return impl


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
    _probe_arguments(source, tag, "mprobe")

    def impl(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        return _capi.MPI_Mprobe(source, tag, comm_handle(comm))

    return impl


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
    _probe_arguments(source, tag, "improbe")

    def impl(source=ANY_SOURCE, tag=ANY_TAG, comm=None):
        code, flag, message, status = _capi.MPI_Improbe(source, tag, comm_handle(comm))
        return code, flag != 0, message, status

    return impl


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
    array(data, "mrecv", "data", writable=True)
    integer(message, "mrecv", "message")

    def impl(data, message):
        address, count, datatype, derived = buffer(data, "mpi4numba.mrecv")
        code, _, status = _capi.MPI_Mrecv(address, count, datatype, message)
        release(datatype, derived)
        return code, status

    return impl


@api(inline=True)
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
    array(data, "imrecv", "data", writable=True)
    integer(message, "imrecv", "message")
    _request_slot(request, "imrecv")

    def impl(data, message, request=None):
        request = _new_request(request)
        address, count, datatype, derived = buffer(data, "mpi4numba.imrecv")
        code, _ = _capi.MPI_Imrecv(address, count, datatype, message, request.ctypes.data)
        release(datatype, derived)
        if code != 0:
            request[0] = predefined("REQUEST_NULL")
        return code, request

    return impl


@api(inline=True)
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
    array(data, "send_init", "data")
    integer(dest, "send_init", "dest")
    integer(tag, "send_init", "tag")
    _request_slot(request, "send_init")

    def impl(data, dest, tag=0, comm=None, request=None):
        return _send_init_start(data, dest, tag, comm, request)

    return impl


@api(inline=True)
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
    array(data, "recv_init", "data", writable=True)
    integer(source, "recv_init", "source")
    integer(tag, "recv_init", "tag")
    _request_slot(request, "recv_init")

    def impl(data, source=ANY_SOURCE, tag=ANY_TAG, comm=None, request=None):
        return _recv_init_start(data, source, tag, comm, request)

    return impl
