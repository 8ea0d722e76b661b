"""One-sided communication: windows, their creation, synchronization and release.

A *window* exposes a region of each process's memory to remote memory access (RMA) by
the other processes of a communicator. It is created collectively over the
communicator, either over memory the caller already has (:func:`win_create`) or over
memory MPI allocates (:func:`win_allocate`, :func:`win_allocate_shared`). Processes then
access each other's windows with the communication calls of :mod:`mpi4numba.rma`
(``put``, ``get``, ``accumulate``, ``get_accumulate``, ``fetch_and_op``,
``compare_and_swap``), addressing the target memory by rank and by a displacement in
units of the target's ``disp_unit`` (by default the size of one element, so a
displacement is an element index).

RMA calls are only allowed inside an *access epoch*, and their effects are visible only
after it ends:

* active target: :func:`win_fence` is collective over the window; the calls between two
  fences complete at the second one;
* passive target: :func:`win_lock`/:func:`win_unlock` open and close an epoch at one
  target (``LOCK_EXCLUSIVE`` or ``LOCK_SHARED``), :func:`win_lock_all`/
  :func:`win_unlock_all` at all of them (shared); :func:`win_flush` (``_all``,
  ``_local``, ``_local_all``) completes pending calls without ending the epoch, and
  :func:`win_sync` synchronizes the public and private copies of the local window.

``assertion`` arguments are zero or ``MODE_*`` constants or'ed together: promises about
the epoch that let MPI skip work. Windows are freed collectively with :func:`win_free`.

Here a window is a 1-element array of ``WinType`` (see :mod:`mpi4numba._support.wintype`) that
holds its handle. Every process records the size and ``disp_unit`` of every process's
part when a window is created (an allgather), in a per-process table of the live
windows that ``win_free`` leaves: RMA calls check their accesses against it (see
:mod:`mpi4numba.rma`), and a routine given a handle that is not in it (a freed window,
also through a NumPy copy of its array, or a window made by mpi4py) returns ``ERR_WIN``
without reaching MPI. The array given to ``win_create`` is kept alive until the window
is freed and no array of it is left. Memory from ``win_allocate``/``win_allocate_shared``
(and views from ``win_shared_query``) belongs to MPI and is released by ``win_free``: do
not touch those arrays after freeing the window. Windows use ``MPI_ERRORS_RETURN``, so
errors come back as return codes. All routines are callable from ``@njit`` code and
from Python.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.np.numpy_support import as_dtype

from ._core import capi
from ._core.runtime import ABI, MPI
from ._support.api import api, lowers
from ._support.emit_buffers import is_contiguous_layout
from ._support.validate import array, integer
from ._support.wintype import (
    ROW_BITS,
    WinType,
    element_dtype,
    explained_window_error,
    forget_window,
    memory_view,
    new_window,
    on_live_window,
    register_window,
    require_window,
    store_window_handle,
    window_array_type,
)

LOCK_EXCLUSIVE = ABI.CONSTANTS["LOCK_EXCLUSIVE"]
LOCK_SHARED = ABI.CONSTANTS["LOCK_SHARED"]
MODE_NOCHECK = ABI.CONSTANTS["MODE_NOCHECK"]
MODE_NOSTORE = ABI.CONSTANTS["MODE_NOSTORE"]
MODE_NOPUT = ABI.CONSTANTS["MODE_NOPUT"]
MODE_NOPRECEDE = ABI.CONSTANTS["MODE_NOPRECEDE"]
MODE_NOSUCCEED = ABI.CONSTANTS["MODE_NOSUCCEED"]

__all__ = [
    "WinType",
    "win_create",
    "win_allocate",
    "win_allocate_shared",
    "win_shared_query",
    "win_free",
    "win_fence",
    "win_lock",
    "win_unlock",
    "win_lock_all",
    "win_unlock_all",
    "win_flush",
    "win_flush_all",
    "win_flush_local",
    "win_flush_local_all",
    "win_sync",
    "win_to_mpi4py",
    "LOCK_EXCLUSIVE",
    "LOCK_SHARED",
    "MODE_NOCHECK",
    "MODE_NOSTORE",
    "MODE_NOPUT",
    "MODE_NOPRECEDE",
    "MODE_NOSUCCEED",
]


def _check_disp_unit(disp_unit) -> None:
    if not isinstance(disp_unit, types.NoneType):
        integer(disp_unit, "disp_unit")


def _on_window(win, **integers) -> types.Type:
    """The arguments of a synchronization routine (``win`` a window, ``integers`` by name),
    and its result type: the status."""
    require_window(win)
    for name, value in integers.items():
        integer(value, name)
    return types.int64


def _allocation(count, dtype, disp_unit) -> types.Type:
    """The arguments of win_allocate(_shared), and their result type: ``(status, win, memory)``."""
    integer(count, "count")
    _check_disp_unit(disp_unit)
    return types.Tuple((types.int32, window_array_type, types.Array(element_dtype(dtype), 1, "C")))


def _unit(e, disp_unit, itemsize: int):
    """The displacement unit: ``disp_unit``, or ``itemsize`` for None."""
    return e.const(itemsize, types.int64) if disp_unit.type == types.none else disp_unit


def _itemsize(dtype: types.Type) -> int:
    """The bytes of one element of the NumPy dtype argument ``dtype`` (a Numba type)."""
    return as_dtype(element_dtype(dtype)).itemsize


def _created(e, code, handle, base, comm, size, disp_unit):
    """``(status, win)`` of a creation call over ``comm`` that returned ``code`` and
    ``handle``: a window holding WIN_NULL if it failed; else one that returns errors as
    codes and is in the window table with every process's extent (an allgather)."""
    created = code.eq(0)
    rank, group = e.rank_size(comm)
    win = e(new_window, e.select(created, handle, e.handle("WIN_NULL")), base, e.select(created, group, 0))
    status = e.variable(code)
    with e.when(code.ne(0), likely=False):  # a refusal whose cause is known gets a code that says it
        status.set(e(explained_window_error, code))
    with e.when(created, likely=True):
        status.set(e(capi.MPI_Win_set_errhandler, handle, e.handle("ERRORS_RETURN")))
        extents = e(register_window, win, rank, size, disp_unit)
        e.check(extents.ne(0), RuntimeError, f"mpi4numba: more than {1 << ROW_BITS} windows at once")
        pair = e.handle("INT64_T")
        gathered = e(capi.MPI_Allgather, e.in_place(), 2, pair, extents, 2, pair, e.comm(comm))
        status.set(e.select(status.get().eq(0), gathered, status.get()))
    return status.get(), win


