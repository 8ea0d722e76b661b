"""The MPI environment: initialisation state, thread level, wall clock, error strings."""

from __future__ import annotations

import numpy as np
from numba.core import types

from ._abi import ERROR_CLASS_NAMES
from ._core import capi
from ._core.runtime import ABI, MPI
from ._core.threadlevel import THREAD_LEVELS, provided_level, set_thread_level
from ._support.api import api, lowers
from ._support.validate import integer

# MPI's values of the levels in the running ABI (0-3 in MPICH's and Open MPI's; the MPI-5
# standard ABI has 0, 1024, 2048, 4096), as mpi4py's MPI.THREAD_* and query_thread() give them
THREAD_SINGLE, THREAD_FUNNELED, THREAD_SERIALIZED, THREAD_MULTIPLE = (
    ABI.CONSTANTS[f"THREAD_{name.upper()}"] for name in THREAD_LEVELS
)
# MPI error classes of the running ABI: SUCCESS, ERR_COUNT, ERR_RANK, ERR_WIN ...
# (the names are the same in every ABI table; the values differ)
ERROR_CLASSES: dict[str, int] = dict(ABI.ERROR_CLASSES)
globals().update(ERROR_CLASSES)

__all__ = [
    "initialized",
    "query_thread",
    "thread_level",
    "wtime",
    "error_class",
    "error_string",
    "set_thread_level",
    "THREAD_LEVELS",
    "THREAD_SINGLE",
    "THREAD_FUNNELED",
    "THREAD_SERIALIZED",
    "THREAD_MULTIPLE",
]
__all__ += list(ERROR_CLASS_NAMES)  # SUCCESS, ERR_COUNT ...: every ABI table has these names


@api
def initialized():
    """True once MPI is initialised (always, after mpi4numba is imported).

    >>> import mpi4numba
    >>> mpi4numba.initialized()
    True
    """

    return types.boolean


@lowers(initialized)
def _initialized(e):
    code, flag = e.unpack(e(capi.MPI_Initialized))
    return code.eq(0).and_(flag.ne(0))


@api
def query_thread():
    """The thread level MPI provides, as MPI's value (``MPI_Query_thread``): one of
    :data:`THREAD_SINGLE`, :data:`THREAD_FUNNELED`, :data:`THREAD_SERIALIZED`,
    :data:`THREAD_MULTIPLE`, which equal mpi4py's ``MPI.THREAD_*`` (0-3 in MPICH's and Open
    MPI's ABIs, 0-4096 in the MPI-5 standard ABI). :func:`thread_level` gives its name.

    >>> import mpi4numba
    >>> mpi4numba.query_thread() in (mpi4numba.THREAD_FUNNELED, mpi4numba.THREAD_MULTIPLE)
    True
    """

    return types.int32


def thread_level() -> str:
    """The name of the thread level MPI provides: ``"single"``, ``"funneled"``,
    ``"serialized"`` or ``"multiple"`` (from Python only; :func:`query_thread` in compiled code).

    >>> import mpi4numba
    >>> mpi4numba.thread_level() in mpi4numba.THREAD_LEVELS
    True
    """
    return provided_level(MPI)


@lowers(query_thread)
def _query_thread(e):
    return e(capi.MPI_Query_thread).getitem(1)


@api
def wtime():
    """Wall-clock time in seconds since some time in the past (``MPI_Wtime``): only
    differences mean something (Open MPI 4 counts from its first call, which gives 0.0).

    >>> import mpi4numba
    >>> start = mpi4numba.wtime()
    >>> mpi4numba.wtime() - start >= 0
    True
    """

    return types.float64


@lowers(wtime)
def _wtime(e):
    return e(capi.MPI_Wtime)


@api
def error_class(code):
    """The error class (``ERR_RANK``, ``ERR_TRUNCATE`` ...) of an error code MPI returned.

    MPI libraries may return codes that carry more detail than the class; compare classes.

    >>> import mpi4numba
    >>> mpi4numba.error_class(mpi4numba.ERR_RANK) == mpi4numba.ERR_RANK
    True
    """
    integer(code, "code")

    return types.int64


@lowers(error_class)
def _error_class(e, code):
    status, error_class = e.unpack(e(capi.MPI_Error_class, code))
    return e.select(status.eq(0), error_class, ERROR_CLASSES["ERR_ARG"])


@api
def error_string(code):
    """The MPI library's text for an error code (``MPI_Error_string``).

    >>> import mpi4numba
    >>> len(mpi4numba.error_string(mpi4numba.ERR_RANK)) > 0
    True
    """
    integer(code, "code")
    capacity = ABI.MAX_ERROR_STRING

    def impl(code):
        text = np.zeros(capacity, np.uint8)
        length = np.zeros(1, np.int32)
        if capi.MPI_Error_string(code, text, length) != 0:
            return "unknown MPI error code " + str(code)
        return "".join([chr(c) for c in text[: length[0]]])

    return impl
