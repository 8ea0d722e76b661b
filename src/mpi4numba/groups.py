"""Process groups: the group of a communicator, subsets of it, rank translation.

A group is its MPI handle, a plain integer in compiled code and in Python (the same
number mpi4py's ``MPI.Group.handle`` gives). Groups are local objects: building one is
not a collective call. Turn a group into a communicator with :func:`~mpi4numba.comm_create`
and free it with :func:`group_free`, which returns ``GROUP_NULL`` to rebind the variable::

    code, group = group_free(group)

so that a freed handle is not used again (freeing ``GROUP_NULL`` gives ``ERR_GROUP``,
freeing ``GROUP_EMPTY`` does nothing; neither reaches MPI).

Rank lists are 1-D integer arrays, tuples or lists of integers; other than ``int32``
arrays they are converted for the call (on the stack when short).
"""

from __future__ import annotations

from numba.core import types

from ._core import capi
from ._core.handles import HANDLE
from ._core.runtime import ABI, MPI
from ._support.api import api, lowers
from ._support.validate import group_handle, int_sequence

# For comparisons in Python only: on Open MPI these are addresses that differ between
# processes, so compiled code uses the handle of the running MPI (e.handle) instead.
GROUP_NULL = MPI._handleof(MPI.GROUP_NULL)
GROUP_EMPTY = MPI._handleof(MPI.GROUP_EMPTY)
_ERR_GROUP = ABI.ERROR_CLASSES["ERR_GROUP"]

__all__ = ["comm_group", "group_incl", "group_excl", "group_size", "group_rank", "group_translate_ranks", "group_free"]


def _group_or_null(e, code, group):
    """``(code, group)``, the group ``GROUP_NULL`` if MPI failed (it may leave it unset)."""
    return e.tuple(code, e.select(code.eq(0), group, e.handle("GROUP_NULL")))


_CODE_GROUP = types.Tuple((types.int32, HANDLE))


def _subset(e, c_function, group, ranks):
    """``(code, group)`` of group_incl/group_excl: ``c_function(group, n, ranks)`` makes it."""
    cranks = e.c_ints(ranks)
    return _group_or_null(e, *e.unpack(e(c_function, group, e.size(cranks), cranks)))


def _subset_arguments(group, ranks) -> None:
    """The arguments of group_incl/group_excl: a group and ranks in it."""
    group_handle(group)
    int_sequence(ranks, "ranks")


@api
def comm_group(comm=None):
    """``(status, group)``: the group of ``comm`` (``MPI_Comm_group``).

    >>> import mpi4numba
    >>> status, group = mpi4numba.comm_group()
    >>> status, mpi4numba.group_size(group)[1] == mpi4numba.size(), mpi4numba.group_free(group)[0]
    (0, True, 0)
    """
    return _CODE_GROUP


@lowers(comm_group)
def _comm_group(e, comm):
    return _group_or_null(e, *e.unpack(e(capi.MPI_Comm_group, e.comm(comm))))


@api
def group_incl(group, ranks):
    """``(status, newgroup)``: the processes ``ranks`` of ``group``, in that order (``MPI_Group_incl``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, first = mpi4numba.group_incl(world, (0,))
    >>> status, mpi4numba.group_size(first), mpi4numba.group_free(first)[0], mpi4numba.group_free(world)[0]
    (0, (0, 1), 0, 0)
    """
    _subset_arguments(group, ranks)
    return _CODE_GROUP


@lowers(group_incl)
def _group_incl(e, group, ranks):
    return _subset(e, capi.MPI_Group_incl, group, ranks)


@api
def group_excl(group, ranks):
    """``(status, newgroup)``: ``group`` without the processes ``ranks`` (``MPI_Group_excl``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, rest = mpi4numba.group_excl(world, (0,))
    >>> status, mpi4numba.group_size(rest)[1] == mpi4numba.size() - 1
    (0, True)
    >>> mpi4numba.group_free(rest)[0], mpi4numba.group_free(world)[0]
    (0, 0)
    """
    _subset_arguments(group, ranks)
    return _CODE_GROUP


@lowers(group_excl)
def _group_excl(e, group, ranks):
    return _subset(e, capi.MPI_Group_excl, group, ranks)


@api
def group_size(group):
    """``(status, size)``: the number of processes in ``group`` (``MPI_Group_size``).

    >>> import mpi4numba
    >>> mpi4numba.group_size(mpi4numba.groups.GROUP_EMPTY)
    (0, 0)
    """
    group_handle(group)
    return types.UniTuple(types.int32, 2)


@lowers(group_size)
def _group_size(e, group):
    return e(capi.MPI_Group_size, group)


@api
def group_rank(group):
    """``(status, rank)``: this process's rank in ``group``, ``UNDEFINED`` if not a member.

    >>> import mpi4numba
    >>> mpi4numba.group_rank(mpi4numba.groups.GROUP_EMPTY)[1] == mpi4numba.UNDEFINED
    True
    """
    group_handle(group)
    return types.UniTuple(types.int32, 2)


@lowers(group_rank)
def _group_rank(e, group):
    return e(capi.MPI_Group_rank, group)


@api
def group_translate_ranks(group1, ranks, group2):
    """``(status, ranks2)``: the ranks in ``group2`` of processes ``ranks`` of ``group1``, as
    an int32 array (``UNDEFINED`` where not a member; ``MPI_Group_translate_ranks``).

    >>> import mpi4numba
    >>> status, world = mpi4numba.comm_group()
    >>> status, self_ = mpi4numba.comm_group(mpi4numba.COMM_SELF)
    >>> status, ranks = mpi4numba.group_translate_ranks(self_, (0,), world)
    >>> status, int(ranks[0]) == mpi4numba.rank()
    (0, True)
    >>> mpi4numba.group_free(self_)[0], mpi4numba.group_free(world)[0]
    (0, 0)
    """
    group_handle(group1, "group1")
    group_handle(group2, "group2")
    int_sequence(ranks, "ranks")
    return types.Tuple((types.int32, types.Array(types.int32, 1, "C")))


@lowers(group_translate_ranks)
def _group_translate_ranks(e, group1, ranks, group2):
    cranks = e.c_ints(ranks)
    result = e.zeros(e.size(cranks))
    return e.tuple(e(capi.MPI_Group_translate_ranks, group1, e.size(cranks), cranks, group2, result), result)


@api
def group_free(group):
    """``(status, GROUP_NULL)``: free ``group`` (``MPI_Group_free``); rebind the variable to
    the second value so the freed handle is not used again.

    >>> import mpi4numba
    >>> status, group = mpi4numba.comm_group()
    >>> status, group = mpi4numba.group_free(group)
    >>> status, group == mpi4numba.groups.GROUP_NULL, mpi4numba.group_free(group)[0] != 0
    (0, True, True)
    """
    group_handle(group)
    return _CODE_GROUP


@lowers(group_free)
def _group_free(e, group):
    null = e.handle("GROUP_NULL")  # GROUP_NULL and GROUP_EMPTY never reach MPI
    code, result = e.variable(e.const(_ERR_GROUP, types.int32)), e.variable(null)
    with e.when(group.ne(null)):
        code.set(0)
        with e.when(group.ne(e.handle("GROUP_EMPTY"))):
            status, handle = e.unpack(e(capi.MPI_Group_free, group))
            code.set(status)
            result.set(e.select(status.eq(0), null, handle))
    return e.tuple(code.get(), result.get())
