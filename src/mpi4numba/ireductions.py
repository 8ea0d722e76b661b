"""Non-blocking reductions: iallreduce, ireduce, iscan, iexscan, ireduce_scatter_block.

They follow the rules of :mod:`mpi4numba.nonblocking` (``(status, request)``, the request
keeps the buffers alive, C-contiguous buffers only) and take the arguments, operators
and ``IN_PLACE`` forms of the blocking reductions in :mod:`mpi4numba.reductions`.
Their persistent forms (MPI-4.0: ``reduce_init``, ``allreduce_init``, ``scan_init``,
``exscan_init``, ``reduce_scatter_block_init``) take an array or ``IN_PLACE`` as
``sendobj``, never a number, as each start reads it anew.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError

from ._core import capi
from ._core.inplace import NO_ADDRESS, is_in_place
from ._core.keepalive import stash
from ._support.api import api, lowers, persistent_form
from ._support.emit_requests import STARTED
from ._support.operators import Operator
from ._support.validate import c_ordered, integer, operand_form, reduction_operands

__all__ = [
    "ireduce",
    "iallreduce",
    "iscan",
    "iexscan",
    "ireduce_scatter_block",
    "reduce_init",
    "allreduce_init",
    "scan_init",
    "exscan_init",
    "reduce_scatter_block_init",
]

_NOT_C_ORDER = "mpi4numba: sendobj and recvobj must be C-contiguous (MPI works on them after the call)"
# the MPI routines of the reductions without a root
_STARTS = {"iallreduce": capi.MPI_Iallreduce, "iscan": capi.MPI_Iscan, "iexscan": capi.MPI_Iexscan}


def _array_operand(sendobj) -> None:
    """A persistent reduction reads ``sendobj`` at every start: an array or IN_PLACE."""
    if operand_form(sendobj) == "scalar":
        raise TypingError(
            "mpi4numba: sendobj must be an array or IN_PLACE, not a number: "
            "a persistent reduction reads it at every start"
        )


def _persistent_check(sendobj, *others) -> None:
    _array_operand(sendobj)


def _reduction_type(sendobj, recvobj, operator) -> types.Type:
    """The arguments of a non-blocking reduction, and its result type."""
    reduction_operands(sendobj, recvobj, operator)
    c_ordered(sendobj, "sendobj")
    c_ordered(recvobj, "recvobj")
    return STARTED


def _start_reduction(e, kind: str, sendobj, recvobj, operator, root, comm, persistent: bool = False):
    """Start a reduction of ``sendobj`` (a scalar, kept in the request's stash; an array; or
    IN_PLACE) into ``recvobj``; ``root`` matters to ireduce only."""
    form = operand_form(sendobj.type)
    handle = e.comm(comm)
    reduces = kind == "ireduce"
    # ireduce: the result lands on root only, so a non-root's recvobj may be short
    is_root = e.rank(comm).eq(root) if reduces else e.const(True)
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
        e.check(
            e.size(recvobj).ge(count).or_(e.not_(is_root)),
            ValueError,
            "mpi4numba: recvobj has fewer elements than sendobj",
        )
    if form == "array":
        e.require_c_order(sendobj, _NOT_C_ORDER)
    e.require_c_order(recvobj, _NOT_C_ORDER)
    op, datatype = e.reduction(operator, recvobj)

    with e.starting(*((sendobj, recvobj) if form == "array" else (recvobj,)), persistent=persistent) as start:
        send = e(stash, start.request, sendobj, recvobj) if form == "scalar" else source
        if reduces:
            start.code = start.call(capi.MPI_Ireduce, send, target, count, datatype, op, root, handle)
        else:
            start.code = start.call(_STARTS[kind], send, target, count, datatype, op, handle)
    return start.result


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
    return _reduction_type(sendobj, recvobj, operator)


@lowers(iallreduce)
def _iallreduce(e, sendobj, recvobj, operator, comm, *, persistent=False):
    return _start_reduction(e, "iallreduce", sendobj, recvobj, operator, 0, comm, persistent)


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
    integer(root, "root")
    return _reduction_type(sendobj, recvobj, operator)


@lowers(ireduce)
def _ireduce(e, sendobj, recvobj, operator, root, comm, *, persistent=False):
    return _start_reduction(e, "ireduce", sendobj, recvobj, operator, root, comm, persistent)


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
    return _reduction_type(sendobj, recvobj, operator)


@lowers(iscan)
def _iscan(e, sendobj, recvobj, operator, comm, *, persistent=False):
    return _start_reduction(e, "iscan", sendobj, recvobj, operator, 0, comm, persistent)


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
    return _reduction_type(sendobj, recvobj, operator)


@lowers(iexscan)
def _iexscan(e, sendobj, recvobj, operator, comm, *, persistent=False):
    return _start_reduction(e, "iexscan", sendobj, recvobj, operator, 0, comm, persistent)


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
    if operand_form(sendobj) == "scalar":
        raise TypingError("mpi4numba: sendobj must be an array or IN_PLACE")
    return _reduction_type(sendobj, recvobj, operator)


@lowers(ireduce_scatter_block)
def _ireduce_scatter_block(e, sendobj, recvobj, operator, comm, *, persistent=False):
    handle = e.comm(comm)
    size = e.comm_size(comm)
    e.require_c_order(recvobj, _NOT_C_ORDER)
    if is_in_place(sendobj.type):  # the input is recvobj: size blocks
        source, count = e.in_place(), e.size(recvobj).floordiv(size)
    else:
        e.check(
            e.size(sendobj).ge(e.size(recvobj).mul(size)),
            ValueError,
            "mpi4numba: sendobj has fewer than size * recvobj.size elements",
        )
        e.require_c_order(sendobj, _NOT_C_ORDER)
        source, count = e.data(sendobj), e.size(recvobj)
    op, datatype = e.reduction(operator, recvobj)
    with e.starting(sendobj, recvobj, persistent=persistent) as start:
        start.code = start.call(capi.MPI_Ireduce_scatter_block, source, e.data(recvobj), count, datatype, op, handle)
    return start.result


# Persistent forms (MPI-4): set up once, started many times (see the module doc)


reduce_init = persistent_form(
    ireduce,
    _ireduce,
    """A persistent reduction of ``sendobj`` (an array or ``IN_PLACE``) into ``recvobj`` on
    ``root`` (``MPI_Reduce_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import reduce_init
    >>> size = mpi4numba.size()
    >>> mine, total = np.ones(2), np.zeros(2)
    >>> status, request = reduce_init(mine, total, mpi4numba.Operator.SUM, 0)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mpi4numba.rank() != 0 or total.tolist() == [1.0 * size, 1.0 * size]
    True
    """,
    _persistent_check,
)


allreduce_init = persistent_form(
    iallreduce,
    _iallreduce,
    """A persistent reduction of ``sendobj`` (an array or ``IN_PLACE``) into ``recvobj`` on
    every process (``MPI_Allreduce_init``); returns ``(status, request)``. Each start
    combines ``sendobj`` as it is then.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import allreduce_init
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
    """,
    _persistent_check,
)


scan_init = persistent_form(
    iscan,
    _iscan,
    """A persistent inclusive prefix reduction (``MPI_Scan_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import scan_init
    >>> upto = np.empty(1)
    >>> status, request = scan_init(np.ones(1), upto)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> upto.tolist() == [mpi4numba.rank() + 1]
    True
    """,
    _persistent_check,
)


exscan_init = persistent_form(
    iexscan,
    _iexscan,
    """A persistent exclusive prefix reduction (``MPI_Exscan_init``; rank 0's ``recvobj`` is
    left undefined); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import exscan_init
    >>> before = np.zeros(1)
    >>> status, request = exscan_init(np.ones(1), before)
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mpi4numba.rank() == 0 or before.tolist() == [mpi4numba.rank()]
    True
    """,
    _persistent_check,
)


reduce_scatter_block_init = persistent_form(
    ireduce_scatter_block,
    _ireduce_scatter_block,
    """A persistent :func:`~mpi4numba.ireduce_scatter_block`
    (``MPI_Reduce_scatter_block_init``); returns ``(status, request)``.

    >>> import numpy as np, mpi4numba
    >>> from mpi4numba import reduce_scatter_block_init
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine = np.empty(1)
    >>> status, request = reduce_scatter_block_init(np.arange(1.0 * size), mine)  # the same from everyone
    >>> status, mpi4numba.start(request), mpi4numba.wait(request), mpi4numba.request_free(request)
    (0, 0, 0, 0)
    >>> mine.tolist() == [1.0 * rank * size]
    True
    """,
)
