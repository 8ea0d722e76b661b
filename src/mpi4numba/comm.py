"""Communicators: rank and size, duplication, splitting, comparison, creation and freeing.

Communicators are mpi4py objects in Python (``MPI.Comm`` and subclasses) and values of
type ``mpi4numba.Comm`` in compiled code; each side accepts the other's. ``comm`` may be
omitted (or ``None``) for ``COMM_WORLD``. Communicators created here inherit the error
handler of their parent, ``MPI_ERRORS_RETURN`` (set by mpi4py on ``COMM_WORLD``), so MPI
errors come back as return codes.
"""

from __future__ import annotations

from numba.core import types
from numba.extending import overload_attribute, overload_method

from ._core import capi
from ._core.commtype import CommType, comm_cell, comm_handle, comm_type, new_comm, store_comm_handle
from ._core.handles import REQUEST_ARRAY
from ._core.runtime import ABI, MPI
from ._support.api import api, lowers
from ._support.emit_handles import NEW_COMMUNICATOR
from ._support.validate import communicator, group_handle, integer

COMM_WORLD = MPI.COMM_WORLD
COMM_SELF = MPI.COMM_SELF
COMM_NULL = MPI.COMM_NULL
Comm = MPI.Comm
COMM_TYPE_SHARED = ABI.CONSTANTS["COMM_TYPE_SHARED"]
IDENT = ABI.CONSTANTS["IDENT"]
CONGRUENT = ABI.CONSTANTS["CONGRUENT"]
SIMILAR = ABI.CONSTANTS["SIMILAR"]
UNEQUAL = ABI.CONSTANTS["UNEQUAL"]
_CODE_INT = types.UniTuple(types.int32, 2)

__all__ = [
    "rank",
    "size",
    "comm_rank",
    "comm_size",
    "comm_dup",
    "comm_idup",
    "comm_split",
    "comm_split_type",
    "comm_compare",
    "comm_create",
    "comm_free",
    "COMM_WORLD",
    "COMM_SELF",
    "COMM_NULL",
    "Comm",
    "comm_type",
    "COMM_TYPE_SHARED",
    "IDENT",
    "CONGRUENT",
    "SIMILAR",
    "UNEQUAL",
]


def _value_or_zero(e, c_function, comm):
    """The value of ``c_function(comm)`` (rank, size), 0 if MPI failed."""
    code, value = e.unpack(e(c_function, e.comm(comm)))
    return e.select(code.eq(0), value, 0)


@api
def rank(comm=None):
    """Rank of this process in ``comm`` (default ``COMM_WORLD``); 0 if MPI reports an error.

    >>> import mpi4numba
    >>> 0 <= mpi4numba.rank() < mpi4numba.size()
    True
    """

    return types.int64


@lowers(rank)
def _rank(e, comm):
    return _value_or_zero(e, capi.MPI_Comm_rank, comm)


@api
def size(comm=None):
    """Number of processes in ``comm`` (default ``COMM_WORLD``); 0 if MPI reports an error.

    >>> import mpi4numba
    >>> mpi4numba.size() >= 1
    True
    """

    return types.int64


@lowers(size)
def _size(e, comm):
    return _value_or_zero(e, capi.MPI_Comm_size, comm)


@api
def comm_rank(comm=None):
    """``(status, rank)`` of this process in ``comm``, with MPI's return code.

    >>> import mpi4numba
    >>> mpi4numba.comm_rank(mpi4numba.COMM_SELF)
    (0, 0)
    """

    return _CODE_INT


@lowers(comm_rank)
def _comm_rank(e, comm):
    return e(capi.MPI_Comm_rank, e.comm(comm))


@api
def comm_size(comm=None):
    """``(status, size)`` of ``comm``, with MPI's return code.

    >>> import mpi4numba
    >>> mpi4numba.comm_size(mpi4numba.COMM_SELF)
    (0, 1)
    """

    return _CODE_INT


@lowers(comm_size)
def _comm_size(e, comm):
    return e(capi.MPI_Comm_size, e.comm(comm))


@api
def comm_dup(comm=None):
    """``(status, newcomm)``: a duplicate of ``comm`` with its own context (``MPI_Comm_dup``).

    Collective over ``comm``. Free it with :func:`comm_free`.

    >>> import mpi4numba
    >>> status, dup = mpi4numba.comm_dup()
    >>> status, mpi4numba.size(dup) == mpi4numba.size(), mpi4numba.comm_free(dup)
    (0, True, 0)
    """

    return NEW_COMMUNICATOR


@lowers(comm_dup)
def _comm_dup(e, comm):
    return e.new_communicator(*e.unpack(e(capi.MPI_Comm_dup, e.comm(comm))))


