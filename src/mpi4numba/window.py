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

Here a window is a 1-element array of ``WinType`` (see :mod:`mpi4numba._wintype`): every
copy shares the handle, and after ``win_free`` every call on the window returns
``ERR_WIN`` without reaching MPI. The array given to ``win_create`` is kept alive by the
window. Memory from ``win_allocate``/``win_allocate_shared`` (and views from
``win_shared_query``) belongs to MPI and is released by ``win_free``: do not touch those
arrays after freeing the window. Windows use ``MPI_ERRORS_RETURN``, so errors come back
as return codes. All routines are callable from ``@njit`` code and from Python.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import overload, register_jitable
from numba.np.numpy_support import as_dtype

from . import _capi
from ._api import api
from ._ccall import predefined
from ._commtype import comm_handle
from ._runtime import ABI, MPI
from ._validate import array, integer
from ._wintype import (WinType, element_dtype, memory_view, new_window, require_window, store_window_handle,
                       window_handle)

LOCK_EXCLUSIVE = ABI.CONSTANTS["LOCK_EXCLUSIVE"]
LOCK_SHARED = ABI.CONSTANTS["LOCK_SHARED"]
MODE_NOCHECK = ABI.CONSTANTS["MODE_NOCHECK"]
MODE_NOSTORE = ABI.CONSTANTS["MODE_NOSTORE"]
MODE_NOPUT = ABI.CONSTANTS["MODE_NOPUT"]
MODE_NOPRECEDE = ABI.CONSTANTS["MODE_NOPRECEDE"]
MODE_NOSUCCEED = ABI.CONSTANTS["MODE_NOSUCCEED"]
ERR_WIN = ABI.ERROR_CLASSES["ERR_WIN"]
ERR_RMA_SYNC = ABI.ERROR_CLASSES["ERR_RMA_SYNC"]

__all__ = ["WinType", "win_create", "win_allocate", "win_allocate_shared", "win_shared_query", "win_free",
           "win_fence", "win_lock", "win_unlock", "win_lock_all", "win_unlock_all", "win_flush",
           "win_flush_all", "win_flush_local", "win_flush_local_all", "win_sync", "win_to_mpi4py",
           "LOCK_EXCLUSIVE", "LOCK_SHARED", "MODE_NOCHECK", "MODE_NOSTORE", "MODE_NOPUT", "MODE_NOPRECEDE",
           "MODE_NOSUCCEED"]


@register_jitable
def live_handle(win):
    """The window's handle, or 0 if it was freed (or never created)."""
    handle = window_handle(win)
    if handle == 0 or handle == predefined("WIN_NULL"):
        return 0
    return handle


def _unit(disp_unit, itemsize):  # pragma: no cover - replaced by the overload below
    raise NotImplementedError


@overload(_unit)
def _unit_impl(disp_unit, itemsize):
    if isinstance(disp_unit, (types.NoneType, types.Omitted)):
        return lambda disp_unit, itemsize: itemsize
    return lambda disp_unit, itemsize: disp_unit


def _check_disp_unit(disp_unit, where: str) -> None:
    if not isinstance(disp_unit, (types.NoneType, types.Omitted)):
        integer(disp_unit, where, "disp_unit")


@register_jitable
def _finish(code, handle, base):
    """The new window (WIN_NULL if creation failed), switched to MPI_ERRORS_RETURN."""
    if code != 0:
        handle = predefined("WIN_NULL")
    else:
        code = _capi.MPI_Win_set_errhandler(handle, predefined("ERRORS_RETURN"))
    return code, new_window(handle, base)


@api
def win_create(base, disp_unit=None, comm=None):
    """``(status, win)``: expose the C-contiguous array ``base`` as this process's part of a
    window over ``comm`` (``MPI_Win_create``); collective. ``disp_unit`` defaults to
    ``base.itemsize``. The window keeps ``base`` alive.

    >>> import numpy as np, mpi4numba
    >>> base = np.zeros(4)
    >>> status, win = mpi4numba.win_create(base)
    >>> status, mpi4numba.win_free(win)
    (0, 0)
    """
    array(base, "win_create", "base", writable=True)
    _check_disp_unit(disp_unit, "win_create")

    def impl(base, disp_unit=None, comm=None):
        if not base.flags.c_contiguous:
            raise ValueError("mpi4numba.win_create: base must be C-contiguous")
        code, handle = _capi.MPI_Win_create(
            base.ctypes.data, base.nbytes, _unit(disp_unit, base.itemsize), predefined("INFO_NULL"), comm_handle(comm)
        )
        return _finish(code, handle, base)

    return impl


