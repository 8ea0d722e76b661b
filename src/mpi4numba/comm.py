"""Communicators: rank and size, duplication, splitting, comparison, creation and freeing.

Communicators are mpi4py objects in Python (``MPI.Comm`` and subclasses) and values of
type ``mpi4numba.Comm`` in compiled code; each side accepts the other's. ``comm`` may be
omitted (or ``None``) for ``COMM_WORLD``. Communicators created here inherit the error
handler of their parent, ``MPI_ERRORS_RETURN`` (set by mpi4py on ``COMM_WORLD``), so MPI
errors come back as return codes.
"""

from __future__ import annotations

from numba.extending import overload_attribute, overload_method

from numba.core import types
from numba.core.errors import TypingError

from . import _capi
from ._api import api
from ._ccall import predefined
from ._commtype import CommType, comm_handle, comm_type, new_comm, store_comm_handle
from ._runtime import ABI, MPI
from ._validate import integer

COMM_WORLD = MPI.COMM_WORLD
COMM_SELF = MPI.COMM_SELF
COMM_NULL = MPI.COMM_NULL
Comm = MPI.Comm
COMM_TYPE_SHARED = ABI.CONSTANTS["COMM_TYPE_SHARED"]
IDENT = ABI.CONSTANTS["IDENT"]
CONGRUENT = ABI.CONSTANTS["CONGRUENT"]
SIMILAR = ABI.CONSTANTS["SIMILAR"]
UNEQUAL = ABI.CONSTANTS["UNEQUAL"]

__all__ = ["rank", "size", "comm_rank", "comm_size", "comm_dup", "comm_split", "comm_split_type",
           "comm_compare", "comm_create", "comm_free", "COMM_WORLD", "COMM_SELF", "COMM_NULL", "Comm",
           "comm_type", "COMM_TYPE_SHARED", "IDENT", "CONGRUENT", "SIMILAR", "UNEQUAL"]


@api
def rank(comm=None):
    """Rank of this process in ``comm`` (default ``COMM_WORLD``); 0 if MPI reports an error.

    >>> import mpi4numba
    >>> 0 <= mpi4numba.rank() < mpi4numba.size()
    True
    """

    def impl(comm=None):
        code, value = _capi.MPI_Comm_rank(comm_handle(comm))
        return value if code == 0 else 0

    return impl


@api
def size(comm=None):
    """Number of processes in ``comm`` (default ``COMM_WORLD``); 0 if MPI reports an error.

    >>> import mpi4numba
    >>> mpi4numba.size() >= 1
    True
    """

    def impl(comm=None):
        code, value = _capi.MPI_Comm_size(comm_handle(comm))
        return value if code == 0 else 0

    return impl


@api
def comm_rank(comm=None):
    """``(status, rank)`` of this process in ``comm``, with MPI's return code.

    >>> import mpi4numba
    >>> mpi4numba.comm_rank(mpi4numba.COMM_SELF)
    (0, 0)
    """

    def impl(comm=None):
        return _capi.MPI_Comm_rank(comm_handle(comm))

    return impl


@api
def comm_size(comm=None):
    """``(status, size)`` of ``comm``, with MPI's return code.

    >>> import mpi4numba
    >>> mpi4numba.comm_size(mpi4numba.COMM_SELF)
    (0, 1)
    """

    def impl(comm=None):
        return _capi.MPI_Comm_size(comm_handle(comm))

    return impl


@api
def comm_dup(comm=None):
    """``(status, newcomm)``: a duplicate of ``comm`` with its own context (``MPI_Comm_dup``).

    Collective over ``comm``. Free it with :func:`comm_free`.

    >>> import mpi4numba
    >>> status, dup = mpi4numba.comm_dup()
    >>> status, mpi4numba.size(dup) == mpi4numba.size(), mpi4numba.comm_free(dup)
    (0, True, 0)
    """

    def impl(comm=None):
        code, handle = _capi.MPI_Comm_dup(comm_handle(comm))
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))  # MPI may leave it unset

    return impl


@api
def comm_split(color, key=0, comm=None):
    """``(status, newcomm)``: split ``comm`` by ``color``, ranks ordered by ``key`` (``MPI_Comm_split``).

    Processes passing ``UNDEFINED`` as ``color`` get ``COMM_NULL``. Collective over ``comm``.

    >>> import mpi4numba
    >>> status, half = mpi4numba.comm_split(mpi4numba.rank() % 2)
    >>> status, mpi4numba.comm_free(half)
    (0, 0)
    """
    integer(color, "comm_split", "color")
    integer(key, "comm_split", "key")

    def impl(color, key=0, comm=None):
        code, handle = _capi.MPI_Comm_split(comm_handle(comm), color, key)
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))  # MPI may leave it unset

    return impl


