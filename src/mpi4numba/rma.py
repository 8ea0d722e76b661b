"""One-sided communication calls: put, get, accumulate, get_accumulate, fetch_and_op,
compare_and_swap.

Each call names the target process by its rank in the window's group and the target
memory by ``target_disp``, a displacement in units of the target's ``disp_unit`` (an
element index for windows created with the default unit). The origin is a NumPy array
of a supported dtype, of any layout (strided arrays are described to MPI by a derived
datatype, not copied); at the target the same number of elements of the same dtype are
accessed contiguously. Calls must be made inside an access epoch (see
:mod:`mpi4numba.window`) and complete only when it ends or is flushed: until then the
origin array must not be modified (put, accumulate) or read (get). Each returns the MPI
status; on a freed window, ``ERR_WIN``.

Accesses are checked before MPI is called (MPI libraries do not check them: MPICH
writes past the target's window and returns success). The bytes accessed at the
target, ``[target_disp * disp_unit, + elements * itemsize)``, must lie inside the
target's part of the window, whose size and ``disp_unit`` every process records when
the window is created; otherwise the call returns ``ERR_RMA_RANGE`` (a negative
``target_disp`` too) and touches no memory, and a ``target_rank`` that is not a process
of the window (other than ``PROC_NULL``) gives ``ERR_RANK``. Windows must come from
mpi4numba's constructors: on another handle (a window made by mpi4py) every call gives
``ERR_WIN``, as on a freed window.

``operator`` is an :class:`mpi4numba.Operator` member (or numba-mpi's integer value):
predefined reductions, applied elementwise at the target, plus ``REPLACE`` (store the
origin value) and ``NO_OP`` (leave the target unchanged, for atomic reads). Concurrent
accumulate-family calls on the same target location are atomic per element. An
operator applies to the types the MPI standard says: ``MAX``/``MIN`` to integers and
floats, ``SUM``/``PROD`` also to complex numbers, ``LAND``/``LOR``/``LXOR`` to integers
and bools, ``BAND``/``BOR``/``BXOR`` to integers and bytes (``S<n>``),
``MINLOC``/``MAXLOC`` to (value, index) pairs, ``REPLACE``/``NO_OP`` to all. Another
combination is refused before MPI is called (MPICH aborts the job on one): a typing error
naming the routine, the operator and the dtype when the operator is written in the code
(``mpi4numba.Operator.BAND``), a ``ValueError`` saying the same when it is only known at
run time (passed in from Python, or numba-mpi's integer value). Dtypes are checked when
compiling: a structured dtype whose fields are not all of one type cannot be
accumulated, and ``compare_and_swap`` takes integers, bools and bytes only (typing errors).
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError

from ._core import capi
from ._core.ccall import stack_value
from ._core.emit import Value
from ._core.runtime import ABI
from ._support.api import api, lowers
from ._support.datatypes import mpi_datatype, pair_type
from ._support.operators import datatype_class, refused_operators
from ._support.validate import array, integer, same_dtype
from ._support.wintype import OUTSIDE_GROUP, on_live_window, require_window, target_extent

__all__ = ["put", "get", "accumulate", "get_accumulate", "fetch_and_op", "compare_and_swap"]

ERR_RANK = ABI.ERROR_CLASSES["ERR_RANK"]
ERR_RMA_RANGE = ABI.ERROR_CLASSES["ERR_RMA_RANGE"]

_COMPARABLE = ("integer", "logical", "byte")  # the datatypes MPI_Compare_and_swap takes


def _check(origin, target_rank, target_disp, win, writable: bool = False) -> None:
    array(origin, "origin", writable=writable)
    integer(target_rank, "target_rank")
    integer(target_disp, "target_disp")
    require_window(win)


def _access_end(e, disp, disp_unit, size):
    """``disp * disp_unit + size`` (int64), and whether that overflowed."""
    builder = e.builder
    product = builder.smul_with_overflow(disp.llvm, disp_unit.llvm)
    total = builder.sadd_with_overflow(builder.extract_value(product, 0), e.cast(size, types.int64).llvm)
    overflow = builder.or_(builder.extract_value(product, 1), builder.extract_value(total, 1))
    return Value(e, types.int64, builder.extract_value(total, 0)), Value(e, types.boolean, overflow)


def _refusal(e, extents, target_rank, target_disp, size):
    """0 if an access of ``size`` bytes at ``target_disp`` of the window of ``target_rank``
    may go to MPI; else ERR_RANK (not a process of the window) or ERR_RMA_RANGE."""
    extent, disp_unit = e.unpack(e(target_extent, extents, target_rank))
    disp = e.cast(target_disp, types.int64)  # as MPI gets it (MPI_Aint)
    end, overflow = _access_end(e, disp, disp_unit, size)
    inside = disp.ge(0).and_(e.not_(overflow)).and_(end.le(extent))
    code = e.select(inside, 0, ERR_RMA_RANGE)
    code = e.select(extent.eq(OUTSIDE_GROUP), ERR_RANK, code)
    return e.select(target_rank.eq(ABI.PROC_NULL), 0, code)  # MPI_PROC_NULL accesses nothing


def _rma(e, win, target_rank, target_disp, size, call, prepare=lambda: ()):
    """The status of an RMA call that accesses ``size`` bytes of the target: ERR_WIN if the
    window is not live; else ``prepare()`` (the routine's run-time checks, returning the
    operands ``call`` takes after the handle), then ``call(handle, *operands)`` for an
    access inside the target's window, or the refusal."""

    def checked(handle, extents):
        operands = prepare()
        refusal = _refusal(e, extents, target_rank, target_disp, size)
        status = e.variable(e.cast(refusal, types.int64))
        with e.when(refusal.eq(0), likely=True):
            status.set(call(handle, *operands))
        return status.get()

    return on_live_window(e, win, checked)