@api
def comm_idup(comm=None):
    """``(status, newcomm, request)``: start duplicating ``comm`` (``MPI_Comm_idup``);
    ``newcomm`` is the duplicate once ``request`` completes (``wait``/``test`` ...), and
    must not be used before. The request keeps ``newcomm``'s handle cell alive, as MPI
    may write the handle only at completion. Collective over ``comm``, like
    :func:`comm_dup`; free ``newcomm`` with :func:`comm_free`.

    In compiled code ``newcomm`` reads its handle at each use, so it is the duplicate
    after completion whenever MPI writes it. A ``newcomm`` returned to Python holds the
    handle as it was when the call returned: the duplicate on MPICH, Intel MPI and Open
    MPI 5, which name it at once (MPI allows a library to name it only at completion).

    >>> import mpi4numba
    >>> status, dup, request = mpi4numba.comm_idup()
    >>> status, mpi4numba.wait(request), mpi4numba.size(dup) == mpi4numba.size(), mpi4numba.comm_free(dup)
    (0, 0, True, 0)
    """
    return types.Tuple((types.int32, comm_type, REQUEST_ARRAY))


@lowers(comm_idup)
def _comm_idup(e, comm):
    newcomm = e(new_comm, e.handle("COMM_NULL"))
    with e.starting(newcomm) as start:
        start.code = e(capi.MPI_Comm_idup, e.comm(comm), e(comm_cell, newcomm), start.address)
    code, request = e.unpack(start.result)
    return e.tuple(code, newcomm, request)


@api
def comm_split(color, key=0, comm=None):
    """``(status, newcomm)``: split ``comm`` by ``color``, ranks ordered by ``key`` (``MPI_Comm_split``).

    Processes passing ``UNDEFINED`` as ``color`` get ``COMM_NULL``. Collective over ``comm``.

    >>> import mpi4numba
    >>> rank = mpi4numba.rank()
    >>> status, half = mpi4numba.comm_split(rank % 2)  # even ranks in one, odd ranks in the other
    >>> status, mpi4numba.rank(half) == rank // 2, mpi4numba.comm_free(half)  # equal keys: old order
    (0, True, 0)
    """
    integer(color, "color")
    integer(key, "key")

    return NEW_COMMUNICATOR


@lowers(comm_split)
def _comm_split(e, color, key, comm):
    return e.new_communicator(*e.unpack(e(capi.MPI_Comm_split, e.comm(comm), color, key)))


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
    integer(split_type, "split_type")
    integer(key, "key")

    return NEW_COMMUNICATOR


@lowers(comm_split_type)
def _comm_split_type(e, split_type, key, comm):
    made = e(capi.MPI_Comm_split_type, e.comm(comm), split_type, key, e.handle("INFO_NULL"))
    return e.new_communicator(*e.unpack(made))


@api
def comm_compare(comm1, comm2):
    """``(status, result)``: ``IDENT`` (same communicator), ``CONGRUENT`` (same processes and
    order, another context), ``SIMILAR`` (same processes, another order) or ``UNEQUAL``
    (``MPI_Comm_compare``).

    >>> import mpi4numba
    >>> mpi4numba.comm_compare(mpi4numba.COMM_WORLD, mpi4numba.COMM_WORLD) == (0, mpi4numba.IDENT)
    True
    """

    communicator(comm1, "comm1")
    communicator(comm2, "comm2")
    return _CODE_INT


@lowers(comm_compare)
def _comm_compare(e, comm1, comm2):
    return e(capi.MPI_Comm_compare, e.comm(comm1), e.comm(comm2))


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
    group_handle(group)
    return NEW_COMMUNICATOR


@lowers(comm_create)
def _comm_create(e, group, comm):
    return e.new_communicator(*e.unpack(e(capi.MPI_Comm_create, e.comm(comm), group)))


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
    return types.int32  # comm is checked by @api, as for every routine with a comm


@lowers(comm_free)
def _comm_free(e, comm):
    code, handle = e.unpack(e(capi.MPI_Comm_free, e.comm(comm)))
    with e.when(code.eq(0)):
        e(store_comm_handle, comm, handle)  # every copy of it holds COMM_NULL
    return code


def _member(routine):
    """The overload of a ``Comm`` attribute or method, in compiled code, that is ``routine(comm)``."""
    return lambda comm: lambda comm: routine(comm)


# mpi4py's spellings: comm.rank, comm.size, comm.Get_rank(), comm.Get_size()
overload_attribute(CommType, "rank")(_member(rank))
overload_attribute(CommType, "size")(_member(size))
overload_method(CommType, "Get_rank")(_member(rank))
overload_method(CommType, "Get_size")(_member(size))


@overload_attribute(CommType, "handle")
def _comm_handle_attribute(comm):
    return lambda comm: comm_handle(comm)
