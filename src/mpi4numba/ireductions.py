"""Non-blocking reductions: iallreduce, ireduce, iscan, iexscan, ireduce_scatter_block.

They follow the rules of :mod:`mpi4numba.nonblocking` (``(status, request)``, the request
keeps the buffers alive, C-contiguous buffers only) and take the arguments, operators
and ``IN_PLACE`` forms of the blocking reductions in :mod:`mpi4numba.reductions`.
"""

from __future__ import annotations

from numba.core.errors import TypingError

from . import _capi
from ._api import api, lowering
from ._buffers import NO_ADDRESS, is_in_place
from ._keepalive import stash
from ._validate import integer
from .nonblocking import _STARTED, _refuse_fortran_order, _require_c_order, _started
from .operators import Operator
from .reductions import _validate as _reduction_form
from .reductions import operation

__all__ = ["ireduce", "iallreduce", "iscan", "iexscan", "ireduce_scatter_block"]

_NOT_C_ORDER = "mpi4numba: sendobj and recvobj must be C-contiguous (MPI works on them after the call)"
# the MPI routines of the reductions without a root
_STARTS = {"iallreduce": _capi.MPI_Iallreduce, "iscan": _capi.MPI_Iscan, "iexscan": _capi.MPI_Iexscan}


def _form(where: str, sendobj, recvobj, operator) -> str:
    """Validate a reduction's arguments; returns 'scalar', 'array' or 'in_place'."""
    form = _reduction_form(where, sendobj, recvobj, operator)
    for value in (sendobj, recvobj):
        _refuse_fortran_order(value, f"mpi4numba.{where}: non-blocking reductions need C-contiguous arrays")
    return form


def _start_reduction(e, where: str, form: str, sendobj, recvobj, operator, root, comm):
    """Start a reduction of ``sendobj`` (a scalar, kept in the request's stash; an array; or
    IN_PLACE) into ``recvobj``; ``root`` matters to ireduce only."""
    handle = e.comm(comm)
    reduces = where == "ireduce"
    # ireduce: the result lands on root only, so a non-root's recvobj may be short
    is_root = e(_capi.MPI_Comm_rank, handle)[1] == root if reduces else e.const(True)
    target = e.data(recvobj)
    if form == "scalar":
        source, count = None, e.const(1)  # stashed in the request, once it is made
    elif form == "array":
        source, count = e.data(sendobj), e.size(sendobj)
    else:
        source, count = e.in_place(), e.size(recvobj)
        if reduces:  # a non-root rank contributes recvobj
            source, target = e.select(is_root, source, target), e.select(is_root, target, NO_ADDRESS)
    if form != "in_place":
        e.check((e.size(recvobj) >= count) | e.not_(is_root), ValueError,
                "mpi4numba: recvobj has fewer elements than sendobj")
    if form == "array":
        _require_c_order(e, sendobj, _NOT_C_ORDER)
    _require_c_order(e, recvobj, _NOT_C_ORDER)
    op, datatype = operation(e, where, operator, recvobj)

    def start(request):
        send = e(stash, request, sendobj, recvobj) if form == "scalar" else source
        if reduces:
            return e(_capi.MPI_Ireduce, send, target, count, datatype, op, root, handle, e.data(request))
        return e(_STARTS[where], send, target, count, datatype, op, handle, e.data(request))

    return _started(e, (sendobj, recvobj) if form == "array" else (recvobj,), start)


def _without_root(where: str, sendobj, recvobj, operator):
    """The lowering of iallreduce, iscan or iexscan."""
    form = _form(where, sendobj, recvobj, operator)
    return lowering(_STARTED)(lambda e, sendobj, recvobj, operator, comm:
                             _start_reduction(e, where, form, sendobj, recvobj, operator, 0, comm))