def _bytes(e, array):
    """The bytes of an array's elements (a contiguous run of them at the target)."""
    return e.size(array).mul(e.itemsize(array))


def _target_region(e, like):
    """``(count, datatype)`` of the contiguous target region matching the array ``like``."""
    datatype, per_element = e.element_type(like)
    return e.size(like).mul(per_element), datatype


def _transfer(e, c_function, origin, target_rank, target_disp, win, *op):
    """put, get (no ``op``) or accumulate: origin.size elements at the target."""

    def call(handle):
        buf = e.buffer(origin)
        count, datatype = _target_region(e, origin)
        code = e(c_function, *buf.as_args, target_rank, target_disp, count, datatype, *op, handle)
        e.release(buf)
        return code

    return _rma(e, win, target_rank, target_disp, _bytes(e, origin), call)


def _refused(operator, dtype: types.Type) -> tuple:
    """The operators that do not apply to ``dtype`` in one-sided calls, of those the type of
    the ``operator`` argument allows (see :func:`~mpi4numba._support.operators.refused_operators`)."""
    return refused_operators(operator.type, dtype, one_sided=True)


def _element_address(e, value, like):
    """Address of one element: a scalar's stack copy in ``like``'s dtype (in the caller's
    frame), or an array's first element (which must exist)."""
    if isinstance(value.type, types.Array):
        e.check(e.size(value).ge(1), ValueError, "mpi4numba: an operand is an empty array where one element is needed")
        return e.data(value)
    return e(stack_value, value, like)


def _one_element(result) -> None:
    array(result, "result", writable=True)
    if mpi_datatype(result.dtype)[1] != 1 or (
        isinstance(result.dtype, types.Record) and pair_type(result.dtype) is None
    ):
        raise TypingError(f"mpi4numba: {result.dtype} is not a single-element MPI datatype")


def _operand(value, like) -> None:
    """A scalar, or an array of ``like``'s dtype (its first element is the operand)."""
    if not (
        isinstance(value, (types.Number, types.Boolean))
        or (isinstance(value, types.Array) and value.dtype == like.dtype)
    ):
        raise TypingError(f"mpi4numba: expected a scalar or an array of {like.dtype}, got {value}")


