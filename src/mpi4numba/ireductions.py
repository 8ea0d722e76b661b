"""Non-blocking reductions: iallreduce, ireduce, iscan, iexscan, ireduce_scatter_block.

They follow the rules of :mod:`mpi4numba.nonblocking` (``(status, request)``, the request
keeps the buffers alive, C-contiguous buffers only) and take the arguments, operators
and ``IN_PLACE`` forms of the blocking reductions in :mod:`mpi4numba.reductions`.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import api
from ._buffers import IN_PLACE_ADDRESS, NO_ADDRESS, is_in_place, rank_size
from ._commtype import comm_handle
from ._keepalive import new_request, stash
from ._validate import integer
from .datatypes import element_type
from .nonblocking import _dense, _posted
from .operators import Operator, op_handle
from .reductions import _validate as _reduction_form

__all__ = ["ireduce", "iallreduce", "iscan", "iexscan", "ireduce_scatter_block"]


# Reductions. ``kind`` picks the MPI routine; it is a constant wherever it is used.
_ALLREDUCE, _REDUCE, _SCAN, _EXSCAN = range(4)


@register_jitable
def _start_reduction(kind, send, target, recvobj, count, operator, root, comm, request):
    datatype, _ = element_type(recvobj)
    op, handle, slot = op_handle(operator), comm_handle(comm), request.ctypes.data
    if kind == _REDUCE:
        return _capi.MPI_Ireduce(send, target, count, datatype, op, root, handle, slot)
    if kind == _SCAN:
        return _capi.MPI_Iscan(send, target, count, datatype, op, handle, slot)
    if kind == _EXSCAN:
        return _capi.MPI_Iexscan(send, target, count, datatype, op, handle, slot)
    return _capi.MPI_Iallreduce(send, target, count, datatype, op, handle, slot)


def _reduction(sendobj, recvobj, operator, root, comm, kind):  # pragma: no cover - replaced below
    raise NotImplementedError


@overload(_reduction)
def _reduction_impl(sendobj, recvobj, operator, root, comm, kind):
    """Start a reduction of ``sendobj`` (scalar, C-contiguous array or IN_PLACE)."""
    for value in (sendobj, recvobj):
        if isinstance(value, types.Array) and value.layout == "F" and value.ndim > 1:
            raise TypingError("mpi4numba: non-blocking reductions need C-contiguous arrays")

    if isinstance(sendobj, (types.Number, types.Boolean)):

        def scalar(sendobj, recvobj, operator, root, comm, kind):
            if recvobj.size < 1 and (kind != _REDUCE or rank_size(comm)[0] == root):
                raise ValueError("mpi4numba: recvobj has fewer elements than sendobj")
            _dense(recvobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
            request = new_request((recvobj,))
            send = stash(request, sendobj, recvobj)
            code = _start_reduction(kind, send, recvobj.ctypes.data, recvobj, 1, operator, root, comm, request)
            return _posted(code, request)

        return scalar

    if is_in_place(sendobj):

        def in_place(sendobj, recvobj, operator, root, comm, kind):
            _dense(recvobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
            request = new_request((recvobj,))
            send, target = IN_PLACE_ADDRESS, recvobj.ctypes.data
            if kind == _REDUCE and rank_size(comm)[0] != root:
                send, target = target, NO_ADDRESS  # a non-root rank contributes recvobj
            code = _start_reduction(kind, send, target, recvobj, recvobj.size, operator, root, comm, request)
            return _posted(code, request)

        return in_place

    def array(sendobj, recvobj, operator, root, comm, kind):
        if recvobj.size < sendobj.size and (kind != _REDUCE or rank_size(comm)[0] == root):
            raise ValueError("mpi4numba: recvobj has fewer elements than sendobj")
        _dense(sendobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
        _dense(recvobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
        request = new_request((sendobj, recvobj))
        code = _start_reduction(kind, sendobj.ctypes.data, recvobj.ctypes.data, recvobj, sendobj.size, operator, root,
                                comm, request)
        return _posted(code, request)

    return array


@api
def iallreduce(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start combining ``sendobj`` (array, scalar or ``IN_PLACE``) from all processes with
    ``operator`` into ``recvobj`` on every process (``MPI_Iallreduce``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iallreduce
    >>> total = np.empty(1)
    >>> status, request = iallreduce(1.0, total)
    >>> status, mpi4numba.wait(request), total[0] == mpi4numba.size()
    (0, 0, True)
    """
    _reduction_form("iallreduce", sendobj, recvobj, operator)

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return _reduction(sendobj, recvobj, operator, 0, comm, _ALLREDUCE)

    return impl