def _allocator(where: str, count, dtype, disp_unit, call):
    integer(count, where, "count")
    _check_disp_unit(disp_unit, where)
    itemsize = as_dtype(element_dtype(dtype, where)).itemsize

    def impl(count, dtype, disp_unit=None, comm=None):
        if count < 0:
            raise ValueError("mpi4numba: a window cannot have a negative number of elements")
        code, address, handle = call(count * itemsize, _unit(disp_unit, itemsize), predefined("INFO_NULL"),
                                     comm_handle(comm))
        created = code == 0
        code, win = _finish(code, handle, None)
        if not created:
            return code, win, memory_view(win, 0, 0, dtype)
        return code, win, memory_view(win, address, count, dtype)

    return impl


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
    return _allocator("win_allocate", count, dtype, disp_unit, _capi.MPI_Win_allocate)


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
    return _allocator("win_allocate_shared", count, dtype, disp_unit, _capi.MPI_Win_allocate_shared)


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
    require_window(win, "win_shared_query")
    integer(rank, "win_shared_query", "rank")
    itemsize = as_dtype(element_dtype(dtype, "win_shared_query")).itemsize

    def impl(win, rank, dtype):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN, memory_view(win, 0, 0, dtype)
        code, size, unit, address = _capi.MPI_Win_shared_query(handle, rank)
        if code != 0:
            return code, memory_view(win, 0, 0, dtype)
        return code, memory_view(win, address, size // itemsize, dtype)

    return impl


@api
def win_free(win):
    """Free a window (``MPI_Win_free``); collective, after its epochs are closed. Every copy
    of ``win`` then holds ``WIN_NULL``: later calls return ``ERR_WIN``. Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_free(win), mpi4numba.win_free(win) == mpi4numba.ERR_WIN
    (0, True)
    """
    require_window(win, "win_free")

    def impl(win):
        handle = live_handle(win)
        if handle == 0:
            return ERR_WIN
        code, handle = _capi.MPI_Win_free(handle)
        if code == 0:
            store_window_handle(win, handle)
        return code

    return impl


def _sync(where: str, win, *integers: tuple[str, object]):
    require_window(win, where)
    for name, value in integers:
        if not isinstance(value, types.Omitted):
            integer(value, where, name)


@api
def win_fence(win, assertion=0):
    """Close the current active-target epoch and open the next (``MPI_Win_fence``);
    collective over the window. Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_fence(win, mpi4numba.MODE_NOPRECEDE), mpi4numba.win_fence(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    _sync("win_fence", win, ("assertion", assertion))

    def impl(win, assertion=0):
        handle = live_handle(win)
        return _capi.MPI_Win_fence(assertion, handle) if handle != 0 else ERR_WIN

    return impl


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
    _sync("win_lock", win, ("rank", rank), ("lock_type", lock_type), ("assertion", assertion))

    def impl(win, rank, lock_type=LOCK_EXCLUSIVE, assertion=0):
        handle = live_handle(win)
        return _capi.MPI_Win_lock(lock_type, rank, assertion, handle) if handle != 0 else ERR_WIN

    return impl


@api
def win_unlock(win, rank):
    """End the passive-target epoch at ``rank``; its RMA calls are then complete there
    (``MPI_Win_unlock``). Returns the status. Example: see :func:`win_lock`.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_unlock(win, 0) != 0, mpi4numba.win_free(win)  # no epoch was open
    (True, 0)
    """
    _sync("win_unlock", win, ("rank", rank))

    def impl(win, rank):
        handle = live_handle(win)
        return _capi.MPI_Win_unlock(rank, handle) if handle != 0 else ERR_WIN

    return impl


@api
def win_lock_all(win, assertion=0):
    """Start a shared passive-target epoch at every process of the window
    (``MPI_Win_lock_all``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_unlock_all(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    _sync("win_lock_all", win, ("assertion", assertion))

    def impl(win, assertion=0):
        handle = live_handle(win)
        return _capi.MPI_Win_lock_all(assertion, handle) if handle != 0 else ERR_WIN

    return impl


def _simple(where: str, call, with_rank: bool):
    """Implementation of a synchronization call taking ``(win)`` or ``(win, rank)``."""
    if with_rank:

        def ranked(win, rank):
            handle = live_handle(win)
            return call(rank, handle) if handle != 0 else ERR_WIN

        return ranked

    def whole(win):
        handle = live_handle(win)
        return call(handle) if handle != 0 else ERR_WIN

    return whole


@api
def win_unlock_all(win):
    """End the epoch started by :func:`win_lock_all` (``MPI_Win_unlock_all``). Returns the status.

    >>> import numpy as np, mpi4numba
    >>> status, win = mpi4numba.win_create(np.zeros(1))
    >>> mpi4numba.win_lock_all(win), mpi4numba.win_unlock_all(win), mpi4numba.win_free(win)
    (0, 0, 0)
    """
    _sync("win_unlock_all", win)
    return _simple("win_unlock_all", _capi.MPI_Win_unlock_all, False)


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
    _sync("win_flush", win, ("rank", rank))
    return _simple("win_flush", _capi.MPI_Win_flush, True)


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
    _sync("win_flush_all", win)
    return _simple("win_flush_all", _capi.MPI_Win_flush_all, False)


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
    _sync("win_flush_local", win, ("rank", rank))
    return _simple("win_flush_local", _capi.MPI_Win_flush_local, True)


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
    _sync("win_flush_local_all", win)
    return _simple("win_flush_local_all", _capi.MPI_Win_flush_local_all, False)


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
    _sync("win_sync", win)
    return _simple("win_sync", _capi.MPI_Win_sync, False)


def win_to_mpi4py(win: np.ndarray) -> MPI.Win:
    """The window as an ``mpi4py`` ``MPI.Win`` sharing the handle (Python only). Free it with
    :func:`win_free` (or ``Free()`` on the mpi4py object, which mpi4numba then cannot see).

    >>> import numpy as np, mpi4numba
    >>> from mpi4py import MPI
    >>> status, win = mpi4numba.win_create(np.zeros(2))
    >>> mpi4numba.win_to_mpi4py(win).Get_attr(MPI.WIN_SIZE), mpi4numba.win_free(win)
    (16, 0)
    """
    if not (isinstance(win, np.ndarray) and win.dtype == WinType and win.shape == (1,)):
        raise TypeError(f"mpi4numba.win_to_mpi4py: win must be a window, got {win!r}")
    return MPI.Win.fromhandle(int(win[0]) % 2 ** (8 * WinType.itemsize))  # mpi4py's handles are unsigned