@api
def put(origin, target_rank, target_disp, win):
    """Store ``origin`` into the window of ``target_rank`` from ``target_disp`` on (``MPI_Put``).

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> left, right = (rank - 1) % size, (rank + 1) % size  # a ring (itself, on one process)
    >>> local = np.zeros(4)
    >>> status, win = mpi4numba.win_create(local)
    >>> mpi4numba.win_fence(win)
    0
    >>> mpi4numba.put(np.array([1.0, 2.0]) + 10 * rank, right, 1, win), mpi4numba.win_fence(win)
    (0, 0)
    >>> local.tolist() == [0.0, 10.0 * left + 1, 10.0 * left + 2, 0.0], mpi4numba.win_free(win)  # left's put
    (True, 0)
    """
    _check(origin, target_rank, target_disp, win)
    return types.int64


@lowers(put)
def _put(e, origin, target_rank, target_disp, win):
    return _transfer(e, capi.MPI_Put, origin, target_rank, target_disp, win)


@api
def get(origin, target_rank, target_disp, win):
    """Load ``origin.size`` elements from the window of ``target_rank``, from ``target_disp``
    on, into ``origin`` (``MPI_Get``).

    >>> import numpy as np, mpi4numba
    >>> rank, size = mpi4numba.rank(), mpi4numba.size()
    >>> right = (rank + 1) % size  # a ring (itself, on one process)
    >>> status, win = mpi4numba.win_create(np.arange(4.0) + 10 * rank)
    >>> fetched = np.empty(2)
    >>> mpi4numba.win_lock(win, right, mpi4numba.LOCK_SHARED)
    0
    >>> mpi4numba.get(fetched, right, 2, win), mpi4numba.win_unlock(win, right)
    (0, 0)
    >>> fetched.tolist() == [10.0 * right + 2, 10.0 * right + 3], mpi4numba.win_free(win)
    (True, 0)
    """
    _check(origin, target_rank, target_disp, win, writable=True)
    return types.int64


@lowers(get)
def _get(e, origin, target_rank, target_disp, win):
    return _transfer(e, capi.MPI_Get, origin, target_rank, target_disp, win)


@api
def accumulate(origin, target_rank, target_disp, operator, win):
    """Combine ``origin`` into the window of ``target_rank`` with ``operator``, elementwise
    and atomically per element (``MPI_Accumulate``).

    >>> import numpy as np, mpi4numba
    >>> total = np.zeros(1)
    >>> status, win = mpi4numba.win_create(total)
    >>> mpi4numba.win_fence(win)
    0
    >>> mpi4numba.accumulate(np.ones(1), 0, 0, mpi4numba.Operator.SUM, win), mpi4numba.win_fence(win)
    (0, 0)
    >>> bool(mpi4numba.rank() != 0 or total[0] == mpi4numba.size()), mpi4numba.win_free(win)
    (True, 0)
    """
    _check(origin, target_rank, target_disp, win)
    refused_operators(operator, origin.dtype, one_sided=True)  # an operator refused by its type: a typing error
    return types.int64


@lowers(accumulate)
def _accumulate(e, origin, target_rank, target_disp, operator, win):
    op = e.op(operator, _refused(operator, origin.type.dtype), origin.type.dtype)
    return _transfer(e, capi.MPI_Accumulate, origin, target_rank, target_disp, win, op)


@api
def get_accumulate(origin, result, target_rank, target_disp, operator, win):
    """Fetch ``result.size`` target elements into ``result``, then combine ``origin`` into
    them with ``operator``, atomically per element (``MPI_Get_accumulate``). With ``NO_OP``
    this is an atomic read and ``origin`` is ignored (any array of the dtype, e.g. ``result``).

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.full(2, 5.0))
    >>> old = np.empty(2)
    >>> me = mpi4numba.rank()
    >>> mpi4numba.win_lock(win, me), mpi4numba.get_accumulate(np.ones(2), old, me, 0, mpi4numba.Operator.SUM, win)
    (0, 0)
    >>> mpi4numba.win_unlock(win, me), old.tolist(), mpi4numba.win_free(win)
    (0, [5.0, 5.0], 0)
    """
    _check(origin, target_rank, target_disp, win)
    array(result, "result", writable=True)
    same_dtype(origin, result)
    refused_operators(operator, result.dtype, one_sided=True)  # an operator refused by its type: a typing error
    return types.int64


