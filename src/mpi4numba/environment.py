"""The MPI environment: initialisation state, thread level, wall clock, error strings."""

from __future__ import annotations

import numpy as np

from . import _capi
from ._api import api
from ._initialize import THREAD_LEVELS, set_thread_level
from ._runtime import ABI
from ._validate import integer

THREAD_SINGLE, THREAD_FUNNELED, THREAD_SERIALIZED, THREAD_MULTIPLE = range(4)
# MPI error classes of the running ABI: SUCCESS, ERR_COUNT, ERR_RANK, ERR_WIN ...
# (the names are the same in every ABI table; the values differ)
ERROR_CLASSES: dict[str, int] = dict(ABI.ERROR_CLASSES)
globals().update(ERROR_CLASSES)

__all__ = ["initialized", "query_thread", "wtime", "error_class", "error_string", "set_thread_level", "THREAD_LEVELS"]


@api
def initialized():
    """True once MPI is initialised (always, after mpi4numba is imported).

    >>> import mpi4numba
    >>> mpi4numba.initialized()
    True
    """

    def impl():
        code, flag = _capi.MPI_Initialized()
        return code == 0 and flag != 0

    return impl


@api
def query_thread():
    """The thread level MPI provides: 0 single, 1 funneled, 2 serialized, 3 multiple.

    >>> import mpi4numba
    >>> mpi4numba.query_thread() in (0, 1, 2, 3)
    True
    """

    def impl():
        code, provided = _capi.MPI_Query_thread()
        return provided

    return impl


@api
def wtime():
    """Wall-clock time in seconds (``MPI_Wtime``).

    >>> import mpi4numba
    >>> mpi4numba.wtime() > 0
    True
    """

    def impl():
        return _capi.MPI_Wtime()

    return impl


@api
def error_class(code):
    """The error class (``ERR_RANK``, ``ERR_TRUNCATE`` ...) of an error code MPI returned.

    MPI libraries may return codes that carry more detail than the class; compare classes.

    >>> import mpi4numba
    >>> mpi4numba.error_class(mpi4numba.ERR_RANK) == mpi4numba.ERR_RANK
    True
    """
    integer(code, "error_class", "code")

    err_arg = ERROR_CLASSES["ERR_ARG"]  # an int constant for the compiled code

    def impl(code):
        status, error_class = _capi.MPI_Error_class(code)
        return error_class if status == 0 else err_arg

    return impl


@api
def error_string(code):
    """The MPI library's text for an error code (``MPI_Error_string``).

    >>> import mpi4numba
    >>> len(mpi4numba.error_string(mpi4numba.ERR_RANK)) > 0
    True
    """
    integer(code, "error_string", "code")
    capacity = ABI.MAX_ERROR_STRING

    def impl(code):
        text = np.zeros(capacity, np.uint8)
        length = np.zeros(1, np.int32)
        if _capi.MPI_Error_string(code, text, length) != 0:
            return "unknown MPI error code " + str(code)
        return "".join([chr(c) for c in text[: length[0]]])

    return impl