def _allocated(e, c_function, count, dtype, disp_unit, comm):
    """``(status, win, memory)`` of win_allocate(_shared): ``c_function`` allocates
    ``count`` elements of ``dtype`` on each process and makes the window."""
    e.check(count.ge(0), ValueError, "mpi4numba: count must not be negative (a window of count elements)")
    itemsize = _itemsize(dtype.type)
    size, unit = count.mul(itemsize), _unit(e, disp_unit, itemsize)
    code, address, handle = e.unpack(e(c_function, size, unit, e.handle("INFO_NULL"), e.comm(comm)))
    status, win = _created(e, code, handle, None, comm, size, unit)
    done = code.eq(0)
    return e.tuple(status, win, e(memory_view, win, e.select(done, address, 0), e.select(done, count, 0), dtype))


def _window_call(e, win, c_function, *arguments):
    """The status of ``c_function(*arguments, handle)`` on a live window ``win``."""
    return on_live_window(e, win, lambda handle, extents: e(c_function, *arguments, handle))


@api
def win_create(base, disp_unit=None, comm=None):
    """``(status, win)``: expose the C-contiguous array ``base`` as this process's part of a
    window over ``comm`` (``MPI_Win_create``); collective. ``disp_unit`` defaults to
    ``base.itemsize``. ``base`` stays alive until the window is freed (and while an array
    of it is left). Where the library refuses for a known cause (Open MPI 4 at thread level
    multiple), the status is of class ``ERR_WIN`` and its ``error_string`` says why.

    >>> import numpy as np, mpi4numba
    >>> base = np.zeros(4)
    >>> status, win = mpi4numba.win_create(base)
    >>> status, mpi4numba.win_free(win)
    (0, 0)
    """
    array(base, "base", writable=True)
    _check_disp_unit(disp_unit)
    return types.Tuple((types.int32, window_array_type))


@lowers(win_create)
def _win_create(e, base, disp_unit, comm):
    if not is_contiguous_layout(base.type):
        e.check(e.attr(e.attr(base, "flags"), "c_contiguous"), ValueError, "mpi4numba: base must be C-contiguous")
    size, unit = e.attr(base, "nbytes"), _unit(e, disp_unit, e.itemsize(base))
    code, handle = e.unpack(e(capi.MPI_Win_create, e.data(base), size, unit, e.handle("INFO_NULL"), e.comm(comm)))
    return e.tuple(*_created(e, code, handle, base, comm, size, unit))