@api
def comm_split_type(split_type=COMM_TYPE_SHARED, key=0, comm=None):
    """``(status, newcomm)``: split ``comm`` by ``split_type``, ranks ordered by ``key``
    (``MPI_Comm_split_type``). ``COMM_TYPE_SHARED`` groups the processes that can share
    memory (one communicator per node); ``UNDEFINED`` gives ``COMM_NULL``. Collective.

    >>> import mpi4numba
    >>> status, node = mpi4numba.comm_split_type()
    >>> status, 1 <= mpi4numba.size(node) <= mpi4numba.size(), mpi4numba.comm_free(node)
    (0, True, 0)
    """
    integer(split_type, "comm_split_type", "split_type")
    integer(key, "comm_split_type", "key")

    def impl(split_type=COMM_TYPE_SHARED, key=0, comm=None):
        code, handle = _capi.MPI_Comm_split_type(comm_handle(comm), split_type, key, predefined("INFO_NULL"))
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))  # MPI may leave it unset

    return impl


@api
def comm_compare(comm1, comm2):
    """``(status, result)``: ``IDENT`` (same communicator), ``CONGRUENT`` (same processes and
    order, another context), ``SIMILAR`` (same processes, another order) or ``UNEQUAL``
    (``MPI_Comm_compare``).

    >>> import mpi4numba
    >>> mpi4numba.comm_compare(mpi4numba.COMM_WORLD, mpi4numba.COMM_WORLD) == (0, mpi4numba.IDENT)
    True
    """

    def impl(comm1, comm2):
        return _capi.MPI_Comm_compare(comm_handle(comm1), comm_handle(comm2))

    return impl


@api
def comm_create(group, comm=None):
    """``(status, newcomm)``: a communicator for ``group``, a subset of ``comm``'s group
    (``MPI_Comm_create``); processes outside ``group`` get ``COMM_NULL``. Collective over
    ``comm``: every process passes the same group.

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, first = mpi4numba.group_incl(world, (0,))
    >>> status, newcomm = mpi4numba.comm_create(first)
    >>> status, mpi4numba.size(newcomm) == (1 if mpi4numba.rank() == 0 else 0)
    (0, True)
    >>> status = mpi4numba.comm_free(newcomm) if mpi4numba.rank() == 0 else 0
    >>> status, mpi4numba.group_free(first)[0], mpi4numba.group_free(world)[0]
    (0, 0, 0)
    """
    if not isinstance(group, types.Integer):
        raise TypingError(f"mpi4numba.comm_create: group must be a group handle (an integer), got {group}")

    def impl(group, comm=None):
        code, handle = _capi.MPI_Comm_create(comm_handle(comm), group)
        return code, new_comm(handle if code == 0 else predefined("COMM_NULL"))  # MPI may leave it unset

    return impl


@api
def comm_free(comm):
    """Free a communicator created by ``comm_dup``/``comm_split`` (or mpi4py); returns the status.

    Every copy of the communicator (in compiled code and the mpi4py object it came from)
    then holds ``COMM_NULL``: using it again gives ``MPI_ERR_COMM``, never a crash.

    >>> import mpi4numba
    >>> status, dup = mpi4numba.comm_dup()
    >>> mpi4numba.comm_free(dup), mpi4numba.rank(dup) == 0, mpi4numba.comm_rank(dup)[0] != 0
    (0, True, True)
    """

    def impl(comm):
        code, handle = _capi.MPI_Comm_free(comm_handle(comm))
        if code == 0:
            store_comm_handle(comm, handle)
        return code

    return impl


@overload_attribute(CommType, "rank")
def _comm_rank_attribute(comm):
    return lambda comm: rank(comm)


@overload_attribute(CommType, "size")
def _comm_size_attribute(comm):
    return lambda comm: size(comm)


@overload_method(CommType, "Get_rank")
def _comm_get_rank(comm):
    return lambda comm: rank(comm)


@overload_method(CommType, "Get_size")
def _comm_get_size(comm):
    return lambda comm: size(comm)


@overload_attribute(CommType, "handle")
def _comm_handle_attribute(comm):
    return lambda comm: comm_handle(comm)
