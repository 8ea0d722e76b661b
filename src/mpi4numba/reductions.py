"""Reductions: allreduce, reduce, scan, exscan, reduce_scatter_block, reduce_scatter.

``sendobj`` is an array, a scalar (cast to ``recvobj``'s dtype), or ``IN_PLACE``: the
input is then taken from ``recvobj`` and the result replaces it (for ``reduce`` every
rank may pass ``IN_PLACE``; a non-root rank then contributes ``recvobj``). Buffers that
are not C-contiguous are copied into a temporary for the call: neither MPICH nor Open
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

import operator as operator_module

import numpy as np
from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import api, lowering
from ._buffers import IN_PLACE_ADDRESS, NO_ADDRESS, c_ints, contiguous, copy_back, is_in_place, rank_size
from ._ccall import predefined, stack_value
from ._commtype import comm_handle
from ._largecount import INT_MAX, NEEDS_FALLBACK
from ._lowering import is_contiguous_layout
from ._validate import array, integer, same_dtype
from .datatypes import element_type, mpi_datatype, pair_problem, pair_type
from .operators import Operator, known_operator, op_handle, refusal, refused_operators

__all__ = ["allreduce", "reduce", "scan", "exscan", "reduce_scatter_block", "reduce_scatter"]

_ALLREDUCE, _REDUCE, _SCAN, _EXSCAN = range(4)
_NAMES = {_ALLREDUCE: "allreduce", _REDUCE: "reduce", _SCAN: "scan", _EXSCAN: "exscan"}


def _validate(where: str, sendobj, recvobj, operator) -> str:
    """Check a reduction's arguments; returns 'scalar', 'array' or 'in_place'."""
    array(recvobj, where, "recvobj", writable=True)
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise TypingError(f"mpi4numba.{where}: operator must be an mpi4numba.Operator, got {operator}")
    _check_pairs(f"mpi4numba.{where}", recvobj.dtype, known_operator(operator))
    if mpi_datatype(recvobj.dtype, f"mpi4numba.{where}")[0] == "BYTE":
        raise TypingError(f"mpi4numba.{where}: bytes cannot be reduced")
    refused_operators(f"mpi4numba.{where}", operator, recvobj.dtype)  # a typing error for a written one
    if is_in_place(sendobj):
        return "in_place"
    if isinstance(sendobj, (types.Number, types.Boolean)):
        if isinstance(recvobj.dtype, types.Record):
            raise TypingError(f"mpi4numba.{where}: sendobj must be an array of {recvobj.dtype}, got {sendobj}")
        return "scalar"
    array(sendobj, where, "sendobj")
    same_dtype(sendobj, recvobj, where)
    return "array"


def _check_pairs(where: str, dtype: types.Type, operator: Operator | None) -> None:
    """Structured dtypes reduce only as (value, index) pairs, and pairs only with MINLOC/MAXLOC."""
    loc = operator in (Operator.MINLOC, Operator.MAXLOC)
    if isinstance(dtype, types.Record):
        if pair_type(dtype) is None:
            raise TypingError(f"{where}: structured dtypes cannot be reduced, except (value, index) pairs "
                              f"with MINLOC/MAXLOC: {pair_problem(dtype)}")
        if operator is not None and not loc:
            raise TypingError(refusal(where, operator, dtype))
    elif loc:
        raise TypingError(f"{where}: {pair_problem(dtype)}")


def _check_pair_operator(like, operator):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_check_pair_operator)
def _check_pair_operator_impl(like, operator):
    """Pairs with an operator only known at run time: MINLOC/MAXLOC or ValueError."""
    if pair_type(like.dtype) is None:
        return lambda like, operator: None

    def check(like, operator):
        op = op_handle(operator)
        if op != predefined("MINLOC") and op != predefined("MAXLOC"):
            raise ValueError("mpi4numba: (value, index) pairs reduce only with Operator.MINLOC or MAXLOC")

    return check