@api
def win_allocate(count, dtype, disp_unit=None, comm=None):
    """``(status, win, memory)``: a window over ``count`` elements of ``dtype`` that MPI
    allocates on each process (``MPI_Win_allocate``); collective. ``memory`` is a NumPy
    view of the local part, valid until :func:`win_free`.

    >>> import numpy as np, mpi4numba
    >>> status, win, memory = mpi4numba.win_allocate(3, np.int64)
    >>> memory[:] = 7
    >>> status, memory.shape, mpi4numba.win_free(win)
    (0, (3,), 0)
    """
    return _allocation(count, dtype, disp_unit)


@lowers(win_allocate)
def _win_allocate(e, count, dtype, disp_unit, comm):
    return _allocated(e, capi.MPI_Win_allocate, count, dtype, disp_unit, comm)


@api
def win_allocate_shared(count, dtype, disp_unit=None, comm=None):
    """``(status, win, memory)``: like :func:`win_allocate`, in memory that all processes of
    ``comm`` (which must share a node) can load and store directly
    (``MPI_Win_allocate_shared``); see :func:`win_shared_query`.

    >>> import numpy as np, mpi4numba
    >>> status, win, mine = mpi4numba.win_allocate_shared(2, np.float64, comm=mpi4numba.COMM_SELF)
    >>> status, mpi4numba.win_free(win)
    (0, 0)
    """
    return _allocation(count, dtype, disp_unit)


@lowers(win_allocate_shared)
def _win_allocate_shared(e, count, dtype, disp_unit, comm):
    return _allocated(e, capi.MPI_Win_allocate_shared, count, dtype, disp_unit, comm)


@api
def win_shared_query(win, rank, dtype):
    """``(status, memory)``: a NumPy view (elements of ``dtype``) of the segment that process
    ``rank`` contributed to a shared-memory window (``MPI_Win_shared_query``); valid until
    :func:`win_free`. Loads and stores need synchronization like RMA calls (e.g. a fence, or
    :func:`win_sync` with a barrier).

    >>> import numpy as np, mpi4numba
    >>> status, win, mine = mpi4numba.win_allocate_shared(2, np.int32, comm=mpi4numba.COMM_SELF)
    >>> mine[:] = 5
    >>> status, same = mpi4numba.win_shared_query(win, 0, np.int32)
    >>> status, same.tolist(), mpi4numba.win_free(win)
    (0, [5, 5], 0)
    """
    require_window(win)
    integer(rank, "rank")
    return types.Tuple((types.int64, types.Array(element_dtype(dtype), 1, "C")))


@lowers(win_shared_query)
def _win_shared_query(e, win, rank, dtype):
    address, count = e.variable(e.const(0, types.intp)), e.variable(e.const(0, types.int64))

    def query(handle, extents):
        code, size, _, base = e.unpack(e(capi.MPI_Win_shared_query, handle, rank))
        with e.when(code.eq(0), likely=True):
            address.set(base)
            count.set(size.floordiv(_itemsize(dtype.type)))
        return code

    status = on_live_window(e, win, query)
    return e.tuple(status, e(memory_view, win, address.get(), count.get(), dtype))


@api
def win_free(win):
    """Free a window (``MPI_Win_free``); collective, after its epochs are closed. ``win``
    (and every array sharing it) then holds ``WIN_NULL``, and later calls on it or on any
    copy of its handle return ``ERR_WIN``. Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_free(win), mpi4numba.win_free(win) == mpi4numba.ERR_WIN
    (0, True)
    """
    require_window(win)
    return types.int64


@lowers(win_free)
def _win_free(e, win):
    def free(handle, extents):
        code, freed = e.unpack(e(capi.MPI_Win_free, handle))
        with e.when(code.eq(0), likely=True):
            e(forget_window, handle)
            e(store_window_handle, win, freed)
        return code

    return on_live_window(e, win, free)


@api
def win_fence(win, assertion=0):
    """Close the current active-target epoch and open the next (``MPI_Win_fence``);
    collective over the window. Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_fence(win, mpi4numba.MODE_NOPRECEDE), mpi4numba.win_fence(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    return _on_window(win, assertion=assertion)


@lowers(win_fence)
def _win_fence(e, win, assertion):
    return _window_call(e, win, capi.MPI_Win_fence, assertion)


@api
def win_lock(win, rank, lock_type=LOCK_EXCLUSIVE, assertion=0):
    """Start a passive-target epoch at process ``rank`` (``MPI_Win_lock``), exclusive by
    default or ``LOCK_SHARED``. Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> me = mpi4numba.rank()
    >>> mpi4numba.win_lock(win, me), mpi4numba.win_unlock(win, me), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    return _on_window(win, rank=rank, lock_type=lock_type, assertion=assertion)


@lowers(win_lock)
def _win_lock(e, win, rank, lock_type, assertion):
    return _window_call(e, win, capi.MPI_Win_lock, lock_type, rank, assertion)


