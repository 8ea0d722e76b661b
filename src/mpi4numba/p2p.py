"""Point-to-point communication: send, recv, sendrecv, isend, irecv.

Buffers are NumPy arrays of a supported dtype (see :mod:`mpi4numba.datatypes`); a message
holds the array's elements in C (row-major) index order, whatever its memory layout.
``source`` may be ``ANY_SOURCE``, ``tag`` ``ANY_TAG``, ``dest``/``source`` ``PROC_NULL``.
Every routine returns MPI's status code (0 = success): a receive buffer too short for
the message gives ``ERR_TRUNCATE``; a bad rank or tag gives ``ERR_RANK``/``ERR_TAG``.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload

from . import _capi
from ._api import _python_entry, api
from ._ccall import predefined
from ._commtype import comm_handle
from ._runtime import ABI
from ._validate import array, integer
from .datatypes import buffer, release
from .requests import RequestType, _request_numba

ANY_SOURCE = ABI.ANY_SOURCE
ANY_TAG = ABI.ANY_TAG
PROC_NULL = ABI.PROC_NULL
UNDEFINED = ABI.UNDEFINED

__all__ = ["send", "recv", "sendrecv", "isend", "irecv", "ANY_SOURCE", "ANY_TAG", "PROC_NULL", "UNDEFINED"]


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
overload(_new_request, inline="always")(lambda request: _request_slot(request, "isend/irecv"))


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
        request = _new_request(request)
        address, count, datatype, derived = buffer(data, "mpi4numba.isend")
        code = _capi.MPI_Isend(address, count, datatype, dest, tag, comm_handle(comm), request.ctypes.data)
        release(datatype, derived)
        if code != 0:
            request[0] = predefined("REQUEST_NULL")
        return code, request

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
        request = _new_request(request)
        address, count, datatype, derived = buffer(data, "mpi4numba.irecv")
        code = _capi.MPI_Irecv(address, count, datatype, source, tag, comm_handle(comm), request.ctypes.data)
        release(datatype, derived)
        if code != 0:
            request[0] = predefined("REQUEST_NULL")
        return code, request

    return impl