@register_jitable
def _call_once(kind, send_address, recv_address, count, datatype, op, root, handle):
    if kind == _REDUCE:
        return _capi.MPI_Reduce(send_address, recv_address, count, datatype, op, root, handle)
    if kind == _SCAN:
        return _capi.MPI_Scan(send_address, recv_address, count, datatype, op, handle)
    if kind == _EXSCAN:
        return _capi.MPI_Exscan(send_address, recv_address, count, datatype, op, handle)
    return _capi.MPI_Allreduce(send_address, recv_address, count, datatype, op, handle)


@register_jitable
def _slice_address(address, offset):
    """``address + offset``, except for the special addresses IN_PLACE and none."""
    if address == IN_PLACE_ADDRESS or address == NO_ADDRESS:
        return address
    return address + offset


@register_jitable  # only messages above 2**31 - 1 elements, on libraries without _c routines
def _call_in_slices(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle):
    code, done = 0, 0
    while code == 0 and done < count:
        n = min(count - done, INT_MAX)
        offset = np.uint64(done) * np.uint64(itemsize)
        code = _call_once(kind, _slice_address(send_address, offset), _slice_address(recv_address, offset),
                          n, datatype, op, root, handle)
        done += n
    return code


def _call(kind, send_address, recv_address, count, like, operator, root, comm):  # pragma: no cover
    raise NotImplementedError


@overload(_call, inline="always")
def _call_impl(kind, send_address, recv_address, count, like, operator, root, comm):
    """One reduction call; without large-count routines, a count above INT_MAX goes in
    slices (elementwise operators make that exact)."""
    if not NEEDS_FALLBACK:

        def once(kind, send_address, recv_address, count, like, operator, root, comm):
            _check_pair_operator(like, operator)
            datatype, _ = element_type(like)
            return _call_once(kind, send_address, recv_address, count, datatype, op_handle(operator), root,
                              comm_handle(comm))

        return once

    def sliced(kind, send_address, recv_address, count, like, operator, root, comm):
        _check_pair_operator(like, operator)
        datatype, _ = element_type(like)
        op, handle = op_handle(operator), comm_handle(comm)
        if count > INT_MAX:
            return _call_in_slices(kind, send_address, recv_address, count, like.itemsize, datatype, op, root,
                                   handle)
        return _call_once(kind, send_address, recv_address, count, datatype, op, root, handle)

    return sliced


# The per-call helpers below are inlined at Numba IR level: as separate functions, the
# reference counting of the arrays passed down cost ~40 ns per allreduce (3x the wrapper).
@register_jitable(inline="always")
def _check_room(recvobj, count, root, comm, kind):
    if recvobj.size < count and (kind != _REDUCE or rank_size(comm)[0] == root):
        raise ValueError("mpi4numba: recvobj has fewer elements than sendobj")


@register_jitable(inline="always")
def _scalar(sendobj, recvobj, operator, root, comm, kind):
    _check_room(recvobj, 1, root, comm, kind)
    target = contiguous(recvobj)
    code = _call(kind, stack_value(sendobj, recvobj), target.ctypes.data, 1, recvobj, operator, root, comm)
    copy_back(recvobj, target, 1)
    return code


@register_jitable(inline="always")
def _array(sendobj, recvobj, operator, root, comm, kind):
    count = sendobj.size
    _check_room(recvobj, count, root, comm, kind)
    source = contiguous(sendobj)
    target = contiguous(recvobj)
    code = _call(kind, source.ctypes.data, target.ctypes.data, count, recvobj, operator, root, comm)
    copy_back(recvobj, target, count)
    return code


@register_jitable(inline="always")
def _in_place(sendobj, recvobj, operator, root, comm, kind):
    target = contiguous(recvobj)
    address = target.ctypes.data
    source = IN_PLACE_ADDRESS
    if kind == _REDUCE and rank_size(comm)[0] != root:
        source, address = target.ctypes.data, NO_ADDRESS  # a non-root rank contributes recvobj
    code = _call(kind, source, address, recvobj.size, recvobj, operator, root, comm)
    copy_back(recvobj, target, recvobj.size)
    return code