@lowers(get_accumulate)
def _get_accumulate(e, origin, result, target_rank, target_disp, operator, win):
    op = e.op(operator, _refused(operator, result.type.dtype), result.type.dtype)
    no_op = op.eq(e.handle("NO_OP"))

    def prepare():
        e.check(e.size(origin).eq(e.size(result)).or_(no_op), ValueError, "mpi4numba: origin and result differ in size")
        return ()

    def call(handle):
        out, into = e.buffer(origin), e.buffer(result)
        count, datatype = _target_region(e, result)
        code = e(
            capi.MPI_Get_accumulate,
            out.address,
            e.select(no_op, 0, out.count),
            out.datatype,
            *into.as_args,
            target_rank,
            target_disp,
            count,
            datatype,
            op,
            handle,
        )
        e.release(out, into)
        return code

    return _rma(e, win, target_rank, target_disp, _bytes(e, result), call, prepare)


@api
def fetch_and_op(origin, result, target_rank, target_disp, operator, win):
    """Atomically fetch one target element into ``result[0]`` and combine ``origin`` (a
    scalar or an array's first element) into it with ``operator`` (``MPI_Fetch_and_op``).

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1, np.int64))
    >>> ticket = np.empty(1, np.int64)
    >>> mpi4numba.win_lock_all(win), mpi4numba.fetch_and_op(1, ticket, 0, 0, mpi4numba.Operator.SUM, win)
    (0, 0)
    >>> mpi4numba.win_unlock_all(win), bool(0 <= ticket[0] < mpi4numba.size()), mpi4numba.win_free(win)
    (0, True, 0)
    """
    _one_element(result)
    integer(target_rank, "target_rank")
    integer(target_disp, "target_disp")
    require_window(win)
    refused_operators(operator, result.dtype, one_sided=True)  # an operator refused by its type: a typing error
    _operand(origin, result)
    return types.int64


@lowers(fetch_and_op)
def _fetch_and_op(e, origin, result, target_rank, target_disp, operator, win):
    op = e.op(operator, _refused(operator, result.type.dtype), result.type.dtype)
    datatype, _ = e.element_type(result)

    def operands():
        return _element_address(e, origin, result), _element_address(e, result, result)

    def call(handle, source, into):
        return e(capi.MPI_Fetch_and_op, source, into, datatype, target_rank, target_disp, op, handle)

    return _rma(e, win, target_rank, target_disp, e.itemsize(result), call, operands)


@api
def compare_and_swap(origin, compare, result, target_rank, target_disp, win):
    """Atomically fetch one target element into ``result[0]`` and, if it equals ``compare``,
    replace it with ``origin`` (``MPI_Compare_and_swap``; integer, bool or byte dtypes).

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1, np.int32))
    >>> old = np.empty(1, np.int32)
    >>> me = mpi4numba.rank()
    >>> mpi4numba.win_lock(win, me), mpi4numba.compare_and_swap(7, 0, old, me, 0, win), mpi4numba.win_unlock(win, me)
    (0, 0, 0)
    >>> old.tolist(), mpi4numba.win_free(win)
    ([0], 0)
    """
    _one_element(result)
    if datatype_class(mpi_datatype(result.dtype)[0]) not in _COMPARABLE:
        raise TypingError(f"mpi4numba: compares integer, bool or byte elements, not {result.dtype}")
    integer(target_rank, "target_rank")
    integer(target_disp, "target_disp")
    require_window(win)
    for value in (origin, compare):
        _operand(value, result)
    return types.int64


@lowers(compare_and_swap)
def _compare_and_swap(e, origin, compare, result, target_rank, target_disp, win):
    datatype, _ = e.element_type(result)

    def operands():
        return tuple(_element_address(e, value, result) for value in (origin, compare, result))

    def call(handle, *addresses):
        return e(capi.MPI_Compare_and_swap, *addresses, datatype, target_rank, target_disp, handle)

    return _rma(e, win, target_rank, target_disp, e.itemsize(result), call, operands)
