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

``operator`` is an :class:`mpi4numba.Operator` member (or numba-mpi's integer value):
predefined reductions, applied elementwise at the target, plus ``REPLACE`` (store the
origin value) and ``NO_OP`` (leave the target unchanged, for atomic reads). Concurrent
accumulate-family calls on the same target location are atomic per element.
"""

from __future__ import annotations

from numba.core import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable

from . import _capi
from ._api import api
from ._ccall import predefined, stack_value
from ._validate import array, integer, same_dtype
from ._wintype import require_window
from .datatypes import buffer, element_type, mpi_datatype, release
from .operators import op_handle
from .window import ERR_WIN, live_handle

__all__ = ["put", "get", "accumulate", "get_accumulate", "fetch_and_op", "compare_and_swap"]


def _check(where: str, origin, target_rank, target_disp, win, writable: bool = False) -> None:
    array(origin, where, "origin", writable=writable)
    integer(target_rank, where, "target_rank")
    integer(target_disp, where, "target_disp")
    require_window(win, where)


def _check_operator(where: str, operator) -> None:
    if not isinstance(operator, (types.IntEnumMember, types.Integer)):
        raise TypingError(f"mpi4numba.{where}: operator must be an mpi4numba.Operator, got {operator}")


@register_jitable
def _target(origin):
    """(count, datatype) of the contiguous target region matching ``origin``."""
    datatype, per_element = element_type(origin)
    return origin.size * per_element, datatype


@api
def put(origin, target_rank, target_disp, win):
    """Store ``origin`` into the window of ``target_rank`` from ``target_disp`` on (``MPI_Put``).

    >>> import numpy as np, mpi4numba
    >>> local = np.zeros(4)
    >>> status, win = mpi4numba.win_create(local)
    >>> mpi4numba.win_fence(win)
    0
    >>> mpi4numba.put(np.array([1.0, 2.0]), mpi4numba.rank(), 1, win), mpi4numba.win_fence(win)
    (0, 0)
    >>> local.tolist(), mpi4numba.win_free(win)
    ([0.0, 1.0, 2.0, 0.0], 0)
    """
    _check("put", origin, target_rank, target_disp, win)

    def impl(origin, target_rank, target_disp, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        address, count, datatype, derived = buffer(origin, "mpi4numba.put")
        target_count, target_type = _target(origin)
        code = _capi.MPI_Put(address, count, datatype, target_rank, target_disp, target_count, target_type, handle)
        release(datatype, derived)
        return code

    return impl


@api
def get(origin, target_rank, target_disp, win):
    """Load ``origin.size`` elements from the window of ``target_rank``, from ``target_disp``
    on, into ``origin`` (``MPI_Get``).

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.arange(4.0))
    >>> fetched = np.empty(2)
    >>> mpi4numba.win_lock(win, mpi4numba.rank(), mpi4numba.LOCK_SHARED)
    0
    >>> mpi4numba.get(fetched, mpi4numba.rank(), 2, win), mpi4numba.win_unlock(win, mpi4numba.rank())
    (0, 0)
    >>> fetched.tolist(), mpi4numba.win_free(win)
    ([2.0, 3.0], 0)
    """
    _check("get", origin, target_rank, target_disp, win, writable=True)

    def impl(origin, target_rank, target_disp, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        address, count, datatype, derived = buffer(origin, "mpi4numba.get")
        target_count, target_type = _target(origin)
        code = _capi.MPI_Get(address, count, datatype, target_rank, target_disp, target_count, target_type, handle)
        release(datatype, derived)
        return code

    return impl


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
    _check("accumulate", origin, target_rank, target_disp, win)
    _check_operator("accumulate", operator)

    def impl(origin, target_rank, target_disp, operator, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        address, count, datatype, derived = buffer(origin, "mpi4numba.accumulate")
        target_count, target_type = _target(origin)
        code = _capi.MPI_Accumulate(
            address, count, datatype, target_rank, target_disp, target_count, target_type, op_handle(operator), handle
        )
        release(datatype, derived)
        return code

    return impl


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
    _check("get_accumulate", origin, target_rank, target_disp, win)
    array(result, "get_accumulate", "result", writable=True)
    same_dtype(origin, result, "get_accumulate")
    _check_operator("get_accumulate", operator)

    def impl(origin, result, target_rank, target_disp, operator, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        op = op_handle(operator)
        if origin.size != result.size and op != predefined("NO_OP"):
            raise ValueError("mpi4numba.get_accumulate: origin and result differ in size")
        address, count, datatype, derived = buffer(origin, "mpi4numba.get_accumulate")
        result_address, result_count, result_type, result_derived = buffer(result, "mpi4numba.get_accumulate")
        target_count, target_type = _target(result)
        if op == predefined("NO_OP"):
            count = 0
        code = _capi.MPI_Get_accumulate(
            address, count, datatype, result_address, result_count, result_type,
            target_rank, target_disp, target_count, target_type, op, handle,
        )
        release(datatype, derived)
        release(result_type, result_derived)
        return code

    return impl


def _element_address(value, like):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_element_address, inline="always")  # the stack copy must live in the caller's frame
def _element_address_impl(value, like):
    """Address of one element: a scalar's stack copy in ``like``'s dtype (in the caller's
    frame: this is inlined), or an array's first element (which must exist)."""
    if isinstance(value, (types.Number, types.Boolean)):
        return lambda value, like: stack_value(value, like)
    if isinstance(value, types.Array) and value.dtype == like.dtype:

        def first(value, like):
            if value.size < 1:
                raise ValueError("mpi4numba: an empty array where one element is needed")
            return value.ctypes.data

        return first
    raise TypingError(f"mpi4numba: expected a scalar or an array of {like.dtype}, got {value}")


def _single_element(where: str, result) -> None:
    array(result, where, "result", writable=True)
    if mpi_datatype(result.dtype, f"mpi4numba.{where}")[1] != 1:
        raise TypingError(f"mpi4numba.{where}: {result.dtype} is not a single-element MPI datatype")


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
    _single_element("fetch_and_op", result)
    integer(target_rank, "fetch_and_op", "target_rank")
    integer(target_disp, "fetch_and_op", "target_disp")
    require_window(win, "fetch_and_op")
    _check_operator("fetch_and_op", operator)

    def impl(origin, result, target_rank, target_disp, operator, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        datatype, _ = element_type(result)
        return _capi.MPI_Fetch_and_op(
            _element_address(origin, result), _element_address(result, result), datatype,
            target_rank, target_disp, op_handle(operator), handle,
        )

    return impl


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
    _single_element("compare_and_swap", result)
    integer(target_rank, "compare_and_swap", "target_rank")
    integer(target_disp, "compare_and_swap", "target_disp")
    require_window(win, "compare_and_swap")

    def impl(origin, compare, result, target_rank, target_disp, win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        datatype, _ = element_type(result)
        return _capi.MPI_Compare_and_swap(
            _element_address(origin, result), _element_address(compare, result), _element_address(result, result),
            datatype, target_rank, target_disp, handle,
        )

    return impl