_FORMS = {"scalar": _scalar, "array": _array, "in_place": _in_place}



def _same_operand_layout(form: str, sendobj, recvobj) -> bool:
    """Whether the buffers are C-contiguous by type: then the call is emitted in place."""
    return is_contiguous_layout(recvobj) and (form != "array" or is_contiguous_layout(sendobj))


@register_jitable  # Open MPI (no large-count routines): counts above INT_MAX go in slices
def _call_sized(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle):
    if count > INT_MAX:
        return _call_in_slices(kind, send_address, recv_address, count, itemsize, datatype, op, root, handle)
    return _call_once(kind, send_address, recv_address, count, datatype, op, root, handle)


_C_REDUCTIONS = {_ALLREDUCE: _capi.MPI_Allreduce, _SCAN: _capi.MPI_Scan, _EXSCAN: _capi.MPI_Exscan}


def _emit_reduction(e, kind, form, sendobj, recvobj, operator, root, comm):
    """One reduction on C-contiguous buffers, emitted into the caller."""
    handle, op, datatype = _operands(e, _NAMES[kind], sendobj, recvobj, operator, comm)
    target, capacity = e.data(recvobj), e.size(recvobj)
    is_root = e(_capi.MPI_Comm_rank, handle)[1] == root if kind == _REDUCE else e.const(True)
    if form == "scalar":
        source, count = e(stack_value, sendobj, recvobj), e.const(1)
    elif form == "array":
        source, count = e.data(sendobj), e.size(sendobj)
    else:
        source, count = e.const(IN_PLACE_ADDRESS), capacity
        if kind == _REDUCE:  # a non-root rank contributes recvobj
            source = e.select(is_root, source, target)
            target = e.select(is_root, target, NO_ADDRESS)
    if form != "in_place":
        room = capacity >= count
        e.check(room if kind != _REDUCE else room | e.not_(is_root), ValueError,
                "mpi4numba: recvobj has fewer elements than sendobj")
    if NEEDS_FALLBACK:
        return e(_call_sized, kind, source, target, count, e.attr(recvobj, "itemsize"), datatype, op, root, handle)
    if kind == _REDUCE:
        return e(_capi.MPI_Reduce, source, target, count, datatype, op, root, handle)
    return e(_C_REDUCTIONS[kind], source, target, count, datatype, op, handle)


def operation(e, where: str, operator, recvobj):
    """``(op, datatype)`` of a reduction into ``recvobj``: an operator known only at run time
    that does not apply to its elements raises ``ValueError`` before MPI sees it."""
    dtype = recvobj.type.dtype
    refused = refused_operators(f"mpi4numba.{where}", operator.type, dtype)
    return e.op(operator, refused, f"mpi4numba.{where}", dtype), e.handle(mpi_datatype(dtype, "mpi4numba")[0])


def _operands(e, where: str, sendobj, recvobj, operator, comm):
    """``(handle, op, datatype)`` of a reduction (see :func:`operation`)."""
    return (e.comm(comm), *operation(e, where, operator, recvobj))


@lowering(types.int32)
def _REDUCE_SCATTER_BLOCK(e, sendobj, recvobj, operator, comm):
    handle, op, datatype = _operands(e, "reduce_scatter_block", sendobj, recvobj, operator, comm)
    size = e(_capi.MPI_Comm_size, handle)[1]
    if is_in_place(sendobj.type):
        source, count = e.in_place(), e.size(recvobj) // size
    else:
        e.check(e.size(sendobj) >= e.size(recvobj) * size, ValueError,
                "mpi4numba.reduce_scatter_block: sendobj has fewer than size * recvobj.size elements")
        source, count = e.data(sendobj), e.size(recvobj)
    return e(_capi.MPI_Reduce_scatter_block, source, e.data(recvobj), count, datatype, op, handle)