@api
def ireduce(sendobj, recvobj, operator, root, comm=None):
    """Start combining ``sendobj`` from all processes with ``operator`` into ``recvobj`` on
    ``root`` (``MPI_Ireduce``); returns ``(status, request)``. With ``IN_PLACE``, a
    non-root rank contributes ``recvobj``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ireduce
    >>> total = np.ones(2)
    >>> status, request = ireduce(mpi4numba.IN_PLACE, total, mpi4numba.Operator.SUM, 0)
    >>> status, mpi4numba.wait(request), mpi4numba.rank() != 0 or total[0] == mpi4numba.size()
    (0, 0, True)
    """
    integer(root, "ireduce", "root")
    _reduction_form("ireduce", sendobj, recvobj, operator)

    def impl(sendobj, recvobj, operator, root, comm=None):
        return _reduction(sendobj, recvobj, operator, root, comm, _REDUCE)

    return impl


@api
def iscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start an inclusive prefix reduction: rank r gets ``sendobj`` of ranks 0..r combined
    (``MPI_Iscan``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iscan
    >>> upto = np.empty(1)
    >>> status, request = iscan(1.0, upto)
    >>> status, mpi4numba.wait(request), upto[0] == mpi4numba.rank() + 1
    (0, 0, True)
    """
    _reduction_form("iscan", sendobj, recvobj, operator)

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return _reduction(sendobj, recvobj, operator, 0, comm, _SCAN)

    return impl


@api
def iexscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start an exclusive prefix reduction: rank r gets ranks 0..r-1 combined; ``recvobj``
    on rank 0 is left undefined by MPI (``MPI_Iexscan``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import iexscan
    >>> before = np.zeros(1)
    >>> status, request = iexscan(1.0, before)
    >>> status, mpi4numba.wait(request), mpi4numba.rank() == 0 or before[0] == mpi4numba.rank()
    (0, 0, True)
    """
    _reduction_form("iexscan", sendobj, recvobj, operator)

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return _reduction(sendobj, recvobj, operator, 0, comm, _EXSCAN)

    return impl


def _scatter_source(sendobj, recvobj, size):  # pragma: no cover - replaced below
    raise NotImplementedError


@overload(_scatter_source)
def _scatter_source_impl(sendobj, recvobj, size):
    """(send address, elements per block) of reduce_scatter_block (IN_PLACE: recvobj's)."""
    if is_in_place(sendobj):
        return lambda sendobj, recvobj, size: (IN_PLACE_ADDRESS, recvobj.size // size)

    def regular(sendobj, recvobj, size):
        if sendobj.size < recvobj.size * size:
            raise ValueError("mpi4numba.ireduce_scatter_block: sendobj has fewer than size * recvobj.size elements")
        _dense(sendobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
        return sendobj.ctypes.data, recvobj.size

    return regular


@api
def ireduce_scatter_block(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start reducing ``size * n`` elements elementwise and giving block r (``n`` =
    ``recvobj.size``) to rank r (``MPI_Ireduce_scatter_block``); returns ``(status, request)``.
    With ``IN_PLACE`` the input is ``recvobj`` (``size * n`` elements), the result its first ``n``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.nonblocking import ireduce_scatter_block
    >>> mine = np.empty(2)
    >>> status, request = ireduce_scatter_block(np.ones(2 * mpi4numba.size()), mine)
    >>> status, mpi4numba.wait(request), mine[0] == mpi4numba.size()
    (0, 0, True)
    """
    if _reduction_form("ireduce_scatter_block", sendobj, recvobj, operator) == "scalar":
        raise TypingError("mpi4numba.ireduce_scatter_block: sendobj must be an array or IN_PLACE")
    for value in (sendobj, recvobj):
        if isinstance(value, types.Array) and value.layout == "F" and value.ndim > 1:
            raise TypingError("mpi4numba.ireduce_scatter_block: non-blocking reductions need C-contiguous arrays")

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        size = rank_size(comm)[1]
        _dense(recvobj, "mpi4numba: non-blocking reductions need C-contiguous arrays")
        send, count = _scatter_source(sendobj, recvobj, size)
        datatype, _ = element_type(recvobj)
        request = new_request((sendobj, recvobj))
        code = _capi.MPI_Ireduce_scatter_block(send, recvobj.ctypes.data, count, datatype, op_handle(operator),
                                               comm_handle(comm), request.ctypes.data)
        return _posted(code, request)

    return impl
