"""Reductions: allreduce, reduce, scan, exscan, reduce_scatter_block, reduce_scatter.

``sendobj`` is an array, a scalar (cast to ``recvobj``'s dtype), or ``IN_PLACE``: the
input is then taken from ``recvobj`` and the result replaces it (for ``reduce`` every
rank may pass ``IN_PLACE``; a non-root rank then contributes ``recvobj``). Buffers that
are not C-contiguous are copied into mpi4numba's per-process scratch for the call (no
allocation per call): neither MPICH nor Open
MPI accepts predefined operators on derived datatypes (an hvector of doubles gives
``MPI_ERR_OP`` in both). ``operator`` is an ``Operator`` member (default ``SUM``) or
numba-mpi's integer value for one.

``MINLOC``/``MAXLOC`` reduce (value, index) pairs: a structured dtype laid out like the C
struct ``{T value; int index;}``, e.g. ``np.dtype([("value", "f8"), ("index", "i4")],
align=True)`` (T: float32, float64, int16, int32, C long), sent as MPI's pair type
(``DOUBLE_INT`` ...). Ties give the smallest index. Other structured dtypes are typing
errors. Operators apply as MPI's table says (``BAND`` to integers, ``LAND`` to integers
and bools, ``MAX`` not to complex numbers, MINLOC/MAXLOC to pairs only ...; ``REPLACE``
and ``NO_OP`` to one-sided accumulates only): an operator written in the code
(``mpi4numba.Operator.BAND``) that does not apply is a typing error naming the routine,
operator and dtype; one known only at run time (passed in from Python, numba-mpi's
integer value) raises ``ValueError`` saying the same, before MPI is called.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import register_jitable

from ._core import capi
from ._core.ccall import stack_value
from ._core.inplace import IN_PLACE_ADDRESS, NO_ADDRESS, is_in_place
from ._support.api import api, lowers
from ._support.largecount import INT_MAX, NEEDS_FALLBACK
from ._support.operators import Operator
from ._support.validate import integer, integer_vector, operand_form, reduction_operands

__all__ = ["allreduce", "reduce", "scan", "exscan", "reduce_scatter_block", "reduce_scatter"]

_ALLREDUCE, _REDUCE, _SCAN, _EXSCAN = range(4)


@register_jitable
def _call_once(kind, send_address, recv_address, count, datatype, op, root, handle):
    if kind == _REDUCE:
        return capi.MPI_Reduce(send_address, recv_address, count, datatype, op, root, handle)
    if kind == _SCAN:
        return capi.MPI_Scan(send_address, recv_address, count, datatype, op, handle)
    if kind == _EXSCAN:
        return capi.MPI_Exscan(send_address, recv_address, count, datatype, op, handle)
    return capi.MPI_Allreduce(send_address, recv_address, count, datatype, op, handle)


@register_jitable
def _slice_address(address, offset):
    """``address + offset``, except for the special addresses IN_PLACE and none."""
    if address in (IN_PLACE_ADDRESS, NO_ADDRESS):
        return address
    return address + offset


@register_jitable  # only messages above 2**31 - 1 elements, on libraries without _c routines
def _call_in_slices(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle):
    code, done = 0, 0
    while code == 0 and done < count:
        n = min(count - done, INT_MAX)
        offset = np.uint64(done) * np.uint64(itemsize)
        code = _call_once(
            kind,
            _slice_address(send_address, offset),
            _slice_address(recv_address, offset),
            n,
            datatype,
            op,
            root,
            handle,
        )
        done += n
    return code


@register_jitable  # Open MPI (no large-count routines): counts above INT_MAX go in slices
def _call_sized(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle):
    if count > INT_MAX:
        return _call_in_slices(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle)
    return _call_once(kind, send_address, recv_address, count, datatype, op, root, handle)


_C_REDUCTIONS = {_ALLREDUCE: capi.MPI_Allreduce, _SCAN: capi.MPI_Scan, _EXSCAN: capi.MPI_Exscan}


def _emit_reduction(e, kind, sendobj, recvobj, operator, root, comm):
    """The status of one reduction (``kind``), emitted into the caller; buffers that are not C-contiguous by their
    type go through C-ordered copies (MPI's predefined operators take predefined types only)."""
    form = operand_form(sendobj.type)
    handle, op, datatype = _operands(e, recvobj, operator, comm)
    capacity = e.size(recvobj)
    is_root = e.rank(comm).eq(root) if kind == _REDUCE else e.const(True)
    if form == "scalar":
        count = e.const(1)
    else:
        count = e.size(sendobj) if form == "array" else capacity
    if form != "in_place":
        room = capacity.ge(count)
        e.check(
            room if kind != _REDUCE else room.or_(e.not_(is_root)),
            ValueError,
            "mpi4numba: recvobj has fewer elements than sendobj",
        )
    received = e.c_ordered(recvobj)
    target = received.address
    sent = None
    if form == "scalar":
        source = e(stack_value, sendobj, recvobj)
    elif form == "array":
        sent = e.c_ordered(sendobj)
        source = sent.address
    else:
        source = e.const(IN_PLACE_ADDRESS)
        if kind == _REDUCE:  # a non-root rank contributes recvobj
            source = e.select(is_root, source, target)
            target = e.select(is_root, target, NO_ADDRESS)
    if NEEDS_FALLBACK:
        code = e.jitted(
            _call_sized, kind, source, target, count, e.attr(recvobj, "itemsize"), datatype, op, root, handle
        )
    elif kind == _REDUCE:
        code = e(capi.MPI_Reduce, source, target, count, datatype, op, root, handle)
    else:
        code = e(_C_REDUCTIONS[kind], source, target, count, datatype, op, handle)
    if sent is not None:
        e.from_c_order(sendobj, sent)
    e.from_c_order(recvobj, received, count)
    return code


def _operands(e, recvobj, operator, comm):
    """``(handle, op, datatype)`` of a reduction (see ``MPIEmitter.reduction``)."""
    return (e.comm(comm), *e.reduction(operator, recvobj))


def _reduction_type(sendobj, recvobj, operator) -> types.Type:
    """The arguments of allreduce, reduce, scan or exscan, and their result type: the status."""
    reduction_operands(sendobj, recvobj, operator)
    return types.int32


@api
def allreduce(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Combine ``sendobj`` (array, scalar or ``IN_PLACE``) from all processes with ``operator``
    into ``recvobj`` on every process (``MPI_Allreduce``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size = mpi4numba.size()
    >>> total = np.empty(1)
    >>> mpi4numba.allreduce(mpi4numba.rank() + 1.0, total), total.tolist() == [size * (size + 1) / 2]  # 1 + ... + size
    (0, True)
    """
    return _reduction_type(sendobj, recvobj, operator)


@lowers(allreduce)
def _allreduce(e, sendobj, recvobj, operator, comm):
    return _emit_reduction(e, _ALLREDUCE, sendobj, recvobj, operator, 0, comm)


@api
def reduce(sendobj, recvobj, operator, root, comm=None):
    """Combine ``sendobj`` from all processes with ``operator`` into ``recvobj`` on ``root``
    (``MPI_Reduce``); returns the status.

    >>> import numpy as np, mpi4numba
    >>> size = mpi4numba.size()
    >>> total = np.array([1.0, 2.0])  # each process's contribution; the root's is replaced by the sum
    >>> mpi4numba.reduce(mpi4numba.IN_PLACE, total, mpi4numba.Operator.SUM, 0)
    0
    >>> mpi4numba.rank() != 0 or total.tolist() == [1.0 * size, 2.0 * size]
    True
    """
    integer(root, "root")
    return _reduction_type(sendobj, recvobj, operator)


@lowers(reduce)
def _reduce(e, sendobj, recvobj, operator, root, comm):
    return _emit_reduction(e, _REDUCE, sendobj, recvobj, operator, root, comm)


@api
def scan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Inclusive prefix reduction: rank r gets ``sendobj`` of ranks 0..r combined (``MPI_Scan``).

    >>> import numpy as np, mpi4numba
    >>> upto = np.empty(1)
    >>> mpi4numba.scan(1.0, upto), upto.tolist() == [mpi4numba.rank() + 1]  # ones of ranks 0..rank
    (0, True)
    """
    return _reduction_type(sendobj, recvobj, operator)


@lowers(scan)
def _scan(e, sendobj, recvobj, operator, comm):
    return _emit_reduction(e, _SCAN, sendobj, recvobj, operator, 0, comm)


@api
def exscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Exclusive prefix reduction: rank r gets ranks 0..r-1 combined; ``recvobj`` on rank 0
    is left undefined by MPI (``MPI_Exscan``).

    >>> import numpy as np, mpi4numba
    >>> before = np.zeros(1)
    >>> mpi4numba.exscan(1.0, before), mpi4numba.rank() == 0 or before.tolist() == [mpi4numba.rank()]
    (0, True)
    """
    return _reduction_type(sendobj, recvobj, operator)


@lowers(exscan)
def _exscan(e, sendobj, recvobj, operator, comm):
    return _emit_reduction(e, _EXSCAN, sendobj, recvobj, operator, 0, comm)


@api
def reduce_scatter_block(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Reduce ``size * n`` elements elementwise and give block r (``n`` = ``recvobj.size``)
    to rank r (``MPI_Reduce_scatter_block``). With ``IN_PLACE`` the input is ``recvobj``
    (``size * n`` elements) and the result is its first ``n``.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> mine = np.empty(2)
    >>> mpi4numba.reduce_scatter_block(np.arange(2.0 * size), mine)  # the same 0, 1, ... from everyone
    0
    >>> mine.tolist() == [2.0 * rank * size, (2.0 * rank + 1) * size]  # block rank, summed over processes
    True
    """
    if reduction_operands(sendobj, recvobj, operator) == "scalar":
        raise TypingError("mpi4numba: sendobj must be an array or IN_PLACE")
    return types.int32


@lowers(reduce_scatter_block)
def _reduce_scatter_block(e, sendobj, recvobj, operator, comm):
    handle, op, datatype = _operands(e, recvobj, operator, comm)
    size = e.comm_size(comm)
    sent = None
    if is_in_place(sendobj.type):
        received = e.c_ordered(recvobj)
        source, target, count = e.in_place(), received.address, e.size(recvobj).floordiv(size)
    else:
        e.check(
            e.size(sendobj).ge(e.size(recvobj).mul(size)),
            ValueError,
            "mpi4numba: sendobj has fewer than size * recvobj.size elements",
        )
        received, sent = e.c_ordered(recvobj), e.c_ordered(sendobj)
        source, target, count = sent.address, received.address, e.size(recvobj)
    code = e(capi.MPI_Reduce_scatter_block, source, target, count, datatype, op, handle)
    if sent is not None:
        e.from_c_order(sendobj, sent)
    e.from_c_order(recvobj, received, count)
    return code


@api
def reduce_scatter(sendobj, recvobj, recvcounts, operator=Operator.SUM, comm=None):
    """Reduce ``sum(recvcounts)`` elements elementwise and give rank r its ``recvcounts[r]``
    of them, in rank order (``MPI_Reduce_scatter``). With ``IN_PLACE`` the input is
    ``recvobj`` and the result its first ``recvcounts[rank]`` elements.

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> counts = np.ones(size, np.int32)  # one element for each process
    >>> mine = np.empty(1)
    >>> mpi4numba.reduce_scatter(np.arange(1.0 * size), mine, counts), mine.tolist() == [1.0 * rank * size]
    (0, True)
    """
    if reduction_operands(sendobj, recvobj, operator) == "scalar":
        raise TypingError("mpi4numba: sendobj must be an array or IN_PLACE")
    integer_vector(recvcounts, "recvcounts")
    return types.int32


@lowers(reduce_scatter)
def _reduce_scatter(e, sendobj, recvobj, recvcounts, operator, comm):
    handle, op, datatype = _operands(e, recvobj, operator, comm)
    rank, size = e.rank_size(comm)
    counts = e.c_ints(recvcounts, "mpi4numba: a count or displacement does not fit a C int")
    e.check(e.size(counts).ge(size), ValueError, "mpi4numba: recvcounts needs one entry per process")
    total = e.variable(0)
    with e.loop(size) as i:
        total.set(total.get().add(counts.getitem(i)))
    mine = counts.getitem(rank)
    e.check(e.size(recvobj).ge(mine), ValueError, "mpi4numba: recvobj has fewer than recvcounts[rank] elements")
    if is_in_place(sendobj.type):
        e.check(
            e.size(recvobj).ge(total.get()),
            ValueError,
            "mpi4numba: with IN_PLACE, recvobj needs sum(recvcounts) elements",
        )
        received, sent = e.c_ordered(recvobj), None
        source = e.in_place()
    else:
        e.check(
            e.size(sendobj).ge(total.get()), ValueError, "mpi4numba: sendobj has fewer than sum(recvcounts) elements"
        )
        received, sent = e.c_ordered(recvobj), e.c_ordered(sendobj)
        source = sent.address
    code = e(capi.MPI_Reduce_scatter, source, received.address, e.data(counts), datatype, op, handle)
    if sent is not None:
        e.from_c_order(sendobj, sent)
    e.from_c_order(recvobj, received, mine)
    return code