@lowering(types.int32)
def _REDUCE_SCATTER(e, sendobj, recvobj, recvcounts, operator, comm):
    handle, op, datatype = _operands(e, "reduce_scatter", sendobj, recvobj, operator, comm)
    rank, size = e(_capi.MPI_Comm_rank, handle)[1], e(_capi.MPI_Comm_size, handle)[1]
    counts = e.c_ints(recvcounts, "mpi4numba: a count or displacement does not fit a C int")
    e.check(e.size(counts) >= size, ValueError, "mpi4numba.reduce_scatter: recvcounts needs one entry per process")
    total = e.variable(0)
    with e.loop(size) as i:
        total.set(total.get() + e(operator_module.getitem, counts, i))
    e.check(e.size(recvobj) >= e(operator_module.getitem, counts, rank), ValueError,
            "mpi4numba.reduce_scatter: recvobj has fewer than recvcounts[rank] elements")
    if is_in_place(sendobj.type):
        e.check(e.size(recvobj) >= total.get(), ValueError,
                "mpi4numba.reduce_scatter: with IN_PLACE, recvobj needs sum(recvcounts) elements")
        source = e.in_place()
    else:
        e.check(e.size(sendobj) >= total.get(), ValueError,
                "mpi4numba.reduce_scatter: sendobj has fewer than sum(recvcounts) elements")
        source = e.data(sendobj)
    return e(_capi.MPI_Reduce_scatter, source, e.data(recvobj), e.data(counts), datatype, op, handle)


def _reduction(kind: int, where: str, sendobj, recvobj, operator):
    """The lowering (C-contiguous buffers) or implementation of a reduction's call."""
    form = _validate(where, sendobj, recvobj, operator)
    if _same_operand_layout(form, sendobj, recvobj):
        return form, lowering(types.int32)
    return form, None

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
    form, lower = _reduction(_ALLREDUCE, "allreduce", sendobj, recvobj, operator)
    if lower:
        return lower(lambda e, sendobj, recvobj, operator, comm:
                     _emit_reduction(e, _ALLREDUCE, form, sendobj, recvobj, operator, 0, comm))
    legacy = _FORMS[form]

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return legacy(sendobj, recvobj, operator, 0, comm, _ALLREDUCE)

    return impl


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
    integer(root, "reduce", "root")
    form, lower = _reduction(_REDUCE, "reduce", sendobj, recvobj, operator)
    if lower:
        return lower(lambda e, sendobj, recvobj, operator, root, comm:
                     _emit_reduction(e, _REDUCE, form, sendobj, recvobj, operator, root, comm))
    legacy = _FORMS[form]

    def impl(sendobj, recvobj, operator, root, comm=None):
        return legacy(sendobj, recvobj, operator, root, comm, _REDUCE)

    return impl