@api
def iallreduce(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start combining ``sendobj`` (array, scalar or ``IN_PLACE``) from all processes with
    ``operator`` into ``recvobj`` on every process (``MPI_Iallreduce``); returns
    ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.ireductions import iallreduce
    >>> size = mpi4numba.size()
    >>> total = np.empty(1)
    >>> status, request = iallreduce(mpi4numba.rank() + 1.0, total)
    >>> status, mpi4numba.wait(request), total.tolist() == [size * (size + 1) / 2]  # 1 + ... + size
    (0, 0, True)
    """
    return _without_root("iallreduce", sendobj, recvobj, operator)


@api
def ireduce(sendobj, recvobj, operator, root, comm=None):
    """Start combining ``sendobj`` from all processes with ``operator`` into ``recvobj`` on
    ``root`` (``MPI_Ireduce``); returns ``(status, request)``. With ``IN_PLACE``, a
    non-root rank contributes ``recvobj``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.ireductions import ireduce
    >>> size = mpi4numba.size()
    >>> total = np.array([1.0, 2.0])  # each process's contribution; the root's is replaced by the sum
    >>> status, request = ireduce(mpi4numba.IN_PLACE, total, mpi4numba.Operator.SUM, 0)
    >>> status, mpi4numba.wait(request), mpi4numba.rank() != 0 or total.tolist() == [1.0 * size, 2.0 * size]
    (0, 0, True)
    """
    integer(root, "ireduce", "root")
    form = _form("ireduce", sendobj, recvobj, operator)
    return lowering(_STARTED)(lambda e, sendobj, recvobj, operator, root, comm:
                             _start_reduction(e, "ireduce", form, sendobj, recvobj, operator, root, comm))


@api
def iscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start an inclusive prefix reduction: rank r gets ``sendobj`` of ranks 0..r combined
    (``MPI_Iscan``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.ireductions import iscan
    >>> upto = np.empty(1)
    >>> status, request = iscan(1.0, upto)
    >>> status, mpi4numba.wait(request), upto.tolist() == [mpi4numba.rank() + 1]  # ones of ranks 0..rank
    (0, 0, True)
    """
    return _without_root("iscan", sendobj, recvobj, operator)


@api
def iexscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start an exclusive prefix reduction: rank r gets ranks 0..r-1 combined; ``recvobj``
    on rank 0 is left undefined by MPI (``MPI_Iexscan``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.ireductions import iexscan
    >>> before = np.zeros(1)
    >>> status, request = iexscan(1.0, before)
    >>> status, mpi4numba.wait(request), mpi4numba.rank() == 0 or before.tolist() == [mpi4numba.rank()]
    (0, 0, True)
    """
    return _without_root("iexscan", sendobj, recvobj, operator)


@lowering(_STARTED)
def _IREDUCE_SCATTER_BLOCK(e, sendobj, recvobj, operator, comm):
    handle = e.comm(comm)
    size = e(_capi.MPI_Comm_size, handle)[1]
    _require_c_order(e, recvobj, _NOT_C_ORDER)
    if is_in_place(sendobj.type):  # the input is recvobj: size blocks
        source, count = e.in_place(), e.size(recvobj) // size
    else:
        e.check(e.size(sendobj) >= e.size(recvobj) * size, ValueError,
                "mpi4numba.ireduce_scatter_block: sendobj has fewer than size * recvobj.size elements")
        _require_c_order(e, sendobj, _NOT_C_ORDER)
        source, count = e.data(sendobj), e.size(recvobj)
    op, datatype = operation(e, "ireduce_scatter_block", operator, recvobj)
    return _started(e, (sendobj, recvobj), lambda request: e(
        _capi.MPI_Ireduce_scatter_block, source, e.data(recvobj), count, datatype, op, handle, e.data(request)))


@api
def ireduce_scatter_block(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Start reducing ``size * n`` elements elementwise and giving block r (``n`` =
    ``recvobj.size``) to rank r (``MPI_Ireduce_scatter_block``); returns ``(status, request)``.
    With ``IN_PLACE`` the input is ``recvobj`` (``size * n`` elements), the result its first ``n``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba.ireductions import ireduce_scatter_block
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine = np.empty(2)
    >>> status, request = ireduce_scatter_block(np.arange(2.0 * size), mine)  # the same 0, 1, ... from everyone
    >>> status, mpi4numba.wait(request), mine.tolist() == [2.0 * rank * size, (2.0 * rank + 1) * size]
    (0, 0, True)
    """
    if _form("ireduce_scatter_block", sendobj, recvobj, operator) == "scalar":
        raise TypingError("mpi4numba.ireduce_scatter_block: sendobj must be an array or IN_PLACE")
    return _IREDUCE_SCATTER_BLOCK