@api
def win_unlock(win, rank):
    """End the passive-target epoch at ``rank``; its RMA calls are then complete there
    (``MPI_Win_unlock``). Returns the status. Example: see :func:`win_lock`.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_unlock(win, 0) != 0, mpi4numba.win_free(win)  # no epoch was open
    (True, 0)
    """
    return _on_window(win, rank=rank)


@lowers(win_unlock)
def _win_unlock(e, win, rank):
    return _window_call(e, win, capi.MPI_Win_unlock, rank)


@api
def win_lock_all(win, assertion=0):
    """Start a shared passive-target epoch at every process of the window
    (``MPI_Win_lock_all``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_unlock_all(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    return _on_window(win, assertion=assertion)


@lowers(win_lock_all)
def _win_lock_all(e, win, assertion):
    return _window_call(e, win, capi.MPI_Win_lock_all, assertion)


@api
def win_unlock_all(win):
    """End the epoch started by :func:`win_lock_all` (``MPI_Win_unlock_all``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_unlock_all(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    return _on_window(win)


@lowers(win_unlock_all)
def _win_unlock_all(e, win):
    return _window_call(e, win, capi.MPI_Win_unlock_all)


@api
def win_flush(win, rank):
    """Complete, at origin and target, the RMA calls to ``rank`` issued in the current
    passive-target epoch (``MPI_Win_flush``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> me = mpi4numba.rank()
    >>> mpi4numba.win_lock(win, me), mpi4numba.win_flush(win, me), mpi4numba.win_unlock(win, me)
    (0, 0, 0)
    >>> mpi4numba.win_free(win)
    0
    """
    return _on_window(win, rank=rank)


@lowers(win_flush)
def _win_flush(e, win, rank):
    return _window_call(e, win, capi.MPI_Win_flush, rank)


@api
def win_flush_all(win):
    """Like :func:`win_flush`, for every target (``MPI_Win_flush_all``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_flush_all(win), mpi4numba.win_unlock_all(win)
    (0, 0, 0)
    >>> mpi4numba.win_free(win)
    0
    """
    return _on_window(win)


@lowers(win_flush_all)
def _win_flush_all(e, win):
    return _window_call(e, win, capi.MPI_Win_flush_all)


@api
def win_flush_local(win, rank):
    """Complete locally the RMA calls to ``rank``: origin buffers may be reused
    (``MPI_Win_flush_local``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_flush_local(win, 0), mpi4numba.win_unlock_all(win)
    (0, 0, 0)
    >>> mpi4numba.win_free(win)
    0
    """
    return _on_window(win, rank=rank)


@lowers(win_flush_local)
def _win_flush_local(e, win, rank):
    return _window_call(e, win, capi.MPI_Win_flush_local, rank)


@api
def win_flush_local_all(win):
    """Like :func:`win_flush_local`, for every target (``MPI_Win_flush_local_all``).

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_flush_local_all(win), mpi4numba.win_unlock_all(win)
    (0, 0, 0)
    >>> mpi4numba.win_free(win)
    0
    """
    return _on_window(win)


@lowers(win_flush_local_all)
def _win_flush_local_all(e, win):
    return _window_call(e, win, capi.MPI_Win_flush_local_all)


@api
def win_sync(win):
    """Synchronize the public and private copies of the local window inside a
    passive-target epoch (``MPI_Win_sync``), e.g. around loads and stores to shared memory.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_sync(win), mpi4numba.win_unlock_all(win)
    (0, 0, 0)
    >>> mpi4numba.win_free(win)
    0
    """
    return _on_window(win)


@lowers(win_sync)
def _win_sync(e, win):
    return _window_call(e, win, capi.MPI_Win_sync)


def win_to_mpi4py(win: np.ndarray) -> MPI.Win:
    """The window as an ``mpi4py`` ``MPI.Win`` sharing the handle (Python only). Free it with
    :func:`win_free`, not ``Free()`` on the mpi4py object: mpi4numba cannot see that, and
    would still pass the freed handle to MPI.

    >>> import numpy as np, mpi4numba
    >>> from mpi4py import MPI
    >>> status, win = mpi4numba.win_create(np.zeros(2))
    >>> mpi4numba.win_to_mpi4py(win).Get_attr(MPI.WIN_SIZE), mpi4numba.win_free(win)
    (16, 0)
    """
    if not (isinstance(win, np.ndarray) and win.dtype == WinType and win.shape == (1,)):
        raise TypeError(f"mpi4numba.win_to_mpi4py: win must be a window, got {win!r}")
    return MPI.Win.fromhandle(int(win[0]) % 2 ** (8 * WinType.itemsize))  # mpi4py's handles are unsigned