@api
def scan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Inclusive prefix reduction: rank r gets ``sendobj`` of ranks 0..r combined (``MPI_Scan``).

    >>> import numpy as np, mpi4numba
    >>> upto = np.empty(1)
    >>> mpi4numba.scan(1.0, upto), upto.tolist() == [mpi4numba.rank() + 1]  # ones of ranks 0..rank
    (0, True)
    """
    form, lower = _reduction(_SCAN, "scan", sendobj, recvobj, operator)
    if lower:
        return lower(lambda e, sendobj, recvobj, operator, comm:
                     _emit_reduction(e, _SCAN, form, sendobj, recvobj, operator, 0, comm))
    legacy = _FORMS[form]

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return legacy(sendobj, recvobj, operator, 0, comm, _SCAN)

    return impl


@api
def exscan(sendobj, recvobj, operator=Operator.SUM, comm=None):
    """Exclusive prefix reduction: rank r gets ranks 0..r-1 combined; ``recvobj`` on rank 0
    is left undefined by MPI (``MPI_Exscan``).

    >>> import numpy as np, mpi4numba
    >>> before = np.zeros(1)
    >>> mpi4numba.exscan(1.0, before), mpi4numba.rank() == 0 or before.tolist() == [mpi4numba.rank()]
    (0, True)
    """
    form, lower = _reduction(_EXSCAN, "exscan", sendobj, recvobj, operator)
    if lower:
        return lower(lambda e, sendobj, recvobj, operator, comm:
                     _emit_reduction(e, _EXSCAN, form, sendobj, recvobj, operator, 0, comm))
    legacy = _FORMS[form]

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        return legacy(sendobj, recvobj, operator, 0, comm, _EXSCAN)

    return impl


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
    form = _validate("reduce_scatter_block", sendobj, recvobj, operator)
    if form == "scalar":
        raise TypingError("mpi4numba.reduce_scatter_block: sendobj must be an array or IN_PLACE")
    if _same_operand_layout(form, sendobj, recvobj):
        return _REDUCE_SCATTER_BLOCK
    blocks_of = _in_place_blocks if form == "in_place" else _send_blocks

    def impl(sendobj, recvobj, operator=Operator.SUM, comm=None):
        size = rank_size(comm)[1]
        target = contiguous(recvobj)
        source, source_address, count = blocks_of(sendobj, recvobj, size)
        _check_pair_operator(recvobj, operator)
        datatype, _ = element_type(recvobj)
        code = _capi.MPI_Reduce_scatter_block(
            source_address, target.ctypes.data, count, datatype, op_handle(operator), comm_handle(comm)
        )
        copy_back(recvobj, target, count)
        return code

    return impl


@register_jitable
def _send_blocks(sendobj, recvobj, size):
    """(C-ordered send buffer, its address, elements per block) for reduce_scatter_block."""
    if sendobj.size < recvobj.size * size:
        raise ValueError("mpi4numba.reduce_scatter_block: sendobj has fewer than size * recvobj.size elements")
    source = contiguous(sendobj)
    return source, source.ctypes.data, recvobj.size


@register_jitable
def _in_place_blocks(sendobj, recvobj, size):
    return recvobj, IN_PLACE_ADDRESS, recvobj.size // size


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
    form = _validate("reduce_scatter", sendobj, recvobj, operator)
    if form == "scalar":
        raise TypingError("mpi4numba.reduce_scatter: sendobj must be an array or IN_PLACE")
    if isinstance(recvcounts, types.Array) and isinstance(recvcounts.dtype, types.Integer) and recvcounts.ndim == 1:
        if _same_operand_layout(form, sendobj, recvobj):
            return _REDUCE_SCATTER
    source_of = _in_place_source if form == "in_place" else _send_source

    def impl(sendobj, recvobj, recvcounts, operator=Operator.SUM, comm=None):
        rank, size = rank_size(comm)
        counts = c_ints(recvcounts)
        if counts.size < size:
            raise ValueError("mpi4numba.reduce_scatter: recvcounts needs one entry per process")
        total = 0
        for i in range(size):
            total += counts[i]
        if recvobj.size < counts[rank]:
            raise ValueError("mpi4numba.reduce_scatter: recvobj has fewer than recvcounts[rank] elements")
        target = contiguous(recvobj)
        source, source_address = source_of(sendobj, recvobj, total)
        _check_pair_operator(recvobj, operator)
        datatype, _ = element_type(recvobj)
        code = _capi.MPI_Reduce_scatter(
            source_address, target.ctypes.data, counts.ctypes.data, datatype, op_handle(operator), comm_handle(comm)
        )
        copy_back(recvobj, target, counts[rank])
        return code

    return impl


@register_jitable
def _send_source(sendobj, recvobj, total):
    if sendobj.size < total:
        raise ValueError("mpi4numba.reduce_scatter: sendobj has fewer than sum(recvcounts) elements")
    source = contiguous(sendobj)
    return source, source.ctypes.data


@register_jitable
def _in_place_source(sendobj, recvobj, total):
    if recvobj.size < total:
        raise ValueError("mpi4numba.reduce_scatter: with IN_PLACE, recvobj needs sum(recvcounts) elements")
    return recvobj, IN_PLACE_ADDRESS
